"""The groups an admin gives people, and no permission that does nothing.

- "Operators": look up conversions, clicks and offers, change statuses (one at a time, selected
  rows, or by import: the import needs the same permission).
- "Approvers": the same, and approve large status changes.

The add/change/delete permissions of conversions, clicks and status changes did nothing (those
pages are read-only): the ones earlier migrations created are deleted, so that they are no
longer offered.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

OPERATOR_PERMISSIONS = [
    ("conversions", "view_conversion"),
    ("conversions", "view_click"),
    ("conversions", "view_offer"),
    ("conversions", "change_conversion_status"),
]
APPROVER_PERMISSIONS = [*OPERATOR_PERMISSIONS, ("conversions", "approve_large_status_change")]
GROUPS = {"Operators": OPERATOR_PERMISSIONS, "Approvers": APPROVER_PERMISSIONS}
UNUSED = [
    f"{action}_{model}"
    for model in ("conversion", "click", "statuschange")
    for action in ("add", "change", "delete")
]


def groups_create(apps, schema_editor):
    # Permissions are normally created after migrate; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="conversions", codename__in=UNUSED).delete()
    for name, wanted in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in wanted:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def groups_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("conversions", "0011_conversion_tally_backfill"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(groups_create, groups_delete)]

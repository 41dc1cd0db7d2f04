"""Test clicks (the offer page's test conversion tool): a mark on the click, its conversions'
mark too, and a partial index over the few clicks that carry it.

The column has a constant default, so adding it rewrites nothing (PostgreSQL 11+). The index
is built concurrently: it reads the whole clicks table once, and a plain CREATE INDEX would
block clicks for that long.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("conversions", "0023_drop_statuschange_own_single")]

    operations = [
        migrations.AddField(
            model_name="click",
            name="is_test",
            field=models.BooleanField(
                db_default=False, default=False, editable=False, verbose_name="test click"
            ),
        ),
        AddIndexConcurrently(
            model_name="click",
            index=models.Index(
                condition=models.Q(("is_test", True)), fields=["id"], name="click_test"
            ),
        ),
    ]

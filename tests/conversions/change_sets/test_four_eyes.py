"""Four-eyes approval is the engine's, for every source: a conversion's own buttons, the
selected-rows action, files split in two, and a currency no threshold names. Each escape found
by trying it as a user would is refused here through the pages and services a user reaches."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse

from conversions.change_sets import services as change_sets
from conversions.models import (
    Conversion,
    ImportJob,
    Offer,
    OwnChangesHour,
    Source,
    Status,
    StatusChange,
)
from conversions.services import conversion_status_set
from tests.audit import assert_audit_intact
from tests.conversions.imports.status_files import HEADER, status_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_media_root")]

STATUS_PERMISSIONS = ["view_conversion", "change_conversion_status", "add_importjob"]


def staff(django_user_model, name, *codenames):
    user = django_user_model.objects.create_user(name, password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def agent(django_user_model):
    return staff(django_user_model, "agent", *STATUS_PERMISSIONS)


@pytest.fixture
def approver(django_user_model):
    return staff(django_user_model, "approver", *STATUS_PERMISSIONS, "approve_large_status_change")


@pytest.fixture
def pending(offer_factory, offer_event_factory, partner_factory, conversion_factory):
    """Five Pending conversions of a USD offer, payout 10,000.00 each."""

    def make(count=5, *, currency="USD", payout="10000.00"):
        event = offer_event_factory(
            offer=offer_factory(currency=currency), payout=Decimal(payout), revenue=Decimal(1)
        )
        partner = partner_factory(callback_url="http://127.0.0.1:9/cb")
        return [
            conversion_factory(
                click__offer=event.offer,
                click__partner=partner,
                offer_event=event,
                status=Status.PENDING,
            )
            for _ in range(count)
        ]

    return make


def status_of(conversion):
    return Conversion.objects.get(pk=conversion.pk).status


def button_url(conversion, status):
    return reverse("admin:conversions_conversion_status", args=[conversion.pk, status])


def job_url(job, name="change"):
    return reverse(f"admin:conversions_importjob_{name}", args=[job.pk])


def test_a_row_button_over_the_payout_threshold_waits_for_a_second_person(
    client, agent, approver, pending, settings
):
    settings.IMPORT_APPROVAL_MIN_PAYOUT = "USD:5000"
    (conversion,) = pending(1, payout="50000.00")
    client.force_login(agent)

    # The confirmation page says so before anything is done
    page = client.get(button_url(conversion, Status.SUCCESS)).content.decode()
    assert "needs a second person's approval (it moves 50,000.00 USD of payout" in page

    # When the agent confirms, nothing changes: a job waits on its page
    response = client.post(button_url(conversion, Status.SUCCESS), {"reason": "Checked"})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job_url(job)
    assert status_of(conversion) == Status.PENDING
    assert (job.kind, job.state, job.user, job.approval_required) == (
        ImportJob.Kind.ACTION,
        ImportJob.State.VALIDATED,
        agent,
        True,
    )
    assert not StatusChange.objects.filter(source=Source.ADMIN).exists()

    # The agent cannot confirm it; the approver can, and the change is theirs and the job's
    assert client.post(job_url(job, "confirm")).status_code == 403
    client.force_login(approver)
    client.post(job_url(job, "confirm"))
    change_sets.import_job_apply(import_job=services_job(job))
    assert status_of(conversion) == Status.SUCCESS
    change = StatusChange.objects.get(conversion_id=conversion.pk, new_status=Status.SUCCESS)
    assert (change.source, change.user, change.import_job_id, change.reason) == (
        Source.ADMIN,
        approver,
        job.pk,
        "Checked",
    )
    assert_audit_intact()


def services_job(job):
    job.refresh_from_db()
    assert job.state == ImportJob.State.QUEUED, job.state
    return job


def test_a_row_button_under_the_threshold_applies_at_once(client, agent, pending, settings):
    settings.IMPORT_APPROVAL_MIN_PAYOUT = "USD:50000"
    (conversion,) = pending(1)
    client.force_login(agent)

    client.post(button_url(conversion, Status.REJECTED), {"reason": "Fraud"})

    assert status_of(conversion) == Status.REJECTED
    assert not ImportJob.objects.exists()
    assert_audit_intact()


def test_row_buttons_one_after_another_count_toward_the_threshold(client, agent, pending, settings):
    settings.IMPORT_APPROVAL_MIN_PAYOUT = "USD:25000"
    first, second, third = pending(3)
    client.force_login(agent)

    client.post(button_url(first, Status.SUCCESS))
    client.post(button_url(second, Status.SUCCESS))
    page = client.get(button_url(third, Status.SUCCESS)).content.decode()
    client.post(button_url(third, Status.SUCCESS))

    # 10,000 + 10,000 alone; the third makes 30,000 within the window
    assert [status_of(c) for c in (first, second, third)] == [
        Status.SUCCESS,
        Status.SUCCESS,
        Status.PENDING,
    ]
    assert (
        "with the 20,000.00 USD of payout you moved in the last 24 hours it moves 30,000.00 USD"
        in page
    )
    assert ImportJob.objects.get().approval_required
    assert_audit_intact()


def test_the_window_counts_each_users_single_changes_by_the_hour_as_they_are_made(
    client, agent, approver, pending, settings
):
    settings.IMPORT_APPROVAL_MIN_PAYOUT = "USD:1000000"
    first, second, third = pending(3)
    client.force_login(agent)
    client.post(button_url(first, Status.SUCCESS))
    client.post(button_url(second, Status.REJECTED))
    client.force_login(approver)
    client.post(button_url(third, Status.SUCCESS))

    # Each user's row for this hour: what the approval window sums instead of the audit rows
    hours = {
        row.user_id: (row.currency, row.conversions, row.payout)
        for row in OwnChangesHour.objects.all()
    }
    assert hours == {
        agent.pk: ("USD", 2, Decimal("10000.0000")),  # a Rejected from Pending moves no payout
        approver.pk: ("USD", 1, Decimal("10000.0000")),
    }
    own = StatusChange.objects.filter(source=Source.ADMIN, import_job__isnull=True)
    assert own.filter(user=agent).count() == 2 and own.filter(user=approver).count() == 1
    assert_audit_intact()


def test_a_single_change_is_judged_by_the_status_it_replaces_when_the_lock_is_held(
    client, agent, approver, pending, settings
):
    """A single change reads its money before its user's approval lock. Should another admin
    make the conversion Success in between, the change to Rejected moves its payout: it must
    wait for approval, not apply on the money read when it was Pending (which moved none)."""
    settings.IMPORT_APPROVAL_MIN_PAYOUT = "USD:5000"
    (conversion,) = pending(1)
    moved = []

    def success_before_the_lock(execute, sql, params, many, context):
        if "pg_advisory_xact_lock" in sql and not moved:
            moved.append(True)
            conversion_status_set(
                conversion_ids=[conversion.pk],
                status=Status.SUCCESS,
                source=Source.ADMIN,
                user=approver,
            )
        return execute(sql, params, many, context)

    client.force_login(agent)
    with connection.execute_wrapper(success_before_the_lock):
        client.post(button_url(conversion, Status.REJECTED), {"reason": "Fraud"})

    assert moved and status_of(conversion) == Status.SUCCESS
    job = ImportJob.objects.get()
    assert job.approval_required and job.user == agent
    assert "it moves 10,000.00 USD of payout (approval from 5,000.00 USD)" in job.approval_reason
    assert not StatusChange.objects.filter(user=agent).exists()
    assert_audit_intact()


def test_two_files_inside_the_window_need_approval(
    tmp_path, admin_user, approver, pending, import_validated, settings
):
    settings.IMPORT_APPROVAL_MIN_CONVERSIONS = 5
    conversions = pending(5)

    def rejecting(chosen, name):
        rows = [HEADER, *[["", c.pk, "Rejected", ""] for c in chosen]]
        return import_validated(status_file(tmp_path, rows, name=name))

    first = rejecting(conversions[:3], "first.csv")
    second = rejecting(conversions[3:], "second.csv")
    assert not first.approval_required and not second.approval_required

    # When the uploader confirms the first, then the second (3 + 2 conversions in the window)
    change_sets.import_job_confirm(
        import_job=first, user=admin_user, send_callbacks=True, queue_apply=False
    )
    change_sets.import_job_apply(import_job=first)
    with pytest.raises(PermissionDenied, match="second person"):
        change_sets.import_job_confirm(
            import_job=second, user=admin_user, send_callbacks=True, queue_apply=False
        )

    # Then the second waits, saying the window is why, and a second person confirms it
    second.refresh_from_db()
    assert (second.state, second.approval_required) == (ImportJob.State.VALIDATED, True)
    assert second.approval_reason == (
        "with the 3 conversions you changed in the last 24 hours it makes 5 (approval from 5)"
    )
    assert [status_of(c) for c in conversions[3:]] == [Status.PENDING] * 2
    change_sets.import_job_confirm(
        import_job=second, user=approver, send_callbacks=True, queue_apply=False
    )
    change_sets.import_job_apply(import_job=second)
    assert {status_of(c) for c in conversions} == {Status.REJECTED}

    # And a third file checked after that says so in its preview already
    third = import_validated(
        status_file(tmp_path, [HEADER, ["", conversions[0].pk, "Pending", ""]], name="third.csv")
    )
    assert not third.approval_required  # the second was approved: it does not count
    assert_audit_intact()


def test_the_selected_rows_action_on_successive_pages_needs_approval(
    client, agent, approver, pending, settings
):
    settings.IMPORT_APPROVAL_MIN_CONVERSIONS = 5
    conversions = pending(5)
    client.force_login(agent)

    def apply(chosen):
        return client.post(
            reverse("admin:conversions_conversion_changelist"),
            {
                "action": "set_status_action",
                "index": "0",
                "select_across": "0",
                "_selected_action": [c.pk for c in chosen],
                "status": Status.REJECTED,
                "reason": "Fraud",
                "apply": "Yes",
            },
        )

    apply(conversions[:3])
    response = apply(conversions[3:])

    assert [status_of(c) for c in conversions] == [Status.REJECTED] * 3 + [Status.PENDING] * 2
    waiting = ImportJob.objects.get(state=ImportJob.State.VALIDATED)
    assert response["Location"] == job_url(waiting)
    assert "you changed in the last 24 hours" in waiting.approval_reason
    page = client.get(job_url(waiting)).content.decode()
    assert "needs a second person" in page and 'id="confirm-form"' not in page

    client.force_login(approver)
    client.post(job_url(waiting, "confirm"))
    change_sets.import_job_apply(import_job=services_job(waiting))
    assert {status_of(c) for c in conversions} == {Status.REJECTED}
    assert_audit_intact()


def test_without_a_window_each_change_is_judged_alone(client, agent, pending, settings):
    settings.IMPORT_APPROVAL_MIN_PAYOUT = "USD:25000"
    settings.IMPORT_APPROVAL_WINDOW_HOURS = 0
    conversions = pending(3)
    client.force_login(agent)

    for conversion in conversions:
        client.post(button_url(conversion, Status.SUCCESS))

    assert {status_of(c) for c in conversions} == {Status.SUCCESS}
    assert_audit_intact()


@pytest.mark.parametrize("currency", ["XYZ", "usd", "US", "$$$"])
def test_an_offer_currency_must_be_an_iso_code(offer_factory, currency):
    offer = offer_factory.build(currency=currency)

    with pytest.raises(ValidationError) as refused:
        offer.full_clean(exclude=["landing_url"])

    assert "is not an ISO 4217 currency code" in str(refused.value.message_dict["currency"])


def test_the_offer_page_refuses_an_unlisted_currency(admin_client, offer_factory):
    offer = offer_factory(currency="USD")
    url = reverse("admin:conversions_offer_change", args=[offer.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and not isinstance(value, list)
    }
    data |= {"currency": "ZZZ", "name": offer.name, "landing_url": offer.landing_url}

    page = admin_client.post(url, data).content.decode()

    assert "ZZZ is not an ISO 4217 currency code" in page
    assert Offer.objects.get(pk=offer.pk).currency == "USD"


def test_a_currency_without_a_threshold_falls_under_the_default(
    tmp_path, pending, import_validated, settings
):
    settings.IMPORT_APPROVAL_MIN_PAYOUT = "USD:5000,EUR:4500"
    conversions = pending(1, currency="JPY", payout="4600")

    job = import_validated(
        status_file(tmp_path, [HEADER, ["", conversions[0].pk, "Success", ""]], name="jpy.csv")
    )

    # JPY is named by no threshold: the lowest one listed (4,500) applies
    assert job.approval_required
    assert job.approval_reason == "it moves 4,600.00 JPY of payout (approval from 4,500.00 JPY)"

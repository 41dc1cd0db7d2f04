"""Safe bulk changes: the money before confirming, four-eyes approval, revert, the same file."""

import csv
import io
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from conversions.change_sets import services as change_sets
from conversions.change_sets.money import ChangeSetMoney
from conversions.models import Conversion, ImportJob, Source, Status, StatusChange
from conversions.services import conversion_status_set
from tests.audit import assert_audit_intact
from tests.conversions.imports.status_files import HEADER, status_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_media_root")]


def job_url(job, name="change"):
    return reverse(f"admin:conversions_importjob_{name}", args=[job.pk])


def rows_setting(conversions, status):
    return [HEADER, *[["", c.pk, status, "Reconciled"] for c in conversions]]


def status_of(conversion):
    return Conversion.objects.get(pk=conversion.pk).status


@pytest.fixture
def two_currencies(offer_factory, offer_event_factory, partner_factory, conversion_factory):
    """Success conversions of a USD offer (payout 1.50, revenue 2.00) and an EUR offer (payout
    4.25, revenue 5.00), two partners: three in USD for "North", two in EUR for "South"."""
    usd = offer_event_factory(
        offer=offer_factory(name="Game", currency="USD"),
        payout=Decimal("1.50"),
        revenue=Decimal("2.00"),
    )
    eur = offer_event_factory(
        offer=offer_factory(name="Bank", currency="EUR"),
        payout=Decimal("4.25"),
        revenue=Decimal("5.00"),
    )
    north = partner_factory(name="North", callback_url="http://127.0.0.1:9/cb")
    south = partner_factory(
        name="South", callback_url="http://127.0.0.1:9/cb", rejected_callbacks_enabled=False
    )
    made = []
    for event, partner, count in [(usd, north, 3), (eur, south, 2)]:
        for _ in range(count):
            made.append(
                conversion_factory(
                    click__offer=event.offer,
                    click__partner=partner,
                    offer_event=event,
                    status=Status.SUCCESS,
                )
            )
    return made


def expected_money(conversions, new_status):
    """An independent reckoning, conversion by conversion, in Python."""
    totals = {}
    for conversion in Conversion.objects.filter(pk__in=[c.pk for c in conversions]):
        if conversion.status == new_status:
            continue
        sign = 1 if new_status == Status.SUCCESS else -1 if conversion.status == "success" else 0
        key = (f"{conversion.status}->{new_status}", conversion.offer.currency)
        count, payout, revenue = totals.get(key, (0, Decimal(0), Decimal(0)))
        totals[key] = (
            count + 1,
            payout + sign * conversion.payout,
            revenue + sign * conversion.revenue,
        )
    return totals


def test_the_preview_shows_the_money_per_transition_currency_partner_and_offer(
    tmp_path, import_validated, two_currencies
):
    job = import_validated(status_file(tmp_path, rows_setting(two_currencies, "Rejected")))

    money = ChangeSetMoney.from_json(job.summary["money"])
    assert {
        (line.label, line.currency): (line.conversions, line.payout, line.revenue)
        for line in money.transitions
    } == expected_money(two_currencies, Status.REJECTED)
    assert [
        (line.label, line.currency, line.payout_text, line.callbacks) for line in money.by_partner
    ] == [("South", "EUR", "−8.50 EUR", 0), ("North", "USD", "−4.50 USD", 3)]
    assert [(line.label, line.revenue_text) for line in money.by_offer] == [
        ("Bank", "−10.00 EUR"),
        ("Game", "−6.00 USD"),
    ]
    assert money.callbacks == 3  # South has Rejected callbacks off


def test_the_job_page_shows_the_money_and_the_change_list(
    tmp_path, import_validated, two_currencies, admin_client
):
    job = import_validated(status_file(tmp_path, rows_setting(two_currencies, "Rejected")))

    page = admin_client.get(job_url(job)).content.decode()
    changes = admin_client.get(job_url(job, "changes"))

    assert "Success → Rejected" in page
    assert "−4.50 USD" in page and "−8.50 EUR" in page
    assert "Partners will be sent <strong>3 callbacks</strong>" in page
    rows = list(csv.reader(io.StringIO(b"".join(changes.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == [
        "EventId",
        "gk_click_id",
        "Offer",
        "Partner",
        "Old status",
        "New status",
        "Payout",
        "Revenue",
        "New payout",
        "New revenue",
        "Currency",
        "Reason",
    ]
    first = two_currencies[0]
    assert rows[1] == [
        str(first.pk),
        first.click.gk_click_id,
        "Game",
        "North",
        "Success",
        "Rejected",
        "1.5000",
        "2.0000",
        "",  # a change of status alone: the amounts stay
        "",
        "USD",
        "Reconciled",
    ]
    assert len(rows) == 1 + len(two_currencies)


def test_import_then_revert_puts_every_status_back(
    tmp_path, import_applied, two_currencies, admin_user
):
    job = import_applied(status_file(tmp_path, rows_setting(two_currencies, "Rejected")))
    assert {status_of(c) for c in two_currencies} == {Status.REJECTED}

    revert = change_sets.import_job_revert(import_job=job, user=admin_user, queue_validation=False)
    revert = change_sets.import_job_validate(import_job=revert)
    assert revert.summary["will_change"] == {"rejected->success": 5}
    assert revert.summary["left_alone"] == 0
    change_sets.import_job_confirm(
        import_job=revert, user=admin_user, send_callbacks=True, queue_apply=False
    )
    revert = change_sets.import_job_apply(import_job=revert)

    assert revert.state == ImportJob.State.APPLIED
    assert {status_of(c) for c in two_currencies} == {Status.SUCCESS}
    audit = StatusChange.objects.filter(import_job=revert)
    assert {(a.old_status, a.new_status, a.source, a.sequence_number) for a in audit} == {
        (Status.REJECTED, Status.SUCCESS, Source.REVERT, 3)
    }
    assert {a.reason for a in audit} == {f"Revert of file import {job.pk}"}
    # Asking again opens the same revert.
    assert change_sets.import_job_revert(import_job=job, user=admin_user) == revert
    assert_audit_intact()


def test_a_revert_leaves_alone_what_changed_since(
    tmp_path, import_applied, two_currencies, admin_user
):
    job = import_applied(status_file(tmp_path, rows_setting(two_currencies, "Rejected")))
    moved = two_currencies[0]
    conversion_status_set(conversion_ids=[moved.pk], status=Status.PENDING, source=Source.ADMIN)

    revert = change_sets.import_job_revert(import_job=job, user=admin_user, queue_validation=False)
    revert = change_sets.import_job_validate(import_job=revert)

    assert revert.summary["left_alone"] == 1
    assert revert.summary["left_alone_examples"] == [
        {"conversion_id": moved.pk, "status": Status.PENDING}
    ]
    assert revert.summary["will_change_total"] == 4
    change_sets.import_job_confirm(
        import_job=revert, user=admin_user, send_callbacks=True, queue_apply=False
    )
    change_sets.import_job_apply(import_job=revert)
    assert status_of(moved) == Status.PENDING
    assert [status_of(c) for c in two_currencies[1:]] == [Status.SUCCESS] * 4
    assert_audit_intact()


def test_reverting_a_revert_applies_the_change_again(
    tmp_path, import_applied, two_currencies, admin_user
):
    job = import_applied(status_file(tmp_path, rows_setting(two_currencies[:2], "Pending")))

    def revert_of(target):
        revert = change_sets.import_job_revert(
            import_job=target, user=admin_user, queue_validation=False
        )
        change_sets.import_job_validate(import_job=revert)
        change_sets.import_job_confirm(
            import_job=revert, user=admin_user, send_callbacks=True, queue_apply=False
        )
        return change_sets.import_job_apply(import_job=revert)

    first = revert_of(job)
    assert [status_of(c) for c in two_currencies[:2]] == [Status.SUCCESS] * 2
    second = revert_of(first)

    assert second.reverts == first and first.reverts == job
    assert [status_of(c) for c in two_currencies[:2]] == [Status.PENDING] * 2
    assert second.summary["applied"] == {"success->pending": 2}
    assert_audit_intact()


def test_a_selected_rows_action_is_a_job_that_reverts(agent_client, two_currencies, admin_user):
    chosen = two_currencies[:3]
    response = agent_client.post(
        reverse("admin:conversions_conversion_changelist"),
        {
            "action": "set_status_action",
            "index": "0",
            "select_across": "0",
            "_selected_action": [c.pk for c in chosen],
            "status": Status.REJECTED,
            "reason": "Fraud",
            "preview": "Show what it moves",
        },
    )
    page = response.content.decode()
    assert "Success → Rejected" in page and "−4.50 USD" in page
    assert {status_of(c) for c in chosen} == {Status.SUCCESS}  # the preview changes nothing

    agent_client.post(
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
    action = ImportJob.objects.get(kind=ImportJob.Kind.ACTION)
    assert {status_of(c) for c in chosen} == {Status.REJECTED}

    revert = change_sets.import_job_revert(
        import_job=action, user=admin_user, queue_validation=False
    )
    change_sets.import_job_validate(import_job=revert)
    change_sets.import_job_confirm(
        import_job=revert, user=admin_user, send_callbacks=True, queue_apply=False
    )
    change_sets.import_job_apply(import_job=revert)

    assert {status_of(c) for c in chosen} == {Status.SUCCESS}
    assert_audit_intact()


@pytest.fixture
def agent_client(client, django_user_model):
    from django.contrib.auth.models import Permission

    agent = django_user_model.objects.create_user("agent", password="x", is_staff=True)
    agent.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_conversion", "change_conversion_status"],
        )
    )
    client.force_login(agent)
    return client


@pytest.fixture
def approver(django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("approver", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            codename__in=[
                "view_conversion",
                "change_conversion_status",
                "approve_large_status_change",
            ],
        )
    )
    return user


def test_a_large_change_is_confirmed_by_a_second_person_only(
    tmp_path, import_validated, two_currencies, admin_user, approver, client, settings
):
    settings.IMPORT_APPROVAL_MIN_CONVERSIONS = 5
    job = import_validated(status_file(tmp_path, rows_setting(two_currencies, "Rejected")))
    assert job.approval_required
    assert job.approval_reason == "it changes 5 conversions (approval from 5)"

    # The uploader (a superuser, even) sees why, and a forged confirmation is refused.
    client.force_login(admin_user)
    page = client.get(job_url(job)).content.decode()
    assert "needs a second person&#x27;s approval" in page
    assert 'id="confirm-form"' not in page
    assert client.post(job_url(job, "confirm")).status_code == 403
    with pytest.raises(PermissionDenied):
        change_sets.import_job_confirm(import_job=job, user=admin_user, send_callbacks=True)

    # Another user with the approve permission confirms it.
    client.force_login(approver)
    assert 'id="confirm-form"' in client.get(job_url(job)).content.decode()
    client.post(job_url(job, "confirm"))
    job.refresh_from_db()
    assert (job.state, job.confirmed_by, job.user) == (ImportJob.State.QUEUED, approver, admin_user)
    change_sets.import_job_apply(import_job=job)
    assert set(StatusChange.objects.filter(import_job=job).values_list("user", flat=True)) == {
        approver.pk
    }
    assert_audit_intact()


def test_a_payout_threshold_per_currency_needs_approval(
    tmp_path, import_validated, two_currencies, settings
):
    settings.IMPORT_APPROVAL_MIN_PAYOUT = "EUR:8.50,USD:100"

    job = import_validated(status_file(tmp_path, rows_setting(two_currencies, "Rejected")))

    assert job.approval_required
    assert job.approval_reason == "it moves 8.50 EUR of payout (approval from 8.50 EUR)"


def test_the_same_file_again_is_noticed(
    tmp_path, import_applied, import_validated, two_currencies, admin_client
):
    path = status_file(tmp_path, rows_setting(two_currencies, "Rejected"))
    first = import_applied(path)

    again = import_validated(path)
    page = admin_client.get(job_url(again)).content.decode()

    assert f'This is the same file as <a href="{job_url(first)}">import {first.pk}</a>' in page
    assert again.summary["will_change_total"] == 0


def test_a_dry_run_leaves_no_job_to_confirm(tmp_path, two_currencies, admin_user):
    out = StringIO()
    path = status_file(tmp_path, rows_setting(two_currencies, "Rejected"))

    call_command("import_statuses", str(path), "--dry-run", "--json", stdout=out)

    report = json.loads(out.getvalue())
    job = ImportJob.objects.get(pk=report["id"])
    assert job.state == ImportJob.State.CHECKED
    assert report["will_change_total"] == 5 and report["state"] == "checked"
    with pytest.raises(ValidationError, match="Only a validated import can be confirmed"):
        change_sets.import_job_confirm(import_job=job, user=admin_user, send_callbacks=True)
    assert {status_of(c) for c in two_currencies} == {Status.SUCCESS}


def test_the_command_reverts_a_job(tmp_path, import_applied, two_currencies):
    job = import_applied(status_file(tmp_path, rows_setting(two_currencies, "Rejected")))
    out = StringIO()

    call_command("import_statuses", "--revert", str(job.pk), "--dry-run", stdout=out)
    assert "Rejected → Success: 5" in out.getvalue()
    assert not ImportJob.objects.filter(reverts=job).exists()  # a dry run keeps no revert

    out = StringIO()
    call_command("import_statuses", "--revert", str(job.pk), stdout=out)
    assert "Applied: 5 conversions changed, Rejected → Success: 5" in out.getvalue()
    assert {status_of(c) for c in two_currencies} == {Status.SUCCESS}
    assert_audit_intact()


def test_the_command_line_cannot_approve_a_large_change(
    tmp_path, two_currencies, admin_user, approver, client, settings
):
    settings.IMPORT_APPROVAL_MIN_CONVERSIONS = 5
    path = status_file(tmp_path, rows_setting(two_currencies, "Rejected"))

    # The command line can name no approver: the job waits on its page, naming who ran it.
    with pytest.raises(CommandError, match="unrecognized arguments: --approver"):
        call_command("import_statuses", str(path), "--user", "admin", "--approver", "approver")
    with pytest.raises(CommandError) as refused:
        call_command("import_statuses", str(path), "--user", "admin", stdout=StringIO())
    assert refused.value.returncode == 2
    assert "waits on its page for a second person to approve it" in str(refused.value)
    job = ImportJob.objects.get(state=ImportJob.State.VALIDATED)
    assert (job.user, job.origin.startswith("command line (OS user ")) == (admin_user, True)
    assert {status_of(c) for c in two_currencies} == {Status.SUCCESS}

    # The one who ran it cannot confirm it on the web; a second person can.
    client.force_login(admin_user)
    assert client.post(job_url(job, "confirm")).status_code == 403
    client.force_login(approver)
    client.post(job_url(job, "confirm"))
    change_sets.import_job_apply(import_job=job)
    assert {status_of(c) for c in two_currencies} == {Status.REJECTED}
    assert_audit_intact()


def test_a_large_change_run_without_a_user_waits_for_no_one(
    tmp_path, two_currencies, approver, settings
):
    settings.IMPORT_APPROVAL_MIN_CONVERSIONS = 5
    path = status_file(tmp_path, rows_setting(two_currencies, "Rejected"))

    with pytest.raises(CommandError, match="run the command again with --user NAME"):
        call_command("import_statuses", str(path), stdout=StringIO())

    # Whoever ran it could be anyone: no one can approve it, and nothing is left waiting.
    job = ImportJob.objects.get()
    assert job.user is None and job.state == ImportJob.State.CHECKED
    with pytest.raises(ValidationError):
        change_sets.import_job_confirm(import_job=job, user=approver, send_callbacks=True)
    assert {status_of(c) for c in two_currencies} == {Status.SUCCESS}


def test_an_action_that_changes_nothing_keeps_no_job(two_currencies, admin_user):
    from conversions.change_sets.selection import selection_status_set

    outcome = selection_status_set(
        conversion_ids=[c.pk for c in two_currencies], status=Status.SUCCESS, user=admin_user
    )

    assert outcome.job is None and outcome.result.changed == 0 and not outcome.waiting
    assert not ImportJob.objects.exists()
    assert_audit_intact()

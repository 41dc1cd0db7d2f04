"""In a real browser, under the Content-Security-Policy: the two-step sign-in, enrolment, then
a status change from a row and an import, with no CSP violation on any page (the ``page``
fixture fails the test on one)."""

import csv

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from access.models import SignInEvent, SignInEventKind
from conversions.models import ImportJob, Status
from tests.access.conftest import PASSWORD, totp_code
from tests.conversions.imports.test_browser_import import celery_worker  # noqa: F401 -- fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1440, 390)


def screenshots(page, name: str) -> None:
    """Full-page screenshots at a desktop and a phone width, for a person to look at."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"/tmp/gk_access_{name}_{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 1000})


def enter_password(page, username: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


@pytest.fixture
def verified_admin(page, django_user_model, settings):
    """A superuser with an authenticator app, signed in with its code; 2FA required."""
    settings.ADMIN_REQUIRE_2FA = True
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    enter_password(page, "admin")
    page.wait_for_url("**/admin/login/second-factor/")
    screenshots(page, "second_factor")
    page.fill("#id_otp_token", totp_code(device))
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    return page


@pytest.mark.usefixtures("celery_worker")
def test_sign_in_with_a_code_then_change_a_status_and_import_a_file(
    verified_admin, conversion_factory, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    page = verified_admin
    assert SignInEvent.objects.get(kind=SignInEventKind.SIGNED_IN).detail == (
        "password and authenticator app"
    )

    # A status change from the conversion list's row button
    conversion = conversion_factory(status=Status.SUCCESS)
    page.goto("/admin/conversions/conversion/")
    row = page.locator("#result_list tbody tr").filter(
        has=page.locator("th.field-id", has_text=str(conversion.pk))
    )
    row.get_by_role("link", name="Rejected").click()
    page.get_by_label("Reason").fill("Fraud review")
    page.get_by_role("button", name="Yes, set to Rejected").click()
    page.wait_for_url("**/admin/conversions/conversion/")
    assert row.locator(".gk-status").inner_text() == "Rejected"

    # An import: upload, the job page's live progress and preview, confirm, the outcome
    pending = conversion_factory(status=Status.PENDING)
    path = tmp_path / "statuses.csv"
    with path.open("w", newline="") as file:
        csv.writer(file).writerows([["EventId", "Status"], [pending.pk, "Success"]])
    page.click("a.import_link")
    page.set_input_files("#id_import_file", str(path))
    page.click("input[type=submit][value='Upload and check']")
    page.wait_for_selector("#summary-will-change", timeout=30_000)
    assert page.inner_text("#summary-will-change") == "1"
    page.click("#confirm-button")
    page.wait_for_selector("#applied-total", timeout=30_000)
    assert ImportJob.objects.get().state == "applied"
    pending.refresh_from_db()
    assert pending.status == Status.SUCCESS

    # The export page and a partner's page, for the policy's sake
    page.goto("/admin/conversions/conversion/export/")
    page.goto("/admin/callbacks/partner/add/")
    assert page.csp_violations == []


def test_enrolment_in_the_browser_then_the_own_page(page, django_user_model, settings):
    settings.ADMIN_REQUIRE_2FA = True
    user = django_user_model.objects.create_user("riley", password=PASSWORD, is_staff=True)

    # The password step of someone without a device leads to set-up
    enter_password(page, "riley")
    page.wait_for_url("**/admin/two-factor/setup/")
    assert page.locator("#authenticator-qr svg").is_visible()
    screenshots(page, "setup")

    page.fill("#id_otp_token", totp_code(TOTPDevice.objects.get(user=user)))
    page.click("#authenticator-form input[type=submit]")
    page.wait_for_selector("#recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10
    screenshots(page, "recovery_codes")

    page.click("#codes-saved")
    page.wait_for_url("**/admin/")
    page.click("#two-factor-link")
    assert "10 unused recovery codes left." in page.inner_text("#codes-left")
    screenshots(page, "own_page")


def test_the_lockout_and_audit_pages(page, django_user_model, settings):
    django_user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    # By name only here: the browser's address, locked too otherwise, is the admin's as well
    settings.AXES_LOCKOUT_PARAMETERS = ["username"]
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto("/admin/login/")
        page.fill("#id_username", "someone")
        page.fill("#id_password", "guess")
        page.click("input[type=submit]")
    assert "Too many failed sign-ins" in page.inner_text("#lockout-message")
    screenshots(page, "lockout")

    enter_password(page, "admin")
    page.wait_for_url("**/admin/")
    page.goto("/admin/axes/accessattempt/")
    screenshots(page, "lockouts_admin")
    page.goto("/admin/access/signinevent/")
    # Four failures, the lockout, the admin's sign-in
    assert page.locator("#result_list tbody tr").count() == 6
    screenshots(page, "audit")


def test_every_admin_page_passes_the_policy(admin_page, conversion_factory):
    """Each registered model's list, add form and one change page, and the signing-secret
    page with its Copy button, all without a CSP violation."""
    from django.contrib import admin
    from django.urls import reverse

    from callbacks.models import Partner

    conversion_factory(status=Status.PENDING)
    page = admin_page
    for model in admin.site._registry:
        opts = model._meta
        name = f"admin:{opts.app_label}_{opts.model_name}"
        assert page.goto(reverse(f"{name}_changelist")).status == 200, opts.label
        assert page.goto(reverse(f"{name}_add")).status in (200, 403), opts.label
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            assert page.goto(reverse(f"{name}_change", args=[first.pk])).status == 200, opts.label

    partner = Partner.objects.get()
    page.goto(reverse("admin:callbacks_partner_rotate_secret", args=[partner.pk]))
    page.locator("#content form [type=submit]").first.click()
    page.wait_for_selector("#gk-signing-secret")
    page.click("#gk-copy-secret")
    page.wait_for_selector("#gk-copy-status:not(:empty)")  # "Copied." or the manual fallback
    page.goto("/admin/two-factor/")
    assert page.csp_violations == []


def test_an_idle_session_lands_on_the_sign_in_page_saying_why(admin_page):
    import time

    from django.contrib.sessions.backends.db import SessionStore

    from access.middleware import LAST_ACTIVITY_KEY

    # Given the browser's session last active 31 minutes ago
    page = admin_page
    key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=key)
    session[LAST_ACTIVITY_KEY] = time.time() - 31 * 60
    session.save()

    page.goto("/admin/conversions/conversion/")

    page.wait_for_url("**/admin/login/**")
    assert "signed out after 30 minutes without activity" in page.inner_text("ul.messagelist")
    screenshots(page, "idle")

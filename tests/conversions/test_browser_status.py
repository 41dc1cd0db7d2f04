"""In a real browser: an admin rejects a conversion from its row, with a reason."""

import pytest

from conversions.models import Source, Status
from tests.conversions.factories import changes_since_recorded

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/gokart_conversion_changelist.png"


def test_an_admin_rejects_a_conversion_from_its_row_and_sees_badge_and_history(
    admin_page, conversion_factory
):
    # Given a few conversions, one of them Success
    conversion_factory.create_batch(3, status=Status.PENDING)
    conversion = conversion_factory(status=Status.SUCCESS, transaction_id="ADV-2024-0042")
    page = admin_page
    page.goto("/admin/conversions/conversion/")
    row = page.locator("#result_list tbody tr").filter(
        has=page.locator("th.field-id", has_text=str(conversion.pk))
    )
    assert row.locator(".gk-status").inner_text() == "Success"
    page.screenshot(path=SCREENSHOT, full_page=True)

    # When the admin clicks its Rejected button, types a reason and confirms
    row.get_by_role("link", name="Rejected").click()
    page.get_by_label("Reason").fill("Fraud review: duplicate device")
    page.get_by_role("button", name="Yes, set to Rejected").click()

    # Then the list says so and the row's badge reads Rejected
    page.wait_for_url("**/admin/conversions/conversion/")
    assert page.locator("ul.messagelist").inner_text() == (
        f"Conversion {conversion.pk} set to Rejected."
    )
    assert row.locator(".gk-status").inner_text() == "Rejected"

    # And the conversion's page lists the change in its history
    row.locator("th.field-id a").click()
    history = page.locator("#status-history tbody tr").first
    assert history.locator(".gk-history-change").inner_text() == "Success → Rejected"
    assert history.locator(".gk-history-reason").inner_text() == "Fraud review: duplicate device"
    assert "admin" in history.inner_text()
    change = changes_since_recorded().get(conversion=conversion)
    assert (change.source, change.user.username) == (Source.ADMIN, "admin")

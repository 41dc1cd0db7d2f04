"""In a real browser, at 1440 and 390 pixels: the conversion upload's page and the preview of an
upload (new conversions, their money, a refused row with a long click id) fit the screen.

Set ``GOKART_SCREENSHOTS`` to a folder to keep a screenshot of each page at each width."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from conversions.change_sets import services as change_sets
from conversions.imports import services
from conversions.imports.template_file import UPLOAD_TEMPLATE_COLUMNS
from conversions.models import Click, ImportJob
from tests.conversions.change_sets.test_browser_pages_fit import OVERFLOW_JS
from tests.conversions.imports.status_files import status_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def screenshot(page, name, width):
    if folder := os.environ.get("GOKART_SCREENSHOTS"):
        page.screenshot(path=str(Path(folder) / f"{name}-{width}.png"), full_page=True)


@pytest.fixture
def checked_upload(settings, tmp_path, offer_event_factory, click_factory):
    settings.MEDIA_ROOT = tmp_path / "media"
    event = offer_event_factory(code="deposit", offer__name="Mobile game — spring campaign")
    clicks = [click_factory(offer=event.offer) for _ in range(3)]
    Click.objects.update(created_at=clicks[0].created_at - timedelta(days=1))
    clicked = Click.objects.order_by("pk")
    rows = [["ClickId", "EventID", "UserCompletedAt", "Revenue", "Reward"]]
    rows += [
        [
            c.gk_click_id,
            "deposit",
            f"{c.created_at + timedelta(hours=1):%Y-%m-%d %H:%M:%S}",
            "12.5",
            "4",
        ]
        for c in clicked
    ]
    rows.append(["x" * 64, "deposit", "2026-12-01 10:00:00", "1", "1"])
    path = status_file(tmp_path, rows, name="missed-conversions.csv")
    job = services.import_job_create(
        user=get_user_model().objects.get(username="admin"),
        upload=path,
        original_name=path.name,
        queue_validation=False,
        kind=ImportJob.Kind.UPLOAD,
    )
    return change_sets.import_job_validate(import_job=job)


@pytest.mark.parametrize("width", [1440, 390])
def test_the_upload_page_and_an_uploads_preview_fit(admin_page, checked_upload, width):
    page = admin_page
    page.set_viewport_size({"width": width, "height": 900})

    page.goto(reverse("admin:conversions_conversion_upload"))
    columns = page.locator("table.gk-columns tbody th code").all_inner_texts()
    assert columns == [column.name for column in UPLOAD_TEMPLATE_COLUMNS]
    screenshot(page, "upload-page", width)
    assert page.evaluate(OVERFLOW_JS) == []

    page.goto(reverse("admin:conversions_importjob_change", args=[checked_upload.pk]))
    assert page.locator("#summary-will-change").inner_text() == "3"
    assert "New → Success" in page.locator("#job-preview").inner_text()
    screenshot(page, "upload-preview", width)
    assert page.evaluate(OVERFLOW_JS) == []

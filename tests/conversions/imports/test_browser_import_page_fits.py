"""In a real browser, at 1440 and 390 pixels: the Import page, whose column table names the
advertiser's ids too, fits the screen (the table scrolls inside its own box, nothing is cut).

Set ``GOKART_SCREENSHOTS`` to a folder to keep a screenshot at each width."""

import os
from pathlib import Path

import pytest
from django.urls import reverse

from conversions.imports.template_file import TEMPLATE_HEADER
from tests.conversions.change_sets.test_browser_pages_fit import OVERFLOW_JS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1440, 390])
def test_the_import_page_and_its_columns_fit(admin_page, width):
    page = admin_page
    page.set_viewport_size({"width": width, "height": 900})

    page.goto(reverse("admin:conversions_conversion_import"))

    columns = page.locator("table.gk-columns tbody th code").all_inner_texts()
    assert columns == TEMPLATE_HEADER
    assert "TransactionId" in page.locator("#gk-import-instructions").inner_text()
    if folder := os.environ.get("GOKART_SCREENSHOTS"):
        page.screenshot(path=str(Path(folder) / f"import-page-{width}.png"), full_page=True)
    assert page.evaluate(OVERFLOW_JS) == []

"""In a real browser, at 1440 and 390 pixels: every page the change-set engine serves (a job's
check with its problems, its preview with the money, one waiting for approval, a revert, the
confirmation of a conversion's button) and the overview fit the screen: nothing is wider than
the window and no table cuts its last column.

Set ``GOKART_SCREENSHOTS`` to a folder to keep a screenshot of each page at each width."""

import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from conversions.change_sets import services as change_sets
from conversions.change_sets.selection import selection_status_set
from conversions.imports import services as imports
from conversions.models import ImportJob, Status
from tests.conversions.imports.status_files import HEADER, status_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [1440, 390]
# A gk_click_id as long as the importer accepts (64), unknown: the problems table names it,
# with no space to break at.
LONG_CLICK_ID = "gk-" + ("7f3a9c" * 11)[:61]

# What sticks out: the page wider than the window, or a table wider than the box that holds
# it (its last column cut off or scrolled away), with the table's caption or first header.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const problems = [];
  if (document.documentElement.scrollWidth > width + 1)
    problems.push(`page ${document.documentElement.scrollWidth}px wide in ${width}px`);
  for (const table of document.querySelectorAll('#content table')) {
    const box = table.getBoundingClientRect();
    if (box.width === 0) continue;
    const name = (table.querySelector('caption, th') || table).textContent.trim().slice(0, 40);
    if (box.right > width + 1) problems.push(`table "${name}" ends at ${box.right}px`);
    let parent = table.parentElement;
    while (parent && parent !== document.body) {
      const style = getComputedStyle(parent);
      if (style.overflowX !== 'visible' && parent.scrollWidth > parent.clientWidth + 1) {
        problems.push(`table "${name}" cut: ${parent.scrollWidth}px in ${parent.clientWidth}px`);
        break;
      }
      parent = parent.parentElement;
    }
    for (const cell of table.querySelectorAll('th, td')) {
      if (cell.scrollWidth > cell.clientWidth + 1 && getComputedStyle(cell).overflow !== 'visible')
        problems.push(`cell "${cell.textContent.trim().slice(0, 30)}" cut in "${name}"`);
    }
  }
  return problems;
}"""


@pytest.fixture
def jobs(
    admin_user,
    django_user_model,
    offer_factory,
    offer_event_factory,
    partner_factory,
    conversion_factory,
    settings,
    tmp_path,
):
    """A checked file with problems, an applied file, its revert, a change waiting for
    approval; the URL of each page."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_APPROVAL_MIN_PAYOUT = "USD:1000"
    event = offer_event_factory(
        offer=offer_factory(name="Dragon Quest Mobile (multi-event)", currency="USD"),
        payout=Decimal("12.5000"),
        revenue=Decimal("20.00"),
    )
    partner = partner_factory(name="CashbackCity Rewards International")
    conversions = [
        conversion_factory(
            click__offer=event.offer,
            click__partner=partner,
            offer_event=event,
            status=Status.PENDING,
        )
        for _ in range(6)
    ]
    rows = [
        HEADER,
        *[["", c.pk, "Success", "Reconciled with the advertiser"] for c in conversions[:3]],
        *[[LONG_CLICK_ID, "", "Success", "unknown click"] for _ in range(3)],
        ["", conversions[3].pk, "Maybe", "not a status"],
    ]
    checked = imports.import_job_create(
        user=admin_user,
        upload=status_file(tmp_path, rows, name="november-reconciliation.csv"),
        original_name="november-reconciliation.csv",
        queue_validation=False,
    )
    checked = change_sets.import_job_validate(import_job=checked)
    applied = imports.import_job_create(
        user=admin_user,
        upload=status_file(tmp_path, rows[:3], name="fraud.csv"),
        original_name="fraud.csv",
        queue_validation=False,
    )
    change_sets.import_job_validate(import_job=applied)
    change_sets.import_job_confirm(
        import_job=applied, user=admin_user, send_callbacks=True, queue_apply=False
    )
    change_sets.import_job_apply(import_job=applied)
    revert = change_sets.import_job_revert(
        import_job=applied, user=admin_user, queue_validation=False
    )
    revert = change_sets.import_job_validate(import_job=revert)
    big = conversion_factory(
        click__offer=event.offer,
        click__partner=partner,
        offer_event=event,
        offer_event__payout=Decimal("5000"),
        payout=Decimal("5000"),
        status=Status.PENDING,
    )
    waiting = selection_status_set(
        conversion_ids=[big.pk], status=Status.SUCCESS, user=admin_user, single=True
    ).job
    assert waiting is not None and waiting.state == ImportJob.State.VALIDATED
    amounts = imports.import_job_create(
        user=admin_user,
        upload=status_file(
            tmp_path,
            [
                ["EventId", "Status", "Payout", "Revenue", "Reason"],
                [conversions[0].pk, "", "14.7500", "", "Advertiser statement, November"],
                [conversions[5].pk, "Success", "", "21.5", ""],
            ],
            name="november-amounts.csv",
        ),
        original_name="november-amounts.csv",
        queue_validation=False,
    )
    amounts = change_sets.import_job_validate(import_job=amounts)
    raised = imports.import_job_create(
        user=admin_user,
        upload=status_file(
            tmp_path, [["EventId", "Payout"], [conversions[1].pk, "13.0125"]], name="raise.csv"
        ),
        original_name="raise.csv",
        queue_validation=False,
    )
    change_sets.import_job_validate(import_job=raised)
    change_sets.import_job_confirm(
        import_job=raised, user=admin_user, send_callbacks=True, queue_apply=False
    )
    change_sets.import_job_apply(import_job=raised)
    job = "admin:conversions_importjob_change"
    return {
        "amounts preview": reverse(job, args=[amounts.pk]),
        "conversion with an amount change": reverse(
            "admin:conversions_conversion_change", args=[conversions[1].pk]
        ),
        "overview": reverse("admin:index"),
        "checked job (preview, problems)": reverse(job, args=[checked.pk]),
        "applied job": reverse(job, args=[applied.pk]),
        "revert preview": reverse(job, args=[revert.pk]),
        "waiting for approval": reverse(job, args=[waiting.pk]),
        "jobs list": reverse("admin:conversions_importjob_changelist"),
        "row button confirmation": reverse(
            "admin:conversions_conversion_status", args=[conversions[4].pk, Status.REJECTED]
        ),
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_every_change_set_page_and_the_overview_fit(admin_page, jobs, width):
    page = admin_page
    page.set_viewport_size({"width": width, "height": 900})
    folder = os.environ.get("GOKART_SCREENSHOTS")
    found = {}
    for name, url in jobs.items():
        page.goto(url)
        page.wait_for_load_state("networkidle")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{folder}/{name.replace(' ', '-')}-{width}.png", full_page=True)
        problems = page.evaluate(OVERFLOW_JS)
        if problems:
            found[name] = problems

    assert found == {}

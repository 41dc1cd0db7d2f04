"""Money is written one way everywhere: a preview, the command's summary and a conversion's
page agree to the sub-cent (three rejected conversions of 0.0125 USD move −0.0375 USD)."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from conversions.models import Status
from tests.conversions.imports.status_files import HEADER, status_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_media_root")]


@pytest.fixture
def sub_cent(offer_factory, offer_event_factory, partner_factory, conversion_factory):
    event = offer_event_factory(
        offer=offer_factory(currency="USD"), payout=Decimal("0.0125"), revenue=Decimal("0.02")
    )
    partner = partner_factory(callback_url="http://127.0.0.1:9/cb")
    return [
        conversion_factory(
            click__offer=event.offer, click__partner=partner, offer_event=event, status="success"
        )
        for _ in range(3)
    ]


def test_the_preview_the_command_and_the_conversion_page_agree(sub_cent, admin_client, tmp_path):
    preview = admin_client.post(
        reverse("admin:conversions_conversion_changelist"),
        {
            "action": "set_status_action",
            "index": "0",
            "select_across": "0",
            "_selected_action": [c.pk for c in sub_cent],
            "status": Status.REJECTED,
            "reason": "",
            "preview": "Show what it moves",
        },
    ).content.decode()
    rows = [HEADER, *[["", c.pk, "Rejected", ""] for c in sub_cent]]
    out = StringIO()
    call_command(
        "import_statuses", str(status_file(tmp_path, rows)), "--dry-run", "--json", stdout=out
    )
    page = admin_client.get(
        reverse("admin:conversions_conversion_change", args=[sub_cent[0].pk])
    ).content.decode()

    assert "−0.0375 USD" in preview and "−0.04 USD" not in preview
    (transition,) = json.loads(out.getvalue())["money"]["transitions"]
    assert Decimal(transition["payout"]) == Decimal("-0.0375")
    assert "0.0125 USD" in page

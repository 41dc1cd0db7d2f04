"""The macros an offer's landing URL may hold, filled when a click is redirected to it.

``https://advertiser.example/go?click={gk_click_id}&member={pub_member_id}`` becomes the URL the
user's browser is sent to: each macro replaced by the click's value, URL-encoded as a whole
(``quote(value, safe="")``: ``&``, ``#``, ``/``, ``=``, spaces and non-ASCII all escaped, UTF-8), so
a partner's value can neither add a parameter to the advertiser's URL nor cut it; a value the
click does not have fills in as nothing. Anything else in braces is left as written (an
advertiser's own placeholders).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from conversions.models import Click

# Macro -> what it is, for the offer form's help and the README.
LANDING_URL_MACROS = {
    "gk_click_id": "our click id (what the advertiser's postback sends back)",
    "gk_offer_id": "the offer's id",
    "gk_offer_name": "the offer's name",
    "pub_member_id": "the partner's user id (pub_member_id, or sub)",
    "pub_click_id": "the partner's own click id",
}
_MACRO = re.compile(r"\{(" + "|".join(LANDING_URL_MACROS) + r")\}")


def landing_url_fill(template: str, *, click: Click, offer_name: str) -> str:
    """The offer's landing URL ``template`` with the click's macros filled, each URL-encoded."""
    values = {
        "gk_click_id": click.gk_click_id,
        "gk_offer_id": str(click.offer_id),
        "gk_offer_name": offer_name,
        "pub_member_id": click.sub_id,
        "pub_click_id": click.pub_click_id,
    }
    return _MACRO.sub(lambda match: quote(values[match[1]], safe=""), template)

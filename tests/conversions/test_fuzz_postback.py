"""Fuzzing ``/postback/`` and ``/click/`` with hostile requests (profiles in ``tests/fuzzing.py``).

Invariants: every answer is JSON with a documented status (200, 400, 403, 404, 405, 413), never
a 500; an error records nothing; a 200 records at most one conversion, and the same request
again answers the same conversion as a duplicate.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tests.fuzzing  # noqa: F401 -- the Hypothesis profile
from conversions.models import Click, Conversion

pytestmark = pytest.mark.django_db

NAMES = st.sampled_from(
    [
        *["gk_click_id", "event", "txn_id", "token", "sub", "x", "", "%FF", "a+b"],
        # GoKart's names, their aliases' partners and a numbered one out of range
        *["cnv_event_id", "cnv_conversion_id", "cnv_amount", "cnv_conversion_ip_address"],
        *["cnv_sub_1", "cnv_sub_6", "cnv_email", "pub_member_id", "pub_sub_15", "pub_sub_16"],
    ]
)
RAW_VALUE = st.one_of(
    st.binary(max_size=12).map(lambda data: "".join(f"%{byte:02X}" for byte in data)),
    st.lists(
        st.sampled_from([*"ab1-_=&+%;", "%00", "%C3", "%C3%A9", "%FF", "%2B"]), max_size=8
    ).map("".join),
    st.sampled_from(
        ["{click}", "{token}", "install", "x" * 300, "1e999", "-5", "NaN", "49.99", "fe80::1%25e"]
    ),
)
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "multipart/form-data; boundary=x",
        "application/json",
        "text/plain",
    ]
)


@st.composite
def requests(draw):
    def query():
        pairs = draw(st.lists(st.tuples(NAMES, RAW_VALUE), max_size=6))
        return "&".join(f"{name}={value}" for name, value in pairs)

    return {
        "method": draw(st.sampled_from(["GET", "POST", "PUT", "HEAD", "DELETE"])),
        "query": query(),
        "body": query().encode() if draw(st.booleans()) else b"",
        "content_type": draw(CONTENT_TYPES),
        "declared_length": draw(
            st.one_of(st.none(), st.sampled_from(["0", "-1", "abc", "99999999"]))
        ),
    }


def send(client, path, request, click, token):
    query = request["query"].replace("{click}", click).replace("{token}", token)
    body = request["body"].replace(b"{click}", click.encode()).replace(b"{token}", token.encode())
    extra = {}
    if request["content_type"]:
        extra["CONTENT_TYPE"] = request["content_type"]
    if request["declared_length"] is not None and body:
        extra["CONTENT_LENGTH"] = request["declared_length"]
    return client.generic(request["method"], f"{path}?{query}", body, **extra)


@given(request=requests())
def test_any_postback_request_gets_a_json_answer_and_records_at_most_one_conversion(
    client, click_factory, offer_event_factory, request
):
    click = click_factory()
    offer_event_factory(offer=click.offer, code="install")
    before = Conversion.objects.count()

    response = send(client, "/postback/", request, click.gk_click_id, click.offer.postback_secret)

    assert response.status_code in (200, 400, 403, 404, 405, 413), response.content[:300]
    if request["method"] != "HEAD":
        assert response["Content-Type"] == "application/json"
        answer = response.json()
        if response.status_code == 200:
            assert set(answer) == {"conversion_id", "status", "duplicate"}
        else:
            assert answer["error"]
    recorded = Conversion.objects.count() - before
    assert recorded == (
        1 if response.status_code == 200 and not response.json()["duplicate"] else 0
    )
    if response.status_code == 200:
        again = send(client, "/postback/", request, click.gk_click_id, click.offer.postback_secret)
        assert again.json() == {**response.json(), "duplicate": True}


@given(request=requests(), offer_id=st.sampled_from(["{offer}", "0", "99999999999999999999"]))
def test_any_click_request_gets_a_redirect_or_a_json_error(
    client, offer_factory, offer_event_factory, partner_factory, request, offer_id
):
    offer, partner = offer_factory(), partner_factory()
    offer_event_factory(offer=offer, code="install")
    before = Click.objects.count()
    path = f"/click/{offer_id.replace('{offer}', str(offer.pk))}/{partner.pk}/"

    response = send(client, path, request, "", "")

    assert response.status_code in (302, 400, 404, 405), response.content[:300]
    if response.status_code != 302 and request["method"] != "HEAD":
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]
    assert Click.objects.count() - before == (1 if response.status_code == 302 else 0)

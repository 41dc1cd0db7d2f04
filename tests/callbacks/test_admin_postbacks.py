"""The partner page's templated postbacks and static header: templates checked when saved,
nothing stored half, the header's value encrypted and shown once, a preview filled for a recent
conversion, and a test postback a real receiver on 127.0.0.1 gets."""

import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import FieldError
from django.db import connection
from django.urls import reverse

from callbacks.models import Partner, PartnerEventPostback
from callbacks.postback_macros import MACROS, postback_template_problem
from gokart.encryption import is_encrypted
from tests.callbacks.test_admin_partners import ADD, change_url, partner_form

pytestmark = pytest.mark.django_db

GOOD = "https://partner.example/pb?click={gk_click_id}&status={status}"


def errors_of(response):
    form = response.context["adminform"].form
    inline_errors = [
        str(error)
        for formset in response.context["inline_admin_formsets"]
        for error in [*formset.formset.non_form_errors(), *formset.formset.errors]
        if error
    ]
    return {field: list(messages) for field, messages in form.errors.items()}, inline_errors


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("https://p.example/pb?c={clickid}", "Unknown macro {clickid}: the macros are"),
        ("https://p.example/pb?c=" + "x" * 102_400, "at most 2000 characters"),
        ("https://p.example/pb?c={gk_click_id", "The { at character 24 is never closed"),
        ("https://p.example/pb?c={gk_click_id{status}}", "is not closed before the next {"),
        ("https://p.example/pb?c=gk_click_id}", "The } at character 35 closes no {"),
        ("ftp://p.example/pb?c={gk_click_id}", "Enter a full http:// or https:// URL"),
        ("p.example/pb?c={gk_click_id}", "Enter a full http:// or https:// URL"),
        ("https://{gk_offer_id}.p.example/pb", "A macro cannot be part of the scheme or host"),
        ("http://10.0.0.5/pb?c={gk_click_id}", "points to a private address 10.0.0.5: refused"),
        ("http://169.254.169.254/latest", "link-local address 169.254.169.254: refused"),
        ("https://p.example:99999/pb", "not a port number"),
    ],
)
def test_a_bad_template_gets_a_clear_message_and_nothing_is_stored(admin_client, template, message):
    response = admin_client.post(ADD, partner_form(postback_url=template))

    assert response.status_code == 200
    fields, _ = errors_of(response)
    assert any(message in error for error in fields["postback_url"]), fields
    assert not Partner.objects.exists()


def test_a_host_name_that_resolves_to_a_refused_address_is_refused(settings):
    settings.CALLBACK_ALLOW_LOOPBACK = False

    problem = postback_template_problem("http://localhost:8080/pb?c={gk_click_id}")

    assert problem == "Postback URL host localhost resolves to a private address: refused"


def test_every_macro_is_accepted():
    template = "https://p.example/pb?" + "&".join(f"{m.name}={{{m.name}}}" for m in MACROS)

    assert postback_template_problem(template) is None


def inline(offer_event, template, prefix="event_postbacks-0"):
    return {f"{prefix}-offer_event": str(offer_event.pk), f"{prefix}-url_template": template}


def with_event_postbacks(data, *rows):
    data = dict(data, **{"event_postbacks-TOTAL_FORMS": str(len(rows))})
    for row in rows:
        data.update(row)
    return data


def test_a_bad_event_postback_stores_nothing_of_the_partner_either(
    admin_client, partner_factory, offer_event_factory
):
    partner = partner_factory(name="Old name", callback_url="https://rewards.example/cb")
    good_event, bad_event = offer_event_factory.create_batch(2)
    data = with_event_postbacks(
        partner_form(name="New name", postback_url=GOOD),
        inline(good_event, GOOD),
        inline(bad_event, "https://p.example/pb?c={nope}", prefix="event_postbacks-1"),
    )

    response = admin_client.post(change_url(partner), data)

    assert response.status_code == 200
    _, inline_errors = errors_of(response)
    assert any("Unknown macro {nope}" in error for error in inline_errors), inline_errors
    partner.refresh_from_db()
    assert (partner.name, partner.postback_url) == ("Old name", "")
    assert not PartnerEventPostback.objects.exists()


def test_event_postbacks_alone_are_refused(admin_client, offer_event_factory):
    event = offer_event_factory()
    data = with_event_postbacks(partner_form(callback_url=""), inline(event, GOOD))

    response = admin_client.post(ADD, data)

    assert response.status_code == 200
    _, inline_errors = errors_of(response)
    assert any("beside the partner's JSON callback or global postback" in e for e in inline_errors)
    assert not Partner.objects.exists()


def test_postbacks_are_saved_global_and_per_event(admin_client, offer_event_factory):
    event = offer_event_factory()
    data = with_event_postbacks(partner_form(postback_url=GOOD), inline(event, GOOD + "&e=1"))

    response = admin_client.post(ADD, data)

    assert response.status_code == 302
    partner = Partner.objects.get()
    assert partner.postback_url == GOOD
    assert partner.event_postbacks.get().url_template == GOOD + "&e=1"


# -- the static header ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("X-Api-Token\nX-Evil: 1", "A header name cannot contain a line break."),
        ("X Api Token", "is not a header name"),
        ("webhook-signature", "is set by GoKart itself"),
        ("Content-Type", "is set by GoKart itself"),
    ],
)
def test_a_bad_header_name_is_refused(admin_client, name, message):
    response = admin_client.post(
        ADD, partner_form(static_header_name=name, static_header_secret="tok")
    )

    assert response.status_code == 200
    fields, _ = errors_of(response)
    assert any(message in error for error in fields["static_header_name"]), fields
    assert not Partner.objects.exists()


def test_a_header_value_with_a_line_break_or_missing_is_refused(admin_client, partner_factory):
    partner = partner_factory()
    broken = admin_client.post(
        change_url(partner),
        partner_form(static_header_name="X-Api-Token", static_header_secret="a\r\nX-Evil: 1"),
    )
    missing = admin_client.post(change_url(partner), partner_form(static_header_name="X-Api-Token"))

    assert "cannot contain a line break" in str(errors_of(broken)[0]["static_header_secret"])
    assert "Enter the header's value." in str(errors_of(missing)[0]["static_header_secret"])
    partner.refresh_from_db()
    assert (partner.static_header_name, partner.static_header_value) == ("", "")


def test_the_header_value_is_encrypted_shown_once_then_masked_and_never_logged(
    admin_client, partner_factory, caplog
):
    partner = partner_factory()
    secret = "tok-4f9a1c2e8b7d"
    caplog.set_level(logging.DEBUG)

    saved = admin_client.post(
        change_url(partner),
        partner_form(static_header_name="X-Api-Token", static_header_secret=secret),
    )

    assert saved.status_code == 302
    partner.refresh_from_db()
    assert (partner.static_header_name, partner.static_header_value) == ("X-Api-Token", secret)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT static_header_value FROM callbacks_partner WHERE id = %s", [partner.pk]
        )
        [stored] = cursor.fetchone()
    assert secret not in stored and is_encrypted(stored)
    first = admin_client.get(change_url(partner)).text
    assert re.search(rf'<code class="gk-static-header-value">{secret}</code>', first)
    second = admin_client.get(change_url(partner)).text
    assert secret not in second and "X-Api-Token: to…7d" in second
    assert secret not in admin_client.get(reverse("admin:callbacks_partner_changelist")).text
    assert secret not in caplog.text
    with pytest.raises(FieldError):
        list(Partner.objects.filter(static_header_value=secret))

    # And saving the form again without a value keeps it
    admin_client.post(change_url(partner), partner_form(static_header_name="X-Api-Token"))
    partner.refresh_from_db()
    assert partner.static_header_value == secret


# -- preview and test -----------------------------------------------------------------------


def test_the_page_previews_each_postback_for_a_recent_conversion(
    admin_client, partner_factory, conversion_factory
):
    partner = partner_factory(postback_url="https://p.example/pb?c={conversion_id}&u={sub}")
    conversion = conversion_factory(click__partner=partner, click__sub_id="a b&c")
    PartnerEventPostback.objects.create(
        partner=partner,
        offer_event=conversion.offer_event,
        url_template="https://p.example/ev?e={event_code}",
    )

    page = admin_client.get(change_url(partner)).text

    assert f"https://p.example/pb?c={conversion.pk}&amp;u=a%20b%26c" in page
    assert f"https://p.example/ev?e={conversion.offer_event.code}" in page
    assert f"Conversion {conversion.pk}" in page


def test_a_test_postback_reaches_the_receiver_with_example_values(
    admin_client, receiver, partner_factory
):
    base = receiver.url.rsplit("/callbacks", 1)[0]
    partner = partner_factory(
        postback_url=f"{base}/pb?click={{gk_click_id}}&status={{status}}",
        static_header_name="X-Api-Token",
        static_header_value="tok-123",
    )
    url = reverse("admin:callbacks_partner_test_postback", args=[partner.pk])

    response = admin_client.post(url, {"which": "global"}, follow=True)

    [postback] = receiver.wait_for(1)
    assert postback.method == "GET" and postback.headers["x-api-token"] == "tok-123"
    query = parse_qs(urlsplit(postback.path).query)
    assert query == {"click": ["gk_7Hq2xK9mPq"], "status": ["Success"]}
    assert "Test postback to" in response.text and "HTTP 200" in response.text


def test_a_partner_on_postbacks_only_reads_as_sending_in_the_list(admin_client, partner_factory):
    partner_factory(name="Postbacks Only", postback_url=GOOD)
    partner_factory(name="Nothing Set")

    page = admin_client.get(reverse("admin:callbacks_partner_changelist")).text

    row = page[page.index("Postbacks Only") :].split("</tr>", 1)[0]
    assert "Sending" in row and "No URL" not in row
    assert "No URL" in page[page.index("Nothing Set") :].split("</tr>", 1)[0]

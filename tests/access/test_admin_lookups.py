"""The admin's lists filter only through their own filters (``gokart.admin_lookups``).

A query parameter that none of a list's filters, its date hierarchy or its search reads is
refused with a 400, on every list of the site (django-otp's, django-axes' and
django.contrib.auth's included): nobody can binary-search a column the list does not show, such
as an offer's postback token, a partner's signing secret or an authenticator app's key. Every
link and filter form the admin's own pages offer still answers.
"""

from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.db.models import Field, Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from access.models import SignInEvent, SignInEventKind
from callbacks.models import CallbackDelivery, Partner, PartnerSigningSecret
from conversions.models import ImportJob, Offer, Source, Status
from conversions.services import conversion_status_set

pytestmark = pytest.mark.django_db


def changelist_url(model: type[Model]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def probe(field: Field) -> dict[str, str]:
    """A lookup on ``field`` that no filter makes: a regex on its text, or for a relation a
    comparison of its key."""
    if field.is_relation:
        return {f"{field.name}__gt": "0"}
    return {f"{field.name}__regex": "^a"}


class _Links(HTMLParser):
    """The query strings a page links to (``href``) or submits (``<form method="get">``)."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._form: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "a" and "href" in attributes:
            self.hrefs.append(attributes["href"])
        elif tag == "form" and attributes.get("method", "get").lower() == "get":
            self._form = {}
            self.forms.append((attributes.get("action", ""), self._form))
        elif tag == "input" and self._form is not None and attributes.get("name"):
            value = attributes.get("value", "")
            if not value:
                # A date range's empty end gets a date; the search box a term.
                value = (
                    f"{timezone.localdate():%Y-%m-%d}" if attributes.get("type") == "date" else "1"
                )
            self._form[attributes["name"]] = value

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def list_links(page_url: str, html: str) -> set[str]:
    """Every URL of an admin list, with a query, that the page links to or submits."""
    lists = {changelist_url(model) for model in admin.site._registry}
    parser = _Links()
    parser.feed(html)
    urls = set()
    for href in parser.hrefs:
        url = urlsplit(href)
        path = url.path or urlsplit(page_url).path
        if path in lists and url.query:
            urls.add(f"{path}?{url.query}")
    for action, fields in parser.forms:
        path = urlsplit(action).path or urlsplit(page_url).path
        if path in lists and fields:
            urls.add(f"{path}?{urlencode(fields)}")
    return urls


@pytest.fixture
def something_in_every_list(
    admin_user, offer_factory, partner_factory, click_factory, conversion_factory
):
    """Rows enough in every list for each of its filters to show choices (a relation's filter
    shows only with two related rows to choose from)."""
    partners = [
        partner_factory(name="Reward Wall", callback_url="https://rewards.example/cb"),
        partner_factory(name="Quest App", callback_url="https://quests.example/cb"),
    ]
    offers = [offer_factory(), offer_factory(is_active=False)]
    week_ago = timezone.now() - timedelta(days=7)
    for offer, partner in zip(offers, partners, strict=True):
        conversion = conversion_factory(
            click=click_factory(offer=offer, partner=partner), created_at=week_ago
        )
        conversion_status_set(
            conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
        )
        conversion_factory(click=click_factory(offer=offer, partner=partner))
    CallbackDelivery.objects.filter(partner=partners[1]).update(state=CallbackDelivery.State.FAILED)
    PartnerSigningSecret.objects.create(
        partner=partners[0],
        secret="whsec_replaced",
        replaced_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=1),
    )
    ImportJob.objects.create(user=admin_user, original_name="statuses.csv")
    SignInEvent.objects.create(kind=SignInEventKind.SIGNED_IN, user=admin_user, username="admin")
    SignInEvent.objects.create(kind=SignInEventKind.SIGN_IN_FAILED, username="mallory", at=week_ago)
    for address, path, failures in (
        ("192.0.2.7", "/admin/login/", 2),
        ("192.0.2.8", "/admin/login/second-factor/", 9),
    ):
        AccessAttempt.objects.create(
            username="mallory",
            ip_address=address,
            user_agent="curl",
            path_info=path,
            failures_since_start=failures,
        )
    TOTPDevice.objects.create(user=admin_user, name="Authenticator app", confirmed=True)
    StaticToken.objects.create(
        device=StaticDevice.objects.create(user=admin_user, name="Recovery codes"),
        token="alpha234",
    )


# -- any field, on any list -----------------------------------------------------------------


def test_no_list_filters_by_a_field_its_filters_do_not_filter_by(
    admin_client, something_in_every_list
):
    # The third-party lists are walked too.
    assert {User, Group, TOTPDevice, StaticDevice, AccessAttempt} <= set(admin.site._registry)
    answered = []
    for model in admin.site._registry:
        url = changelist_url(model)
        offered = " ".join(list_links(url, admin_client.get(url).text))
        for field in model._meta.concrete_fields:
            lookup = probe(field)
            assert f"{next(iter(lookup))}=" not in offered, "a probe the page offers itself"

            response = admin_client.get(url, lookup)

            if response.status_code != 400:
                answered.append(f"{url}?{urlencode(lookup)}: {response.status_code}")
    assert answered == []


# -- the secrets, as a member of the Operators group -----------------------------------------


@pytest.fixture
def operator(django_user_model):
    """A member of the Operators group who may also view partners and authenticator apps."""
    user = django_user_model.objects.create_user("olive", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Operators"))
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_partner", "view_totpdevice"])
    )
    client = Client()
    client.force_login(user)
    return client


def first_character_asked(client: Client, url: str, lookup: str, secret: str, **also: str):
    """The list's answers to "does the secret start with its own first character" and "with
    any other"."""
    first = secret[0]
    return [
        client.get(url, {**also, lookup: pattern}) for pattern in (f"^[{first}]", f"^[^{first}]")
    ]


def test_an_operator_cannot_read_an_offers_postback_token_from_the_offer_list(
    operator, offer_factory
):
    offer = offer_factory()
    url = changelist_url(Offer)

    answers = first_character_asked(
        operator, url, "postback_secret__regex", offer.postback_secret, id__exact=str(offer.pk)
    )
    exact = operator.get(url, {"postback_secret": offer.postback_secret})

    assert [answer.status_code for answer in answers] == [400, 400]
    assert exact.status_code == 400
    assert "1 offer" not in answers[0].text
    # The list itself still answers.
    assert "1 offer" in operator.get(url).text


def test_an_operator_cannot_read_a_partners_signing_secrets_from_the_partner_list(
    operator, partner_factory
):
    partner = partner_factory()
    replaced = PartnerSigningSecret.objects.create(
        partner=partner,
        secret="whsec_old",
        replaced_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=1),
    )
    url = changelist_url(Partner)

    current = first_character_asked(
        operator, url, "signing_secret__regex", partner.signing_secret.removeprefix("whsec_")
    )
    previous = operator.get(url, {"previous_secrets__secret__startswith": replaced.secret})

    assert [answer.status_code for answer in current] == [400, 400]
    assert previous.status_code == 400


def test_an_operator_cannot_read_an_authenticator_apps_key_from_its_list(
    operator, django_user_model
):
    owner = django_user_model.objects.create_user("riley", password="pw", is_staff=True)
    device = TOTPDevice.objects.create(user=owner, name="Authenticator app", confirmed=True)
    url = changelist_url(TOTPDevice)

    answers = first_character_asked(operator, url, "key__regex", device.key)
    exact = operator.get(url, {"key__startswith": device.key[:2]})

    assert [answer.status_code for answer in answers] == [400, 400]
    assert exact.status_code == 400
    assert operator.get(url).status_code == 200


def test_a_recovery_code_cannot_be_read_from_the_recovery_code_list(admin_client, admin_user):
    device = StaticDevice.objects.create(user=admin_user, name="Recovery codes")
    StaticToken.objects.create(device=device, token="alpha234")

    response = admin_client.get(changelist_url(StaticDevice), {"token_set__token__startswith": "a"})

    assert response.status_code == 400


def test_the_conversions_export_filters_only_as_the_list_does(admin_client, conversion_factory):
    # The export builds the list's changelist: a lookup the list refuses is refused there too.
    conversion = conversion_factory()
    url = reverse("admin:conversions_conversion_export")

    refused = admin_client.post(
        f"{url}?transaction_id__regex=^{conversion.transaction_id}",
        {"format": "0", "resource": "0"},
    )
    filtered = admin_client.post(f"{url}?status__exact=pending", {"format": "0", "resource": "0"})

    assert refused.status_code == 400
    assert filtered.status_code == 200


def test_a_raw_id_popup_lists_the_choices_its_relation_allows(
    admin_client, partner_factory, monkeypatch
):
    # Given a relation to partners limited to active ones (``limit_choices_to``), whose raw-id
    # popup asks the partner list for ``is_active=1``
    partner_factory(name="Active")
    partner_factory(name="Retired", is_active=False)
    monkeypatch.setattr(Partner._meta, "related_fkey_lookups", [{"is_active": True}])
    popup = {"_to_field": "id", "_popup": "1"}

    allowed = admin_client.get(changelist_url(Partner), {**popup, "is_active": "1"})
    other_value = admin_client.get(changelist_url(Partner), {**popup, "is_active": "0"})

    assert allowed.status_code == 200
    assert "Active" in allowed.text and "Retired" not in allowed.text
    assert other_value.status_code == 400


# -- what the lists and pages offer still answers ----------------------------------------------


def test_every_filter_link_and_form_of_every_list_still_answers(
    admin_client, something_in_every_list
):
    offered: set[str] = set()
    for model in admin.site._registry:
        url = changelist_url(model)
        page = admin_client.get(url)
        assert page.status_code == 200, url
        offered |= list_links(url, page.text)
    # And each list with all its filters at once, one choice each: no filter's parameters
    # count against another's (a date hierarchy's year against a date filter's range).
    combined: dict[str, dict[str, str]] = {}
    for url in sorted(offered):
        path, _, query = url.partition("?")
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key != "p":  # a page of one list is not a page of the filtered one
                combined.setdefault(path, {}).setdefault(key, value)
    asked = sorted(offered) + [f"{path}?{urlencode(params)}" for path, params in combined.items()]

    failed = [
        f"{url}: {status}" for url in asked if (status := admin_client.get(url).status_code) != 200
    ]

    assert failed == []
    # The filters themselves were among them (not only pages and sorting).
    for made in (
        "status__exact=success",
        "offer__id__exact=",
        "callback_sent=failed",
        "created_at__gte=",
        "state__exact=failed",
        "is_active__exact=0",
        "kind__exact=signed_in",
        "at__year=",
        "locked_out=yes",
        "path_info=",
        "confirmed__exact=1",
        "groups__id__exact=",
    ):
        assert any(made in url for url in offered), made


def test_the_links_into_lists_from_the_admins_other_pages_still_answer(
    admin_client, something_in_every_list
):
    pages = [reverse("admin:index")]
    for model in admin.site._registry:
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            opts = model._meta
            pages.append(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
            )
    offered: set[str] = set()
    for url in pages:
        page = admin_client.get(url)
        assert page.status_code == 200, url
        offered |= list_links(url, page.text)

    failed = [
        f"{url}: {status}"
        for url in sorted(offered)
        if (status := admin_client.get(url).status_code) != 200
    ]

    assert failed == []
    # The overview's and the partner page's links were among them.
    assert any("callback_sent=failed" in url for url in offered)
    assert any("/callbacks/callbackdelivery/?partner__id__exact=" in url for url in offered)

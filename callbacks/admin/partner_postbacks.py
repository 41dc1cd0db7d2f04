"""A partner's templated postbacks and static header on its admin page.

- *Event postbacks*: an inline of (offer event, URL template) rows. They fire beside the
  partner's callback or global postback, never alone (``callbacks.services.callback_owed_sql``
  says why), so saving event postbacks for a partner with neither is refused, as is clearing
  both while it has event postbacks. The partner form and its inline are validated together
  before anything is saved: a bad template saves nothing.
- *Preview and test*: the page shows each template filled for a recent conversion
  (``callbacks.postback_preview``) and a button per template that sends it now filled with the
  macros' example values (``callbacks.probe.partner_test_postback_send``), answered on the page.
- *Static header*: its value is typed once, encrypted at rest, shown in full once on the page
  after the save that set it (carried in the server-side session, popped when shown), then
  only masked; it is never logged and no list searches it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, path

from callbacks.admin.partner_operations import PartnerOperationViews
from callbacks.admin.partner_secret import signing_secret_mask
from callbacks.models import Partner, PartnerEventPostback
from callbacks.postback_macros import MACROS
from callbacks.probe import partner_test_postback_send
from conversions.models import OfferEvent

EVENT_POSTBACK_ALONE = (
    "Event postbacks fire beside the partner's JSON callback or global postback: set a "
    "callback URL or a global postback URL too."
)


def static_header_masked(partner: Partner) -> str:
    """``X-Api-Token: ab…yz``, or "—" without a header."""
    if not partner.static_header_name:
        return "—"
    return f"{partner.static_header_name}: {signing_secret_mask(partner.static_header_value)}"


def _reveal_key(partner_id: int) -> str:
    return f"gk-static-header-{partner_id}"


def static_header_reveal_once(request: HttpRequest, partner_id: int) -> str | None:
    """The value set by the last save, once (popped from the session), else None."""
    value: str | None = request.session.pop(_reveal_key(partner_id), None)
    return value


def static_header_remember(request: HttpRequest, partner: Partner) -> None:
    """Keep a value just set for its one showing (``static_header_reveal_once``)."""
    request.session[_reveal_key(partner.pk)] = partner.static_header_value


def macros_help() -> str:
    return "Macros: " + ", ".join(f"{{{macro.name}}}" for macro in MACROS) + "."


class EventPostbackFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        partner: Partner = self.instance
        kept = [
            form
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("url_template")
        ]
        if kept and not (partner.callback_url or partner.postback_url):
            raise ValidationError(EVENT_POSTBACK_ALONE)


class _OfferEventChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.offer.name} — {obj.name} ({obj.code})"


class EventPostbackInline(admin.TabularInline):
    model = PartnerEventPostback
    formset = EventPostbackFormSet
    fields = ["offer_event", "url_template"]
    extra = 0
    verbose_name = "event postback"
    verbose_name_plural = "event postbacks (per offer event, fired beside the others)"

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "offer_event":
            return _OfferEventChoice(
                queryset=OfferEvent.objects.select_related("offer").order_by("offer__name", "name"),
                label="offer event",
            )
        if db_field.name == "url_template":
            kwargs["widget"] = forms.TextInput(attrs={"class": "vLargeTextField gk-template"})
            kwargs["help_text"] = macros_help()
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class PartnerPostbackViews(PartnerOperationViews):
    """Mixed into ``PartnerAdmin``: the test postback button's view, and the static header's
    one showing after the save that set it (the save goes back to the partner's page)."""

    def save_model(self, request: HttpRequest, obj: Partner, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if getattr(form, "static_header_set", False):
            static_header_remember(request, obj)
            request._gk_static_header_set = True  # type: ignore[attr-defined]

    def response_change(self, request: HttpRequest, obj: Partner) -> HttpResponse:
        if getattr(request, "_gk_static_header_set", False) and "_popup" not in request.POST:
            self.message_user(
                request, f"The {obj.static_header_name} header's value is shown below, this once."
            )
            return self._back(obj)
        return super().response_change(request, obj)

    def postback_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/test-postback/",
                self.admin_site.admin_view(self.test_postback_view),
                name="callbacks_partner_test_postback",
            )
        ]

    def test_postback_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        partner = self._posted_partner(request, object_id)
        which = request.POST.get("which", "")
        if which == "global":
            template = partner.postback_url
        else:
            event_id = int(which) if which.isdigit() else 0
            event_postback = partner.event_postbacks.filter(pk=event_id).first()
            template = event_postback.url_template if event_postback else ""
        back = self._back(partner)
        if not template:
            self.message_user(request, "No such postback on this partner.", messages.ERROR)
            return back
        result = partner_test_postback_send(partner_id=partner.pk, template=template)
        self.probe_result_tell(request, what="Test postback", result=result)
        return back

"""The offer page's test conversion tool (``conversions.test_conversions``): a form under the
tracking section, and the view it posts to, which records the test through the public
endpoints and opens the conversion's page, where its callbacks and postbacks show as they go
out and one button rejects it.

Needs "Can change offer" and "Can change the status of conversions" (a test records a
conversion with money, and its page's button rejects it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from conversions.admin.status_changes import STATUS_PERMISSION
from conversions.amounts import money
from conversions.models import Offer, Status
from conversions.test_conversions import (
    PostbackUnanswered,
    RecordingRefused,
    conversion_test_record,
)

TEST_PERMISSION_NEEDED = (
    "Recording a test conversion needs the permissions “Can change offer” and “Can change the "
    "status of conversions”."
)
DEFAULT_MEMBER_ID = "qa-test"

if TYPE_CHECKING:
    _MixinBase = admin.ModelAdmin[Offer]
else:
    _MixinBase = object


class ConversionTestForm(forms.Form):
    partner = forms.IntegerField(min_value=1, max_value=2**63 - 1)

    def __init__(self, *args: Any, offer: Offer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The tracking parameters' bound, as the click endpoint reads it now.
        self.fields["member_id"] = forms.CharField(
            required=False, max_length=settings.TRACKING_MAX_PARAM_LENGTH
        )
        codes = offer.events.order_by("pk").values_list("code", flat=True)
        self.fields["event"] = forms.ChoiceField(choices=[(code, code) for code in codes])


class OfferTestConversionViews(_MixinBase):
    """Mixed into ``OfferAdmin``: the test conversion's URL, view and the form's context."""

    def has_test_conversion_permission(self, request: HttpRequest, offer: Offer) -> bool:
        return self.has_change_permission(request, offer) and request.user.has_perm(
            STATUS_PERMISSION
        )

    def test_conversion_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:object_id>/test-conversion/",
                self.admin_site.admin_view(self.test_conversion_view),
                name="conversions_offer_test_conversion",
            )
        ]

    def test_conversion_context(self, request: HttpRequest, offer: Offer) -> dict[str, Any]:
        """The form's URL and events, for who may record a test (else nothing)."""
        if not self.has_test_conversion_permission(request, offer):
            return {}
        events = offer.events.order_by("pk").values_list("code", "name", "payout")
        return {
            "test_conversion_url": reverse(
                "admin:conversions_offer_test_conversion", args=[offer.pk]
            ),
            "test_events": [
                (code, name, money(payout, offer.currency)) for code, name, payout in events
            ],
            "test_member_id": DEFAULT_MEMBER_ID,
        }

    def test_conversion_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """POST: record a test conversion, then open its page; the offer's page otherwise."""
        offer = get_object_or_404(Offer, pk=object_id)
        if not self.has_test_conversion_permission(request, offer):
            raise PermissionDenied(TEST_PERMISSION_NEEDED)
        back = reverse("admin:conversions_offer_change", args=[offer.pk]) + "#gk-test-conversion"
        if request.method != "POST":
            return HttpResponseRedirect(back)
        form = ConversionTestForm(request.POST, offer=offer)
        if not form.is_valid():
            problems = "; ".join(
                f"{name.replace('_', ' ')}: {' '.join(str(error) for error in errors)}"
                for name, errors in form.errors.items()
            )
            self.message_user(request, f"No test recorded: {problems}", messages.ERROR)
            return HttpResponseRedirect(back)
        event = offer.events.get(code=form.cleaned_data["event"])
        base_url = settings.TRACKING_PUBLIC_URL or request.build_absolute_uri("/")
        try:
            recorded = conversion_test_record(
                offer=offer,
                partner_id=form.cleaned_data["partner"],
                member_id=form.cleaned_data["member_id"],
                event=event,
                base_url=base_url,
                user=request.user,
            )
        except PostbackUnanswered as error:
            self.message_user(request, f"Test outcome unknown. {error}", messages.WARNING)
            return HttpResponseRedirect(back)
        except RecordingRefused as error:
            self.message_user(request, f"No test recorded. {error}", messages.ERROR)
            return HttpResponseRedirect(back)
        self.message_user(
            request,
            format_html(
                "Test conversion {} recorded through /click/ and /postback/ (status {}). Its "
                "callbacks and postbacks show below as they go out.",
                recorded.conversion_id,
                Status(recorded.status).label,
            ),
        )
        return HttpResponseRedirect(
            reverse("admin:conversions_conversion_change", args=[recorded.conversion_id])
        )

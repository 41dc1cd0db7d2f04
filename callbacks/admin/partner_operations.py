"""A partner's callbacks in operation, from its admin page: pause and resume, a test callback,
and replaying a time range (each a POST, answered with a redirect and a message)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode

from callbacks.admin.delivery_display import plural
from callbacks.admin.resending import RESEND_PERMISSION
from callbacks.models import Partner
from callbacks.pausing import partner_pause, partner_resume
from callbacks.probe import ProbeResult, partner_test_callback_send
from callbacks.replay import REPLAYABLE, ReplaySelection


class ReplayRangeForm(forms.Form):
    """The partner page's replay: which callbacks, owed in which time range."""

    states = forms.ChoiceField(
        label="Callbacks",
        choices=[("failed", "Failed"), ("delivered", "Delivered"), ("", "Failed and delivered")],
        required=False,
        initial="failed",
    )
    created_from = forms.DateTimeField(
        label="Owed from", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    created_before = forms.DateTimeField(
        label="before", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        start, end = cleaned.get("created_from"), cleaned.get("created_before")
        if start and end and end <= start:
            raise forms.ValidationError("The end of the range must be after its start.")
        return cleaned


class PartnerOperationViews(admin.ModelAdmin):
    """Mixed into ``PartnerAdmin`` first: pause, resume, test callback, replay a range."""

    def operation_urls(self) -> list[URLPattern]:
        views = {
            "pause": self.pause_view,
            "resume": self.resume_view,
            "test-callback": self.test_callback_view,
            "replay": self.replay_range_view,
        }
        return [
            path(
                f"<path:object_id>/{name}/",
                self.admin_site.admin_view(view),
                name=f"callbacks_partner_{name.replace('-', '_')}",
            )
            for name, view in views.items()
        ]

    def _posted_partner(self, request: HttpRequest, object_id: str) -> Partner:
        partner = get_object_or_404(Partner, pk=object_id if object_id.isdigit() else None)
        if not self.has_change_permission(request, partner):
            raise PermissionDenied
        return partner

    def _back(self, partner: Partner) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:callbacks_partner_change", args=[partner.pk]))

    def pause_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        partner = self._posted_partner(request, object_id)
        reason = request.POST.get("reason", "").strip() or "Paused by hand."
        if partner_pause(
            partner_id=partner.pk, reason=f"{reason} ({request.user})", user=request.user
        ):
            self.log_change(request, partner, f"Paused callbacks: {reason}")
            self.message_user(
                request,
                f"Callbacks to {partner} are paused: due ones are held, nothing is lost.",
                messages.WARNING,
            )
        else:
            self.message_user(request, f"{partner} was already paused.", messages.INFO)
        return self._back(partner)

    def resume_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        partner = self._posted_partner(request, object_id)
        if partner.paused_at is None:
            self.message_user(request, f"{partner} was not paused.", messages.INFO)
            return self._back(partner)
        resumed = partner_resume(partner_id=partner.pk, user=request.user)
        self.log_change(request, partner, "Resumed callbacks.")
        self.message_user(
            request,
            f"Callbacks to {partner} resumed: {plural(resumed, 'held callback')} going out now, "
            "in each conversion's order.",
        )
        return self._back(partner)

    def test_callback_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        partner = self._posted_partner(request, object_id)
        result = partner_test_callback_send(partner_id=partner.pk)
        self.probe_result_tell(request, what="Test callback", result=result)
        return self._back(partner)

    def probe_result_tell(self, request: HttpRequest, *, what: str, result: ProbeResult) -> None:
        """What a test send was answered, as a message on the partner's page."""
        timing = f" in {result.duration_ms:,} ms" if result.duration_ms is not None else ""
        if result.status is None:
            self.message_user(
                request, f"{what} to {result.url or '—'}: {result.error}", messages.ERROR
            )
            return
        excerpt = result.body_excerpt.strip() or "(empty body)"
        self.message_user(
            request,
            f"{what} to {result.url}: HTTP {result.status}{timing}. Answer: {excerpt}",
            messages.SUCCESS if result.ok else messages.ERROR,
        )

    def replay_range_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The range form, on to the deliveries' replay confirmation with its filter."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        partner = self._posted_partner(request, object_id)
        if not request.user.has_perm(RESEND_PERMISSION):
            raise PermissionDenied
        form = ReplayRangeForm(request.POST)
        if not form.is_valid():
            errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
            self.message_user(request, f"Replay: {errors}", messages.ERROR)
            return self._back(partner)
        states = form.cleaned_data["states"]
        selection = ReplaySelection(
            partner_id=partner.pk,
            states=(states,) if states else REPLAYABLE,
            created_from=form.cleaned_data["created_from"],
            created_before=form.cleaned_data["created_before"],
        )
        return HttpResponseRedirect(
            reverse("admin:callbacks_callbackdelivery_replay")
            + "?"
            + urlencode(selection.to_params())
        )

"""Changing statuses from Conversion Management: the row buttons, the conversion page's buttons
and the "Set status of selected conversions" action, each with a confirmation page.

Every change goes through the change-set engine's selection source
(``conversions.change_sets.selection``) with the acting user and the reason typed on the
confirmation page: applied at once with ``source=admin``, or, when it needs a second person's
approval (``conversions.change_sets.approval``, the same rule as every bulk change), staged as a
job that waits on its page. Needs the permission ``conversions.change_conversion_status`` (with
view permission on conversions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import SafeString, mark_safe

from conversions.admin.display import plural, status_badge
from conversions.amounts import money
from conversions.change_sets.approval import change_set_approval_reason
from conversions.change_sets.money import ChangeSetMoney, conversions_status_money
from conversions.change_sets.selection import selection_status_set
from conversions.models import Conversion, Status
from conversions.selectors import conversion_status_counts
from conversions.services import StatusChangeResult

STATUS_PERMISSION = "conversions.change_conversion_status"
STATUS_PERMISSION_NEEDED = (
    "Changing the status of a conversion needs the permission "
    "“Can change the status of conversions” (conversions.change_conversion_status)."
)

# The "set status" action refuses larger selections: a change that big belongs in a bulk
# import, with its preview of what will change.
ACTION_MAX_CONVERSIONS = 10_000


REASON_FIELD = forms.CharField(
    required=False,
    max_length=1000,
    widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    help_text="Optional. Kept in the status history and sent to the partner as the "
    "rejection reason on Rejected.",
)


class StatusReasonForm(forms.Form):
    """The confirmation of one conversion's new status (the status is in the URL)."""

    reason = REASON_FIELD


class StatusActionForm(forms.Form):
    """The confirmation page of the "Set status of selected conversions" action."""

    status = forms.ChoiceField(choices=Status.choices, widget=forms.RadioSelect, label="New status")
    reason = REASON_FIELD


if TYPE_CHECKING:
    _MixinBase = admin.ModelAdmin[Conversion]
else:
    _MixinBase = object


class ConversionStatusChangeMixin(_MixinBase):
    """Mixed into ``ConversionAdmin``: the status buttons, their confirmation page and the
    action (listed in the admin's ``actions``). Cooperative: it calls ``super()`` and adds a
    column and a URL."""

    def has_change_status_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(STATUS_PERMISSION)

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        columns = list(super().get_list_display(request))
        if self.has_change_status_permission(request):
            columns.append(self._set_status_column(next_url=request.get_full_path()))
        return columns

    @staticmethod
    def _set_status_column(*, next_url: str) -> Callable[[Conversion], SafeString]:
        """The row buttons: a link per other status, each to a confirmation page."""
        # Built once per page: each row picks the two buttons of the statuses it does not have
        # (format_html per button cost 0.06 ms, 12 ms a page). Every part is a constant, a
        # reversed URL or urlencoded, so nothing here needs escaping.
        changelist = reverse("admin:conversions_conversion_changelist")
        back = urlencode({"next": next_url})
        buttons = {
            value: (
                f'<a class="button gk-set gk-set-{value}" href="{changelist}{{pk}}/status/{value}/'
                f'?{back}">{label}</a>'
            )
            for value, label in Status.choices
        }

        @admin.display(description="set status")
        def set_status(obj: Conversion) -> SafeString:
            pk = int(obj.pk)
            return mark_safe(  # noqa: S308 -- see above
                " ".join(
                    button.replace("{pk}", str(pk))
                    for value, button in buttons.items()
                    if value != obj.status
                )
            )

        return set_status

    # -- one conversion: the row and change-page buttons ------------------------------------
    def get_urls(self) -> list[URLPattern]:
        status_urls = [
            path(
                "<int:object_id>/status/<str:status>/",
                self.admin_site.admin_view(self.status_view),
                name="conversions_conversion_status",
            ),
        ]
        return status_urls + super().get_urls()

    def status_view(self, request: HttpRequest, object_id: int, status: str) -> HttpResponse:
        """GET: confirm setting one conversion's status, with a reason. POST: set it."""
        if not self.has_change_status_permission(request):
            raise PermissionDenied(STATUS_PERMISSION_NEEDED)
        if status not in Status.values:
            raise Http404(f"Unknown status {status!r}.")
        conversion = get_object_or_404(
            Conversion.objects.select_related("click", "offer", "offer_event", "partner"),
            pk=object_id,
        )
        next_url = self._next_url(request)
        form = StatusReasonForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            outcome = selection_status_set(
                conversion_ids=[conversion.pk],
                status=status,
                user=request.user,
                reason=form.cleaned_data["reason"],
                single=True,
            )
            label = Status(status).label
            if outcome.waiting:
                return self._waiting_for_approval(request, outcome.job)
            if outcome.result.changed:
                self.message_user(request, f"Conversion {conversion.pk} set to {label}.")
            else:
                self.message_user(
                    request, f"Conversion {conversion.pk} was already {label}.", messages.WARNING
                )
            return HttpResponseRedirect(next_url)
        change_set = conversions_status_money(conversion_ids=[conversion.pk], status=status)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Set conversion {conversion.pk} to {Status(status).label}?",
            "opts": self.opts,
            "media": self.media,
            "conversion": conversion,
            "status": status,
            "status_label": Status(status).label,
            "current_badge": status_badge(conversion.status),
            "new_badge": status_badge(status),
            "payout": money(conversion.payout, conversion.offer.currency),
            "money": change_set,
            "approval": _approval_preview(request.user, change_set),
            "form": form,
            "next_url": next_url,
        }
        return TemplateResponse(
            request, "admin/conversions/conversion/status_confirmation.html", context
        )

    def _action_applied(
        self, request: HttpRequest, ids: list[int], data: dict[str, Any]
    ) -> HttpResponse | None:
        """The action's last step: the change made (and its job linked), or staged to wait."""
        status = data["status"]
        outcome = selection_status_set(
            conversion_ids=ids, status=status, user=request.user, reason=data["reason"]
        )
        job = outcome.job
        if outcome.waiting:
            return self._waiting_for_approval(request, job)
        message = _action_message(outcome.result, selected=len(ids), status=status)
        if job is not None:
            message = format_html(
                '{} <a href="{}">Job {}</a> records it (and can revert it).',
                message,
                reverse("admin:conversions_importjob_change", args=[job.pk]),
                job.pk,
            )
        self.message_user(request, message)
        return None

    def _waiting_for_approval(self, request: HttpRequest, job: Any) -> HttpResponse:
        """A change that needs a second person: say so, and show the job that waits."""
        self.message_user(
            request,
            f"Nothing changed yet: this change needs a second person's approval "
            f"({job.approval_reason}). Job {job.pk} waits on its page for another user allowed "
            "to approve large status changes.",
            messages.WARNING,
        )
        return HttpResponseRedirect(reverse("admin:conversions_importjob_change", args=[job.pk]))

    def _next_url(self, request: HttpRequest) -> str:
        next_url = request.POST.get("next") or request.GET.get("next") or ""
        if next_url and url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return next_url
        return reverse("admin:conversions_conversion_changelist")

    # -- many conversions: the changelist action --------------------------------------------
    @admin.action(description="Set status of selected conversions", permissions=["change_status"])
    def set_status_action(
        self, request: HttpRequest, queryset: QuerySet[Conversion]
    ) -> HttpResponse | None:
        """First POST: the new status and a reason. Its POST ("preview"): what the change moves,
        to confirm. That POST ("apply"): set it, recorded as a job that can be reverted; or, when
        it needs a second person's approval, staged as a job that waits for one on its page."""
        ids = list(queryset.order_by().values_list("pk", flat=True)[: ACTION_MAX_CONVERSIONS + 1])
        if len(ids) > ACTION_MAX_CONVERSIONS:
            self.message_user(
                request,
                f"More than {ACTION_MAX_CONVERSIONS:,} conversions selected: narrow the filter, "
                "or use Import to change them in bulk with a preview.",
                messages.ERROR,
            )
            return None
        bound = "apply" in request.POST or "preview" in request.POST
        form = StatusActionForm(request.POST if bound else None)
        change_set = None
        if form.is_valid():
            if "apply" in request.POST:
                # The selection source prices the change itself, under the approval lock.
                return self._action_applied(request, ids, form.cleaned_data)
            status = form.cleaned_data["status"]
            change_set = conversions_status_money(conversion_ids=ids, status=status)
        context = {
            **self.admin_site.each_context(request),
            "title": "Set the status of the selected conversions",
            "opts": self.opts,
            "media": self.media,
            "count": len(ids),
            "count_label": plural(len(ids)),
            "statuses": _status_counts(ids),
            "form": form,
            "money": change_set,
            "approval": _approval_preview(request.user, change_set) if change_set else "",
            "status_label": Status(form.cleaned_data["status"]).label if change_set else "",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            # Posted back as they came: the selected rows of the page, or "all matching the
            # filters" (select_across), which the list's query string still carries.
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
        }
        return TemplateResponse(
            request, "admin/conversions/conversion/status_action_confirmation.html", context
        )


def _approval_preview(user: Any, money: ChangeSetMoney) -> str:
    """Whether the change would need a second person (as the engine decides it on confirm)."""
    changing = sum(line.conversions for line in money.transitions)
    return change_set_approval_reason(user=user, conversions=changing, money=money)


def status_url(conversion_id: int, status: str, *, next_url: str) -> str:
    """The confirmation page that sets one conversion's status, returning to ``next_url``."""
    url = reverse("admin:conversions_conversion_status", args=[conversion_id, status])
    return f"{url}?{urlencode({'next': next_url})}"


def _status_counts(ids: list[int]) -> list[tuple[SafeString, int]]:
    """How many of the selected conversions are in each status now (for the confirmation)."""
    counts = conversion_status_counts(conversion_ids=ids)
    return [(status_badge(value), count) for value, count in counts.items()]


def _action_message(result: StatusChangeResult, *, selected: int, status: str) -> str:
    label = Status(status).label
    unchanged = selected - result.changed
    message = f"{plural(result.changed)} set to {label}."
    if unchanged:
        message += f" {plural(unchanged)} already {label}, left as is."
    return message

"""Partners' callback settings and the callback outbox."""

import base64
import secrets
import uuid

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q

from callbacks.postback_macros import (
    POSTBACK_TEMPLATE_MAX_LENGTH,
    header_name_validate,
    header_value_validate,
    postback_template_validate,
)
from gokart.encryption import EncryptedTextField
from gokart.secret_rotation import ReplacedSecret

callback_url_validator = URLValidator(
    schemes=["http", "https"], message="Enter an http:// or https:// URL."
)


def signing_secret_generate() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Partner(models.Model):
    """A publisher: sends traffic, receives a callback per status change, rewards its users."""

    class SequenceNumber(models.TextChoices):
        """What the JSON callback's ``sequenceNumber`` carries (``callbacks.callback_fields``)."""

        STATUS_CHANGE = "status_change", "The conversion's status-change counter (1, 2, 3…)"
        EVENT_ORDER = "event_order", "GoKart's: the event's place in a multi-event offer"

    name = models.CharField(max_length=200)
    is_active = models.BooleanField("active", default=True)
    callback_url = models.URLField(
        max_length=2000,
        blank=True,
        validators=[callback_url_validator],
        help_text="http(s) URL that receives the callbacks.",
    )
    # The current secret; the ones it replaced sign too until their own expiry
    # (PartnerSigningSecret). Encrypted at rest (gokart.encryption).
    signing_secret = EncryptedTextField(default=signing_secret_generate)
    # A templated postback fired beside the JSON callback for every change owed
    # (``callbacks.postback_macros``); event postbacks are ``PartnerEventPostback``.
    postback_url = models.CharField(
        "global postback URL",
        max_length=POSTBACK_TEMPLATE_MAX_LENGTH,
        blank=True,
        db_default="",
        default="",
        validators=[postback_template_validate],
    )
    # A header of the partner's choosing sent with every callback and postback (e.g.
    # X-Api-Token); its value is a secret: encrypted at rest, shown once, never logged.
    static_header_name = models.CharField(
        max_length=100, blank=True, db_default="", default="", validators=[header_name_validate]
    )
    static_header_value = EncryptedTextField(
        blank=True, db_default="", default="", validators=[header_value_validate]
    )
    # Partners have ordered our callbacks by sequenceNumber since the first release: it keeps
    # that meaning unless the partner is set to GoKart's (statusChangeNumber is sent either way).
    sequence_number = models.CharField(
        "callbacks' sequenceNumber",
        max_length=16,
        choices=SequenceNumber.choices,
        default=SequenceNumber.STATUS_CHANGE,
        db_default=SequenceNumber.STATUS_CHANGE,
    )
    pending_callbacks_enabled = models.BooleanField("Pending callbacks", default=False)
    rejected_callbacks_enabled = models.BooleanField("Rejected callbacks", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Paused: its deliveries are held (not attempted, their retry window stopped) until resumed.
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.TextField(blank=True, db_default="")
    # The current run of failed attempts (reset by any delivered one): what auto-pause reads.
    failing_since = models.DateTimeField(null=True, blank=True)
    failed_attempts_in_a_row = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse a URL whose host is a non-public IP address now; host names are checked
        when each callback connects (``callbacks.network``), where DNS cannot fool the check."""
        from callbacks.network import callback_url_literal_refusal

        refusal = callback_url_literal_refusal(self.callback_url)
        if refusal:
            raise ValidationError({"callback_url": refusal})
        if self.static_header_name and not self.static_header_value:
            raise ValidationError({"static_header_name": "Enter the header's value too."})


class PartnerEventPostback(models.Model):
    """A partner's templated postback for one offer event: fired beside the global one (if
    any) for each change of a conversion of that event that owes the partner a callback."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="event_postbacks")
    offer_event = models.ForeignKey(
        "conversions.OfferEvent", on_delete=models.CASCADE, related_name="+"
    )
    url_template = models.CharField(
        "postback URL",
        max_length=POSTBACK_TEMPLATE_MAX_LENGTH,
        validators=[postback_template_validate],
    )

    class Meta:
        ordering = ["partner_id", "offer_event_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "offer_event"], name="partner_event_postback_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}: event {self.offer_event_id}"


class PartnerSigningSecret(ReplacedSecret):
    """A secret a partner's callbacks were signed with before a rotation: it keeps signing,
    alongside the current one, until its own ``expires_at`` (``gokart.secret_rotation``)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="previous_secrets")
    secret = EncryptedTextField()

    class Meta:
        ordering = ["partner_id", "-expires_at"]
        indexes = [models.Index(fields=["partner", "expires_at"], name="partner_secret_expiry")]

    def __str__(self) -> str:
        return f"{self.partner_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class CallbackDelivery(models.Model):
    """One callback owed to a partner for one status change (the outbox row).

    Its id is the callback's ``id``/``webhook-id``: the same on every attempt.
    """

    class State(models.TextChoices):
        # Stored values are the outbox's; the labels are delivery words, apart from the
        # conversion statuses (a pending delivery with attempts behind it reads "Retrying").
        PENDING = "pending", "Due"
        HELD = "held", "Held (partner paused)"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        # What is sent: the signed JSON POST, or a templated postback (a GET of the partner's
        # URL with the macros filled), global or for the conversion's offer event.
        CALLBACK = "callback", "JSON callback"
        POSTBACK = "postback", "Global postback"
        EVENT_POSTBACK = "event_postback", "Event postback"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(
        max_length=16, choices=Kind.choices, default=Kind.CALLBACK, db_default=Kind.CALLBACK
    )
    # The status change and the keys below are written with the change, in the statement (bulk)
    # or transaction that makes it; Django enforces CASCADE/PROTECT itself. No per-row check at
    # commit for bulk imports. The unique index stays: at most one delivery of each kind per
    # change (delivery_status_change_kind).
    status_change = models.ForeignKey(
        "conversions.StatusChange",
        on_delete=models.CASCADE,
        related_name="callback_deliveries",
        db_constraint=False,
        db_index=False,
    )
    conversion = models.ForeignKey(
        "conversions.Conversion",
        on_delete=models.CASCADE,
        # Conversion Management's "Callback sent" filter joins a conversion's deliveries.
        related_name="callback_deliveries",
        db_index=False,
        db_constraint=False,
    )
    partner = models.ForeignKey(
        Partner,
        on_delete=models.PROTECT,
        related_name="deliveries",
        db_index=False,
        db_constraint=False,
    )
    sequence_number = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Due when pending and this has passed. A claim moves it to the end of the claim's lease,
    # so a delivery whose worker died is simply due again when the lease runs out.
    next_attempt_at = models.DateTimeField()
    # Set while a worker holds the delivery (it is being sent); cleared with the outcome.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Start of the current run of failed attempts: retries stop CALLBACK_RETRY_FOR after it.
    retrying_since = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(null=True, blank=True)
    last_response_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "callback deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["status_change", "kind"], name="delivery_status_change_kind"
            )
        ]
        indexes = [
            models.Index(fields=["conversion", "sequence_number"], name="delivery_conversion_seq"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="delivery_due",
            ),
            models.Index(fields=["state", "-created_at"], name="delivery_state_created"),
            # The deliveries page: newest first, unfiltered or by partner.
            models.Index(fields=["-created_at"], name="delivery_created"),
            models.Index(fields=["partner", "-created_at"], name="delivery_partner_created"),
            # Partner health: backlog and oldest due; held ones on resume; Failed counts.
            models.Index(
                fields=["partner", "next_attempt_at"],
                # Index-only: backlog, held and retrying counts and the oldest owed.
                include=["state", "attempts", "created_at"],
                condition=Q(state__in=["pending", "held"]),
                name="delivery_partner_backlog",
            ),
            models.Index(
                fields=["partner", "created_at"],
                condition=Q(state="failed"),
                name="delivery_partner_failed",
            ),
            # "Callback sent = Failed": the failed ones newest conversion first, index-only
            # (it holds only the rare failed rows, so the outbox's inserts never touch it).
            models.Index(
                fields=["conversion", "sequence_number"],
                condition=Q(state="failed"),
                name="delivery_failed_conversion",
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)


class CallbackAttempt(models.Model):
    """One try at sending a delivery: where it went, what was answered, how long it took."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        RETRY = "retry", "Failed, retried"
        FAILED = "failed", "Failed"

    delivery = models.ForeignKey(
        CallbackDelivery, on_delete=models.CASCADE, related_name="attempt_set"
    )
    # Denormalised from the delivery so partner health reads one index range.
    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="+", null=True, db_constraint=False
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True, db_default="")
    url = models.CharField("sent to", max_length=2000, blank=True, db_default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]
        indexes = [
            # Health and metrics: a partner's attempts by outcome in a time range, index-only.
            models.Index(
                fields=["partner", "outcome", "started_at"],
                include=["duration_ms"],
                name="attempt_partner_outcome",
            ),
            models.Index(fields=["started_at"], name="attempt_started"),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}"

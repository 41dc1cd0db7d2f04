"""Offers, clicks, conversions and their audited status changes."""

import secrets
import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from conversions.currencies import currency_code_check
from gokart.encryption import TokenDigestField
from gokart.secret_rotation import ReplacedSecret


def postback_secret_generate() -> str:
    return secrets.token_urlsafe(24)


def gk_click_id_generate() -> str:
    return uuid.uuid4().hex


class Offer(models.Model):
    class RewardingMode(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic"
        MANUAL = "manual", "Manual"

    name = models.CharField(max_length=200)
    advertiser = models.CharField(max_length=200)
    is_active = models.BooleanField("active", default=True)
    rewarding_mode = models.CharField(
        max_length=16, choices=RewardingMode.choices, default=RewardingMode.AUTOMATIC
    )
    pending_time = models.DurationField(
        null=True,
        blank=True,
        help_text="Automatic offers only: keep new conversions Pending this long, then Success.",
    )
    # Stored as a digest (gokart.encryption.token_digest): the token itself is in memory only,
    # on the instance that generated it, to be shown once.
    postback_secret = TokenDigestField(max_length=80, default=postback_secret_generate)
    attribution_window = models.DurationField(default=timedelta(days=30))
    currency = models.CharField(
        max_length=3,
        default="USD",
        validators=[currency_code_check],
        help_text="An ISO 4217 code (USD, EUR, JPY): the approval thresholds are kept by it.",
    )
    landing_url = models.URLField(
        max_length=2000,
        help_text=(
            "Where a click is sent. These macros are filled, URL-encoded: {gk_click_id}, "
            "{gk_offer_id}, {gk_offer_name}, {pub_member_id}, {pub_click_id}."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ReplacedPostbackToken(ReplacedSecret):
    """A postback token an offer had before a rotation: postbacks with it are still accepted,
    alongside the offer's current token, until its own ``expires_at``
    (``gokart.secret_rotation``)."""

    # Indexed by the (offer, expires_at) index below.
    offer = models.ForeignKey(
        Offer, on_delete=models.CASCADE, related_name="replaced_tokens", db_index=False
    )
    token = TokenDigestField(max_length=80)

    class Meta:
        ordering = ["offer_id", "-expires_at"]
        # Only ever written by a rotation: no permission of its own to offer.
        default_permissions = ()
        indexes = [
            # A postback's look-up of the offer's tokens still accepted.
            models.Index(fields=["offer", "expires_at"], name="replaced_token_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class OfferEvent(models.Model):
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="events")
    code = models.SlugField(max_length=64, help_text="The `event` value postbacks send.")
    name = models.CharField(max_length=200)
    payout = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("0"))
    revenue = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("0"))

    class Meta:
        ordering = ["offer_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["offer", "code"], name="offerevent_unique_code"),
        ]

    def __str__(self) -> str:
        return f"{self.offer.name}: {self.name}"


def _tracked_text(verbose_name: str) -> models.CharField:
    """A parameter a click or postback may carry: "" when not sent, a database default too, so
    the column is added without rewriting the table and older code can still insert."""
    return models.CharField(verbose_name, max_length=255, blank=True, default="", db_default="")


class Click(models.Model):
    """A partner's click on an offer. ``sub_id`` is GoKart's ``pub_member_id`` (``sub`` is its
    alias); ``pub_click_id`` and ``pub_sub_1`` … ``pub_sub_15`` are the partner's own values,
    stored as sent and returned in its callbacks."""

    gk_click_id = models.CharField(
        "gk_click_id", max_length=64, unique=True, default=gk_click_id_generate
    )
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="clicks")
    partner = models.ForeignKey(
        "callbacks.Partner", on_delete=models.PROTECT, related_name="clicks"
    )
    sub_id = models.CharField("partner's user/sub id", max_length=255, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    pub_click_id = _tracked_text("partner's click id")
    pub_sub_1 = _tracked_text("pub_sub_1")
    pub_sub_2 = _tracked_text("pub_sub_2")
    pub_sub_3 = _tracked_text("pub_sub_3")
    pub_sub_4 = _tracked_text("pub_sub_4")
    pub_sub_5 = _tracked_text("pub_sub_5")
    pub_sub_6 = _tracked_text("pub_sub_6")
    pub_sub_7 = _tracked_text("pub_sub_7")
    pub_sub_8 = _tracked_text("pub_sub_8")
    pub_sub_9 = _tracked_text("pub_sub_9")
    pub_sub_10 = _tracked_text("pub_sub_10")
    pub_sub_11 = _tracked_text("pub_sub_11")
    pub_sub_12 = _tracked_text("pub_sub_12")
    pub_sub_13 = _tracked_text("pub_sub_13")
    pub_sub_14 = _tracked_text("pub_sub_14")
    pub_sub_15 = _tracked_text("pub_sub_15")
    # Made by the offer page's test conversion tool (``conversions.test_conversions``), through
    # the public /click/ with a ticket only the admin signs: the mark of its conversions.
    is_test = models.BooleanField("test click", default=False, db_default=False, editable=False)

    class Meta:
        # Clicks are tracked data: looked at, never added, edited or deleted by hand.
        default_permissions = ("view",)
        indexes = [
            # Conversion Management's search by the partner's user/sub id.
            models.Index(fields=["sub_id"], name="click_sub_id"),
            # The few test clicks, for the list's "test conversions" filter and the overview.
            models.Index(fields=["id"], name="click_test", condition=models.Q(is_test=True)),
        ]

    def __str__(self) -> str:
        return self.gk_click_id


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCESS = "success", "Success"
    REJECTED = "rejected", "Rejected"


class Source(models.TextChoices):
    POSTBACK = "postback", "Postback"
    ADMIN = "admin", "Admin"
    BULK_IMPORT = "bulk_import", "Bulk import"
    REVERT = "revert", "Revert"
    PENDING_TIME = "pending_time", "Pending time elapsed"
    # A change made with a Management API key (``api``): as its user, the key named in the
    # reason of a single change and in the name of a bulk change set's job.
    API = "api", "Management API"
    # A conversion that tracking missed, recorded from an uploaded file (a ``conversion
    # upload`` job): its first status, as a postback's would be.
    MANUAL_UPLOAD = "manual_upload", "Manual upload"


class Conversion(models.Model):
    """One conversion event of a click. Its id is the report's "Conversion Event ID"."""

    # Indexed by the (click, offer_event) constraint below: one index less to write per update.
    click = models.ForeignKey(
        Click, on_delete=models.PROTECT, related_name="conversions", db_index=False
    )
    offer_event = models.ForeignKey(OfferEvent, on_delete=models.PROTECT, related_name="+")
    # Denormalised from the click so that the admin filters by offer and partner on one index.
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="+", db_index=False)
    partner = models.ForeignKey(
        "callbacks.Partner", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    status_reason = models.TextField(blank=True)
    status_source = models.CharField(max_length=16, choices=Source.choices)
    status_changed_at = models.DateTimeField()
    # This conversion's change counter: 1 for the status it was recorded with, +1 per change.
    status_version = models.PositiveIntegerField(default=1)
    pending_until = models.DateTimeField(null=True, blank=True)
    payout = models.DecimalField(max_digits=12, decimal_places=4)
    revenue = models.DecimalField(max_digits=12, decimal_places=4)
    transaction_id = models.CharField("advertiser transaction id", max_length=255, blank=True)
    created_at = models.DateTimeField(db_index=True)
    # What the advertiser's postback said beyond its ids (GoKart's cnv_* parameters,
    # conversions.tracking_parameters). Added with database defaults: no table rewrite.
    cnv_amount = models.DecimalField(
        "sale amount", max_digits=12, decimal_places=4, null=True, blank=True
    )
    cnv_user_id = _tracked_text("advertiser's user id")
    cnv_conversion_ip_address = models.GenericIPAddressField(
        "conversion IP address", null=True, blank=True
    )
    # Personal data: kept only under TRACKING_KEEP_CNV_EMAIL, shown masked, never exported nor
    # sent to partners. Not encrypted like the secrets: re-encrypting under a new key reads every
    # encrypted column whole (gokart.encryption), which would mean scanning every conversion.
    cnv_email = models.CharField(
        "advertiser's user email", max_length=254, blank=True, default="", db_default=""
    )
    cnv_sub_1 = _tracked_text("cnv_sub_1")
    cnv_sub_2 = _tracked_text("cnv_sub_2")
    cnv_sub_3 = _tracked_text("cnv_sub_3")
    cnv_sub_4 = _tracked_text("cnv_sub_4")
    cnv_sub_5 = _tracked_text("cnv_sub_5")

    class Meta:
        ordering = ["-id"]
        # Conversions are tracked data: no add, change or delete by hand, so none is offered
        # as a permission. Their status has a permission of its own, and so has recording the
        # ones tracking missed from a file (a conversion upload, a change set like any other).
        default_permissions = ("view",)
        permissions = [
            ("change_conversion_status", "Can change the status of conversions"),
            ("approve_large_status_change", "Can approve large status changes"),
            ("upload_conversions", "Can upload conversions that tracking missed"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["click", "offer_event"], name="conversion_unique_click_event"
            ),
            # Transaction id first: it also serves the admin's search by transaction id.
            models.UniqueConstraint(
                fields=["transaction_id", "offer"],
                condition=~Q(transaction_id=""),
                name="conversion_unique_txn_offer",
            ),
        ]
        indexes = [
            # Each list filter with the list's ordering, so "filter, newest first, LIMIT 100"
            # reads one index range.
            models.Index(fields=["status", "-id"], name="conversion_status_id"),
            models.Index(fields=["offer", "-id"], name="conversion_offer_id"),
            models.Index(fields=["partner", "-id"], name="conversion_partner_id"),
            # The source filter, alone or with the status: one index range either way (a
            # source alone is read in id order from the primary key when it is common, from
            # here when it is rare). One index, not two: every status change writes to each.
            models.Index(
                fields=["status_source", "status", "-id"], name="conversion_source_status_id"
            ),
            # The list's "last status change" date range (newest change first).
            models.Index(fields=["status_changed_at"], name="conversion_status_changed"),
            models.Index(
                fields=["pending_until"],
                condition=Q(pending_until__isnull=False),
                name="conversion_pending_until",
            ),
        ]

    def __str__(self) -> str:
        return f"Conversion {self.pk}"


class ImportJob(models.Model):
    """One bulk status change, from its check through confirmation to apply: an uploaded file
    (``kind`` file), the "set status of selected conversions" action (action: no file), the
    revert of another job (revert: built from that job's audit rows), or a change set sent to
    the Management API (api: ``origin`` names the key)."""

    class State(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        VALIDATING = "validating", "Validating"
        VALIDATED = "validated", "Validated"
        INVALID = "invalid", "Invalid"
        CHECKED = "checked", "Checked only (dry run)"
        QUEUED = "queued", "Queued"
        APPLYING = "applying", "Applying"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        FILE = "file", "File import"
        ACTION = "action", "Selected conversions"
        REVERT = "revert", "Revert"
        # A bulk change set sent to the Management API (a JSON body or a file: staged as a
        # file's rows), or a single API change waiting for approval. Audit source ``api``.
        API = "api", "API change set"
        # Conversions that tracking missed, from a file (``conversions.imports.upload_rows``):
        # each applied row creates a conversion with its first status. Audit source
        # ``manual_upload``; its revert rejects them.
        UPLOAD = "upload", "Conversion upload"

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.FILE)
    # Who uploaded the file (or asked for the revert, or ran the action).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    # The job a revert puts back: at most one revert per job.
    reverts = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reverted_by"
    )
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=500, blank=True)
    original_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=8, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    file_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.UPLOADED)
    send_callbacks = models.BooleanField(default=True)
    # Set by validation: the change set reaches an approval threshold (the reason says which),
    # so it cannot be confirmed by its uploader, only by another user allowed to approve.
    approval_required = models.BooleanField(default=False)
    approval_reason = models.CharField(max_length=500, blank=True)
    # Where the job was asked for, when not the admin: "command line (OS user root)".
    origin = models.CharField(max_length=100, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(default=0)
    error_report = models.FileField(upload_to="import-reports/%Y/%m/", blank=True, max_length=500)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    validation_started_at = models.DateTimeField(null=True, blank=True)
    validation_finished_at = models.DateTimeField(null=True, blank=True)
    apply_started_at = models.DateTimeField(null=True, blank=True)
    apply_finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.original_name}"


class StatusChange(models.Model):
    """The audit trail: one row per real status change, written with the change."""

    # Indexed by the (conversion, sequence_number) constraint below. Every writer inserts the
    # row from the conversion it has just locked and changed, in the same statement or
    # transaction, and Django enforces CASCADE itself: a per-row check at commit cost bulk
    # imports about 6 s per million changes (measured), for nothing.
    conversion = models.ForeignKey(
        Conversion, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    old_status = models.CharField(max_length=16, choices=Status.choices, blank=True)
    new_status = models.CharField(max_length=16, choices=Status.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    # The acting user and import job are the same for every row a call writes, and Django
    # enforces PROTECT itself; a per-row foreign-key check at commit only slowed bulk imports.
    # Each is indexed where it is set (``Meta.indexes``): a postback's or the pending time's
    # audit row has neither, and most rows are theirs.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    import_job = models.ForeignKey(
        ImportJob,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    reason = models.TextField(blank=True)
    sequence_number = models.PositiveIntegerField()
    callbacks_suppressed = models.BooleanField(default=False)
    # Whether this change owed the partner a callback when it was made (the partner wanted
    # that status and the change did not suppress callbacks): its outbox row must exist.
    callback_owed = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    # The conversion's payout and revenue as this change left them: a change that moved them
    # (an amounts file, its revert) and one that did not both record them, so that a change's
    # old amounts are the previous row's and the hash chain proves both. Empty on rows written
    # before amounts were audited (migration 0027).
    payout = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    revenue = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)

    class Meta:
        ordering = ["conversion_id", "sequence_number"]
        default_permissions = ("view",)  # the audit trail is only ever read
        constraints = [
            models.UniqueConstraint(
                fields=["conversion", "sequence_number"], name="statuschange_unique_sequence"
            ),
        ]
        indexes = [
            models.Index(
                fields=["user"], condition=Q(user__isnull=False), name="statuschange_user"
            ),
            models.Index(
                fields=["import_job"],
                condition=Q(import_job__isnull=False),
                name="statuschange_import_job",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversion_id}: {self.old_status or '-'} → {self.new_status}"


class ConversionTally(models.Model):
    """Conversions counted by the hour they were created in, offer, partner and current status,
    with their payout and revenue: what the overview and the list's totals read instead of
    counting tens of millions of conversions.

    Append-only deltas: the statement that records a status change (``conversions.audit``)
    adds -1 (and minus the money) for the old status and +1 for the new one, a postback +1, so
    writers never wait for each other on a hot row. ``conversion_tallies_compact`` folds the
    rows of each key into one, periodically. The totals of a key are ``SUM`` over its rows;
    they equal a ``COUNT`` over the conversions (tests compare the two after every kind of
    change). A conversion deleted outside the status service is not subtracted.
    """

    # The UTC hour the conversions were created in; once compacted, the UTC day (its midnight)
    # for conversions created before the last two days (conversions.tally).
    hour = models.DateTimeField()
    # The keys are copied from conversions already written: no foreign-key checks to pay.
    offer = models.ForeignKey(
        Offer, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    partner = models.ForeignKey(
        "callbacks.Partner",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    conversions = models.BigIntegerField()
    payout = models.DecimalField(max_digits=20, decimal_places=4)
    revenue = models.DecimalField(max_digits=20, decimal_places=4)

    class Meta:
        default_permissions = ()
        indexes = [models.Index(fields=["hour"], name="tally_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.offer_id}/{self.partner_id} {self.status}"


class OwnChangesHour(models.Model):
    """A user's single changes (buttons and the Management API: no job) in one UTC hour on
    offers of one currency, with the payout they moved: what the approval window sums
    (``conversions.own_changes``), added to by the statement that records the changes."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    hour = models.DateTimeField()
    currency = models.CharField(max_length=3)
    conversions = models.BigIntegerField()
    payout = models.DecimalField(max_digits=20, decimal_places=4)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["user", "hour", "currency"], name="own_changes_hour_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.hour:%Y-%m-%d %H}h {self.currency}"

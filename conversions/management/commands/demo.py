"""``python manage.py demo``: an admin login and a believable network to click through.

90 days of clicks, each before its conversions (minutes to a day later), recorded through the
tracking service as advertisers' postbacks would have recorded them; then what happens on a
network: a manual-review offer whose Pending conversions an admin approved or rejected, a fraud
review's rejections, a 7-day pending offer whose elapsed conversions the pending-time promotion
moves to Success, an advertiser dispute applied as a bulk import (through the import service's
public functions, as a worker would), and a partner whose endpoint failed: a few Failed
callbacks. Every change goes through the status service, so the audit trail, the outbox and
the overview's tally are what they would be in production. About 10 s for 3,000 conversions.
"""

import csv
import random
import secrets
import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from callbacks.models import CallbackDelivery, Partner
from conversions.change_sets import services as change_sets
from conversions.imports import services as imports
from conversions.models import Click, Conversion, Offer, OfferEvent, Source, Status
from conversions.services import conversion_status_set, conversions_pending_promote
from conversions.tracking import conversion_record_from_postback

# The demo's partners send their callbacks to the receiver `make run` starts (RECEIVER_PORT).
DEMO_CALLBACK_URL = f"http://127.0.0.1:{settings.DEMO_RECEIVER_PORT}/callbacks"
# A partner whose endpoint is gone: its callbacks end Failed (the name does not resolve).
BROKEN_CALLBACK_URL = "https://callbacks.bonusbarn.invalid/gokart"
HISTORY_DAYS = 90


class Command(BaseCommand):
    help = "Create an admin user (printing its password) and demo offers, partners and conversions."

    def add_arguments(self, parser):
        parser.add_argument("--conversions", type=int, default=3000)
        parser.add_argument("--username", default="admin")

    def handle(self, *args, conversions: int, username: str, **options):
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()

        if Offer.objects.exists():
            self.stdout.write("Demo data already present; only the admin password was reset.")
        else:
            with transaction.atomic():
                created = self._create_data(conversions, user)
            self.stdout.write(f"Created {created} demo conversions.")
        self.stdout.write(self.style.SUCCESS(f"Admin login: {username} / {password}"))

    def _create_data(self, count: int, user) -> int:
        rng = random.Random(42)
        now = timezone.now()
        game, survey, bank = self._offers()
        events = list(OfferEvent.objects.order_by("id"))
        partners = [
            Partner.objects.create(
                name="RewardHub", callback_url=DEMO_CALLBACK_URL, pending_callbacks_enabled=True
            ),
            Partner.objects.create(name="CashbackCity", callback_url=DEMO_CALLBACK_URL),
            Partner.objects.create(name="PlayPoints"),
            Partner.objects.create(name="BonusBarn", callback_url=BROKEN_CALLBACK_URL),
        ]
        # The history is recorded while the demo's receiver has no callbacks owed (so it gets
        # only the changes made from today on); BonusBarn keeps its broken URL throughout.
        callback_urls = {partner.pk: partner.callback_url for partner in partners}
        Partner.objects.exclude(pk=partners[3].pk).update(callback_url="")
        recorded = self._postbacks(
            count, rng, now, [game, game, game, survey, bank], events, partners
        )

        # Admins reviewed the manual offer's conversions older than two days: most approved.
        reviewed = [
            c
            for c in recorded
            if c.offer_id == survey.pk and c.created_at < now - timedelta(days=2)
        ]
        rng.shuffle(reviewed)
        cut = len(reviewed) * 7 // 10
        self._set([c.pk for c in reviewed[:cut]], Status.SUCCESS, user, "Advertiser approved")
        self._set(
            [c.pk for c in reviewed[cut : cut + len(reviewed) // 5]],
            Status.REJECTED,
            user,
            "Fraud review: survey answered in under 30 s",
        )
        # A fraud review rejected some installs from emulators.
        self._set(
            [c.pk for c in recorded if c.offer_id == game.pk and rng.random() < 0.04],
            Status.REJECTED,
            user,
            "Fraud review: emulator",
        )
        # The 7-day pending offer: conversions whose time has passed become Success.
        conversions_pending_promote(now=now)
        self._dispute_import(recorded, game, user, rng)
        self._failed_callbacks(partners[3], now)

        for partner in partners:
            Partner.objects.filter(pk=partner.pk).update(callback_url=callback_urls[partner.pk])
        # Today, with the receiver listening: a few decisions that owe it callbacks.
        pending = list(
            Conversion.objects.filter(status=Status.PENDING, offer=survey)
            .order_by("-id")
            .values_list("pk", flat=True)[:12]
        )
        self._set(pending[:6], Status.SUCCESS, user, "Advertiser approved")
        self._set(pending[6:], Status.REJECTED, user, "Duplicate device")
        return len(recorded)

    def _offers(self) -> tuple[Offer, Offer, Offer]:
        game = Offer.objects.create(
            name="Dragon Quest Mobile (multi-event)",
            advertiser="Dragonsoft",
            landing_url="https://dragonsoft.example/install?ref={gk_click_id}",
        )
        survey = Offer.objects.create(
            name="Shopping survey (manual review)",
            advertiser="PanelCo",
            rewarding_mode=Offer.RewardingMode.MANUAL,
            currency="EUR",
            landing_url="https://panelco.example/s?c={gk_click_id}",
        )
        bank = Offer.objects.create(
            name="Neobank sign-up (7-day pending)",
            advertiser="Finly",
            pending_time=timedelta(days=7),
            landing_url="https://finly.example/join?click={gk_click_id}",
        )
        for offer, code, name, payout, revenue in [
            (game, "install", "Install", "0.50", "0.80"),
            (game, "level_10", "Reach level 10", "2.00", "3.00"),
            (game, "purchase", "First purchase", "5.00", "8.00"),
            (survey, "complete", "Survey completed", "1.20", "1.80"),
            (bank, "signup", "Account opened", "25.00", "40.00"),
        ]:
            OfferEvent.objects.create(
                offer=offer, code=code, name=name, payout=Decimal(payout), revenue=Decimal(revenue)
            )
        return game, survey, bank

    def _postbacks(self, count, rng, now, offers, events, partners) -> list[Conversion]:
        """Clicks over the last 90 days (more recently: a growing network), each followed by
        its postbacks, recorded through the tracking service."""
        planned = []
        for _ in range(count):
            offer = rng.choice(offers)
            partner = rng.choices(partners, weights=[5, 3, 2, 1])[0]
            age = timedelta(minutes=HISTORY_DAYS * 24 * 60 * (1 - rng.random() ** 0.7))
            click = Click(offer=offer, partner=partner, sub_id=f"user-{rng.randrange(1, 5000)}")
            planned.append((click, now - age))
        clicks = Click.objects.bulk_create([click for click, _ in planned])
        # created_at is set on insert; back-date the clicks in one statement.
        with connection.cursor() as cursor:
            cursor.execute(
                """UPDATE conversions_click c SET created_at = v.clicked
                   FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, clicked)
                   WHERE c.id = v.id""",
                [[click.pk for click in clicks], [clicked for _, clicked in planned]],
            )
        ids: list[int] = []
        for click, clicked in planned:
            offer_events = [event for event in events if event.offer_id == click.offer_id]
            converted = clicked
            for event in offer_events[: rng.randint(1, len(offer_events))]:
                converted += timedelta(minutes=rng.randrange(2, 60 * 24))
                if converted >= now or len(ids) >= count:
                    break
                result = conversion_record_from_postback(
                    gk_click_id=click.gk_click_id,
                    event_code=event.code,
                    transaction_id=f"TX{rng.randrange(10**9):09d}",
                    token=click.offer.postback_secret,
                    now=converted,
                )
                ids.append(result.conversion_id)
            if len(ids) >= count:
                break
        return list(Conversion.objects.filter(pk__in=ids).only("pk", "offer_id", "created_at"))

    @staticmethod
    def _set(ids, status, user, reason) -> None:
        conversion_status_set(
            conversion_ids=ids, status=status, source=Source.ADMIN, user=user, reason=reason
        )

    def _dispute_import(self, recorded, game, user, rng) -> None:
        """An advertiser disputed some of last month's purchases: a file applied by import."""
        disputed = Conversion.objects.filter(
            pk__in=[c.pk for c in recorded if c.offer_id == game.pk], status=Status.SUCCESS
        ).select_related("click")[:80]
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "dragonsoft-dispute.csv"
            with path.open("w", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(["gk_click_id", "EventId", "Status", "Reason"])
                for conversion in disputed:
                    writer.writerow(
                        [
                            conversion.click.gk_click_id,
                            conversion.pk,
                            "Rejected",
                            "Advertiser dispute: chargeback",
                        ]
                    )
                writer.writerow(["0" * 32, "", "Rejected", "not ours"])  # one row not found
            job = imports.import_job_create(
                user=user, upload=path, original_name=path.name, queue_validation=False
            )
            job = change_sets.import_job_validate(import_job=job)
        change_sets.import_job_confirm(
            import_job=job, user=user, send_callbacks=True, queue_apply=False
        )
        change_sets.import_job_apply(import_job=job)

    @staticmethod
    def _failed_callbacks(partner, now) -> None:
        """BonusBarn's endpoint is gone: its callbacks older than the three-day retry window
        ended Failed after their retries (as the delivery loop would have left them)."""
        CallbackDelivery.objects.filter(
            partner=partner, created_at__lt=now - timedelta(days=3)
        ).update(
            state=CallbackDelivery.State.FAILED,
            attempts=14,
            next_attempt_at=now,
            last_error="Could not resolve callbacks.bonusbarn.invalid (retried for 3 days)",
        )

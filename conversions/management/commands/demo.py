"""``python manage.py demo``: an admin login and a small, believable data set to click through."""

import random
import secrets
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from callbacks.models import Partner
from conversions.models import Click, Offer, OfferEvent, Source, Status
from conversions.services import conversion_status_set
from conversions.tracking import conversion_record_from_postback

DEMO_CALLBACK_URL = "http://127.0.0.1:8001/callbacks"


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
        game = Offer.objects.create(
            name="Dragon Quest Mobile (multi-event)",
            advertiser="Dragonsoft",
            landing_url="https://dragonsoft.example/install?ref={gk_click_id}",
        )
        survey = Offer.objects.create(
            name="Shopping survey (manual review)",
            advertiser="PanelCo",
            rewarding_mode=Offer.RewardingMode.MANUAL,
            landing_url="https://panelco.example/s?c={gk_click_id}",
        )
        bank = Offer.objects.create(
            name="Neobank sign-up (7-day pending)",
            advertiser="Finly",
            pending_time=timedelta(days=7),
            landing_url="https://finly.example/join?click={gk_click_id}",
        )
        events = [
            OfferEvent.objects.create(
                offer=offer, code=code, name=name, payout=Decimal(payout), revenue=Decimal(revenue)
            )
            for offer, code, name, payout, revenue in [
                (game, "install", "Install", "0.50", "0.80"),
                (game, "level_10", "Reach level 10", "2.00", "3.00"),
                (game, "purchase", "First purchase", "5.00", "8.00"),
                (survey, "complete", "Survey completed", "1.20", "1.80"),
                (bank, "signup", "Account opened", "25.00", "40.00"),
            ]
        ]
        partners = [
            Partner.objects.create(
                name="RewardHub", callback_url=DEMO_CALLBACK_URL, pending_callbacks_enabled=True
            ),
            Partner.objects.create(name="CashbackCity", callback_url=DEMO_CALLBACK_URL),
            Partner.objects.create(name="PlayPoints"),
        ]
        # The history is recorded as the advertisers' postbacks would have recorded it, through
        # the tracking service (so every conversion has its first audit row), while the
        # partners had no callback URL yet: the demo's receiver gets only today's changes.
        callback_urls = {partner.pk: partner.callback_url for partner in partners}
        Partner.objects.update(callback_url="")
        conversions = []
        for _ in range(count // 2):
            offer = rng.choice([game, game, survey, bank])
            partner = rng.choice(partners)
            clicked = now - timedelta(minutes=rng.randrange(60, 60 * 24 * 30))
            click = Click.objects.create(
                offer=offer, partner=partner, sub_id=f"user-{rng.randrange(1, 5000)}"
            )
            Click.objects.filter(pk=click.pk).update(created_at=clicked)
            offer_events = [event for event in events if event.offer_id == offer.pk]
            converted = clicked
            for event in offer_events[: rng.randint(1, len(offer_events))]:
                converted += timedelta(minutes=rng.randrange(1, 60 * 24))
                result = conversion_record_from_postback(
                    gk_click_id=click.gk_click_id,
                    event_code=event.code,
                    transaction_id=f"TX{rng.randrange(10**9):09d}",
                    token=offer.postback_secret,
                    now=min(converted, now),
                )
                conversions.append(result)
        # A fraud review rejected some of them back then.
        duplicates = [c.conversion_id for c in conversions if rng.random() < 0.08]
        conversion_status_set(
            conversion_ids=duplicates,
            status=Status.REJECTED,
            source=Source.ADMIN,
            user=user,
            reason="Duplicate device",
        )
        for partner in partners:
            Partner.objects.filter(pk=partner.pk).update(callback_url=callback_urls[partner.pk])
        pending = [c.conversion_id for c in conversions if c.status == Status.PENDING][:20]
        conversion_status_set(
            conversion_ids=pending[:10],
            status=Status.SUCCESS,
            source=Source.ADMIN,
            user=user,
            reason="Advertiser approved",
        )
        conversion_status_set(
            conversion_ids=pending[10:],
            status=Status.REJECTED,
            source=Source.ADMIN,
            user=user,
            reason="Fraud review: emulator",
        )
        return len(conversions)

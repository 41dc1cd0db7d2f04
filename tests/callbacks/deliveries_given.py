"""Givens of the deliveries admin tests: a partner "Reward Wall", callbacks it is owed (with
what the worker recorded about them), staff clients, and how to read the pages."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callbacks.models import CallbackAttempt, CallbackDelivery
from conversions.models import Source, Status
from conversions.services import conversion_status_set

CHANGELIST = reverse("admin:callbacks_callbackdelivery_changelist")
State = CallbackDelivery.State


def change_url(delivery):
    return reverse("admin:callbacks_callbackdelivery_change", args=[delivery.pk])


def resend_url(delivery):
    return reverse("admin:callbacks_callbackdelivery_resend", args=[delivery.pk])


@pytest.fixture
def reward_wall(partner_factory):
    return partner_factory(name="Reward Wall", callback_url="https://rewards.example/cb")


@pytest.fixture
def owed_callback(conversion_factory, reward_wall):
    """A conversion set to Success through the service, and the callback that change owes.

    ``outcome`` is what the delivery worker recorded: each attempt as (response status,
    body, error), and the state it ended in.
    """

    def create(*, state=State.PENDING, attempts=(), partner=reward_wall, **conversion_fields):
        conversion = conversion_factory(click__partner=partner, **conversion_fields)
        conversion_status_set(
            conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
        )
        delivery = CallbackDelivery.objects.get(conversion=conversion)
        started = timezone.now() - timedelta(hours=1)
        for number, (response_status, body, error) in enumerate(attempts, start=1):
            CallbackAttempt.objects.create(
                delivery=delivery,
                number=number,
                started_at=started + timedelta(minutes=2 * number),
                duration_ms=40 + number,
                response_status=response_status,
                response_body=body,
                error=error,
            )
        last_status, _, last_error = attempts[-1] if attempts else (None, "", "")
        CallbackDelivery.objects.filter(pk=delivery.pk).update(
            state=state,
            attempts=len(attempts),
            last_response_status=last_status,
            last_error=last_error,
            payload={"id": str(delivery.pk), "conversion": {"conversionId": conversion.pk}},
            delivered_at=timezone.now() if state == State.DELIVERED else None,
        )
        delivery.refresh_from_db()
        return delivery

    return create


def listed_deliveries(response):
    """The ids of the deliveries in the list, as the rows' title attributes carry them."""
    assert response.status_code == 200
    return re.findall(r'<code title="([0-9a-f-]{36})">', response.text)


def shown_messages(response):
    return [str(message) for message in response.context["messages"]]


def staff_client(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(django_user_model):
    """Staff who may only view callback deliveries."""
    return staff_client(django_user_model, "viewer", "view_callbackdelivery")

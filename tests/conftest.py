import os

import pytest

from tests.browser import admin_page, browser, page  # noqa: F401 -- fixtures
from tests.callbacks.factories import PartnerFactory
from tests.conversions.factories import (
    ClickFactory,
    ConversionFactory,
    OfferEventFactory,
    OfferFactory,
)

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def offer_factory():
    return OfferFactory


@pytest.fixture
def offer_event_factory():
    return OfferEventFactory


@pytest.fixture
def partner_factory():
    return PartnerFactory


@pytest.fixture
def click_factory():
    return ClickFactory


@pytest.fixture
def conversion_factory():
    return ConversionFactory


@pytest.fixture(autouse=True)
def audit_trail_checked(request):
    """Every test that uses the database ends with the audit trail checked (``audit_verify``):
    whatever it changed, each conversion's audit rows still form an unbroken chain, with their
    callbacks. Tests that break the trail on purpose are marked ``audit_broken``."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if marker is None or request.node.get_closest_marker("audit_broken"):
        return
    from tests.audit import assert_audit_intact

    assert_audit_intact()

import pytest

from tests.callbacks.factories import PartnerFactory
from tests.conversions.factories import (
    ClickFactory,
    ConversionFactory,
    OfferEventFactory,
    OfferFactory,
)


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

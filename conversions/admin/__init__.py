"""Admin pages of the conversions app: Conversion Management, offers and clicks."""

from conversions.admin.conversion import ConversionAdmin
from conversions.admin.display import status_badge
from conversions.admin.offers import ClickAdmin, OfferAdmin

__all__ = ["ClickAdmin", "ConversionAdmin", "OfferAdmin", "status_badge"]

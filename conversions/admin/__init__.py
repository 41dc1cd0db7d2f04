"""Admin pages of the conversions app: Conversion Management, offers and clicks."""

from conversions.admin.conversion import ConversionAdmin, status_badge
from conversions.admin.offers import ClickAdmin, OfferAdmin
from conversions.admin.pagination import LargeTablePaginator

__all__ = ["ClickAdmin", "ConversionAdmin", "LargeTablePaginator", "OfferAdmin", "status_badge"]

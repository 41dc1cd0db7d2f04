"""Admin pages of the conversions app: Conversion Management, offers and clicks."""

from django.contrib import admin

from conversions.admin.conversion import ConversionAdmin
from conversions.admin.display import status_badge
from conversions.admin.offers import ClickAdmin, OfferAdmin
from conversions.change_sets.admin import ImportJobAdmin

__all__ = ["ClickAdmin", "ConversionAdmin", "ImportJobAdmin", "OfferAdmin", "status_badge"]

# The site's first page is the overview (conversions.admin.overview), under Django's own view.
admin.site.index_template = "admin/conversions/overview.html"

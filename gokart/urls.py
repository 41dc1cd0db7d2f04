from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from callbacks.metrics.views import metrics
from conversions import views as tracking

admin.site.site_header = "GoKart back office"
admin.site.site_title = "GoKart"
admin.site.index_title = "Conversion Management"

urlpatterns = [
    path("click/<str:offer_id>/<str:partner_id>/", tracking.click, name="click"),
    # Tracking URLs are typed by hand into partners' and advertisers' systems: accept them
    # without the trailing slash (a redirect to add it would turn a POST into a GET), and
    # answer anything else under /click/ with a JSON 404 that shows the right form.
    path("click/<str:offer_id>/<str:partner_id>", tracking.click),
    re_path(r"^click/", tracking.click_malformed),
    path("postback/", tracking.postback, name="postback"),
    path("postback", tracking.postback),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("api.urls", "ninja"), namespace="api-v1")),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]

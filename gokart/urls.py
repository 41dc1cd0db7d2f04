from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from callbacks.metrics.views import metrics
from gokart.tracking.urls import urlpatterns as tracking_urlpatterns

admin.site.site_header = "GoKart back office"
admin.site.site_title = "GoKart"
admin.site.index_title = "Conversion Management"

# The tracking endpoints first, as the tracking tier serves them (gokart.tracking); /healthz and
# /readyz are answered in front of Django (gokart.health).
urlpatterns = [
    *tracking_urlpatterns,
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("api.urls", "ninja"), namespace="api-v1")),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]

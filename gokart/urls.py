from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from conversions import views as tracking

admin.site.site_header = "GoKart back office"
admin.site.site_title = "GoKart"
admin.site.index_title = "Conversion Management"

urlpatterns = [
    path("click/<str:offer_id>/<str:partner_id>/", tracking.click, name="click"),
    path("postback/", tracking.postback, name="postback"),
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]

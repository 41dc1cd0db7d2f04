"""The tracking endpoints' routes (DESIGN.md, "Public interface"): the tracking tier's whole
URLconf, and the first routes of the admin's (``gokart.urls``), so that ``make run``'s one
process serves them too."""

from django.urls import path, re_path

from conversions import views

urlpatterns = [
    path("click/<str:offer_id>/<str:partner_id>/", views.click, name="click"),
    # Tracking URLs are typed by hand into partners' and advertisers' systems: accept them
    # without the trailing slash (a redirect to add it would turn a POST into a GET), and
    # answer anything else under /click/ with a JSON 404 that shows the right form.
    path("click/<str:offer_id>/<str:partner_id>", views.click),
    re_path(r"^click/", views.click_malformed),
    path("postback/", views.postback, name="postback"),
    path("postback", views.postback),
]

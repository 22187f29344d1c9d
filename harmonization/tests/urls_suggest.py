"""The project's URLs plus the mapping suggestion page, so its tests do not depend on where it is wired."""

from django.urls import include, path

from harmonization import views_suggest

urlpatterns = [
    path("imports/suggest/", views_suggest.mapping_suggest, name="mapping_suggest"),
    path("", include("rmn_site.urls")),
]

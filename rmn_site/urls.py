from django.contrib import admin
from django.urls import include, path

# Under /api/ both answer the API's JSON error shape; elsewhere the site's 404 and 500 pages.
handler404 = "core.api.errors.page_not_found"
handler500 = "core.api.errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("rmn_site.api_urls")),
    path("", include("governance.urls")),
    path("", include("optimizer.urls")),
    path("", include("harmonization.urls")),
    path("", include("campaigns.urls")),
    path("", include("ml.urls")),
    path("", include("feedback.urls")),
    path("", include("demo.urls")),
]

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("rmn_site.api_urls")),
    path("", include("governance.urls")),
    path("", include("optimizer.urls")),
    path("", include("harmonization.urls")),
    path("", include("campaigns.urls")),
    path("", include("ml.urls")),
    path("", include("demo.urls")),
]

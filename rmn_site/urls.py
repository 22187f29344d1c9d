from django.contrib import admin
from django.urls import include, path

from governance.tenant_admin import tenant_admin_site

# Under /api/ both answer the API's JSON error shape; elsewhere the site's 404 and 500 pages.
admin.site.site_header = "RMN Optimizer · site admin (staff, every tenant)"

handler404 = "core.api.errors.page_not_found"
handler500 = "core.api.errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),  # staff only, every tenant
    path("manage/", tenant_admin_site.urls),  # a tenant's admins, that tenant only
    path("api/v1/", include("rmn_site.api_urls")),
    path("", include("governance.urls")),
    path("", include("optimizer.urls")),
    path("", include("harmonization.urls")),
    path("", include("campaigns.urls")),
    path("", include("ml.urls")),
    path("", include("feedback.urls")),
    path("", include("demo.urls")),
]

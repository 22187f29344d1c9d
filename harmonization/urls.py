from django.urls import path

from harmonization import views, views_suggest

urlpatterns = [
    path("imports/", views.batch_list_view, name="import_list"),
    path("imports/suggest/", views_suggest.mapping_suggest, name="mapping_suggest"),
    path("imports/<int:pk>/", views.batch_detail, name="import_detail"),
    path("imports/<int:pk>/quarantine.csv", views.quarantine_download, name="import_quarantine"),
    path("imports/<int:pk>/rerun/", views.batch_rerun_view, name="import_rerun"),
]

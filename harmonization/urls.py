from django.urls import path

from harmonization import views

urlpatterns = [
    path("imports/", views.batch_list_view, name="import_list"),
    path("imports/<int:pk>/", views.batch_detail, name="import_detail"),
    path("imports/<int:pk>/quarantine.csv", views.quarantine_download, name="import_quarantine"),
]

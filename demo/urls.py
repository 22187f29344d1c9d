from django.urls import path

from demo import views

urlpatterns = [
    path("imports/sample/<slug:mapping_name>/", views.sample_download, name="import_sample"),
]

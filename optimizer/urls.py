from django.urls import path

from optimizer import views

urlpatterns = [
    path("lift-studies/", views.lift_study_list, name="lift_study_list"),
    path("lift-studies/new/", views.lift_study_create_view, name="lift_study_create"),
]

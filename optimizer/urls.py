from django.urls import path

from optimizer import views

urlpatterns = [
    path("lift-studies/", views.lift_study_list, name="lift_study_list"),
    path("lift-studies/new/", views.lift_study_create_view, name="lift_study_create"),
    path("plans/", views.plan_list, name="plan_list"),
    path("plans/<int:pk>/", views.plan_detail, name="plan_detail"),
]

from django.urls import path

from optimizer import views, views_measurement

urlpatterns = [
    path("lift-studies/", views.lift_study_list, name="lift_study_list"),
    path("lift-studies/new/", views.lift_study_create_view, name="lift_study_create"),
    path("plans/", views.plan_list, name="plan_list"),
    path("plans/<int:pk>/", views.plan_detail, name="plan_detail"),
    path("plans/read/", views.plan_read, name="plan_read"),
    path("plans/read/<int:pk>/", views.plan_read_status, name="plan_read_status"),
]

urlpatterns += [
    path("experiments/", views_measurement.experiment_list, name="experiment_list"),
    path("experiments/<int:pk>/", views_measurement.experiment_detail, name="experiment_detail"),
    path("experiments/<int:pk>/readout/", views_measurement.experiment_readout_view, name="experiment_readout"),
    path(
        "experiments/<int:pk>/lift-study/",
        views_measurement.experiment_save_lift_study_view,
        name="experiment_save_lift_study",
    ),
    path("experiments/bandits/new/", views_measurement.bandit_create, name="bandit_create"),
    path("experiments/bandits/<int:pk>/", views_measurement.bandit_detail, name="bandit_detail"),
    path("experiments/bandits/<int:pk>/update/", views_measurement.bandit_update_view, name="bandit_update"),
]

from django.urls import path

from optimizer.views import audience_lift, bandits, experiments, lift_studies, plans, uplift

urlpatterns = [
    path("lift-studies/", lift_studies.lift_study_list, name="lift_study_list"),
    path("lift-studies/new/", lift_studies.lift_study_create_view, name="lift_study_create"),
    path("lift-studies/audience/", audience_lift.audience_lift_view, name="lift_study_audience"),
    path("plans/", plans.plan_list, name="plan_list"),
    path("plans/<int:pk>/", plans.plan_detail, name="plan_detail"),
    path("plans/<int:pk>/rerun/", plans.plan_rerun_view, name="plan_rerun"),
    path("plans/<int:pk>/what-if/", plans.plan_version_create_view, name="plan_version_create"),
    path("plans/<int:pk>/export.csv", plans.plan_export_view, name="plan_export"),
    path("experiments/", experiments.experiment_list, name="experiment_list"),
    path("experiments/<int:pk>/", experiments.experiment_detail, name="experiment_detail"),
    path("experiments/<int:pk>/readout/", experiments.experiment_readout_view, name="experiment_readout"),
    path(
        "experiments/<int:pk>/lift-study/",
        experiments.experiment_save_lift_study_view,
        name="experiment_save_lift_study",
    ),
    path("uplift/", uplift.uplift_study_list, name="uplift_list"),
    path("uplift/<int:pk>/", uplift.uplift_study_detail, name="uplift_detail"),
    path("sku-forecast/", uplift.sku_forecast_view, name="sku_forecast"),
    path("experiments/bandits/new/", bandits.bandit_create, name="bandit_create"),
    path("experiments/bandits/<int:pk>/", bandits.bandit_detail, name="bandit_detail"),
    path("experiments/bandits/<int:pk>/update/", bandits.bandit_update_view, name="bandit_update"),
]

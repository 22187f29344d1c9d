from django.urls import path

from ml import views

urlpatterns = [
    path("models/", views.adapter_list, name="model_adapters"),
    path("models/adapters/<int:pk>/<slug:action>/", views.adapter_action, name="model_adapter_action"),
    path("models/jobs/", views.training_job_list, name="model_jobs"),
    path("models/jobs/<int:pk>/", views.training_job_detail, name="model_job_detail"),
    path("models/jobs/<int:pk>/cancel/", views.training_job_cancel, name="model_job_cancel"),
    path("models/jobs/<int:pk>/resend/", views.training_job_resend_view, name="model_job_resend"),
    path("models/try/", views.generation_try, name="model_try"),
    path("models/try/<int:pk>/", views.generation_detail, name="model_generation_detail"),
    path("plans/read/", views.plan_read, name="plan_read"),
    path("plans/read/<int:pk>/", views.plan_read_status, name="plan_read_status"),
    path("plans/read/<int:pk>/answer/", views.plan_read_answer, name="plan_read_answer"),
    path("plans/read/answer/", views.plan_read_text_answer, name="plan_read_text_answer"),
]

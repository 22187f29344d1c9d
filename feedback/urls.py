from django.urls import path

from feedback.views import plans

urlpatterns = [
    path("plans/<int:pk>/review/", plans.plan_review_submit_view, name="plan_review_submit"),
]

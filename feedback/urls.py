from django.urls import path

from feedback.views import creatives, plans

urlpatterns = [
    path("creatives/", creatives.creative_list, name="creative_list"),
    path("creatives/briefs/<int:pk>/", creatives.creative_brief, name="creative_brief"),
    path("creatives/<int:pk>/status/", creatives.creative_status_view, name="creative_status"),
    path("creatives/export/<slug:code>.csv", creatives.creative_export, name="creative_export"),
    path("plans/<int:pk>/review/", plans.plan_review_submit_view, name="plan_review_submit"),
]

from django.urls import path

from feedback.views import creatives, loop, plans, review

urlpatterns = [
    path("creatives/", creatives.creative_list, name="creative_list"),
    path("creatives/briefs/<int:pk>/", creatives.creative_brief, name="creative_brief"),
    path("creatives/<int:pk>/status/", creatives.creative_status_view, name="creative_status"),
    path("creatives/export/<slug:code>.csv", creatives.creative_export, name="creative_export"),
    path("plans/<int:pk>/review/", plans.plan_review_submit_view, name="plan_review_submit"),
    path("review/", review.review_tasks, name="review_tasks"),
    path("review/conflicts/", review.review_conflicts, name="review_conflicts"),
    path("review/conflicts/<int:pk>/resolve/", review.review_resolve, name="review_resolve"),
    path("review/loop/", loop.loop_dashboard, name="loop_dashboard"),
    path("review/loop/export/", loop.loop_export, name="loop_export"),
    path("review/loop/retrain/", loop.loop_retrain, name="loop_retrain"),
    path("review/loop/jobs/<int:pk>/gate/", loop.loop_gate, name="loop_gate"),
    path("review/loop/decisions/<int:pk>/rollback/", loop.loop_rollback, name="loop_rollback"),
    path("review/<int:pk>/", review.review_queue, name="review_queue"),
    path("review/<int:pk>/next/", review.review_next_view, name="review_next"),
    path("review/<int:pk>/undo/", review.review_undo_view, name="review_undo"),
    path("review/<int:pk>/quality/", review.review_quality, name="review_quality"),
]

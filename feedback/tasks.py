"""Celery tasks of feedback: thin, they call a service imported inside the task."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="feedback.queue_finished_plans")
def queue_finished_plans() -> int:
    """Queue succeeded plan versions for reviewers to rate (beat, every minute)."""
    from feedback.services.plan_review import plan_review_queue_finished

    return plan_review_queue_finished()

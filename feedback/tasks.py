"""Celery tasks of the RLHF console: thin, they take ids and call a service imported inside the task (services import
this module at the top to enqueue)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="feedback.creative_brief_run", acks_late=True)
def creative_brief_run(brief_id: int) -> dict:
    """Write, verify, repair and queue the variants of one brief (inference queue). A finished brief is not run
    again."""
    from feedback.services.creatives import creative_brief_run as run

    brief = run(brief_id)
    return {"brief": brief.pk, "status": brief.status, "error": brief.error}


@shared_task(name="feedback.reap_dead_briefs")
def reap_dead_briefs() -> int:
    """Fail running briefs whose worker stopped sending heartbeats."""
    from feedback.services.creatives import creative_briefs_reap

    return creative_briefs_reap()


@shared_task(name="feedback.queue_finished_plans")
def queue_finished_plans() -> int:
    """Queue succeeded plan versions for reviewers to rate (beat, every minute)."""
    from feedback.services.plan_review import plan_review_queue_finished

    return plan_review_queue_finished()


@shared_task(name="feedback.gate_finished_retrains", acks_late=True)
def gate_finished_retrains() -> int:
    """Run the promotion gate on succeeded retraining jobs without a decision (beat, every minute; gpu queue: it
    loads the base model and scores both versions)."""
    from feedback.services.gate import gate_finished_retrains as judge

    return judge()

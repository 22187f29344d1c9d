from __future__ import annotations

from celery import shared_task

from optimizer.services import plan_run as plan_run_service


@shared_task(name="optimizer.plan_run", acks_late=True)
def plan_run(plan_id: int) -> dict:
    """Optimize a stored allocation plan (cpu queue). Idempotent: a finished plan is not run again."""
    plan = plan_run_service(plan_id)
    return {"plan": plan.pk, "status": plan.status, "error": plan.error}

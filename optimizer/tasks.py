from __future__ import annotations

from celery import shared_task

from optimizer.bandits import bandit_update  # registers optimizer.bandit_update with the worker
from optimizer.services import plan_run as plan_run_service


@shared_task(name="optimizer.plan_run", acks_late=True)
def plan_run(plan_id: int) -> dict:
    """Optimize a stored allocation plan (cpu queue). Idempotent: a finished plan is not run again."""
    plan = plan_run_service(plan_id)
    return {"plan": plan.pk, "status": plan.status, "error": plan.error}


@shared_task(name="optimizer.bandit_update_all")
def bandit_update_all() -> dict:
    """Queue the daily observe-and-decide step for every active bandit policy (Celery beat runs this daily)."""
    from optimizer.models import BanditPolicy

    ids = list(BanditPolicy.objects.filter(status=BanditPolicy.Status.ACTIVE).values_list("pk", flat=True))
    for policy_id in ids:
        bandit_update.delay(policy_id)
    return {"queued": ids}

"""Celery tasks of the optimizer: thin, they take ids and call a service, imported inside the task (services import
this module at the top to enqueue, so the other direction would be an import loop)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone


@shared_task(name="optimizer.plan_run", acks_late=True)
def plan_run(plan_id: int) -> dict:
    """Optimize a stored allocation plan (cpu queue). Idempotent: a finished plan is not run again."""
    from optimizer.services.plans import plan_run as plan_run_service

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


@shared_task(name="optimizer.bandit_update", acks_late=True)
def bandit_update(policy_id: int, date: str | None = None) -> dict:
    """Observe what arrived and decide ``date`` (default: today, UTC) for an active policy."""
    from optimizer.models import BanditPolicy
    from optimizer.services.bandits import policy_decide, policy_observe

    policy = BanditPolicy.objects.get(pk=policy_id)
    day = dt.date.fromisoformat(date) if date else timezone.now().date()
    observed = policy_observe(policy) if policy.status != BanditPolicy.Status.PAUSED else 0
    policy.refresh_from_db()
    decided = None
    if policy.status == BanditPolicy.Status.ACTIVE and policy.start_date <= day <= policy.end_date:
        decided = policy_decide(policy, day)
    return {
        "policy": policy.pk,
        "observed_days": observed,
        "last_observed_date": policy.last_observed_date.isoformat() if policy.last_observed_date else None,
        "decision": None if decided is None else {"date": day.isoformat(), "allocation": decided.allocation},
    }


@shared_task(name="optimizer.reap_dead_plans")
def reap_dead_plans() -> int:
    """Fail running plans whose worker died (beat, every minute)."""
    from optimizer.services.plans import reap_dead_plans as reap

    return reap()


@shared_task(name="optimizer.uplift_fit", acks_late=True)
def uplift_fit(study_id: int) -> dict:
    """Fit a stored uplift study (cpu queue). Idempotent: a finished study is not fitted again."""
    from optimizer.services.uplift import uplift_study_fit

    study = uplift_study_fit(study_id)
    return {"study": study.pk, "status": study.status, "error": study.error}

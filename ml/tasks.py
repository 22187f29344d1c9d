"""Celery tasks of the generative layer (queues in settings.CELERY_TASK_ROUTES): training on ``gpu``, generation on
``inference`` (GPU workers too, so a generation never waits behind a training job), the reaper on ``cpu``.

Thin: each task calls one function of ``ml.jobs`` (training) or ``ml.inference`` (generation), which tests also call
in-process.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="ml.train_adapter", acks_late=False)
def train_adapter(job_id: int) -> dict:
    """Run one TrainingJob to the end: progress to the database, candidate adapter registered on success."""
    from ml.jobs import run_training_job

    job = run_training_job(job_id)
    return {"job": job.pk, "status": job.status, "error": job.error}


@shared_task(name="ml.generate")
def generate(
    tenant_id: int | None,
    adapters: list[str],
    prompts: list,
    mode: str = "stack",
    weights: list[float] | None = None,
    max_new_tokens: int = 256,
) -> list[str]:
    """Generate with a composition of named adapters for a tenant (authorized on every call)."""
    from ml.inference import generate_for_tenant_id

    return generate_for_tenant_id(
        tenant_id, adapters=adapters, prompts=prompts, mode=mode, weights=weights, max_new_tokens=max_new_tokens
    )


@shared_task(name="ml.generate_request")
def generate_request(request_id: int) -> dict:
    """Answer one stored GenerationRequest (pages and API): authorized, generated, parsed, saved."""
    from ml.inference import run_generation_request

    req = run_generation_request(request_id)
    return {"request": req.pk, "status": req.status, "error": req.error}


@shared_task(name="ml.reap_dead_jobs")
def reap_dead_jobs() -> int:
    """Mark running jobs whose worker stopped sending heartbeats as failed (beat schedule)."""
    from ml.jobs import reap_dead_jobs as reap

    return reap()

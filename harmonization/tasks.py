from __future__ import annotations

from celery import shared_task


@shared_task(name="harmonization.ingest_batch", acks_late=True)
def ingest_batch(batch_id: int) -> dict:
    """Harmonize a stored upload into its tenant (cpu queue). Idempotent: a finished batch is not run again, and a
    batch re-run after a lost worker replaces the facts it had loaded."""
    from harmonization.services import ingest_batch_run

    batch = ingest_batch_run(batch_id=batch_id)
    return {"batch": batch.pk, "status": batch.status, "rows_loaded": batch.rows_loaded, "error": batch.error}


@shared_task(name="harmonization.reap_dead_batches")
def reap_dead_batches() -> int:
    """Fail running imports whose worker died (beat, every minute)."""
    from harmonization.services import reap_dead_batches as reap

    return reap()


@shared_task(name="harmonization.purge_old_uploads")
def purge_old_uploads() -> int:
    """Delete uploaded files and quarantined rows past their retention (beat, daily)."""
    from harmonization.services import ingest_uploads_purge

    return ingest_uploads_purge()

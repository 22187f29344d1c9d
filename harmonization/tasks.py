from __future__ import annotations

from celery import shared_task


@shared_task(name="harmonization.ingest_batch", acks_late=True)
def ingest_batch(batch_id: int) -> dict:
    """Harmonize a stored upload into its tenant (cpu queue). Idempotent: a finished batch is not run again, and a
    batch re-run after a lost worker replaces the facts it had loaded."""
    from harmonization.services import ingest_batch_run

    batch = ingest_batch_run(batch_id=batch_id)
    return {"batch": batch.pk, "status": batch.status, "rows_loaded": batch.rows_loaded, "error": batch.error}

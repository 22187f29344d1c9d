"""The ingest task: routed to the cpu queue, idempotent, and run by a real worker."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile

from harmonization.models import FXRate, IngestBatch
from harmonization.tasks import ingest_batch
from harmonization.tests import files
from rmn_site.celery import app


def stored_batch(tenant, *, csv=files.CSV, status=IngestBatch.Status.PENDING) -> IngestBatch:
    batch = IngestBatch(
        tenant=tenant,
        source="export.csv",
        mapping_name="tiny_amazon",
        mapping_yaml=files.MAPPING.replace("{max_quarantine_rate}", "0.5"),
        input_bytes=len(csv.encode()),
        status=status,
    )
    batch.input_file.save("export.csv", ContentFile(csv.encode()), save=False)
    batch.save()
    return batch


def test_it_runs_on_the_default_cpu_queue():
    route = app.amqp.router.route({}, "harmonization.ingest_batch", args=(1,), kwargs={})
    assert route["queue"].name == "cpu"


def test_a_finished_batch_is_not_run_again(tenants, catalog):
    batch = stored_batch(tenants["acme"], status=IngestBatch.Status.SUCCEEDED)
    facts_before = batch.facts.count()
    result = ingest_batch(batch.pk)
    assert result == {"batch": batch.pk, "status": "succeeded", "rows_loaded": 0, "error": ""}
    assert batch.facts.count() == facts_before == 0


def test_a_stored_mapping_that_no_longer_validates_fails_the_batch(tenants):
    batch = stored_batch(tenants["acme"])
    IngestBatch.objects.filter(pk=batch.pk).update(mapping_yaml=files.MAPPING.replace("version: 1", "version: 2"))
    result = ingest_batch(batch.pk)
    assert result["status"] == "failed" and result["error"].startswith("mapping tiny_amazon:1: version")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_ingests_a_stored_batch(celery_worker_process, tenants, catalog):
    FXRate.objects.create(date=dt.date(2026, 4, 1), currency="EUR", quote_currency="USD", rate=Decimal(files.EUR_RATE))
    batch = stored_batch(tenants["acme"])
    result = ingest_batch.delay(batch.pk).get(timeout=60)
    assert result == {"batch": batch.pk, "status": "succeeded", "rows_loaded": 4, "error": ""}
    batch.refresh_from_db()
    assert batch.facts.count() == 4 and batch.rows_quarantined == 1 and batch.quarantine_file

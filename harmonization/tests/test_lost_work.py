"""Imports a dead worker left behind: the reaper fails them (facts untouched, temporary files gone), a failed import
can be run again from its stored file (page and API), a redelivered message never runs a batch twice, and uploads
are deleted after the retention period."""

from __future__ import annotations

import datetime as dt
import socket
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from campaigns.models import PerformanceFact
from governance.models import AuditLog
from harmonization import services
from harmonization.models import FXRate, IngestBatch
from harmonization.tasks import ingest_batch
from harmonization.tests import files
from harmonization.tests.test_tasks import stored_batch
from rmn_site.tests.api_support import API, assert_error, client_for


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def sent(monkeypatch, django_capture_on_commit_callbacks):
    """Messages the services send to the worker once their transaction commits (the worker tests elsewhere send
    them for real)."""
    out = []
    monkeypatch.setattr(ingest_batch, "apply_async", lambda args, task_id: out.append(args[0]))
    return out


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _running(tenant, *, silent_s: float, worker: str = "elsewhere:1") -> IngestBatch:
    batch = stored_batch(tenant, status=IngestBatch.Status.RUNNING)
    beat = timezone.now() - dt.timedelta(seconds=silent_s)
    IngestBatch.objects.filter(pk=batch.pk).update(worker=worker, heartbeat_at=beat, started_at=beat)
    batch.refresh_from_db()
    return batch


def test_the_reaper_fails_a_silent_batch_and_leaves_the_facts_and_no_files(tenants, catalog):
    acme = tenants["acme"]
    facts_before = list(PerformanceFact.objects.filter(tenant=acme).values_list("pk", "spend").order_by("pk"))
    dead = _running(acme, silent_s=600)
    alive = _running(acme, silent_s=5)
    work = services.work_dir(dead)
    work.mkdir(parents=True)
    (work / "quarantine-x.csv").write_text("raw,row\n")
    assert services.reap_dead_batches() == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == "failed" and dead.finished_at is not None
    assert "stopped while importing" in dead.error and "facts are as they were" in dead.error
    assert alive.status == "running"
    assert not work.exists()
    assert list(PerformanceFact.objects.filter(tenant=acme).values_list("pk", "spend").order_by("pk")) == facts_before
    assert AuditLog.objects.filter(action="ingest_batch.reap", object_id=str(dead.pk)).exists()
    assert services.reap_dead_batches() == 0  # once


def test_a_batch_whose_process_is_gone_is_reaped_after_two_beats(tenants, settings):
    settings.INGEST_HEARTBEAT_S = 10
    gone = _running(tenants["acme"], silent_s=30, worker=f"{socket.gethostname()}:999999999")
    elsewhere = _running(tenants["acme"], silent_s=30, worker="another-host:123")
    assert services.reap_dead_batches() == 1
    gone.refresh_from_db()
    elsewhere.refresh_from_db()
    assert gone.status == "failed" and elsewhere.status == "running"


def test_a_redelivered_message_does_not_run_a_running_batch_again(tenants, catalog):
    batch = _running(tenants["acme"], silent_s=1)
    result = ingest_batch(batch.pk)
    assert result["status"] == "running" and result["rows_loaded"] == 0
    assert not batch.facts.exists()


def test_a_run_keeps_its_temporary_files_in_the_batch_folder_and_removes_them(tenants, catalog):
    before = set(Path(tempfile.gettempdir()).glob("quarantine-*.csv"))
    batch = stored_batch(tenants["acme"])
    result = ingest_batch(batch.pk)
    assert result["status"] == "succeeded"
    batch.refresh_from_db()
    assert batch.rows_quarantined >= 1 and batch.quarantine_file  # the stored copy stays
    assert not services.work_dir(batch).exists()
    assert set(Path(tempfile.gettempdir()).glob("quarantine-*.csv")) == before


def test_a_failed_batch_runs_again_from_its_file(client, personas, tenants, catalog, sent, committed):
    FXRate.objects.create(date=dt.date(2026, 4, 1), currency="EUR", quote_currency="USD", rate=Decimal(files.EUR_RATE))
    batch = stored_batch(tenants["acme"])
    IngestBatch.objects.filter(pk=batch.pk).update(status="failed", error="The worker stopped", rows_read=3)
    client.force_login(personas["marketer"])
    page = client.get(reverse("import_detail", args=[batch.pk])).content.decode()
    assert "Re-run this import" in page
    with committed():
        response = client.post(reverse("import_rerun", args=[batch.pk]))
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == "pending" and batch.error == "" and batch.rows_read == 0 and sent == [batch.pk]
    assert ingest_batch(batch.pk)["status"] == "succeeded"  # what the worker then does
    assert batch.facts.count() == 4


def test_only_editors_of_the_tenant_may_rerun(client, personas, tenants, sent):
    batch = stored_batch(tenants["acme"])
    IngestBatch.objects.filter(pk=batch.pk).update(status="failed")
    client.force_login(personas["reviewer"])
    assert "Re-run this import" not in client.get(reverse("import_detail", args=[batch.pk])).content.decode()
    assert client.post(reverse("import_rerun", args=[batch.pk])).status_code == 403
    client.force_login(personas["stranger"])
    assert client.post(reverse("import_rerun", args=[batch.pk])).status_code == 404
    assert client.get(reverse("import_rerun", args=[batch.pk])).status_code in (404, 405)
    batch.refresh_from_db()
    assert batch.status == "failed" and sent == []


def test_the_api_reruns_a_failed_batch_and_refuses_a_finished_one(tenants, personas, sent, committed):
    from governance.models import Role
    from governance.services import api_key_create

    _, raw = api_key_create(tenant=tenants["acme"], name="ETL", role=Role.MARKETER, created_by=personas["owner"])
    failed = stored_batch(tenants["acme"])
    IngestBatch.objects.filter(pk=failed.pk).update(status="failed")
    done = stored_batch(tenants["acme"], status=IngestBatch.Status.SUCCEEDED)
    client = client_for(key=raw)
    with committed():
        response = client.post(f"{API}/ingest-batches/{failed.pk}/rerun/")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert_error(client.post(f"{API}/ingest-batches/{done.pk}/rerun/"), 400, field="status",
                 mentions=("only a failed import",))  # fmt: skip
    assert sent == [failed.pk]


def test_a_pending_batch_can_be_sent_again_once_its_message_may_be_lost(tenants, sent, committed):
    batch = stored_batch(tenants["acme"])
    with pytest.raises(services.DomainError, match="still waiting for a worker"):
        services.ingest_batch_rerun(batch=batch)
    IngestBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - dt.timedelta(minutes=20))
    batch.refresh_from_db()
    with committed():
        services.ingest_batch_rerun(batch=batch)
    assert sent == [batch.pk]


def test_uploads_and_quarantined_rows_are_deleted_after_the_retention_period(tenants, sent, settings):
    settings.INGEST_UPLOAD_RETENTION_DAYS = 30
    old, recent = stored_batch(tenants["acme"]), stored_batch(tenants["acme"])
    for batch, days in ((old, 31), (recent, 29)):
        batch.quarantine_file.save("q.csv", ContentFile(b"line,reason\n2,bad\n"), save=False)
        batch.status, batch.finished_at = "failed", timezone.now() - dt.timedelta(days=days)
        batch.save()
    old_paths = [Path(old.input_file.path), Path(old.quarantine_file.path)]
    assert services.ingest_uploads_purge() == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert not old.input_file and not old.quarantine_file and old.input_deleted_at is not None
    assert not any(p.exists() for p in old_paths)
    assert recent.input_file and Path(recent.input_file.path).exists()
    with pytest.raises(services.DomainError) as err:
        services.ingest_batch_rerun(batch=old)
    assert err.value.field == "input_file" and "kept 30 days" in err.value.message
    assert services.ingest_uploads_purge() == 0


def test_the_beat_schedule_runs_the_reaper_and_the_purge(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"harmonization.reap_dead_batches", "harmonization.purge_old_uploads", "optimizer.reap_dead_plans"} <= tasks

"""``kill -9`` of the Celery worker in every phase of an import leaves no partial facts.

Black-box: files go in through the upload service (``batch_create_from_upload``), a real worker process runs the
task, and the test looks only at the database: the batch's row, the tenant's facts and campaigns, and which
connection holds a write lock on the fact table. The worker is killed

- while it reads the file (the batch is running and has read part of it),
- while it writes facts (another connection holds a write lock on the fact table: PostgreSQL's pg_locks, or
  SQLite's single writer lock held across two probes),

on a first import into an empty tenant and on a re-import over existing facts. After each kill the tenant's facts
are exactly the state before the import (or, when the kill came after the commit, exactly the new batch's) and the
batch is not marked succeeded unless its facts are all there. That a killed batch then ends
failed or re-run (the reaper) is the test at the end.

The worker and the test share a private folder broker (never the configured one, Redis in CI): the test makes a
Celery app on that folder the current app while it calls the service, so the service's own enqueue lands there.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from celery import Celery
from django.conf import settings
from django.core.files import File
from django.db import connection

from campaigns.models import SKU, Brand, Campaign, PerformanceFact, RetailerItem
from demo.engine.exports import catalog, generate_export
from harmonization.models import IngestBatch
from harmonization.services import batch_create_from_upload, ingest_batch_rerun, reap_dead_batches
from rmn_site.envconfig import broker_url

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LAYOUT = "amazon_sp_advertised_product"
ROWS = 120_000  # a few seconds of reading and a second or more of writing facts, on either database
FACT_COLUMNS = (
    "campaign__external_id", "date", "sku_id", "placement_type", "attribution_window_days", "attribution_model",
    "impressions", "clicks", "spend", "attributed_sales", "attributed_units", "ingest_batch_id",
)  # fmt: skip


# --- files ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    """``first``: an export of the layout; ``second``: the same rows (same keys) with other numbers, as a corrected
    re-export would be."""
    folder = tmp_path_factory.mktemp("exports")
    first = folder / "first.csv"
    generate_export(LAYOUT, first, rows=ROWS, seed=3)
    header = first.open().readline().strip().split(",")
    table = pacsv.read_csv(first, convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())))
    impressions = pc.add(table["impressions"].cast(pa.int64()), 1).cast(pa.string())
    table = table.set_column(header.index("impressions"), "impressions", impressions)
    second = folder / "second.csv"
    pacsv.write_csv(table, second, pacsv.WriteOptions(quoting_style="needed"))
    return {"first": first, "second": second}


@pytest.fixture
def tenant(tenants, retailers):
    """Acme with the export's catalog: a brand per brand of the file, its SKUs and their ASINs."""
    acme, amazon = tenants["acme"], retailers["amazon"]
    items = catalog(3)
    brands = {name: Brand.objects.create(tenant=acme, name=name) for name in dict.fromkeys(i.brand for i in items)}
    skus = SKU.objects.bulk_create(
        SKU(tenant=acme, brand=brands[i.brand], sku_code=i.sku_code, name=i.name, gtin=i.gtin,
            price=Decimal(i.price_cents) / 100, unit_cost=Decimal(i.unit_cost_cents) / 100)
        for i in items
    )  # fmt: skip
    RetailerItem.objects.bulk_create(
        RetailerItem(tenant=acme, sku=sku, retailer=amazon, item_id=i.asin) for sku, i in zip(skus, items, strict=True)
    )
    return acme


def facts(tenant) -> list[tuple]:
    return sorted(PerformanceFact.objects.filter(tenant=tenant).values_list(*FACT_COLUMNS))


# --- the worker and its broker --------------------------------------------------------------------------------------


class Workers:
    """Real ``celery worker`` processes on a private folder broker, started and killed by the test."""

    def __init__(self, folder: Path, media: Path):
        self.folder, self.media = folder, media
        self.url, self.options = broker_url(None, folder=folder / "celery")
        for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            Path(self.options[key]).mkdir(parents=True, exist_ok=True)
        self.app = Celery("rmn_site", set_as_current=False)
        self.app.config_from_object("django.conf:settings", namespace="CELERY")
        # Celery reads CELERY_BROKER_URL from the environment before any setting (CI sets it to Redis); the read and
        # write URLs are read from the settings first, so they pin this app to the folder.
        self.app.conf.update(
            broker_url=self.url, broker_read_url=self.url, broker_write_url=self.url,
            broker_transport_options=self.options, result_backend=f"file://{folder / 'celery' / 'results'}",
        )  # fmt: skip
        assert self.app.connection_for_write().transport_cls == "filesystem", self.app.connection_for_write().as_uri()
        self.procs: list[subprocess.Popen] = []
        self.started = 0

    @contextmanager
    def current(self):
        """The app on the private broker as the current Celery app: tasks sent meanwhile go to its folder."""
        from celery import current_app

        previous = current_app._get_current_object()
        self.app.set_current()
        try:
            yield self.app
        finally:
            previous.set_current()

    def start(self, database_url: str) -> subprocess.Popen:
        self.started += 1
        log_path = self.folder / f"worker-{self.started}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_") and k != "REDIS_URL"}
        env.update(
            DATABASE_URL=database_url, DATABASE_CONN_MAX_AGE="0", CELERY_DATA_DIR=str(self.folder / "celery"),
            MEDIA_ROOT=str(self.media),
        )  # fmt: skip
        celery_bin = Path(sys.executable).with_name("celery")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [str(celery_bin), "-A", "rmn_site", "worker", "-Q", "cpu", "--pool", "solo", "--loglevel", "INFO",
                 "--without-mingle", "--without-gossip", "--hostname", f"kill-{os.getpid()}-{self.started}@%h"],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
        self.procs.append(proc)
        deadline = time.monotonic() + 90
        while b" ready." not in log_path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                self.kill(proc)
                raise RuntimeError(f"Celery worker did not start:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.1)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        """``kill -9`` of the worker (and anything it started), then wait until it is gone."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in self.procs:
            self.kill(proc)


@pytest.fixture
def workers(tmp_path, settings, worker_database_url):
    settings.MEDIA_ROOT = tmp_path / "media"  # the worker reads the uploads from the same folder
    pool = Workers(tmp_path, settings.MEDIA_ROOT)
    pool.database_url = worker_database_url
    yield pool
    pool.stop_all()
    _wait_for_no_writer(timeout=60)  # a killed worker's PostgreSQL backend may still be rolling back


def upload(workers: Workers, tenant, path: Path) -> IngestBatch:
    """The upload service, as the imports page and the API call it; its task goes to the private broker."""
    with workers.current(), path.open("rb") as handle:
        return batch_create_from_upload(tenant=tenant, mapping_name=LAYOUT, upload=File(handle, name="export.csv"))


def send_again(workers: Workers, batch: IngestBatch) -> None:
    """What follows a killed import: the reaper fails it (here at once: its worker is known dead), and a person runs
    it again (the Re-run button or API). A plain redelivery of the message does nothing: the batch is not pending."""
    with workers.current():
        reap_dead_batches(stale_after_s=0)  # every batch a killed worker left running so far
        batch.refresh_from_db()
        assert batch.status == IngestBatch.Status.FAILED and "stopped while importing" in batch.error
        ingest_batch_rerun(batch=batch)


# --- watching the database ------------------------------------------------------------------------------------------


def _other_writer_on_facts() -> bool:
    """Another connection holds a write lock on the fact table, i.e. is inside a transaction that writes facts."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = %s"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND l.mode <> 'AccessShareLock' AND l.pid <> pg_backend_pid() LIMIT 1",
                [PerformanceFact._meta.db_table],
            )
            return cursor.fetchone() is not None
    # SQLite has one writer for the whole file: a write transaction held across two probes 0.1 s apart is the
    # import's (the progress updates in between are single statements of a millisecond).
    return _sqlite_locked() and (time.sleep(0.1) or _sqlite_locked())


def _sqlite_locked() -> bool:
    probe = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc), exc
        return True
    finally:
        probe.close()


def _wait_for_no_writer(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if connection.vendor != "postgresql" or not _other_writer_on_facts():
            return
        time.sleep(0.2)


def wait_until(what, condition, *, timeout: float = 90, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def _not_finished(batch: IngestBatch) -> None:
    batch.refresh_from_db()
    assert batch.status != IngestBatch.Status.FAILED, f"the import failed: {batch.error}"
    assert batch.status != IngestBatch.Status.SUCCEEDED, "the import finished before the worker could be killed"


def reading(batch: IngestBatch) -> bool:
    _not_finished(batch)
    return batch.status == IngestBatch.Status.RUNNING and 0 < batch.bytes_read < batch.input_bytes


def writing_facts(batch: IngestBatch) -> bool:
    if _other_writer_on_facts():
        return True
    _not_finished(batch)
    return False


def kill_when(workers: Workers, proc, batch: IngestBatch, phase) -> None:
    began = time.monotonic()
    wait_until(f"batch {batch.pk} {phase.__name__}", lambda: phase(batch))
    workers.kill(proc)
    print(f"killed batch {batch.pk} {phase.__name__} after {time.monotonic() - began:.1f} s")


def finished(batch: IngestBatch, timeout: float = 120) -> IngestBatch:
    def done():
        batch.refresh_from_db()
        return batch.status in (IngestBatch.Status.SUCCEEDED, IngestBatch.Status.FAILED)

    wait_until(f"batch {batch.pk} to finish", done, timeout=timeout, every=0.2)
    return batch


def assert_old_or_new(tenant, batch: IngestBatch, old: list[tuple], campaigns_before: int) -> str:
    """The facts are exactly ``old`` and the batch is not succeeded, or the batch succeeded and every fact of the
    tenant is the batch's (the kill came after the commit). Returns which."""
    batch.refresh_from_db()
    now = facts(tenant)
    if batch.status == IngestBatch.Status.SUCCEEDED:
        assert now and {row[-1] for row in now} == {batch.pk}, "a succeeded batch, but not all facts are its own"
        return "new"
    assert now == old, f"partial facts: {len(now)} rows, {len(old)} before the import (batch {batch.status})"
    assert Campaign.objects.filter(tenant=tenant).count() == campaigns_before, "campaigns of a killed import remain"
    return "old"


# --- the tests ------------------------------------------------------------------------------------------------------


def test_a_killed_worker_leaves_the_old_facts_or_the_new_batch_whole(workers, tenant, exports):
    campaigns_before = Campaign.objects.filter(tenant=tenant).count()
    outcomes = {}

    # A first import into a tenant without facts, killed while reading, then while writing its facts.
    proc = workers.start(workers.database_url)
    batch = upload(workers, tenant, exports["first"])
    kill_when(workers, proc, batch, reading)
    outcomes["first import, reading"] = assert_old_or_new(tenant, batch, [], campaigns_before)

    proc = workers.start(workers.database_url)
    batch = upload(workers, tenant, exports["first"])
    kill_when(workers, proc, batch, writing_facts)
    outcomes["first import, writing facts"] = assert_old_or_new(tenant, batch, [], campaigns_before)

    # The same batch, reaped and run again, loads whole.
    proc = workers.start(workers.database_url)
    if outcomes["first import, writing facts"] == "old":
        send_again(workers, batch)
    assert finished(batch).status == IngestBatch.Status.SUCCEEDED, batch.error
    old = facts(tenant)
    assert len(old) == batch.report["facts"] > 1000
    campaigns_loaded = Campaign.objects.filter(tenant=tenant).count()

    # A re-import of the same keys with other numbers, killed while reading, then while replacing the facts.
    batch = upload(workers, tenant, exports["second"])
    kill_when(workers, proc, batch, reading)
    outcomes["re-import, reading"] = assert_old_or_new(tenant, batch, old, campaigns_loaded)

    proc = workers.start(workers.database_url)
    batch = upload(workers, tenant, exports["second"])
    kill_when(workers, proc, batch, writing_facts)
    outcomes["re-import, replacing facts"] = assert_old_or_new(tenant, batch, old, campaigns_loaded)
    workers.kill(proc)

    # The kills landed where they were aimed: nothing was committed by a killed worker.
    assert outcomes == dict.fromkeys(outcomes, "old"), outcomes
    # And none of the killed batches claims success.
    killed = IngestBatch.objects.filter(tenant=tenant).exclude(status=IngestBatch.Status.SUCCEEDED)
    assert killed.count() == 3


def test_a_killed_import_ends_failed_or_is_run_again(workers, tenant, exports):
    """After the kill, a fresh worker and the periodic sweeps the beat schedule sends (the reaper) bring the batch to
    an end: failed with nothing loaded (its process is gone: reaped after two missed heartbeats, about 20 s)."""
    proc = workers.start(workers.database_url)
    batch = upload(workers, tenant, exports["first"])
    kill_when(workers, proc, batch, reading)
    workers.start(workers.database_url)
    sweeps = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"].startswith("harmonization.")]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and batch.status not in (IngestBatch.Status.SUCCEEDED, IngestBatch.Status.FAILED):
        with workers.current() as app:
            for task in sweeps:
                app.send_task(task, queue="cpu")
        time.sleep(2)
        batch.refresh_from_db()
    assert batch.status in (IngestBatch.Status.SUCCEEDED, IngestBatch.Status.FAILED), batch.status
    assert_old_or_new(tenant, batch, [], 0)

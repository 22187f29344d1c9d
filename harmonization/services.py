"""Writes for harmonization: ingest a file into a tenant (or to Parquet), uploads, saved mappings.

The engine (harmonization.engine, no Django) reads, transforms and checks; this module builds its lookups from the
database, runs it with the DbSink (harmonization.loader) and records the batch: status, counts, progress, report,
quarantined rows and an audit entry.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.models import SKU, Retailer, RetailerItem
from core.errors import DomainError
from core.liveness import Heartbeat, stale, worker_identity
from governance.limits import human_bytes
from governance.models import Tenant
from governance.privacy import PIITally, pii_scrub_json, pii_scrub_text
from governance.selectors import tenant_limits
from governance.services import audit_record
from harmonization.engine import (
    Harmonizer,
    InputLimits,
    Lookups,
    MappingError,
    MappingSpec,
    ParquetSink,
    Progress,
    QuarantineCsvWriter,
    SourceError,
    check_header_width,
    load_mapping,
    load_mapping_file,
)
from harmonization.engine.stored_copy import redact_stored_file
from harmonization.loader import DbSink, LoadError
from harmonization.models import FXRate, IngestBatch, Mapping
from harmonization.tasks import ingest_batch

PROGRESS_INTERVAL_S = 1.0
# A running batch's worker touches heartbeat_at this often; the reaper fails a batch silent for STALE_AFTER_S
# (settings INGEST_HEARTBEAT_S, INGEST_STALE_AFTER_S), sooner when its process is gone from this host.
DEFAULT_HEARTBEAT_S = 10.0
DEFAULT_STALE_AFTER_S = 120.0
# A pending batch whose message may be lost can be sent again after this long (INGEST_QUEUED_WARN_S).
DEFAULT_QUEUED_WARN_S = 900.0
# Uploaded files and quarantined rows (raw rows, personal data included) are deleted this many days after the batch
# finished (INGEST_UPLOAD_RETENTION_DAYS); the batch, its counts and its report stay.
DEFAULT_RETENTION_DAYS = 30
# Errors that describe the input or the mapping: the batch fails with the message, nothing is written.
EXPECTED_ERRORS = (MappingError, SourceError, LoadError, DomainError)


def fx_rates_upsert(rates: Iterable[FXRate]) -> int:
    """Insert dated FX rates, replacing the rate (and source) of a day and pair already stored. Returns the count."""
    rates = list(rates)
    FXRate.objects.bulk_create(
        rates,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["date", "currency", "quote_currency"],
        update_fields=["rate", "source"],
    )
    return len(rates)


def mappings_dir() -> Path:
    return Path(settings.BASE_DIR) / "config" / "mappings"


# --- lookups ----------------------------------------------------------------------------------------------------


def lookups_for(tenant: Tenant, retailer_codes: Iterable[str] | None = None) -> Lookups:
    """FX rates into the tenant's reporting currency and the tenant's SKU crosswalk, as the engine wants them."""
    target = tenant.reporting_currency
    rates: dict[tuple, float] = {}
    # Inverse pairs first, so a direct quote of the same day wins.
    for day, currency, rate in FXRate.objects.filter(currency=target).values_list("date", "quote_currency", "rate"):
        rates[(day, currency)] = 1 / float(rate)
    for day, currency, rate in FXRate.objects.filter(quote_currency=target).values_list("date", "currency", "rate"):
        rates[(day, currency)] = float(rate)
    items = RetailerItem.objects.filter(tenant=tenant)
    if retailer_codes is not None:
        items = items.filter(retailer__code__in=list(retailer_codes))
    skus = SKU.objects.filter(tenant=tenant)
    sku_index = {
        "retailer_item_id": {
            f"{code}|{item_id}": sku_id
            for code, item_id, sku_id in items.values_list("retailer__code", "item_id", "sku")
        },
        # The engine matches GTINs as 14 digits, so a UPC-12 and its EAN-13/GTIN-14 spellings all find the SKU.
        "gtin": {gtin.zfill(14): pk for gtin, pk in skus.exclude(gtin="").values_list("gtin", "pk")},
        "sku_code": {code: pk for code, pk in skus.values_list("sku_code", "pk")},
    }
    codes = list(retailer_codes or [])
    zone = (
        Retailer.objects.filter(code=codes[0]).values_list("timezone", flat=True).first() if len(codes) == 1 else None
    )
    return Lookups(
        reporting_currency=target,
        fx_rates=[(day, currency, rate) for (day, currency), rate in sorted(rates.items())],
        sku_index=sku_index,
        default_timezone=zone,
    )


# --- mappings ---------------------------------------------------------------------------------------------------


def shipped_mapping_files() -> list[Path]:
    folder = mappings_dir()
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def mapping_resolve(name_or_path: str, tenant: Tenant | None = None, *, allow_path: bool = True) -> MappingSpec:
    """A mapping by file path (command line only), shipped name (config/mappings/<name>.yaml) or saved name (the
    tenant's own first, then shared). Raises MappingError for an invalid document, DomainError for an unknown name."""
    candidate = Path(name_or_path)
    if allow_path and (candidate.suffix in (".yaml", ".yml") or os.sep in name_or_path):
        if not candidate.is_file():
            raise DomainError(f"mapping file {name_or_path} does not exist", field="mapping")
        return load_mapping_file(candidate)
    if "/" in name_or_path or "\\" in name_or_path or name_or_path.startswith("."):
        raise DomainError(f"{name_or_path!r} is not a mapping name", field="mapping")
    shipped = mappings_dir() / f"{name_or_path}.yaml"
    if shipped.is_file():
        return load_mapping_file(shipped)
    saved = None
    if tenant is not None:
        saved = Mapping.objects.filter(tenant=tenant, name=name_or_path).first()
    saved = saved or Mapping.objects.filter(tenant__isnull=True, name=name_or_path).first()
    if saved is None:
        raise DomainError(f"no mapping named {name_or_path!r}", field="mapping")
    return load_mapping(saved.yaml_text, origin=f"mapping {saved.name}")


def mapping_save(*, yaml_text: str, tenant: Tenant | None, name: str | None = None, user=None) -> Mapping:
    """Validate and store a mapping (create, or replace the text of the tenant's mapping of that name)."""
    try:
        spec = load_mapping(yaml_text, origin=name or "mapping")
    except MappingError as exc:
        raise DomainError(str(exc), field="yaml_text") from None
    name = name or spec.name
    if not spec.retailer:
        raise DomainError("a saved mapping must name its retailer (top-level key retailer)", field="yaml_text")
    retailer = Retailer.objects.filter(code=spec.retailer).first()
    if retailer is None:
        raise DomainError(f"retailer: unknown retailer code {spec.retailer!r}", field="yaml_text")
    try:
        with transaction.atomic():
            mapping, created = Mapping.objects.update_or_create(
                tenant=tenant,
                name=name,
                defaults={"retailer": retailer, "yaml_text": yaml_text, "created_by": user},
            )
            audit_record(
                action="mapping.create" if created else "mapping.update", tenant=tenant, user=user, obj=mapping
            )
    except IntegrityError:
        raise DomainError(f"a mapping named {name!r} already exists", field="name") from None
    return mapping


# --- ingest -----------------------------------------------------------------------------------------------------


class _WithQuarantineCsv:
    """Adds the quarantine CSV to a sink that does not keep quarantined rows itself (ParquetSink)."""

    def __init__(self, sink, quarantine: Callable[[pa.Table], None]):
        self.sink = sink
        self._quarantine = quarantine

    def write(self, table: pa.Table) -> None:
        self.sink.write(table)

    def quarantine(self, table: pa.Table) -> None:
        self._quarantine(table)
        self.sink.quarantine(table)

    def commit(self, report) -> None:
        self.sink.commit(report)

    def abort(self) -> None:
        self.sink.abort()


class _QuarantineFile:
    """Quarantined rows streamed to a temporary CSV in the batch's work folder, opened on the first row only."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder
        self.path: Path | None = None
        self._writer = None

    def __call__(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        if self._writer is None:
            if self.folder is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="quarantine-", suffix=".csv", dir=self.folder)
            os.close(fd)
            self.path = Path(name)
            self._writer = QuarantineCsvWriter(self.path)
        self._writer.write(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def discard(self) -> None:
        self.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def work_dir(batch: IngestBatch) -> Path:
    """Where a running batch keeps its temporary files; removed when the run ends, however it ends (and by the
    reaper when the worker died), so raw rows never linger in the system's temp folder."""
    return Path(settings.MEDIA_ROOT) / "ingest" / "work" / f"batch-{batch.pk}"


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def _retailer_for(spec: MappingSpec) -> Retailer | None:
    return Retailer.objects.filter(code=spec.retailer).first() if spec.retailer else None


def ingest_file(
    *,
    tenant: Tenant,
    spec: MappingSpec,
    path: str | Path,
    batch: IngestBatch | None = None,
    user=None,
    output: str | Path | None = None,
    progress: Callable[[Progress], None] | None = None,
    limits: InputLimits | None = None,
) -> IngestBatch:
    """Harmonize ``path`` with ``spec`` into the tenant's facts (or into the Parquet file ``output``).

    Returns the batch, succeeded or failed. A failure that the input or the mapping explains (bad file, threshold
    broken, unknown retailer, more rows or columns than ``limits``: by default the tenant's, import_limits) is
    recorded on the batch and not raised; anything else is recorded and re-raised."""
    path = Path(path)
    if batch is None:
        batch = IngestBatch.objects.create(
            tenant=tenant,
            retailer=_retailer_for(spec),
            # A Parquet run is recorded too, but names its output so nobody looks for its rows in the database.
            source=path.name if output is None else f"{path.name} -> {Path(output).name} (Parquet, not loaded)",
            mapping_name=spec.name,
            mapping_yaml=spec.text,
            input_bytes=path.stat().st_size if path.exists() else 0,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        audit_record(action="ingest_batch.create", tenant=tenant, user=user, obj=batch)
    batch.status = IngestBatch.Status.RUNNING
    batch.started_at = batch.heartbeat_at = timezone.now()
    batch.worker = worker_identity()
    batch.error = ""
    batch.bytes_read = 0
    if path.exists():
        batch.input_bytes = path.stat().st_size
    batch.save(update_fields=["status", "started_at", "heartbeat_at", "worker", "error", "bytes_read", "input_bytes"])

    work = work_dir(batch)
    quarantine = _QuarantineFile(work)
    heartbeat = Heartbeat(
        lambda: _running(batch.pk).update(heartbeat_at=timezone.now()),
        _setting("INGEST_HEARTBEAT_S", DEFAULT_HEARTBEAT_S),
        name=f"ingest-batch-{batch.pk}-heartbeat",
    )
    heartbeat.start()
    try:
        _ingest(batch, tenant=tenant, spec=spec, path=path, user=user, output=output, progress=progress,
                quarantine=quarantine, limits=limits)  # fmt: skip
    finally:
        heartbeat.stop()
        quarantine.discard()
        shutil.rmtree(work, ignore_errors=True)
    return batch


def _running_any():
    return IngestBatch.objects.filter(status=IngestBatch.Status.RUNNING)


def _running(batch_id: int):
    return _running_any().filter(pk=batch_id)


def _ingest(batch, *, tenant, spec, path, user, output, progress, quarantine, limits) -> None:
    last_update = [0.0]

    def on_progress(p: Progress) -> None:
        now = time.monotonic()
        if now - last_update[0] >= PROGRESS_INTERVAL_S:
            last_update[0] = now
            IngestBatch.objects.filter(pk=batch.pk).update(
                bytes_read=p.bytes_read,
                rows_read=p.rows_read,
                rows_loaded=p.rows_loaded,
                rows_quarantined=p.rows_quarantined,
            )
        if progress is not None:
            progress(p)

    def finalize(report) -> None:
        _record_result(batch, report, quarantine)

    if output is not None:
        sink = _WithQuarantineCsv(ParquetSink(output), quarantine)
    else:
        sink = DbSink(tenant=tenant, batch=batch, quarantine=quarantine, finalize=finalize)
    # Personal data in the rows, per the mapping's pii actions, before the sink stores or quarantines anything.
    pii = PIITally(source="harmonization.upload", tenant=tenant, user=user, obj=batch)
    try:
        lookups = lookups_for(tenant, [spec.retailer] if spec.retailer else None)
        limits = import_limits(tenant) if limits is None else limits
        report = Harmonizer(spec, lookups, limits=limits, scrub=pii.scrub).run(path, sink, progress=on_progress)
        if output is not None and report.passed:
            finalize(report)
        elif not report.passed:
            _record_result(batch, report, quarantine)
    except EXPECTED_ERRORS as exc:
        report = getattr(sink, "report", None)  # set when the run got as far as loading
        _record_failure(batch, getattr(exc, "message", None) or str(exc), quarantine, report=report)
    except Exception as exc:
        _record_failure(batch, f"internal error ({type(exc).__name__}): {exc}", quarantine)
        raise
    finally:
        if _is_stored_upload(batch, path):
            # The stored upload, kept for a re-run, keeps no more personal data than the database.
            stored_file_without_pii(batch, spec=spec, refused=bool(pii.refused), user=user)
        pii.record()
    if getattr(sink, "replace_seconds", None) is not None:
        # How long the replace held the database (on SQLite, every other writer waits that long).
        batch.report = {**batch.report, "replace_seconds": round(sink.replace_seconds, 3)}
        batch.save(update_fields=["report"])
    audit_record(
        action="ingest_batch.finish",
        tenant=tenant,
        user=user,
        obj=batch,
        detail={"status": batch.status, "rows_loaded": batch.rows_loaded, "rows_quarantined": batch.rows_quarantined},
    )
    if isinstance(sink, DbSink) and sink.campaigns_created:
        audit_record(
            action="campaign.create_from_ingest",
            tenant=tenant,
            user=user,
            obj=batch,
            detail={"campaigns": sink.campaigns_created},
        )


def _is_stored_upload(batch: IngestBatch, path) -> bool:
    if not batch.input_file:
        return False
    try:
        return Path(batch.input_file.path).resolve() == Path(path).resolve()
    except (NotImplementedError, ValueError, OSError):  # a storage without local paths
        return False


STORED_FILE_ERRORS = (SourceError, OSError, EOFError, ValueError, csv.Error, pa.ArrowException)


def stored_file_without_pii(batch: IngestBatch, *, spec: MappingSpec | None, refused: bool = False, user=None) -> None:
    """Replace a batch's stored upload by its copy without personal data (harmonization.engine.stored_copy: each
    loaded column as the run handled it, everything else redacted), or delete it: when the PII policy refused the file,
    or when it cannot be read to be rewritten (fail closed). A deleted file cannot be run again: upload it again."""
    if not batch.input_file:
        return
    tally = PIITally(source="harmonization.stored_file", tenant=batch.tenant, user=user, obj=batch)
    reason = "the PII policy refused the file" if refused else ""
    if spec is None:
        reason = "its mapping cannot be read"
    if not reason:
        try:
            redact_stored_file(batch.input_file.path, spec, tally.scrub)
        except STORED_FILE_ERRORS as exc:
            reason = f"it could not be rewritten without personal data ({type(exc).__name__})"
    if reason:
        batch.input_file.delete(save=False)
        batch.input_deleted_at = timezone.now()
        batch.save(update_fields=["input_file", "input_deleted_at"])
        audit_record(action="ingest_batch.delete_file", tenant=batch.tenant, user=user, obj=batch,
                     detail={"reason": reason})  # fmt: skip
    tally.record()


def _record_result(batch: IngestBatch, report, quarantine: _QuarantineFile) -> None:
    data = report.to_dict()
    batch.report = data
    batch.rows_read = data.get("rows_read", 0)
    batch.rows_loaded = data.get("rows_loaded", 0)
    batch.rows_quarantined = data.get("rows_quarantined", 0)
    batch.bytes_read = batch.input_bytes
    batch.finished_at = timezone.now()
    if report.passed:
        batch.status = IngestBatch.Status.SUCCEEDED
        batch.error = ""
    else:
        batch.status = IngestBatch.Status.FAILED
        batch.error = "quality thresholds failed: " + "; ".join(report.failures)
    _store_quarantine(batch, quarantine)
    _without_pii(batch)
    batch.save()


def _record_failure(batch: IngestBatch, message: str, quarantine: _QuarantineFile, report=None) -> None:
    if report is not None:
        _record_result(batch, report, quarantine)
        failures = [*batch.report.get("failures", []), message]
        batch.report = {**batch.report, "facts": 0, "passed": False, "failures": failures}
    else:
        quarantine.discard()
    batch.status = IngestBatch.Status.FAILED
    batch.error = message
    batch.finished_at = timezone.now()
    _without_pii(batch)
    batch.save()


def _without_pii(batch: IngestBatch) -> None:
    """The report and the error are shown on pages and in the API: a reader's message may quote a cell."""
    batch.report = pii_scrub_json(value=batch.report, source="harmonization.report", tenant=batch.tenant, obj=batch)
    batch.error = pii_scrub_text(text=batch.error, source="harmonization.report", tenant=batch.tenant, obj=batch)


def _store_quarantine(batch: IngestBatch, quarantine: _QuarantineFile) -> None:
    quarantine.close()
    if quarantine.path is None:
        return
    try:
        with quarantine.path.open("rb") as handle:
            batch.quarantine_file.save(f"batch-{batch.pk}-quarantine.csv", File(handle), save=False)
    finally:
        quarantine.path.unlink(missing_ok=True)


def import_limits(tenant: Tenant) -> InputLimits:
    """The tenant's bounds on one imported file's rows and header columns, as the engine takes them."""
    limits = tenant_limits(tenant)
    return InputLimits(
        max_rows=limits.import_rows,
        max_columns=limits.import_columns,
        rows_note=limits.why("import_rows"),
        columns_note=limits.why("import_columns"),
    )


def upload_check(*, tenant: Tenant, spec: MappingSpec, upload) -> None:
    """Refuse an upload the tenant's limits do not allow before it is stored: its size, and a CSV/TSV header with
    more columns than allowed (counted on the first MiB, decompressed; never split). Rows are counted by the run."""
    name = Path(upload.name).name
    if not upload.size:
        raise DomainError(f"{name} is empty", field="file")
    limits = tenant_limits(tenant)
    if upload.size > limits.upload_bytes:
        raise DomainError(
            f"{name} is {human_bytes(upload.size)}; at most {human_bytes(limits.upload_bytes)} may be uploaded "
            f"({limits.why('upload_bytes')}). An operator can load a larger file with `manage.py harmonize`.",
            field="file",
        )
    upload.seek(0)
    try:
        check_header_width(upload, spec.source, name=name, limits=import_limits(tenant))
    except SourceError as exc:
        raise DomainError(str(exc), field="file") from None
    finally:
        upload.seek(0)


def batch_create_from_upload(*, tenant: Tenant, mapping_name: str, upload, user=None, api_key=None) -> IngestBatch:
    """Store an uploaded file as a pending batch and queue its ingest once the transaction commits. The tenant's
    limits apply: upload_check here, rows and columns again when the batch runs."""
    try:
        spec = mapping_resolve(mapping_name, tenant, allow_path=False)
    except MappingError as exc:
        raise DomainError(str(exc), field="mapping") from None
    upload_check(tenant=tenant, spec=spec, upload=upload)
    # the file's name is shown on pages and is part of its path on disk: a name may hold personal data too
    name = pii_scrub_text(text=Path(upload.name).name, source="harmonization.upload", tenant=tenant, user=user,
                          api_key=api_key)  # fmt: skip
    task_id = str(uuid.uuid4())
    with transaction.atomic():
        batch = IngestBatch(
            tenant=tenant,
            retailer=_retailer_for(spec),
            source=name[:300],
            mapping_name=mapping_name,
            mapping_yaml=spec.text,
            input_bytes=upload.size,
            task_id=task_id,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        batch.input_file.save(name, upload, save=False)
        batch.save()
        audit_record(action="ingest_batch.create", tenant=tenant, user=user, api_key=api_key, obj=batch)
        transaction.on_commit(lambda: ingest_batch.apply_async((batch.pk,), task_id=task_id))
    return batch


def _claim(batch_id: int) -> IngestBatch | None:
    """Mark a pending batch running on this worker; None when it is not pending (finished, or running elsewhere)."""
    with transaction.atomic():
        batch = IngestBatch.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=batch_id)
        if batch.status != IngestBatch.Status.PENDING:
            return None
        batch.status, batch.worker = IngestBatch.Status.RUNNING, worker_identity()
        batch.started_at = batch.heartbeat_at = timezone.now()
        batch.save(update_fields=["status", "worker", "started_at", "heartbeat_at"])
    return batch


def ingest_batch_run(*, batch_id: int) -> IngestBatch:
    """Run a stored batch (the task's body). Only a pending batch runs: a redelivered message for a finished batch,
    or for one another worker is running, does nothing (a dead worker's batch is failed by the reaper)."""
    batch = _claim(batch_id)
    if batch is None:
        return IngestBatch.objects.get(pk=batch_id)
    try:
        spec = load_mapping(batch.mapping_yaml, origin=f"mapping {batch.mapping_name}")
    except MappingError as exc:
        _record_failure(batch, str(exc), _QuarantineFile())
        return batch
    return ingest_file(tenant=batch.tenant, spec=spec, path=batch.input_file.path, batch=batch, user=batch.created_by)


# --- lost work: the reaper, re-runs, retention ------------------------------------------------------------------


def reap_dead_batches(*, stale_after_s: float | None = None) -> int:
    """Fail running batches whose worker stopped (no heartbeat for INGEST_STALE_AFTER_S, 120 s, or its process is
    gone from this host after two missed beats) and remove their temporary files; return how many. The facts are as
    they were: a replace commits in one transaction or not at all. Safe to run anywhere at any time (beat: 60 s)."""
    if stale_after_s is None:
        stale_after_s = _setting("INGEST_STALE_AFTER_S", DEFAULT_STALE_AFTER_S)
    beat_s = _setting("INGEST_HEARTBEAT_S", DEFAULT_HEARTBEAT_S)
    reaped = 0
    for batch_id, _, heartbeat_at in stale(_running_any(), stale_after_s=stale_after_s, heartbeat_s=beat_s):
        with transaction.atomic():
            batch = IngestBatch.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=batch_id)
            if batch.status != IngestBatch.Status.RUNNING or batch.heartbeat_at != heartbeat_at:
                continue  # finished, or beat again, since the query
            silent_s = (timezone.now() - batch.heartbeat_at).total_seconds()
            batch.status, batch.finished_at = IngestBatch.Status.FAILED, timezone.now()
            batch.error = (
                f"The worker {batch.worker or '(unknown)'} stopped while importing (it died or was stopped): nothing "
                f"heard for {silent_s:.0f} s. Nothing was loaded; the facts are as they were. Re-run the import."
            )
            batch.save(update_fields=["status", "finished_at", "error"])
            audit_record(action="ingest_batch.reap", tenant=batch.tenant, obj=batch, detail={"worker": batch.worker})
        shutil.rmtree(work_dir(batch), ignore_errors=True)
        # the run that would have rewritten its stored upload without personal data never ended
        try:
            spec = load_mapping(batch.mapping_yaml, origin=f"mapping {batch.mapping_name}")
        except MappingError:
            spec = None
        stored_file_without_pii(batch, spec=spec)
        reaped += 1
    return reaped


def batch_queued_too_long(batch: IngestBatch, *, now=None) -> bool:
    """Pending for longer than INGEST_QUEUED_WARN_S (900 s): its message may be lost, so it may be sent again."""
    if batch.status != IngestBatch.Status.PENDING:
        return False
    limit = _setting("INGEST_QUEUED_WARN_S", DEFAULT_QUEUED_WARN_S)
    return ((now or timezone.now()) - batch.created_at).total_seconds() > limit


def retention_days() -> int:
    return int(_setting("INGEST_UPLOAD_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))


def batch_can_rerun(batch: IngestBatch) -> bool:
    return batch.status == IngestBatch.Status.FAILED or batch_queued_too_long(batch)


def ingest_batch_rerun(*, batch: IngestBatch, user=None, api_key=None) -> IngestBatch:
    """Run a failed batch again from its stored file with the mapping it was created with (or send a pending batch
    whose message was lost again). Its counts, report and quarantined rows start over."""
    task_id = str(uuid.uuid4())
    with transaction.atomic():
        batch = IngestBatch.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=batch.pk)
        if not batch_can_rerun(batch):
            state = "still waiting for a worker" if batch.status == IngestBatch.Status.PENDING else batch.status
            raise DomainError(f"Import #{batch.pk} is {state}: only a failed import can be run again.", field="status")
        if not batch.input_file:
            when = f" on {batch.input_deleted_at:%d %b %Y}" if batch.input_deleted_at else ""
            raise DomainError(
                f"The file of import #{batch.pk} was deleted{when} (uploads are kept {retention_days()} days; one "
                "the personal-data policy refused, or one that could not be rewritten without personal data, is "
                "deleted when it has run): upload it again.",
                field="input_file",
            )
        if not batch.input_file.storage.exists(batch.input_file.name):
            raise DomainError(f"The file of import #{batch.pk} is missing from storage: upload it again.",
                              field="input_file")  # fmt: skip
        if batch.quarantine_file:
            batch.quarantine_file.delete(save=False)
        batch.status, batch.error, batch.report, batch.task_id = IngestBatch.Status.PENDING, "", {}, task_id
        batch.rows_read = batch.rows_loaded = batch.rows_quarantined = batch.bytes_read = 0
        batch.started_at = batch.finished_at = batch.heartbeat_at = None
        batch.worker = ""
        batch.save()
        audit_record(action="ingest_batch.rerun", tenant=batch.tenant, user=user, api_key=api_key, obj=batch)
        transaction.on_commit(lambda: ingest_batch.apply_async((batch.pk,), task_id=task_id))
    return batch


def ingest_uploads_purge(*, retention_days_override: int | None = None, now=None) -> int:
    """Delete uploaded files and quarantined-row files of batches finished more than the retention ago
    (INGEST_UPLOAD_RETENTION_DAYS, 30); the batches keep their counts and reports. A batch still waiting for a worker
    that long after its upload is failed and its file deleted too. Returns how many batches."""
    days = retention_days() if retention_days_override is None else retention_days_override
    now = now or timezone.now()
    old = IngestBatch.objects.filter(
        status__in=[IngestBatch.Status.SUCCEEDED, IngestBatch.Status.FAILED],
        finished_at__lt=now - timedelta(days=days),
        input_deleted_at__isnull=True,
    ).select_related("tenant")
    purged = 0
    for batch in old.iterator():
        for field in (batch.input_file, batch.quarantine_file):
            if field:
                field.delete(save=False)  # the storage forgets a missing file quietly
        batch.input_deleted_at = now
        batch.save(update_fields=["input_file", "quarantine_file", "input_deleted_at"])
        audit_record(action="ingest_batch.purge_files", tenant=batch.tenant, obj=batch, detail={"days": days})
        purged += 1
    # A batch that never ran (its message lost and never sent again) still holds its file as sent: the retention
    # counts from the upload, and the batch fails, asking for the file again.
    waiting = IngestBatch.objects.filter(
        status=IngestBatch.Status.PENDING, created_at__lt=now - timedelta(days=days), input_deleted_at__isnull=True
    ).values_list("pk", flat=True)
    for batch_id in list(waiting):
        with transaction.atomic():
            batch = IngestBatch.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=batch_id)
            if batch.status != IngestBatch.Status.PENDING:
                continue  # a worker claimed it meanwhile
            if batch.input_file:
                batch.input_file.delete(save=False)
            batch.status, batch.finished_at, batch.input_deleted_at = IngestBatch.Status.FAILED, now, now
            batch.error = (
                f"No worker ran this import within {days} days of its upload; its file was deleted (uploads are kept "
                f"{days} days): upload it again."
            )
            batch.save(update_fields=["input_file", "status", "finished_at", "input_deleted_at", "error"])
            audit_record(action="ingest_batch.purge_files", tenant=batch.tenant, obj=batch,
                         detail={"days": days, "never_ran": True})  # fmt: skip
        purged += 1
    return purged

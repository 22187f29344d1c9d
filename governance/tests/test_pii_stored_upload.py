"""The uploaded file kept on disk for a re-run: after its run, what is on disk holds no e-mail, phone or card number
(each loaded column as the run handled it, the rest redacted), in the file's own format; a re-run of it loads the
same rows; a file the PII policy refused is deleted."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import DomainError
from governance.models import AuditLog
from governance.tests.test_pii_paths import CARD, EMAIL, PHONE, assert_clean
from harmonization.models import IngestBatch, Mapping
from harmonization.tests import files

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


HEADER = ["date", "campaignId", "campaignName", "sku", "impressions", "clicks", "cost", "sales14d", "units14d",
          "currency", "notes"]  # fmt: skip
ROWS = [
    ["2026-04-01", "acme-amazon", "Acme Amazon", "acme-sku-0", "1000", "10", "12.50", "40.00", "2", "USD", "ok"],
    ["2026-04-02", "SP-NEW-1", f"Spring push {EMAIL} {PHONE}", "acme-sku-1", "800", "8", "20.00", "60.00", "3", "USD",
     f"call {PHONE}"],
    ["2026-04-03", "acme-amazon", "Acme Amazon", "acme-sku-0", "900", "9", "abc", "10.00", "1", "USD",
     f"paid with {CARD} by {EMAIL}"],
]  # fmt: skip
RECORDS = [dict(zip(HEADER, row, strict=True)) for row in ROWS]


def _content(kind: str) -> tuple[str, bytes, str]:
    """(file name, bytes, the mapping's source block)"""
    if kind in ("csv", "csv.gz", "tsv"):
        sep = "\t" if kind == "tsv" else ","
        out = io.StringIO()
        for row in [HEADER, *ROWS]:
            out.write(sep.join(f'"{c}"' if sep in c else c for c in row) + "\n")
        data = out.getvalue().encode()
        fmt = "tsv" if kind == "tsv" else "csv"
        return f"export.{kind}", gzip.compress(data) if kind.endswith(".gz") else data, f"format: {fmt}"
    if kind == "jsonl":
        return "export.jsonl", "".join(json.dumps(r) + "\n" for r in RECORDS).encode(), "format: jsonl"
    if kind == "json":
        doc = {"meta": {"exported_by": EMAIL, "phone": PHONE}, "data": {"rows": RECORDS}}
        return "export.json", json.dumps(doc).encode(), "format: json\n  records_path: data.rows"
    table = pa.table({name: [r[name] for r in RECORDS] for name in HEADER})
    out = pa.BufferOutputStream()
    pq.write_table(table, out)
    return "export.parquet", out.getvalue().to_pybytes(), "format: parquet"


def _on_disk(path: Path, kind: str) -> str:
    data = path.read_bytes()
    if kind == "parquet":
        return json.dumps(pq.read_table(path).to_pylist())
    return (gzip.decompress(data) if kind.endswith(".gz") else data).decode()


def _mapping(tenant, retailers, source: str, pii: str = "") -> Mapping:
    text = files.MAPPING.replace("{max_quarantine_rate}", "0.5").replace("format: csv", source) + pii
    return Mapping.objects.create(name="tiny_amazon", tenant=tenant, retailer=retailers["amazon"], yaml_text=text)


def _upload_and_run(tenants, personas, name: str, data: bytes, django_capture_on_commit_callbacks) -> IngestBatch:
    from harmonization.services import batch_create_from_upload, ingest_batch_run

    with django_capture_on_commit_callbacks(execute=False):
        batch = batch_create_from_upload(tenant=tenants["acme"], mapping_name="tiny_amazon",
                                         upload=SimpleUploadedFile(name, data), user=personas["marketer"])  # fmt: skip
    raw = Path(batch.input_file.path).read_bytes()
    assert raw == data  # until it has run, the file is on disk as sent
    ingest_batch_run(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


@pytest.mark.parametrize("kind", ["csv", "csv.gz", "tsv", "jsonl", "json", "parquet"])
def test_the_stored_upload_keeps_no_personal_data_and_reruns_the_same(
    kind, tmp_path, catalog, tenants, personas, retailers, django_capture_on_commit_callbacks
):
    from campaigns.models import Campaign
    from harmonization.services import ingest_file, load_mapping

    name, data, source = _content(kind)
    mapping = _mapping(tenants["acme"], retailers, source)
    batch = _upload_and_run(tenants, personas, name, data, django_capture_on_commit_callbacks)
    assert batch.status == IngestBatch.Status.SUCCEEDED, batch.error
    assert (batch.rows_loaded, batch.rows_quarantined) == (2, 1)
    stored = Path(batch.input_file.path)
    text = _on_disk(stored, kind)
    assert_clean(text)
    assert "Spring push <EMAIL_ADDRESS> <PHONE_NUMBER>" in text  # the loaded column, as it was loaded
    assert "<REDACTED>" in text and "paid with" not in text  # a column the mapping does not load: not kept
    assert "acme-sku-1" in text and "12.50" in text and "abc" in text  # codes and numbers kept, as loaded
    entry = AuditLog.objects.get(action="pii.redact", detail__source="harmonization.stored_file")
    # the campaign name's e-mail and phone (and the JSON's exporter, outside the records); the card was in a column
    # dropped unread
    expected = 2 if kind == "json" else 1
    assert entry.object_id == str(batch.pk)
    assert entry.detail["counts"] == {"EMAIL_ADDRESS": expected, "PHONE_NUMBER": expected}

    # The copy is the file a re-run reads: it loads the same rows as the file that was sent.
    spec = load_mapping(mapping.yaml_text, origin="test")
    sent = tmp_path / name
    sent.write_bytes(data)
    answers = []
    for path, out in ((sent, tmp_path / "sent.parquet"), (stored, tmp_path / "stored.parquet")):
        ingest_file(tenant=tenants["acme"], spec=spec, path=path, output=out)
        answers.append(pq.read_table(out).drop_columns(["batch_id"]) if "batch_id" in pq.read_table(out).column_names
                       else pq.read_table(out))  # fmt: skip
    assert answers[0].num_rows == 2 and answers[0].equals(answers[1])
    assert "Spring push <EMAIL_ADDRESS> <PHONE_NUMBER>" in Campaign.objects.filter(tenant=tenants["acme"]).values_list(
        "name", flat=True
    )


def test_a_file_the_policy_refuses_is_deleted(
    catalog, tenants, personas, retailers, django_capture_on_commit_callbacks
):
    from harmonization.services import ingest_batch_rerun

    name, data, source = _content("csv")
    _mapping(tenants["acme"], retailers, source, pii="pii:\n  columns:\n    campaignName: refuse\n")
    batch = _upload_and_run(tenants, personas, name, data, django_capture_on_commit_callbacks)
    assert batch.status == IngestBatch.Status.FAILED and "EMAIL_ADDRESS" in batch.error
    assert not batch.input_file and batch.input_deleted_at is not None
    uploads = Path(IngestBatch._meta.get_field("input_file").storage.location) / "ingest" / "uploads"
    assert not any(EMAIL.encode() in p.read_bytes() for p in uploads.rglob("*") if p.is_file())
    entry = AuditLog.objects.get(action="ingest_batch.delete_file")
    assert entry.detail["reason"] == "the PII policy refused the file"
    with pytest.raises(DomainError, match="was deleted"):
        ingest_batch_rerun(batch=batch)


def test_a_file_name_with_personal_data_is_stored_without_it(
    catalog, tenants, personas, retailers, django_capture_on_commit_callbacks
):
    _, data, source = _content("csv")
    _mapping(tenants["acme"], retailers, source)
    batch = _upload_and_run(tenants, personas, f"{EMAIL} {PHONE}.csv", data, django_capture_on_commit_callbacks)
    assert batch.status == IngestBatch.Status.SUCCEEDED, batch.error
    assert_clean(batch.source) and assert_clean(batch.input_file.name)
    assert batch.source == "<EMAIL_ADDRESS> <PHONE_NUMBER>.csv"


def test_the_reaper_rewrites_the_stored_upload_of_a_run_that_never_ended(
    catalog, tenants, personas, retailers, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    from harmonization.services import batch_create_from_upload, reap_dead_batches

    name, data, source = _content("csv")
    _mapping(tenants["acme"], retailers, source)
    with django_capture_on_commit_callbacks(execute=False):
        batch = batch_create_from_upload(tenant=tenants["acme"], mapping_name="tiny_amazon",
                                         upload=SimpleUploadedFile(name, data), user=personas["marketer"])  # fmt: skip
    beat = timezone.now() - dt.timedelta(seconds=600)
    IngestBatch.objects.filter(pk=batch.pk).update(status="running", worker="elsewhere:1", heartbeat_at=beat,
                                                   started_at=beat)  # fmt: skip
    assert reap_dead_batches() == 1
    batch.refresh_from_db()
    text = _on_disk(Path(batch.input_file.path), "csv")
    assert_clean(text)
    assert "Spring push <EMAIL_ADDRESS> <PHONE_NUMBER>" in text


def test_a_file_that_never_ran_is_deleted_after_the_retention(
    catalog, tenants, personas, retailers, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    from harmonization.services import batch_create_from_upload, ingest_uploads_purge

    name, data, source = _content("csv")
    _mapping(tenants["acme"], retailers, source)
    with django_capture_on_commit_callbacks(execute=False):  # its message is never delivered
        old = batch_create_from_upload(tenant=tenants["acme"], mapping_name="tiny_amazon",
                                       upload=SimpleUploadedFile(name, data), user=personas["marketer"])  # fmt: skip
        recent = batch_create_from_upload(tenant=tenants["acme"], mapping_name="tiny_amazon",
                                          upload=SimpleUploadedFile(name, data), user=personas["marketer"])  # fmt: skip
    IngestBatch.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=31))
    path = Path(old.input_file.path)
    assert ingest_uploads_purge() == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert not path.exists() and not old.input_file and old.status == IngestBatch.Status.FAILED
    assert "within 30 days of its upload" in old.error
    assert recent.status == IngestBatch.Status.PENDING and Path(recent.input_file.path).exists()

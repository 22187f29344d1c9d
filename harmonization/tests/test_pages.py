"""Data import pages: upload, progress, report, quarantine download; who may see and do what."""

import datetime as dt
import re
import time
from decimal import Decimal
from html import unescape

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from harmonization.models import FXRate, IngestBatch, Mapping
from harmonization.tests import files


def visible(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
def saved_mapping(tenants, retailers):
    text = files.MAPPING.replace("{max_quarantine_rate}", "0.5")
    return Mapping.objects.create(
        name="tiny_amazon", tenant=tenants["acme"], retailer=retailers["amazon"], yaml_text=text
    )


REPORT = {
    "rows_read": 5,
    "rows_loaded": 4,
    "rows_quarantined": 1,
    "facts": 4,
    "quarantine_reasons": {"spend.not_a_number": 1},
    "enum_coverage": {"placement_type": {"mapped": 4, "unknown": 1, "unknown_values": {"Banner XL": 1}}},
    "sku_join_rate": 0.8,
    "sku_unmatched": 1,
    "clicks_over_impressions": 0,
    "duplicate_keys": 0,
    "unmapped_columns": ["adGroupName"],
    "date_range": ["2026-04-01", "2026-04-02"],
    "reconciliation": {
        "EUR": {
            "spend_in": "10.0000",
            "spend_loaded": "10.0000",
            "spend_quarantined": "0.0000",
            "sales_in": "30.0000",
            "sales_loaded": "30.0000",
            "sales_quarantined": "0.0000",
            "balanced": True,
        },
    },
    "thresholds": [{"name": "max_quarantine_rate", "limit": 0.5, "value": 0.2, "passed": True}],
    "passed": True,
    "failures": [],
}


@pytest.fixture
def finished_batch(tenants, retailers):
    batch = IngestBatch.objects.create(
        tenant=tenants["acme"], retailer=retailers["amazon"], source="export.csv", mapping_name="tiny_amazon",
        status=IngestBatch.Status.SUCCEEDED, rows_read=5, rows_loaded=4, rows_quarantined=1, report=REPORT,
        input_bytes=400, bytes_read=400,
    )  # fmt: skip
    batch.quarantine_file.save("q.csv", ContentFile(b"line,field,reason,cost\n6,spend,not a number,abc\n"))
    return batch


@pytest.fixture
def running_batch(tenants):
    return IngestBatch.objects.create(
        tenant=tenants["acme"], source="big.csv", status=IngestBatch.Status.RUNNING, input_bytes=1000, bytes_read=250,
        rows_read=1234,
    )  # fmt: skip


def upload(name="export.csv", content=files.CSV):
    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


# --- list and upload --------------------------------------------------------------------------------------------


def test_it_lists_the_tenants_batches_with_an_upload_form_for_marketers(
    client, personas, finished_batch, saved_mapping
):
    client.force_login(personas["marketer"])
    html = client.get(reverse("import_list")).content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert "tiny_amazon (Amazon Ads, yours)" in html
    # Shipped layouts are named by what they are and the retailer's name, not by file name and code.
    assert "Amazon Ads reporting v3 (Amazon Ads)" in html
    assert "The native RMIS layout (retailer from the file)" in html
    assert "amazon_sp_advertised_product (amazon)" not in html
    assert "export.csv" in html and 'data-status="succeeded"' in html
    assert 'href="/imports/"' in html  # the nav link
    assert 'href="/imports/suggest/"' in html


def test_reviewers_see_imports_but_cannot_upload(client, personas, finished_batch, saved_mapping):
    client.force_login(personas["reviewer"])
    html = client.get(reverse("import_list")).content.decode()
    assert "export.csv" in html and '<form method="post" action="/imports/"' not in html
    response = client.post(reverse("import_list"), {"file": upload(), "mapping": "tiny_amazon"})
    assert response.status_code == 403
    assert not IngestBatch.objects.exclude(pk=finished_batch.pk).exists()


def test_strangers_see_neither_the_batch_nor_its_rows(client, personas, finished_batch):
    client.force_login(personas["stranger"])
    assert "export.csv" not in client.get(reverse("import_list")).content.decode()
    assert client.get(reverse("import_detail", args=[finished_batch.pk])).status_code == 404
    assert client.get(reverse("import_quarantine", args=[finished_batch.pk])).status_code == 404


def test_anonymous_visitors_go_to_login(client, finished_batch):
    for url in (reverse("import_list"), reverse("import_quarantine", args=[finished_batch.pk])):
        assert client.get(url)["Location"].startswith(reverse("login"))


def test_an_upload_creates_a_pending_batch_and_queues_it_after_commit(
    client, personas, saved_mapping, django_capture_on_commit_callbacks
):
    client.force_login(personas["marketer"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("import_list"), {"file": upload(), "mapping": "tiny_amazon"})
    batch = IngestBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("import_detail", args=[batch.pk])
    assert (batch.status, batch.source, batch.mapping_name, batch.retailer.code) == (
        "pending", "export.csv", "tiny_amazon", "amazon",
    )  # fmt: skip
    assert batch.input_bytes == len(files.CSV.encode()) and batch.input_file.read().decode() == files.CSV
    assert batch.mapping_yaml == saved_mapping.yaml_text and batch.task_id
    assert len(callbacks) == 1  # the task is sent once the batch is committed, never before


def test_an_upload_without_a_known_layout_is_a_form_error(client, personas, saved_mapping):
    client.force_login(personas["marketer"])
    response = client.post(reverse("import_list"), {"file": upload(), "mapping": "walmart_secret"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not IngestBatch.objects.exists()


# --- detail -----------------------------------------------------------------------------------------------------


def test_a_running_batch_polls_its_status_every_second(client, personas, running_batch):
    client.force_login(personas["reviewer"])
    url = reverse("import_detail", args=[running_batch.pk])
    html = client.get(url).content.decode()
    assert f'hx-get="{url}"' in html and 'hx-trigger="every 1s"' in html
    assert '<progress max="100" value="25.0"' in html and "1,234 rows so far" in visible(html)
    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="batch-status"') and "<html" not in fragment


def test_a_finished_batch_shows_its_report_and_stops_polling(client, personas, finished_batch):
    client.force_login(personas["marketer"])
    html = client.get(reverse("import_detail", args=[finished_batch.pk])).content.decode()
    text = visible(html)
    assert "hx-trigger" not in html
    assert "EUR 10.0000 10.0000 0.0000 30.0000 30.0000 0.0000 yes" in text
    assert "spend: not a number 1" in text
    assert "Placement type 4 1 Banner XL (1)" in text
    assert "80.0% (1 unmatched)" in text and "adGroupName" in text
    assert "Rows quarantined (share, at most) 0.5 0.2000 passed" in text
    assert "max_quarantine_rate" not in text
    assert reverse("import_quarantine", args=[finished_batch.pk]) in html


def test_a_failed_batch_says_why_and_that_nothing_was_written(client, personas, tenants):
    batch = IngestBatch.objects.create(
        tenant=tenants["acme"], source="bad.csv", status=IngestBatch.Status.FAILED,
        error="missing required column(s) campaignId (found 1 column 'date;campaignId': is the delimiter ';'?)",
    )  # fmt: skip
    client.force_login(personas["marketer"])
    text = visible(client.get(reverse("import_detail", args=[batch.pk])).content.decode())
    assert "is the delimiter ';'?" in text and "writes nothing" in text


def test_it_downloads_the_quarantined_rows(client, personas, finished_batch):
    client.force_login(personas["reviewer"])
    response = client.get(reverse("import_quarantine", args=[finished_batch.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    # Rewritten row by row (formula-looking cells escaped), with CSV's CRLF line ends like the stored files.
    assert b"".join(response.streaming_content) == b"line,field,reason,cost\r\n6,spend,not a number,abc\r\n"


def test_a_batch_without_quarantined_rows_has_no_download(client, personas, running_batch):
    client.force_login(personas["marketer"])
    assert client.get(reverse("import_quarantine", args=[running_batch.pk])).status_code == 404


# --- the whole flow, with a real worker ---------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_upload_is_loaded_by_the_worker_and_reported(
    celery_worker_process, client, personas, catalog, saved_mapping
):
    FXRate.objects.create(date=dt.date(2026, 4, 1), currency="EUR", quote_currency="USD", rate=Decimal(files.EUR_RATE))
    client.force_login(personas["marketer"])
    response = client.post(reverse("import_list"), {"file": upload(), "mapping": "tiny_amazon"}, follow=True)
    assert response.status_code == 200
    batch = IngestBatch.objects.exclude(source="conftest").get()
    deadline = time.monotonic() + 60
    while batch.status in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        batch.refresh_from_db()
    assert batch.status == "succeeded", batch.error
    assert (batch.rows_read, batch.rows_loaded, batch.rows_quarantined) == (5, 4, 1)
    assert batch.facts.count() == 4
    html = client.get(reverse("import_detail", args=[batch.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in html and "Download quarantined rows (CSV)" in html
    csv = b"".join(client.get(reverse("import_quarantine", args=[batch.pk])).streaming_content).decode()
    assert "abc" in csv


# --- Django admin -----------------------------------------------------------------------------------------------


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-123"))
    return client


def test_the_admin_refuses_a_mapping_that_does_not_validate(superuser_client, tenants, retailers):
    text = files.MAPPING.replace("{max_quarantine_rate}", "0.5")
    form = {"name": "tiny_amazon", "tenant": tenants["acme"].pk, "retailer": retailers["amazon"].pk}
    url = reverse("admin:harmonization_mapping_add")
    response = superuser_client.post(url, {**form, "yaml_text": text.replace("version: 1", "version: 3")})
    assert response.status_code == 200
    assert "tiny_amazon:1: version" in unescape(response.content.decode())
    assert not Mapping.objects.exists()
    assert superuser_client.post(url, {**form, "yaml_text": text}).status_code == 302
    assert Mapping.objects.get().yaml_text == text


def test_the_admin_shows_ingest_batches_read_only(superuser_client, finished_batch):
    url = reverse("admin:harmonization_ingestbatch_change", args=[finished_batch.pk])
    html = superuser_client.get(url).content.decode()
    assert "spend.not_a_number" in html and 'name="status"' not in html
    assert superuser_client.get(reverse("admin:harmonization_ingestbatch_add")).status_code == 403

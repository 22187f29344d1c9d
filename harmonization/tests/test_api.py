"""Ingest batches through the partner API: scoped to the caller's tenant, upload answers 202."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.models import Role
from governance.services import api_key_create
from harmonization.models import IngestBatch, Mapping
from harmonization.tests import files
from rmn_site.tests.api_support import API, assert_error, client_for


@pytest.fixture
def batches(tenants, retailers):
    acme = IngestBatch.objects.create(
        tenant=tenants["acme"], retailer=retailers["amazon"], source="acme.csv", status="succeeded", rows_read=5,
        rows_loaded=4, rows_quarantined=1, report={"rows_read": 5, "passed": True},
    )  # fmt: skip
    globex = IngestBatch.objects.create(tenant=tenants["globex"], source="globex.csv", status="failed", error="x")
    return {"acme": acme, "globex": globex}


@pytest.fixture
def acme_mapping(tenants, retailers):
    text = files.MAPPING.replace("{max_quarantine_rate}", "0.5")
    return Mapping.objects.create(
        name="tiny_amazon", tenant=tenants["acme"], retailer=retailers["amazon"], yaml_text=text
    )


def test_it_lists_only_the_callers_batches_with_their_report(personas, batches):
    body = client_for(personas["reviewer"]).get(f"{API}/ingest-batches/").json()
    assert [b["source"] for b in body["results"]] == ["acme.csv"]
    first = body["results"][0]
    assert (first["retailer"], first["status"], first["rows_loaded"], first["progress"]) == (
        "amazon",
        "succeeded",
        4,
        1.0,
    )
    assert first["report"] == {"rows_read": 5, "passed": True} and first["has_quarantine_file"] is False


def test_another_tenants_batch_does_not_exist(personas, batches):
    client = client_for(personas["stranger"])
    assert_error(client.get(f"{API}/ingest-batches/{batches['acme'].pk}/"), 404)
    assert client.get(f"{API}/ingest-batches/{batches['globex'].pk}/").json()["error"] == "x"


def test_an_api_key_uploads_a_file_and_gets_202(tenants, acme_mapping, django_capture_on_commit_callbacks):
    _, raw = api_key_create(tenant=tenants["acme"], name="ETL", role=Role.MARKETER)
    upload = SimpleUploadedFile("export.csv", files.CSV.encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(key=raw).post(
            f"{API}/ingest-batches/", {"file": upload, "mapping": "tiny_amazon"}, format="multipart"
        )
    assert response.status_code == 202, response.content
    body = response.json()
    batch = IngestBatch.objects.get(pk=body["id"])
    assert (body["status"], body["retailer"], body["source"], batch.tenant) == (
        "pending", "amazon", "export.csv", tenants["acme"],
    )  # fmt: skip
    assert len(callbacks) == 1


def test_an_unknown_mapping_is_a_400_naming_it(personas, acme_mapping):
    upload = SimpleUploadedFile("export.csv", files.CSV.encode(), content_type="text/csv")
    response = client_for(personas["stranger"]).post(
        f"{API}/ingest-batches/", {"file": upload, "mapping": "tiny_amazon"}, format="multipart"
    )
    assert_error(response, 400, mentions=("no mapping named 'tiny_amazon'",), field="mapping")


def test_a_reviewer_cannot_upload(personas, acme_mapping):
    upload = SimpleUploadedFile("export.csv", files.CSV.encode(), content_type="text/csv")
    response = client_for(personas["reviewer"]).post(
        f"{API}/ingest-batches/", {"file": upload, "mapping": "tiny_amazon"}, format="multipart"
    )
    assert_error(response, 403)
    assert not IngestBatch.objects.exists()

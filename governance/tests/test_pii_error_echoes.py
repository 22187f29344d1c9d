"""Refusals that quote what they refused: an API error, a form error and a page message holding an e-mail, a phone
number and a card number are returned, shown and logged redacted, and each redaction is an audit entry (counts, not
values). The values come in through a refused field (a mapping name, a date, a file name) and a bad cell."""

from __future__ import annotations

import io
import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from governance.models import AuditLog
from governance.pii.logging import RedactingFilter
from governance.tests.test_pii_paths import CARD, EMAIL, PHONE, RAW, SENTENCE, _client, assert_clean
from harmonization.models import IngestBatch, Mapping
from harmonization.tests import files
from optimizer.tests.test_plan_versions import approve, optimized, queued  # noqa: F401  (fixtures)
from rmn_site.tests.api_support import API, client_for

pytestmark = pytest.mark.django_db


class SiteLog:
    """What the site's console handler (with its redaction filter) writes while the block runs."""

    def __enter__(self):
        handlers = [h for h in logging.getLogger().handlers if any(isinstance(f, RedactingFilter) for f in h.filters)]
        self.handler = next(h for h in handlers if isinstance(h, logging.StreamHandler))
        self.stream = io.StringIO()
        self.previous = self.handler.setStream(self.stream)
        return self

    def __exit__(self, *exc):
        self.handler.setStream(self.previous)

    @property
    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def acme_mapping(tenants, retailers):
    text = files.MAPPING.replace("{max_quarantine_rate}", "0.5")
    return Mapping.objects.create(name="tiny_amazon", tenant=tenants["acme"], retailer=retailers["amazon"],
                                  yaml_text=text)  # fmt: skip


def test_an_api_refusal_quoting_the_field_value_is_returned_and_logged_redacted(personas, acme_mapping):
    upload = SimpleUploadedFile("export.csv", files.CSV.encode(), content_type="text/csv")
    with SiteLog() as log:
        response = client_for(personas["marketer"]).post(
            f"{API}/ingest-batches/", {"file": upload, "mapping": SENTENCE}, format="multipart"
        )
    assert response.status_code == 400
    body = response.json()["error"]
    # the service names the mapping it could not find; the name is redacted where it is quoted
    assert "<EMAIL_ADDRESS>" in body["message"] and "<CREDIT_CARD>" in body["message"]
    assert "<PHONE_NUMBER>" in body["fields"]["mapping"][0]
    assert_clean(response.content.decode())
    assert "Bad Request" in log.text
    assert_clean(log.text)
    entry = AuditLog.objects.filter(action="pii.redact", detail__source="api.error").latest("pk")
    assert entry.tenant == personas["marketer"].memberships.get().tenant
    assert entry.detail["counts"]["EMAIL_ADDRESS"] >= 1 and entry.detail["counts"]["CREDIT_CARD"] >= 1
    assert_clean(str(entry.detail))
    assert not IngestBatch.objects.exists()


def test_an_api_refusal_quoting_the_file_name_is_redacted(personas, acme_mapping):
    upload = SimpleUploadedFile(f"{EMAIL}.csv.gz", b"not gzip", content_type="application/gzip")
    response = client_for(personas["marketer"]).post(
        f"{API}/ingest-batches/", {"file": upload, "mapping": "tiny_amazon"}, format="multipart"
    )
    assert response.status_code == 400
    assert "<EMAIL_ADDRESS>.csv.gz: not a readable gzip file" in response.json()["error"]["message"]
    assert_clean(response.content.decode())


def test_an_unknown_api_address_is_not_echoed(personas):
    with SiteLog() as log:
        response = client_for(personas["marketer"]).get(f"{API}/customers/{EMAIL}/{PHONE.replace(' ', '')}/")
    assert response.status_code == 404
    assert "<EMAIL_ADDRESS>" in response.json()["error"]["message"]
    assert_clean(response.content.decode())
    assert_clean(log.text)


def test_a_form_error_quoting_the_refused_value_is_shown_redacted(personas, acme_mapping):
    client = _client(personas["marketer"])
    upload = SimpleUploadedFile("export.csv", files.CSV.encode(), content_type="text/csv")
    with SiteLog() as log:
        response = client.post(reverse("import_list"), {"file": upload, "mapping": SENTENCE})
    assert response.status_code == 400
    page = response.content.decode()
    # Django's choice field quotes the value it refused
    assert "Select a valid choice. Customer &lt;EMAIL_ADDRESS&gt; called from &lt;PHONE_NUMBER&gt;" in page
    assert_clean(page)
    assert_clean(log.text)
    form = response.context["form"]
    assert form.has_error("mapping", code="invalid_choice")  # the error keeps its code
    entry = AuditLog.objects.filter(action="pii.redact", detail__source="form.error").latest("pk")
    assert entry.detail["counts"] == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}


def test_a_service_refusal_put_on_a_form_is_shown_redacted(personas, acme_mapping):
    client = _client(personas["marketer"])
    upload = SimpleUploadedFile(f"{EMAIL}.csv.gz", b"not gzip", content_type="application/gzip")
    response = client.post(reverse("import_list"), {"file": upload, "mapping": "tiny_amazon"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "&lt;EMAIL_ADDRESS&gt;.csv.gz: not a readable gzip file" in page
    assert_clean(page)


def test_a_page_message_quoting_the_refused_value_is_shown_redacted(client, personas, catalog, tenants):
    from optimizer.tests.test_measurement_pages import _policy

    policy = _policy(tenants["acme"])
    client.force_login(personas["marketer"])
    response = client.post(reverse("bandit_update", args=[policy.pk]), {"date": SENTENCE}, follow=True)
    page = response.content.decode()
    assert "date must be YYYY-MM-DD, got &#x27;Customer &lt;EMAIL_ADDRESS&gt;" in page
    assert_clean(page)
    entry = AuditLog.objects.filter(action="pii.redact", detail__source="page.message").latest("pk")
    assert entry.detail["counts"] == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}


BAD_CELLS = f"""\
date,campaignId,campaignName,sku,impressions,clicks,cost,sales14d,units14d,currency
2026-04-01,acme-amazon,Acme Amazon,acme-sku-0,1000,10,12.50,40.00,2,USD
2026-04-02,acme-amazon,Acme Amazon,acme-sku-0,800,8,{EMAIL},60.00,3,USD
2026-04-03,acme-amazon,Acme Amazon,acme-sku-0,900,9,"{PHONE}",10.00,1,USD
2026-04-04,acme-amazon,Acme Amazon,acme-sku-0,900,9,12.00,10.00,{CARD},USD
"""


def test_bad_cells_are_refused_without_echoing_them(tmp_path, catalog, tenants, personas):
    """Cells that are not numbers are quarantined with a reason that quotes them, and the import fails its quality
    threshold: the reasons, the report, the error, the quarantine file, the pages, the API and the log are clean."""
    from harmonization.services import ingest_file, mapping_resolve

    mapping_file, data = files.write(tmp_path, csv=BAD_CELLS, max_quarantine_rate=0.1)
    with SiteLog() as log:
        batch = ingest_file(tenant=tenants["acme"], spec=mapping_resolve(str(mapping_file)), path=data,
                            user=personas["marketer"])  # fmt: skip
    batch.refresh_from_db()
    assert batch.status == IngestBatch.Status.FAILED and batch.rows_quarantined == 3
    quarantined = batch.quarantine_file.read().decode()
    assert "spend: '<EMAIL_ADDRESS>' is not a number" in quarantined
    assert "spend: '<PHONE_NUMBER>' is not a number" in quarantined
    assert "attributed_units: '<CREDIT_CARD>' is not a whole number" in quarantined
    for text in (quarantined, batch.error, str(batch.report), log.text):
        assert_clean(text)
    client = _client(personas["marketer"])
    for url in (reverse("import_detail", args=[batch.pk]), reverse("import_list")):
        page = client.get(url)
        assert page.status_code == 200
        assert_clean(page.content.decode())
    detail = client_for(personas["marketer"]).get(f"{API}/ingest-batches/{batch.pk}/")
    assert detail.status_code == 200
    assert_clean(detail.content.decode())
    assert all(value not in quarantined for value in (EMAIL, PHONE, CARD, *RAW))


@pytest.fixture
def fewer_samples(monkeypatch):
    monkeypatch.setattr("optimizer.services.plans.PLAN_SAMPLES", 60)


def test_a_plain_text_refusal_quoting_the_query_value_is_redacted(client, personas, fewer_samples, optimized):  # noqa: F811
    """The plan export answers a refusal as plain text; the retailer it was asked for is quoted."""
    plan = approve(optimized)
    client.force_login(personas["marketer"])
    response = client.get(reverse("plan_export", args=[plan.pk]), {"retailer": SENTENCE})
    assert response.status_code == 400
    text = response.content.decode()
    assert "allocates nothing to 'Customer <EMAIL_ADDRESS> called from <PHONE_NUMBER>" in text
    assert_clean(text)


@override_settings(ROOT_URLCONF="harmonization.tests.urls_suggest")  # as harmonization/tests/test_suggest.py
def test_a_file_name_does_not_reach_the_suggested_mapping(client, personas, retailers):
    """The suggester's page names the mapping after the file and writes the file's name into the YAML it offers to
    save: a name holding an e-mail and a phone number is redacted first."""
    from harmonization.tests.test_suggest import SAMPLES

    client.force_login(personas["marketer"])
    data = (SAMPLES / "amazon_sp_advertised_product.csv").read_bytes()
    upload = SimpleUploadedFile(f"{EMAIL} {PHONE}.csv", data)
    response = client.post(reverse("mapping_suggest"), {"action": "suggest", "file": upload, "retailer": "amazon"})
    assert response.status_code == 200
    assert "<EMAIL_ADDRESS> <PHONE_NUMBER>.csv" in response.context["save_form"].initial["yaml_text"]
    assert_clean(response.content.decode())
    assert_clean(response.context["save_form"].initial["name"])

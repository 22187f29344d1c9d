"""Lookups from the database, mapping resolution and saving, and ingest_file's batch bookkeeping."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from campaigns.models import Brand, PerformanceFact, RetailerItem
from core.errors import DomainError
from demo.seed import _fx_rates_upsert
from governance.models import AuditLog
from harmonization.models import FXRate, IngestBatch, Mapping
from harmonization.services import ingest_file, lookups_for, mapping_resolve, mapping_save, shipped_mapping_files
from harmonization.tests import files

DAY = dt.date(2026, 4, 1)


def test_lookups_carry_direct_and_inverse_rates_into_the_reporting_currency(tenants):
    acme = tenants["acme"]
    FXRate.objects.create(date=DAY, currency="EUR", quote_currency="USD", rate=Decimal("1.25"))
    FXRate.objects.create(date=DAY, currency="USD", quote_currency="GBP", rate=Decimal("0.8"))  # 1 GBP = 1.25 USD
    FXRate.objects.create(date=DAY, currency="USD", quote_currency="EUR", rate=Decimal("0.5"))  # direct quote wins
    FXRate.objects.create(date=DAY, currency="CAD", quote_currency="GBP", rate=Decimal("0.6"))  # unrelated pair
    lookups = lookups_for(acme)
    assert lookups.reporting_currency == "USD"
    assert sorted(lookups.fx_rates) == [(DAY, "EUR", 1.25), (DAY, "GBP", 1.25)]


def test_lookups_index_the_tenants_skus_only(catalog, tenants, retailers):
    acme_sku = catalog["acme"]["skus"][0]
    acme_sku.gtin = "00012345678905"
    acme_sku.save()
    RetailerItem.objects.create(tenant=tenants["acme"], sku=acme_sku, retailer=retailers["amazon"], item_id="B0AC")
    globex_sku = catalog["globex"]["skus"][0]
    RetailerItem.objects.create(tenant=tenants["globex"], sku=globex_sku, retailer=retailers["amazon"], item_id="B0GX")
    index = lookups_for(tenants["acme"], ["amazon"]).sku_index
    assert index["retailer_item_id"] == {"amazon|B0AC": acme_sku.pk}
    assert index["gtin"] == {"00012345678905": acme_sku.pk}
    assert lookups_for(tenants["acme"], ["amazon"]).default_timezone == "America/Los_Angeles"
    assert index["sku_code"] == {"acme-sku-0": acme_sku.pk, "acme-sku-1": catalog["acme"]["skus"][1].pk}
    assert lookups_for(tenants["acme"], ["walmart"]).sku_index["retailer_item_id"] == {}


def test_mapping_resolve_finds_files_shipped_names_and_saved_mappings(tmp_path, tenants, retailers):
    mapping_file, _ = files.write(tmp_path)
    assert mapping_resolve(str(mapping_file)).name == "tiny_amazon"
    shipped = shipped_mapping_files()
    if shipped:
        assert mapping_resolve(shipped[0].stem).text == shipped[0].read_text()
    text = files.MAPPING.replace("{max_quarantine_rate}", "0.2").replace("tiny_amazon", "acme_custom")
    Mapping.objects.create(name="acme_custom", tenant=tenants["acme"], retailer=retailers["amazon"], yaml_text=text)
    assert mapping_resolve("acme_custom", tenants["acme"]).name == "acme_custom"
    with pytest.raises(DomainError, match="no mapping named 'acme_custom'"):
        mapping_resolve("acme_custom", tenants["globex"])
    with pytest.raises(DomainError, match="is not a mapping name"):
        mapping_resolve("../secrets", tenants["acme"], allow_path=False)


def test_mapping_save_validates_and_names_the_line(tenants, retailers, personas):
    text = files.MAPPING.replace("{max_quarantine_rate}", "0.2")
    saved = mapping_save(yaml_text=text, tenant=tenants["acme"], user=personas["marketer"])
    assert (saved.name, saved.retailer, saved.tenant) == ("tiny_amazon", retailers["amazon"], tenants["acme"])
    assert AuditLog.objects.filter(action="mapping.create", object_id=str(saved.pk)).exists()
    broken = text.replace("  clicks: {source: clicks, type: integer}\n", "  clicks: {source: clicks, type: float}\n")
    with pytest.raises(DomainError, match=r"tiny_amazon:\d+: columns\.clicks") as caught:
        mapping_save(yaml_text=broken, tenant=tenants["acme"], name="tiny_amazon")
    assert caught.value.field == "yaml_text"
    assert Mapping.objects.get(pk=saved.pk).yaml_text == text
    with pytest.raises(DomainError, match="unknown retailer code 'target'"):
        mapping_save(yaml_text=text.replace("retailer: amazon", "retailer: target"), tenant=tenants["acme"])


def test_ingest_file_records_the_batch_and_reports(tmp_path, catalog, tenants, personas):
    FXRate.objects.create(date=DAY, currency="EUR", quote_currency="USD", rate=Decimal(files.EUR_RATE))
    mapping_file, data = files.write(tmp_path)
    seen = []
    batch = ingest_file(
        tenant=tenants["acme"],
        spec=mapping_resolve(str(mapping_file)),
        path=data,
        user=personas["marketer"],
        progress=seen.append,
    )
    batch.refresh_from_db()
    assert batch.status == IngestBatch.Status.SUCCEEDED
    assert (batch.rows_read, batch.rows_loaded, batch.rows_quarantined) == (5, 4, 1)
    assert batch.report["facts"] == 4 and batch.report["passed"] is True
    assert batch.progress == 1.0 and batch.bytes_read == batch.input_bytes == data.stat().st_size
    assert batch.mapping_name == "tiny_amazon" and batch.retailer.code == "amazon"
    assert batch.created_by == personas["marketer"] and batch.started_at <= batch.finished_at
    assert seen and seen[-1].rows_read == 5
    assert PerformanceFact.objects.filter(ingest_batch=batch).count() == 4
    quarantined = batch.quarantine_file.read().decode()
    assert quarantined.splitlines()[0].startswith("line,field,reason")
    assert "abc" in quarantined and len(quarantined.strip().splitlines()) == 2
    actions = set(AuditLog.objects.filter(object_id=str(batch.pk)).values_list("action", flat=True))
    assert {"ingest_batch.create", "ingest_batch.finish", "campaign.create_from_ingest"} <= actions


def test_ingest_file_records_a_source_error_and_writes_nothing(tmp_path, catalog, tenants):
    before = PerformanceFact.objects.count()
    mapping_file, data = files.write(tmp_path, csv=files.CSV.replace(",", "\t"))
    batch = ingest_file(tenant=tenants["acme"], spec=mapping_resolve(str(mapping_file)), path=data)
    assert batch.status == IngestBatch.Status.FAILED
    assert "missing required column" in batch.error
    assert not batch.quarantine_file
    assert PerformanceFact.objects.count() == before


def test_a_load_that_fails_at_commit_keeps_its_report_and_writes_nothing(tmp_path, catalog, tenants):
    Brand.objects.create(tenant=tenants["acme"], name="Second brand")
    before = list(PerformanceFact.objects.order_by("pk").values_list("pk", "spend"))
    mapping_file, data = files.write(tmp_path)
    mapping_file.write_text(mapping_file.read_text().replace("unknown: quarantine", "unknown: campaign_level"))
    data.write_text(files.CSV.splitlines()[0] + "\n2026-04-01,NEW-CL,New,no-such-sku,10,1,2.00,4.00,1,USD\n")
    batch = ingest_file(tenant=tenants["acme"], spec=mapping_resolve(str(mapping_file)), path=data)
    assert batch.status == IngestBatch.Status.FAILED
    assert batch.error.startswith("new amazon campaign 'NEW-CL' has no SKU rows to take a brand from")
    assert (batch.report["rows_read"], batch.report["facts"], batch.report["passed"]) == (1, 0, False)
    assert batch.report["failures"][-1] == batch.error
    assert list(PerformanceFact.objects.order_by("pk").values_list("pk", "spend")) == before


def test_demo_fx_rates_are_weekday_fixings_with_a_small_drift(db):
    count = _fx_rates_upsert(start=dt.date(2026, 1, 5), end=dt.date(2026, 3, 29), seed=42)
    rates = FXRate.objects.filter(quote_currency="USD")
    assert (
        rates.count()
        == count
        == 3 * len([d for d in range(84 + 7) if (dt.date(2025, 12, 29) + dt.timedelta(d)).weekday() < 5])
    )
    assert not [r for r in rates if r.date.weekday() >= 5]
    eur = [float(r.rate) for r in rates.filter(currency="EUR").order_by("date")]
    assert min(eur) > 0.95 and max(eur) < 1.25
    assert max(abs(b / a - 1) for a, b in itertools.pairwise(eur)) < 0.03
    assert _fx_rates_upsert(start=dt.date(2026, 1, 5), end=dt.date(2026, 3, 29), seed=42) == count
    assert FXRate.objects.count() == count  # upsert: a second seed adds nothing

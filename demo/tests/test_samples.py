"""Sample files on /imports/: built from the current tenant's catalog and campaigns, they load without quarantine."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import SKU, Brand, Campaign, PerformanceFact, PlacementType, Retailer, RetailerItem
from demo.samples import SAMPLE_DAYS, sample_layouts
from demo.seed import _fx_rates_upsert
from harmonization.models import IngestBatch
from harmonization.services import ingest_file, mapping_resolve


@pytest.fixture
def demo_like(catalog, tenants, retailers):
    """The conftest tenant with what the demo tenant has besides: ASINs and Walmart item ids for its SKUs."""
    acme = tenants["acme"]
    for i, sku in enumerate(catalog["acme"]["skus"]):
        RetailerItem.objects.create(tenant=acme, sku=sku, retailer=retailers["amazon"], item_id=f"B0ACME000{i}")
        RetailerItem.objects.create(tenant=acme, sku=sku, retailer=retailers["walmart"], item_id=f"90000{i}")
    return acme


def download(client, user, layout: str):
    client.force_login(user)
    return client.get(reverse("import_sample", args=[layout]))


def ingest(tmp_path, tenant, layout: str, content: bytes, suffix: str) -> IngestBatch:
    path = tmp_path / f"{layout}{suffix}"
    path.write_bytes(content)
    return ingest_file(tenant=tenant, spec=mapping_resolve(layout, tenant), path=path)


@pytest.mark.parametrize(("layout", "suffix"), [("amazon_sp_advertised_product", ".csv"),
                                                ("dsp_line_items_micros", ".csv")])  # fmt: skip
def test_a_downloaded_sample_loads_without_quarantine(client, personas, demo_like, catalog, tmp_path, layout, suffix):
    response = download(client, personas["reviewer"], layout)  # reviewers may download (VIEW_DATA)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{layout}-sample{suffix}"'
    rows = int(response["X-Sample-Rows"])
    assert 0 < rows <= 300
    campaigns_before = Campaign.objects.filter(tenant=demo_like).count()

    batch = ingest(tmp_path, demo_like, layout, response.content, suffix)

    assert batch.status == IngestBatch.Status.SUCCEEDED, (batch.error, batch.report.get("failures"))
    assert (batch.report["rows_read"], batch.report["rows_quarantined"]) == (rows, 0)
    assert batch.report["facts"] > 0
    facts = PerformanceFact.objects.filter(ingest_batch=batch)
    assert facts.count() > 0
    yesterday = timezone.now().date() - dt.timedelta(days=1)
    first, last = min(f.date for f in facts), max(f.date for f in facts)
    assert yesterday - dt.timedelta(days=SAMPLE_DAYS) <= first and last <= yesterday + dt.timedelta(days=1)
    if layout == "amazon_sp_advertised_product":
        # the rows belong to the tenant's existing Amazon campaign and resolve to its SKUs
        assert {f.campaign_id for f in facts} == {catalog["acme"]["campaigns"]["amazon"].pk}
        assert {f.sku_id for f in facts} <= {s.pk for s in catalog["acme"]["skus"]}
        assert all(f.sku_id is not None for f in facts)
        assert Campaign.objects.filter(tenant=demo_like).count() == campaigns_before
    else:  # display and CTV: campaign-level rows, one new campaign per placement under the tenant's only brand
        assert all(f.sku_id is None for f in facts)
        assert {f.placement_type for f in facts} <= {PlacementType.OFFSITE_DISPLAY, PlacementType.CTV}
        new = Campaign.objects.filter(tenant=demo_like).exclude(
            pk__in=[c.pk for c in catalog["acme"]["campaigns"].values()]
        )
        assert sorted(new.values_list("external_id", flat=True)) == [
            "sample-acme-foods-brand-amazon-ctv",
            "sample-acme-foods-brand-amazon-offsite_display",
        ]
        assert {c.brand_id for c in new} == {catalog["acme"]["brand"].pk}
        # the same file again replaces those facts: no new campaign, no doubled spend
        spend = sum(f.spend for f in facts)
        again = ingest(tmp_path, demo_like, layout, download(client, personas["reviewer"], layout).content, suffix)
        assert again.status == IngestBatch.Status.SUCCEEDED
        assert Campaign.objects.filter(tenant=demo_like).count() == campaigns_before + 2
        total = sum(PerformanceFact.objects.filter(campaign__in=new).values_list("spend", flat=True))
        assert total == spend


def test_a_tenant_with_several_brands_gets_campaign_rows_only_for_campaigns_it_has(
    client, personas, demo_like, catalog, retailers, tmp_path
):
    acme = demo_like
    other = Brand.objects.create(tenant=acme, name="Acme Second Brand")
    sku = SKU.objects.create(tenant=acme, brand=other, sku_code="acme-2nd", name="Second", category="snacks",
                             price=Decimal("4.00"), unit_cost=Decimal("1.00"), stock_units=5)  # fmt: skip
    RetailerItem.objects.create(tenant=acme, sku=sku, retailer=retailers["amazon"], item_id="B0ACME0009")
    display = Campaign.objects.create(
        tenant=acme, retailer=retailers["amazon"], brand=catalog["acme"]["brand"], name="Acme display",
        external_id="acme-display-1", placement_type=PlacementType.OFFSITE_DISPLAY, start_date=dt.date(2026, 1, 1),
        budget=Decimal("100"), budget_currency="USD", status=Campaign.Status.ACTIVE,
    )  # fmt: skip
    campaigns_before = Campaign.objects.filter(tenant=acme).count()

    response = download(client, personas["marketer"], "dsp_line_items_micros")
    assert response.status_code == 200
    text = response.content.decode()
    # a new campaign-level campaign could not pick one of two brands: only the existing one appears
    assert {line.split(",")[2] for line in text.splitlines()[1:]} == {"acme-display-1"}

    batch = ingest(tmp_path, acme, "dsp_line_items_micros", response.content, ".csv")

    assert batch.status == IngestBatch.Status.SUCCEEDED, batch.error
    assert batch.report["rows_quarantined"] == 0
    assert set(PerformanceFact.objects.filter(ingest_batch=batch).values_list("campaign", flat=True)) == {display.pk}
    assert Campaign.objects.filter(tenant=acme).count() == campaigns_before


def test_the_sample_uses_only_the_current_tenants_catalog(client, personas, demo_like, catalog, tmp_path):
    response = download(client, personas["stranger"], "rmis_native")  # globex's marketer
    assert response.status_code == 200
    text = response.content.decode()
    assert "globex-sku-0" in text and "acme" not in text
    batch = ingest(tmp_path, catalog["globex"]["brand"].tenant, "rmis_native", response.content, ".csv")
    assert batch.status == IngestBatch.Status.SUCCEEDED, batch.error
    assert batch.report["rows_quarantined"] == 0
    # globex has no ASINs: no Amazon sample, with the reason, and the URL gives nothing of acme's
    assert download(client, personas["stranger"], "amazon_sp_advertised_product").status_code == 404
    assert download(client, personas["stranger"], "no_such_layout").status_code == 404


def test_the_imports_page_lists_the_samples(client, personas, demo_like):
    client.force_login(personas["reviewer"])
    html = client.get(reverse("import_list")).content.decode()
    assert "Try it with a sample file" in html
    assert reverse("import_sample", args=["amazon_sp_advertised_product"]) in html
    problems = {s["name"]: s["problem"] for s in sample_layouts(tenant=demo_like)}
    assert problems["amazon_sp_advertised_product"] == ""
    assert "criteo" in problems["criteo_retail_media_campaign"]  # the retailer is not set up here
    assert problems["eu_retailer_jsonl"] == "retailer eu_retailer is not set up in this installation"


def test_a_euro_sample_ends_on_the_last_day_with_a_rate_and_loads(client, personas, demo_like, catalog, tmp_path):
    Retailer.objects.create(code="eu_retailer", name="EU", reporting_currency="EUR", timezone="Europe/Berlin",
                            default_attribution_window_days=14, default_attribution_model="last_click")  # fmt: skip
    for i, sku in enumerate(catalog["acme"]["skus"]):
        sku.gtin = f"400638133393{i}"
        sku.save(update_fields=["gtin"])
    yesterday = timezone.now().date() - dt.timedelta(days=1)
    last_rate = yesterday - dt.timedelta(days=20)
    _fx_rates_upsert(start=last_rate - dt.timedelta(days=30), end=last_rate, seed=3)  # weekday EUR fixings
    response = download(client, personas["marketer"], "eu_retailer_jsonl")
    assert response.status_code == 200, response.content[:200]

    batch = ingest(tmp_path, demo_like, "eu_retailer_jsonl", response.content, ".jsonl")

    assert batch.status == IngestBatch.Status.SUCCEEDED, (batch.error, batch.report.get("quarantine_reasons"))
    assert batch.report["rows_quarantined"] == 0
    facts = PerformanceFact.objects.filter(ingest_batch=batch)
    assert facts.count() > 0 and all(f.original_currency == "EUR" and f.sku_id for f in facts)
    assert max(f.date for f in facts) <= last_rate


def test_anonymous_visitors_cannot_download_a_sample(client):
    response = client.get(reverse("import_sample", args=["amazon_sp_advertised_product"]))
    assert response.status_code == 302

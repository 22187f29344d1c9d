"""Brands, SKUs, campaigns and performance through the partner API: behaviour, bad input, filters, sums."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import SKU, AttributionModel, Brand, Campaign, PerformanceFact, RetailerItem
from campaigns.services import performance_rollup_refresh
from governance.models import AuditLog
from rmn_site.tests.api_support import API, assert_error, client_for


@pytest.fixture
def marketer(personas):
    return client_for(personas["marketer"])


def _counts() -> tuple[int, ...]:
    return (
        Brand.objects.count(),
        SKU.objects.count(),
        RetailerItem.objects.count(),
        Campaign.objects.count(),
        # Refusals store nothing; a refusal whose echo held something like personal data (a 13-digit GTIN that
        # passes Luhn reads as a card) leaves the redaction's own audit entry, a governance record (issue 19).
        AuditLog.objects.exclude(action="pii.redact").count(),
    )


# --- brands ---------------------------------------------------------------------------------------------------


def test_it_creates_a_brand_and_audits_who_did_it(marketer, personas, catalog, tenants):
    response = marketer.post(f"{API}/brands/", {"name": "Acme Organics"})
    assert response.status_code == 201
    brand = Brand.objects.get(pk=response.json()["id"])
    assert (brand.tenant, brand.name) == (tenants["acme"], "Acme Organics")
    entry = AuditLog.objects.get(action="brand.create")
    assert (entry.actor_user, entry.tenant, entry.object_id) == (personas["marketer"], tenants["acme"], str(brand.pk))


def test_it_refuses_a_duplicate_or_blank_brand_name(marketer, catalog):
    before = _counts()
    assert_error(marketer.post(f"{API}/brands/", {"name": "acme foods brand"}), 400, field="name", mentions=("exists",))
    assert_error(marketer.post(f"{API}/brands/", {"name": ""}), 400, field="name")
    assert_error(marketer.post(f"{API}/brands/", {"name": "Ok", "colour": "red"}), 400, field="colour")
    assert _counts() == before


def test_it_allows_the_same_brand_name_in_another_tenant(personas, catalog):
    response = client_for(personas["stranger"]).post(f"{API}/brands/", {"name": "Acme Foods Brand"})
    assert response.status_code == 201


# --- SKUs -----------------------------------------------------------------------------------------------------


def _sku_body(brand_id: int, **overrides) -> dict:
    body = {
        "brand": brand_id,
        "sku_code": "acme-crunch-12",
        "name": "Crunch 12 pack",
        "gtin": "4006381333931",
        "price": "12.99",
        "unit_cost": "7.10",
        "stock_units": 40,
        "retailer_items": [
            {"retailer": "amazon", "item_id": "B000CRUNCH"},
            {"retailer": "walmart", "item_id": "55501"},
        ],
    }
    return {**body, **overrides}


def test_it_creates_a_sku_with_its_retailer_crosswalk(marketer, catalog, tenants):
    response = marketer.post(f"{API}/skus/", _sku_body(catalog["acme"]["brand"].pk))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["price"] == "12.9900" and body["currency"] == "USD"
    assert sorted(body["retailer_items"], key=lambda i: i["retailer"]) == [
        {"retailer": "amazon", "item_id": "B000CRUNCH"},
        {"retailer": "walmart", "item_id": "55501"},
    ]
    sku = SKU.objects.get(pk=body["id"])
    assert sku.tenant == tenants["acme"] and sku.price == Decimal("12.99")
    assert set(RetailerItem.objects.filter(sku=sku).values_list("retailer__code", "item_id")) == {
        ("amazon", "B000CRUNCH"),
        ("walmart", "55501"),
    }
    fetched = marketer.get(f"{API}/skus/{sku.pk}/").json()
    assert len(fetched["retailer_items"]) == 2


def test_it_replaces_the_crosswalk_on_patch_and_keeps_it_otherwise(marketer, catalog):
    sku_id = marketer.post(f"{API}/skus/", _sku_body(catalog["acme"]["brand"].pk)).json()["id"]
    response = marketer.patch(f"{API}/skus/{sku_id}/", {"stock_units": 5})
    assert response.status_code == 200 and len(response.json()["retailer_items"]) == 2
    response = marketer.patch(f"{API}/skus/{sku_id}/", {"retailer_items": [{"retailer": "walmart", "item_id": "777"}]})
    assert response.json()["retailer_items"] == [{"retailer": "walmart", "item_id": "777"}]
    assert list(RetailerItem.objects.filter(sku_id=sku_id).values_list("item_id", flat=True)) == ["777"]
    assert SKU.objects.get(pk=sku_id).stock_units == 5
    assert AuditLog.objects.filter(action="sku.update", object_id=str(sku_id)).count() == 2


@pytest.mark.parametrize(
    ("overrides", "field", "mentions"),
    [
        ({"gtin": "4006381333932"}, "gtin", ("check digit",)),
        ({"gtin": "12345"}, "gtin", ("12345",)),
        ({"price": "-1.00"}, "price", ("greater than or equal to 0",)),
        ({"price": "cheap"}, "price", ("number",)),
        ({"stock_units": "many"}, "stock_units", ("integer",)),
        ({"currency": "XYZ"}, "currency", ("ISO 4217",)),
        ({"sku_code": "has space"}, "sku_code", ()),
        ({"sku_code": "acme-sku-0"}, "sku_code", ("already used",)),
        ({"retailer_items": [{"retailer": "target", "item_id": "1"}]}, "retailer_items", ("target",)),
        ({"retailer_items": "B000"}, "retailer_items", ()),
        (
            {"retailer_items": [{"retailer": "amazon", "item_id": "X"}, {"retailer": "amazon", "item_id": "X"}]},
            "retailer_items",
            ("twice",),
        ),
        ({"id": 99}, "id", ("read-only",)),
    ],
)
def test_it_refuses_a_bad_sku_and_stores_nothing(overrides, field, mentions, marketer, catalog):
    before = _counts()
    response = marketer.post(f"{API}/skus/", _sku_body(catalog["acme"]["brand"].pk, **overrides))
    assert_error(response, 400, field=field, mentions=mentions)
    assert _counts() == before


def test_it_treats_another_tenants_brand_as_missing(marketer, catalog):
    before = _counts()
    globex_brand = catalog["globex"]["brand"].pk
    response = marketer.post(f"{API}/skus/", _sku_body(globex_brand))
    assert_error(response, 400, field="brand", mentions=(f"Brand {globex_brand} does not exist",))
    sku = catalog["acme"]["skus"][0]
    assert_error(marketer.patch(f"{API}/skus/{sku.pk}/", {"brand": globex_brand}), 400, field="brand")
    assert _counts() == before
    assert SKU.objects.get(pk=sku.pk).brand == catalog["acme"]["brand"]


def test_it_refuses_an_item_id_that_another_sku_already_uses(marketer, catalog):
    marketer.post(f"{API}/skus/", _sku_body(catalog["acme"]["brand"].pk))
    before = _counts()
    other = catalog["acme"]["skus"][1]
    body = {"retailer_items": [{"retailer": "amazon", "item_id": "B000CRUNCH"}]}
    assert_error(marketer.patch(f"{API}/skus/{other.pk}/", body), 400, mentions=("acme-crunch-12",))
    assert _counts() == before


# --- campaigns ------------------------------------------------------------------------------------------------


def _campaign_body(brand_id: int, **overrides) -> dict:
    body = {
        "name": "Spring push",
        "external_id": "WM-1001",
        "retailer": "walmart",
        "brand": brand_id,
        "placement_type": "search",
        "start_date": "2026-04-01",
        "end_date": "2026-04-30",
        "budget": "2500.50",
    }
    return {**body, **overrides}


def test_it_creates_a_campaign_in_the_tenants_currency(marketer, catalog, tenants):
    response = marketer.post(f"{API}/campaigns/", _campaign_body(catalog["acme"]["brand"].pk))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["retailer"], body["budget"], body["budget_currency"], body["status"]) == (
        "walmart",
        "2500.5000",
        "USD",
        "draft",
    )
    campaign = Campaign.objects.get(pk=body["id"])
    assert campaign.tenant == tenants["acme"] and campaign.budget == Decimal("2500.50")
    assert AuditLog.objects.filter(action="campaign.create", object_id=str(campaign.pk)).exists()


@pytest.mark.parametrize(
    ("overrides", "field", "mentions"),
    [
        ({"retailer": "nowhere-mart"}, "retailer", ("nowhere-mart",)),
        ({"end_date": "2026-03-01"}, "end_date", ("before start_date",)),
        ({"budget": "-5"}, "budget", ("greater than or equal to 0",)),
        ({"budget": "a lot"}, "budget", ("number",)),
        ({"start_date": "01/04/2026"}, "start_date", ("YYYY-MM-DD",)),
        ({"placement_type": "billboard"}, "placement_type", ("billboard",)),
        ({"budget_currency": "usd"}, "budget_currency", ("ISO 4217",)),
        ({"external_id": "acme-walmart"}, "external_id", ("already exists",)),
        ({"brand": "first"}, "brand", ()),
    ],
)
def test_it_refuses_a_bad_campaign_and_stores_nothing(overrides, field, mentions, marketer, catalog):
    before = _counts()
    response = marketer.post(f"{API}/campaigns/", _campaign_body(catalog["acme"]["brand"].pk, **overrides))
    assert_error(response, 400, field=field, mentions=mentions)
    assert _counts() == before


def test_it_refuses_another_tenants_brand_for_a_campaign(marketer, catalog):
    before = _counts()
    globex_brand = catalog["globex"]["brand"].pk
    response = marketer.post(f"{API}/campaigns/", _campaign_body(globex_brand))
    assert_error(response, 400, field="brand", mentions=("does not exist",))
    assert _counts() == before


def test_it_updates_a_campaign_and_keeps_retailer_fixed(marketer, catalog):
    campaign = catalog["acme"]["campaigns"]["amazon"]
    response = marketer.patch(f"{API}/campaigns/{campaign.pk}/", {"status": "paused", "end_date": "2026-06-30"})
    assert response.status_code == 200
    campaign.refresh_from_db()
    assert (campaign.status, campaign.end_date) == ("paused", dt.date(2026, 6, 30))
    entry = AuditLog.objects.get(action="campaign.update")
    assert entry.detail["changed"]["status"] == ["active", "paused"]

    before = _counts()
    assert_error(marketer.patch(f"{API}/campaigns/{campaign.pk}/", {"retailer": "walmart"}), 400, field="retailer")
    refused = marketer.patch(f"{API}/campaigns/{campaign.pk}/", {"end_date": "2025-12-31"})
    assert_error(refused, 400, field="end_date", mentions=("before start_date",))
    assert_error(marketer.patch(f"{API}/campaigns/{campaign.pk}/", {"budget": "-1"}), 400, field="budget")
    campaign.refresh_from_db()
    assert (campaign.retailer.code, campaign.end_date, campaign.budget) == ("amazon", dt.date(2026, 6, 30), 1000)
    assert _counts() == before


def test_it_filters_campaigns(marketer, catalog):
    acme = catalog["acme"]["campaigns"]
    Campaign.objects.filter(pk=acme["walmart"].pk).update(status="paused")

    def names(query: str) -> set[str]:
        response = marketer.get(f"{API}/campaigns/?{query}")
        assert response.status_code == 200
        return {row["name"] for row in response.json()["results"]}

    assert names("") == {"acme amazon", "acme walmart"}
    assert names("retailer=amazon") == {"acme amazon"}
    assert names("placement_type=onsite_display") == {"acme walmart"}
    assert names("status=paused") == {"acme walmart"}
    assert names("status=active&retailer=walmart") == set()
    assert_error(marketer.get(f"{API}/campaigns/?retailer=nowhere"), 400, field="retailer", mentions=("nowhere",))
    assert_error(marketer.get(f"{API}/campaigns/?status=sleeping"), 400, field="status")


# --- performance ----------------------------------------------------------------------------------------------
# The catalog fixture: per tenant and retailer, days 0..9 from 2026-03-01 with spend 10+day, sales 3×spend,
# impressions 1000+day, clicks 10+day, units = day. Amazon is sponsored_product, Walmart onsite_display.

DAY0 = dt.date(2026, 3, 1)


def _expected(days: range, retailers: tuple[str, ...] = ("amazon", "walmart")) -> dict:
    n = len(retailers)
    spend = Decimal(sum(10 + d for d in days)) * n
    return {
        "impressions": sum(1000 + d for d in days) * n,
        "clicks": sum(10 + d for d in days) * n,
        "spend": spend,
        "attributed_sales": spend * 3,
        "attributed_units": sum(days) * n,
    }


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_it_lists_facts_with_filters(marketer, catalog, tenants):
    acme = catalog["acme"]["campaigns"]
    everything = _ids(marketer.get(f"{API}/performance/"))
    assert len(everything) == 20
    assert set(everything) == set(PerformanceFact.objects.filter(tenant=tenants["acme"]).values_list("pk", flat=True))

    rows = marketer.get(f"{API}/performance/?date_from=2026-03-05&date_to=2026-03-06").json()["results"]
    assert {row["date"] for row in rows} == {"2026-03-05", "2026-03-06"} and len(rows) == 4

    rows = marketer.get(f"{API}/performance/?retailer=walmart").json()["results"]
    assert len(rows) == 10 and {row["retailer"] for row in rows} == {"walmart"}
    assert {row["campaign"] for row in rows} == {acme["walmart"].pk}

    rows = marketer.get(f"{API}/performance/?placement_type=sponsored_product").json()["results"]
    assert len(rows) == 10 and {row["retailer"] for row in rows} == {"amazon"}

    rows = marketer.get(f"{API}/performance/?campaign={acme['amazon'].pk}&date_from=2026-03-10").json()["results"]
    assert [(row["date"], row["spend"], row["attributed_sales"]) for row in rows] == [
        ("2026-03-10", "19.0000", "57.0000")
    ]
    globex_campaign = catalog["globex"]["campaigns"]["amazon"].pk
    assert _ids(marketer.get(f"{API}/performance/?campaign={globex_campaign}")) == []


def test_it_pages_through_facts_without_gaps_or_repeats(marketer, catalog):
    seen, url, pages = [], f"{API}/performance/?page_size=7", 0
    while url:
        body = marketer.get(url).json()
        assert body["count"] == 20
        seen += [row["id"] for row in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 3 and len(seen) == 20 and len(set(seen)) == 20
    assert len(marketer.get(f"{API}/performance/?page_size=7&page=3").json()["results"]) == 6
    assert_error(marketer.get(f"{API}/performance/?page=9"), 404)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("date_from=2026-13-01", "date_from"),
        ("date_to=yesterday", "date_to"),
        ("date_from=2026-03-09&date_to=2026-03-02", "date_to"),
        ("retailer=nowhere", "retailer"),
        ("placement_type=billboard", "placement_type"),
        ("campaign=abc", "campaign"),
    ],
)
@pytest.mark.parametrize("path", ["performance/", "performance/summary/"])
def test_it_names_a_bad_filter_parameter(path, query, field, marketer, catalog):
    assert_error(marketer.get(f"{API}/{path}?{query}"), 400, field=field, mentions=(field,))


def _assert_totals(got: dict, expected: dict) -> None:
    assert got["impressions"] == expected["impressions"]
    assert got["clicks"] == expected["clicks"]
    assert Decimal(got["spend"]) == expected["spend"]
    assert Decimal(got["attributed_sales"]) == expected["attributed_sales"]
    assert got["attributed_units"] == expected["attributed_units"]
    assert Decimal(got["roas"]) == (expected["attributed_sales"] / expected["spend"]).quantize(Decimal("0.0001"))
    assert got["ctr"] == pytest.approx(expected["clicks"] / expected["impressions"])


def test_it_summarises_totals_and_channels_from_the_known_facts(marketer, catalog):
    body = marketer.get(f"{API}/performance/summary/").json()
    assert body["currency"] == "USD"
    _assert_totals(body["totals"], _expected(range(10)))
    assert body["totals"]["spend"] == "290.0000" and body["totals"]["roas"] == "3.0000"
    channels = {(c["retailer"], c["placement_type"]): c for c in body["channels"]}
    assert set(channels) == {("amazon", "sponsored_product"), ("walmart", "onsite_display")}
    _assert_totals(channels["amazon", "sponsored_product"]["totals"], _expected(range(10), ("amazon",)))
    assert channels["walmart", "onsite_display"]["retailer_name"] == "Walmart Connect"


def test_it_summarises_only_the_filtered_facts(marketer, catalog):
    body = marketer.get(f"{API}/performance/summary/?date_from=2026-03-08&retailer=walmart").json()
    _assert_totals(body["totals"], _expected(range(7, 10), ("walmart",)))
    assert [c["retailer"] for c in body["channels"]] == ["walmart"]
    empty = marketer.get(f"{API}/performance/summary/?date_from=2027-01-01").json()
    assert empty["totals"]["spend"] == "0.0000" and empty["totals"]["roas"] is None and empty["channels"] == []


def test_it_keeps_another_tenants_facts_out_of_the_summary(marketer, catalog, tenants, retailers):
    globex = catalog["globex"]
    PerformanceFact.objects.create(
        date=DAY0,
        tenant=tenants["globex"],
        retailer=retailers["amazon"],
        campaign=globex["campaigns"]["amazon"],
        placement_type="sponsored_product",
        impressions=5,
        clicks=1,
        spend=Decimal("5000"),
        attributed_sales=Decimal("1"),
        attributed_units=1,
        attribution_window_days=7,
        attribution_model=AttributionModel.LAST_CLICK,
        currency="USD",
        original_currency="USD",
        original_spend=Decimal("5000"),
        original_attributed_sales=Decimal("1"),
        ingest_batch=globex["batch"],
    )
    performance_rollup_refresh(tenant=tenants["globex"], date_from=DAY0, date_to=DAY0)
    _assert_totals(marketer.get(f"{API}/performance/summary/").json()["totals"], _expected(range(10)))

"""Stock-out risk and price elasticity per SKU, outside any plan: the same engine plans use, on the tenant's own
history and stock, on a page and in the API, scoped to the tenant."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pytest
from django.urls import reverse

from campaigns.models import SKU, AttributionModel, PerformanceFact, PlacementType
from optimizer.engine.forecast import stockout_risk
from optimizer.selectors import tenant_frames
from rmn_site.tests.api_support import API, assert_error, client_for

TRUE_ELASTICITY = -1.5


@pytest.fixture
def elastic_sku(catalog, tenants):
    """A fourth Acme SKU sold on Amazon for 150 days at a price that moves at random, with a known elasticity."""
    acme = catalog["acme"]
    sku = SKU.objects.create(
        tenant=tenants["acme"], brand=acme["brand"], sku_code="acme-elastic", name="Elastic granola", category="snacks",
        price=Decimal("4.00"), unit_cost=Decimal("1.50"), stock_units=100,
    )  # fmt: skip
    campaign = acme["campaigns"]["amazon"]
    rng = np.random.default_rng(11)
    facts = []
    for day in range(150):
        price = 4.0 * math.exp(rng.normal(0, 0.15))
        units = int(rng.poisson(60 * (price / 4.0) ** TRUE_ELASTICITY))
        sales = Decimal(str(round(units * price, 2)))
        fact = PerformanceFact(
            date=dt.date(2025, 10, 1) + dt.timedelta(days=day), tenant=tenants["acme"], retailer=campaign.retailer,
            campaign=campaign, sku=sku, placement_type=PlacementType.SPONSORED_PRODUCT, impressions=1000,
            clicks=20, spend=Decimal("10"), attributed_sales=sales, attributed_units=units,
            attribution_window_days=14, attribution_model=AttributionModel.LAST_CLICK, currency="USD",
            original_currency="USD", original_spend=Decimal("10"), original_attributed_sales=sales,
            ingest_batch=acme["batch"],
        )  # fmt: skip
        facts.append(fact)
    PerformanceFact.objects.bulk_create(facts)
    return sku


@pytest.fixture
def fixed_price_skus(catalog, tenants):
    """Two more Acme SKUs, 60 days each, each at its own price that never moves (4.00 and 9.00)."""
    acme = catalog["acme"]
    campaign = acme["campaigns"]["amazon"]
    rng = np.random.default_rng(5)
    facts = []
    for code, price in (("acme-fixed-4", 4.0), ("acme-fixed-9", 9.0)):
        sku = SKU.objects.create(
            tenant=tenants["acme"], brand=acme["brand"], sku_code=code, name=code, category="snacks",
            price=Decimal(str(price)), unit_cost=Decimal("1.00"), stock_units=1000,
        )  # fmt: skip
        for day in range(60):
            units = int(rng.poisson(40)) + 1
            sales = Decimal(str(round(units * price, 2)))
            facts.append(
                PerformanceFact(
                    date=dt.date(2025, 10, 1) + dt.timedelta(days=day), tenant=tenants["acme"],
                    retailer=campaign.retailer, campaign=campaign, sku=sku,
                    placement_type=PlacementType.SPONSORED_PRODUCT, impressions=1000, clicks=20, spend=Decimal("10"),
                    attributed_sales=sales, attributed_units=units, attribution_window_days=14,
                    attribution_model=AttributionModel.LAST_CLICK, currency="USD", original_currency="USD",
                    original_spend=Decimal("10"), original_attributed_sales=sales, ingest_batch=acme["batch"],
                )
            )  # fmt: skip
    PerformanceFact.objects.bulk_create(facts)


def _rows(body: dict) -> dict[str, dict]:
    return {row["sku_id"]: row for row in body["skus"]}


def test_the_api_gives_each_sku_the_risk_the_plans_engine_gives(personas, tenants, catalog):
    SKU.objects.filter(sku_code="acme-sku-0").update(stock_units=5)
    body = client_for(personas["reviewer"]).get(f"{API}/sku-forecasts/?horizon_days=14").json()
    assert body["horizon_days"] == 14 and body["tracks_stock"] and body["currency"] == "USD"
    rows = _rows(body)
    assert set(rows) == {"acme-sku-0", "acme-sku-1"}
    history, skus, _ = tenant_frames(tenants["acme"])
    expected = stockout_risk(history, skus, {"acme-sku-0": 5.0, "acme-sku-1": 100.0}, horizon_days=14, seed=0)
    for record in expected.to_dict("records"):
        row = rows[record["sku_id"]]
        assert row["p_stockout"] == pytest.approx(record["p_stockout"])
        assert row["expected_daily_units"] == pytest.approx(record["expected_daily_units"])
    # 5 units on hand against a few units a day runs out; a SKU that never sold does not. Riskiest first.
    assert rows["acme-sku-0"]["p_stockout"] > 0.9 and rows["acme-sku-1"]["p_stockout"] == 0
    assert body["skus"][0]["sku_id"] == "acme-sku-0"
    assert "needs 30" in rows["acme-sku-0"]["elasticity"]["reason"]  # 10 days of history: no elasticity, said why


def test_no_risk_is_shown_when_the_tenant_tracks_no_stock(personas, catalog):
    SKU.objects.update(stock_units=0)
    body = client_for(personas["marketer"]).get(f"{API}/sku-forecasts/").json()
    assert body["horizon_days"] == 28 and not body["tracks_stock"]
    assert all(row["p_stockout"] is None and row["stock"] is None for row in body["skus"])


def test_the_elasticity_per_sku_recovers_the_truth(personas, elastic_sku):
    body = client_for(personas["marketer"]).get(f"{API}/sku-forecasts/").json()
    elasticity = _rows(body)["acme-elastic"]["elasticity"]
    assert elasticity["reason"] == "" and elasticity["days"] == 150
    assert elasticity["estimate"] == pytest.approx(TRUE_ELASTICITY, abs=0.25)
    assert elasticity["interval"][0] < TRUE_ELASTICITY < elasticity["interval"][1]


def test_the_forecast_is_scoped_to_the_tenant_and_checks_the_horizon(personas, catalog):
    stranger = client_for(personas["stranger"])
    assert set(_rows(stranger.get(f"{API}/sku-forecasts/").json())) == {"globex-sku-0", "globex-sku-1"}
    assert_error(stranger.get(f"{API}/sku-forecasts/", HTTP_X_TENANT="acme"), 404)
    assert_error(stranger.get(f"{API}/sku-forecasts/?horizon_days=0"), 400, field="horizon_days")


def test_the_page_shows_each_sku_and_only_the_tenants(client, personas, catalog):
    SKU.objects.filter(sku_code="acme-sku-0").update(stock_units=5)
    client.force_login(personas["reviewer"])
    html = client.get(reverse("sku_forecast")).content.decode()
    assert 'data-sku="acme-sku-0"' in html and 'data-sku="acme-sku-1"' in html and "globex" not in html
    assert 'aria-current="page">SKU forecast' in html
    bad = client.get(reverse("sku_forecast"), {"horizon_days": "soon"})
    assert bad.status_code == 400 and "from 1 to 366" in bad.content.decode()
    client.force_login(personas["stranger"])
    html = client.get(reverse("sku_forecast")).content.decode()
    assert "acme-sku" not in html and 'data-sku="globex-sku-0"' in html
    client.logout()
    assert client.get(reverse("sku_forecast")).status_code == 302


def test_prices_that_differ_only_between_skus_give_no_pooled_elasticity(personas, tenants, fixed_price_skus):
    PerformanceFact.objects.filter(tenant=tenants["acme"]).exclude(sku__sku_code__startswith="acme-fixed").delete()
    body = client_for(personas["marketer"]).get(f"{API}/sku-forecasts/").json()
    rows = _rows(body)
    for code in ("acme-fixed-4", "acme-fixed-9"):
        assert rows[code]["elasticity"]["estimate"] is None and "never varies" in rows[code]["elasticity"]["reason"]
    # the two SKUs' prices differ, but neither moved: nothing says what a price change does to units
    assert body["pooled_elasticity"] is None


def test_a_sku_whose_price_moves_gives_a_pooled_elasticity(personas, elastic_sku, fixed_price_skus):
    body = client_for(personas["marketer"]).get(f"{API}/sku-forecasts/").json()
    assert body["pooled_elasticity"] is not None and body["pooled_elasticity"]["estimate"] is not None

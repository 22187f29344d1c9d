"""Amounts are bounded by what both databases store exactly (core.bounds.MONEY_MAX): the extremes round-trip on the
database the tests run on (SQLite by default; PostgreSQL with DATABASE_URL), and every input path refuses more,
naming the field and the largest amount, so no tenant's lists can be broken by one stored value."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from campaigns.models import SKU, Campaign, PerformanceFact
from campaigns.services import campaign_create
from core.bounds import MONEY_MAX
from core.errors import DomainError
from optimizer.models import AllocationPlan, BanditPolicy, LiftStudy
from rmn_site.tests.api_support import API, assert_error, client_for

LARGEST = "99,999,999,999.9999"
TOO_MUCH = ["100000000000", "99999999999999.9999"]
# Both signs where a field allows them; the smallest step; 15 significant digits.
SIGNED = [MONEY_MAX, -MONEY_MAX, Decimal("0.0001"), Decimal("12345678901.2345"), Decimal("-0.0001")]
UNSIGNED = [MONEY_MAX, Decimal("0.0001"), Decimal("12345678901.2345"), Decimal("0")]


def _round_trip(obj, field: str, values: list[Decimal]) -> list[tuple[Decimal, Decimal]]:
    out = []
    model = type(obj)
    for value in values:
        model.objects.filter(pk=obj.pk).update(**{field: value})
        out.append((value, model.objects.values_list(field, flat=True).get(pk=obj.pk)))
        out.append((value, getattr(model.objects.get(pk=obj.pk), field)))  # the list pages read whole rows
    return out


def test_the_extreme_amounts_round_trip_exactly_on_this_database(catalog, tenants, retailers):
    acme = tenants["acme"]
    sku = catalog["acme"]["skus"][0]
    campaign = catalog["acme"]["campaigns"]["amazon"]
    fact = PerformanceFact.objects.filter(tenant=acme).first()
    study = LiftStudy.objects.create(
        tenant=acme, retailer=retailers["amazon"], placement_type="search", start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 1, 31), spend=1, incremental_sales=1, incremental_sales_se=1, currency="USD",
        method="other", source="retailer",
    )  # fmt: skip
    plan = AllocationPlan.objects.create(tenant=acme, budget=1, currency="USD", period_days=28)
    policy = BanditPolicy.objects.create(
        tenant=acme, name="p", currency="USD", budget=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 2)
    )
    cases = [
        (sku, "price", UNSIGNED), (sku, "unit_cost", UNSIGNED), (campaign, "budget", UNSIGNED),
        (fact, "spend", UNSIGNED), (fact, "attributed_sales", UNSIGNED), (fact, "original_spend", SIGNED),
        (fact, "original_attributed_sales", SIGNED), (study, "spend", UNSIGNED), (study, "incremental_sales", SIGNED),
        (study, "incremental_sales_se", UNSIGNED), (plan, "budget", UNSIGNED), (policy, "budget", UNSIGNED),
        (policy, "spent", SIGNED),
    ]  # fmt: skip
    for obj, field, values in cases:
        for written, read in _round_trip(obj, field, values):
            assert read == written, (connection.vendor, type(obj).__name__, field, written, read)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite keeps 15 significant digits; PostgreSQL all 18")
def test_on_sqlite_one_more_digit_would_not_round_trip(catalog):
    # Why the bound is 11 digits before the point: a 16th significant digit is rounded away on SQLite.
    sku = catalog["acme"]["skus"][0]
    SKU.objects.filter(pk=sku.pk).update(price=Decimal("100000000000.0001"))
    assert SKU.objects.values_list("price", flat=True).get(pk=sku.pk) != Decimal("100000000000.0001")


@pytest.mark.parametrize("amount", TOO_MUCH)
def test_the_api_refuses_an_amount_above_the_bound_naming_field_and_limit(amount, personas, catalog):
    client = client_for(personas["marketer"])
    brand = catalog["acme"]["brand"].pk
    sku = {"brand": brand, "sku_code": "big-1", "name": "Big", "price": amount, "unit_cost": "1"}
    assert_error(client.post(f"{API}/skus/", sku), 400, field="price", mentions=("price", LARGEST))
    campaign = catalog["acme"]["campaigns"]["amazon"]
    response = client.patch(f"{API}/campaigns/{campaign.pk}/", {"budget": amount})
    assert_error(response, 400, field="budget", mentions=("budget", LARGEST))
    study = {
        "retailer": "amazon", "placement_type": "search", "start_date": "2026-01-01", "end_date": "2026-01-31",
        "spend": "10", "incremental_sales": f"-{amount}", "incremental_sales_se": "1", "method": "other",
        "source": "retailer",
    }  # fmt: skip
    response = client.post(f"{API}/lift-studies/", study)
    assert_error(response, 400, field="incremental_sales", mentions=("incremental_sales", f"-{LARGEST}"))
    response = client.post(f"{API}/plans/", {"budget": amount, "period_days": 28})
    assert_error(response, 400, field="budget", mentions=("budget", LARGEST))
    bounds = {"amazon|sponsored_product": ["0", amount]}
    response = client.post(f"{API}/plans/", {"budget": "100", "period_days": 28, "bounds": bounds})
    assert_error(response, 400, field="bounds", mentions=("bounds", LARGEST))
    # The tenant's lists still answer: nothing out of range was stored.
    for path in ("skus", "campaigns", "lift-studies", "plans"):
        assert client.get(f"{API}/{path}/").status_code == 200, path
    assert Campaign.objects.get(pk=campaign.pk).budget == Decimal("1000")


def test_the_largest_amount_is_accepted_and_read_back(personas, catalog):
    client = client_for(personas["marketer"])
    brand = catalog["acme"]["brand"].pk
    body = {"brand": brand, "sku_code": "big-1", "name": "Big", "price": "99999999999.9999", "unit_cost": "0.0001"}
    assert client.post(f"{API}/skus/", body).status_code == 201
    listed = {row["sku_code"]: row for row in client.get(f"{API}/skus/").json()["results"]}
    assert listed["big-1"]["price"] == "99999999999.9999"
    campaign = catalog["acme"]["campaigns"]["walmart"]
    response = client.patch(f"{API}/campaigns/{campaign.pk}/", {"budget": "99999999999.9999"})
    assert response.status_code == 200
    assert client.get(f"{API}/campaigns/{campaign.pk}/").json()["budget"] == "99999999999.9999"


def test_a_service_refuses_the_amount_too(catalog, tenants, retailers):
    with pytest.raises(DomainError) as caught:
        campaign_create(
            tenant=tenants["acme"], retailer=retailers["amazon"], brand=catalog["acme"]["brand"], name="Big",
            external_id="big", placement_type="search", start_date=dt.date(2026, 1, 1),
            budget=Decimal("99999999999999.9999"),
        )  # fmt: skip
    assert caught.value.field == "budget"
    assert LARGEST in caught.value.message
    assert not Campaign.objects.filter(external_id="big").exists()

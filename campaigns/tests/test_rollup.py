"""The daily performance rollup the dashboard reads: the same figures as the facts, to the cent, and kept fresh by
performance_rollup_refresh after facts change."""

from __future__ import annotations

import datetime as dt
import importlib
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse

from campaigns.models import AttributionModel, Campaign, PerformanceDaily, PerformanceFact, PlacementType
from campaigns.selectors import (
    PerformanceFilter,
    performance_by_channel,
    performance_date_range,
    performance_totals,
    performance_weekly,
)
from campaigns.services import performance_rollup_kept, performance_rollup_refresh
from core.errors import DomainError
from demo.seed import demo_seed
from governance.models import Tenant

CENT = Decimal("0.01")
FOUR_PLACES = Decimal("0.0001")


def figures(tenant: Tenant, filters: PerformanceFilter, *, from_facts: bool) -> dict:
    """Everything the dashboard shows for these filters."""
    return {
        "range": performance_date_range(tenant=tenant, from_facts=from_facts),
        "totals": performance_totals(tenant=tenant, filters=filters, from_facts=from_facts),
        "channels": performance_by_channel(tenant=tenant, filters=filters, from_facts=from_facts),
        "weekly": performance_weekly(tenant=tenant, filters=filters, from_facts=from_facts),
    }


def raw_sums(tenant: Tenant, filters: PerformanceFilter) -> tuple[Decimal, Decimal, int]:
    """Spend, attributed sales and impressions summed by hand over the fact table: the truth."""
    sql = (
        "SELECT SUM(f.spend), SUM(f.attributed_sales), SUM(f.impressions) FROM campaigns_performancefact f "
        "JOIN campaigns_retailer r ON r.id = f.retailer_id WHERE f.tenant_id = %s AND f.date >= %s AND f.date <= %s"
    )
    params = [tenant.pk, filters.date_from, filters.date_to]
    if filters.retailer_code:
        sql, params = sql + " AND r.code = %s", [*params, filters.retailer_code]
    if filters.placement_type:
        sql, params = sql + " AND f.placement_type = %s", [*params, filters.placement_type]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        spend, sales, impressions = cursor.fetchone()
    # SQLite sums as floating point, PostgreSQL as numeric: both are exact at the column's 4 decimal places.
    return Decimal(str(spend)).quantize(FOUR_PLACES), Decimal(str(sales)).quantize(FOUR_PLACES), int(impressions)


def kpi(html: str, metric: str) -> str:
    match = re.search(rf'data-metric="{metric}" data-value="([^"]*)"', html)
    assert match, f"no KPI {metric!r} on the page"
    return match.group(1)


@pytest.fixture
def demo(db):
    demo_seed(days=120, seed=3, today=dt.date(2026, 6, 1))
    return {t.slug: t for t in Tenant.objects.filter(slug__in=["acme", "globex"])}


# --- the same figures -------------------------------------------------------------------------------------------


def test_the_dashboard_figures_are_identical_with_and_without_the_rollup_on_the_demo(demo):
    acme = demo["acme"]
    first, last = performance_date_range(tenant=acme, from_facts=True)
    assert (first, last) == (dt.date(2026, 2, 1), dt.date(2026, 5, 31))
    assert PerformanceDaily.objects.filter(tenant=acme).count() < PerformanceFact.objects.filter(tenant=acme).count()
    cases = [
        PerformanceFilter(date_from=last - dt.timedelta(days=89), date_to=last),  # the dashboard's default
        PerformanceFilter(date_from=first, date_to=last),
        PerformanceFilter(date_from=dt.date(2026, 3, 4), date_to=dt.date(2026, 4, 16), retailer_code="amazon"),
        PerformanceFilter(date_from=first, date_to=last, placement_type=PlacementType.SPONSORED_PRODUCT),
        PerformanceFilter(date_from=dt.date(2026, 5, 2), date_to=dt.date(2026, 5, 2), retailer_code="walmart"),
    ]
    for tenant in demo.values():
        for filters in cases:
            rolled, exact = figures(tenant, filters, from_facts=False), figures(tenant, filters, from_facts=True)
            assert rolled == exact, (tenant.slug, filters)
            spend, sales, impressions = raw_sums(tenant, filters)
            totals = rolled["totals"]
            assert (totals.spend, totals.attributed_sales, totals.impressions) == (spend, sales, impressions)
            assert totals.spend.quantize(CENT) == spend.quantize(CENT) > 0
    weekly = figures(acme, cases[1], from_facts=False)["weekly"]
    assert {week.weekday() for week, _, _ in weekly} == {0}
    assert sum((t.spend for _, _, t in weekly), Decimal(0)) == raw_sums(acme, cases[1])[0]


def test_the_dashboard_page_shows_the_facts_totals_to_the_cent(demo, client, django_user_model):
    client.force_login(django_user_model.objects.get(username="acme-marketer"))
    html = client.get(reverse("dashboard")).content.decode()
    last = dt.date(2026, 5, 31)
    default = PerformanceFilter(date_from=last - dt.timedelta(days=89), date_to=last)
    spend, sales, impressions = raw_sums(demo["acme"], default)
    assert Decimal(kpi(html, "spend")) == spend
    assert Decimal(kpi(html, "attributed_sales")) == sales
    assert int(kpi(html, "impressions")) == impressions
    assert f"USD {spend:,.2f}" in " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- kept fresh ---------------------------------------------------------------------------------------------------


def _fact(campaign: Campaign, day: dt.date, spend: str, sales: str, impressions: int, batch) -> PerformanceFact:
    return PerformanceFact(
        date=day,
        tenant=campaign.tenant,
        retailer=campaign.retailer,
        campaign=campaign,
        placement_type=campaign.placement_type,
        impressions=impressions,
        clicks=3,
        spend=Decimal(spend),
        attributed_sales=Decimal(sales),
        attributed_units=2,
        attribution_window_days=7,  # another attribution key than the catalog's rows
        attribution_model=AttributionModel.LAST_TOUCH,
        currency="USD",
        original_currency="USD",
        original_spend=Decimal(spend),
        original_attributed_sales=Decimal(sales),
        ingest_batch=batch,
    )


def test_a_refresh_after_new_facts_changes_the_figures(catalog, tenants):
    """The catalog: per tenant, amazon and walmart facts on 2026-03-01..10 with spend 10+day each (290 in all)."""
    acme, acme_catalog = tenants["acme"], catalog["acme"]
    everything = PerformanceFilter(date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 12, 31))
    assert performance_totals(tenant=acme, filters=everything).spend == Decimal("290")
    amazon, walmart = acme_catalog["campaigns"]["amazon"], acme_catalog["campaigns"]["walmart"]
    # What a loader does: facts in bulk (no save signals), a day that had none, one that had, and a replaced row.
    PerformanceFact.objects.bulk_create(
        [
            _fact(amazon, dt.date(2026, 3, 12), "100.25", "300.50", 4000, acme_catalog["batch"]),
            _fact(walmart, dt.date(2026, 3, 5), "7.10", "20.00", 100, acme_catalog["batch"]),
        ]
    )
    PerformanceFact.objects.filter(campaign=walmart, date=dt.date(2026, 3, 3), attribution_window_days=14).delete()
    # (spend 12, sales 36, 1002 impressions)

    stale = performance_totals(tenant=acme, filters=everything)
    assert stale.spend == Decimal("290")  # the rollup shows what it was last refreshed with

    written = performance_rollup_refresh(tenant=acme, date_from=dt.date(2026, 3, 3), date_to=dt.date(2026, 3, 12))
    assert (
        written == 2 * 8 - 1 + 1
    )  # amazon and walmart on 3-10 March, less walmart on the 3rd, plus amazon on the 12th
    totals = performance_totals(tenant=acme, filters=everything)
    assert totals.spend == Decimal("290") + Decimal("100.25") + Decimal("7.10") - Decimal("12")
    assert totals.attributed_sales == Decimal("870") + Decimal("300.50") + Decimal("20.00") - Decimal("36")
    assert totals.impressions == sum(2 * (1000 + d) for d in range(10)) + 4000 + 100 - 1002
    assert totals == performance_totals(tenant=acme, filters=everything, from_facts=True)
    assert performance_date_range(tenant=acme) == (dt.date(2026, 3, 1), dt.date(2026, 3, 12))
    channels = {(code, placement): t.spend for code, _, placement, t in performance_by_channel(tenant=acme)}
    assert channels == {
        ("amazon", "sponsored_product"): Decimal("145") + Decimal("100.25"),
        ("walmart", "onsite_display"): Decimal("145") + Decimal("7.10") - Decimal("12"),
    }
    weekly = {(week, code): t.spend for week, code, t in performance_weekly(tenant=acme, filters=everything)}
    assert weekly[dt.date(2026, 3, 9), "amazon"] == Decimal(18 + 19) + Decimal("100.25")  # Mon 9 March: 9th-15th
    # Globex was not touched.
    assert performance_totals(tenant=tenants["globex"], filters=everything).spend == Decimal("290")


def test_a_refresh_reaches_only_its_days(catalog, tenants):
    acme = tenants["acme"]
    PerformanceFact.objects.filter(tenant=acme).delete()
    performance_rollup_refresh(tenant=acme, date_from=dt.date(2026, 3, 6), date_to=dt.date(2026, 3, 10))
    left = PerformanceDaily.objects.filter(tenant=acme)
    assert sorted({row.date.day for row in left}) == [1, 2, 3, 4, 5]
    performance_rollup_refresh(tenant=acme)
    assert not PerformanceDaily.objects.filter(tenant=acme).exists()
    assert performance_date_range(tenant=acme) == (None, None)
    with pytest.raises(DomainError) as caught:
        performance_rollup_refresh(tenant=acme, date_from=dt.date(2026, 3, 6), date_to=dt.date(2026, 3, 5))
    assert caught.value.field == "date_to"


def test_deleting_a_campaign_under_performance_rollup_kept_updates_the_figures(catalog, tenants):
    acme = tenants["acme"]
    walmart = catalog["acme"]["campaigns"]["walmart"]
    with performance_rollup_kept(facts=PerformanceFact.objects.filter(campaign=walmart)):
        walmart.delete()
    assert performance_totals(tenant=acme).spend == Decimal("145")
    assert [code for code, *_ in performance_by_channel(tenant=acme)] == ["amazon"]


def test_the_admin_keeps_the_rollup_when_it_deletes_facts(catalog, tenants, admin_client):
    acme = tenants["acme"]
    fact = PerformanceFact.objects.get(campaign=catalog["acme"]["campaigns"]["amazon"], date=dt.date(2026, 3, 10))
    response = admin_client.post(reverse("admin:campaigns_performancefact_delete", args=[fact.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert performance_totals(tenant=acme).spend == Decimal("290") - Decimal("19")


def test_the_migration_rolls_up_the_facts_already_there(catalog, tenants):
    expected = {tenant.slug: performance_totals(tenant=tenant) for tenant in tenants.values()}
    PerformanceDaily.objects.all().delete()
    migration = importlib.import_module("campaigns.migrations.0005_performance_daily_rollup")
    migration.fill_rollup(apps, SimpleNamespace(connection=connection))
    assert {tenant.slug: performance_totals(tenant=tenant) for tenant in tenants.values()} == expected
    assert PerformanceDaily.objects.count() == 2 * 2 * 10


def test_the_campaign_page_reads_only_facts_so_it_holds_before_a_refresh(catalog, client, personas):
    PerformanceDaily.objects.all().delete()  # facts written, rollup not refreshed yet
    client.force_login(personas["owner"])
    response = client.get(reverse("campaign_detail", args=[catalog["acme"]["campaigns"]["amazon"].pk]))
    assert response.status_code == 200
    assert "145.00" in response.content.decode()  # lifetime spend: 10 + 11 + ... + 19

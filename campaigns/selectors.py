"""Reads of campaign and performance data. Every function takes the tenant first: there is no unscoped read.

Performance figures (totals, per channel, per week, the date range) come from the daily rollup (PerformanceDaily,
kept by campaigns.services.performance_rollup_refresh): a few rows a day, so the dashboard costs the same at 500k
facts as at 5k. A filter on one campaign, or ``from_facts=True``, reads the facts themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Max, Min, QuerySet, Sum
from django.db.models.functions import TruncWeek

from campaigns.models import SKU, Brand, Campaign, PerformanceDaily, PerformanceFact, Retailer
from governance.models import Tenant

ZERO = Decimal("0")
MONEY_PLACES = Decimal("0.0001")  # the money columns' scale


@dataclass(frozen=True)
class PerformanceFilter:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    retailer_code: str | None = None
    placement_type: str | None = None
    campaign_id: int | None = None


@dataclass(frozen=True)
class PerformanceTotals:
    impressions: int
    clicks: int
    spend: Decimal
    attributed_sales: Decimal
    attributed_units: int

    @property
    def roas(self) -> Decimal | None:
        """Attributed ROAS as retailers report it (attributed sales / spend)."""
        return (self.attributed_sales / self.spend) if self.spend else None

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None


def retailer_list(*, active_only: bool = True) -> QuerySet[Retailer]:
    """Retailers are shared reference data, the one read that takes no tenant."""
    qs = Retailer.objects.all()
    return qs.filter(is_active=True) if active_only else qs


def brand_list(*, tenant: Tenant) -> QuerySet[Brand]:
    return Brand.objects.filter(tenant=tenant)


def sku_list(*, tenant: Tenant) -> QuerySet[SKU]:
    return SKU.objects.filter(tenant=tenant).select_related("brand")


def campaign_list(*, tenant: Tenant) -> QuerySet[Campaign]:
    return Campaign.objects.filter(tenant=tenant).select_related("retailer", "brand")


def _filtered(qs: QuerySet, f: PerformanceFilter) -> QuerySet:
    """The filters both facts and rollup rows understand (same field names)."""
    if f.date_from:
        qs = qs.filter(date__gte=f.date_from)
    if f.date_to:
        qs = qs.filter(date__lte=f.date_to)
    if f.retailer_code:
        qs = qs.filter(retailer__code=f.retailer_code)
    if f.placement_type:
        qs = qs.filter(placement_type=f.placement_type)
    return qs


def performance_facts(*, tenant: Tenant, filters: PerformanceFilter | None = None) -> QuerySet[PerformanceFact]:
    f = filters or PerformanceFilter()
    qs = _filtered(PerformanceFact.objects.filter(tenant=tenant), f)
    if f.campaign_id:
        qs = qs.filter(campaign_id=f.campaign_id)
    return qs


def performance_daily(*, tenant: Tenant, filters: PerformanceFilter | None = None) -> QuerySet[PerformanceDaily]:
    """The tenant's daily rollup rows (per day, retailer and placement type); a campaign filter does not apply."""
    f = filters or PerformanceFilter()
    if f.campaign_id:
        raise ValueError("The daily rollup has no campaigns: read performance_facts for one campaign.")
    return _filtered(PerformanceDaily.objects.filter(tenant=tenant), f)


def _source(*, tenant: Tenant, filters: PerformanceFilter | None, from_facts: bool) -> QuerySet:
    f = filters or PerformanceFilter()
    if from_facts or f.campaign_id:
        return performance_facts(tenant=tenant, filters=f)
    return performance_daily(tenant=tenant, filters=f)


_SUMS = {
    "impressions": Sum("impressions"),
    "clicks": Sum("clicks"),
    "spend": Sum("spend"),
    "attributed_sales": Sum("attributed_sales"),
    "attributed_units": Sum("attributed_units"),
}


def _totals(row: dict) -> PerformanceTotals:
    # Sums are exact at the columns' 4 decimal places: PostgreSQL adds numerics, SQLite floats (off by ~1e-9).
    return PerformanceTotals(
        impressions=row["impressions"] or 0,
        clicks=row["clicks"] or 0,
        spend=(row["spend"] or ZERO).quantize(MONEY_PLACES),
        attributed_sales=(row["attributed_sales"] or ZERO).quantize(MONEY_PLACES),
        attributed_units=row["attributed_units"] or 0,
    )


def performance_totals(
    *, tenant: Tenant, filters: PerformanceFilter | None = None, from_facts: bool = False
) -> PerformanceTotals:
    return _totals(_source(tenant=tenant, filters=filters, from_facts=from_facts).aggregate(**_SUMS))


def performance_by_channel(
    *, tenant: Tenant, filters: PerformanceFilter | None = None, from_facts: bool = False
) -> list[tuple[str, str, str, PerformanceTotals]]:
    """(retailer code, retailer name, placement type, totals) per channel, biggest spend first."""
    rows = (
        _source(tenant=tenant, filters=filters, from_facts=from_facts)
        .values("retailer__code", "retailer__name", "placement_type")
        .annotate(**_SUMS)
        .order_by()
    )
    result = [(r["retailer__code"], r["retailer__name"], r["placement_type"], _totals(r)) for r in rows]
    result.sort(key=lambda item: (-item[3].spend, item[0], item[2]))
    return result


def performance_weekly(
    *, tenant: Tenant, filters: PerformanceFilter | None = None, from_facts: bool = False
) -> list[tuple[dt.date, str, PerformanceTotals]]:
    """(week start (Monday), retailer code, totals), in week order."""
    rows = _source(tenant=tenant, filters=filters, from_facts=from_facts)
    if rows.model is PerformanceFact:
        rows = rows.annotate(week=TruncWeek("date"))  # the rollup stores each day's week
    rows = rows.values("week", "retailer__code").annotate(**_SUMS).order_by("week", "retailer__code")
    out = []
    for r in rows:
        week = r["week"]
        if isinstance(week, dt.datetime):
            week = week.date()
        out.append((week, r["retailer__code"], _totals(r)))
    return out


def performance_date_range(*, tenant: Tenant, from_facts: bool = False) -> tuple[dt.date | None, dt.date | None]:
    """The first and last day with performance data."""
    source = PerformanceFact if from_facts else PerformanceDaily
    bounds = source.objects.filter(tenant=tenant).aggregate(first=Min("date"), last=Max("date"))
    return bounds["first"], bounds["last"]

"""Writes for brands, SKUs and campaigns. Every write validates, runs in one transaction and leaves an audit entry;
a rule that is broken raises DomainError naming the field, and nothing is stored."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import Count, Max, Min, Sum

from campaigns.models import SKU, Brand, Campaign, PerformanceDaily, PerformanceFact, Retailer, RetailerItem
from core.errors import DomainError, full_clean_or_raise
from governance.models import APIKey, Tenant
from governance.services import audit_record

SKU_UPDATABLE = frozenset(
    {"brand", "sku_code", "name", "gtin", "category", "currency", "price", "unit_cost", "stock_units", "is_active"}
)
# Retailer, external id and placement stay fixed: performance facts already point at the campaign under them.
CAMPAIGN_UPDATABLE = frozenset({"brand", "name", "start_date", "end_date", "budget", "budget_currency", "status"})


@dataclass(frozen=True)
class RetailerItemSpec:
    retailer: Retailer
    item_id: str


def _require_own_brand(*, tenant: Tenant, brand: Brand) -> None:
    if brand.tenant_id != tenant.pk:
        raise DomainError(f"Brand {brand.pk} does not exist.", field="brand")


def _require_active_retailer(retailer: Retailer) -> None:
    if not retailer.is_active:
        raise DomainError(f"Retailer {retailer.code!r} is not active.", field="retailer")


def _as_audit_value(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, Decimal | dt.date):
        return str(value)
    return value


def _apply_changes(obj: models.Model, *, changes: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, list]:
    """Set the allowed fields on ``obj``; return {field: [old, new]} for the ones that really changed."""
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise DomainError(f"{', '.join(unknown)} cannot be changed.", field=unknown[0])
    changed = {}
    for name, new in changes.items():
        old = getattr(obj, name)
        if old != new:
            changed[name] = [_as_audit_value(old), _as_audit_value(new)]
            setattr(obj, name, new)
    return changed


def brand_create(*, tenant: Tenant, name: str, user=None, api_key: APIKey | None = None) -> Brand:
    name = name.strip()
    if not name:
        raise DomainError("name must not be blank.", field="name")
    # No check-then-insert: the unique constraint on (tenant, lower(name)) decides, also between concurrent creates.
    brand = Brand(tenant=tenant, name=name)
    full_clean_or_raise(brand, exclude=["tenant"])
    try:
        with transaction.atomic():
            brand.save()
            audit_record(action="brand.create", tenant=tenant, user=user, api_key=api_key, obj=brand)
    except IntegrityError:
        raise DomainError(
            f"A brand named {name!r} already exists (names are compared ignoring case).", field="name"
        ) from None
    return brand


def _check_retailer_items(*, tenant: Tenant, items: list[RetailerItemSpec], sku: SKU | None) -> None:
    seen: set[tuple[int, str]] = set()
    for spec in items:
        key = (spec.retailer.pk, spec.item_id)
        if key in seen:
            raise DomainError(f"{spec.retailer.code} item {spec.item_id!r} is listed twice.", field="retailer_items")
        seen.add(key)
        taken = (
            RetailerItem.objects.filter(tenant=tenant, retailer=spec.retailer, item_id=spec.item_id)
            .exclude(sku=sku)
            .select_related("sku")
            .first()
        )
        if taken is not None:
            raise DomainError(
                f"{spec.retailer.code} item {spec.item_id!r} already belongs to SKU {taken.sku.sku_code!r}.",
                field="retailer_items",
            )


def _replace_retailer_items(*, tenant: Tenant, sku: SKU, items: list[RetailerItemSpec]) -> None:
    sku.retailer_items.all().delete()
    RetailerItem.objects.bulk_create(
        RetailerItem(tenant=tenant, sku=sku, retailer=spec.retailer, item_id=spec.item_id) for spec in items
    )


def _check_sku_code_free(*, tenant: Tenant, sku_code: str, sku: SKU | None = None) -> None:
    if SKU.objects.filter(tenant=tenant, sku_code=sku_code).exclude(pk=getattr(sku, "pk", None)).exists():
        raise DomainError(f"SKU code {sku_code!r} is already used.", field="sku_code")


def sku_create(
    *,
    tenant: Tenant,
    brand: Brand,
    sku_code: str,
    name: str,
    price: Decimal,
    unit_cost: Decimal,
    gtin: str = "",
    category: str = "",
    currency: str | None = None,
    stock_units: int = 0,
    is_active: bool = True,
    retailer_items: Iterable[RetailerItemSpec] = (),
    user=None,
    api_key: APIKey | None = None,
) -> SKU:
    _require_own_brand(tenant=tenant, brand=brand)
    _check_sku_code_free(tenant=tenant, sku_code=sku_code)
    items = list(retailer_items)
    _check_retailer_items(tenant=tenant, items=items, sku=None)
    sku = SKU(
        tenant=tenant,
        brand=brand,
        sku_code=sku_code,
        name=name,
        gtin=gtin,
        category=category,
        currency=currency or tenant.reporting_currency,
        price=price,
        unit_cost=unit_cost,
        stock_units=stock_units,
        is_active=is_active,
    )
    full_clean_or_raise(sku, exclude=["tenant", "brand"])
    try:
        with transaction.atomic():
            sku.save()
            _replace_retailer_items(tenant=tenant, sku=sku, items=items)
            audit_record(
                action="sku.create",
                tenant=tenant,
                user=user,
                api_key=api_key,
                obj=sku,
                detail={"retailer_items": [[i.retailer.code, i.item_id] for i in items]},
            )
    except IntegrityError:
        raise DomainError(f"SKU code {sku_code!r} or one of its retailer items is already used.") from None
    return sku


def sku_update(
    *,
    sku: SKU,
    changes: Mapping[str, Any],
    retailer_items: Iterable[RetailerItemSpec] | None = None,
    user=None,
    api_key: APIKey | None = None,
) -> SKU:
    """Change some fields of ``sku``. ``retailer_items``, when given, replaces the SKU's whole crosswalk."""
    tenant = sku.tenant
    if "brand" in changes:
        _require_own_brand(tenant=tenant, brand=changes["brand"])
    if "sku_code" in changes:
        _check_sku_code_free(tenant=tenant, sku_code=changes["sku_code"], sku=sku)
    items = list(retailer_items) if retailer_items is not None else None
    if items is not None:
        _check_retailer_items(tenant=tenant, items=items, sku=sku)
    changed = _apply_changes(sku, changes=changes, allowed=SKU_UPDATABLE)
    full_clean_or_raise(sku, exclude=["tenant", "brand"])
    detail: dict[str, Any] = {"changed": changed}
    if items is not None:
        detail["retailer_items"] = [[i.retailer.code, i.item_id] for i in items]
    try:
        with transaction.atomic():
            if changed:
                sku.save(update_fields=list(changed))
            if items is not None:
                _replace_retailer_items(tenant=tenant, sku=sku, items=items)
            audit_record(action="sku.update", tenant=tenant, user=user, api_key=api_key, obj=sku, detail=detail)
    except IntegrityError:
        raise DomainError("The SKU code or one of the retailer items is already used.") from None
    return sku


def _check_campaign_dates(*, start_date: dt.date, end_date: dt.date | None) -> None:
    if end_date is not None and end_date < start_date:
        raise DomainError(f"end_date {end_date} is before start_date {start_date}.", field="end_date")


def campaign_create(
    *,
    tenant: Tenant,
    retailer: Retailer,
    brand: Brand,
    name: str,
    external_id: str,
    placement_type: str,
    start_date: dt.date,
    budget: Decimal,
    end_date: dt.date | None = None,
    budget_currency: str | None = None,
    status: str = Campaign.Status.DRAFT,
    user=None,
    api_key: APIKey | None = None,
) -> Campaign:
    _require_own_brand(tenant=tenant, brand=brand)
    _require_active_retailer(retailer)
    _check_campaign_dates(start_date=start_date, end_date=end_date)
    if budget < 0:
        raise DomainError("budget must not be negative.", field="budget")
    if Campaign.objects.filter(tenant=tenant, retailer=retailer, external_id=external_id).exists():
        raise DomainError(
            f"A {retailer.code} campaign with external_id {external_id!r} already exists.", field="external_id"
        )
    campaign = Campaign(
        tenant=tenant,
        retailer=retailer,
        brand=brand,
        name=name,
        external_id=external_id,
        placement_type=placement_type,
        start_date=start_date,
        end_date=end_date,
        budget=budget,
        budget_currency=budget_currency or tenant.reporting_currency,
        status=status,
    )
    full_clean_or_raise(campaign, exclude=["tenant", "retailer", "brand"])
    try:
        with transaction.atomic():
            campaign.save()
            audit_record(action="campaign.create", tenant=tenant, user=user, api_key=api_key, obj=campaign)
    except IntegrityError:
        raise DomainError(
            f"A {retailer.code} campaign with external_id {external_id!r} already exists.", field="external_id"
        ) from None
    return campaign


def campaign_update(
    *, campaign: Campaign, changes: Mapping[str, Any], user=None, api_key: APIKey | None = None
) -> Campaign:
    tenant = campaign.tenant
    if "brand" in changes:
        _require_own_brand(tenant=tenant, brand=changes["brand"])
    if changes.get("budget") is not None and changes["budget"] < 0:
        raise DomainError("budget must not be negative.", field="budget")
    _check_campaign_dates(
        start_date=changes.get("start_date", campaign.start_date),
        end_date=changes.get("end_date", campaign.end_date),
    )
    changed = _apply_changes(campaign, changes=changes, allowed=CAMPAIGN_UPDATABLE)
    full_clean_or_raise(campaign, exclude=["tenant", "retailer", "brand"])
    with transaction.atomic():
        if changed:
            campaign.save(update_fields=list(changed))
        audit_record(
            action="campaign.update",
            tenant=tenant,
            user=user,
            api_key=api_key,
            obj=campaign,
            detail={"changed": changed},
        )
    return campaign


# --- the daily performance rollup ------------------------------------------------------------------------------

ROLLUP_BATCH = 2000


def performance_rollup_refresh(
    *, tenant: Tenant, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> int:
    """Recompute ``tenant``'s daily rollup (PerformanceDaily) from its facts for the days ``date_from`` to
    ``date_to`` (both included; an open end reaches the first or last day there is), in one transaction: the days'
    rollup rows are deleted and written again, so facts added, replaced or deleted on those days all show. Returns
    the number of rollup rows written.

    Call it after every write of facts, inside the writer's transaction or right after it commits, with the days
    the write touched (a loader's replace: the first and last day of the batch). Derived data only: no audit entry.
    """
    if date_from is not None and date_to is not None and date_to < date_from:
        raise DomainError(f"date_to {date_to} is before date_from {date_from}.", field="date_to")
    facts = PerformanceFact.objects.filter(tenant=tenant)
    rollup = PerformanceDaily.objects.filter(tenant=tenant)
    if date_from is not None:
        facts, rollup = facts.filter(date__gte=date_from), rollup.filter(date__gte=date_from)
    if date_to is not None:
        facts, rollup = facts.filter(date__lte=date_to), rollup.filter(date__lte=date_to)
    sums = (
        facts.values("date", "retailer_id", "placement_type")
        .annotate(
            impressions=Sum("impressions"),
            clicks=Sum("clicks"),
            spend=Sum("spend"),
            attributed_sales=Sum("attributed_sales"),
            attributed_units=Sum("attributed_units"),
            facts=Count("id"),
        )
        .order_by()
    )
    with transaction.atomic():
        rollup.delete()
        rows = [
            PerformanceDaily(tenant=tenant, week=row["date"] - dt.timedelta(days=row["date"].weekday()), **row)
            for row in sums
        ]
        PerformanceDaily.objects.bulk_create(rows, batch_size=ROLLUP_BATCH)
    return len(rows)


@contextmanager
def performance_rollup_kept(*, facts: models.QuerySet[PerformanceFact]) -> Iterator[None]:
    """Around a delete of ``facts``, or of what they cascade from (campaigns): one transaction, and the rollup of
    the tenants and days those facts were on is refreshed after the block."""
    with transaction.atomic():
        spans = list(facts.values("tenant").annotate(first=Min("date"), last=Max("date")).order_by())
        yield
        tenants = Tenant.objects.in_bulk([span["tenant"] for span in spans])
        for span in spans:
            performance_rollup_refresh(tenant=tenants[span["tenant"]], date_from=span["first"], date_to=span["last"])

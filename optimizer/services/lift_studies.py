"""Lift studies: measured incremental sales of a channel, which calibrate its response curve."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from campaigns.models import PlacementType, Retailer
from core.bounds import date_limit_message
from core.errors import DomainError, full_clean_or_raise
from governance.models import Tenant
from governance.services import audit_record
from optimizer.models import LiftStudy


def lift_study_create(
    *,
    tenant: Tenant,
    retailer_code: str,
    placement_type: str,
    start_date: dt.date,
    end_date: dt.date,
    spend: Decimal,
    incremental_sales: Decimal,
    incremental_sales_se: Decimal,
    method: str,
    source: str,
    currency: str | None = None,
    notes: str = "",
    user=None,
    api_key=None,
) -> LiftStudy:
    retailer = Retailer.objects.filter(code=retailer_code, is_active=True).first()
    if retailer is None:
        raise DomainError(f"Unknown retailer {retailer_code!r}.", field="retailer")
    if placement_type not in PlacementType.values:
        raise DomainError(f"Unknown placement type {placement_type!r}.", field="placement_type")
    for field, day in (("start_date", start_date), ("end_date", end_date)):
        if date_limit_message(day):
            raise DomainError(f"{field} {date_limit_message(day)}", field=field)
    if end_date < start_date:
        raise DomainError(f"end_date {end_date} is before start_date {start_date}.", field="end_date")
    if spend < 0:
        raise DomainError("spend must not be negative.", field="spend")
    if incremental_sales_se < 0:
        raise DomainError("incremental_sales_se must not be negative.", field="incremental_sales_se")
    study = LiftStudy(
        tenant=tenant,
        retailer=retailer,
        placement_type=placement_type,
        start_date=start_date,
        end_date=end_date,
        spend=spend,
        incremental_sales=incremental_sales,
        incremental_sales_se=incremental_sales_se,
        currency=currency or tenant.reporting_currency,
        method=method,
        source=source,
        notes=notes,
        created_by=user if getattr(user, "pk", None) else None,
    )
    full_clean_or_raise(study, exclude=["tenant", "retailer", "created_by"])
    with transaction.atomic():
        study.save()
        audit_record(action="lift_study.create", tenant=tenant, user=user, api_key=api_key, obj=study)
    return study

from __future__ import annotations

import datetime as dt

from celery import shared_task


@shared_task(name="campaigns.summarize_performance", acks_late=True)
def summarize_performance(tenant_id: int, date_from: str | None = None, date_to: str | None = None) -> dict:
    """Totals and per-channel figures for a tenant and period, as JSON-safe values (money as strings).

    Reports and exports run it off the web process; it reads through the same selectors as the dashboard."""
    from campaigns.selectors import PerformanceFilter, performance_by_channel, performance_totals
    from governance.models import Tenant

    tenant = Tenant.objects.get(pk=tenant_id)
    filters = PerformanceFilter(
        date_from=dt.date.fromisoformat(date_from) if date_from else None,
        date_to=dt.date.fromisoformat(date_to) if date_to else None,
    )
    totals = performance_totals(tenant=tenant, filters=filters)
    return {
        "tenant": tenant.slug,
        "currency": tenant.reporting_currency,
        "spend": str(totals.spend),
        "attributed_sales": str(totals.attributed_sales),
        "impressions": totals.impressions,
        "clicks": totals.clicks,
        "channels": [
            {
                "retailer": code,
                "placement_type": placement,
                "spend": str(t.spend),
                "attributed_sales": str(t.attributed_sales),
            }
            for code, _name, placement, t in performance_by_channel(tenant=tenant, filters=filters)
        ],
    }

"""Dashboard and campaign pages. Numbers come from campaigns.selectors; geometry from campaigns.charts."""

from __future__ import annotations

import datetime as dt

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_vary_headers

from campaigns.charts import PALETTE, line_chart, partial_weeks, pivot_weekly
from campaigns.forms import CampaignFilterForm, DashboardFilterForm
from campaigns.models import PlacementType
from campaigns.selectors import (
    PerformanceFilter,
    campaign_list,
    performance_by_channel,
    performance_date_range,
    performance_totals,
    performance_weekly,
)
from governance.access import tenant_page

DEFAULT_WINDOW_DAYS = 90
RECENT_WEEKS = 12


def _page_or_fragment(request: HttpRequest, template: str, partial: str, context: dict) -> HttpResponse:
    """One view per page: htmx asks for the named partial, everyone else gets the whole page."""
    response = render(request, f"{template}#{partial}" if request.htmx else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _percent(fraction) -> float | None:
    return None if fraction is None else float(fraction) * 100


def _week_label(week: dt.date) -> str:
    return f"{week:%b} {week.day}"


@tenant_page()
def dashboard(request: HttpRequest, *, access) -> HttpResponse:
    tenant = access.tenant
    first, last = performance_date_range(tenant=tenant)
    data = request.GET.copy()
    if last is not None:
        # The default window is the last 90 days that have data, so a stale import still shows numbers.
        if not data.get("date_to"):
            data["date_to"] = last.isoformat()
        if not data.get("date_from"):
            data["date_from"] = max(first, last - dt.timedelta(days=DEFAULT_WINDOW_DAYS - 1)).isoformat()
    form = DashboardFilterForm(data)
    context = {"form": form, "currency": tenant.reporting_currency, "has_data": last is not None, "report": None}
    if last is not None and form.is_valid():
        filters = PerformanceFilter(
            date_from=form.cleaned_data["date_from"],
            date_to=form.cleaned_data["date_to"],
            retailer_code=form.cleaned_data["retailer"] or None,
            placement_type=form.cleaned_data["placement"] or None,
        )
        context["report"] = _dashboard_report(tenant=tenant, filters=filters)
    return _page_or_fragment(request, "campaigns/dashboard.html", "dashboard-body", context)


def _dashboard_report(*, tenant, filters: PerformanceFilter) -> dict:
    totals = performance_totals(tenant=tenant, filters=filters)
    channels = performance_by_channel(tenant=tenant, filters=filters)
    weekly = performance_weekly(tenant=tenant, filters=filters)
    names = {code: name for code, name, _, _ in channels}
    colors = {code: PALETTE[i % len(PALETTE)] for i, code in enumerate(sorted(names))}
    rows = [
        {
            "retailer": name,
            "placement": PlacementType(placement).label,
            "totals": channel_totals,
            "share_pct": _percent(channel_totals.spend / totals.spend) if totals.spend else None,
            "ctr_pct": _percent(channel_totals.ctr),
            "color": colors[code],
        }
        for code, name, placement, channel_totals in channels
    ]
    charts = []
    for title, metric in (("Weekly spend", "spend"), ("Weekly attributed sales", "attributed_sales")):
        weeks, by_retailer = pivot_weekly((week, code, float(getattr(t, metric))) for week, code, t in weekly)
        chart = line_chart(
            x_labels=[_week_label(w) for w in weeks],
            series=[(code, names.get(code, code), values) for code, values in by_retailer.items()],
            colors=colors,
            partial=partial_weeks(weeks, first=filters.date_from, last=filters.date_to),
        )
        charts.append({"title": title, "chart": chart})
    legend = [{"label": names[code], "color": colors[code]} for code in sorted(names)]
    return {
        "filters": filters,
        "totals": totals,
        "ctr_pct": _percent(totals.ctr),
        "rows": rows,
        "charts": charts if weekly else [],
        "legend": legend,
        "is_empty": not channels,
    }


@tenant_page()
def campaign_list_view(request: HttpRequest, *, access) -> HttpResponse:
    form = CampaignFilterForm(request.GET)
    campaigns = campaign_list(tenant=access.tenant)
    if form.is_valid():
        if form.cleaned_data["retailer"]:
            campaigns = campaigns.filter(retailer__code=form.cleaned_data["retailer"])
        if form.cleaned_data["status"]:
            campaigns = campaigns.filter(status=form.cleaned_data["status"])
    page = Paginator(campaigns, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return _page_or_fragment(request, "campaigns/campaign_list.html", "campaign-results", context)


@tenant_page()
def campaign_detail(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    tenant = access.tenant
    campaign = get_object_or_404(campaign_list(tenant=tenant), pk=pk)
    weekly = performance_weekly(tenant=tenant, filters=PerformanceFilter(campaign_id=campaign.pk))[-RECENT_WEEKS:]
    weeks = [week for week, _, _ in weekly]
    recent = chart = None
    partial: list[bool] = []
    if weekly:
        # This page reads the campaign's facts, so the tenant's data range comes from the facts too.
        first, last = performance_date_range(tenant=tenant, from_facts=True)
        partial = partial_weeks(weeks, first=first, last=last)
        recent = performance_totals(
            tenant=tenant, filters=PerformanceFilter(campaign_id=campaign.pk, date_from=weeks[0])
        )
        chart = line_chart(
            x_labels=[_week_label(week) for week in weeks],
            series=[
                ("spend", "Spend", [float(t.spend) for _, _, t in weekly]),
                ("attributed_sales", "Attributed sales", [float(t.attributed_sales) for _, _, t in weekly]),
            ],
            colors={"spend": PALETTE[0], "attributed_sales": PALETTE[1]},
            partial=partial,
        )
    lifetime = performance_totals(tenant=tenant, filters=PerformanceFilter(campaign_id=campaign.pk))
    rows = [
        {"week": week, "totals": t, "ctr_pct": _percent(t.ctr), "partial": is_partial}
        for (week, _, t), is_partial in zip(weekly, partial, strict=True)
    ]
    context = {
        "campaign": campaign,
        "currency": tenant.reporting_currency,
        "lifetime": lifetime,
        "recent": recent,
        "weekly": rows[::-1],
        "chart": chart,
    }
    return render(request, "campaigns/campaign_detail.html", context)

"""Allocation plan pages: a budget request, then the optimizer's allocation or its explanation of why there is none."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from campaigns.charts import PALETTE, curve_chart
from campaigns.models import PlacementType, Retailer
from core.errors import DomainError
from core.forms import form_error
from core.pages import slot_context
from governance.access import Capability, tenant_page
from governance.privacy import pii_scrub_error
from optimizer import selectors
from optimizer.engine.allocate import CURVE_CHANNELS, DEFAULT_CHANCE
from optimizer.forms.plans import PlanForm, PlanWhatIfForm
from optimizer.models import AllocationPlan
from optimizer.services.plans import plan_create, plan_export_csv, plan_export_rows, plan_rerun, plan_version_create
from optimizer.views.plan_notices import plan_notice_views

CHANCE_LEVEL = DEFAULT_CHANCE
POLL_SECONDS = 1


def _plan_form(access, data=None) -> PlanForm:
    return PlanForm(data, channels=selectors.tenant_channel_choices(access.tenant))


@tenant_page()
def plan_list(request: HttpRequest, *, access) -> HttpResponse:
    form = None
    if request.method == "POST":
        access.require(Capability.EDIT_DATA)
        form = _plan_form(access, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                plan = plan_create(
                    tenant=access.tenant,
                    user=request.user,
                    name=data["name"],
                    budget=data["budget"],
                    period_days=data["period_days"],
                    min_roas=data["min_roas"],
                    roas_basis=data["roas_basis"],
                    objective=data["objective"],
                    bounds=form.bounds(),
                    # The box is ticked by default; without a floor there is nothing to promise.
                    chance=CHANCE_LEVEL if data["chance"] and data["min_roas"] is not None else None,
                )
            except DomainError as exc:
                form_error(form, exc)
            else:
                return redirect("plan_detail", pk=plan.pk)
    elif access.can(Capability.EDIT_DATA):
        form = _plan_form(access)
    page = Paginator(selectors.plan_latest_list(tenant=access.tenant), 50).get_page(request.GET.get("page"))
    status = 400 if form is not None and form.errors else 200
    context = {"form": form, "page": page, "currency": access.tenant.reporting_currency}
    if form is not None:
        context.update(slot_context("optimizer.plan_form", access=access))
    return render(request, "optimizer/plan_list.html", context, status=status)


def _plan_or_404(access, pk: int) -> AllocationPlan:
    try:
        return selectors.plan_get(tenant=access.tenant, pk=pk)
    except AllocationPlan.DoesNotExist:
        raise Http404("No such plan.") from None


FINISHED = (AllocationPlan.Status.SUCCEEDED, AllocationPlan.Status.FAILED)


@tenant_page()
def plan_detail(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    return _plan_page(request, _plan_or_404(access, pk), access=access)


def _plan_page(request: HttpRequest, plan: AllocationPlan, *, access, what_if: PlanWhatIfForm | None = None):
    """The plan page (or its polled status fragment); ``what_if`` is a bound edit form to show with its errors."""
    can_edit = access.can(Capability.EDIT_DATA)
    if what_if is None and can_edit and plan.status in FINISHED:
        what_if = PlanWhatIfForm(channels=selectors.tenant_channel_choices(access.tenant), plan=plan)
    versions = list(selectors.plan_versions(plan=plan))
    context = {
        "plan": plan,
        "is_active": plan.status in (AllocationPlan.Status.PENDING, AllocationPlan.Status.RUNNING),
        "poll_seconds": POLL_SECONDS,
        "result": _result_view(plan.result or {}, plan=plan),
        "request_view": _request_view(plan),
        "can_rerun": plan.status == AllocationPlan.Status.FAILED and can_edit,
        "versions": [_version_view(v) for v in versions],
        "latest": versions[-1] if versions else plan,
        "what_if": what_if,
        "export_retailers": _export_retailers(plan),
        **slot_context("optimizer.plan_review", access=access, plan=plan),
    }
    template = "optimizer/plan_detail.html"
    status = 400 if what_if is not None and what_if.errors else 200
    response = render(request, f"{template}#plan-status" if request.htmx else template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@tenant_page(Capability.EDIT_DATA)
@require_POST
def plan_version_create_view(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    """A what-if edit: a new version of the plan, optimized in the background; the page follows it."""
    plan = _plan_or_404(access, pk)
    form = PlanWhatIfForm(request.POST, channels=selectors.tenant_channel_choices(access.tenant), plan=plan)
    if form.is_valid():
        try:
            version = plan_version_create(
                plan=plan,
                user=request.user,
                budget=form.cleaned_data["budget"],
                min_roas=form.cleaned_data["min_roas"],
                bounds=form.bounds(),
                **form.promise(),
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            return redirect("plan_detail", pk=version.pk)
    return _plan_page(request, plan, access=access, what_if=form)


@tenant_page()
@require_GET
def plan_export_view(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    """The approved plan as CSV (``?retailer=<code>``: that retailer's rows only, for its console's bulk upload)."""
    plan = _plan_or_404(access, pk)
    retailer = request.GET.get("retailer") or None
    try:
        body = plan_export_csv(plan=plan, retailer=retailer)
    except DomainError as exc:
        status = 409 if exc.code == "not_approved" else 400
        message = pii_scrub_error(exc.message, source="page.error", tenant=access.tenant, user=request.user)
        return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    filename = f"plan-{plan.root_id or plan.pk}-v{plan.version}{'-' + retailer if retailer else ''}.csv"
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _export_retailers(plan: AllocationPlan) -> list[tuple[str, str]]:
    """(code, name) of the retailers an approved plan spends on: one download each."""
    if plan.review_status != AllocationPlan.Review.APPROVED:
        return []
    codes = sorted({row["retailer"] for row in plan_export_rows(plan=plan) if row["spend"] > 0})
    names = dict(Retailer.objects.filter(code__in=codes).values_list("code", "name"))
    return [(code, names.get(code, code)) for code in codes]


def _version_view(plan: AllocationPlan) -> dict:
    totals = getattr(plan, "result_totals", None) or {}
    return {
        "plan": plan,
        "spend": totals.get("spend"),
        "margin": totals.get("expected_incremental_margin"),
        "sales": totals.get("expected_incremental_sales"),
    }


@tenant_page(Capability.EDIT_DATA)
@require_POST
def plan_rerun_view(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    plan = _plan_or_404(access, pk)
    try:
        plan_rerun(plan=plan, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("plan_detail", pk=plan.pk)


def _interval(item: dict, *names: str) -> list | None:
    for name in names:
        value = item.get(name)
        if isinstance(value, list | tuple) and len(value) == 2:
            return list(value)
    return None


def _figure(value, places: int) -> str:
    """A number as floatformat:"<places>g" shows it in English (grouped thousands), or "" for none."""
    if value is None:
        return ""
    return f"{float(value):,.{places}f}"


def _range(interval: list | None) -> str:
    return f"{_figure(interval[0], 0)}–{_figure(interval[1], 0)}" if interval else ""


def _roas(value) -> str:
    return "–" if value is None else f"{float(value):.2f}×"


def _binding_text(value) -> str:
    if value is True:
        return "yes"
    if not value:
        return "no"
    return ", ".join(value) if isinstance(value, list | tuple) else str(value)


def _channel_label(retailer: str, placement: str, names: dict[str, str]) -> str:
    return f"{names.get(retailer, retailer)} · {dict(PlacementType.choices).get(placement, placement)}"


def _result_view(result: dict, *, plan: AllocationPlan) -> dict:
    """The stored AllocationResult.to_dict() reshaped for the template (rows with labels, shares, intervals)."""
    if not result:
        return {}
    allocations = result.get("allocations") or []
    notices = result.get("notices") or []
    codes = {a.get("retailer") for a in allocations} | {
        key.split("|", 1)[0] for n in notices for key in n.get("channels") or ()
    }
    names = dict(Retailer.objects.filter(code__in=codes).values_list("code", "name"))
    total_spend = sum(a.get("spend") or 0 for a in allocations)
    rows = []
    placements = dict(PlacementType.choices)
    for a in sorted(allocations, key=lambda a: -(a.get("spend") or 0)):
        sales_interval = _interval(a, "incremental_sales_interval")
        margin_interval = _interval(a, "incremental_margin_interval")
        share = 100 * (a.get("spend") or 0) / total_spend if total_spend else 0
        rows.append(
            {
                **a,
                "retailer_name": names.get(a.get("retailer"), a.get("retailer")),
                "placement_label": placements.get(a.get("placement_type"), a.get("placement_type")),
                "share_pct": share,
                "sales_interval": sales_interval,
                "margin_interval": margin_interval,
                "binding": a.get("binding") or [],
                "binding_words": [_binding_words(b, names) for b in a.get("binding") or []],
                # Formatted here: the template's floatformat filter, ten times on each of 200 rows, was most of
                # the page's time (bench/plan_page_bench.py).
                "text": {
                    "spend": _figure(a.get("spend"), 2),
                    "share": _figure(share, 1),
                    "sales": _figure(a.get("expected_incremental_sales"), 0),
                    "sales_interval": _range(sales_interval),
                    "margin": _figure(a.get("expected_incremental_margin"), 0),
                    "margin_interval": _range(margin_interval),
                    "attributed_roas": _roas(a.get("expected_attributed_roas")),
                    "incremental_roas": _roas(a.get("expected_incremental_roas")),
                    "marginal_roas": _roas(a.get("marginal_roas")),
                },
            }
        )
    totals = dict(result.get("totals") or {})
    totals["sales_interval"] = _interval(totals, "incremental_sales_interval", "expected_incremental_sales_interval")
    totals["margin_interval"] = _interval(totals, "incremental_margin_interval", "expected_incremental_margin_interval")
    constraints = result.get("constraints") or {}
    spend_by_key = {f"{a.get('retailer')}|{a.get('placement_type')}": a.get("spend") for a in allocations}
    bounds = [
        {
            "label": _channel_label(*key.split("|", 1), names) if "|" in key else key,
            "spend": spend_by_key.get(key),
            **(value or {}),
            "binding_text": _binding_text((value or {}).get("binding")),
        }
        for key, value in sorted((constraints.get("bounds") or {}).items())
    ]
    retailer_bounds = [
        {
            "label": names.get(key, key),
            **(value or {}),
            "binding_text": _binding_text((value or {}).get("binding")),
        }
        for key, value in sorted((constraints.get("retailer_bounds") or {}).items())
    ]
    return {
        "rows": rows,
        "charts": _curve_charts(rows, result.get("curves") or {}),
        "split": _split(rows, totals),
        "totals": totals,
        "notices": plan_notice_views(
            result,
            currency=plan.currency,
            channel_label=lambda key: _channel_label(*key.split("|", 1), names) if "|" in key else key,
            sku_groups=selectors.sku_groups(
                tenant=plan.tenant, codes={sku for n in notices for sku in n.get("skus") or ()}
            ),
        ),
        "budget": constraints.get("budget") or {},
        "min_roas": constraints.get("min_roas") or {},
        "chance": constraints.get("chance"),
        "bounds": bounds,
        "retailer_bounds": retailer_bounds,
        "objective": result.get("objective"),
        "promise": result.get("promise"),
    }


def _binding_words(code: str, names: dict[str, str]) -> str:
    """A binding code of the engine ("max_bound", "retailer_max:amazon") in words."""
    kind, _, retailer = code.partition(":")
    words = {
        "min_bound": "at its minimum",
        "max_bound": "at its maximum",
        "excluded": "excluded",
        "retailer_min": "at the retailer's minimum",
        "retailer_max": "at the retailer's maximum",
    }
    text = words.get(kind, kind.replace("_", " "))
    if retailer and kind not in ("retailer_min", "retailer_max"):
        return f"{text} ({names.get(retailer, retailer)})"
    return text


CURVE_CHARTS = CURVE_CHANNELS  # the largest channels by spend get a chart; a plan of 200 line items stays readable
SPLIT_SEGMENTS = 8  # the split bar's named segments; smaller channels share one "other channels" segment


def _curve_charts(rows: list[dict], curves: dict) -> list[dict]:
    """One small chart per channel with a stored response curve (the ``CURVE_CHARTS`` largest by spend, ``rows``
    being in that order): expected incremental sales against period spend with its 90% band, the chosen spend
    marked with its interval."""
    charts = []
    for index, row in enumerate(rows[:CURVE_CHARTS]):
        curve = curves.get(f"{row.get('retailer')}|{row.get('placement_type')}")
        if not curve or len(curve.get("spend") or ()) < 2:
            continue
        interval = row["sales_interval"] or [row.get("expected_incremental_sales") or 0.0] * 2
        chosen = (row.get("spend") or 0.0, row.get("expected_incremental_sales") or 0.0, *interval)
        charts.append(
            {
                "row": row,
                "color": PALETTE[index % len(PALETTE)],
                "chart": curve_chart(
                    x=curve["spend"], expected=curve["expected"], low=curve["low"], high=curve["high"], chosen=chosen
                ),
            }
        )
    return charts


def _split(rows: list[dict], totals: dict) -> list[dict]:
    """The budget as a bar: one segment per channel that gets spend, and what is left unspent."""
    budget = totals.get("budget") or sum(r.get("spend") or 0 for r in rows)
    if not budget:
        return []
    spending = [r for r in rows if (r.get("spend") or 0) > 0]
    named = spending if len(spending) <= SPLIT_SEGMENTS else spending[: SPLIT_SEGMENTS - 1]
    segments = [
        {"label": f"{r['retailer_name']} · {r['placement_label']}", "pct": 100 * r["spend"] / budget,
         "color": PALETTE[i % len(PALETTE)], "spend": r["text"]["spend"]}
        for i, r in enumerate(named)
    ]  # fmt: skip
    rest = spending[len(named) :]
    if rest:
        spend = sum(r["spend"] for r in rest)
        label = f"{len(rest)} other channels"
        segments.append({"label": label, "pct": 100 * spend / budget, "color": "#94a3b8", "spend": _figure(spend, 2)})
    unspent = totals.get("unspent") or 0
    if unspent > 0.005 * budget:
        segments.append({"label": "Unspent", "pct": 100 * unspent / budget, "color": "", "spend": _figure(unspent, 2)})
    return segments


def _request_view(plan: AllocationPlan) -> dict:
    request = plan.request or {}
    return {
        "bounds": sorted((request.get("bounds") or {}).items()),
        "retailer_bounds": sorted((request.get("retailer_bounds") or {}).items()),
        "exclude_channels": request.get("exclude_channels") or [],
        "chance_pct": None if request.get("chance") is None else round(100 * request["chance"]),
        "history_days": request.get("history_days"),
    }

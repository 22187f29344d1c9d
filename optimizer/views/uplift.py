"""Uplift pages (an exposure test in, who to target out) and the per-SKU forecast page."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers

from core.errors import DomainError
from core.forms import form_error
from governance.access import Capability, tenant_page
from optimizer.engine.uplift import LEARNERS
from optimizer.forms.uplift import LEARNER_LABELS, UpliftUploadForm
from optimizer.models import UpliftStudy
from optimizer.services.forecasts import HORIZON_DAYS, sku_forecast
from optimizer.services.uplift import uplift_study_create

POLL_SECONDS = 3
CHART = {"width": 560, "height": 240, "left": 56, "right": 548, "top": 12, "bottom": 208}
CHART_COLORS = {"chosen": "#1f6feb", "random": "#8b949e"}
AVERAGE_WORDS = {"above": "Above average", "below": "Below average", "average": "About average"}
VERDICT_WORDS = {
    "target": "Show ads",
    "avoid": "Don't show ads",
    "unclear": "No clear effect",
    "too_few": "Too few to tell",
}


def _studies(access):
    return UpliftStudy.objects.filter(tenant=access.tenant).defer("data")


def _list_page(request, access, *, form=None, status=200) -> HttpResponse:
    can_edit = access.can(Capability.EDIT_DATA)
    return render(
        request,
        "optimizer/uplift_list.html",
        {"studies": _studies(access)[:100], "form": (form or UpliftUploadForm()) if can_edit else None},
        status=status,
    )


@tenant_page()
def uplift_study_list(request: HttpRequest, *, access) -> HttpResponse:
    """The tenant's uplift studies; POST uploads an exposure test and queues its fit."""
    if request.method != "POST":
        return _list_page(request, access)
    access.require(Capability.EDIT_DATA)
    form = UpliftUploadForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            study = uplift_study_create(
                tenant=access.tenant,
                upload=data["file"],
                name=data["name"],
                learners=data["learners"] or LEARNERS,
                randomized=data["randomized"],
                seed=data["seed"] or 0,
                user=request.user,
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, f"Read {study.rows:,} units; the fit runs in the background.")
            return redirect("uplift_detail", pk=study.pk)
    return _list_page(request, access, form=form, status=400)


def _chart(result: dict) -> dict | None:
    """The chosen model's uplift curve against random targeting, as SVG points (values may be negative)."""
    curve = result.get("curve") or {}
    name = result.get("chosen")
    if name == "baseline":  # no model beat the constant effect: show the best-ranking one, marked as not reliable
        learners = [m for m in (result.get("metrics") or {}) if m != "baseline"]
        name = max(learners, key=lambda m: result["metrics"][m]["qini"] or 0.0, default=None)
    if not name or name not in curve or "fraction" not in curve:
        return None
    x, model, random = curve["fraction"], curve[name], curve["random"]
    values = [v for v in (*model, *random) if v is not None]
    if not values:
        return None
    low, high = min(0.0, *values), max(0.0, *values)
    span = (high - low) or 1.0
    c = CHART

    def px(f: float) -> float:
        return round(c["left"] + (c["right"] - c["left"]) * f, 2)

    def py(v: float) -> float:
        return round(c["bottom"] - (c["bottom"] - c["top"]) * (v - low) / span, 2)

    ticks = [low + span * i / 4 for i in range(5)]
    return {
        **c,
        "learner": LEARNER_LABELS.get(name, name),
        "reliable": name == result.get("chosen"),
        "model_points": " ".join(f"{px(f)},{py(v)}" for f, v in zip(x, model, strict=True) if v is not None),
        "random_points": " ".join(f"{px(f)},{py(v)}" for f, v in zip(x, random, strict=True) if v is not None),
        "zero": py(0.0),
        "y_ticks": [{"y": py(t), "label": f"{t:.3g}"} for t in ticks],
        "x_ticks": [{"x": px(f), "label": f"{round(f * 100)}%"} for f in (0, 0.25, 0.5, 0.75, 1.0)],
        "colors": CHART_COLORS,
    }


def _result_view(result: dict) -> dict:
    if not result:
        return {}
    metrics = [
        {"name": name, "label": LEARNER_LABELS.get(name, "Same effect for everybody"), **values}
        for name, values in (result.get("metrics") or {}).items()
    ]
    segments = [
        {
            **s,
            "words": VERDICT_WORDS.get(s["verdict"], s["verdict"]),
            "average_words": AVERAGE_WORDS.get(s.get("vs_average"), "–"),
        }
        for s in result.get("segments") or []
    ]
    chosen = LEARNER_LABELS.get(result.get("chosen"), "Same effect for everybody")
    if result.get("targeting"):
        why = (
            f"The {chosen} predicts each unit's effect better than one average effect for everybody, on units it "
            "never saw (95% confidence), so ranking units by it pays."
        )
    else:
        why = (
            "No model predicted effects better than one average effect for everybody (95% confidence): do not rank "
            "units by a model. The groups below are measured directly and still hold."
        )
    return {
        **result,
        "chosen_label": chosen,
        "why": why,
        "metric_rows": metrics,
        "segment_rows": segments,
        # The best groups: effect clearly above the average; the weakest: clearly below it and not clearly positive.
        "best": [s for s in segments if s.get("vs_average") == "above"][:5],
        "weakest": [s for s in segments if s.get("vs_average") == "below" and s["verdict"] != "target"][:5],
        "avoid": [s for s in segments if s["verdict"] == "avoid"][:5],
        "chart": _chart(result),
    }


@tenant_page()
def uplift_study_detail(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    study = _studies(access).filter(pk=pk).first()
    if study is None:
        raise Http404("No such uplift study.")
    active = study.status in (UpliftStudy.Status.PENDING, UpliftStudy.Status.RUNNING)
    context = {"study": study, "active": active, "poll_seconds": POLL_SECONDS, "view": _result_view(study.result)}
    template = "optimizer/uplift_detail.html"
    response = render(request, f"{template}#uplift-status" if request.htmx else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@tenant_page()
def sku_forecast_view(request: HttpRequest, *, access) -> HttpResponse:
    """Stock-out risk and price elasticity per SKU; ``?horizon_days=`` changes the horizon (default 28)."""
    raw = request.GET.get("horizon_days", "28").strip()
    low, high = HORIZON_DAYS
    error = ""
    horizon = 28
    if raw.isdigit() and low <= int(raw) <= high:
        horizon = int(raw)
    else:
        error = f"The horizon must be a whole number of days from {low} to {high}; showing 28 days."
    forecast, failure = None, ""
    try:
        forecast = sku_forecast(tenant=access.tenant, horizon_days=horizon)
    except DomainError as exc:
        failure = exc.message
    return render(
        request,
        "optimizer/sku_forecast.html",
        {"forecast": forecast, "failure": failure, "horizon": horizon, "horizon_error": error, "limits": HORIZON_DAYS},
        status=400 if error else 200,
    )

"""Experiment pages (design, readout, save as a lift study: the closed loop) and bandit policy pages (in-flight
reallocation: state per channel, decision log, the daily update). Thin: the rules live in optimizer.experiments
and optimizer.bandits."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from campaigns.models import PlacementType
from core.errors import DomainError
from governance.access import Capability, tenant_page
from optimizer import bandits, selectors
from optimizer.engine.bandit import Arm
from optimizer.experiments import experiment_design, experiment_readout, experiment_save_lift_study
from optimizer.forms_measurement import BanditPolicyForm, ExperimentDesignForm, ReadoutForm, add_service_error
from optimizer.models import BanditPolicy, Experiment


def _experiments(tenant):
    return Experiment.objects.filter(tenant=tenant).select_related("retailer", "lift_study")


def _experiment(access, pk: int) -> Experiment:
    try:
        return _experiments(access.tenant).get(pk=pk)
    except Experiment.DoesNotExist:
        raise Http404("No such experiment.") from None


def _policy(access, pk: int) -> BanditPolicy:
    try:
        return bandits.policy_get(tenant=access.tenant, pk=pk)
    except BanditPolicy.DoesNotExist:
        raise Http404("No such bandit policy.") from None


def _design_form(access, data=None, files=None) -> ExperimentDesignForm:
    return ExperimentDesignForm(data, files, channels=selectors.tenant_channel_choices(access.tenant))


def _list_page(request, access, *, design_form=None, policy_form=None, status=200) -> HttpResponse:
    can_edit = access.can(Capability.EDIT_DATA)
    if can_edit:
        design_form = design_form or _design_form(access)
        policy_form = policy_form or BanditPolicyForm(tenant=access.tenant)
    return render(
        request,
        "optimizer/experiment_list.html",
        {
            "experiments": _experiments(access.tenant),
            "policies": bandits.policy_list(tenant=access.tenant).order_by("-created_at"),
            "design_form": design_form if can_edit else None,
            "policy_form": policy_form if can_edit else None,
        },
        status=status,
    )


@tenant_page()
def experiment_list(request: HttpRequest, *, access) -> HttpResponse:
    """The tenant's experiments and bandit policies; POST designs an experiment."""
    if request.method != "POST":
        return _list_page(request, access)
    access.require(Capability.EDIT_DATA)
    form = _design_form(access, request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        retailer, _, placement = data["channel"].partition("|")
        try:
            experiment = experiment_design(
                tenant=access.tenant,
                kind=data["kind"],
                retailer=retailer,
                placement_type=placement,
                start_date=data["start_date"],
                end_date=data["end_date"],
                params=form.params(),
                user=request.user,
            )
        except DomainError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Designed {experiment.name}.")
            return redirect("experiment_detail", pk=experiment.pk)
    return _list_page(request, access, design_form=form, status=400)


def _interval(readout: dict, kind: str) -> list[float] | None:
    """The (1 - alpha) interval of the incremental sales, whatever the kind."""
    if kind == Experiment.Kind.GEO and isinstance(readout.get("interval"), list):
        return readout["interval"]
    scale = readout.get("on_days") if kind == Experiment.Kind.SWITCHBACK else readout.get("n_exposed")
    per = readout.get("interval_per_day") or readout.get("interval_per_user")
    if per and scale:
        return [per[0] * scale, per[1] * scale]
    return None


def _readout_view(experiment: Experiment) -> dict:
    readout = experiment.readout or {}
    if "incremental_sales" not in readout:
        return {}
    alpha = readout.get("alpha") or experiment.design.get("alpha") or 0.10
    return {
        **readout,
        "interval": _interval(readout, experiment.kind),
        "level_pct": round(100 * (1 - alpha)),
        "method_label": dict(Experiment.Kind.choices)[experiment.kind]
        + (f" ({readout['method']})" if readout.get("method") else ""),
    }


def _detail_page(request, access, experiment, *, readout_form=None, status=200) -> HttpResponse:
    can_edit = access.can(Capability.EDIT_DATA)
    design = experiment.design or {}
    schedule = []
    if experiment.kind == Experiment.Kind.SWITCHBACK and design.get("arms") is not None:
        from optimizer.engine.experiments import SwitchbackDesign

        schedule = SwitchbackDesign.from_dict(design).schedule()
    return render(
        request,
        "optimizer/experiment_detail.html",
        {
            "experiment": experiment,
            "design": design,
            "schedule": schedule,
            "readout": _readout_view(experiment),
            "readout_form": (readout_form or ReadoutForm()) if can_edit and not experiment.lift_study_id else None,
            "can_edit": can_edit,
            "currency": access.tenant.reporting_currency,
        },
        status=status,
    )


@tenant_page()
def experiment_detail(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    return _detail_page(request, access, _experiment(access, pk))


@require_POST
@tenant_page(Capability.EDIT_DATA)
def experiment_readout_view(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    experiment = _experiment(access, pk)
    form = ReadoutForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            experiment_readout(experiment, form.cleaned_data["data"].read(), user=request.user)
        except DomainError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Read out. Save it as a lift study to calibrate the response curves.")
            return redirect("experiment_detail", pk=experiment.pk)
    experiment.refresh_from_db()
    return _detail_page(request, access, experiment, readout_form=form, status=400)


@require_POST
@tenant_page(Capability.EDIT_DATA)
def experiment_save_lift_study_view(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    experiment = _experiment(access, pk)
    try:
        study = experiment_save_lift_study(experiment, request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Saved as lift study #{study.pk}; the next curve fit for this channel is calibrated by it."
        )
    return redirect("experiment_detail", pk=experiment.pk)


# --- bandit policies --------------------------------------------------------------------------------------------


@require_POST
@tenant_page(Capability.EDIT_DATA)
def bandit_create(request: HttpRequest, *, access) -> HttpResponse:
    form = BanditPolicyForm(request.POST, tenant=access.tenant)
    if form.is_valid():
        data = form.cleaned_data
        plan = data["plan"]
        try:
            policy = bandits.policy_create(
                tenant=access.tenant,
                name=data["name"],
                budget=data["budget"] if data["budget"] is not None else plan.budget,
                start_date=data["start_date"],
                end_date=data["end_date"],
                plan=plan,
                user=request.user,
            )
        except DomainError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Started bandit policy {policy.name}.")
            return redirect("bandit_detail", pk=policy.pk)
    return _list_page(request, access, policy_form=form, status=400)


def _arm_rows(policy: BanditPolicy, level: float = 0.90) -> list[dict]:
    """Per channel: the posterior of the multiplier m on the prior curve, as mean and interval."""
    labels = dict(PlacementType.choices)
    rows = []
    for data in (policy.state or {}).get("arms", []):
        arm = Arm(**data)
        retailer, _, placement = arm.key.partition("|")
        rows.append(
            {
                "key": arm.key,
                "label": f"{retailer} · {labels.get(placement, placement)}",
                "multiplier_mean": arm.multiplier_mean,
                "interval": list(arm.multiplier_interval(level)),
                "incrementality": arm.incrementality_mean,
                "n_obs": arm.n_obs,
                "min_daily": arm.min_daily,
                "max_daily": arm.max_daily,
            }
        )
    return rows


@tenant_page()
def bandit_detail(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    policy = _policy(access, pk)
    arms = _arm_rows(policy)
    keys = [a["key"] for a in arms]
    decisions = [
        {
            "date": d.date,
            "cells": [
                {
                    "spend": d.allocation.get(k),
                    "propensity": d.propensities.get(k),
                    "reward": (d.reward or {}).get(k, {}).get("reward") if d.reward else None,
                }
                for k in keys
            ],
            "total": sum(float(v) for v in d.allocation.values()),
            "observed": d.reward is not None,
        }
        for d in policy.decisions.order_by("-date")
    ]
    return render(
        request,
        "optimizer/bandit_detail.html",
        {
            "policy": policy,
            "arms": arms,
            "decisions": decisions,
            "prior": (policy.state or {}).get("prior", {}),
            "can_edit": access.can(Capability.EDIT_DATA),
            "today": timezone.now().date(),
        },
    )


@require_POST
@tenant_page(Capability.EDIT_DATA)
def bandit_update_view(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    """Run the daily update now: the same service the optimizer.bandit_update Celery task runs."""
    policy = _policy(access, pk)
    try:
        day = dt.date.fromisoformat(request.POST.get("date") or timezone.now().date().isoformat())
    except ValueError:
        messages.error(request, f"date must be YYYY-MM-DD, got {request.POST.get('date')!r}.")
        return redirect("bandit_detail", pk=policy.pk)
    try:
        out = bandits.bandit_update(policy.pk, day.isoformat())
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        decided = f"decided {day}" if out["decision"] else f"no decision for {day} (outside the policy or not active)"
        messages.success(request, f"Observed {out['observed_days']} new day(s); {decided}.")
    return redirect("bandit_detail", pk=policy.pk)

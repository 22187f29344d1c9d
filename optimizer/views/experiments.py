"""Experiment pages: design, readout, save as a lift study (the closed loop). Thin: the rules live in
optimizer.services.experiments."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.forms import form_error
from governance.access import Capability, tenant_page
from optimizer import selectors
from optimizer.forms.bandits import BanditPolicyForm
from optimizer.forms.experiments import SERVICE_FIELDS, ExperimentDesignForm, ReadoutForm
from optimizer.models import Experiment
from optimizer.services.experiments import experiment_design, experiment_readout, experiment_save_lift_study


def _experiments(tenant):
    return Experiment.objects.filter(tenant=tenant).select_related("retailer", "lift_study")


def _experiment(access, pk: int) -> Experiment:
    try:
        return _experiments(access.tenant).get(pk=pk)
    except Experiment.DoesNotExist:
        raise Http404("No such experiment.") from None


def _design_form(access, data=None, files=None) -> ExperimentDesignForm:
    return ExperimentDesignForm(data, files, channels=selectors.tenant_channel_choices(access.tenant))


def experiments_page(request, access, *, design_form=None, policy_form=None, status=200) -> HttpResponse:
    can_edit = access.can(Capability.EDIT_DATA)
    if can_edit:
        design_form = design_form or _design_form(access)
        policy_form = policy_form or BanditPolicyForm(tenant=access.tenant)
    return render(
        request,
        "optimizer/experiment_list.html",
        {
            "experiments": _experiments(access.tenant),
            "policies": selectors.policy_list(tenant=access.tenant).order_by("-created_at"),
            "design_form": design_form if can_edit else None,
            "policy_form": policy_form if can_edit else None,
        },
        status=status,
    )


@tenant_page()
def experiment_list(request: HttpRequest, *, access) -> HttpResponse:
    """The tenant's experiments and bandit policies; POST designs an experiment."""
    if request.method != "POST":
        return experiments_page(request, access)
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
            form_error(form, exc, fields=SERVICE_FIELDS)
        else:
            messages.success(request, f"Designed {experiment.name}.")
            return redirect("experiment_detail", pk=experiment.pk)
    return experiments_page(request, access, design_form=form, status=400)


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
            form_error(form, exc, fields=SERVICE_FIELDS)
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

"""Bandit policy pages: in-flight reallocation, state per channel, decision log, the daily update. Thin: the rules
live in optimizer.services.bandits."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from campaigns.models import PlacementType
from core.errors import DomainError
from core.forms import form_error
from governance.access import Capability, tenant_page
from optimizer import selectors
from optimizer.engine.bandit import Arm
from optimizer.forms.bandits import BanditPolicyForm
from optimizer.forms.experiments import SERVICE_FIELDS
from optimizer.models import BanditPolicy
from optimizer.services.bandits import policy_create
from optimizer.tasks import bandit_update
from optimizer.views.experiments import experiments_page


def _policy(access, pk: int) -> BanditPolicy:
    try:
        return selectors.policy_get(tenant=access.tenant, pk=pk)
    except BanditPolicy.DoesNotExist:
        raise Http404("No such bandit policy.") from None


@require_POST
@tenant_page(Capability.EDIT_DATA)
def bandit_create(request: HttpRequest, *, access) -> HttpResponse:
    form = BanditPolicyForm(request.POST, tenant=access.tenant)
    if form.is_valid():
        data = form.cleaned_data
        plan = data["plan"]
        try:
            policy = policy_create(
                tenant=access.tenant,
                name=data["name"],
                budget=data["budget"] if data["budget"] is not None else plan.budget,
                start_date=data["start_date"],
                end_date=data["end_date"],
                plan=plan,
                user=request.user,
            )
        except DomainError as exc:
            form_error(form, exc, fields=SERVICE_FIELDS)
        else:
            messages.success(request, f"Started bandit policy {policy.name}.")
            return redirect("bandit_detail", pk=policy.pk)
    return experiments_page(request, access, policy_form=form, status=400)


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
        out = bandit_update(policy.pk, day.isoformat())
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        decided = f"decided {day}" if out["decision"] else f"no decision for {day} (outside the policy or not active)"
        messages.success(request, f"Observed {out['observed_days']} new day(s); {decided}.")
    return redirect("bandit_detail", pk=policy.pk)

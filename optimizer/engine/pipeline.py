"""History to allocation in one call: fit the curves, calibrate them with lift studies, apply the forecast's
margin and stock-out adjustments, allocate. The optimize command, the tenant plans, the planner and the API all
call :func:`optimize_from_frames`."""

from __future__ import annotations

import dataclasses

import pandas as pd

from optimizer.engine.allocate import AllocationRequest, AllocationResult, allocate, validate_basics
from optimizer.engine.curves import CurveSet, calibrate, fit_curves


def curves_from_frames(
    history: pd.DataFrame,
    skus: pd.DataFrame | None,
    lift_studies: pd.DataFrame | None,
    *,
    period_days: int,
    samples: int = 200,
    seed: int = 0,
) -> CurveSet:
    """Fitted and calibrated curves (calibration with no studies leaves the placement priors)."""
    curves = fit_curves(history, skus, samples=samples, seed=seed, period_days=period_days)
    studies = lift_studies if lift_studies is not None and len(lift_studies) else None
    return calibrate(curves, studies, seed=seed)


def apply_forecast(request: AllocationRequest, forecast) -> AllocationRequest:
    """Copy a forecast.Adjustments into the request; what the request already sets wins."""
    if forecast is None:
        return request
    return dataclasses.replace(
        request,
        channel_margin_override={**forecast.channel_margin_override, **request.channel_margin_override},
        channel_capacity_factor={**forecast.channel_capacity_factor, **request.channel_capacity_factor},
    )


def optimize_from_frames(
    history: pd.DataFrame,
    skus: pd.DataFrame | None,
    lift_studies: pd.DataFrame | None,
    request: AllocationRequest,
    *,
    samples: int = 200,
    seed: int = 0,
    forecast=None,
) -> AllocationResult:
    validate_basics(request)
    curves = curves_from_frames(
        history, skus, lift_studies, period_days=request.period_days, samples=samples, seed=seed
    )
    return allocate(curves, apply_forecast(request, forecast))

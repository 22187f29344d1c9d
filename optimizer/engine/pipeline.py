"""History to allocation in one call: fit the curves, calibrate them with lift studies, apply the forecast's
margin and stock-out adjustments, allocate. The optimize command, the tenant plans, the planner and the API all
call :func:`optimize_from_frames`."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from optimizer.engine.allocate import PLAN_MIX_ANCHOR, AllocationRequest, AllocationResult, allocate, validate_basics
from optimizer.engine.curves import CurveSet, calibrate, fit_curves
from optimizer.engine.errors import OptimizerInputError
from optimizer.engine.notices import INFO, WARNING, Notice


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


# What share of the measured period error (block misfit and level drift, below) the next period's level really misses
# by, once the forecast starts from the last weeks' level (with_recent_level): on independent worlds (bench
# optimize_bench --family independent, world seeds 1 and 2, never seed 0) the level at the run rate was missed by
# a root mean square of 0.071 in logs (level of the last 14 days; 0.093 with the last 28) where this measure said
# 0.179 in root mean square: 0.40 (0.52 with 28 days, when it was 0.5). The curve posterior and the extrapolation
# terms (allocate.py) add their own.
LEVEL_ERROR_SCALE = 0.4


def period_error_sd(curves: CurveSet, history: pd.DataFrame, *, period_days: int) -> float:
    """How far the fitted curves miss the portfolio's attributed sales over whole periods of the history.

    The history is cut into blocks of ``period_days`` counted back from its last day; in each block the curves
    (posterior mean, each sample's own adstock, the fitted demand of those days) predict the attributed sales of
    the spend that was actually made. The result is the root mean square of log(actual / predicted) over the blocks
    (0 with fewer than two blocks): a bias and the period-level error that the curve posterior does not carry.
    Added to it in quadrature: how far the level moved over the history across the plan's horizon
    (:func:`_level_drift_sd`). Used as ``AllocationRequest.forecast_error_sd`` so the chance constraint allows for
    both."""
    dates, predicted, actual, demand = _portfolio_fit(curves, history)
    n_blocks = len(dates) // int(period_days)
    logs = []
    for b in range(n_blocks):
        window = slice(len(dates) - (b + 1) * period_days, len(dates) - b * period_days)
        p, a = predicted[window].sum(), actual[window].sum()
        if p > 0 and a > 0:
            logs.append(math.log(a / p))
    fit_sd = float(np.sqrt(np.mean(np.square(logs)))) if len(logs) >= 2 else 0.0
    return LEVEL_ERROR_SCALE * float(
        math.hypot(fit_sd, _level_drift_sd(predicted / demand, actual, dates, period_days))
    )


def _portfolio_fit(curves: CurveSet, history: pd.DataFrame):
    """Per day of the history: the dates, the portfolio's attributed sales the curves predict for the spend made
    (posterior mean, each sample's own adstock, the fitted demand), what was reported, and the fitted demand."""
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(history["date"]).dt.normalize(),
            "key": history["retailer"].astype(str) + "|" + history["placement_type"].astype(str),
            "spend": pd.to_numeric(history["spend"], errors="coerce").fillna(0.0),
            "sales": pd.to_numeric(history["attributed_sales"], errors="coerce").fillna(0.0),
        }
    )
    dates = pd.date_range(frame["date"].min(), frame["date"].max(), freq="D")
    spend = frame.pivot_table(index="date", columns="key", values="spend", aggfunc="sum").reindex(dates).fillna(0.0)
    sales = frame.pivot_table(index="date", columns="key", values="sales", aggfunc="sum").reindex(dates).fillna(0.0)
    demand = curves.demand([d.date() for d in dates])
    predicted = np.zeros(len(dates))
    actual = np.zeros(len(dates))
    for curve in curves.channels:
        if curve.key not in spend:
            continue
        x = spend[curve.key].to_numpy(dtype=float)
        decay = np.asarray(curve.decay, dtype=float)
        level = np.full(len(decay), x[: min(7, len(x))].mean())
        adstock = np.empty((len(decay), len(x)))
        for t, value in enumerate(x):
            level = decay * level + (1.0 - decay) * value
            adstock[:, t] = level
        h = np.asarray(curve.shape, dtype=float)[:, None]
        xh = np.maximum(adstock, 0.0) ** h
        hill = xh / (xh + np.asarray(curve.half_saturation, dtype=float)[:, None] ** h)
        predicted += (np.asarray(curve.beta, dtype=float)[:, None] * hill).mean(axis=0) * demand
        actual += sales[curve.key].to_numpy(dtype=float)
    return dates, predicted, actual, demand


RECENT_LEVEL_WEIGHT = 1.0  # share of the last weeks' level gap carried into the forecast (a local level)
# How many of the history's last days the level is read from (fewer when the period is shorter). A level that moves
# (a season, distribution won or lost) is best read from recent days, noise from many: on independent worlds (world
# seeds 1 and 2, 16 worlds) the next period's level at the run rate was missed by a root mean square of 0.085 in logs
# reading the last 7 days, 0.071 with 14, 0.079 with 21, 0.093 with 28 (before), 0.121 with 56. Choosing the window
# per history by a backtest on the history itself did worse (0.111): a history has too few periods to choose it.
RECENT_LEVEL_DAYS = 14


def with_recent_level(curves: CurveSet, history: pd.DataFrame, *, period_days: int) -> CurveSet:
    """Curves whose sales level is moved part of the way (RECENT_LEVEL_WEIGHT, in logs) toward the level of the
    history's last min(period, RECENT_LEVEL_DAYS) days: the fitted demand is a smooth curve over the whole history,
    and its end lags a level that moved lately (a season, a distribution change), which the next period starts from.
    Incremental curves (``inc_scale``) move by the same factor."""
    dates, predicted, actual, _ = _portfolio_fit(curves, history)
    window = slice(len(dates) - min(int(period_days), RECENT_LEVEL_DAYS, len(dates)), len(dates))
    p, a = float(predicted[window].sum()), float(actual[window].sum())
    if not (p > 0 and a > 0):
        return curves
    factor = math.exp(RECENT_LEVEL_WEIGHT * math.log(a / p))
    # The incremental curves move with the attributed ones (the same shoppers, the same season): their incremental
    # share of attributed sales stays what calibration found.
    channels = tuple(
        dataclasses.replace(
            c,
            beta=np.asarray(c.beta, dtype=float) * factor,
            inc_scale=None if c.inc_scale is None else np.asarray(c.inc_scale, dtype=float) * factor,
        )
        for c in curves.channels
    )
    return dataclasses.replace(curves, channels=channels)


def _level_drift_sd(flat: np.ndarray, actual: np.ndarray, dates, period_days: int) -> float:
    """How far the sales level moved, over the history, across as many days as the plan looks ahead.

    The fitted demand explains the history's level in hindsight, so its in-sample error says nothing of the next
    period's level (a season that shifts, a distribution won or lost). Blocks of L = min(period, days / 6) days are
    compared k = period / L blocks apart after removing what the curves and weekdays explain (``flat``: predicted
    sales without the demand level); the standard deviation of the changes in log level (about their mean, the
    trend) is the forecast error of carrying the level forward. 0 with fewer than three such pairs."""
    length = max(7, min(int(period_days), len(dates) // 6))
    n_blocks = len(dates) // length
    levels = []
    for b in range(n_blocks):
        window = slice(len(dates) - (b + 1) * length, len(dates) - b * length)
        p, a = flat[window].sum(), actual[window].sum()
        levels.append(math.log(a / p) if p > 0 and a > 0 else math.nan)
    k = max(1, round(period_days / length))
    changes = [levels[b] - levels[b + k] for b in range(n_blocks - k)]
    changes = [c for c in changes if math.isfinite(c)]
    if len(changes) < 3:
        return 0.0
    # About their mean: a steady trend is what the forecast carries forward (its end slope), not an error. Less
    # the day-to-day noise of two block means (daily log residuals, AR(1)-inflated): a level that did not move
    # still differs between blocks by that much, and the expected outcome of a plan does not.
    ok = (flat > 0) & (actual > 0)
    daily = np.log(actual[ok] / flat[ok])
    daily = daily - np.convolve(daily, np.ones(7) / 7, mode="same")  # weekdays and the slow level out
    rho = float(np.clip(np.corrcoef(daily[1:], daily[:-1])[0, 1], 0.0, 0.9)) if len(daily) > 3 else 0.0
    noise = float(np.var(daily)) * (1 + rho) / (1 - rho) / length
    return float(math.sqrt(max(float(np.var(changes, ddof=1)) - 2 * noise, 0.0)))


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
    skip_unlearnable: bool = False,
) -> AllocationResult:
    """Fit, calibrate, adjust and allocate.

    A channel whose curve cannot be learned (too few days, spend that never varied, no sales) stops the request
    with the curve's explanation, unless the request excludes that channel anyway, or ``skip_unlearnable`` is set
    (the tenant plans do): then the channel is left out of the plan and the result's warnings say so. A channel
    whose bounds demand a minimum spend is never left out silently: its error stands.
    """
    validate_basics(request)
    notes: list[str] = []
    notices: list[Notice] = []
    while True:
        try:
            curves = curves_from_frames(
                history, skus, lift_studies, period_days=request.period_days, samples=samples, seed=seed
            )
            break
        except OptimizerInputError as exc:
            key = exc.field or ""
            excluded = key in request.exclude_channels
            if "|" not in key or not (skip_unlearnable or excluded) or request.bounds.get(key, (0, None))[0]:
                raise
            retailer, placement = key.split("|", 1)
            in_channel = (history["retailer"] == retailer) & (history["placement_type"] == placement)
            if not in_channel.any() or in_channel.all():
                raise
            history = history[~in_channel]
            if lift_studies is not None and len(lift_studies):
                lift_studies = lift_studies[
                    ~((lift_studies["retailer"] == retailer) & (lift_studies["placement_type"] == placement))
                ]
            request = dataclasses.replace(
                request,
                exclude_channels=frozenset(request.exclude_channels - {key}),
                bounds={k: v for k, v in request.bounds.items() if k != key},
            )
            if not excluded:
                notes.append(f"{key} is left out of this plan: {exc.message}")
                notices.append(Notice(kind="left_out", severity=WARNING, text=notes[-1], channels=(key,)))
    if request.forecast_error_sd is None:
        request = dataclasses.replace(
            request, forecast_error_sd=period_error_sd(curves, history, period_days=request.period_days)
        )
    if request.mix_anchor is None:
        request = dataclasses.replace(request, mix_anchor=PLAN_MIX_ANCHOR)
    curves = with_recent_level(curves, history, period_days=request.period_days)
    result = allocate(curves, apply_forecast(request, forecast))
    if forecast is not None:
        notes.extend(f"{key}: {reason}" for key, reason in sorted(forecast.channel_reasons.items()))
        if forecast.reasons:
            listed = "; ".join(f"{sku}: {reason}" for sku, reason in sorted(forecast.reasons.items()))
            notes.append(f"SKUs not sellable for all of the period: {listed}.")
        notices.extend(_forecast_notices(forecast))
    if notes:
        result = dataclasses.replace(
            result, warnings=tuple(notes) + tuple(result.warnings), notices=tuple(notices) + tuple(result.notices)
        )
    return result


def _forecast_notices(forecast) -> list[Notice]:
    """Informational notices for SKUs that stop counting as sellable: one for those likely to run out, one for
    those the request excluded, each naming the channels that get less."""
    excluded = set(forecast.excluded_by_request)
    out = []
    for kind, skus in (
        ("stock_out", sorted(s for s in forecast.reasons if s not in excluded)),
        ("skus_excluded", sorted(s for s in forecast.reasons if s in excluded)),
    ):
        if not skus:
            continue
        channels = sorted(k for k, lost in forecast.channel_lost.items() if set(lost) & set(skus))
        what = "likely to run out of stock" if kind == "stock_out" else "excluded by the request"
        text = f"{len(skus)} SKU{'s' if len(skus) != 1 else ''} {what}: {', '.join(skus)}."
        details = [f"{sku}: {forecast.reasons[sku]}" for sku in skus]
        details += [f"{key}: {forecast.channel_reasons[key]}" for key in channels if key in forecast.channel_reasons]
        out.append(
            Notice(
                kind=kind,
                severity=INFO,
                text=text,
                details=tuple(details),
                channels=tuple(channels),
                skus=tuple(skus),
                figures={f"capacity:{key}": float(forecast.channel_capacity_factor.get(key, 1.0)) for key in channels},
            )
        )
    return out

"""Experiment services: design, read out, and save a readout as a lift study (the closed loop).

Where the data comes from (docs/measurement.md, "Experiments"):

* Geo tests need outcomes by region, which RMIS performance facts do not have. The caller uploads a geo panel,
  ``date,geo,outcome[,spend]`` (CSV text, a file, or a DataFrame): its days before ``start_date`` are the history the
  design matches geos and computes power on; the readout takes a panel covering the pre-period and the test. No
  pseudo-geos are derived from facts: splitting national numbers into invented regions would give an MDE that
  describes the invention, not the tenant's markets.
* Switchbacks use the channel's daily attributed sales from PerformanceFact before ``start_date`` as the history
  for power (or an uploaded ``date,outcome`` history); the readout takes ``date,outcome[,spend]`` for the test days,
  because attributed sales drop to zero on off days and cannot measure incrementality.
* Holdouts need the per-user outcome's standard deviation: ``outcome_sd`` (and ``rho``, the pre/post correlation
  for CUPED), or a per-user history ``user_id,outcome[,pre_outcome]`` to compute them from. The readout takes
  ``user_id,outcome[,pre_outcome][,group]`` (group: exposed/holdout; derived from the design's hash when absent).

Spend for the lift study comes from the readout data when it has a spend column, otherwise from the tenant's
PerformanceFact spend on the channel over the test (switchbacks: on-days only).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.db import transaction
from django.db.models import Sum

from campaigns.models import PerformanceFact, PlacementType, Retailer
from core.bounds import SEED_MAX, date_limit_message, money_limit_message, seed_limit_message
from core.errors import DomainError
from governance.models import Tenant
from governance.services import audit_record
from optimizer.engine import experiments as engine
from optimizer.engine import geo
from optimizer.engine.errors import OptimizerInputError
from optimizer.models import Experiment, LiftStudy
from optimizer.services.lift_studies import lift_study_create

LIFT_METHOD = {
    Experiment.Kind.GEO: LiftStudy.Method.GEO_MATCHED_MARKETS,
    Experiment.Kind.SWITCHBACK: LiftStudy.Method.SWITCHBACK,
    Experiment.Kind.HOLDOUT: LiftStudy.Method.RCT_HOLDOUT,
}


def _domain(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except OptimizerInputError as exc:
        raise DomainError(exc.message, field=exc.field) from None


def _frame(data: Any, *, field: str, required: tuple[str, ...]) -> pd.DataFrame:
    """A DataFrame from a DataFrame, CSV text, bytes, a path or an uploaded file; required columns checked."""
    if data is None:
        raise DomainError(f"{field} is required: a CSV with columns {','.join(required)}.", field=field)
    try:
        if isinstance(data, pd.DataFrame):
            frame = data.copy()
        elif isinstance(data, bytes):
            frame = pd.read_csv(io.BytesIO(data))
        elif isinstance(data, str):
            # Text is always CSV content, never a path: a path from a request must not open server files.
            frame = pd.read_csv(io.StringIO(data))
        elif isinstance(data, Path) or hasattr(data, "read"):
            frame = pd.read_csv(data)
        else:
            raise DomainError(f"{field} must be CSV text, a file or a table.", field=field)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DomainError(f"{field} could not be read as CSV: {exc}", field=field) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DomainError(
            f"{field} is missing column(s) {', '.join(missing)}; expected {','.join(required)}.", field=field
        )
    return frame


def _retailer(retailer: Retailer | str) -> Retailer:
    if isinstance(retailer, Retailer):
        return retailer
    found = Retailer.objects.filter(code=retailer, is_active=True).first()
    if found is None:
        raise DomainError(f"Unknown retailer {retailer!r}.", field="retailer")
    return found


def _channel_facts(tenant: Tenant, retailer: Retailer, placement_type: str):
    return PerformanceFact.objects.filter(tenant=tenant, retailer=retailer, placement_type=placement_type)


def _daily(tenant, retailer, placement_type, *, start: dt.date, end: dt.date, field: str) -> pd.Series:
    """The channel's daily sum of ``field`` from ``start`` to ``end`` (days without facts are 0)."""
    rows = (
        _channel_facts(tenant, retailer, placement_type)
        .filter(date__gte=start, date__lte=end)
        .values("date")
        .annotate(total=Sum(field))
        .order_by("date")
    )
    series = pd.Series({r["date"]: float(r["total"]) for r in rows}, dtype=float)
    index = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    return series.reindex(index, fill_value=0.0)


def _float(params: dict, key: str, default: float | None = None) -> float | None:
    value = params.get(key, default)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise DomainError(f"{key} must be a number; got {value!r}.", field=key) from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise DomainError(f"{key} must be a finite number; got {value!r}.", field=key)
    return number


# Whole-number params and their ranges: wide enough for any real design, narrow enough that date arithmetic and
# array sizes stay finite.
INT_RANGES = {
    "pre_days": (1, 3660),
    "history_days": (1, 3660),
    "block_days": (1, 366),
    "washout_days": (0, 365),
    "audience_size": (1, 10**10),
}


def _int(params: dict, key: str, default: int | None = None) -> int | None:
    value = _float(params, key, default)
    if value is None:
        return None
    low, high = INT_RANGES.get(key, (0, SEED_MAX))
    if value != int(value) or not low <= value <= high:
        raise DomainError(f"{key} must be a whole number from {low:,} to {high:,}; got {params[key]!r}.", field=key)
    return int(value)


def _seed(params: dict) -> int | None:
    value = params.get("seed")
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    message = seed_limit_message(value)
    if message:
        raise DomainError(f"seed {message}", field="seed")
    return value


# The params a design takes, by kind (docs/measurement.md); any other key is refused, so a typo is not ignored.
COMMON_PARAMS = ("name", "alpha", "power", "seed")
KIND_PARAMS = {
    Experiment.Kind.GEO: ("panel", "pre_days", "method", "cuped"),
    Experiment.Kind.SWITCHBACK: ("block_days", "washout_days", "history_days", "outcome_history"),
    Experiment.Kind.HOLDOUT: ("audience_size", "holdout_share", "outcome_sd", "rho", "users", "mde", "spend"),
}


def experiment_params(kind: str) -> tuple[str, ...]:
    """The keys ``params`` may hold for a design of ``kind``."""
    return COMMON_PARAMS + KIND_PARAMS.get(kind, ())


def _check_params(params: dict, kind: str) -> None:
    allowed = experiment_params(kind)
    unknown = sorted(str(key) for key in params if key not in allowed)
    if unknown:
        raise DomainError(
            f"params: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(repr(k) for k in unknown)} for a "
            f"{kind} design; allowed: {', '.join(sorted(allowed))}.",
            field="params",
        )
    name = params.get("name")
    if name is not None and not (isinstance(name, str) and len(name) <= 200):
        raise DomainError("name must be text of at most 200 characters.", field="name")


def _dates(frame: pd.DataFrame, *, field: str) -> pd.Series:
    """The ``date`` column as dates; a value that is not a date is an error naming its line (header = line 1)."""
    parsed = pd.to_datetime(frame["date"], errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DomainError(
            f"{field} line {row + 2}: date {frame['date'].iloc[row]!r} is not a date (use YYYY-MM-DD).", field=field
        )
    return parsed.dt.date


def _refuse_infinite(frame: pd.DataFrame, columns: tuple[str, ...], *, field: str) -> None:
    """A number too large for a float (1e400) reads as infinity and would break the stored JSON: refuse it."""
    for column in columns:
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
            infinite = np.isinf(values)
            if infinite.any():
                row = int(np.flatnonzero(infinite)[0])
                raise DomainError(
                    f"{field} line {row + 2}: {column} {frame[column].iloc[row]!r} is not a finite number.", field=field
                )


def _all_finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_all_finite(v) for v in value)
    return True


def _check_finite_result(result: dict, *, field: str) -> None:
    # Finite inputs can still overflow (values near 1e308 summed): such a result cannot be stored as JSON.
    if not _all_finite(result):
        raise DomainError(
            f"The {field} gives an infinite or undefined result: its numbers are too large to compute with.",
            field=field,
        )


# --- Design -----------------------------------------------------------------------------------------------------


def experiment_design(
    *,
    tenant: Tenant,
    kind: str,
    retailer: Retailer | str,
    placement_type: str,
    start_date: dt.date,
    end_date: dt.date,
    params: dict | None = None,
    user=None,
) -> Experiment:
    """Design an experiment on the tenant's history and store it (status "designed").

    ``params`` by kind — all: ``name``, ``alpha`` (0.10), ``power`` (0.80), ``seed``. geo: ``panel`` (required),
    ``pre_days``, ``method`` ("scaled" | "did"), ``cuped`` (True). switchback: ``block_days`` (7), ``washout_days``
    (2), ``history_days`` (182), ``outcome_history`` (optional CSV date,outcome). holdout: ``audience_size``
    (required), ``holdout_share`` (0.10), ``outcome_sd`` and ``rho`` or ``users`` (CSV user_id,outcome[,pre_outcome]),
    ``mde`` (optional: also report the audience needed for it).
    """
    if params is not None and not isinstance(params, dict):
        raise DomainError("params must be an object of design settings.", field="params")
    params = dict(params or {})
    if kind not in Experiment.Kind.values:
        raise DomainError(
            f"Unknown experiment kind {kind!r}; use one of {', '.join(Experiment.Kind.values)}.", field="kind"
        )
    _check_params(params, kind)
    if placement_type not in PlacementType.values:
        raise DomainError(f"Unknown placement type {placement_type!r}.", field="placement_type")
    for field, day in (("start_date", start_date), ("end_date", end_date)):
        if date_limit_message(day):
            raise DomainError(f"{field} {date_limit_message(day)}", field=field)
    if end_date < start_date:
        raise DomainError(f"end_date {end_date} is before start_date {start_date}.", field="end_date")
    retailer = _retailer(retailer)
    alpha = _float(params, "alpha", 0.10)
    power = _float(params, "power", 0.80)
    seed = _seed(params)
    if seed is None:
        seed = uuid.uuid4().int % 2**31
    days = (end_date - start_date).days + 1
    if kind == Experiment.Kind.GEO:
        design = _design_geo(params, start_date=start_date, days=days, alpha=alpha, power=power, seed=seed)
    elif kind == Experiment.Kind.SWITCHBACK:
        design = _design_switchback(
            params, tenant, retailer, placement_type, start_date=start_date, days=days, alpha=alpha, power=power,
            seed=seed,
        )  # fmt: skip
        end_date = dt.date.fromisoformat(design["end_date"])
    else:
        design = _design_holdout(params, alpha=alpha, power=power, seed=seed)
    design["kind"] = kind
    _check_finite_result(design, field="params")
    experiment = Experiment(
        tenant=tenant,
        name=str(params.get("name") or f"{Experiment.Kind(kind).label}: {retailer.code} {placement_type} {start_date}"),
        kind=kind,
        retailer=retailer,
        placement_type=placement_type,
        start_date=start_date,
        end_date=end_date,
        design=design,
        created_by=user if getattr(user, "pk", None) else None,
    )
    with transaction.atomic():
        experiment.save()
        audit_record(action="experiment.design", tenant=tenant, user=user, obj=experiment, detail={"kind": kind})
    return experiment


def _design_geo(params: dict, *, start_date: dt.date, days: int, alpha: float, power: float, seed: int) -> dict:
    frame = _frame(params.get("panel"), field="panel", required=("date", "geo", "outcome"))
    _refuse_infinite(frame, ("outcome", "spend"), field="panel")
    panel = _domain(lambda: geo.panel_from_frame(frame))
    if panel.dates[0] >= start_date:
        raise DomainError(f"The geo panel has no days before the test's start {start_date}.", field="panel")
    history = panel.window(panel.dates[0], min(panel.dates[-1], start_date - dt.timedelta(days=1)))
    method = str(params.get("method", "scaled"))
    cuped = str(params.get("cuped", True)).lower() not in ("false", "0", "no")
    design = _domain(
        lambda: geo.design_geo_test(
            history,
            test_days=days,
            pre_days=_int(params, "pre_days"),
            alpha=alpha,
            power=power,
            method=method,
            cuped=cuped,
            seed=seed,
        )
    )
    out = design.to_dict()
    out.update(
        {
            "history_start": history.dates[0].isoformat(),
            "history_end": history.dates[-1].isoformat(),
            "geos": len(panel.geos),
            "pre_start": (start_date - dt.timedelta(days=design.pre_days)).isoformat(),
        }
    )
    return out


def _design_switchback(params, tenant, retailer, placement_type, *, start_date, days, alpha, power, seed) -> dict:
    history_days = _int(params, "history_days", 182)
    if params.get("outcome_history") is not None:
        frame = _frame(params["outcome_history"], field="outcome_history", required=("date", "outcome"))
        frame["date"] = _dates(frame, field="outcome_history")
        frame = frame[frame["date"] < start_date].sort_values("date")
        history = pd.to_numeric(frame["outcome"], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(history).all():
            raise DomainError("outcome_history has an outcome that is not a finite number.", field="outcome_history")
        source = "uploaded outcome history"
    else:
        before = _channel_facts(tenant, retailer, placement_type).filter(date__lt=start_date)
        first, last = before.order_by("date").first(), before.order_by("-date").first()
        if first is None:
            raise DomainError(
                f"The tenant has no {retailer.code} {placement_type} performance before {start_date}; upload an "
                f"outcome history (date,outcome) for the switchback's power.",
                field="outcome_history",
            )
        # From the first to the last day with facts: a day in between without facts is a dark day (0), while days
        # after the last fact are unknown, not zero.
        begin = max(first.date, last.date - dt.timedelta(days=history_days - 1))
        history = _daily(
            tenant,
            retailer,
            placement_type,
            start=begin,
            end=last.date,
            field="attributed_sales",
        ).to_numpy()
        source = "daily attributed sales (PerformanceFact)"
    design = _domain(
        lambda: engine.design_switchback(
            start_date=start_date,
            days=days,
            block_days=_int(params, "block_days", 7),
            washout_days=_int(params, "washout_days", 2),
            history=history,
            alpha=alpha,
            power=power,
            seed=seed,
        )
    )
    out = design.to_dict()
    out.update({"outcome_source": source, "history_days": int(history.size)})
    return out


def _design_holdout(params: dict, *, alpha: float, power: float, seed: int) -> dict:
    audience = _int(params, "audience_size")
    if audience is None:
        raise DomainError(
            "audience_size is required for a holdout: the users the campaign can reach.", field="audience_size"
        )
    share = _float(params, "holdout_share", 0.10)
    sd, rho, source = _float(params, "outcome_sd"), _float(params, "rho", 0.0), "given"
    if params.get("users") is not None:
        users = _frame(params["users"], field="users", required=("user_id", "outcome"))
        y = pd.to_numeric(users["outcome"], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(y).all() or y.size < 10:
            raise DomainError("users needs at least 10 numeric (finite) per-user outcomes.", field="users")
        sd, source = float(y.std(ddof=1)), "per-user history"
        if "pre_outcome" in users.columns:
            x = pd.to_numeric(users["pre_outcome"], errors="coerce").to_numpy(dtype=float)
            if not np.isfinite(x).all():
                raise DomainError("users has a pre_outcome that is not a finite number.", field="users")
            rho = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else 0.0
    if sd is None:
        raise DomainError(
            "A holdout design needs the per-user outcome's variance: give outcome_sd or upload users "
            "(user_id,outcome[,pre_outcome]).",
            field="outcome_sd",
        )
    mde = _domain(
        lambda: engine.holdout_mde(
            outcome_sd=sd, n_total=audience, holdout_share=share, alpha=alpha, power=power, rho=rho
        )
    )
    out = {
        "audience_size": audience,
        "holdout_share": share,
        "outcome_sd": sd,
        "rho": rho,
        "variance_source": source,
        "alpha": alpha,
        "power": power,
        "mde_per_user": mde,
        "mde_total": mde * audience * (1 - share),
        "salt": f"holdout-{seed}",
        "seed": seed,
    }
    if params.get("spend") is not None:
        out["spend"] = _float(params, "spend")
        message = money_limit_message(out["spend"]) or ("must not be negative." if out["spend"] < 0 else None)
        if message:
            raise DomainError(f"spend: {message}", field="spend")
    target = _float(params, "mde")
    if target is not None:
        out["target_mde_per_user"] = target
        out["audience_needed"] = _domain(
            lambda: engine.holdout_sample_size(
                outcome_sd=sd, mde=target, holdout_share=share, alpha=alpha, power=power, rho=rho
            )
        )
    return out


# --- Readout ----------------------------------------------------------------------------------------------------


def experiment_readout(experiment: Experiment, data: Any, *, user=None) -> dict:
    """Read the experiment out of ``data`` (see the module docstring), store the readout and return it.

    The readout JSON holds the estimate with its interval and a ``lift_study`` entry (LiftStudyEstimate) that
    :func:`experiment_save_lift_study` saves.
    """
    if experiment.status == Experiment.Status.CANCELLED:
        raise DomainError("The experiment was cancelled; it cannot be read out.", field="status")
    if experiment.lift_study_id is not None:
        raise DomainError(
            f"The readout is already saved as lift study #{experiment.lift_study_id}; a new readout would not "
            f"update it. Delete that lift study first.",
            field="readout",
        )
    if experiment.kind == Experiment.Kind.GEO:
        readout, spend, start, end = _readout_geo(experiment, data)
    elif experiment.kind == Experiment.Kind.SWITCHBACK:
        readout, spend, start, end = _readout_switchback(experiment, data)
    else:
        readout, spend, start, end = _readout_holdout(experiment, data)
    estimate = engine.LiftStudyEstimate(
        retailer=experiment.retailer.code,
        placement_type=experiment.placement_type,
        start_date=start,
        end_date=end,
        spend=float(spend),
        incremental_sales=float(readout["incremental_sales"]),
        incremental_sales_se=float(readout["incremental_sales_se"]),
        method=LIFT_METHOD[experiment.kind],
    )
    readout["spend"] = float(spend)
    readout["incremental_roas"] = readout["incremental_sales"] / spend if spend > 0 else None
    readout["lift_study"] = estimate.to_dict()
    _check_finite_result(readout, field="data")
    experiment.readout = readout
    experiment.status = Experiment.Status.READ_OUT
    with transaction.atomic():
        experiment.save(update_fields=["readout", "status"])
        audit_record(action="experiment.readout", tenant=experiment.tenant, user=user, obj=experiment)
    return readout


def _fact_spend(experiment: Experiment, *, start: dt.date, end: dt.date, days: set[dt.date] | None = None) -> float:
    series = _daily(
        experiment.tenant, experiment.retailer, experiment.placement_type, start=start, end=end, field="spend"
    )
    if days is not None:
        series = series[[d in days for d in series.index]]
    return float(series.sum())


def _readout_geo(experiment: Experiment, data: Any):
    design = geo.GeoDesign.from_dict(experiment.design)
    frame = _frame(data, field="data", required=("date", "geo", "outcome"))
    _refuse_infinite(frame, ("outcome", "spend"), field="data")
    panel = _domain(lambda: geo.panel_from_frame(frame))
    result = _domain(lambda: geo.readout_geo_test(panel, design, test_start=experiment.start_date))
    end = experiment.start_date + dt.timedelta(days=design.test_days - 1)
    spend = result.treated_spend
    if spend is None:
        spend = _fact_spend(experiment, start=experiment.start_date, end=end)
    out = result.to_dict()
    out["spend_source"] = "panel (treated geos)" if result.treated_spend is not None else "performance facts"
    return out, spend, experiment.start_date, end


def _readout_switchback(experiment: Experiment, data: Any):
    design = engine.SwitchbackDesign.from_dict(experiment.design)
    frame = _frame(data, field="data", required=("date", "outcome"))
    frame["date"] = _dates(frame, field="data")
    days = [design.start_date + dt.timedelta(days=i) for i in range(design.days)]
    frame = frame.drop_duplicates("date", keep="last").set_index("date")
    missing = [d for d in days if d not in frame.index]
    if missing:
        raise DomainError(
            f"The switchback readout needs an outcome for every day {days[0]} to {days[-1]}; missing "
            f"{', '.join(str(d) for d in missing[:5])}{' …' if len(missing) > 5 else ''}.",
            field="data",
        )
    y = pd.to_numeric(frame.loc[days, "outcome"], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise DomainError("The switchback data has an outcome that is not a finite number.", field="data")
    spend = None
    if "spend" in frame.columns:
        spend = pd.to_numeric(frame.loc[days, "spend"], errors="coerce").fillna(0).to_numpy(dtype=float)
        if not np.isfinite(spend).all():
            raise DomainError("The switchback data has a spend that is not a finite number.", field="data")
    result = _domain(lambda: engine.readout_switchback(design, y, spend=spend))
    on_days = {d for d, arm in zip(days, np.repeat(design.arms, design.block_days), strict=True) if arm}
    total_spend = result.on_spend
    if total_spend is None:
        total_spend = _fact_spend(experiment, start=days[0], end=days[-1], days=on_days)
    out = result.to_dict()
    out["spend_source"] = "data (on days)" if result.on_spend is not None else "performance facts (on days)"
    return out, total_spend, days[0], days[-1]


def _readout_holdout(experiment: Experiment, data: Any):
    design = experiment.design
    frame = _frame(data, field="data", required=("user_id", "outcome"))
    y = pd.to_numeric(frame["outcome"], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise DomainError("The holdout data has an outcome that is not a finite number.", field="data")
    if "group" in frame.columns:
        group = frame["group"].astype(str).str.strip().str.lower()
        bad = ~group.isin(["exposed", "holdout"])
        if bad.any():
            raise DomainError(
                f"group must be exposed or holdout; line {int(np.flatnonzero(bad.to_numpy())[0]) + 2} has "
                f"{frame['group'][bad].iloc[0]!r}.",
                field="data",
            )
        held = (group == "holdout").to_numpy()
    else:
        held = engine.assign_holdout(
            frame["user_id"].astype(str).tolist(), holdout_share=design["holdout_share"], salt=design["salt"]
        )
    pre = None
    if "pre_outcome" in frame.columns:
        pre = pd.to_numeric(frame["pre_outcome"], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(pre).all():
            raise DomainError("The holdout data has a pre_outcome that is not a finite number.", field="data")
    result = _domain(lambda: engine.readout_holdout(y, held, pre_outcome=pre, alpha=design.get("alpha", 0.10)))
    spend = _float(experiment.design, "spend")
    if spend is None:
        spend = _fact_spend(experiment, start=experiment.start_date, end=experiment.end_date)
    return result.to_dict(), spend, experiment.start_date, experiment.end_date


# --- Closing the loop -------------------------------------------------------------------------------------------


def _money(value: float) -> Decimal:
    return Decimal(str(round(float(value), 2)))


def experiment_save_lift_study(experiment: Experiment, user=None) -> LiftStudy:
    """Save the experiment's readout as a LiftStudy of its tenant; the next curve fit is calibrated by it."""
    if experiment.status != Experiment.Status.READ_OUT or "lift_study" not in (experiment.readout or {}):
        raise DomainError("Read the experiment out before saving it as a lift study.", field="readout")
    if experiment.lift_study_id is not None:
        raise DomainError(
            f"This experiment is already saved as lift study #{experiment.lift_study_id}.", field="readout"
        )
    est = experiment.readout["lift_study"]
    with transaction.atomic():
        study = lift_study_create(
            tenant=experiment.tenant,
            retailer_code=est["retailer"],
            placement_type=est["placement_type"],
            start_date=dt.date.fromisoformat(est["start_date"]),
            end_date=dt.date.fromisoformat(est["end_date"]),
            spend=_money(est["spend"]),
            incremental_sales=_money(est["incremental_sales"]),
            incremental_sales_se=_money(est["incremental_sales_se"]),
            method=est["method"],
            source=LiftStudy.Source.IN_HOUSE,
            notes=f"Experiment #{experiment.pk} {experiment.name} ({experiment.get_kind_display()}).",
            user=user,
        )
        experiment.lift_study = study
        experiment.save(update_fields=["lift_study"])
    return study

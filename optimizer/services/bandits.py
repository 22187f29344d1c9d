"""Bandit policies: in-flight reallocation of a budget across the tenant's channels (engine: optimizer.engine.bandit).

A policy holds the engine's state (the posterior per channel, pacing and pending decisions) in
``BanditPolicy.state``. Each day ``bandit_update`` observes the performance facts that arrived and decides the next
allocation; every decision is logged with its propensities so candidate policies can be evaluated off-policy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

import pandas as pd
from django.db import IntegrityError, transaction
from django.db.models import Sum

from campaigns.models import PerformanceFact, Retailer
from core.bounds import date_limit_message, money_limit_message, seed_limit_message
from core.errors import DomainError
from governance.models import Tenant
from governance.services import audit_record
from optimizer.engine import bandit as engine
from optimizer.engine.errors import OptimizerInputError
from optimizer.models import AllocationPlan, BanditDecision, BanditPolicy
from optimizer.selectors import tenant_channels

CURVE_SAMPLES = 200
WEAK_PRIOR_SD = 0.7  # prior sd of log m when the history is too short for curves: within a factor of 2 at ~70%
WEAK_PRIOR_DECAY = 0.3
DEFAULT_MARGIN_RATE = 0.3


def _engine_error(exc: OptimizerInputError) -> DomainError:
    return DomainError(exc.message, field=exc.field)


def _split_key(key: str) -> tuple[str, str]:
    retailer, _, placement = key.partition("|")
    return retailer, placement


def _money(value, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise DomainError(f"{field} must be a number, got {value!r}.", field=field) from None
    if not amount.is_finite():
        raise DomainError(f"{field} must be a finite number, got {value!r}.", field=field)
    message = money_limit_message(amount)
    if message:
        raise DomainError(f"{field}: {message}", field=field)
    return amount


def _weak_arms(
    history: pd.DataFrame, skus: pd.DataFrame, keys: list[str], *, budget_daily: float, bounds: Mapping
) -> list[engine.Arm]:
    """Arms from the channels' mean daily spend and attributed sales when there is too little history for curves:
    a Hill curve of shape 1 at half saturation at the mean spend through the mean sales, a wide prior (sd
    ``WEAK_PRIOR_SD``) on its level and the placement's incrementality prior."""
    from optimizer.engine.curves import PLACEMENT_INCREMENTALITY_PRIORS

    margin = DEFAULT_MARGIN_RATE
    if not skus.empty and (skus["price"] > 0).all():
        margin = float(((skus["price"] - skus["unit_cost"]) / skus["price"]).clip(lower=0).mean())
    arms = []
    for key in keys:
        retailer, placement = _split_key(key)
        rows = history[(history["retailer"] == retailer) & (history["placement_type"] == placement)]
        daily = rows.groupby("date")[["spend", "attributed_sales"]].sum()
        daily = daily[daily["spend"] > 0]
        if daily.empty or daily["attributed_sales"].sum() <= 0:
            raise DomainError(
                f"{key} has no days with spend and attributed sales before the policy starts, so there is nothing "
                "to start its response curve from; leave it out or load its history.",
                field="channels",
            )
        x = float(daily["spend"].mean())
        y = float(daily["attributed_sales"].mean())
        inc_mean, inc_sd = PLACEMENT_INCREMENTALITY_PRIORS.get(placement, PLACEMENT_INCREMENTALITY_PRIORS["other"])
        lo, hi = bounds.get(key, (0.0, 1.5 * budget_daily))
        arms.append(
            engine.make_arm(
                key=key,
                beta=2 * y,
                half_saturation=x,
                shape=1.0,
                decay=WEAK_PRIOR_DECAY,
                incrementality_mean=inc_mean,
                incrementality_sd=inc_sd,
                margin_rate=margin,
                min_daily=lo,
                max_daily=hi,
                prior_sd=WEAK_PRIOR_SD,
            )
        )
    return arms


def policy_create(
    *,
    tenant: Tenant,
    name: str,
    budget,
    start_date: dt.date,
    end_date: dt.date,
    user=None,
    plan: AllocationPlan | None = None,
    channels: list[str] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    objective: str | None = None,
    levels: int = 10,
    seed: int = 0,
) -> BanditPolicy:
    """Start a policy that spends ``budget`` over start_date..end_date across ``channels`` ("retailer|placement")
    or the channels a succeeded allocation ``plan`` funds. ``bounds`` are daily (min, max) spend per channel.

    The prior is the tenant's fitted, calibrated response curves on the history before ``start_date``; when the
    history is too short to fit curves, a weak prior from each channel's mean spend and sales (the reason is kept in
    ``state["prior"]``)."""
    from optimizer.selectors import tenant_frames

    if seed_limit_message(seed):
        raise DomainError(f"seed {seed_limit_message(seed)}", field="seed")
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise DomainError("name must be 1 to 200 characters.", field="name")
    if BanditPolicy.objects.filter(tenant=tenant, name=name).exists():
        raise DomainError(f"{tenant.name} already has a bandit policy named {name!r}.", field="name")
    amount = _money(budget, "budget")
    if amount <= 0:
        raise DomainError(f"budget must be positive, got {amount}.", field="budget")
    for field, day in (("start_date", start_date), ("end_date", end_date)):
        if date_limit_message(day):
            raise DomainError(f"{field} {date_limit_message(day)}", field=field)
    if end_date < start_date:
        raise DomainError(f"end_date {end_date} is before start_date {start_date}.", field="end_date")
    if plan is not None:
        if plan.tenant_id != tenant.pk:
            raise DomainError("The allocation plan belongs to another tenant.", field="plan")
        if plan.status != AllocationPlan.Status.SUCCEEDED:
            raise DomainError(f"Allocation plan #{plan.pk} has not succeeded ({plan.status}).", field="plan")
        if channels is None:
            channels = [
                f"{a['retailer']}|{a['placement_type']}"
                for a in plan.result.get("allocations", [])
                if (a.get("spend") or 0) > 0
            ]
        objective = objective or plan.objective
    if not channels:
        raise DomainError("Give the channels to reallocate across, or a plan that funds some.", field="channels")
    objective = objective if objective in engine.OBJECTIVES else "incremental_margin"
    known = [f"{r}|{p}" for r, p in tenant_channels(tenant)]
    unknown = [k for k in channels if k not in known]
    if unknown:
        raise DomainError(
            f"Unknown channel{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; {tenant.name} has performance "
            f"history for {', '.join(known) or 'no channels'}.",
            field="channels",
        )
    days = (end_date - start_date).days + 1
    budget_daily = float(amount) / days
    bounds = {k: (float(lo), float(hi)) for k, (lo, hi) in (bounds or {}).items()}
    stray = [k for k in bounds if k not in channels]
    if stray:
        raise DomainError(f"Bounds for channels the policy does not use: {', '.join(stray)}.", field="bounds")

    try:
        history, skus, lift = tenant_frames(tenant)
    except OptimizerInputError as exc:  # mixed currencies or attribution windows: refused as for plans
        raise _engine_error(exc) from None
    history = history[history["date"] < pd.Timestamp(start_date)]
    currency = str(history["currency"].iloc[0]) if not history.empty else tenant.reporting_currency
    weekly = None
    try:
        from optimizer.engine.curves import calibrate, fit_curves

        wanted = {_split_key(k) for k in channels}
        subset = history[
            [(r, p) in wanted for r, p in zip(history["retailer"], history["placement_type"], strict=True)]
        ]
        studies = lift[[(r, p) in wanted for r, p in zip(lift["retailer"], lift["placement_type"], strict=True)]]
        curves = calibrate(fit_curves(subset, skus, samples=CURVE_SAMPLES, seed=seed), studies, seed=seed)
        arms = engine.arms_from_curves(curves, budget_daily=budget_daily, bounds=bounds, channels=channels)
        weekly = curves.demand_weekly
        prior = {"source": "curves", "history_days": int(subset["date"].nunique())}
    except OptimizerInputError as exc:
        arms = _weak_arms(history, skus, list(channels), budget_daily=budget_daily, bounds=bounds)
        prior = {"source": "weak", "reason": exc.message}
    try:
        state = engine.new_state(
            arms,
            budget=float(amount),
            start_date=start_date,
            end_date=end_date,
            objective=objective,
            demand_weekly=weekly,
            levels=levels,
            seed=seed,
        )
    except OptimizerInputError as exc:
        raise _engine_error(exc) from None
    with transaction.atomic():
        policy = BanditPolicy.objects.create(
            tenant=tenant,
            name=name,
            plan=plan,
            currency=currency,
            budget=amount,
            start_date=start_date,
            end_date=end_date,
            state={**state.to_dict(), "prior": prior},
        )
        audit_record(
            action="bandit_policy.create",
            tenant=tenant,
            user=user,
            obj=policy,
            detail={"budget": str(amount), "channels": list(channels), "prior": prior["source"]},
        )
    return policy


def _state(policy: BanditPolicy) -> engine.BanditState:
    data = {k: v for k, v in policy.state.items() if k != "prior"}
    return engine.BanditState.from_dict(data)


def _save_state(policy: BanditPolicy, state: engine.BanditState) -> None:
    policy.state = {**state.to_dict(), "prior": policy.state.get("prior", {})}


def _channel_days(policy: BanditPolicy, keys: tuple[str, ...], date_from: dt.date) -> pd.DataFrame:
    """Daily spend and attributed sales per channel from ``date_from`` to the policy's end, one attribution window
    per channel (the retailer's default where reported, else the shortest), so a retailer reporting several
    windows is not counted twice."""
    pairs = [_split_key(k) for k in keys]
    defaults = dict(
        Retailer.objects.filter(code__in={r for r, _ in pairs}).values_list("code", "default_attribution_window_days")
    )
    rows = (
        PerformanceFact.objects.filter(
            tenant=policy.tenant,
            date__gte=date_from,
            date__lte=policy.end_date,
            retailer__code__in={r for r, _ in pairs},
            placement_type__in={p for _, p in pairs},
        )
        .values("date", "retailer__code", "placement_type", "attribution_window_days")
        .annotate(spend=Sum("spend"), sales=Sum("attributed_sales"))
        .order_by()
    )
    frame = pd.DataFrame.from_records(
        list(rows), columns=["date", "retailer__code", "placement_type", "attribution_window_days", "spend", "sales"]
    )
    if frame.empty:
        return frame.assign(key=[])
    frame["key"] = frame["retailer__code"] + "|" + frame["placement_type"]
    frame = frame[frame["key"].isin(keys)]
    keep = []
    for key, part in frame.groupby("key"):
        windows = set(part["attribution_window_days"])
        default = defaults.get(_split_key(key)[0])
        window = default if default in windows else min(windows)
        keep.append(part[part["attribution_window_days"] == window])
    frame = pd.concat(keep) if keep else frame.iloc[:0]
    frame["spend"] = frame["spend"].astype(float)
    frame["sales"] = frame["sales"].astype(float)
    return frame


def policy_observe(policy: BanditPolicy) -> int:
    """Feed the performance facts after ``last_observed_date`` into the posterior, up to the last day every
    channel that reported has reported (a late channel holds the others back rather than count as dark), and write
    each observed day's rewards onto its decision. Returns the number of days observed; running it again with no
    new facts changes nothing."""
    with transaction.atomic():
        policy = BanditPolicy.objects.select_for_update().select_related("tenant").get(pk=policy.pk)
        state = _state(policy)
        last = policy.last_observed_date
        start = policy.start_date if last is None else max(last + dt.timedelta(days=1), policy.start_date)
        frame = _channel_days(policy, state.keys, start)
        if frame.empty:
            return 0
        through = frame.groupby("key")["date"].max().min()
        frame = frame[frame["date"] <= through]
        observations = [
            engine.Observation(row.date, row.key, row.spend, row.sales) for row in frame.itertuples(index=False)
        ]
        try:
            new = engine.update(state, observations)
        except OptimizerInputError as exc:
            raise _engine_error(exc) from None
        values = engine.mean_values(state) / [a.multiplier_mean for a in state.arms]  # incrementality × margin
        per_unit = dict(zip(state.keys, values, strict=True))
        by_day: dict[dt.date, dict] = {}
        for o in observations:
            by_day.setdefault(o.date, {})[o.key] = {
                "spend": o.spend,
                "attributed_sales": o.attributed_sales,
                "reward": o.attributed_sales * float(per_unit[o.key]),
            }
        for decision in BanditDecision.objects.filter(policy=policy, date__in=list(by_day)):
            outcome = by_day[decision.date]
            decision.reward = {
                k: outcome.get(k, {"spend": 0.0, "attributed_sales": 0.0, "reward": 0.0}) for k in state.keys
            }
            decision.save(update_fields=["reward"])
        _save_state(policy, new)
        policy.spent += Decimal(str(round(sum(o.spend for o in observations), 2)))
        policy.last_observed_date = new.last_observed
        if new.last_observed and new.last_observed >= policy.end_date:
            policy.status = BanditPolicy.Status.FINISHED
        policy.save(update_fields=["state", "spent", "last_observed_date", "status", "updated_at"])
        return len(by_day)


def policy_decide(policy: BanditPolicy, date: dt.date) -> BanditDecision:
    """The allocation for ``date``: a new Thompson-sampling decision logged with its propensities, or the one
    already logged for that day (deciding a day twice returns the first decision and changes nothing)."""
    existing = BanditDecision.objects.filter(policy=policy, date=date).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            policy = BanditPolicy.objects.select_for_update().get(pk=policy.pk)
            existing = BanditDecision.objects.filter(policy=policy, date=date).first()
            if existing is not None:
                return existing
            if policy.status != BanditPolicy.Status.ACTIVE:
                raise DomainError(f"Policy {policy.name!r} is {policy.status}; it makes no new decisions.")
            try:
                state, decision = engine.decide(_state(policy), date)
            except OptimizerInputError as exc:
                raise _engine_error(exc) from None
            context = {
                **decision.context,
                "levels": decision.levels,
                "level_probabilities": decision.level_probabilities,
            }
            logged = BanditDecision.objects.create(
                policy=policy,
                date=date,
                allocation=decision.allocation,
                propensities=decision.propensities,
                context=context,
            )
            _save_state(policy, state)
            policy.save(update_fields=["state", "updated_at"])
            return logged
    except IntegrityError:  # a concurrent decide for the same day won the unique (policy, date)
        return BanditDecision.objects.get(policy=policy, date=date)


def policy_evaluate(policy: BanditPolicy, candidate: Mapping[str, float], *, epsilon: float = 0.1) -> dict:
    """Off-policy estimates (IPS, SNIPS, doubly robust) of a fixed daily allocation ``candidate`` (channel key ->
    daily spend) on the policy's logged decisions whose outcome is known. The candidate takes its own spend level
    with probability 1 - epsilon and spreads epsilon over all levels (a deterministic candidate is only seen on days
    the bandit happened to choose the same levels). Values are mean daily incremental margin (or revenue) summed
    over the channels, estimated as attributed sales × the posterior incrementality (× margin rate)."""
    state = _state(policy)
    decisions = list(BanditDecision.objects.filter(policy=policy, reward__isnull=False).order_by("date"))
    log = [
        engine.LoggedDay(
            date=d.date,
            levels={k: int(v) for k, v in d.context["levels"].items()},
            propensities=d.propensities,
            rewards={k: float(d.reward[k]["reward"]) for k in state.keys},
        )
        for d in decisions
    ]
    try:
        spend = {k: float(_money(v, f"candidate[{k!r}]")) for k, v in candidate.items()}
        probs = engine.fixed_allocation_probabilities(state, spend, len(log), epsilon=epsilon)
        estimates = engine.evaluate_log(state, log, probs)
    except OptimizerInputError as exc:
        raise _engine_error(exc) from None
    logged = sum(sum(day.rewards.values()) for day in log) / len(log)
    return {
        "days": len(log),
        "logged_value": logged,
        "candidate": spend,
        "epsilon": epsilon,
        "estimates": {m: e.to_dict() for m, e in estimates.items()},
    }

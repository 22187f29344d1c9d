"""A simulated advertiser with a known truth that writes the optimizer's files and scores any allocation.

``build_scenario`` draws a world (demo.engine.simulator), simulates its history and a few lift studies;
``write_files`` writes them as H.csv, S.csv and L.csv exactly per the file contract; ``score`` says what an
allocation really earns over the next ``P`` days (the simulator's noise-free expected outcome); ``oracle`` runs the
same allocator on the true curves, the best any optimizer could do under the same constraints.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from demo.engine.simulator import (
    ChannelPlan,
    History,
    LiftStudyResult,
    SKUSpec,
    World,
    build_world,
    expected_outcome,
    period_dates,
    plan_spend,
    simulate,
    simulate_lift_study,
)
from optimizer.engine.allocate import AllocationRequest, AllocationResult, allocate
from optimizer.engine.files import HISTORY_COLUMNS, LIFT_COLUMNS, SKU_COLUMNS

DEFAULT_START = dt.date(2025, 1, 6)
DEFAULT_CHANNELS = (
    ChannelPlan("amazon", "sponsored_product", 900.0, ("Crunchy Hollow", "Morning Mill")),
    ChannelPlan("walmart", "search", 500.0, ("Crunchy Hollow",)),
    ChannelPlan("walmart", "onsite_display", 350.0, ("Crunchy Hollow", "Morning Mill")),
    ChannelPlan("criteo", "offsite_display", 400.0, ("Morning Mill",)),
    ChannelPlan("target", "ctv", 600.0, ("Crunchy Hollow", "Morning Mill")),
    ChannelPlan("instacart", "sponsored_product", 300.0, ("Morning Mill",)),
)
DEFAULT_SKUS = (
    SKUSpec("CH-001", "Crunchy Hollow", 4.49, 2.60),
    SKUSpec("CH-002", "Crunchy Hollow", 5.99, 3.10),
    SKUSpec("CH-003", "Crunchy Hollow", 3.29, 2.20),
    SKUSpec("MM-001", "Morning Mill", 6.49, 3.40),
    SKUSpec("MM-002", "Morning Mill", 4.99, 2.90),
)
CATEGORIES = {"Crunchy Hollow": "Snacks", "Morning Mill": "Cereal"}
ATTRIBUTION_WINDOW_DAYS = {"amazon": 14, "walmart": 14, "criteo": 30, "target": 14, "instacart": 7}


def channel_key(retailer: str, placement_type: str) -> str:
    return f"{retailer}|{placement_type}"


def _sim_key(key: str) -> str:
    return key.replace("|", ":", 1)


@dataclass(frozen=True)
class Scenario:
    world: World
    history: History
    lift_studies: tuple[LiftStudyResult, ...]

    @property
    def next_start(self) -> dt.date:
        """First day of the period being planned (the day after the history)."""
        return self.history.dates[-1] + dt.timedelta(days=1)

    @property
    def keys(self) -> list[str]:
        return [channel_key(c.retailer, c.placement_type) for c in self.world.channels]

    def hist_daily_spend(self, days: int) -> dict[str, float]:
        """Mean daily spend of each channel over the last ``days`` days of history ("last period's mix")."""
        return {k: float(self.history.spend[i, -days:].mean()) for i, k in enumerate(self.keys)}

    def hist_attributed_roas(self) -> dict[str, float]:
        spend = self.history.spend.sum(axis=1)
        sales = self.history.attributed_sales.sum(axis=1)
        return {k: float(sales[i] / spend[i]) if spend[i] > 0 else 0.0 for i, k in enumerate(self.keys)}


def build_scenario(
    seed: int,
    *,
    days: int = 180,
    start: dt.date = DEFAULT_START,
    channel_plans: Sequence[ChannelPlan] = DEFAULT_CHANNELS,
    skus: Sequence[SKUSpec] = DEFAULT_SKUS,
    lift_channels: int = 3,
    lift_days: int = 28,
    mix_spread: float = 1.0,
) -> Scenario:
    """A world, ``days`` of history from ``start`` and one lift study for each of ``lift_channels`` channels
    (chosen by the seed; a randomized holdout over ``lift_days`` days ending two weeks before the history does).

    ``mix_spread`` > 1 scales each channel's historical spend by a factor drawn log-uniformly from
    [1/mix_spread, mix_spread]: an advertiser whose past mix is off the optimum (the world's curves are built so
    that the plan itself is a reasonable mix)."""
    world = build_world(seed=seed, channel_plans=channel_plans, skus=skus, reference_date=start)
    factors = np.ones(len(world.channels))
    if mix_spread > 1:
        mrng = np.random.default_rng(np.random.SeedSequence([int(seed), 78]))
        factors = np.exp(mrng.uniform(-np.log(mix_spread), np.log(mix_spread), len(world.channels)))
    spend = np.round(plan_spend(world, days=days, seed=seed) * factors[:, None], 2)
    initial = [c.plan_daily_spend * f for c, f in zip(world.channels, factors, strict=True)]
    history = simulate(world, start=start, days=days, seed=seed, spend=spend, initial_adstock=initial)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 77]))
    n = min(lift_channels, len(world.channels))
    chosen = sorted(rng.choice(len(world.channels), size=n, replace=False)) if n else []
    lift_days = min(lift_days, days)
    lift_start = start + dt.timedelta(days=max(days - lift_days - 14, 0))
    studies = tuple(
        simulate_lift_study(
            world, history, channel_key=world.channels[c].key, start=lift_start, days=lift_days, seed=seed
        )
        for c in chosen
    )
    return Scenario(world=world, history=history, lift_studies=studies)


def history_frame(scenario: Scenario) -> pd.DataFrame:
    world, history = scenario.world, scenario.history
    dates = [d.isoformat() for d in history.dates]
    parts = []
    for line in history.lines:
        channel = world.channels[line.channel]
        camp = channel.campaigns[line.campaign]
        brand = camp.brand.lower().replace(" ", "-")
        parts.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "retailer": channel.retailer,
                    "placement_type": channel.placement_type,
                    "campaign_id": f"{channel.retailer}-{channel.placement_type}-{brand}",
                    "sku_id": line.sku_code or "",
                    "impressions": np.round(line.impressions).astype(int),
                    "clicks": np.round(line.clicks).astype(int),
                    "spend": np.round(line.spend, 2),
                    "attributed_sales": np.round(line.attributed_sales, 2),
                    "attributed_units": np.round(line.attributed_units).astype(int),
                    "attribution_window_days": ATTRIBUTION_WINDOW_DAYS.get(channel.retailer, 14),
                    "currency": world.currency,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)[list(HISTORY_COLUMNS)]
    return frame.sort_values(["date", "retailer", "placement_type", "campaign_id", "sku_id"], kind="stable")


def skus_frame(scenario: Scenario) -> pd.DataFrame:
    rows = [
        {
            "sku_id": s.code,
            "brand": s.brand,
            "category": CATEGORIES.get(s.brand, "Grocery"),
            "product_name": f"{s.brand} {s.code}",
            "price": s.price,
            "unit_cost": s.unit_cost,
        }
        for s in scenario.world.skus
    ]
    return pd.DataFrame(rows, columns=list(SKU_COLUMNS))


def lift_frame(scenario: Scenario) -> pd.DataFrame:
    rows = [
        {
            "retailer": s.retailer,
            "placement_type": s.placement_type,
            "start_date": s.start.isoformat(),
            "end_date": s.end.isoformat(),
            "spend": round(s.spend, 2),
            "incremental_sales": round(s.estimate, 2),
            "incremental_sales_se": round(s.standard_error, 2),
        }
        for s in scenario.lift_studies
    ]
    return pd.DataFrame(rows, columns=list(LIFT_COLUMNS))


def write_files(scenario: Scenario, directory: str | Path) -> dict[str, Path]:
    """Write H.csv, S.csv and L.csv into ``directory``; returns their paths by name."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"history": directory / "H.csv", "skus": directory / "S.csv", "lift_studies": directory / "L.csv"}
    history_frame(scenario).to_csv(paths["history"], index=False)
    skus_frame(scenario).to_csv(paths["skus"], index=False)
    lift_frame(scenario).to_csv(paths["lift_studies"], index=False)
    return paths


@dataclass(frozen=True)
class Score:
    """What an allocation truly earns over the period (expected value under the true curves)."""

    spend: float
    incremental_sales: float
    incremental_margin: float
    attributed_sales: float

    @property
    def attributed_roas(self) -> float | None:
        return self.attributed_sales / self.spend if self.spend > 0 else None

    @property
    def incremental_roas(self) -> float | None:
        return self.incremental_sales / self.spend if self.spend > 0 else None

    @property
    def incremental_profit(self) -> float:
        return self.incremental_margin - self.spend


def score(world: World, daily_spend: Mapping[str, float], *, start: dt.date, days: int) -> Score:
    """True outcome of holding ``daily_spend[retailer|placement_type]`` for ``days`` days from ``start``."""
    outcome = expected_outcome(
        world, daily_spend={_sim_key(k): float(v) for k, v in daily_spend.items()}, start=start, days=days
    )
    return Score(
        spend=outcome.spend,
        incremental_sales=outcome.incremental_sales,
        incremental_margin=outcome.incremental_margin,
        attributed_sales=sum(c.attributed_sales for c in outcome.channels),
    )


def true_curves(world: World, *, start: dt.date, days: int, hist_daily_spend: Mapping[str, float] | None = None):
    """A one-sample CurveSet holding the world's true curves for the ``days`` days from ``start``.

    The true demand over the period is folded into each ceiling (``beta · F_true / days``) and the set's own demand
    is flat, so ``period_factor(days) · curve`` equals the simulator's expected period sales exactly."""
    from optimizer.engine.curves import ChannelCurve, CurveSet

    demand = float(world.seasonality.factor(period_dates(start, days)).sum())
    hist = hist_daily_spend or {}
    channels = []
    for c, ch in enumerate(world.channels):
        key = channel_key(ch.retailer, ch.placement_type)
        channels.append(
            ChannelCurve(
                retailer=ch.retailer,
                placement_type=ch.placement_type,
                beta=np.array([ch.curve.beta / ch.incrementality * demand / days]),
                half_saturation=np.array([ch.curve.half_saturation]),
                shape=np.array([ch.curve.shape]),
                decay=np.array([ch.adstock_decay]),
                incrementality=np.array([ch.incrementality]),
                margin_rate=world.channel_margin_rate(c),
                hist_daily_spend=float(hist.get(key, ch.plan_daily_spend)),
                hist_max_daily_spend=float(2 * ch.plan_daily_spend),
                calibrated=True,
            )
        )
    return CurveSet(
        channels=tuple(channels),
        currency=world.currency,
        demand_weekly=(1.0,) * 7,
        trend_per_day=0.0,
        last_date=start - dt.timedelta(days=1),
        diagnostics={"truth": True},
    )


def oracle(world: World, request: AllocationRequest, *, start: dt.date) -> AllocationResult:
    """The allocator on the true curves under the request's constraints (a chance constraint is moot: one sample)."""
    truth = true_curves(world, start=start, days=request.period_days)
    return allocate(truth, dataclasses.replace(request, chance=None))

"""Retail media simulator with a known truth (equations and parameters: docs/demo_simulator.md).

A *channel* is one retailer × placement type. Each day its spend is carried over by a geometric adstock, turned into
true incremental sales by a Hill curve, scaled by day-of-week and seasonal demand and by multiplicative noise. The
retailer reports *attributed* sales, which overstate incremental sales by ``1 / incrementality``: sponsored products
on the retailer's own search claim many purchases that would have happened anyway, offsite display and CTV far fewer.

Plain Python and numpy, no Django: the demo seed and optimizer benchmarks both drive it. Every random draw comes
from a stream keyed by (seed, purpose, index), so a seed reproduces the same data, and the same truth can be scored
against any allocation with :func:`expected_outcome`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

SIMULATOR_VERSION = "1.0"
SKU_LEVEL_PLACEMENTS = frozenset({"sponsored_product"})
# Relative standard error of a 28-day lift study by method, as a multiple of the channel's own ``lift_cv``.
LIFT_METHOD_PRECISION = {
    "rct_holdout": 1.0,
    "ghost_ads": 0.8,
    "geo_matched_markets": 1.6,
    "synthetic_control": 1.4,
}
LIFT_REFERENCE_DAYS = 28
_STREAMS = {"world": 1, "spend": 2, "sales": 3, "mix": 4, "delivery": 5, "lift": 6}


def _rng(seed: int, stream: str, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), _STREAMS[stream], *map(int, keys)]))


def _mean_one_lognormal(rng: np.random.Generator, sigma: float, size: int | tuple[int, ...]) -> np.ndarray:
    # exp(N(-σ²/2, σ²)) has mean exactly 1, so noise never biases the truth.
    return np.exp(rng.normal(-0.5 * sigma * sigma, sigma, size))


def geometric_adstock(spend: np.ndarray, decay: float, *, initial: float = 0.0) -> np.ndarray:
    """Normalized geometric adstock ``A_t = decay·A_{t-1} + (1 - decay)·x_t``.

    Normalized so that a constant spend ``x`` has steady state ``A = x``; ``initial`` is ``A_{-1}``.
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"adstock decay must be in [0, 1), got {decay}.")
    out = np.empty(len(spend), dtype=float)
    level = float(initial)
    keep = 1.0 - decay
    for t, x in enumerate(np.asarray(spend, dtype=float)):
        level = decay * level + keep * x
        out[t] = level
    return out


@dataclass(frozen=True)
class HillCurve:
    """Daily incremental sales ``beta · x^shape / (x^shape + half_saturation^shape)`` of adstocked spend ``x``.

    ``shape <= 1`` keeps the curve concave everywhere, which the optimizer relies on.
    """

    beta: float
    half_saturation: float
    shape: float

    def __post_init__(self) -> None:
        if self.beta < 0 or self.half_saturation <= 0:
            raise ValueError(f"Hill curve needs beta >= 0 and half_saturation > 0, got {self}.")
        if not 0 < self.shape <= 1:
            raise ValueError(f"Hill shape must be in (0, 1] so the curve is concave, got {self.shape}.")

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        x = np.maximum(np.asarray(x, dtype=float), 0.0)
        xs = x**self.shape
        return self.beta * xs / (xs + self.half_saturation**self.shape)

    def derivative(self, x: np.ndarray | float) -> np.ndarray:
        x = np.maximum(np.asarray(x, dtype=float), 1e-12)
        s, ks = self.shape, self.half_saturation**self.shape
        return self.beta * s * ks * x ** (s - 1) / (x**s + ks) ** 2


@dataclass(frozen=True)
class SKUSpec:
    code: str
    brand: str
    price: float
    unit_cost: float

    @property
    def margin_rate(self) -> float:
        return (self.price - self.unit_cost) / self.price


@dataclass(frozen=True)
class CampaignSpec:
    """One brand's campaign inside a channel: a fixed share of the channel's spend and of its sales."""

    brand: str
    spend_share: float
    sku_codes: tuple[str, ...]
    sku_weights: tuple[float, ...]


@dataclass(frozen=True)
class ChannelSpec:
    retailer: str
    placement_type: str
    plan_daily_spend: float
    adstock_decay: float
    curve: HillCurve
    incrementality: float  # true incremental sales / attributed sales
    cpm: float
    ctr: float
    sales_noise: float
    attribution_noise: float
    lift_cv: float  # relative standard error of a 28-day randomized holdout
    flight_dark_probability: float
    campaigns: tuple[CampaignSpec, ...]

    @property
    def key(self) -> str:
        return f"{self.retailer}:{self.placement_type}"

    @property
    def sku_level(self) -> bool:
        return self.placement_type in SKU_LEVEL_PLACEMENTS


@dataclass(frozen=True)
class Seasonality:
    """Demand multiplier: ``weekly[weekday] · (1 + amplitude·cos(2π(doy - peak)/365.25)) · (1 + trend·years)``."""

    weekly: tuple[float, ...]  # Monday .. Sunday, mean 1
    annual_amplitude: float
    peak_day_of_year: int
    trend_per_year: float
    reference_date: dt.date

    def factor(self, dates: Sequence[dt.date]) -> np.ndarray:
        weekly = np.array([self.weekly[d.weekday()] for d in dates])
        doy = np.array([d.timetuple().tm_yday for d in dates], dtype=float)
        annual = 1.0 + self.annual_amplitude * np.cos(2 * math.pi * (doy - self.peak_day_of_year) / 365.25)
        years = np.array([(d - self.reference_date).days for d in dates], dtype=float) / 365.25
        return weekly * annual * np.maximum(1.0 + self.trend_per_year * years, 0.0)


@dataclass(frozen=True)
class World:
    """Everything that determines the data: enough to regenerate it and to score any decision."""

    seed: int
    currency: str
    seasonality: Seasonality
    skus: tuple[SKUSpec, ...]
    channels: tuple[ChannelSpec, ...]

    def sku(self, code: str) -> SKUSpec:
        for sku in self.skus:
            if sku.code == code:
                return sku
        raise KeyError(f"Unknown SKU {code!r}.")

    def channel_index(self, key: str) -> int:
        for i, channel in enumerate(self.channels):
            if channel.key == key:
                return i
        raise KeyError(f"Unknown channel {key!r}; known: {', '.join(c.key for c in self.channels)}.")

    def channel_margin_rate(self, index: int) -> float:
        """Gross margin per currency unit of the channel's incremental sales (its expected SKU mix)."""
        channel = self.channels[index]
        return sum(
            camp.spend_share
            * sum(w * self.sku(code).margin_rate for code, w in zip(camp.sku_codes, camp.sku_weights, strict=True))
            for camp in channel.campaigns
        )

    def to_dict(self) -> dict:
        data = asdict(self)
        data["seasonality"]["reference_date"] = self.seasonality.reference_date.isoformat()
        for channel in data["channels"]:
            channel["key"] = f"{channel['retailer']}:{channel['placement_type']}"
            channel["margin_rate"] = self.channel_margin_rate(self.channel_index(channel["key"]))
        for sku in data["skus"]:
            sku["margin_rate"] = self.sku(sku["code"]).margin_rate
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> World:
        season = dict(data["seasonality"])
        season["weekly"] = tuple(season["weekly"])
        season["reference_date"] = dt.date.fromisoformat(season["reference_date"])
        skus = tuple(SKUSpec(**{k: s[k] for k in ("code", "brand", "price", "unit_cost")}) for s in data["skus"])
        channels = []
        for c in data["channels"]:
            fields = {k: v for k, v in c.items() if k not in ("key", "margin_rate", "curve", "campaigns")}
            campaigns = tuple(
                CampaignSpec(
                    brand=k["brand"],
                    spend_share=k["spend_share"],
                    sku_codes=tuple(k["sku_codes"]),
                    sku_weights=tuple(k["sku_weights"]),
                )
                for k in c["campaigns"]
            )
            channels.append(ChannelSpec(**fields, curve=HillCurve(**c["curve"]), campaigns=campaigns))
        return cls(
            seed=data["seed"],
            currency=data["currency"],
            seasonality=Seasonality(**season),
            skus=skus,
            channels=tuple(channels),
        )


# --- Building a world from documented priors --------------------------------------------------------------------


@dataclass(frozen=True)
class PlacementPrior:
    """Uniform ranges the world's parameters are drawn from (docs/demo_simulator.md explains each)."""

    incrementality: tuple[float, float]
    adstock_decay: tuple[float, float]
    shape: tuple[float, float]
    attributed_roas_at_plan: tuple[float, float]
    saturation_vs_plan: tuple[float, float]  # half_saturation / plan_daily_spend
    cpm: tuple[float, float]
    ctr: tuple[float, float]
    lift_cv: tuple[float, float]
    sales_noise: float
    flight_dark_probability: float


PLACEMENT_PRIORS: dict[str, PlacementPrior] = {
    "sponsored_product": PlacementPrior(
        (0.30, 0.45), (0.05, 0.25), (0.75, 1.0), (5.0, 8.0), (0.8, 1.6), (6, 12), (0.003, 0.006), (0.12, 0.2), 0.10, 0.0
    ),
    "search": PlacementPrior(
        (0.40, 0.55),
        (0.15, 0.35),
        (0.70, 0.95),
        (4.0, 6.0),
        (1.0, 2.0),
        (8, 15),
        (0.002, 0.004),
        (0.15, 0.25),
        0.12,
        0.0,
    ),
    "onsite_display": PlacementPrior(
        (0.50, 0.70),
        (0.30, 0.50),
        (0.60, 0.90),
        (3.0, 5.0),
        (1.2, 2.5),
        (7, 14),
        (0.0015, 0.003),
        (0.2, 0.3),
        0.14,
        0.05,
    ),
    "offsite_display": PlacementPrior(
        (0.70, 0.85),
        (0.40, 0.60),
        (0.60, 0.90),
        (2.5, 4.0),
        (1.5, 3.0),
        (3, 8),
        (0.0008, 0.0015),
        (0.2, 0.3),
        0.15,
        0.1,
    ),
    "ctv": PlacementPrior(
        (0.75, 0.90),
        (0.60, 0.80),
        (0.60, 0.85),
        (1.5, 3.0),
        (2.0, 4.0),
        (25, 45),
        (1e-4, 4e-4),
        (0.25, 0.35),
        0.18,
        0.15,
    ),
}
PLACEMENT_PRIORS["audio"] = PLACEMENT_PRIORS["ctv"]
PLACEMENT_PRIORS["other"] = PLACEMENT_PRIORS["onsite_display"]
_RETAIL_WEEK = (0.93, 0.91, 0.93, 0.97, 1.04, 1.12, 1.10)


@dataclass(frozen=True)
class ChannelPlan:
    """What the caller decides: where the brand advertises, for which brands, at what planned daily spend."""

    retailer: str
    placement_type: str
    plan_daily_spend: float
    brands: tuple[str, ...]


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def build_world(
    *,
    seed: int,
    channel_plans: Sequence[ChannelPlan],
    skus: Sequence[SKUSpec],
    reference_date: dt.date,
    currency: str = "USD",
    peak_day_of_year: int | None = None,
) -> World:
    """Draw every channel's truth from :data:`PLACEMENT_PRIORS`; the same arguments always give the same world."""
    rng = _rng(seed, "world", 0)
    weekly = np.array(_RETAIL_WEEK) * _mean_one_lognormal(rng, 0.02, 7)
    season = Seasonality(
        weekly=tuple(float(w) for w in weekly / weekly.mean()),
        annual_amplitude=_uniform(rng, (0.06, 0.15)),
        peak_day_of_year=int(rng.integers(1, 366)) if peak_day_of_year is None else peak_day_of_year,
        trend_per_year=_uniform(rng, (0.02, 0.12)),
        reference_date=reference_date,
    )
    by_brand: dict[str, list[SKUSpec]] = {}
    for sku in skus:
        by_brand.setdefault(sku.brand, []).append(sku)
    # One mix per brand, shared by every channel, so a brand's best sellers are the same everywhere.
    brand_weights = {b: rng.dirichlet(np.full(len(items), 2.0)) for b, items in sorted(by_brand.items())}
    channels = []
    seen = set()
    for i, plan in enumerate(channel_plans):
        if plan.placement_type not in PLACEMENT_PRIORS:
            raise ValueError(f"Channel {i}: unknown placement type {plan.placement_type!r}.")
        if (plan.retailer, plan.placement_type) in seen:
            raise ValueError(f"Channel {i}: {plan.retailer}:{plan.placement_type} is listed twice.")
        seen.add((plan.retailer, plan.placement_type))
        if plan.plan_daily_spend <= 0:
            raise ValueError(f"Channel {i}: plan_daily_spend must be positive, got {plan.plan_daily_spend}.")
        missing = [b for b in plan.brands if b not in by_brand]
        if not plan.brands or missing:
            raise ValueError(f"Channel {i}: brands {missing or '(none)'} have no SKUs.")
        prior = PLACEMENT_PRIORS[plan.placement_type]
        crng = _rng(seed, "world", i + 1)
        incrementality = _uniform(crng, prior.incrementality)
        shape = _uniform(crng, prior.shape)
        half_saturation = plan.plan_daily_spend * _uniform(crng, prior.saturation_vs_plan)
        roas = _uniform(crng, prior.attributed_roas_at_plan)
        x = plan.plan_daily_spend
        # beta is set so that the steady-state attributed ROAS at the plan equals the drawn one.
        beta = roas * incrementality * x * (x**shape + half_saturation**shape) / x**shape
        shares = crng.dirichlet(np.full(len(plan.brands), 4.0)) if len(plan.brands) > 1 else np.ones(1)
        campaigns = tuple(
            CampaignSpec(
                brand=brand,
                spend_share=float(share),
                sku_codes=tuple(s.code for s in by_brand[brand]),
                sku_weights=tuple(float(w) for w in brand_weights[brand]),
            )
            for brand, share in zip(plan.brands, shares, strict=True)
        )
        channels.append(
            ChannelSpec(
                retailer=plan.retailer,
                placement_type=plan.placement_type,
                plan_daily_spend=float(x),
                adstock_decay=_uniform(crng, prior.adstock_decay),
                curve=HillCurve(beta=float(beta), half_saturation=float(half_saturation), shape=shape),
                incrementality=incrementality,
                cpm=_uniform(crng, prior.cpm),
                ctr=_uniform(crng, prior.ctr),
                sales_noise=prior.sales_noise,
                attribution_noise=0.05,
                lift_cv=_uniform(crng, prior.lift_cv),
                flight_dark_probability=prior.flight_dark_probability,
                campaigns=campaigns,
            )
        )
    return World(seed=seed, currency=currency, seasonality=season, skus=tuple(skus), channels=tuple(channels))


# --- Simulating history -----------------------------------------------------------------------------------------


def period_dates(start: dt.date, days: int) -> list[dt.date]:
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}.")
    return [start + dt.timedelta(days=i) for i in range(days)]


def plan_spend(world: World, *, days: int, seed: int) -> np.ndarray:
    """Daily spend (channels × days): flights of 7-21 days at 0.35-2× the plan, some dark, ±12% daily jitter.

    The wide spread of spend levels is what makes each channel's curve identifiable from history.
    """
    out = np.zeros((len(world.channels), days))
    for c, channel in enumerate(world.channels):
        rng = _rng(seed, "spend", c)
        level = np.empty(days)
        t = 0
        while t < days:
            length = int(rng.integers(7, 22))
            multiple = math.exp(rng.uniform(math.log(0.35), math.log(2.0)))
            if rng.random() < channel.flight_dark_probability:
                multiple = 0.0
            level[t : t + length] = multiple
            t += length
        spend = channel.plan_daily_spend * level * _mean_one_lognormal(rng, 0.12, days)
        out[c] = np.round(spend, 2)
    return out


@dataclass
class ReportLine:
    """One reported series: a SKU of a campaign (sponsored products) or a whole campaign (``sku_code=None``)."""

    channel: int
    campaign: int
    sku_code: str | None
    spend: np.ndarray
    impressions: np.ndarray
    clicks: np.ndarray
    attributed_sales: np.ndarray
    attributed_units: np.ndarray
    incremental_sales: np.ndarray
    incremental_margin: np.ndarray


@dataclass
class History:
    start: dt.date
    days: int
    seed: int
    dates: list[dt.date]
    spend: np.ndarray  # channels × days
    adstock: np.ndarray
    incremental_sales: np.ndarray  # the truth, noise included
    attributed_sales: np.ndarray  # what the retailer reports (sum of the lines)
    lines: list[ReportLine]

    def channel_totals(self, world: World) -> dict[str, dict[str, float]]:
        totals = {}
        for c, channel in enumerate(world.channels):
            lines = [line for line in self.lines if line.channel == c]
            totals[channel.key] = {
                "spend": float(self.spend[c].sum()),
                "incremental_sales": float(self.incremental_sales[c].sum()),
                "incremental_margin": float(sum(line.incremental_margin.sum() for line in lines)),
                "attributed_sales": float(self.attributed_sales[c].sum()),
            }
        return totals


def simulate(
    world: World,
    *,
    start: dt.date,
    days: int,
    seed: int,
    spend: np.ndarray | None = None,
    noise: bool = True,
    initial_adstock: Sequence[float] | None = None,
) -> History:
    """Simulate daily data. ``spend`` (channels × days) defaults to :func:`plan_spend`; with ``noise=False``
    every random draw is replaced by its expectation. The adstock starts at the steady state of the plan unless
    ``initial_adstock`` says otherwise."""
    dates = period_dates(start, days)
    n_channels = len(world.channels)
    spend = plan_spend(world, days=days, seed=seed) if spend is None else np.asarray(spend, dtype=float)
    if spend.shape != (n_channels, days):
        raise ValueError(f"spend must have shape {(n_channels, days)} (channels × days), got {spend.shape}.")
    if (spend < 0).any():
        raise ValueError("spend must not be negative.")
    if initial_adstock is None:
        initial_adstock = [ch.plan_daily_spend for ch in world.channels]
    demand = world.seasonality.factor(dates)
    adstock = np.zeros_like(spend)
    incremental = np.zeros_like(spend)
    attributed = np.zeros_like(spend)
    lines: list[ReportLine] = []
    for c, channel in enumerate(world.channels):
        adstock[c] = geometric_adstock(spend[c], channel.adstock_decay, initial=initial_adstock[c])
        rng = _rng(seed, "sales", c)
        inc = channel.curve(adstock[c]) * demand
        claimed = inc / channel.incrementality
        if noise:
            inc = inc * _mean_one_lognormal(rng, channel.sales_noise, days)
            claimed = inc / channel.incrementality * _mean_one_lognormal(rng, channel.attribution_noise, days)
        incremental[c] = inc
        for k, camp in enumerate(channel.campaigns):
            lines.extend(_campaign_lines(world, c, k, camp, spend[c], inc, claimed, seed=seed, noise=noise))
        attributed[c] = sum(line.attributed_sales for line in lines if line.channel == c)
    return History(
        start=start,
        days=days,
        seed=seed,
        dates=dates,
        spend=spend,
        adstock=adstock,
        incremental_sales=incremental,
        attributed_sales=attributed,
        lines=lines,
    )


def _campaign_lines(
    world: World,
    c: int,
    k: int,
    camp: CampaignSpec,
    spend: np.ndarray,
    incremental: np.ndarray,
    claimed: np.ndarray,
    *,
    seed: int,
    noise: bool,
) -> list[ReportLine]:
    channel = world.channels[c]
    days = len(spend)
    weights = np.array(camp.sku_weights)
    prices = np.array([world.sku(code).price for code in camp.sku_codes])
    margin_rates = np.array([world.sku(code).margin_rate for code in camp.sku_codes])
    if noise:
        rng = _rng(seed, "mix", c, k)
        spend_mix = rng.dirichlet(weights * 300, size=days)
        sales_mix = rng.dirichlet(weights * 300, size=days)
    else:
        spend_mix = sales_mix = np.tile(weights, (days, 1))
    sku_spend = (spend * camp.spend_share)[:, None] * spend_mix
    sku_inc = (incremental * camp.spend_share)[:, None] * sales_mix
    expected_units = (claimed * camp.spend_share)[:, None] * sales_mix / prices
    expected_impressions = sku_spend / channel.cpm * 1000
    if noise:
        rng = _rng(seed, "delivery", c, k)
        units = rng.poisson(expected_units).astype(float)
        impressions = rng.poisson(expected_impressions * _mean_one_lognormal(rng, 0.1, expected_impressions.shape))
        clicks = rng.binomial(impressions, channel.ctr).astype(float)
        impressions = impressions.astype(float)
    else:
        units, impressions = expected_units, expected_impressions
        clicks = impressions * channel.ctr
    sku_attributed = units * prices
    sku_margin = sku_inc * margin_rates
    if channel.sku_level:
        return [
            ReportLine(
                c,
                k,
                code,
                sku_spend[:, j],
                impressions[:, j],
                clicks[:, j],
                sku_attributed[:, j],
                units[:, j],
                sku_inc[:, j],
                sku_margin[:, j],
            )
            for j, code in enumerate(camp.sku_codes)
        ]
    return [
        ReportLine(
            c,
            k,
            None,
            sku_spend.sum(axis=1),
            impressions.sum(axis=1),
            clicks.sum(axis=1),
            sku_attributed.sum(axis=1),
            units.sum(axis=1),
            sku_inc.sum(axis=1),
            sku_margin.sum(axis=1),
        )
    ]


# --- Scoring decisions against the truth ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelOutcome:
    key: str
    daily_spend: float
    spend: float
    incremental_sales: float
    incremental_margin: float
    attributed_sales: float

    @property
    def incremental_profit(self) -> float:
        """Gross margin the spend caused, net of the spend itself."""
        return self.incremental_margin - self.spend

    @property
    def incremental_roas(self) -> float | None:
        return self.incremental_sales / self.spend if self.spend else None


@dataclass(frozen=True)
class Outcome:
    channels: tuple[ChannelOutcome, ...]

    @property
    def spend(self) -> float:
        return sum(c.spend for c in self.channels)

    @property
    def incremental_sales(self) -> float:
        return sum(c.incremental_sales for c in self.channels)

    @property
    def incremental_margin(self) -> float:
        return sum(c.incremental_margin for c in self.channels)

    @property
    def incremental_profit(self) -> float:
        return self.incremental_margin - self.spend


def expected_outcome(world: World, *, daily_spend: Mapping[str, float], start: dt.date, days: int) -> Outcome:
    """Expected (noise-free) result of holding ``daily_spend[channel_key]`` every day of the period.

    The steady state holds from the first day (adstock equals spend), so this is what an allocation earns once
    it is in place. Channels missing from ``daily_spend`` get nothing.
    """
    for key, value in daily_spend.items():
        world.channel_index(key)  # raises on an unknown key
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"daily_spend[{key!r}] must be a finite non-negative number, got {value}.")
    demand = float(world.seasonality.factor(period_dates(start, days)).sum())
    outcomes = []
    for c, channel in enumerate(world.channels):
        x = float(daily_spend.get(channel.key, 0.0))
        inc = float(channel.curve(x)) * demand
        outcomes.append(
            ChannelOutcome(
                key=channel.key,
                daily_spend=x,
                spend=x * days,
                incremental_sales=inc,
                incremental_margin=inc * world.channel_margin_rate(c),
                attributed_sales=inc / channel.incrementality,
            )
        )
    return Outcome(channels=tuple(outcomes))


@dataclass(frozen=True)
class LiftStudyResult:
    channel_key: str
    retailer: str
    placement_type: str
    start: dt.date
    end: dt.date
    method: str
    spend: float
    true_incremental_sales: float
    estimate: float
    standard_error: float


def simulate_lift_study(
    world: World,
    history: History,
    *,
    channel_key: str,
    start: dt.date,
    days: int,
    seed: int,
    method: str = "rct_holdout",
) -> LiftStudyResult:
    """A lift study of the channel over ``days`` from ``start``: the realized incremental sales of the window
    plus an unbiased normal error whose standard error shrinks with the window length and depends on the method."""
    if method not in LIFT_METHOD_PRECISION:
        raise ValueError(f"Unknown lift method {method!r}; known: {', '.join(LIFT_METHOD_PRECISION)}.")
    c = world.channel_index(channel_key)
    first = (start - history.start).days
    if first < 0 or days < 1 or first + days > history.days:
        raise ValueError(f"Lift window {start} + {days} days is outside the simulated period.")
    channel = world.channels[c]
    window = slice(first, first + days)
    truth = float(history.incremental_sales[c, window].sum())
    se = channel.lift_cv * LIFT_METHOD_PRECISION[method] * math.sqrt(LIFT_REFERENCE_DAYS / days) * truth
    rng = _rng(seed, "lift", c, start.toordinal(), days)
    return LiftStudyResult(
        channel_key=channel_key,
        retailer=channel.retailer,
        placement_type=channel.placement_type,
        start=start,
        end=start + dt.timedelta(days=days - 1),
        method=method,
        spend=float(history.spend[c, window].sum()),
        true_incremental_sales=truth,
        estimate=truth + se * float(rng.standard_normal()),
        standard_error=se,
    )


def truth_document(world: World, history: History, lift_studies: Sequence[LiftStudyResult] = ()) -> dict:
    """JSON-ready record of the truth: the world, the period, realized totals and the lift studies' true values."""
    return {
        "simulator_version": SIMULATOR_VERSION,
        "seed": world.seed,
        "history_seed": history.seed,
        "period": {
            "start": history.start.isoformat(),
            "end": history.dates[-1].isoformat(),
            "days": history.days,
        },
        "world": world.to_dict(),
        "realized": history.channel_totals(world),
        "lift_studies": [{**asdict(s), "start": s.start.isoformat(), "end": s.end.isoformat()} for s in lift_studies],
        "scoring": (
            "optimizer.engine.expected_outcome(World.from_dict(truth['world']), daily_spend={channel_key: amount}, "
            "start=..., days=...) gives expected incremental sales, margin and profit of any steady allocation."
        ),
    }

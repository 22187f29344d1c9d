"""In-flight reallocation: Thompson sampling over curve posteriors, with budget pacing and logged propensities.

Arms are channels ("retailer|placement_type"). Each arm keeps its response curve (a Hill curve of adstocked daily
spend, in *attributed* sales at demand 1, from :mod:`optimizer.engine.curves`) and a posterior on one unknown: a
multiplier ``m`` on that curve's level. Daily performance updates ``m``; the curve's shape, half saturation and
adstock decay stay as the curve fit left them, and incrementality (which attributed data cannot reveal) stays at its
calibrated posterior.

Posterior of the multiplier (conjugate normal-inverse-gamma on the log scale)::

    log y_t = log m + log(h(A_t) · d_t) + e_t,   e_t ~ N(0, σ²)
    log m | σ² ~ N(μ, σ²/κ),   σ² ~ InvGamma(α, b)

``y_t`` is the day's attributed sales, ``A_t`` the adstocked spend (the arm's decay applied to its observed spend),
``h`` the prior curve and ``d_t`` the day-of-week demand factor. The prior is ``μ = 0`` (trust the curve), ``κ`` so
that the prior standard deviation of ``log m`` is ``prior_sd`` (from the curve samples' spread at the operating
point) when ``σ`` is at its prior guess, and ``α = 3, b = 2 σ₀²`` (E σ² = σ₀²). Each day adds one residual
``r = log y - log(h(A)·d)`` with the textbook update ``κ' = κ + 1, μ' = (κμ + r)/κ', α' = α + ½,
b' = b + κ(r - μ)²/(2κ')``.

Each day :func:`decide` draws ``σ², log m`` per arm (incrementality at its calibrated mean unless the state's
``sample_incrementality`` is on), then water-fills the day's budget on the drawn curves (value = multiplier × curve
× incrementality × margin rate, equal marginal value across arms within each arm's min/max).

Pacing sets the day's budget to the remaining budget spread evenly over the remaining days,
times a pacing factor that closes a gap to the plan's cumulative spend faster (ahead: spend less; behind: more), and
divided by the observed delivery rate (the share of decided spend the retailers actually spent).

Propensities for off-policy evaluation: each arm's spend range [min, max] is cut into ``levels`` equal bins; the
same decision procedure is repeated for ``propensity_draws`` further posterior draws and the share of all draws whose
spend falls in each bin is the arm's level distribution. The logged propensity is the probability of the bin the
chosen spend fell in (at least 1/(draws+1), since the chosen draw counts). Channel outcomes depend only on their own
spend, so a policy's value is the sum of per-channel values and each channel can be evaluated with its marginal
propensity (:func:`evaluate_log`).

Plain Python + numpy; the state serializes to JSON with :meth:`BanditState.to_dict`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from optimizer.engine.errors import OptimizerInputError
from optimizer.engine.ope import OPEEstimate, doubly_robust, ips, snips

STATE_VERSION = 1
OBJECTIVES = ("incremental_margin", "incremental_revenue")
DEFAULT_NOISE_SD = 0.15  # prior guess of the daily log-scale noise of attributed sales (simulator: 0.10-0.18)
MIN_PRIOR_SD = 0.05


def hill(x: np.ndarray, beta: np.ndarray, half: np.ndarray, shape: np.ndarray) -> np.ndarray:
    x = np.maximum(np.asarray(x, dtype=float), 0.0)
    xs = x**shape
    return beta * xs / (xs + half**shape)


def hill_derivative(x: np.ndarray, beta: np.ndarray, half: np.ndarray, shape: np.ndarray) -> np.ndarray:
    x = np.maximum(np.asarray(x, dtype=float), 1e-9)
    ks = half**shape
    return beta * shape * ks * x ** (shape - 1) / (x**shape + ks) ** 2


@dataclass(frozen=True)
class Arm:
    """One channel: its prior curve (attributed sales at demand 1), bounds and multiplier posterior."""

    key: str
    beta: float  # attributed daily sales at saturation
    half_saturation: float
    shape: float
    decay: float
    incrementality_mean: float
    incrementality_sd: float
    margin_rate: float
    min_daily: float
    max_daily: float
    mu: float = 0.0  # posterior of log m: mean ...
    kappa: float = 1.0  # ... pseudo-observations ...
    alpha: float = 3.0  # ... and inverse-gamma shape / scale of the noise variance
    b: float = 2 * DEFAULT_NOISE_SD**2
    adstock: float | None = None  # adstock after the last observed day (None: steady state at the first spend)
    n_obs: int = 0
    skipped_obs: int = 0

    @property
    def posterior_sd(self) -> float:
        """Standard deviation of log m (marginal Student t)."""
        scale2 = self.b / (self.alpha * self.kappa)
        dof = 2 * self.alpha
        return math.sqrt(scale2 * dof / (dof - 2))

    @property
    def multiplier_mean(self) -> float:
        """E[m] under the posterior (approximating the t by a normal with the same variance)."""
        return math.exp(self.mu + 0.5 * self.posterior_sd**2)

    def multiplier_interval(self, level: float = 0.90) -> tuple[float, float]:
        """Central ``level`` interval of m (log m is Student t with 2·alpha degrees of freedom)."""
        from scipy import stats

        scale = math.sqrt(self.b / (self.alpha * self.kappa))
        crit = float(stats.t.ppf(0.5 + level / 2, 2 * self.alpha))
        return math.exp(self.mu - crit * scale), math.exp(self.mu + crit * scale)

    def attributed(self, x) -> np.ndarray:
        return hill(x, self.beta, self.half_saturation, self.shape)


def make_arm(
    *,
    key: str,
    beta: float,
    half_saturation: float,
    shape: float,
    decay: float,
    incrementality_mean: float,
    incrementality_sd: float,
    margin_rate: float,
    min_daily: float,
    max_daily: float,
    prior_sd: float,
    noise_sd: float = DEFAULT_NOISE_SD,
) -> Arm:
    """An arm with a fresh posterior: log m ~ N(0, prior_sd²) at the noise guess ``noise_sd``."""
    if not beta > 0 or not half_saturation > 0 or not 0 < shape <= 1:
        raise OptimizerInputError(
            f"{key}: the curve needs beta > 0, half_saturation > 0 and shape in (0, 1]; got beta={beta:.4g}, "
            f"half_saturation={half_saturation:.4g}, shape={shape:.4g}.",
            field=key,
        )
    if not 0 <= min_daily <= max_daily or not max_daily > 0:
        raise OptimizerInputError(
            f"{key}: daily bounds must satisfy 0 <= min <= max and max > 0; got min={min_daily:,.2f}, "
            f"max={max_daily:,.2f}.",
            field=key,
        )
    prior_sd = max(float(prior_sd), MIN_PRIOR_SD)
    alpha = 3.0
    return Arm(
        key=key,
        beta=float(beta),
        half_saturation=float(half_saturation),
        shape=float(shape),
        decay=float(decay),
        incrementality_mean=float(incrementality_mean),
        incrementality_sd=float(max(incrementality_sd, 0.0)),
        margin_rate=float(margin_rate),
        min_daily=float(min_daily),
        max_daily=float(max_daily),
        mu=0.0,
        kappa=noise_sd**2 / prior_sd**2,
        alpha=alpha,
        b=(alpha - 1) * noise_sd**2,
    )


@dataclass(frozen=True)
class BanditState:
    arms: tuple[Arm, ...]
    budget: float
    start_date: dt.date
    end_date: dt.date
    objective: str = "incremental_margin"
    demand_weekly: tuple[float, ...] = (1.0,) * 7
    levels: int = 10
    catch_up: float = 0.5
    seed: int = 0
    spent: float = 0.0  # observed spend so far
    pending: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # decided, not yet observed
    last_observed: dt.date | None = None
    delivery_rate: float = 1.0
    # Off: decisions use the calibrated incrementality's mean. Value is linear in it and no daily data informs it,
    # so sampling it would keep exploring forever without learning anything (docs/benchmarks.md "Bandit" measures it).
    sample_incrementality: bool = False
    version: int = STATE_VERSION

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.arms)

    def arm(self, key: str) -> Arm:
        for a in self.arms:
            if a.key == key:
                return a
        raise OptimizerInputError(f"Unknown channel {key!r}; the policy's channels are {', '.join(self.keys)}.")

    def demand(self, day: dt.date) -> float:
        return float(self.demand_weekly[day.weekday()])

    def level_edges(self) -> np.ndarray:
        """(arms, levels + 1) bin edges of each arm's daily spend range."""
        return np.array([np.linspace(a.min_daily, a.max_daily, self.levels + 1) for a in self.arms])

    def level_midpoints(self) -> np.ndarray:
        edges = self.level_edges()
        return 0.5 * (edges[:, 1:] + edges[:, :-1])

    def to_dict(self) -> dict:
        data = asdict(self)
        data["start_date"] = self.start_date.isoformat()
        data["end_date"] = self.end_date.isoformat()
        data["last_observed"] = self.last_observed.isoformat() if self.last_observed else None
        data["demand_weekly"] = list(self.demand_weekly)
        data["arms"] = [asdict(a) for a in self.arms]
        data["pending"] = {d: dict(v) for d, v in self.pending.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> BanditState:
        if data.get("version") != STATE_VERSION:
            raise OptimizerInputError(
                f"Bandit state version {data.get('version')!r} is not {STATE_VERSION}; recreate the policy.",
                field="state",
            )
        fields = dict(data)
        fields["arms"] = tuple(Arm(**a) for a in data["arms"])
        fields["start_date"] = dt.date.fromisoformat(data["start_date"])
        fields["end_date"] = dt.date.fromisoformat(data["end_date"])
        fields["last_observed"] = dt.date.fromisoformat(data["last_observed"]) if data.get("last_observed") else None
        fields["demand_weekly"] = tuple(float(x) for x in data["demand_weekly"])
        fields["pending"] = {d: {k: float(x) for k, x in v.items()} for d, v in data.get("pending", {}).items()}
        return cls(**fields)


def new_state(
    arms: Sequence[Arm],
    *,
    budget: float,
    start_date: dt.date,
    end_date: dt.date,
    objective: str = "incremental_margin",
    demand_weekly: Sequence[float] | None = None,
    levels: int = 10,
    catch_up: float = 0.5,
    seed: int = 0,
    sample_incrementality: bool = False,
) -> BanditState:
    if not arms:
        raise OptimizerInputError("A bandit policy needs at least one channel.", field="channels")
    keys = [a.key for a in arms]
    if len(set(keys)) != len(keys):
        raise OptimizerInputError(f"Channels are listed twice: {sorted({k for k in keys if keys.count(k) > 1})}.")
    if not budget > 0 or not math.isfinite(budget):
        raise OptimizerInputError(f"budget must be a positive amount, got {budget}.", field="budget")
    if end_date < start_date:
        raise OptimizerInputError(f"end_date {end_date} is before start_date {start_date}.", field="end_date")
    if objective not in OBJECTIVES:
        raise OptimizerInputError(f"objective must be one of {', '.join(OBJECTIVES)}; got {objective!r}.")
    if levels < 2:
        raise OptimizerInputError(f"levels must be at least 2, got {levels}.", field="levels")
    days = (end_date - start_date).days + 1
    daily = budget / days
    min_total = sum(a.min_daily for a in arms)
    max_total = sum(a.max_daily for a in arms)
    if min_total > daily:
        raise OptimizerInputError(
            f"The channels' daily minimums add up to {min_total:,.2f}, more than the budget's {daily:,.2f} a day "
            f"({budget:,.2f} over {days} days); lower the minimums or raise the budget.",
            field="bounds",
            details={"min_total_daily": min_total, "budget_daily": daily},
        )
    if max_total < daily:
        raise OptimizerInputError(
            f"The channels' daily maximums add up to {max_total:,.2f}, less than the budget's {daily:,.2f} a day; "
            "raise the maximums or lower the budget.",
            field="bounds",
            details={"max_total_daily": max_total, "budget_daily": daily},
        )
    weekly = tuple(float(x) for x in (demand_weekly if demand_weekly is not None else (1.0,) * 7))
    if len(weekly) != 7:
        raise OptimizerInputError(f"demand_weekly needs 7 values (Mon..Sun), got {len(weekly)}.")
    return BanditState(
        arms=tuple(arms),
        budget=float(budget),
        start_date=start_date,
        end_date=end_date,
        objective=objective,
        demand_weekly=weekly,
        levels=int(levels),
        catch_up=float(catch_up),
        seed=int(seed),
        sample_incrementality=bool(sample_incrementality),
    )


def arms_from_curves(
    curves,
    *,
    budget_daily: float,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    channels: Iterable[str] | None = None,
    noise_sd: float = DEFAULT_NOISE_SD,
) -> list[Arm]:
    """Arms from a fitted :class:`optimizer.engine.curves.CurveSet`: the posterior-median curve, and a multiplier
    prior whose sd is the spread (sd of log) of the samples' attributed sales at the channel's historical spend.

    ``bounds`` are daily (min, max) per channel key; without one an arm may take 0 .. 1.5 × the even daily budget.
    """
    bounds = dict(bounds or {})
    wanted = list(channels) if channels is not None else [c.key for c in curves.channels]
    known = {c.key: c for c in curves.channels}
    arms = []
    for key in wanted:
        if key not in known:
            raise OptimizerInputError(
                f"Channel {key!r} has no response curve; known channels: {', '.join(sorted(known))}.", field="channels"
            )
        c = known[key]
        x = max(float(c.hist_daily_spend), 1e-6)
        at_hist = np.asarray(c.attributed(x), dtype=float).reshape(-1)
        at_hist = at_hist[at_hist > 0]
        prior_sd = float(np.std(np.log(at_hist))) if at_hist.size > 1 else 0.5
        lo, hi = bounds.get(key, (0.0, 1.5 * budget_daily))
        arms.append(
            make_arm(
                key=key,
                beta=float(np.median(c.beta)),
                half_saturation=float(np.median(c.half_saturation)),
                shape=float(np.clip(np.median(c.shape), 1e-3, 1.0)),
                decay=float(np.median(c.decay)),
                incrementality_mean=float(np.mean(c.incrementality)),
                incrementality_sd=float(np.std(c.incrementality)),
                margin_rate=float(c.margin_rate),
                min_daily=float(lo),
                max_daily=float(hi),
                prior_sd=prior_sd,
                noise_sd=noise_sd,
            )
        )
    return arms


# --- Allocation ---------------------------------------------------------------------------------------------------


def water_fill(
    value: np.ndarray,
    beta: np.ndarray,
    half: np.ndarray,
    shape: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    budget: float,
    *,
    iterations: int = 40,
    inner_iterations: int = 30,
) -> np.ndarray:
    """Maximize ``Σ_a value[d, a] · hill_a(x[d, a])`` subject to ``Σ_a x[d, a] = budget`` and ``lo <= x <= hi``,
    for each row ``d`` of ``value`` at once (the curves are concave, so equal marginal value is optimal).

    ``value`` is (draws, arms); the curve parameters and bounds are (arms,). Returns x (draws, arms)."""
    value = np.atleast_2d(np.asarray(value, dtype=float))
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    if budget <= lo.sum():
        # Not even the minimums fit: scale them down proportionally (pacing can ask for less than the minimums).
        share = lo / lo.sum() if lo.sum() > 0 else np.full(lo.shape, 1 / lo.size)
        return np.tile(share * budget, (value.shape[0], 1))
    if budget >= hi.sum():
        return np.tile(hi, (value.shape[0], 1))

    def spend_at(lam: np.ndarray) -> np.ndarray:
        # Per arm: the x in [lo, hi] where value · h'(x) = lam (h' decreases), by bisection on x.
        a = np.broadcast_to(lo, value.shape).copy()
        b = np.broadcast_to(hi, value.shape).copy()
        for _ in range(inner_iterations):
            mid = 0.5 * (a + b)
            above = value * hill_derivative(mid, beta, half, shape) > lam[:, None]
            a = np.where(above, mid, a)
            b = np.where(above, b, mid)
        return 0.5 * (a + b)

    marg_lo = value * hill_derivative(np.maximum(lo, 1e-9), beta, half, shape)
    marg_hi = value * hill_derivative(np.maximum(hi, 1e-9), beta, half, shape)
    lam_lo = np.maximum(marg_hi.min(axis=1), 1e-300) * 0.5
    lam_hi = marg_lo.max(axis=1) * 2 + 1e-300
    for _ in range(iterations):
        lam = np.sqrt(lam_lo * lam_hi)  # geometric bisection: lam spans many orders of magnitude
        too_much = spend_at(lam).sum(axis=1) > budget
        lam_lo = np.where(too_much, lam, lam_lo)
        lam_hi = np.where(too_much, lam_hi, lam)
    x = spend_at(np.sqrt(lam_lo * lam_hi))
    # Close the bisection's last rounding gap within the bounds so every row spends exactly the budget.
    gap = budget - x.sum(axis=1)
    room = np.where(gap[:, None] > 0, hi - x, x - lo)
    total_room = room.sum(axis=1)
    share = np.divide(room, total_room[:, None], out=np.zeros_like(room), where=total_room[:, None] > 0)
    return np.clip(x + gap[:, None] * share, lo, hi)


def _value_weight(state: BanditState) -> np.ndarray:
    if state.objective == "incremental_margin":
        return np.array([a.margin_rate for a in state.arms])
    return np.ones(len(state.arms))


def sample_values(state: BanditState, rng: np.random.Generator, draws: int) -> np.ndarray:
    """(draws, arms) posterior draws of value per unit of prior curve: m × incrementality × margin weight."""
    alpha = np.array([a.alpha for a in state.arms])
    b = np.array([a.b for a in state.arms])
    kappa = np.array([a.kappa for a in state.arms])
    mu = np.array([a.mu for a in state.arms])
    sigma2 = b / rng.gamma(alpha, 1.0, size=(draws, len(state.arms)))
    log_m = rng.normal(mu, np.sqrt(sigma2 / kappa))
    inc_mean = np.array([a.incrementality_mean for a in state.arms])
    if state.sample_incrementality:
        inc_sd = np.array([a.incrementality_sd for a in state.arms])
        incrementality = np.clip(rng.normal(inc_mean, inc_sd, size=(draws, len(state.arms))), 0.01, 2.0)
    else:
        incrementality = inc_mean
    return np.exp(log_m) * incrementality * _value_weight(state)


def mean_values(state: BanditState) -> np.ndarray:
    """(arms,) posterior-mean value per unit of prior curve (the greedy / reward-model view)."""
    return np.array([a.multiplier_mean * a.incrementality_mean for a in state.arms]) * _value_weight(state)


def _curve_arrays(state: BanditState):
    return (
        np.array([a.beta for a in state.arms]),
        np.array([a.half_saturation for a in state.arms]),
        np.array([a.shape for a in state.arms]),
        np.array([a.min_daily for a in state.arms]),
        np.array([a.max_daily for a in state.arms]),
    )


def allocate_values(state: BanditState, values: np.ndarray, budget: float) -> np.ndarray:
    beta, half, shape, lo, hi = _curve_arrays(state)
    return water_fill(values, beta, half, shape, lo, hi, budget)


def spend_levels(state: BanditState, x: np.ndarray) -> np.ndarray:
    """Level index (bin) of each spend in ``x`` (..., arms)."""
    edges = state.level_edges()
    out = np.empty(np.shape(x), dtype=int)
    for i in range(len(state.arms)):
        out[..., i] = np.clip(np.searchsorted(edges[i], x[..., i], side="right") - 1, 0, state.levels - 1)
    return out


# --- Pacing -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pacing:
    daily_budget: float  # what the decision allocates (already divided by the delivery rate)
    target_spend: float  # what should actually be spent today
    remaining_budget: float
    remaining_days: int
    planned_to_date: float
    spent_to_date: float  # observed + expected from pending decisions
    pacing_factor: float


def pacing(state: BanditState, day: dt.date) -> Pacing:
    if not state.start_date <= day <= state.end_date:
        raise OptimizerInputError(
            f"{day} is outside the policy's period {state.start_date} to {state.end_date}.", field="date"
        )
    elapsed = (day - state.start_date).days
    remaining_days = state.days - elapsed
    expected_pending = state.delivery_rate * sum(
        sum(v.values()) for d, v in state.pending.items() if dt.date.fromisoformat(d) < day
    )
    spent = state.spent + expected_pending
    remaining = max(state.budget - spent, 0.0)
    planned = state.budget * elapsed / state.days
    even = remaining / remaining_days
    if remaining_days == 1:
        factor = 1.0
    else:
        # Behind plan (planned > spent): spend more now than the even split; ahead: less. catch_up = 0 is even pacing.
        gap = (planned - spent) / max(state.budget / state.days, 1e-9)
        factor = float(np.clip(1.0 + state.catch_up * gap / remaining_days, 0.5, 1.5))
    target = even * factor
    return Pacing(
        daily_budget=target / max(state.delivery_rate, 1e-6),
        target_spend=target,
        remaining_budget=remaining,
        remaining_days=remaining_days,
        planned_to_date=planned,
        spent_to_date=spent,
        pacing_factor=factor,
    )


# --- Decide -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    date: dt.date
    allocation: dict[str, float]  # channel key -> daily spend chosen
    propensities: dict[str, float]  # channel key -> probability of the chosen spend level
    levels: dict[str, int]  # channel key -> chosen level (bin of the arm's spend range)
    level_probabilities: dict[str, list[float]]  # channel key -> probability of each level (sums to 1)
    context: dict  # daily budget, pacing, demand factor, sampled values

    def to_dict(self) -> dict:
        out = asdict(self)
        out["date"] = self.date.isoformat()
        return out


def level_distribution(
    state: BanditState, daily_budget: float, rng: np.random.Generator, draws: int, first: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo level probabilities (arms, levels) of the Thompson policy, and the allocations of all draws."""
    values = sample_values(state, rng, draws)
    if first is not None:
        values = np.vstack([first[None, :], values])
    x = allocate_values(state, values, daily_budget)
    lv = spend_levels(state, x)
    probs = np.stack([np.bincount(lv[:, i], minlength=state.levels) for i in range(len(state.arms))]) / len(lv)
    return probs, x


def decide(
    state: BanditState, day: dt.date, *, propensity_draws: int = 400, seed: int | None = None
) -> tuple[BanditState, Decision]:
    """Thompson sampling decision for ``day``: the new state (decision recorded as pending) and the decision.

    Deterministic for a given state, day and seed, so recomputing a day gives the same answer."""
    if state.last_observed is not None and day <= state.last_observed:
        raise OptimizerInputError(
            f"{day} is already observed (data through {state.last_observed}); decide a later day.", field="date"
        )
    pace = pacing(state, day)
    rng = np.random.default_rng([state.seed if seed is None else seed, day.toordinal()])
    chosen_values = sample_values(state, rng, 1)[0]
    probs, x = level_distribution(state, pace.daily_budget, rng, propensity_draws, first=chosen_values)
    chosen = x[0]
    lv = spend_levels(state, chosen[None, :])[0]
    keys = state.keys
    decision = Decision(
        date=day,
        allocation={k: round(float(v), 2) for k, v in zip(keys, chosen, strict=True)},
        propensities={k: float(probs[i, lv[i]]) for i, k in enumerate(keys)},
        levels={k: int(lv[i]) for i, k in enumerate(keys)},
        level_probabilities={k: [float(p) for p in probs[i]] for i, k in enumerate(keys)},
        context={
            "daily_budget": pace.daily_budget,
            "target_spend": pace.target_spend,
            "remaining_budget": pace.remaining_budget,
            "remaining_days": pace.remaining_days,
            "planned_to_date": pace.planned_to_date,
            "spent_to_date": pace.spent_to_date,
            "pacing_factor": pace.pacing_factor,
            "delivery_rate": state.delivery_rate,
            "demand": state.demand(day),
            "weekday": day.weekday(),
            "sampled_values": {k: float(v) for k, v in zip(keys, chosen_values, strict=True)},
            "propensity_draws": propensity_draws + 1,
        },
    )
    pending = dict(state.pending)
    pending[day.isoformat()] = dict(decision.allocation)
    return replace(state, pending=pending), decision


# --- Update -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    date: dt.date
    key: str
    spend: float
    attributed_sales: float


def update(state: BanditState, observations: Iterable[Observation]) -> BanditState:
    """Incorporate daily performance after ``state.last_observed`` (older days are ignored, so replaying the same
    rows is harmless). A channel with no row on a day between observed days is taken to have spent nothing."""
    obs = [o for o in observations if state.last_observed is None or o.date > state.last_observed]
    if not obs:
        return state
    for o in obs:
        state.arm(o.key)  # raises on an unknown channel
        if o.spend < 0 or o.attributed_sales < 0 or not math.isfinite(o.spend + o.attributed_sales):
            raise OptimizerInputError(
                f"{o.key} on {o.date}: spend and attributed sales must be finite and not negative "
                f"(got {o.spend}, {o.attributed_sales}).",
                field="observations",
            )
    days = sorted({o.date for o in obs})
    first = days[0] if state.last_observed is None else state.last_observed + dt.timedelta(days=1)
    span = [first + dt.timedelta(days=i) for i in range((days[-1] - first).days + 1)]
    table: dict[tuple[str, dt.date], list[float]] = {}
    for o in obs:
        cell = table.setdefault((o.key, o.date), [0.0, 0.0])
        cell[0] += o.spend
        cell[1] += o.attributed_sales
    arms = []
    for arm in state.arms:
        a = arm
        level = a.adstock
        for day in span:
            spend, sales = table.get((a.key, day), (0.0, 0.0))
            level = spend if level is None else a.decay * level + (1 - a.decay) * spend
            predicted = float(a.attributed(level)) * state.demand(day)
            if spend <= 0 or sales <= 0 or predicted <= 0:
                a = replace(a, skipped_obs=a.skipped_obs + (1 if spend > 0 else 0))
                continue
            r = math.log(sales) - math.log(predicted)
            kappa = a.kappa + 1
            a = replace(
                a,
                mu=(a.kappa * a.mu + r) / kappa,
                kappa=kappa,
                alpha=a.alpha + 0.5,
                b=a.b + a.kappa * (r - a.mu) ** 2 / (2 * kappa),
                n_obs=a.n_obs + 1,
            )
        arms.append(replace(a, adstock=level))
    observed_spend = {d: 0.0 for d in span}
    for o in obs:
        observed_spend[o.date] += o.spend
    rate = state.delivery_rate
    pending = dict(state.pending)
    for day in span:
        decided = pending.pop(day.isoformat(), None)
        if decided and sum(decided.values()) > 0:
            ratio = observed_spend[day] / sum(decided.values())
            rate = float(np.clip(0.7 * rate + 0.3 * ratio, 0.5, 1.5))
    return replace(
        state,
        arms=tuple(arms),
        spent=state.spent + sum(o.spend for o in obs),
        pending=pending,
        last_observed=span[-1],
        delivery_rate=rate,
    )


# --- Off-policy evaluation of a candidate on the log -------------------------------------------------------------


@dataclass(frozen=True)
class LoggedDay:
    date: dt.date
    levels: Mapping[str, int]
    propensities: Mapping[str, float]
    rewards: Mapping[str, float]  # channel key -> observed value (incremental margin or revenue estimate)
    context: Mapping = field(default_factory=dict)


def reward_model(state: BanditState, days: Sequence[dt.date]) -> np.ndarray:
    """(days, arms, levels) expected reward of each level under the posterior mean, at the level's midpoint spend."""
    mids = state.level_midpoints()
    values = mean_values(state)
    per_level = np.stack([values[i] * state.arms[i].attributed(mids[i]) for i in range(len(state.arms))])
    demand = np.array([state.demand(d) for d in days])
    return demand[:, None, None] * per_level[None, :, :]


def evaluate_log(
    state: BanditState,
    log: Sequence[LoggedDay],
    target_probabilities: np.ndarray,
    *,
    model: np.ndarray | None = None,
) -> dict[str, OPEEstimate]:
    """IPS, SNIPS and DR estimates of a candidate's value (sum over channels, mean per day) on the logged days.

    ``target_probabilities`` is (days, arms, levels): the candidate's level distribution per channel and day.
    ``model`` (same shape) is the DR reward model; default: :func:`reward_model` of ``state``."""
    keys = state.keys
    n = len(log)
    if n == 0:
        raise OptimizerInputError("There are no logged days with observed rewards to evaluate on yet.")
    target = np.asarray(target_probabilities, dtype=float)
    if target.shape != (n, len(keys), state.levels):
        raise OptimizerInputError(
            f"target_probabilities must have shape {(n, len(keys), state.levels)} (days, channels, levels), "
            f"got {target.shape}."
        )
    if model is None:
        model = reward_model(state, [d.date for d in log])
    actions = np.array([[d.levels[k] for k in keys] for d in log])
    p = np.array([[d.propensities[k] for k in keys] for d in log])
    r = np.array([[d.rewards[k] for k in keys] for d in log])
    rows = np.arange(n)[:, None]
    cols = np.arange(len(keys))[None, :]
    pi = target[rows, cols, actions]
    q_logged = model[rows, cols, actions]
    q_target = (target * model).sum(axis=2)
    return {
        "ips": ips(r, p, pi),
        "snips": snips(r, p, pi),
        "dr": doubly_robust(r, p, pi, q_logged=q_logged, q_target=q_target),
    }


def fixed_allocation_probabilities(
    state: BanditState, daily_spend: Mapping[str, float], days: int, *, epsilon: float = 0.0
) -> np.ndarray:
    """(days, arms, levels) level distribution of a fixed daily allocation, smoothed by ``epsilon`` spread evenly
    over all levels (a deterministic candidate can only be evaluated on the days the log chose its level)."""
    missing = [k for k in state.keys if k not in daily_spend]
    unknown = [k for k in daily_spend if k not in state.keys]
    if missing or unknown:
        raise OptimizerInputError(
            f"The candidate must give a daily spend for exactly the policy's channels ({', '.join(state.keys)}); "
            f"missing: {missing or 'none'}, unknown: {unknown or 'none'}.",
            field="candidate",
        )
    if not 0 <= epsilon <= 1:
        raise OptimizerInputError(f"epsilon must be between 0 and 1, got {epsilon}.", field="epsilon")
    x = np.array([float(daily_spend[k]) for k in state.keys])
    lv = spend_levels(state, x[None, :])[0]
    probs = np.full((len(state.keys), state.levels), epsilon / state.levels)
    probs[np.arange(len(state.keys)), lv] += 1 - epsilon
    return np.tile(probs, (days, 1, 1))


def thompson_probabilities(
    state: BanditState, daily_budgets: Sequence[float], *, draws: int = 400, seed: int = 0
) -> np.ndarray:
    """(days, arms, levels) level distribution of Thompson sampling with ``state`` frozen, at each day's budget."""
    rng = np.random.default_rng(seed)
    return np.stack([level_distribution(state, b, rng, draws)[0] for b in daily_budgets])

"""Response curves per channel (retailer × placement) learned from daily history, calibrated to incrementality.

Model (docs/optimization.md, "Response curves and calibration", has the derivation):

    attributed_c,t = D_t · β_c · Hill(A_c,t; K_c, s_c) · ε_c,t,        log ε ~ N(-σ_c²/2, σ_c²)
    A_c,t = λ_c · A_c,t-1 + (1 - λ_c) · x_c,t                             (normalized geometric adstock)
    D_t = weekly[weekday(t)] · exp(cubic(t))                             (shared by every channel, level 1 on
                                                                          the last day, its end slope after it)
    incremental = ι_c · attributed

The curve is fitted by penalized nonlinear least squares on log attributed sales (weak priors keep every parameter
finite), the shared demand by alternating with the channel fits, and the uncertainty is a Laplace approximation
around the optimum, widened for autocorrelated residuals. Incrementality ι_c has a lognormal prior per placement type
and is updated by lift studies on a grid (:func:`calibrate`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.signal import lfilter

from optimizer.engine.errors import OptimizerInputError

MIN_DAYS = 28
SHAPE_MIN, SHAPE_MAX = 0.2, 1.0
DECAY_MAX = 0.95
_DECAY_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
_DEMAND_ROUNDS = 8
# Share of the history's end slope carried into the forecast. 0 (issue 17): the level of the history's last weeks
# goes on flat (pipeline.with_recent_level), a local level; on worlds with seasonality that shifts, carrying a slope
# fitted over a stretch of a seasonal cycle missed the next period's level by twice as much (docs/optimization.md).
TREND_DAMPING = 0.0
DEMAND_DEGREE = 3  # polynomial in time for the smooth demand level (seasonality, trend) over the history

# placement_type -> (mean, sd) of incremental / attributed sales before any lift study (a lognormal with these
# moments). The means order the placements as published incrementality tests do (onsite sponsored products claim
# the most organic purchases, offsite video the fewest); the sds are weakly informative, about a third of the mean
# (a central 90% of roughly x/÷1.8), so a lift study moves them and a network unlike ours is not ruled out. They are
# deliberately not the narrow ranges of our own simulator (docs/demo_simulator.md). A tenant whose networks differ
# passes its own ``priors`` to fit_curves / calibrate.
PLACEMENT_INCREMENTALITY_PRIORS: dict[str, tuple[float, float]] = {
    "sponsored_product": (0.375, 0.13),
    "search": (0.475, 0.165),
    "onsite_display": (0.60, 0.21),
    "offsite_display": (0.775, 0.27),
    "ctv": (0.825, 0.29),
    "audio": (0.80, 0.30),
    "other": (0.50, 0.25),
}
_DEFAULT_PRIOR = PLACEMENT_INCREMENTALITY_PRIORS["other"]

# The incremental curve is modelled apart from the attributed one (issue 17): attribution also claims purchases that
# would have happened anyway, and how much it claims changes with spend, so incremental sales need not have the
# shape of attributed sales. Each posterior sample's incremental curve is a Hill curve through the incremental share
# ``incrementality`` of attributed sales at the reference spend (the history's recent daily spend); its shape is, with
# probability INCREMENTAL_SAME_SHAPE, the attributed curve's own, and otherwise a weakly informative generic one:
# half saturation at the reference spend times a lognormal of log sd INCREMENTAL_K_LOG_SD, Hill exponent uniform in
# INCREMENTAL_SHAPE_RANGE (saturation starts around where the channel has been run, as MMM priors put it). Lift
# studies, measured at their own spend levels, weight the samples by how well each shape and level explains them
# (model averaging by marginal likelihood, see calibrate).
INCREMENTAL_SAME_SHAPE = 0.5
INCREMENTAL_K_LOG_SD = 0.8
INCREMENTAL_SHAPE_RANGE = (0.5, 1.0)


def _hill(x: np.ndarray, half_saturation, shape) -> np.ndarray:
    x = np.maximum(x, 0.0)
    xs = x**shape
    return xs / (xs + half_saturation**shape)


def _adstock(spend: np.ndarray, decay: float, initial: float) -> np.ndarray:
    if decay <= 0.0:
        return np.asarray(spend, dtype=float).copy()
    out, _ = lfilter([1.0 - decay], [1.0, -decay], spend, zi=[decay * initial])
    return out


@dataclass(frozen=True)
class ChannelCurve:
    retailer: str
    placement_type: str
    beta: np.ndarray  # (S,) daily attributed sales at saturation, at demand factor 1
    half_saturation: np.ndarray  # (S,) daily adstocked spend at half saturation
    shape: np.ndarray  # (S,) Hill shape in (0, 1]
    decay: np.ndarray  # (S,) geometric adstock decay in [0, 1)
    incrementality: np.ndarray  # (S,) incremental / attributed sales
    margin_rate: float
    hist_daily_spend: float
    hist_max_daily_spend: float
    calibrated: bool
    # Added: the daily spend at which ``incrementality`` was measured (the lift studies' geometric mean; None: the
    # history's typical spend). Away from it the allocator widens incrementality's uncertainty (allocate.py).
    incrementality_spend: float | None = None
    # Added (issue 17): the incremental curve of each sample, inc_scale · Hill(x; inc_half_saturation, inc_shape),
    # apart from the attributed one; None: incrementality times the attributed curve (the older model, which
    # hand-built curve sets still use). ``incrementality`` is then the incremental share at ``reference_spend``.
    inc_scale: np.ndarray | None = None
    inc_half_saturation: np.ndarray | None = None
    inc_shape: np.ndarray | None = None
    reference_spend: float | None = None

    @property
    def key(self) -> str:
        return f"{self.retailer}|{self.placement_type}"

    @property
    def separate_incremental(self) -> bool:
        return self.inc_scale is not None

    def attributed(self, daily_spend: np.ndarray | float) -> np.ndarray:
        """Steady-state daily attributed sales at demand 1, shape (samples, len(daily_spend))."""
        x = np.atleast_1d(np.asarray(daily_spend, dtype=float))
        return self.beta[:, None] * _hill(x[None, :], self.half_saturation[:, None], self.shape[:, None])

    def incremental(self, daily_spend: np.ndarray | float) -> np.ndarray:
        """Steady-state daily incremental sales at demand 1, shape (samples, len(daily_spend))."""
        if self.inc_scale is None:
            return self.incrementality[:, None] * self.attributed(daily_spend)
        x = np.atleast_1d(np.asarray(daily_spend, dtype=float))
        return self.inc_scale[:, None] * _hill(x[None, :], self.inc_half_saturation[:, None], self.inc_shape[:, None])


@dataclass(frozen=True)
class CurveSet:
    channels: tuple[ChannelCurve, ...]
    currency: str
    demand_weekly: tuple[float, ...]  # Monday .. Sunday, mean 1
    trend_per_day: float  # demand multiplier exp(trend · days after last_date)
    last_date: dt.date
    diagnostics: dict
    # Daily attributed sales each channel reported, first_date .. last_date: lift studies inside the history are
    # compared with what was reported over their window (see calibrate).
    first_date: dt.date | None = None
    observed_attributed: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict, repr=False)
    observed_spend: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict, repr=False)
    # Cubic of the log demand level over the history (u = days before last_date / span, -1..0); after last_date the
    # level continues along its end slope ``trend_per_day``.
    demand_smooth: tuple[float, ...] = (0.0, 0.0, 0.0)
    # Added (issue 17, part E): how far the lift studies disagree with the placement priors, the mean over the
    # calibrated channels of (what the studies say of log ι - the prior's mean)² / (its variance under the model):
    # about 1 where the priors and the studies' errors are right, far above 1 where the priors are off. None
    # without studies. The allocator's mix anchor (allocate.PLAN_MIX_ANCHOR) weighs itself by it.
    prior_discrepancy: float | None = None

    def channel(self, key: str) -> ChannelCurve:
        for curve in self.channels:
            if curve.key == key:
                return curve
        raise OptimizerInputError(
            f"Unknown channel {key!r}; the history has {', '.join(c.key for c in self.channels)}.", field="channel"
        )

    def demand(self, dates) -> np.ndarray:
        """Fitted demand multipliers of the given dates (history or future)."""
        span = (self.last_date - self.first_date).days if self.first_date else 0
        out = []
        for d in dates:
            offset = (d - self.last_date).days
            u = min(max(offset / span, -1.0), 0.0) if span else 0.0
            level = sum(c * u ** (k + 1) for k, c in enumerate(self.demand_smooth))
            level += self.trend_per_day * max(offset, 0)
            out.append(self.demand_weekly[d.weekday()] * math.exp(level))
        return np.array(out)

    def period_factor(self, days: int) -> float:
        """Sum of the fitted demand multipliers over the ``days`` days after ``last_date``."""
        return float(self.demand([self.last_date + dt.timedelta(days=k) for k in range(1, int(days) + 1)]).sum())

    def with_incrementality(self, key: str, samples: np.ndarray, *, calibrated: bool = True) -> CurveSet:
        samples = np.asarray(samples, dtype=float)
        target = self.channel(key)
        if samples.shape != target.incrementality.shape:
            raise ValueError(f"{key}: need {target.incrementality.shape} incrementality samples, got {samples.shape}.")
        changes = {"incrementality": samples, "calibrated": calibrated}
        if target.inc_scale is not None:  # the incremental curve follows its share at the reference spend
            old = np.where(target.incrementality > 0, target.incrementality, 1.0)
            changes["inc_scale"] = target.inc_scale * samples / old
        channels = tuple(dataclasses.replace(c, **changes) if c.key == key else c for c in self.channels)
        return dataclasses.replace(self, channels=channels)


# --- Fitting -------------------------------------------------------------------------------------------------------


@dataclass
class _Series:
    key: str
    retailer: str
    placement_type: str
    spend: np.ndarray
    sales: np.ndarray
    units: np.ndarray  # attributed units (inf when the history has none): Poisson noise of small days
    initial: float


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _daily_series(history: pd.DataFrame) -> tuple[list[_Series], pd.DatetimeIndex]:
    if history is None or len(history) == 0:
        raise OptimizerInputError("The history is empty: response curves need daily spend and sales.", field="history")
    missing = [c for c in ("date", "retailer", "placement_type", "spend", "attributed_sales") if c not in history]
    if missing:
        raise OptimizerInputError(f"The history lacks columns {', '.join(missing)}.", field="history")
    frame = history[["date", "retailer", "placement_type", "spend", "attributed_sales"]].copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize()
    frame["units"] = pd.to_numeric(history["attributed_units"], errors="coerce") if "attributed_units" in history else 0
    columns = ["spend", "attributed_sales", "units"]
    daily = frame.groupby(["retailer", "placement_type", "date"], sort=True)[columns].sum()
    dates = pd.date_range(frame["date"].min(), frame["date"].max(), freq="D")
    if len(dates) < MIN_DAYS:
        raise OptimizerInputError(
            f"The history covers only {len(dates)} days ({dates[0].date()} to {dates[-1].date()}); at least "
            f"{MIN_DAYS} days are needed to learn response curves.",
            field="history",
        )
    series = []
    for (retailer, placement), group in daily.groupby(level=[0, 1], sort=True):
        key = f"{retailer}|{placement}"
        group = group.droplevel([0, 1]).reindex(dates, fill_value=0.0)
        spend = group["spend"].to_numpy(dtype=float)
        sales = group["attributed_sales"].to_numpy(dtype=float)
        units = group["units"].to_numpy(dtype=float)
        if not (units > 0).any():
            units = np.full(len(units), np.inf)
        active = np.flatnonzero((spend > 0) | (sales > 0))
        if len(active) == 0 or active[-1] - active[0] + 1 < MIN_DAYS:
            n = 0 if len(active) == 0 else active[-1] - active[0] + 1
            raise OptimizerInputError(
                f"{key}: only {n} days of history; at least {MIN_DAYS} days are needed to learn its response curve "
                "(exclude the channel or give bounds that fix its spend).",
                field=key,
            )
        if (spend < 0).any() or (sales < 0).any():
            raise OptimizerInputError(f"{key}: daily spend and attributed sales must not be negative.", field=key)
        if not (sales > 0).any():
            raise OptimizerInputError(
                f"{key}: attributed sales are zero on every day, so there is no response to learn; check the "
                "history or exclude the channel.",
                field=key,
            )
        window = spend[active[0] :]
        lo, hi = float(window.min()), float(window.max())
        if hi <= 0 or hi - lo <= 1e-6 * max(hi, 1.0):
            raise OptimizerInputError(
                f"{key}: spend never varies (always {_money(hi)} a day), so its response curve cannot be learned; "
                "vary spend or give bounds that fix it.",
                field=key,
                details={"daily_spend": hi},
            )
        first = spend[active[0] : active[0] + 7]
        series.append(_Series(key, str(retailer), str(placement), spend, sales, units, float(first.mean())))
    return series, dates


@dataclass
class _Fit:
    theta: np.ndarray  # log response at typical spend, log K, u_shape, u_decay, log initial adstock
    sigma: float
    rho: float
    residuals: np.ndarray
    log_target: np.ndarray
    mask: np.ndarray


def _shape_of(u):
    return SHAPE_MIN + (SHAPE_MAX - SHAPE_MIN) / (1.0 + np.exp(-u))


def _decay_of(v):
    return DECAY_MAX / (1.0 + np.exp(-v))


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


class _ChannelProblem:
    """Penalized least squares for one channel given the shared log demand."""

    def __init__(self, s: _Series, log_demand: np.ndarray):
        self.s = s
        self.mask = s.sales > 0
        self.log_y = np.log(np.where(self.mask, s.sales, 1.0)) - log_demand
        positive = s.spend[s.spend > 0]
        self.ref_spend = float(np.median(positive))
        ref_sales = float(np.median(s.sales[self.mask]))
        # Weak priors, in units of their sd: K around 1.5× typical spend (sd ×4.5), shape around 0.6, decay around
        # 0.3; the level at typical spend around the typical sales (sd ×20). They only matter where the data say
        # nothing.
        # The adstock before the first day is a parameter too (a history that opens in a dark flight still sells
        # from earlier spend), centred on the first week's mean spend, or the typical spend when that is zero.
        initial = s.initial if s.initial > 0 else float(positive.mean())
        self.prior_mean = np.array(
            [math.log(ref_sales), math.log(1.5 * self.ref_spend), 0.0, _logit(0.3 / 0.95), math.log(initial)]
        )
        self.prior_sd = np.array([3.0, 1.5, 1.5, 2.0, 1.0])  # weak: the level at typical spend within ×20
        self.sigma = 0.15

    def predict_log(self, theta: np.ndarray, decay: float | None = None) -> np.ndarray:
        decay = _decay_of(theta[3]) if decay is None else decay
        adstock = _adstock(self.s.spend, decay, math.exp(theta[4]))
        return self.log_beta(theta) + np.log(_hill(np.maximum(adstock, 1e-9), math.exp(theta[1]), _shape_of(theta[2])))

    def log_beta(self, theta: np.ndarray) -> np.ndarray:
        # theta[0] is the log response at the typical spend, not log beta: the data pin that level down whatever K
        # and the shape are, so the posterior is close to normal in these coordinates (beta and K are not).
        theta = np.asarray(theta)
        return theta[..., 0] - np.log(_hill(self.ref_spend, np.exp(theta[..., 1]), _shape_of(theta[..., 2])))

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        # Day variance: the multiplicative noise σ² plus the Poisson noise of few units (Var log ≈ 1 / units).
        scale = np.sqrt(self.sigma**2 + 1.0 / (self.s.units[self.mask] + 1.0))
        data = (self.log_y - self.predict_log(theta))[self.mask] / scale
        return np.concatenate([data, (theta - self.prior_mean) / self.prior_sd])

    def solve(self, start: np.ndarray, *, fixed_decay: float | None = None) -> np.ndarray:
        if fixed_decay is None:
            return least_squares(self.residuals, start, method="trf", x_scale=1.0, max_nfev=200).x
        v = _logit(fixed_decay / DECAY_MAX)

        def partial(p):
            return self.residuals(np.array([p[0], p[1], p[2], v, p[3]]))

        p = least_squares(partial, np.delete(start, 3), method="trf", max_nfev=100).x
        return np.array([p[0], p[1], p[2], v, p[3]])

    def fit(self, start: np.ndarray | None) -> np.ndarray:
        if start is None:
            best, best_cost = None, math.inf
            init = self.prior_mean.copy()
            for decay in _DECAY_GRID:
                theta = self.solve(init, fixed_decay=decay)
                cost = float(np.sum(self.residuals(theta) ** 2))
                if cost < best_cost:
                    best, best_cost = theta, cost
            start = best
        theta = self.solve(start)
        self.sigma = self.noise_sd(theta)
        return self.solve(theta)

    def noise_sd(self, theta: np.ndarray) -> float:
        resid = (self.log_y - self.predict_log(theta))[self.mask]
        return math.sqrt(max(float(np.mean(resid**2 - 1.0 / (self.s.units[self.mask] + 1.0))), 1e-4))

    def finish(self, theta: np.ndarray) -> _Fit:
        resid = (self.log_y - self.predict_log(theta))[self.mask]
        self.sigma = sigma = self.noise_sd(theta)
        standardized = resid / np.sqrt(sigma**2 + 1.0 / (self.s.units[self.mask] + 1.0))
        # Lag-1 autocorrelation of the residuals (unmodelled seasonality, flights): _joint_draws discounts the
        # information of the data by it.
        rho = float(np.corrcoef(standardized[:-1], standardized[1:])[0, 1]) if len(resid) > 3 else 0.0
        rho = min(max(rho if math.isfinite(rho) else 0.0, 0.0), 0.9)
        return _Fit(theta, sigma, rho, resid, self.log_y, self.mask)


def _jacobian(fun, theta: np.ndarray, step: float = 1e-5) -> np.ndarray:
    base = fun(theta)
    jac = np.empty((len(base), len(theta)))
    for j in range(len(theta)):
        shifted = theta.copy()
        shifted[j] += step
        jac[:, j] = (fun(shifted) - base) / step
    return jac


@dataclass
class _Demand:
    log_weekly: np.ndarray  # (7,) mean of exp is 1
    smooth: np.ndarray  # (3,) cubic in u = days since last day / span: log level = c1·u + c2·u² + c3·u³
    span: int

    def log_factor(self, weekdays: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Log demand at day offsets from the last day: the cubic inside the history, its end slope after it."""
        u = np.clip(offsets / self.span, -1.0, 0.0)
        level = sum(c * u ** (k + 1) for k, c in enumerate(self.smooth))
        ahead = np.maximum(offsets, 0) * self.trend
        return self.log_weekly[weekdays] + level + ahead

    @property
    def trend(self) -> float:
        return float(self.smooth[0] / self.span) * TREND_DAMPING


def _fit_demand(series: list[_Series], fits: dict[str, np.ndarray], problems, weekdays: np.ndarray) -> _Demand:
    """OLS of the pooled log residuals of every channel on weekday dummies and a cubic in time (channel intercepts
    absorbed by demeaning within the channel, so the betas carry the level)."""
    n_days = len(weekdays)
    span = max(n_days - 1, 1)
    u = (np.arange(n_days, dtype=float) - (n_days - 1)) / span
    rows, targets = [], []
    for s in series:
        problem = problems[s.key]
        m = problem.mask
        resid = (np.log(np.where(m, s.sales, 1.0)) - problem.predict_log(fits[s.key]))[m]
        weight = 1.0 / np.sqrt(problem.sigma**2 + 1.0 / (s.units[m] + 1.0))
        design = np.column_stack([np.eye(7)[weekdays][m], *(u[m] ** k for k in range(1, DEMAND_DEGREE + 1))])
        rows.append((design - design.mean(axis=0)) * weight[:, None])
        targets.append((resid - resid.mean()) * weight)
    x, y = np.vstack(rows), np.concatenate(targets)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    log_weekly = coef[:7] - np.log(np.mean(np.exp(coef[:7])))
    return _Demand(log_weekly, coef[7:], span)


def _margin_rates(history: pd.DataFrame, skus: pd.DataFrame | None) -> dict[str, float]:
    """Sales-weighted gross margin rate of the SKUs each channel sold; channels that report campaigns, not SKUs,
    get the tenant's overall SKU mix from the SKU-level rows (or the catalog's plain average)."""
    if skus is None or len(skus) == 0 or not {"sku_id", "price", "unit_cost"} <= set(skus.columns):
        return {}
    price = pd.to_numeric(skus["price"], errors="coerce")
    rate = ((price - pd.to_numeric(skus["unit_cost"], errors="coerce")) / price).where(price > 0)
    rates = dict(zip(skus["sku_id"].astype(str), rate, strict=True))
    catalog = float(np.nanmean(list(rates.values()))) if rates else math.nan
    out: dict[str, float] = {"*": catalog}
    if "sku_id" not in history:
        return out
    sku = history["sku_id"].astype("string").fillna("").str.strip()
    frame = pd.DataFrame(
        {
            "key": history["retailer"].astype(str) + "|" + history["placement_type"].astype(str),
            "rate": sku.map(rates).astype(float),
            "sales": pd.to_numeric(history["attributed_sales"], errors="coerce").fillna(0.0),
        }
    )
    frame = frame[frame["rate"].notna() & (frame["sales"] > 0)]
    if len(frame):
        frame["weighted"] = frame["rate"] * frame["sales"]
        out["*"] = float(frame["weighted"].sum() / frame["sales"].sum())
        grouped = frame.groupby("key")[["weighted", "sales"]].sum()
        out.update((grouped["weighted"] / grouped["sales"]).to_dict())
    return out


def _prior_draws(placement_type: str, rng: np.random.Generator, n: int, priors: Mapping | None) -> np.ndarray:
    mu, sd = _lognormal_params(placement_type, priors)
    return np.exp(rng.normal(mu, sd, n))


def _lognormal_params(placement_type: str, priors: Mapping | None) -> tuple[float, float]:
    table = PLACEMENT_INCREMENTALITY_PRIORS if priors is None else {**PLACEMENT_INCREMENTALITY_PRIORS, **priors}
    mean, sd = table.get(placement_type, table.get("other", _DEFAULT_PRIOR))
    if not (mean > 0 and sd > 0):
        raise OptimizerInputError(
            f"The incrementality prior for {placement_type} needs a positive mean and sd, got ({mean}, {sd}).",
            field="priors",
        )
    s2 = math.log(1 + (sd / mean) ** 2)
    return math.log(mean) - s2 / 2, math.sqrt(s2)


def _joint_draws(finals, demand: _Demand, weekdays, last_date, samples, seed, period_days):
    """Posterior draws of every channel's parameters and the shared demand together (Laplace approximation of the
    joint fit), so that the uncertainty of the demand path, which every channel's level trades off against, reaches
    each curve. Returns per channel (samples, 5) parameter draws, with levels re-anchored to each draw's demand
    normalization, and per draw the ratio of its forecast demand over ``period_days`` to the point forecast's."""
    n_params = 5 * len(finals)
    span = demand.span
    u = (np.arange(len(weekdays), dtype=float) - (len(weekdays) - 1)) / span
    # Demand in coordinates without redundancy: weekdays relative to Monday (Tue..Sun) and the cubic.
    design = np.column_stack([np.eye(7)[weekdays][:, 1:], *(u**k for k in range(1, DEMAND_DEGREE + 1))])
    blocks = []
    for c, (s, problem, fit) in enumerate(finals):
        jac = _jacobian(problem.residuals, fit.theta)
        m = problem.mask
        n_data = int(m.sum())
        scale = np.sqrt(fit.sigma**2 + 1.0 / (s.units[m] + 1.0))
        # Autocorrelated residuals carry less information: the AR(1) variance factor (1 + ρ) / (1 - ρ).
        shrink = math.sqrt((1 - fit.rho) / (1 + fit.rho))
        block = np.zeros((jac.shape[0], n_params + design.shape[1]))
        block[:, 5 * c : 5 * c + 5] = jac
        block[:n_data, 5 * c : 5 * c + 5] *= shrink
        block[:n_data, n_params:] = -design[m] / scale[:, None] * shrink
        blocks.append(block)
    jac = np.vstack(blocks)
    cov = np.linalg.pinv(jac.T @ jac)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1]))
    center = np.zeros(cov.shape[0])
    delta = rng.multivariate_normal(center, cov, size=samples, method="eigh")
    rel_hat = demand.log_weekly - demand.log_weekly[0]
    rel = np.tile(rel_hat, (samples, 1))
    rel[:, 1:] += delta[:, n_params : n_params + 6]
    shift = np.log(np.mean(np.exp(rel), axis=1)) - np.log(np.mean(np.exp(rel_hat)))
    log_weekly = rel - np.log(np.mean(np.exp(rel), axis=1))[:, None]
    trend = demand.trend + delta[:, n_params + 6] / span * TREND_DAMPING
    ahead = np.arange(1, int(period_days) + 1)
    future_days = np.array([(last_date + dt.timedelta(days=int(k))).weekday() for k in ahead])
    forecast = np.exp(log_weekly[:, future_days] + trend[:, None] * ahead[None, :]).sum(axis=1)
    point = np.exp(demand.log_weekly[future_days] + demand.trend * ahead).sum()
    # Whether the history's end slope goes on is unknown: the forecast damps it (TREND_DAMPING), and the distance
    # to the undamped forecast at the period's middle day is added as a further sd shared by every channel.
    # With no slope carried (TREND_DAMPING 0) the level's drift over the period is pipeline.period_error_sd's part.
    gap = (1 - TREND_DAMPING) * abs(demand.smooth[0] / span) * (int(period_days) + 1) / 2 if TREND_DAMPING else 0.0
    forecast = forecast * np.exp(gap * rng.standard_normal(samples))
    draws = []
    for c, (_, _, fit) in enumerate(finals):
        theta = fit.theta[None, :] + delta[:, 5 * c : 5 * c + 5]
        theta[:, 0] += shift
        draws.append(theta)
    return draws, forecast / point


def fit_curves(
    history: pd.DataFrame,
    skus: pd.DataFrame | None,
    *,
    samples: int = 200,
    seed: int = 0,
    period_days: int = 28,
    priors: Mapping[str, tuple[float, float]] | None = None,
) -> CurveSet:
    """Fit every channel's curve and the shared demand; ``samples`` posterior draws per parameter."""
    if samples < 1:
        raise OptimizerInputError(f"samples must be at least 1, got {samples}.", field="samples")
    currency = "USD"
    if "currency" in history and len(history):
        currencies = sorted(set(history["currency"].dropna().astype(str)))
        if len(currencies) > 1:
            raise OptimizerInputError(
                f"The history mixes currencies ({', '.join(currencies)}); convert it to one currency first.",
                field="currency",
            )
        currency = currencies[0] if currencies else currency
    series, dates = _daily_series(history)
    n_days = len(dates)
    weekdays = dates.day_of_week.to_numpy()
    offsets = np.arange(n_days, dtype=float) - (n_days - 1)
    demand = _Demand(np.zeros(7), np.zeros(DEMAND_DEGREE), max(n_days - 1, 1))
    fits: dict[str, np.ndarray] = {}
    problems: dict[str, _ChannelProblem] = {}
    for _ in range(_DEMAND_ROUNDS):
        log_demand = demand.log_factor(weekdays, offsets)
        for s in series:
            problem = _ChannelProblem(s, log_demand)
            if s.key in problems:
                problem.sigma = problems[s.key].sigma
            problems[s.key] = problem
            fits[s.key] = problem.fit(fits.get(s.key))
        previous, demand = demand, _fit_demand(series, fits, problems, weekdays)
        moved = np.abs(np.concatenate([demand.log_weekly - previous.log_weekly, demand.smooth - previous.smooth]))
        if moved.max() < 2e-3:  # the alternation has settled: a further round moves no day's demand by 0.2%
            break
    log_demand = demand.log_factor(weekdays, offsets)
    finals: list[tuple[_Series, _ChannelProblem, _Fit]] = []
    for s in series:
        problem = _ChannelProblem(s, log_demand)
        problem.sigma = problems[s.key].sigma
        finals.append((s, problem, problem.finish(problem.solve(fits[s.key]))))
    draws, demand_ratio = _joint_draws(finals, demand, weekdays, dates[-1].date(), samples, seed, period_days)
    margins = _margin_rates(history, skus)
    channels, diagnostics = [], {}
    for index, (s, problem, fit) in enumerate(finals):
        theta = draws[index]
        # Log-space fit gives the median curve; lognormal noise with variance σ² has mean exp(σ²/2) above it.
        beta = np.exp(problem.log_beta(theta) + fit.sigma**2 / 2) * demand_ratio
        irng = np.random.default_rng(np.random.SeedSequence([int(seed), 2, index]))
        active = s.spend[-period_days:]
        channels.append(
            ChannelCurve(
                retailer=s.retailer,
                placement_type=s.placement_type,
                beta=beta,
                half_saturation=np.exp(theta[:, 1]),
                shape=_shape_of(theta[:, 2]),
                decay=_decay_of(theta[:, 3]),
                incrementality=_prior_draws(s.placement_type, irng, samples, priors),
                margin_rate=float(margins.get(s.key, margins.get("*", math.nan))),
                hist_daily_spend=float(active.mean()),
                hist_max_daily_spend=float(s.spend.max()),
                calibrated=False,
            )
        )
        channels[-1] = _with_incremental(
            channels[-1], channels[-1].incrementality, *_incremental_shapes(channels[-1], irng)
        )
        diagnostics[s.key] = _diagnose(s, fit, problem)
    return CurveSet(
        channels=tuple(channels),
        currency=currency,
        demand_weekly=tuple(float(w) for w in np.exp(demand.log_weekly)),
        trend_per_day=demand.trend,
        last_date=dates[-1].date(),
        diagnostics=diagnostics,
        first_date=dates[0].date(),
        observed_attributed={s.key: s.sales.copy() for s in series},
        observed_spend={s.key: s.spend.copy() for s in series},
        demand_smooth=tuple(float(c) for c in demand.smooth),
    )


def _diagnose(s: _Series, fit: _Fit, problem: _ChannelProblem) -> dict:
    y = fit.log_target[fit.mask]
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - float(np.sum(fit.residuals**2)) / total if total > 0 else 0.0
    log_beta = float(problem.log_beta(fit.theta))
    _, log_k, u, v, _ = fit.theta
    k, shape, decay = math.exp(log_k), float(_shape_of(u)), float(_decay_of(v))
    positive = s.spend[s.spend > 0]
    warnings = []
    if r2 < 0.3:
        warnings.append(f"the curve explains only {r2:.0%} of the daily variation in attributed sales")
    if k > 5 * positive.max():
        warnings.append("the curve does not bend within the spend seen: saturation is a guess from the prior")
    if (~fit.mask).sum():
        warnings.append(f"{int((~fit.mask).sum())} days with zero attributed sales were left out of the fit")
    return {
        "r2": r2,
        "n_days": int(fit.mask.sum()),
        "sigma": fit.sigma,
        "residual_autocorrelation": fit.rho,
        "spend_min": float(positive.min()),
        "spend_max": float(positive.max()),
        "beta": math.exp(log_beta + fit.sigma**2 / 2),
        "half_saturation": k,
        "shape": shape,
        "decay": decay,
        "warnings": warnings,
    }


# --- Calibration ---------------------------------------------------------------------------------------------------

_GRID = np.linspace(0.005, 3.0, 1200)


def calibrate(
    curves: CurveSet,
    lift_studies: pd.DataFrame | None,
    *,
    seed: int = 0,
    priors: Mapping[str, tuple[float, float]] | None = None,
) -> CurveSet:
    """Update each channel's incremental curve with its lift studies; channels without one keep the placement prior.

    Each posterior sample s has an incremental curve ι · A_s(r) · H_s(x) / H_s(r): ι the incremental share of
    attributed sales at the reference spend r, H_s a Hill shape (the attributed curve's own or a generic one, see
    INCREMENTAL_SAME_SHAPE). A study of window w at daily spend x_w with estimate S ± se expects
    S = ι · u_s, u_s = D_w,s · A_s(r) · H_s(x_w) / H_s(r), where D_w,s is the window's demand in days of demand 1:
    what the channel reported over the days the history covers divided by the curve at the spend it had then (or the
    fitted demand where the history has no such days). With S ~ N(ι · u_s, se²) the conditional posterior of ι is
    computed on a grid (prior × likelihood of every study of the channel) and one draw taken from it; the samples are
    then resampled by their marginal likelihood, so that shapes and levels that explain the studies (measured at
    other spends than the plan's) weigh more (tempered to keep at least a tenth of them distinct).
    """
    studies = _check_studies(curves, lift_studies)
    channels = []
    for index, curve in enumerate(curves.channels):
        own = [row for row in studies if row["key"] == curve.key]
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 3, index]))
        n = len(curve.beta)
        k_inc, h_inc = _incremental_shapes(curve, rng)
        if not own:
            iota = _prior_draws(curve.placement_type, rng, n, priors)
            channels.append(dataclasses.replace(_with_incremental(curve, iota, k_inc, h_inc), calibrated=False))
            continue
        mu, sd = _lognormal_params(curve.placement_type, priors)
        log_prior = -((np.log(_GRID) - mu) ** 2) / (2 * sd * sd) - np.log(_GRID)
        log_prior = log_prior - np.log(np.sum(np.exp(log_prior)))
        units = [_study_units(curves, curve, row, k_inc, h_inc) for row in own]
        draws = np.empty(n)
        log_evidence = np.empty(n)
        uniforms = rng.random(n)
        for s in range(n):
            log_post = log_prior.copy()
            for row, u in zip(own, units, strict=True):
                log_post -= (row["incremental_sales"] - _GRID * u[s]) ** 2 / (2 * row["se"] ** 2)
            top = log_post.max()
            weights = np.exp(log_post - top)
            log_evidence[s] = top + math.log(weights.sum())
            cdf = np.cumsum(weights)
            draws[s] = np.interp(uniforms[s] * cdf[-1], cdf, _GRID)
        calibrated = _with_incremental(curve, draws, k_inc, h_inc)
        pick = _resample(log_evidence, rng)
        daily = [row["spend"] / ((row["end"] - row["start"]).days + 1) for row in own]
        measured_at = float(np.exp(np.mean(np.log(daily)))) if all(d > 0 for d in daily) else None
        channels.append(
            dataclasses.replace(
                calibrated,
                incrementality=calibrated.incrementality[pick],
                inc_scale=calibrated.inc_scale[pick],
                inc_half_saturation=calibrated.inc_half_saturation[pick],
                inc_shape=calibrated.inc_shape[pick],
                calibrated=True,
                incrementality_spend=measured_at,
            )
        )
    return dataclasses.replace(curves, channels=tuple(channels), prior_discrepancy=_prior_discrepancy(channels, priors))


def _prior_discrepancy(channels: list[ChannelCurve], priors: Mapping | None) -> float | None:
    """Mean over the calibrated channels of z², z the studies' own estimate of log ι less the placement prior's mean,
    in sds of that difference under the model (the study's variance plus the prior's). The studies' estimate is
    the posterior divided by the prior (normal in log ι: precisions subtract). None without a calibrated channel."""
    zs = []
    for curve in channels:
        if not curve.calibrated:
            continue
        mu, sd = _lognormal_params(curve.placement_type, priors)
        logs = np.log(np.maximum(np.asarray(curve.incrementality, float), 1e-12))
        post_mean, post_var = float(logs.mean()), max(float(logs.var()), 1e-9)
        study_precision = 1.0 / post_var - 1.0 / sd**2
        if study_precision <= 1e-9:  # the studies said nothing beyond the prior
            zs.append(0.0)
            continue
        study_mean = (post_mean / post_var - mu / sd**2) / study_precision
        zs.append((study_mean - mu) ** 2 / (1.0 / study_precision + sd**2))
    return float(np.mean(zs)) if zs else None


def _reference_spend(curve: ChannelCurve) -> float:
    """The daily spend the incremental share is stated at: the history's recent daily spend (half the highest seen
    where the channel was paused lately)."""
    recent = float(curve.hist_daily_spend)
    return recent if recent > 0 else max(float(curve.hist_max_daily_spend) / 2, 1e-9)


def _incremental_shapes(curve: ChannelCurve, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per sample the incremental curve's half saturation and Hill exponent (see INCREMENTAL_SAME_SHAPE)."""
    n = len(curve.beta)
    r = _reference_spend(curve)
    same = rng.random(n) < INCREMENTAL_SAME_SHAPE
    generic_k = r * np.exp(INCREMENTAL_K_LOG_SD * rng.standard_normal(n))
    generic_h = rng.uniform(*INCREMENTAL_SHAPE_RANGE, n)
    return (
        np.where(same, np.asarray(curve.half_saturation, float), generic_k),
        np.where(same, np.asarray(curve.shape, float), generic_h),
    )


def _with_incremental(curve: ChannelCurve, iota, k_inc, h_inc) -> ChannelCurve:
    """The curve with incremental sales iota · attributed(r) at the reference spend r, shaped by (k_inc, h_inc)."""
    r = _reference_spend(curve)
    iota = np.asarray(iota, float)
    at_r = curve.attributed(r)[:, 0]
    scale = iota * at_r / np.maximum(_hill(np.full(len(iota), r), k_inc, h_inc), 1e-300)
    return dataclasses.replace(
        curve, incrementality=iota, inc_scale=scale, inc_half_saturation=k_inc, inc_shape=h_inc, reference_spend=r
    )


def _resample(log_weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Systematic resampling by the weights, tempered until the effective sample size is at least a tenth."""
    n = len(log_weights)
    temper = 1.0
    for _ in range(30):
        w = np.exp(temper * (log_weights - log_weights.max()))
        w = w / w.sum()
        if 1.0 / np.sum(w**2) >= n / 10:
            break
        temper *= 0.7
    positions = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(w), positions), n - 1)


def uncalibrated(curves: CurveSet) -> CurveSet:
    """Incrementality 1: trusts attributed sales as retailers report them (the baseline to beat)."""
    channels = tuple(
        dataclasses.replace(
            c,
            incrementality=np.ones_like(c.beta),
            calibrated=False,
            inc_scale=None,
            inc_half_saturation=None,
            inc_shape=None,
        )
        for c in curves.channels
    )
    return dataclasses.replace(curves, channels=channels)


def _check_studies(curves: CurveSet, lift_studies: pd.DataFrame | None) -> list[dict]:
    if lift_studies is None or len(lift_studies) == 0:
        return []
    known = [c.key for c in curves.channels]
    rows = []
    for i, row in enumerate(lift_studies.to_dict("records"), start=1):
        key = f"{row['retailer']}|{row['placement_type']}"
        label = f"Lift study {i} ({key}, {_day(row['start_date'])} to {_day(row['end_date'])})"
        if key not in known:
            raise OptimizerInputError(
                f"{label} is for a channel with no history; the history has {', '.join(known)}.",
                field="lift_studies",
                details={"row": i, "channel": key},
            )
        se = float(row["incremental_sales_se"])
        if not math.isfinite(se) or se <= 0:
            raise OptimizerInputError(
                f"{label}: incremental_sales_se must be a positive number, got {row['incremental_sales_se']}.",
                field="lift_studies",
                details={"row": i},
            )
        start, end = _day(row["start_date"]), _day(row["end_date"])
        if end < start:
            raise OptimizerInputError(f"{label}: end_date is before start_date.", field="lift_studies")
        spend = float(row["spend"])
        if not math.isfinite(spend) or spend < 0:
            raise OptimizerInputError(f"{label}: spend must be a non-negative number, got {row['spend']}.")
        rows.append(
            {
                "key": key,
                "start": start,
                "end": end,
                "spend": spend,
                "incremental_sales": float(row["incremental_sales"]),
                "se": se,
            }
        )
    return rows


def _day(value) -> dt.date:
    return pd.Timestamp(value).date()


def _study_units(curves: CurveSet, curve: ChannelCurve, row: dict, k_inc, h_inc) -> np.ndarray:
    """Per curve sample, the study's incremental sales per unit of incremental share ι (see calibrate)."""
    days = [row["start"] + dt.timedelta(days=k) for k in range((row["end"] - row["start"]).days + 1)]
    observed = curves.observed_attributed.get(curve.key)
    spend = curves.observed_spend.get(curve.key)
    covered_sales, covered_spend, covered, missing = 0.0, 0.0, [], []
    for day in days:
        offset = (day - curves.first_date).days if curves.first_date is not None else -1
        if observed is not None and 0 <= offset < len(observed):
            covered_sales += float(observed[offset])
            covered_spend += float(spend[offset]) if spend is not None and offset < len(spend) else math.nan
            covered.append(day)
        else:
            missing.append(day)
    r = _reference_spend(curve)
    demand = np.full(len(curve.beta), float(curves.demand(missing).sum()) if missing else 0.0)
    if covered:
        x_then = covered_spend / len(covered)
        fitted = float(curves.demand(covered).sum())
        if math.isfinite(x_then) and x_then > 0.05 * r and covered_sales > 0:
            # The days' demand as the channel's own reports show it: sales over the curve at the spend it had then.
            then = curve.attributed(x_then)[:, 0]
            demand = demand + np.where(then > 0, covered_sales / np.maximum(then, 1e-300), fitted)
        else:
            demand = demand + fitted
    x_study = row["spend"] / len(days)
    at_r = curve.attributed(r)[:, 0]
    shape_ratio = _hill(np.full(len(k_inc), x_study), k_inc, h_inc) / np.maximum(
        _hill(np.full(len(k_inc), r), k_inc, h_inc), 1e-300
    )
    return demand * at_r * shape_ratio

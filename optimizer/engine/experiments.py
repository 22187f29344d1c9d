"""Experiments beside geo tests: switchbacks, audience holdouts, CUPED, and the lift-study estimate every readout gives.

* Switchback: the channel alternates between on and off blocks of ``block_days``; blocks come in pairs with one on
  and one off in random order (balanced, randomized), and the first ``washout_days`` of every block are excluded
  because the previous block's ads still carry over (adstock). The readout compares on and off block means pair by
  pair (t on ``pairs - 1`` degrees of freedom): blocks, not days, are the units of inference.
* Holdout: users (or audiences) are held out at random with ``holdout_share``; the design gives the sample size for
  an MDE from the historical variance of the per-user outcome (and the CUPED correlation, when a pre-period outcome
  exists); the readout is the difference in means, CUPED-adjusted, with a Welch interval.
* CUPED: ``y - theta * (x - mean(x))`` with ``theta = cov(y, x) / var(x)``; it keeps the mean and cuts the variance
  by the factor ``1 - rho^2``.

Every readout converts to a :class:`LiftStudyEstimate`, which ``optimizer.services.experiments`` saves as a LiftStudy.
Geo tests live in :mod:`optimizer.engine.geo`. Plain numpy/scipy, no Django.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

# scipy is imported inside the functions that use it: the web process loads this module at start-up.
from optimizer.engine.errors import OptimizerInputError
from optimizer.engine.geo import check_probabilities, mde_from_placebos, pair_estimate


@dataclass(frozen=True)
class LiftStudyEstimate:
    """An experiment's result in the lift-study contract (L.csv / optimizer.services.lift_studies.lift_study_create)."""

    retailer: str
    placement_type: str
    start_date: dt.date
    end_date: dt.date
    spend: float
    incremental_sales: float
    incremental_sales_se: float
    method: str  # a LiftStudy.Method value: geo_matched_markets, switchback, rct_holdout, ...

    def to_dict(self) -> dict:
        data = asdict(self)
        data["start_date"] = self.start_date.isoformat()
        data["end_date"] = self.end_date.isoformat()
        return data


# --- CUPED ------------------------------------------------------------------------------------------------------


def cuped_adjust(y: np.ndarray, x: np.ndarray, *, theta: float | None = None) -> tuple[np.ndarray, float]:
    """CUPED: ``y - theta * (x - mean(x))``; theta defaults to ``cov(y, x) / var(x)`` on the data given."""
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    if y.shape != x.shape:
        raise OptimizerInputError(f"CUPED needs one pre-period value per outcome; got {x.shape} for {y.shape}.")
    xc = x - x.mean()
    if theta is None:
        var = float(xc @ xc)
        theta = float(xc @ (y - y.mean()) / var) if var > 0 else 0.0
    return y - theta * xc, float(theta)


# --- Holdouts ---------------------------------------------------------------------------------------------------


def _z(alpha: float, power: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def holdout_mde(
    *, outcome_sd: float, n_total: int, holdout_share: float, alpha: float = 0.10, power: float = 0.80, rho: float = 0.0
) -> float:
    """Smallest difference in mean outcome per user detected with ``power`` (two-sided ``alpha``)."""
    _check_holdout(outcome_sd=outcome_sd, holdout_share=holdout_share, rho=rho)
    check_probabilities(alpha, power)
    if n_total < 4:
        raise OptimizerInputError(f"A holdout needs at least 4 users; got {n_total}.", field="audience_size")
    var = outcome_sd**2 * (1 - rho**2) * (1 / (n_total * (1 - holdout_share)) + 1 / (n_total * holdout_share))
    return _z(alpha, power) * float(np.sqrt(var))


def holdout_sample_size(
    *, outcome_sd: float, mde: float, holdout_share: float, alpha: float = 0.10, power: float = 0.80, rho: float = 0.0
) -> int:
    """Users needed in total (exposed + held out) for ``mde`` per user."""
    _check_holdout(outcome_sd=outcome_sd, holdout_share=holdout_share, rho=rho)
    check_probabilities(alpha, power)
    if mde <= 0:
        raise OptimizerInputError(f"The MDE must be positive; got {mde}.", field="mde")
    f = holdout_share
    n = (_z(alpha, power) * outcome_sd / mde) ** 2 * (1 - rho**2) * (1 / (1 - f) + 1 / f)
    return int(np.ceil(n))


def _check_holdout(*, outcome_sd: float, holdout_share: float, rho: float) -> None:
    if not outcome_sd > 0:
        raise OptimizerInputError(
            f"The per-user outcome standard deviation must be positive; got {outcome_sd}.", field="outcome_sd"
        )
    if not 0 < holdout_share < 1:
        raise OptimizerInputError(f"holdout_share must be between 0 and 1; got {holdout_share}.", field="holdout_share")
    if not -1 < rho < 1:
        raise OptimizerInputError(f"The pre/post correlation must be in (-1, 1); got {rho}.", field="rho")


def assign_holdout(user_ids: Sequence[str], *, holdout_share: float, salt: str) -> np.ndarray:
    """True for held-out users: a stable hash of (salt, user id), so the same user stays in the same group."""
    out = np.empty(len(user_ids), dtype=bool)
    for i, uid in enumerate(user_ids):
        h = hashlib.sha256(f"{salt}:{uid}".encode()).digest()
        out[i] = int.from_bytes(h[:8], "big") / 2**64 < holdout_share
    return out


@dataclass(frozen=True)
class HoldoutReadout:
    """Difference in mean outcome per user, exposed minus held out (CUPED-adjusted when a pre-period is given)."""

    effect_per_user: float
    se_per_user: float
    interval_per_user: tuple[float, float]
    alpha: float
    p_value: float
    n_exposed: int
    n_holdout: int
    theta: float
    variance_reduction: float  # 1 - var(adjusted) / var(raw); about rho^2
    incremental_sales: float  # effect_per_user * n_exposed
    incremental_sales_se: float

    def to_dict(self) -> dict:
        data = asdict(self)
        data["interval_per_user"] = list(self.interval_per_user)
        return data


def readout_holdout(
    outcome: np.ndarray, held_out: np.ndarray, *, pre_outcome: np.ndarray | None = None, alpha: float = 0.10
) -> HoldoutReadout:
    from scipy import stats

    y = np.asarray(outcome, dtype=float)
    h = np.asarray(held_out, dtype=bool)
    if y.shape != h.shape:
        raise OptimizerInputError("Each user needs an outcome and a group.", field="data")
    n_c, n_t = int(h.sum()), int((~h).sum())
    if n_c < 2 or n_t < 2:
        raise OptimizerInputError(
            f"A holdout readout needs at least 2 users in each group; got {n_t} exposed and {n_c} held out.",
            field="data",
        )
    theta, reduction = 0.0, 0.0
    adj = y
    if pre_outcome is not None:
        adj, theta = cuped_adjust(y, pre_outcome)
        raw = y.var(ddof=1)
        reduction = float(1 - adj.var(ddof=1) / raw) if raw > 0 else 0.0
    a, b = adj[~h], adj[h]
    diff = float(a.mean() - b.mean())
    va, vb = a.var(ddof=1) / n_t, b.var(ddof=1) / n_c
    se = float(np.sqrt(va + vb))
    df = (va + vb) ** 2 / (va**2 / (n_t - 1) + vb**2 / (n_c - 1)) if va + vb > 0 else n_t + n_c - 2
    crit = float(stats.t.ppf(1 - alpha / 2, df))
    p = float(2 * stats.t.sf(abs(diff) / se, df)) if se > 0 else 0.0
    return HoldoutReadout(
        effect_per_user=diff,
        se_per_user=se,
        interval_per_user=(diff - crit * se, diff + crit * se),
        alpha=alpha,
        p_value=p,
        n_exposed=n_t,
        n_holdout=n_c,
        theta=theta,
        variance_reduction=reduction,
        incremental_sales=diff * n_t,
        incremental_sales_se=se * n_t,
    )


# --- Switchbacks ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SwitchbackDesign:
    """Blocks of ``block_days`` in pairs (one on, one off, random order); the first ``washout_days`` of every block
    are excluded from the readout. ``arms[i]`` is True when block ``i`` is on."""

    start_date: dt.date
    block_days: int
    washout_days: int
    arms: tuple[bool, ...]
    alpha: float
    power: float
    mde: float | None  # per day, from placebo schedules on the history (None without history)
    mde_relative: float | None
    baseline_daily: float | None
    seed: int
    dropped_days: int  # days at the end of the window that do not fill a block pair

    @property
    def days(self) -> int:
        return self.block_days * len(self.arms)

    @property
    def end_date(self) -> dt.date:
        return self.start_date + dt.timedelta(days=self.days - 1)

    def schedule(self) -> list[dict]:
        """One row per day: date, block, arm ("on"/"off"), washout (excluded from the readout)."""
        rows = []
        for i in range(self.days):
            block = i // self.block_days
            rows.append(
                {
                    "date": (self.start_date + dt.timedelta(days=i)).isoformat(),
                    "block": block,
                    "arm": "on" if self.arms[block] else "off",
                    "washout": i % self.block_days < self.washout_days,
                }
            )
        return rows

    def to_dict(self) -> dict:
        data = asdict(self)
        data["start_date"] = self.start_date.isoformat()
        data["end_date"] = self.end_date.isoformat()
        data["arms"] = ["on" if a else "off" for a in self.arms]
        data["schedule"] = self.schedule()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> SwitchbackDesign:
        names = cls.__dataclass_fields__
        kw = {k: v for k, v in data.items() if k in names}
        kw["start_date"] = dt.date.fromisoformat(kw["start_date"])
        kw["arms"] = tuple(a == "on" if isinstance(a, str) else bool(a) for a in kw["arms"])
        return cls(**kw)


def _block_means(y: np.ndarray, *, block_days: int, washout_days: int) -> np.ndarray:
    """Mean outcome of every block's days after the washout, for series (..., days) -> (..., blocks)."""
    n_blocks = y.shape[-1] // block_days
    blocks = y[..., : n_blocks * block_days].reshape(*y.shape[:-1], n_blocks, block_days)
    return blocks[..., washout_days:].mean(axis=-1)


def _switchback_estimate(means: np.ndarray, arms: np.ndarray) -> tuple[np.ndarray, ...]:
    """On-minus-off per block pair, averaged; (..., blocks) means and (..., blocks) bool arms."""
    on = np.where(arms[..., 0::2], means[..., 0::2], means[..., 1::2])
    off = np.where(arms[..., 0::2], means[..., 1::2], means[..., 0::2])
    d = on - off
    return pair_estimate(d, np.zeros_like(d))


def design_switchback(
    *,
    start_date: dt.date,
    days: int,
    block_days: int = 7,
    washout_days: int = 2,
    history: np.ndarray | None = None,
    alpha: float = 0.10,
    power: float = 0.80,
    n_placebo: int = 2000,
    seed: int = 0,
) -> SwitchbackDesign:
    """A balanced randomized switchback schedule, with its MDE from placebo schedules laid over ``history``.

    ``history`` is the channel's daily outcome before the test (oldest first). A block length that is a multiple of 7
    keeps the weekdays balanced between on and off.
    """
    check_probabilities(alpha, power)
    if block_days < 1 or not 0 <= washout_days < block_days:
        raise OptimizerInputError(
            f"The washout ({washout_days} days) must be shorter than a block ({block_days} days) and not negative.",
            field="washout_days",
        )
    n_pairs = days // (2 * block_days)
    if n_pairs < 3:
        raise OptimizerInputError(
            f"A switchback of {days} days with {block_days}-day blocks has {n_pairs} on/off block pairs; it needs at "
            f"least 3 (at least {6 * block_days} days) for an interval. Lengthen the test or shorten the blocks.",
            field="end_date",
        )
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 9107]))
    first_on = rng.random(n_pairs) < 0.5
    arms = tuple(bool(x) for f in first_on for x in (f, not f))
    mde = mde_rel = baseline = None
    if history is not None:
        mde, baseline = _switchback_mde(
            np.asarray(history, dtype=float),
            block_days=block_days,
            washout_days=washout_days,
            n_pairs=n_pairs,
            alpha=alpha,
            power=power,
            n_placebo=n_placebo,
            rng=rng,
        )
        mde_rel = mde / baseline if baseline and baseline > 0 else None
    return SwitchbackDesign(
        start_date=start_date,
        block_days=block_days,
        washout_days=washout_days,
        arms=arms,
        alpha=alpha,
        power=power,
        mde=mde,
        mde_relative=mde_rel,
        baseline_daily=baseline,
        seed=seed,
        dropped_days=days - 2 * n_pairs * block_days,
    )


def _switchback_mde(
    history: np.ndarray,
    *,
    block_days: int,
    washout_days: int,
    n_pairs: int,
    alpha: float,
    power: float,
    n_placebo: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    length = 2 * n_pairs * block_days
    if history.size < length + block_days:
        raise OptimizerInputError(
            f"The channel has {history.size} days of history; placebo power for a {length}-day switchback needs at "
            f"least {length + block_days}.",
            field="history",
            details={"history_days": int(history.size), "needed": length + block_days},
        )
    if not np.isfinite(history).all() or history.std() == 0:
        raise OptimizerInputError(
            "The channel's outcome history never varies (or has gaps), so the switchback's power cannot be "
            "estimated from it; upload an outcome history.",
            field="history",
        )
    starts = rng.integers(0, history.size - length + 1, n_placebo)
    windows = history[starts[:, None] + np.arange(length)[None, :]]
    means = _block_means(windows, block_days=block_days, washout_days=washout_days)
    first_on = rng.random((n_placebo, n_pairs)) < 0.5
    arms = np.stack([first_on, ~first_on], axis=-1).reshape(n_placebo, 2 * n_pairs)
    est, se, df = _switchback_estimate(means, arms)
    mde, _ = mde_from_placebos(est, se, df, alpha=alpha, power=power)
    return mde, float(history.mean())


@dataclass(frozen=True)
class SwitchbackReadout:
    effect_per_day: float  # on-day minus off-day outcome, after the washout
    se_per_day: float
    interval_per_day: tuple[float, float]
    alpha: float
    p_value: float
    pairs: int
    on_days: int  # every on day, washout included (the ads ran on all of them)
    incremental_sales: float  # effect_per_day * on_days
    incremental_sales_se: float
    on_spend: float | None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["interval_per_day"] = list(self.interval_per_day)
        return data


def readout_switchback(
    design: SwitchbackDesign, outcome: np.ndarray, *, spend: np.ndarray | None = None, alpha: float | None = None
) -> SwitchbackReadout:
    """Read out a switchback from the daily outcome over the design's days (oldest first)."""
    from scipy import stats

    alpha = design.alpha if alpha is None else alpha
    y = np.asarray(outcome, dtype=float)
    if y.shape != (design.days,):
        raise OptimizerInputError(
            f"The switchback readout needs one outcome for each of its {design.days} days "
            f"({design.start_date} to {design.end_date}); got {y.size}.",
            field="data",
        )
    arms = np.array(design.arms)
    means = _block_means(y, block_days=design.block_days, washout_days=design.washout_days)
    est, se, df = (float(v) for v in _switchback_estimate(means, arms))
    crit = float(stats.t.ppf(1 - alpha / 2, df))
    on_days = int(arms.sum()) * design.block_days
    on_mask = np.repeat(arms, design.block_days)
    return SwitchbackReadout(
        effect_per_day=est,
        se_per_day=se,
        interval_per_day=(est - crit * se, est + crit * se),
        alpha=alpha,
        p_value=float(2 * stats.t.sf(abs(est) / se, df)) if se > 0 else 0.0,
        pairs=len(arms) // 2,
        on_days=on_days,
        incremental_sales=est * on_days,
        incremental_sales_se=se * on_days,
        on_spend=None if spend is None else float(np.asarray(spend, dtype=float)[on_mask].sum()),
    )

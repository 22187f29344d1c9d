"""Geo tests: matched-market design, placebo power and MDE, difference-in-differences readout, a panel simulator.

A geo test turns ads on in some regions ("treated") and leaves matched regions as controls. The design sorts geos by
their level in history, pairs neighbours, and flips a fair coin inside each pair. The readout compares each pair's
treated and control geo during the test against the pre-period:

* ``scaled`` (default): ``d_p = post_t - k_p * post_c`` with ``k_p = pre_t / pre_c``, the control scaled to the
  treated geo's pre-period level (a difference in differences on the scale of the treated geo: seasonality that
  multiplies every geo cancels even when the two geos differ in size).
* ``did``: the additive difference in differences, ``d_p = (post_t - post_c) - (pre_t - pre_c)``.
* CUPED (on by default): ``d_p - theta * x_p`` where ``x_p`` is the same contrast over the last weeks of the
  pre-period and ``theta = cov(d, x) / var(x)`` is fitted on placebo windows of the history, never on the test.

The estimate is the mean over pairs, per treated geo and test day; its standard error ``sd / sqrt(P)`` with a t on
``P - 1`` degrees of freedom treats pairs, the units of randomization, as independent (days are not: AR noise).
``bench/geo_bench.py`` checks its A/A false positive rate, interval coverage and power at the stated MDE on 500
simulated tests (docs/benchmarks.md, section geo).

Power and MDE come from placebo tests on the tenant's own history: windows of (pre_days + test_days) drawn from the
history, fresh coin flips inside the same pairs, a fake effect ``d`` added to the treated geos' test days. The
estimate shifts by exactly ``d`` and the standard error does not move, so the detection rate at every ``d`` follows
from one set of placebo readouts. Because all placebos come from one history, each is rescaled by a draw of the
uncertainty of the noise scale (see :func:`design_geo_arrays`), so the stated MDE holds on average.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import numpy as np

# scipy is imported inside the functions that use it: the web process loads this module at start-up.
import pandas as pd

from optimizer.engine.errors import OptimizerInputError

GEO_METHODS = ("scaled", "did")


@dataclass(frozen=True)
class GeoPanel:
    """Daily outcomes (and optionally spend) per geo: arrays of shape (geos, days) over consecutive dates."""

    geos: tuple[str, ...]
    dates: tuple[dt.date, ...]
    outcome: np.ndarray
    spend: np.ndarray | None = None

    def window(self, start: dt.date, end: dt.date) -> GeoPanel:
        """The days from ``start`` to ``end`` inclusive."""
        idx = [i for i, d in enumerate(self.dates) if start <= d <= end]
        if not idx:
            raise OptimizerInputError(f"The geo panel has no days between {start} and {end}.", field="panel")
        sl = slice(idx[0], idx[-1] + 1)
        return GeoPanel(
            self.geos,
            self.dates[sl],
            self.outcome[:, sl],
            None if self.spend is None else self.spend[:, sl],
        )


def panel_from_frame(frame: pd.DataFrame) -> GeoPanel:
    """A panel from rows ``date,geo,outcome[,spend]``: one row per geo and day, every geo on every day."""
    missing = [c for c in ("date", "geo", "outcome") if c not in frame.columns]
    if missing:
        raise OptimizerInputError(
            f"The geo panel is missing column(s) {', '.join(missing)}; expected date,geo,outcome[,spend].",
            field="panel",
        )
    df = frame.copy()
    try:
        df["date"] = pd.to_datetime(df["date"]).dt.date
    except (ValueError, TypeError) as exc:
        raise OptimizerInputError(f"The geo panel has a date that is not a date: {exc}.", field="panel") from None
    df["geo"] = df["geo"].astype(str)
    cols = ["outcome"] + (["spend"] if "spend" in df.columns else [])
    for col in cols:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise OptimizerInputError(
                f"The geo panel's {col} on line {row + 2} ({df['geo'].iloc[row]}, {df['date'].iloc[row]}) is not a "
                f"number: {frame[col].iloc[row]!r}.",
                field="panel",
            )
        df[col] = values.astype(float)
    dup = df.duplicated(["date", "geo"])
    if dup.any():
        row = df[dup].iloc[0]
        raise OptimizerInputError(f"The geo panel has two rows for {row['geo']} on {row['date']}.", field="panel")
    geos = tuple(sorted(df["geo"].unique()))
    first, last = min(df["date"]), max(df["date"])
    dates = tuple(first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    wide = df.pivot(index="geo", columns="date", values="outcome").reindex(index=list(geos), columns=list(dates))
    if wide.isna().any().any():
        geo_i, day_i = np.argwhere(wide.isna().to_numpy())[0]
        raise OptimizerInputError(
            f"The geo panel has no outcome for {geos[geo_i]} on {dates[day_i]}; every geo needs every day from "
            f"{first} to {last}.",
            field="panel",
        )
    spend = None
    if "spend" in df.columns:
        spend = df.pivot(index="geo", columns="date", values="spend").reindex(index=list(geos), columns=list(dates))
        spend = spend.fillna(0.0).to_numpy(dtype=float)
    return GeoPanel(geos, dates, wide.to_numpy(dtype=float), spend)


# --- Pair-level estimator (vectorized over leading axes) ------------------------------------------------------------


def pair_contrasts(means: dict[str, np.ndarray], *, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair outcome contrast ``d`` and CUPED covariate ``x`` from window means of treated (t) and control (c).

    ``means`` holds ``pre_t, pre_c`` (pre-period), ``rec_t, rec_c`` (its last weeks) and ``post_t, post_c`` (test),
    arrays of shape (..., P). ``scaled``: ``d = post_t - k * post_c`` with ``k = pre_t / pre_c``, the control scaled
    to the treated geo's pre-period level, so seasonality that multiplies every geo cancels even between geos of
    different size. ``did``: ``d = (post_t - post_c) - (pre_t - pre_c)``. ``x`` is the same contrast over the recent
    weeks, which predicts where the pair is drifting (AR noise, diverging trends).
    """
    if method == "scaled":
        k = means["pre_t"] / np.where(means["pre_c"] > 0, means["pre_c"], np.nan)
        d = means["post_t"] - k * means["post_c"]
        x = means["rec_t"] - k * means["rec_c"]
        if np.isnan(d).any():
            raise OptimizerInputError("A control geo has no outcome in the pre-period; its pair cannot be scaled.")
    elif method == "did":
        base = means["pre_t"] - means["pre_c"]
        d = means["post_t"] - means["post_c"] - base
        x = means["rec_t"] - means["rec_c"] - base
    else:
        raise OptimizerInputError(f"Unknown geo readout method {method!r}; use one of {', '.join(GEO_METHODS)}.")
    return d, x


def pair_estimate(d: np.ndarray, x: np.ndarray, *, theta: float | np.ndarray = 0.0) -> tuple[np.ndarray, ...]:
    """Effect per treated geo and test day: ``mean(d - theta * x)`` over pairs, shape (..., P) -> (...).

    The standard error is ``sd / sqrt(P)`` with ``P - 1`` degrees of freedom: pairs are independent units of
    randomization. CUPED's theta comes from the history (:func:`cuped_theta`), never from the test days, so an effect
    that grows with a geo's size cannot leak into it. Returns (estimate, standard error, degrees of freedom).
    """
    theta = np.asarray(theta, dtype=float)
    adj = np.asarray(d, dtype=float) - (theta[..., None] if theta.ndim else theta) * np.asarray(x, dtype=float)
    n = adj.shape[-1]
    est = adj.mean(axis=-1)
    se = adj.std(axis=-1, ddof=1) / np.sqrt(n)
    return est, se, np.full(est.shape, n - 1.0)


def cuped_theta(x: np.ndarray, y: np.ndarray) -> float:
    """``theta = cov(y, x) / var(x)`` pooled over all values given."""
    xc = np.ravel(x) - np.mean(x)
    yc = np.ravel(y) - np.mean(y)
    sxx = float(xc @ xc)
    return float(xc @ yc / sxx) if sxx > 0 else 0.0


def power_curve(est: np.ndarray, se: np.ndarray, df: np.ndarray, effects: np.ndarray, *, alpha: float) -> np.ndarray:
    """Share of placebo readouts that detect a true effect ``d``: two-sided test at ``alpha``, estimate above 0."""
    from scipy import stats

    crit = stats.t.ppf(1 - alpha / 2, df)
    z = (est[:, None] + np.asarray(effects)[None, :]) / np.maximum(se, 1e-300)[:, None]
    return (z > crit[:, None]).mean(axis=0)


def mde_from_placebos(
    est: np.ndarray, se: np.ndarray, df: np.ndarray, *, alpha: float, power: float, grid: int = 400
) -> tuple[float, list[tuple[float, float]]]:
    """Smallest effect whose placebo detection rate reaches ``power``, and the power curve it was read from."""
    from scipy import stats

    crit = float(np.median(stats.t.ppf(1 - alpha / 2, df)))
    scale = float(np.median(se))
    top = (crit + 6.0) * scale + float(np.max(np.abs(est)))
    effects = np.linspace(0.0, top, grid + 1)[1:]
    curve = power_curve(est, se, df, effects, alpha=alpha)
    reached = np.flatnonzero(curve >= power)
    mde = float(effects[reached[0]]) if reached.size else float("inf")
    thin = np.unique(np.linspace(0, grid - 1, 21).astype(int))
    return mde, [(float(effects[i]), float(curve[i])) for i in thin]


# --- Design -----------------------------------------------------------------------------------------------------


def match_pairs(history: np.ndarray) -> tuple[list[tuple[int, int]], list[int]]:
    """Matched pairs: geos sorted by their mean daily outcome over the history, neighbours paired.

    Pairing by level (and not by how closely two geos co-moved in history) is deliberate: a criterion fitted to
    the history's noise picks pairs that were lucky in-sample, so the placebo power on that same history would
    overstate the real test's (the benchmark measured 20% larger standard errors in the test than in the placebos).
    The level is mostly the geo's size, which carries over. With an odd count the smallest geo stays unassigned.
    """
    y = np.asarray(history, dtype=float)
    order = [int(i) for i in np.argsort(-y.mean(axis=1), kind="stable")]
    pairs = [(order[i], order[i + 1]) for i in range(0, len(order) - 1, 2)]
    return pairs, order[2 * len(pairs) :]


def window_means(
    y: np.ndarray, starts: np.ndarray, *, pre_days: int, recent_days: int, test_days: int
) -> dict[str, np.ndarray]:
    """Mean daily outcome per geo over the pre-period, its last ``recent_days`` and the test, for each window start.

    ``y`` is (geos, days); a window starting at ``s`` has its pre-period on days ``s .. s+pre_days-1``. Returns arrays
    of shape (geos, len(starts)) under ``pre``, ``rec``, ``post``.
    """
    cs = np.concatenate([np.zeros((*y.shape[:-1], 1)), np.cumsum(y, axis=-1)], axis=-1)
    starts = np.asarray(starts)
    cut = starts + pre_days
    return {
        "pre": (cs[..., cut] - cs[..., starts]) / pre_days,
        "rec": (cs[..., cut] - cs[..., cut - recent_days]) / recent_days,
        "post": (cs[..., cut + test_days] - cs[..., cut]) / test_days,
    }


def pair_means(w: dict[str, np.ndarray], t: np.ndarray, c: np.ndarray) -> dict[str, np.ndarray]:
    """Window means of :func:`window_means` for treated geos ``t`` and controls ``c``: ``pre_t``, ``pre_c``, ...

    ``t``/``c`` are geo indices per pair, (P,) or (P, windows) when each window has its own coin flips.
    """
    out = {}
    for key, arr in w.items():
        out[f"{key}_t"] = np.take_along_axis(arr, t, axis=0) if t.ndim == 2 else arr[t]
        out[f"{key}_c"] = np.take_along_axis(arr, c, axis=0) if c.ndim == 2 else arr[c]
    return out


def placebo_readouts(
    history: np.ndarray,
    pairs: list[tuple[int, int]],
    *,
    pre_days: int,
    recent_days: int,
    test_days: int,
    n_placebo: int,
    rng: np.random.Generator,
    method: str,
    cuped: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Readouts of fake tests on history windows, with fresh coin flips inside the same pairs and no effect.

    Returns (estimates, standard errors, degrees of freedom, theta, effective number of pairs). CUPED's theta is
    fitted on every window of the history (the recent-weeks contrast against the following test-length contrast);
    without CUPED it is 0.
    """
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    windows = history.shape[1] - pre_days - test_days + 1
    theta = 0.0
    if cuped:
        w = window_means(history, np.arange(windows), pre_days=pre_days, recent_days=recent_days, test_days=test_days)
        d, x = pair_contrasts(pair_means(w, a, b), method=method)
        theta = cuped_theta(x, d)
    starts = rng.integers(0, windows, n_placebo)
    w = window_means(history, starts, pre_days=pre_days, recent_days=recent_days, test_days=test_days)
    swap = rng.random((len(pairs), n_placebo)) < 0.5
    t = np.where(swap, b[:, None], a[:, None])
    c = np.where(swap, a[:, None], b[:, None])
    d, x = pair_contrasts(pair_means(w, t, c), method=method)  # (P, n)
    est, se, df = pair_estimate(d.T, x.T, theta=theta)
    # How many pairs the noise really rests on: a few big geos can carry most of it (Kish's effective count).
    share = np.mean((d - theta * x) ** 2, axis=1)
    effective_pairs = float(share.sum() ** 2 / max(float((share**2).sum()), 1e-300))
    return est, se, df, theta, effective_pairs


@dataclass(frozen=True)
class GeoDesign:
    """A matched-market geo test: who is treated, the pre-period the readout compares against, power and MDE.

    ``mde`` is the smallest true effect per treated geo and test day detected with probability ``power`` at ``alpha``
    (two-sided), from ``n_placebo`` placebo tests on the history; ``mde_total`` is the same over all treated geos and
    test days, ``mde_relative`` as a share of the treated geos' mean daily outcome.
    """

    pairs: tuple[tuple[str, str], ...]  # (treated, control)
    unassigned: tuple[str, ...]
    test_days: int
    pre_days: int
    recent_days: int
    alpha: float
    power: float
    method: str
    cuped: bool
    theta: float  # CUPED weight of the recent-weeks contrast, fitted on the history (0 without CUPED)
    mde: float
    mde_total: float
    mde_relative: float | None
    baseline_daily: float  # mean daily outcome of one treated geo in the history
    n_placebo: int
    history_days: int
    seed: int
    power_curve: tuple[tuple[float, float], ...] = field(default=())

    @property
    def treated(self) -> tuple[str, ...]:
        return tuple(p[0] for p in self.pairs)

    @property
    def control(self) -> tuple[str, ...]:
        return tuple(p[1] for p in self.pairs)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["pairs"] = [list(p) for p in self.pairs]
        data["unassigned"] = list(self.unassigned)
        data["power_curve"] = [list(p) for p in self.power_curve]
        data["treated"] = list(self.treated)
        data["control"] = list(self.control)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> GeoDesign:
        names = cls.__dataclass_fields__
        kw = {k: v for k, v in data.items() if k in names}
        kw["pairs"] = tuple(tuple(p) for p in kw["pairs"])
        kw["unassigned"] = tuple(kw.get("unassigned", ()))
        kw["power_curve"] = tuple(tuple(p) for p in kw.get("power_curve", ()))
        return cls(**kw)


def check_probabilities(alpha: float, power: float) -> None:
    if not 0 < alpha < 0.5:
        raise OptimizerInputError(f"alpha must be between 0 and 0.5, got {alpha}.", field="alpha")
    if not 0.5 <= power < 1:
        raise OptimizerInputError(f"power must be between 0.5 and 1, got {power}.", field="power")


def design_geo_arrays(
    history: np.ndarray,
    *,
    test_days: int,
    pre_days: int | None = None,
    alpha: float = 0.10,
    power: float = 0.80,
    n_placebo: int = 500,
    method: str = "scaled",
    cuped: bool = True,
    seed: int = 0,
) -> dict:
    """The numeric design on an outcome array (geos, history days): pairs (by index), coin flips, MDE."""
    check_probabilities(alpha, power)
    y = np.asarray(history, dtype=float)
    g, h = y.shape
    if method not in GEO_METHODS:
        raise OptimizerInputError(f"Unknown geo readout method {method!r}; use one of {', '.join(GEO_METHODS)}.")
    if g < 8:
        raise OptimizerInputError(
            f"A geo test needs at least 8 geos (4 pairs: pairs are the units of inference); the panel has {g}.",
            field="panel",
        )
    if test_days < 1:
        raise OptimizerInputError("The test must last at least one day.", field="end_date")
    pre_days = int(pre_days or min(4 * test_days, max(h - 2 * test_days, test_days)))
    recent_days = max(1, min(14, pre_days // 4))
    if h < pre_days + test_days + 13:
        raise OptimizerInputError(
            f"The geo panel has {h} days of history before the test; placebo power needs at least "
            f"{pre_days + test_days + 13} (pre-period {pre_days} + test {test_days} + two weeks of windows). Upload "
            f"a longer history or shorten the pre-period.",
            field="panel",
            details={"history_days": h, "needed": pre_days + test_days + 13},
        )
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7301]))
    pairs, unassigned = match_pairs(y)
    flips = rng.random(len(pairs)) < 0.5
    pairs = [(b, a) if f else (a, b) for (a, b), f in zip(pairs, flips, strict=True)]
    est, se, df, theta, effective_pairs = placebo_readouts(
        y,
        pairs,
        pre_days=pre_days,
        recent_days=recent_days,
        test_days=test_days,
        n_placebo=n_placebo,
        rng=rng,
        method=method,
        cuped=cuped,
    )
    # The placebos reuse one history, so their spread estimates the test's noise from about `effective_pairs`
    # independent pair contrasts (later windows repeat the same pairs' persistent drift, so they are not counted).
    # With nu such pieces the test's noise scale is the placebos' times sqrt(nu / chi2_nu) (predictive power): each
    # placebo readout is rescaled by one draw of that factor, so the MDE reaches the power on average over what the
    # test's noise may turn out to be, not only when the history happened to be typical.
    nu = max(effective_pairs, 3.0)
    scale = np.sqrt(nu / rng.chisquare(nu, est.shape))
    mde, curve = mde_from_placebos(est * scale, se * scale, df, alpha=alpha, power=power)
    if not np.isfinite(mde):
        raise OptimizerInputError(
            f"No effect reaches {power:.0%} power in the placebo tests on this history; check the panel for geos with "
            f"no outcome or a few extreme days.",
            field="panel",
        )
    treated = np.array([p[0] for p in pairs])
    baseline = float(y[treated].mean())
    return {
        "pairs": pairs,
        "unassigned": unassigned,
        "pre_days": pre_days,
        "recent_days": recent_days,
        "theta": theta,
        "placebo_sd": float(np.std(est)),
        "effective_pairs": effective_pairs,
        "noise_dof": nu,
        "placebo_se": float(np.median(se)),
        "mde": mde,
        "mde_total": mde * len(pairs) * test_days,
        "mde_relative": mde / baseline if baseline > 0 else None,
        "baseline_daily": baseline,
        "power_curve": curve,
        "history_days": h,
    }


def design_geo_test(
    panel: GeoPanel,
    *,
    test_days: int,
    pre_days: int | None = None,
    alpha: float = 0.10,
    power: float = 0.80,
    n_placebo: int = 500,
    method: str = "scaled",
    cuped: bool = True,
    seed: int = 0,
) -> GeoDesign:
    """Design a matched-market geo test on a panel of history (every day of ``panel`` is before the test)."""
    core = design_geo_arrays(
        panel.outcome,
        test_days=test_days,
        pre_days=pre_days,
        alpha=alpha,
        power=power,
        n_placebo=n_placebo,
        method=method,
        cuped=cuped,
        seed=seed,
    )
    names = panel.geos
    return GeoDesign(
        pairs=tuple((names[a], names[b]) for a, b in core["pairs"]),
        unassigned=tuple(names[i] for i in core["unassigned"]),
        test_days=int(test_days),
        pre_days=core["pre_days"],
        recent_days=core["recent_days"],
        alpha=alpha,
        power=power,
        method=method,
        cuped=cuped,
        theta=core["theta"],
        mde=core["mde"],
        mde_total=core["mde_total"],
        mde_relative=core["mde_relative"],
        baseline_daily=core["baseline_daily"],
        n_placebo=n_placebo,
        history_days=core["history_days"],
        seed=seed,
        power_curve=tuple(core["power_curve"]),
    )


# --- Readout ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeoReadout:
    """The effect of the treatment per treated geo and test day, and in total over the treated geos and test days."""

    method: str
    cuped: bool
    effect_per_geo_day: float
    se_per_geo_day: float
    incremental_sales: float
    incremental_sales_se: float
    interval: tuple[float, float]  # (1 - alpha) interval of incremental_sales
    alpha: float
    p_value: float
    df: float
    theta: float
    pairs: int
    test_days: int
    treated_outcome: float  # observed outcome of the treated geos over the test
    counterfactual: float  # treated_outcome - incremental_sales
    lift: float | None  # incremental_sales / counterfactual
    treated_spend: float | None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["interval"] = list(self.interval)
        return data


def readout_geo_arrays(means: dict[str, np.ndarray], *, method: str, theta: float | np.ndarray, alpha: float) -> dict:
    """Readout from per-pair window means (see :func:`pair_contrasts`), shape (..., P); vectorized over tests."""
    from scipy import stats

    d, x = pair_contrasts(means, method=method)
    est, se, df = pair_estimate(d, x, theta=theta)
    crit = stats.t.ppf(1 - alpha / 2, df)
    p = 2 * stats.t.sf(np.abs(est) / np.maximum(se, 1e-300), df)
    return {"est": est, "se": se, "df": df, "lo": est - crit * se, "hi": est + crit * se, "p": p}


def readout_geo_test(
    panel: GeoPanel, design: GeoDesign, *, test_start: dt.date, alpha: float | None = None
) -> GeoReadout:
    """Read a geo test out of a panel that covers the design's pre-period and the test days."""
    alpha = design.alpha if alpha is None else alpha
    index = {g: i for i, g in enumerate(panel.geos)}
    missing = [g for p in design.pairs for g in p if g not in index]
    if missing:
        raise OptimizerInputError(
            f"The readout panel has no data for geo(s) {', '.join(missing[:5])} of the design.", field="data"
        )
    pre_start = test_start - dt.timedelta(days=design.pre_days)
    test_end = test_start + dt.timedelta(days=design.test_days - 1)
    day = {d: i for i, d in enumerate(panel.dates)}
    if pre_start not in day or test_end not in day:
        raise OptimizerInputError(
            f"The readout panel must cover the pre-period and the test, {pre_start} to {test_end}; it covers "
            f"{panel.dates[0]} to {panel.dates[-1]}.",
            field="data",
        )
    t = np.array([index[p[0]] for p in design.pairs])
    c = np.array([index[p[1]] for p in design.pairs])
    s0, s1, s2 = day[pre_start], day[test_start], day[test_end] + 1
    y = panel.outcome
    w = window_means(
        y[:, s0:s2], np.array([0]), pre_days=design.pre_days, recent_days=design.recent_days, test_days=design.test_days
    )
    means = {k: v[:, 0] for k, v in pair_means(w, t, c).items()}
    r = readout_geo_arrays(means, method=design.method, theta=design.theta, alpha=alpha)
    scale = len(design.pairs) * design.test_days
    total = float(r["est"]) * scale
    treated_outcome = float(y[t, s1:s2].sum())
    counterfactual = treated_outcome - total
    spend = None if panel.spend is None else float(panel.spend[t, s1:s2].sum())
    return GeoReadout(
        method=design.method,
        cuped=design.cuped,
        effect_per_geo_day=float(r["est"]),
        se_per_geo_day=float(r["se"]),
        incremental_sales=total,
        incremental_sales_se=float(r["se"]) * scale,
        interval=(float(r["lo"]) * scale, float(r["hi"]) * scale),
        alpha=alpha,
        p_value=float(r["p"]),
        df=float(r["df"]),
        theta=design.theta,
        pairs=len(design.pairs),
        test_days=design.test_days,
        treated_outcome=treated_outcome,
        counterfactual=counterfactual,
        lift=total / counterfactual if counterfactual > 0 else None,
        treated_spend=spend,
    )


# --- Simulator --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatedGeoPanels:
    """``n`` independent panels: observed outcome without any treatment and its expectation, shape (n, geos, days)."""

    outcome: np.ndarray
    expected: np.ndarray
    levels: np.ndarray  # (n, geos) mean daily outcome of each geo
    start: dt.date

    @property
    def dates(self) -> tuple[dt.date, ...]:
        return tuple(self.start + dt.timedelta(days=i) for i in range(self.outcome.shape[-1]))

    def panel(self, i: int = 0) -> GeoPanel:
        return GeoPanel(tuple(f"geo{g:02d}" for g in range(self.outcome.shape[1])), self.dates, self.outcome[i])


def simulate_geo_panels(
    *,
    n_panels: int = 1,
    n_geos: int = 40,
    days: int = 210,
    start: dt.date = dt.date(2025, 1, 6),
    seed: int = 0,
    level_median: float = 2000.0,
    level_sigma: float = 0.8,
    noise_sd: float = 0.08,
    ar: float = 0.6,
    trend_sd: float = 0.10,
    heavy_tails: bool = False,
    tail_df: float = 3.0,
) -> SimulatedGeoPanels:
    """Geo panels with heterogeneous levels, shared seasonality, geo trends and AR(1) noise (optionally heavy-tailed).

    ``y[g, t] = level_g * season_t * (1 + trend_g * t / 365) * (1 + e[g, t])``, ``e`` AR(1) with coefficient ``ar`` and
    stationary sd ``noise_sd``; with ``heavy_tails`` the innovations are Student t with ``tail_df`` degrees of freedom
    (scaled to the same sd). Season: a retail week (Fri-Sun high) and a slow annual wave, shared by every geo.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 4411]))
    levels = level_median * np.exp(rng.normal(0.0, level_sigma, (n_panels, n_geos)))
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    week = np.array([0.93, 0.91, 0.93, 0.97, 1.04, 1.12, 1.10])[[d.weekday() for d in dates]]
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=float)
    phase = rng.uniform(0, 365.25, (n_panels, 1, 1))
    season = week * (1 + 0.15 * np.cos(2 * np.pi * (doy - phase) / 365.25))  # (n, 1, days)
    trend = 1 + rng.normal(0.0, trend_sd, (n_panels, n_geos, 1)) * (np.arange(days) / 365.0)
    expected = levels[:, :, None] * season * trend
    innovation_sd = noise_sd * np.sqrt(1 - ar * ar)
    if heavy_tails:
        shocks = rng.standard_t(tail_df, (n_panels, n_geos, days)) * np.sqrt((tail_df - 2) / tail_df)
    else:
        shocks = rng.standard_normal((n_panels, n_geos, days))
    shocks *= innovation_sd
    e = np.empty_like(shocks)
    e[..., 0] = shocks[..., 0] / np.sqrt(1 - ar * ar)
    for t in range(1, days):
        e[..., t] = ar * e[..., t - 1] + shocks[..., t]
    outcome = expected * np.maximum(1 + e, 0.0)
    return SimulatedGeoPanels(outcome=outcome, expected=expected, levels=levels, start=start)

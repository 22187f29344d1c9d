"""Constrained budget allocation over calibrated response curves (docs/optimization.md, "Allocation").

The period spend of channel c is ``s_c = x_c · P`` (daily spend ``x_c`` held for ``P`` days). With ``F`` the curve
set's demand over the period (:meth:`CurveSet.period_factor`) and ``k_c`` the channel's capacity factor, the expected
period sales are the posterior means

    A_c(s) = F · k_c · mean_i beta_i · x^h_i / (x^h_i + K_i^h_i)                (attributed)
    I_c(s) = F · k_c · mean_i incrementality_i · beta_i · x^h_i / (x^h_i + K_i^h_i)   (incremental)

and the objective is ``sum_c obj_c(s_c)`` with obj = m_c · I_c (incremental margin), I_c (incremental revenue) or
m_c · I_c - s_c (net incremental profit). Every term is concave (Hill shape h <= 1), the budget, bounds and retailer
bounds are linear, and the ROAS floor ``sum_c A_c(s_c) - R · sum_c s_c >= 0`` is concave, so the problem is convex
and the Lagrangian dual is exact. The solver nests one-dimensional monotone root finds on the multipliers (ROAS floor
mu, budget lambda, one price per bounded retailer) around a per-channel water-filling step: each channel spends
until its marginal objective plus mu times its marginal ROAS term equals its price. A chance constraint tightens the
floor on the posterior mean until the share of posterior samples meeting the real floor reaches ``chance``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy.optimize import brentq

from optimizer.engine.errors import OptimizerInputError
from optimizer.engine.jsonsafe import json_safe
from optimizer.engine.notices import WARNING, Notice

OBJECTIVES = ("incremental_margin", "incremental_revenue", "net_incremental_profit")
ROAS_BASES = ("attributed", "incremental")
_GRID = 4000  # log-spaced spend points per channel for the water-filling step
_GRID_DECADES = 9.0
_INTERVAL = (5.0, 95.0)  # 90% intervals
# The probability with which the optimize command, the plan pages and the API hold a ROAS floor unless told
# otherwise (docs/optimization.md, "The floor as a promise"). The engine itself takes AllocationRequest.chance.
DEFAULT_CHANCE = 0.9
# Log sd added per e-fold of daily spend past the highest seen in the history (at 2x: 0.18): the Hill shape is
# learned from the spend seen, and past it saturation is the prior's guess. Measured on independent worlds (world
# seeds 1 and 2, 83 channels, attributed sales at 1.5-6x the highest daily spend seen against the truth, the level
# at the run rate taken out): the posterior's own spread plus this term matches the error's root mean square
# (0.21 at 1.5x, 0.27 at 2x, 0.36 at 3x, 0.53 at 6x) with 0.24-0.28 per e-fold from 2x on (0.36 at 1.5x); it was
# 0.35, which made the spread past the history 1.1-1.3x the error and cut spend the promise did not need to cut.
# The same data show a bias the spread does not remove: past the history the curves claim too much (log error -0.05
# at 2x, -0.11 at 3x, -0.21 at 6x), docs/optimization.md "Where the data are thin".
EXTRAPOLATION_SD = 0.26
# Sd of the exponent g in incrementality(x) = incrementality(x0) · (x / x0)^g: how fast the incremental share of
# attributed sales may drift with spend, x0 being the lift study's spend (or the history's typical spend). At 3x
# the measured level the share's log sd is 0.22.
SHARE_DRIFT_SD = 0.2
# How strongly a plan is held near the last period's mix (scaled to the budget) where its incremental curves are
# unsure and the lift studies show the priors are off (docs/optimization.md, "Anchored to the last period's mix"): a
# channel's marginal objective is lowered by strength x evidence x its posterior relative sd x its marginal objective
# at the reference x log(spend / reference), evidence = max(0, 1 - 1 / CurveSet.prior_discrepancy) (0 without
# studies). 0 or None on AllocationRequest.mix_anchor: none (the engine's default); the pipeline asks for
# PLAN_MIX_ANCHOR.
PLAN_MIX_ANCHOR = 1.0


@dataclass(frozen=True)
class AllocationRequest:
    budget: float
    period_days: int
    min_roas: float | None = None
    roas_basis: str = "attributed"
    objective: str = "incremental_margin"
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    retailer_bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    exclude_channels: frozenset[str] = frozenset()
    channel_margin_override: Mapping[str, float] = field(default_factory=dict)
    channel_capacity_factor: Mapping[str, float] = field(default_factory=dict)
    chance: float | None = None
    spend_everything: bool = False
    # Added: relative sd of the period's sales that the curve posterior does not carry (demand forecast and model
    # error at the period level). It multiplies every posterior sample by one common lognormal factor (mean 1) in
    # the intervals and the chance constraint; expected values are unchanged. None: 0 (the pipeline estimates it
    # from the history, see pipeline.period_error_sd).
    forecast_error_sd: float | None = None
    # Added (issue 17): the strength of the pull toward the last period's mix where the curves are unsure (see
    # PLAN_MIX_ANCHOR); None or 0: no pull.
    mix_anchor: float | None = None


@dataclass(frozen=True)
class ChannelAllocation:
    retailer: str
    placement_type: str
    spend: float
    daily_spend: float
    expected_incremental_sales: float
    incremental_sales_interval: tuple[float, float]
    expected_incremental_margin: float
    incremental_margin_interval: tuple[float, float]
    expected_attributed_sales: float
    expected_attributed_roas: float | None
    expected_incremental_roas: float | None
    marginal_roas: float | None
    binding: tuple[str, ...]
    # Added beyond the pinned fields: d(objective)/d(spend) at the allocation (equal across unconstrained channels
    # when the ROAS floor is slack), and the marginal attributed ROAS d(attributed sales)/d(spend).
    marginal_objective: float | None = None
    marginal_attributed_roas: float | None = None

    @property
    def key(self) -> str:
        return f"{self.retailer}|{self.placement_type}"


@dataclass(frozen=True)
class AllocationResult:
    allocations: tuple[ChannelAllocation, ...]
    totals: dict
    constraints: dict
    objective: str
    warnings: tuple[str, ...] = ()  # added: what the user should double-check (extrapolation, unspent budget)
    # Added: the ROAS floor as a promise under a chance constraint (see _promise); None without one.
    promise: dict | None = None
    # The warnings as data (optimizer.engine.notices) for pages and the API; not part of to_dict, whose keys the
    # optimize command's OUT.json pins.
    notices: tuple[Notice, ...] = ()
    # Added: the largest channels' response curves around the allocation, for charts (see response_curves). Not part
    # of to_dict() either.
    curves: dict | None = None

    def allocation(self, key: str) -> ChannelAllocation:
        for a in self.allocations:
            if a.key == key:
                return a
        raise KeyError(key)

    def daily_spend(self) -> dict[str, float]:
        return {a.key: a.daily_spend for a in self.allocations}

    def to_dict(self) -> dict:
        allocations = []
        for a in self.allocations:
            row = asdict(a)
            row["incremental_sales_interval"] = list(a.incremental_sales_interval)
            row["incremental_margin_interval"] = list(a.incremental_margin_interval)
            row["binding"] = list(a.binding)
            allocations.append(row)
        doc = {
            "allocations": allocations,
            "totals": json_safe(self.totals),
            "constraints": json_safe(self.constraints),
            "objective": self.objective,
            "warnings": list(self.warnings),
        }
        if self.promise is not None:  # an addition to the pinned keys, only where a chance constraint is asked
            doc["promise"] = json_safe(self.promise)
        return doc


def _money(x: float) -> str:
    return f"{x:,.2f}"


# --- the problem ------------------------------------------------------------------------------------------------


class _Problem:
    """Posterior samples of the active channels stacked as (C, S) arrays, with their bounds in period spend."""

    def __init__(self, curves, request: AllocationRequest, keys: list[str]):
        self.P = int(request.period_days)
        self.F = float(curves.period_factor(self.P))
        chans = [curves.channel(k) for k in keys]
        n = min(len(np.atleast_1d(c.beta)) for c in chans)
        self.keys = keys
        self.retailers = [c.retailer for c in chans]
        self.beta = np.array([np.asarray(c.beta, float)[:n] for c in chans])
        self.K = np.array([np.asarray(c.half_saturation, float)[:n] for c in chans])
        self.h = np.array([np.asarray(c.shape, float)[:n] for c in chans])
        self.iota = np.array([np.asarray(c.incrementality, float)[:n] for c in chans])
        self.Kh = self.K**self.h
        # The incremental curves (curves.ChannelCurve.incremental): their own Hill curves where the curve set has
        # them, incrementality times the attributed curve where not.
        own = [getattr(c, "inc_scale", None) is not None for c in chans]
        self.beta_inc = np.array(
            [
                np.asarray(c.inc_scale, float)[:n] if o else self.iota[i] * self.beta[i]
                for i, (c, o) in enumerate(zip(chans, own, strict=True))
            ]
        )
        self.h_inc = np.array(
            [
                np.asarray(c.inc_shape, float)[:n] if o else self.h[i]
                for i, (c, o) in enumerate(zip(chans, own, strict=True))
            ]
        )
        K_inc = np.array(
            [
                np.asarray(c.inc_half_saturation, float)[:n] if o else self.K[i]
                for i, (c, o) in enumerate(zip(chans, own, strict=True))
            ]
        )
        self.Kh_inc = K_inc**self.h_inc
        cap = np.array([float(request.channel_capacity_factor.get(k, 1.0)) for k in keys])
        self.scale = self.F * cap  # period sales per unit of daily curve
        self.margin = np.array(
            [float(request.channel_margin_override.get(k, c.margin_rate)) for k, c in zip(keys, chans, strict=True)]
        )
        self.objective = request.objective
        self.basis = request.roas_basis
        sd = float(request.forecast_error_sd or 0.0)
        z = np.random.default_rng(20251126).standard_normal(n)
        risk = np.exp(sd * z - 0.5 * sd * sd)
        self.risk = risk / risk.mean()  # one factor per posterior sample, common to every channel
        # Where the data are thin the posterior is too sure (it believes the curve's shape): spend past the highest
        # daily spend seen and incrementality read at another spend level than the lift study's (or, without one,
        # the history's typical spend) get their own mean-1 lognormal factors, growing with the log distance.
        self.seen = np.array([float(getattr(c, "hist_max_daily_spend", 0.0) or math.inf) for c in chans])
        self.iota_at = np.array(
            [float(getattr(c, "incrementality_spend", None) or getattr(c, "hist_daily_spend", 0.0)) for c in chans]
        )
        # Weights of the posterior samples in the floor constraint (None: the plain posterior mean); the tail form
        # of the chance constraint (_tail_plan) puts them on the worst samples.
        self.floor_weights: np.ndarray | None = None
        zrng = np.random.default_rng(20260107)
        self.z_extrapolation = zrng.standard_normal((len(chans), n))
        self.z_share = zrng.standard_normal((len(chans), n))
        self.anchor_evidence = anchor_evidence(getattr(curves, "prior_discrepancy", None))
        self.anchor_kappa, self.anchor_ref = self._anchor(
            chans, float(request.mix_anchor or 0.0) * self.anchor_evidence, float(request.budget)
        )

    def _anchor(self, chans, strength: float, budget: float) -> tuple[np.ndarray, np.ndarray]:
        """Per channel the anchor's weight and its reference period spend: the last period's daily spends scaled to
        the budget, and strength x the posterior relative sd of the channel's marginal incremental sales there x its
        marginal objective there (so a channel whose curve is sure moves freely, an unsure one stays near the mix it
        was run at). Zero weight without a strength, for a channel not run lately, or without a history mix."""
        C = len(chans)
        hist = np.array([float(getattr(c, "hist_daily_spend", 0.0) or 0.0) for c in chans]) * self.P
        if strength <= 0 or not np.isfinite(hist).all() or hist.sum() <= 0 or budget <= 0:
            return np.zeros(C), np.ones(C)
        ref = hist * budget / hist.sum()
        ok = ref > 0
        x = np.where(ok, ref, 1.0) / self.P
        per_sample = self.scale[:, None] * self.beta_inc * self._dsat(x, incremental=True) / self.P  # (C, S)
        mean, sd = per_sample.mean(axis=1), per_sample.std(axis=1)
        gross = mean if self.objective == "incremental_revenue" else self.margin * mean
        kappa = np.where(ok & (mean > 0), strength * gross * sd / np.where(mean > 0, mean, 1.0), 0.0)
        return kappa, np.where(ok, ref, 1.0)

    def anchor_marginal(self, s) -> np.ndarray:
        """d(anchor penalty)/ds at period spend s, (C,) or (C, G): kappa · log(s / reference), 0 where unanchored.
        The penalty kappa · (s log(s / ref) - s + ref) is convex with its minimum at the reference."""
        s = np.maximum(np.asarray(s, float), 1e-300)
        kappa, ref = (
            (self.anchor_kappa, self.anchor_ref)
            if s.ndim == 1
            else (self.anchor_kappa[:, None], self.anchor_ref[:, None])
        )
        return np.where(kappa > 0, kappa * np.log(s / ref), 0.0)

    # Per-sample curves at daily spend x: (C, S) or (C, S, G) when x is (C, G); incremental=True: the incremental
    # curves' shapes
    def _sat(self, x, incremental: bool = False):
        h, Kh = (self.h_inc, self.Kh_inc) if incremental else (self.h, self.Kh)
        x = np.maximum(np.asarray(x, float), 0.0)
        if x.ndim == 2:
            xh = x[:, None, :] ** h[:, :, None]
            return xh / (xh + Kh[:, :, None])
        xh = x[:, None] ** h
        return xh / (xh + Kh)

    def _dsat(self, x, incremental: bool = False):
        h, Kh = (self.h_inc, self.Kh_inc) if incremental else (self.h, self.Kh)
        x = np.maximum(np.asarray(x, float), 1e-300)
        if x.ndim == 2:
            h, Kh, xx = h[:, :, None], Kh[:, :, None], x[:, None, :]
        else:
            xx = x[:, None]
        xh = xx**h
        return h * Kh * xh / xx / (xh + Kh) ** 2

    def attributed_samples(self, s):  # (C, S) period attributed sales
        return self.scale[:, None] * self.beta * self._sat(np.asarray(s, float) / self.P)

    def incremental_samples(self, s):  # (C, S) period incremental sales
        return self.scale[:, None] * self.beta_inc * self._sat(np.asarray(s, float) / self.P, incremental=True)

    def basis_samples(self, s):
        return self.attributed_samples(s) if self.basis == "attributed" else self.incremental_samples(s)

    def _log_ratio(self, s, reference) -> np.ndarray:
        x = np.asarray(s, float) / self.P
        ok = (x > 0) & (reference > 0) & np.isfinite(reference)
        return np.where(ok, np.log(np.where(ok, x, 1.0) / np.where(ok, reference, 1.0)), 0.0)

    def extrapolation_factor(self, s) -> np.ndarray:
        """(C, S) mean-1 factors on sales for daily spend past the highest seen: log sd EXTRAPOLATION_SD per
        e-fold beyond it."""
        spread = EXTRAPOLATION_SD * np.maximum(self._log_ratio(s, self.seen), 0.0)[:, None]
        return np.exp(spread * self.z_extrapolation - 0.5 * spread**2)

    def share_factor(self, s) -> np.ndarray:
        """(C, S) mean-1 factors on incrementality away from the spend it was measured at: the share of attributed
        sales that is incremental drifts as (x / x_measured)^g, g ~ N(0, SHARE_DRIFT_SD)."""
        spread = SHARE_DRIFT_SD * self._log_ratio(s, self.iota_at)[:, None]
        return np.exp(spread * self.z_share - 0.5 * spread**2)

    def widened(self, s) -> tuple[np.ndarray, np.ndarray]:
        """(attributed, incremental) period sales samples with every error the posterior does not carry: the
        period's forecast error, extrapolation and the incrementality drift (intervals and the chance constraint)."""
        common = self.risk * self.extrapolation_factor(s)
        return self.attributed_samples(s) * common, self.incremental_samples(s) * common * self.share_factor(s)

    def risk_samples(self, s):
        """Posterior samples of the period's basis sales with the forecast error folded in (chance constraint)."""
        att, inc = self.widened(s)
        return att if self.basis == "attributed" else inc

    def marginals(self, s):
        """(dA/ds, dI/ds) per channel at period spend s (C,) or (C, G)."""
        s = np.asarray(s, float)
        d, d_inc = self._dsat(s / self.P), self._dsat(s / self.P, incremental=True)
        w = self.beta if s.ndim == 1 else self.beta[:, :, None]
        w_inc = self.beta_inc if s.ndim == 1 else self.beta_inc[:, :, None]
        scale = self.scale[:, None] if s.ndim == 2 else self.scale
        dA = scale * (w * d).mean(axis=1) / self.P
        dI = scale * (w_inc * d_inc).mean(axis=1) / self.P
        return dA, dI

    def floor_basis(self, s) -> float:
        """The period basis sales the floor constraint holds: the posterior mean, or the weighted tail."""
        samples = self.basis_samples(s)
        if self.floor_weights is None:
            return float(samples.mean(axis=1).sum())
        return float((samples.sum(axis=0) * self.floor_weights).sum())

    def floor_marginals(self, s, weights) -> np.ndarray:
        """d(weighted basis)/ds per channel at period spend s (C,) or (C, G)."""
        s = np.asarray(s, float)
        incremental = self.basis != "attributed"
        d = self._dsat(s / self.P, incremental=incremental)
        beta = self.beta_inc if incremental else self.beta
        if s.ndim == 2:
            return self.scale[:, None] * (beta[:, :, None] * d * weights[None, :, None]).sum(axis=1) / self.P
        return self.scale * (beta * d * weights[None, :]).sum(axis=1) / self.P

    def dobj(self, dI):
        m = self.margin if dI.ndim == 1 else self.margin[:, None]
        if self.objective == "incremental_margin":
            return m * dI
        if self.objective == "incremental_revenue":
            return dI
        return m * dI - 1.0

    def objective_value(self, s) -> float:
        inc = self.incremental_samples(s).mean(axis=1)
        if self.objective == "incremental_margin":
            return float((self.margin * inc).sum())
        if self.objective == "incremental_revenue":
            return float(inc.sum())
        return float((self.margin * inc).sum() - np.sum(s))


def anchor_evidence(prior_discrepancy: float | None) -> float:
    """The share of the lift studies' disagreement with the priors that the model's own uncertainty does not
    explain, max(0, 1 - 1 / D) (positive-part James-Stein): 0 where the studies agree with the priors about as well
    as the model expects (D <= 1) or where there are none, towards 1 as they disagree more."""
    if prior_discrepancy is None or not math.isfinite(prior_discrepancy) or prior_discrepancy <= 1.0:
        return 0.0
    return 1.0 - 1.0 / prior_discrepancy


class _Solver:
    """Water-filling on precomputed marginal grids with multipliers found by bracketing root finds."""

    def __init__(self, prob: _Problem, lo, hi, budget: float, spend_everything: bool, retailer_bounds):
        self.prob, self.lo, self.hi = prob, np.asarray(lo, float), np.asarray(hi, float)
        self.B, self.spend_all = float(budget), spend_everything
        C = len(lo)
        top = np.maximum(self.hi, 1e-9)
        bottom = np.maximum(self.lo, top * 10.0**-_GRID_DECADES)
        self.grid = np.exp(np.linspace(np.log(np.minimum(bottom, top)), np.log(top), _GRID, axis=1))  # (C, G)
        self.dA, self.dI = prob.marginals(self.grid)
        self.dobj = prob.dobj(self.dI) - prob.anchor_marginal(self.grid)
        self.dbasis = self.dA if prob.basis == "attributed" else self.dI
        self.fixed = self.hi - self.lo <= 1e-12 * max(self.B, 1.0)
        self.groups: dict[str, np.ndarray] = {}
        self.rbounds = {}
        for r, (rlo, rhi) in retailer_bounds.items():
            idx = np.array([i for i in range(C) if prob.retailers[i] == r], dtype=int)
            if len(idx):
                self.groups[r] = idx
                self.rbounds[r] = (float(rlo), float(rhi))

    def set_floor_weights(self, weights: np.ndarray | None) -> None:
        """Hold the floor on the posterior samples weighted by ``weights`` (None: their mean)."""
        self.prob.floor_weights = weights
        if weights is None:
            self.dbasis = self.dA if self.prob.basis == "attributed" else self.dI
        else:
            self.dbasis = self.prob.floor_marginals(self.grid, weights)

    def channel_spend(self, price, mu: float) -> np.ndarray:
        """argmax obj_c(s) + mu (basis_c(s) - R s) - price_c s on [lo, hi]; ``price`` already includes mu R."""
        lhs = self.dobj + mu * self.dbasis  # decreasing along the grid
        price = np.broadcast_to(np.asarray(price, float), self.lo.shape)
        out = np.empty(len(self.lo))
        for c in range(len(self.lo)):
            if self.fixed[c]:
                out[c] = self.lo[c]
                continue
            row, p = lhs[c], price[c]
            if row[-1] >= p:
                out[c] = self.hi[c]
            elif row[0] <= p:
                out[c] = self.lo[c]
            else:
                j = int(np.searchsorted(-row, -p))  # first index with row <= p
                a, b = row[j - 1], row[j]
                t = (a - p) / (a - b) if a != b else 0.0
                g0, g1 = math.log(self.grid[c, j - 1]), math.log(self.grid[c, j])
                out[c] = math.exp(g0 + t * (g1 - g0))
        return np.clip(out, self.lo, self.hi)

    def _spend_at(self, lam: float, mu: float, offset: float):
        """Channel spends and retailer prices for budget multiplier lam (retailer bounds enforced by their own
        multipliers, each found by a monotone root find)."""
        price = np.full(len(self.lo), lam + offset)
        rprice = {}
        s = self.channel_spend(price, mu)
        for r, idx in self.groups.items():
            rlo, rhi = self.rbounds[r]
            total = s[idx].sum()
            if rlo - 1e-9 * max(rlo, 1) <= total <= rhi + 1e-9 * max(rhi, 1):
                continue
            target = rhi if total > rhi else rlo

            def gap(p, idx=idx, target=target):
                pr = price.copy()
                pr[idx] = p
                return self.channel_spend(pr, mu)[idx].sum() - target

            p = _root_decreasing(gap, lam + offset)
            price[idx] = p
            rprice[r] = p - (lam + offset)
        return self.channel_spend(price, mu), rprice

    def solve(self, mu: float = 0.0, offset: float = 0.0):
        """Best allocation for ROAS multiplier mu (offset = mu R). Returns (s, lam, retailer multipliers)."""
        s0, r0 = self._spend_at(0.0, mu, offset)
        total = s0.sum()
        if not self.spend_all and total <= self.B * (1 + 1e-12):
            return s0, 0.0, r0
        if self.spend_all and abs(total - self.B) <= 1e-9 * max(self.B, 1):
            return s0, 0.0, r0
        lam = _root_decreasing(lambda lam: self._spend_at(lam, mu, offset)[0].sum() - self.B * (1 - 1e-10), 0.0)
        s, r = self._spend_at(lam, mu, offset)
        return s, lam, r


def _root_decreasing(fn, start: float) -> float:
    """Root of a non-increasing function of a price, bracketed by expanding steps from ``start``."""
    f0 = fn(start)
    if f0 == 0:
        return start
    step = max(abs(start), 1e-3)
    direction = 1.0 if f0 > 0 else -1.0
    a = start
    for _ in range(200):
        b = a + direction * step
        fb = fn(b)
        if (fb <= 0) if direction > 0 else (fb >= 0):
            lo, hi = (a, b) if a < b else (b, a)
            if fn(lo) * fn(hi) > 0:
                return b
            return brentq(fn, lo, hi, xtol=1e-12, rtol=1e-10, maxiter=200)
        a, step = b, step * 4.0
    return a


# --- the request ------------------------------------------------------------------------------------------------


def _check_pair(name: str, pair, field_name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(pair[0]), float(pair[1]) if pair[1] is not None else math.inf)
    except (TypeError, ValueError, IndexError):
        raise OptimizerInputError(
            f"Bounds for {name} must be [min_spend, max_spend], got {pair!r}.", field=field_name
        ) from None
    if not math.isfinite(lo) or lo < 0 or math.isnan(hi) or hi < 0:
        raise OptimizerInputError(
            f"Bounds for {name} must be non-negative numbers, got [{pair[0]}, {pair[1]}].", field=field_name
        )
    if lo > hi:
        raise OptimizerInputError(
            f"Bounds for {name}: the minimum {_money(lo)} is above the maximum {_money(hi)}.", field=field_name
        )
    return lo, hi


def validate_basics(request: AllocationRequest) -> None:
    """Checks that need no curves (budget, period, objective, basis, floor, chance): run before fitting."""
    b = request.budget
    if b is None or not isinstance(b, (int, float)) or not math.isfinite(b):
        raise OptimizerInputError(f"budget must be a finite number, got {b!r}.", field="budget")
    if b < 0:
        raise OptimizerInputError(
            f"budget {b:,.2f} is negative; give the total spend for the period (0 or more).", field="budget"
        )
    if not isinstance(request.period_days, (int, np.integer)) or request.period_days < 1:
        raise OptimizerInputError(
            f"period_days must be a whole number of days, at least 1, got {request.period_days!r}.",
            field="period_days",
        )
    if request.objective not in OBJECTIVES:
        raise OptimizerInputError(
            f"Unknown objective {request.objective!r}; use one of {', '.join(OBJECTIVES)}.", field="objective"
        )
    if request.roas_basis not in ROAS_BASES:
        raise OptimizerInputError(
            f"Unknown ROAS basis {request.roas_basis!r}; use one of {', '.join(ROAS_BASES)}.", field="roas_basis"
        )
    if request.min_roas is not None and (not math.isfinite(request.min_roas) or request.min_roas < 0):
        raise OptimizerInputError(f"min_roas must be 0 or more, got {request.min_roas}.", field="min_roas")
    sd = request.forecast_error_sd
    if sd is not None and (not math.isfinite(sd) or not 0 <= sd <= 2):
        raise OptimizerInputError(
            f"forecast_error_sd must be a relative standard deviation between 0 and 2, got {sd}.",
            field="forecast_error_sd",
        )
    if request.chance is not None:
        if not 0 < request.chance < 1:
            raise OptimizerInputError(
                f"chance must be a probability between 0 and 1 (e.g. 0.9), got {request.chance}.", field="chance"
            )
        if request.min_roas is None:
            raise OptimizerInputError("chance needs a ROAS floor: give min_roas too.", field="chance")


def _validate(curves, request: AllocationRequest) -> list[str]:
    validate_basics(request)
    known = [c.key for c in curves.channels]
    known_retailers = sorted({c.retailer for c in curves.channels})
    for label, keys in (
        ("bounds", request.bounds),
        ("exclude_channels", request.exclude_channels),
        ("channel_margin_override", request.channel_margin_override),
        ("channel_capacity_factor", request.channel_capacity_factor),
    ):
        for key in keys:
            if key not in known:
                raise OptimizerInputError(
                    f"Unknown channel {key!r} in {label}; the history has {', '.join(known)} "
                    f"(keys are 'retailer|placement_type').",
                    field=label,
                    details={"channel": key, "known": known},
                )
    for r in request.retailer_bounds:
        if r not in known_retailers:
            raise OptimizerInputError(
                f"Unknown retailer {r!r} in retailer_bounds; the history has {', '.join(known_retailers)}.",
                field="retailer_bounds",
                details={"retailer": r, "known": known_retailers},
            )
    for key, rate in request.channel_margin_override.items():
        if not math.isfinite(rate) or rate > 1:
            raise OptimizerInputError(
                f"Margin rate for {key} must be a share of sales (at most 1), got {rate}.",
                field="channel_margin_override",
            )
    for key, f in request.channel_capacity_factor.items():
        if not math.isfinite(f) or not 0 <= f <= 1:
            raise OptimizerInputError(
                f"Capacity factor for {key} must be in [0, 1], got {f}.", field="channel_capacity_factor"
            )
    active = [k for k in known if k not in request.exclude_channels]
    if not active:
        raise OptimizerInputError("Every channel is excluded; nothing is left to allocate.", field="exclude_channels")
    return active


def allocate(curves, request: AllocationRequest) -> AllocationResult:
    """Maximize the requested objective subject to the request's constraints (see the module docstring)."""
    active = _validate(curves, request)
    B = float(request.budget)
    bounds = {k: _check_pair(k, v, "bounds") for k, v in request.bounds.items()}
    rbounds = {r: _check_pair(f"retailer {r}", v, "retailer_bounds") for r, v in request.retailer_bounds.items()}
    for key in request.exclude_channels:
        if key in bounds and bounds[key][0] > 0:
            raise OptimizerInputError(
                f"{key} is excluded but its bounds ask for at least {_money(bounds[key][0])}; drop one of the two.",
                field="bounds",
            )
    prob = _Problem(curves, request, active)
    if request.objective != "incremental_revenue":
        unknown = [k for k, m in zip(active, prob.margin, strict=True) if not math.isfinite(m)]
        if unknown:
            raise OptimizerInputError(
                f"No margin rate for {', '.join(unknown)}: S.csv has no price and unit cost for the SKUs "
                f"{'it' if len(unknown) == 1 else 'they'} sold; add them, give a margin override, or optimize "
                f"incremental_revenue.",
                field="skus",
                details={"channels": unknown},
            )
    lo = np.array([bounds.get(k, (0.0, math.inf))[0] for k in active])
    hi = np.array([min(bounds.get(k, (0.0, math.inf))[1], B) for k in active])
    caps = np.array([float(request.channel_capacity_factor.get(k, 1.0)) for k in active])
    _check_feasible(prob, active, bounds, rbounds, lo, hi, B, request.spend_everything)
    hi = np.maximum(hi, lo)
    hi = np.where(caps > 0, hi, lo)  # nothing left to sell: only the minimum is spent
    for r, (_, rhi) in rbounds.items():
        idx = [i for i, k in enumerate(active) if prob.retailers[i] == r]
        hi[idx] = np.minimum(hi[idx], max(rhi, 0.0))
        hi[idx] = np.maximum(hi[idx], lo[idx])
    solver = _Solver(prob, lo, hi, B, request.spend_everything, rbounds)

    R = request.min_roas
    mu = 0.0
    target_floor = R
    weights = None
    s, lam, rmult = solver.solve()
    floor_info = None
    if R is not None:
        best = _max_roas(solver, prob)
        floor_info = {"max_roas": best[0], "max_roas_spend": best[1]}
        if best[0] < R * (1 - 1e-9):
            _raise_floor(request, best, lo, rbounds)
        if request.chance is not None:
            target_floor = _chance_floor(solver, prob, R, request.chance, best)
            floor_info["chance_form"] = "mean"
        s, lam, rmult, mu = _solve_with_floor(solver, prob, target_floor)
        if request.chance is not None and target_floor > R:
            # Where the promise binds, its tail form may keep it with a better plan (more spent, or spent where the
            # curves are sure): the better of the two by the expected objective.
            tail = _tail_plan(solver, prob, R, request.chance)
            if tail is not None and prob.objective_value(tail[0]) > prob.objective_value(s) * (1 + 1e-9):
                solver.set_floor_weights(tail[1])
                s, lam, rmult, mu = _solve_with_floor(solver, prob, R)
                solver.set_floor_weights(None)
                weights = tail[1]
                floor_info.update(chance_form="tail", tail_share=tail[2], tail_floor=R)
    s = _trim_budget(s, lo, hi, B)
    if weights is not None:  # what the tail form holds on the posterior mean: the plan's expected ROAS
        target_floor = max(float(prob.basis_samples(s).mean(axis=1).sum() / max(s.sum(), 1e-300)), R)
    solution = _Solution(
        s=s,
        lam=lam,
        mu=mu,
        rmult=rmult,
        lo=lo,
        hi=hi,
        floor=target_floor,
        floor_info=floor_info,
        floor_weights=weights,
    )
    result = _result(curves, prob, request, solution, bounds=bounds, rbounds=rbounds)
    result = replace(result, curves=response_curves(prob, s, budget=B))
    if R is not None and request.chance is not None:
        promise = _promise(solver, prob, request, s, lo, hi, rbounds)
        if not promise["whole_budget_keeps_promise"]:
            full = promise["full_spend"] or {}
            notice = Notice(
                kind="promise_split",
                severity=WARNING,
                text=promise["message"],
                figures={
                    "chance": float(request.chance),
                    "min_roas": float(R),
                    "full_spend": full.get("spend"),
                    "full_spend_probability": full.get("probability"),
                    "promised_spend": promise["largest_promised_spend"]["spend"],
                },
            )
            result = replace(
                result,
                promise=promise,
                warnings=(promise["message"], *result.warnings),
                notices=(notice, *result.notices),
            )
        else:
            result = replace(result, promise=promise)
    return result


CURVE_POINTS = 25
# Curves are kept for the largest channels by spend only: what a page can show, and a plan of 200 line items keeps
# a small result (all 200 curves made its page 50 ms slower to load and parse).
CURVE_CHANNELS = 12


def response_curves(
    prob: _Problem, s, *, budget: float, points: int = CURVE_POINTS, largest: int = CURVE_CHANNELS
) -> dict:
    """For the ``largest`` active channels by spend: expected period incremental sales, and its 90% interval, at
    ``points`` period spends from 0 to past the chosen spend (twice it, or 1.2x the highest spend the history saw
    over the period, within the budget), the chosen spend among them. The same samples as the allocation's rows, so
    the curve passes through the row's expected value and interval."""
    s = np.asarray(s, float)
    kept = sorted(np.argsort(-s, kind="stable")[:largest].tolist())
    top = np.maximum(2.0 * s, np.where(np.isfinite(prob.seen), 1.2 * prob.seen * prob.P, 0.0))
    top = np.minimum(top, budget)
    top = np.where(top > 0, top, budget)
    # The chosen spend is one of the points, so the drawn line passes exactly through the allocation's figures.
    grid = np.sort(np.column_stack([np.linspace(0.0, 1.0, points - 1)[None, :] * top[:, None], s]), axis=1)
    mean, low, high = (np.empty_like(grid) for _ in range(3))
    for g in range(points):
        mean[:, g] = prob.incremental_samples(grid[:, g]).mean(axis=1)
        _, widened = prob.widened(grid[:, g])
        low[:, g], high[:, g] = np.percentile(widened, _INTERVAL, axis=1)
    return {
        key: {
            "spend": [round(float(v), 2) for v in grid[i]],
            "expected": [round(float(v), 2) for v in mean[i]],
            "low": [round(float(v), 2) for v in low[i]],
            "high": [round(float(v), 2) for v in high[i]],
        }
        for i, key in enumerate(prob.keys)
        if i in kept
    }


def _promise(solver: _Solver, prob: _Problem, request: AllocationRequest, s, lo, hi, rbounds) -> dict:
    """The floor as a promise: does the budget the plan would spend without a floor keep min_roas with probability
    ``chance``? If not, the plan (the best one that keeps the promise, hence the largest spend it allows) stands
    beside the full-spend plan: that budget spent in the mix that holds the floor on the posterior mean (or, where
    no mix does, the mix with the highest expected ROAS), with the probability it holds the floor."""
    R, chance = float(request.min_roas), float(request.chance)
    full_total = float(solver.solve()[0].sum())  # what the budget buys without a floor
    kept_spend = float(s.sum())
    whole = kept_spend >= full_total - 1e-4 * max(full_total, 1.0)
    promise = {
        "chance": chance,
        "min_roas": R,
        "basis": prob.basis,
        "whole_budget_keeps_promise": bool(whole),
        "largest_promised_spend": _alternative(prob, s, R),
        "full_spend": None,
        "message": "",
    }
    if whole:
        promise["message"] = (
            f"The plan spends {_money(kept_spend)} and holds min_roas {R:g} ({prob.basis}) with probability "
            f"{promise['largest_promised_spend']['probability']:.0%} (asked: {chance:.0%})."
        )
        return promise
    full = _Solver(prob, lo, hi, full_total, True, rbounds)
    best = _max_roas(full, prob)
    floor = R if best[0] >= R else best[0] * (1 - 1e-6)
    s_full = _trim_budget(_solve_with_floor(full, prob, floor)[0], lo, hi, full_total)
    alt = _alternative(prob, s_full, R)
    promise["full_spend"] = alt
    promise["message"] = (
        f"Spending {_money(full_total)} cannot hold min_roas {R:g} ({prob.basis}) with probability {chance:.0%}: "
        f"spent in full it holds the floor with probability {alt['probability']:.0%} (expected objective "
        f"{_money(alt['expected_objective'])}). This plan keeps the promise by spending {_money(kept_spend)} "
        f"(probability {promise['largest_promised_spend']['probability']:.0%}, expected objective "
        f"{_money(promise['largest_promised_spend']['expected_objective'])}); choose between them."
    )
    return promise


def _alternative(prob: _Problem, s, R: float) -> dict:
    """One side of the promise: spend, probability of the floor, expected values and the mix."""
    att0 = prob.attributed_samples(s)
    inc0 = prob.incremental_samples(s)
    _, inc = prob.widened(s)
    total = float(s.sum())
    basis = (att0 if prob.basis == "attributed" else inc0).mean(axis=1).sum()
    margin_samples = (prob.margin[:, None] * inc).sum(axis=0)
    return {
        "spend": total,
        "probability": _p_floor(prob, s, R),
        "expected_objective": prob.objective_value(s),
        "expected_incremental_margin": float((prob.margin * inc0.mean(axis=1)).sum()),
        "incremental_margin_interval": [float(v) for v in np.percentile(margin_samples, _INTERVAL)],
        "expected_roas": float(basis / total) if total > 0 else None,
        "daily_spend": {k: float(v / prob.P) for k, v in zip(prob.keys, s, strict=True)},
    }


def _check_feasible(prob, active, bounds, rbounds, lo, hi, B, spend_all):
    min_total = float(lo.sum())
    if min_total > B * (1 + 1e-12):
        parts = ", ".join(f"{k} {_money(bounds[k][0])}" for k in active if bounds.get(k, (0, 0))[0] > 0)
        raise OptimizerInputError(
            f"The minimum spends add up to {_money(min_total)}, more than the budget {_money(B)} ({parts}); "
            f"raise the budget by {_money(min_total - B)} or lower the minimums.",
            field="bounds",
            details={"constraint": "bounds", "min_total": min_total, "budget": B, "excess": min_total - B},
        )
    rmin_total = 0.0
    for r, (rlo, rhi) in rbounds.items():
        idx = [i for i, k in enumerate(active) if prob.retailers[i] == r]
        cmin, cmax = float(lo[idx].sum()), float(np.minimum(hi[idx], B).sum())
        if rlo > cmax * (1 + 1e-12):
            raise OptimizerInputError(
                f"Retailer {r} must get at least {_money(rlo)}, but its channels can take at most {_money(cmax)} "
                f"(their maximum bounds or the budget); lower the retailer minimum or raise those maximums.",
                field="retailer_bounds",
                details={"constraint": f"retailer_min:{r}", "limit": rlo, "reachable": cmax},
            )
        if cmin > rhi * (1 + 1e-12):
            raise OptimizerInputError(
                f"Retailer {r} may get at most {_money(rhi)}, but the minimums of its channels add up to "
                f"{_money(cmin)}; raise the retailer maximum or lower those minimums.",
                field="retailer_bounds",
                details={"constraint": f"retailer_max:{r}", "limit": rhi, "required": cmin},
            )
        rmin_total += max(rlo, cmin) - cmin
    if min_total + rmin_total > B * (1 + 1e-12):
        raise OptimizerInputError(
            f"The channel and retailer minimums need {_money(min_total + rmin_total)}, more than the budget "
            f"{_money(B)}; raise the budget or lower the minimums.",
            field="retailer_bounds",
            details={"constraint": "budget", "min_total": min_total + rmin_total, "budget": B},
        )
    if spend_all:
        max_total = 0.0
        seen = np.zeros(len(active), bool)
        for r, (_, rhi) in rbounds.items():
            idx = [i for i, k in enumerate(active) if prob.retailers[i] == r]
            seen[idx] = True
            max_total += min(rhi, float(hi[idx].sum()))
        max_total += float(hi[~seen].sum())
        if max_total < B * (1 - 1e-9):
            raise OptimizerInputError(
                f"spend_everything asks to spend the whole budget {_money(B)}, but the maximum bounds allow only "
                f"{_money(max_total)}; raise the maximums or lower the budget.",
                field="bounds",
                details={"constraint": "budget", "max_total": max_total, "budget": B},
            )


def _max_roas(solver: _Solver, prob: _Problem) -> tuple[float, float]:
    """Highest expected ROAS (on the request's basis) of any feasible allocation, and its total spend (Dinkelbach:
    maximize basis(s) - q·sum(s), set q to the ratio reached, repeat)."""
    saved = solver.dobj
    solver.dobj = np.zeros_like(saved)
    try:
        q = 0.0
        s = solver.solve(1.0, 0.0)[0]
        for _ in range(60):
            total = s.sum()
            if total <= 1e-9 * max(solver.B, 1.0):
                # The supremum is approached at vanishing spend: the best marginal ROAS at zero.
                return float(solver.dbasis[:, 0].max()), 0.0
            q_new = float(prob.basis_samples(s).mean(axis=1).sum() / total)
            if abs(q_new - q) <= 1e-10 * max(q_new, 1e-12):
                q = q_new
                break
            q = q_new
            s = solver.solve(1.0, q)[0]
        return q, float(s.sum())
    finally:
        solver.dobj = saved


def _raise_floor(request: AllocationRequest, best, lo, rbounds):
    roas, spend = best
    R = request.min_roas
    basis = request.roas_basis
    why = []
    if lo.sum() > 0 or any(v[0] > 0 for v in rbounds.values()):
        why.append("the minimum spends")
    if request.spend_everything:
        why.append("spending the whole budget")
    reason = f" given {' and '.join(why)}" if why else ""
    raise OptimizerInputError(
        f"min_roas {R:g} is infeasible: the highest {basis} ROAS any allocation{reason} reaches is {roas:.2f} "
        f"(at {_money(spend)} of spend); lower the floor, the minimums or the budget.",
        field="min_roas",
        details={"constraint": "min_roas", "limit": R, "basis": basis, "max_roas": roas, "at_spend": spend},
    )


def _floor_gap(prob: _Problem, s, floor: float) -> float:
    return float(prob.floor_basis(s) - floor * s.sum())


TAIL_STEPS = 5  # bisection steps on the tail share of _tail_plan
TAIL_ROUNDS = 4  # rounds of choosing the worst samples and re-solving, per tail share


def _tail_weights(prob: _Problem, s, R: float, share: float) -> np.ndarray:
    """Equal weights on the ``share`` of posterior samples whose floor margin is worst at ``s`` (each sample times
    the period's common risk factor), zero on the rest."""
    n = prob.beta.shape[1]
    k = max(1, round(share * n))
    margin = prob.basis_samples(s).sum(axis=0) * prob.risk - R * s.sum()
    w = np.zeros(n)
    w[np.argsort(margin, kind="stable")[:k]] = 1.0 / k
    return w * prob.risk


def _tail_plan(solver: _Solver, prob: _Problem, R: float, chance: float):
    """The chance constraint in its tail form: the floor R held by the mean of the worst share of the posterior
    samples (a CVaR-style constraint, concave in the spends like the plain one), with the share as large as still
    gives ``chance``. Unlike a higher floor on the posterior mean, it sees which channels are uncertain (extrapolated,
    thinly observed) and moves spend to the ones it is sure of rather than cutting the total. The worst samples are
    found by alternating: pick them at the plan, re-solve, until the plan settles (TAIL_ROUNDS). Returns (spends,
    weights, share), or None when even the tail of 1 - chance does not reach ``chance``."""

    def plan_for(share: float):
        w = prob.risk / prob.beta.shape[1]
        s_prev, s_new = None, None
        for _ in range(TAIL_ROUNDS):
            solver.set_floor_weights(w)
            s_new = _solve_with_floor(solver, prob, R)[0]
            w_next = _tail_weights(prob, s_new, R, share)
            if s_prev is not None and np.allclose(s_new, s_prev, rtol=1e-3, atol=1e-6 * max(solver.B, 1.0)):
                break
            s_prev, w = s_new, w_next
        solver.set_floor_weights(None)
        return s_new, w

    lo_share, hi_share = 1.0 - chance, 1.0
    s, w = plan_for(lo_share)
    if _p_floor(prob, s, R) < chance:
        return None
    best = (s, w, lo_share)
    for _ in range(TAIL_STEPS):
        mid = 0.5 * (lo_share + hi_share)
        s, w = plan_for(mid)
        if _p_floor(prob, s, R) >= chance:
            lo_share, best = mid, (s, w, mid)
        else:
            hi_share = mid
    return best


def _solve_with_floor(solver: _Solver, prob: _Problem, floor: float):
    s, lam, r = solver.solve()
    tol = 1e-9 * max(solver.B, 1.0)
    if _floor_gap(prob, s, floor) >= 0:
        return s, lam, r, 0.0

    def gap(mu):
        return _floor_gap(prob, solver.solve(mu, mu * floor)[0], floor) - tol

    hi_mu = 1e-3
    while gap(hi_mu) < 0 and hi_mu < 1e12:
        hi_mu *= 4.0
    if gap(hi_mu) < 0:
        mu = hi_mu
    else:
        mu = brentq(gap, 0.0, hi_mu, xtol=1e-12, rtol=1e-10, maxiter=200)
        # brentq may stop a hair on the wrong side; step up until the floor holds.
        for _ in range(60):
            if gap(mu) >= 0:
                break
            mu = mu * (1 + 1e-6) + 1e-12
    s, lam, r = solver.solve(mu, mu * floor)
    return s, lam, r, mu


def _p_floor(prob: _Problem, s, R: float) -> float:
    total = s.sum()
    if total <= 0:
        return 1.0
    return float(np.mean(prob.risk_samples(s).sum(axis=0) >= R * total * (1 - 1e-12)))


def _chance_floor(solver, prob, R, chance, best) -> float:
    """Smallest floor on the posterior mean whose allocation meets R in at least ``chance`` of the samples."""
    s = _solve_with_floor(solver, prob, R)[0]
    if _p_floor(prob, s, R) >= chance:
        return R
    top = best[0] * (1 - 1e-6)
    s_top = _solve_with_floor(solver, prob, top)[0]
    p_top = _p_floor(prob, s_top, R)
    if p_top < chance:
        raise OptimizerInputError(
            f"The chance constraint is unreachable: even the allocation with the highest expected {prob.basis} "
            f"ROAS ({best[0]:.2f} at {_money(s_top.sum())} of spend) meets min_roas {R:g} in only {p_top:.0%} of "
            f"posterior samples, below the {chance:.0%} asked; lower the floor or the chance.",
            field="chance",
            details={"constraint": "chance", "chance": chance, "reachable": p_top, "min_roas": R},
        )
    lo_f, hi_f = R, top
    for _ in range(40):
        mid = 0.5 * (lo_f + hi_f)
        if _p_floor(prob, _solve_with_floor(solver, prob, mid)[0], R) >= chance:
            hi_f = mid
        else:
            lo_f = mid
        if hi_f - lo_f <= 1e-6 * hi_f:
            break
    return hi_f


def _trim_budget(s, lo, hi, B):
    excess = s.sum() - B
    if excess > 0:
        room = s - lo
        s = s - excess * room / max(room.sum(), 1e-300)
    return np.clip(s, lo, hi)


# --- the report -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Solution:
    """Where the solver ended: period spends ``s`` within the effective bounds ``[lo, hi]``, the multipliers of the
    budget (``lam``), the ROAS floor (``mu``) and each bounded retailer (``rmult``), the floor on the posterior mean
    it enforced (above min_roas under a chance constraint; None without a floor) and what :func:`_max_roas` found."""

    s: np.ndarray
    lam: float
    mu: float
    rmult: Mapping[str, float]
    lo: np.ndarray
    hi: np.ndarray
    floor: float | None = None
    floor_info: dict | None = None
    # The floor's sample weights where the chance constraint took its tail form (_tail_plan); None: the mean.
    floor_weights: np.ndarray | None = None


@dataclass(frozen=True)
class _Evaluation:
    """The posterior at the solution, computed once for the report: (C, S) period sales samples without (``att0``,
    ``inc0``, for expected values) and with (``att``, ``inc``, for intervals) the forecast error, the marginals per
    channel, the total spend, the binding tolerance and the share of samples meeting the ROAS floor."""

    att0: np.ndarray
    inc0: np.ndarray
    att: np.ndarray
    inc: np.ndarray
    dA: np.ndarray
    dI: np.ndarray
    dobj: np.ndarray
    spend: float
    tol: float
    p_floor: float | None

    def basis(self, prob: _Problem) -> np.ndarray:
        return self.att0 if prob.basis == "attributed" else self.inc0

    def dbasis(self, prob: _Problem) -> np.ndarray:
        return self.dA if prob.basis == "attributed" else self.dI


def _evaluate(prob: _Problem, request: AllocationRequest, s) -> _Evaluation:
    att0, inc0 = prob.attributed_samples(s), prob.incremental_samples(s)
    att, inc = prob.widened(s)
    dA, dI = prob.marginals(s)
    R = request.min_roas
    return _Evaluation(
        att0=att0,
        inc0=inc0,
        att=att,
        inc=inc,
        dA=dA,
        dI=dI,
        dobj=prob.dobj(dI),
        spend=float(s.sum()),
        tol=1e-6 * max(float(request.budget), 1.0),
        p_floor=_p_floor(prob, s, R) if R is not None else None,
    )


def _result(curves, prob: _Problem, request: AllocationRequest, sol: _Solution, *, bounds, rbounds) -> AllocationResult:
    """The report on a solved allocation: one row per channel of the curve set (excluded ones included), the totals,
    the state of every constraint and the warnings."""
    ev = _evaluate(prob, request, sol.s)
    rows = _channel_rows(curves, prob, sol, ev, bounds, rbounds)
    return AllocationResult(
        allocations=tuple(rows[ch.key] if ch.key in rows else _excluded_row(ch) for ch in curves.channels),
        totals=_totals(curves, prob, request, ev),
        constraints=_constraints(prob, request, sol, ev, rows, bounds, rbounds),
        objective=request.objective,
        warnings=_warnings(curves, prob, request, sol, ev),
        notices=_extrapolation_notices(curves, prob, sol),
    )


# --- the report: channel rows ------------------------------------------------------------------------------------


def _channel_rows(curves, prob: _Problem, sol: _Solution, ev: _Evaluation, bounds, rbounds):
    """The active channels' allocations by key."""
    rbinding = {r: _retailer_binding(r, v, sol.s, prob, ev.tol) for r, v in rbounds.items()}
    rows = {}
    for i, key in enumerate(prob.keys):
        ch = curves.channel(key)
        binding = _bound_binding(key, sol.s[i], sol.lo[i], bounds, ev.tol)
        side = rbinding.get(ch.retailer)
        if side is not None:
            binding.append(f"retailer_{side}:{ch.retailer}")
        rows[key] = _channel_row(ch, i, prob, sol, ev, tuple(binding))
    return rows


def _bound_binding(key: str, s: float, lo: float, bounds, tol: float) -> list[str]:
    """Which of the channel's own bounds hold it (a channel at zero spend counts as held by its minimum)."""
    binding = []
    if s <= lo + tol and (key in bounds or s <= tol):
        binding.append("min_bound")
    if key in bounds and s >= bounds[key][1] - tol:
        binding.append("max_bound")
    return binding


def _channel_row(ch, i: int, prob: _Problem, sol: _Solution, ev: _Evaluation, binding) -> ChannelAllocation:
    s, m = sol.s[i], prob.margin[i]
    mean_inc, mean_att = float(ev.inc0[i].mean()), float(ev.att0[i].mean())
    return ChannelAllocation(
        retailer=ch.retailer,
        placement_type=ch.placement_type,
        spend=float(s),
        daily_spend=float(s / prob.P),
        expected_incremental_sales=mean_inc,
        incremental_sales_interval=tuple(float(v) for v in np.percentile(ev.inc[i], _INTERVAL)),
        expected_incremental_margin=float(m * mean_inc),
        incremental_margin_interval=tuple(float(m * v) for v in np.percentile(ev.inc[i], _INTERVAL)),
        expected_attributed_sales=mean_att,
        expected_attributed_roas=mean_att / s if s > 0 else None,
        expected_incremental_roas=mean_inc / s if s > 0 else None,
        marginal_roas=float(ev.dI[i]),
        binding=binding,
        marginal_objective=float(ev.dobj[i]),
        marginal_attributed_roas=float(ev.dA[i]),
    )


def _excluded_row(ch) -> ChannelAllocation:
    zero = (0.0, 0.0)
    return ChannelAllocation(
        ch.retailer, ch.placement_type, 0.0, 0.0, 0.0, zero, 0.0, zero, 0.0, None, None, None, ("excluded",)
    )


# --- the report: totals, constraints, warnings -------------------------------------------------------------------


def _totals(curves, prob: _Problem, request: AllocationRequest, ev: _Evaluation) -> dict:
    B, spend = float(request.budget), ev.spend
    margin_samples = (prob.margin[:, None] * ev.inc).sum(axis=0)
    inc_total, att_total = ev.inc.sum(axis=0), ev.att.sum(axis=0)
    mean_inc_total, mean_att_total = float(ev.inc0.mean(axis=1).sum()), float(ev.att0.mean(axis=1).sum())
    mean_margin = float((prob.margin * ev.inc0.mean(axis=1)).sum())
    return {
        "spend": spend,
        "budget": B,
        "unspent": max(B - spend, 0.0),
        "period_days": prob.P,
        "currency": getattr(curves, "currency", None),
        "expected_incremental_sales": mean_inc_total,
        "incremental_sales_interval": [float(v) for v in np.percentile(inc_total, _INTERVAL)],
        "expected_incremental_margin": mean_margin,
        "incremental_margin_interval": [float(v) for v in np.percentile(margin_samples, _INTERVAL)],
        "expected_net_incremental_profit": mean_margin - spend,
        "expected_attributed_sales": mean_att_total,
        "attributed_sales_interval": [float(v) for v in np.percentile(att_total, _INTERVAL)],
        "expected_attributed_roas": mean_att_total / spend if spend > 0 else None,
        "expected_incremental_roas": mean_inc_total / spend if spend > 0 else None,
        "p_roas_floor": ev.p_floor,
    }


def _constraints(prob: _Problem, request: AllocationRequest, sol: _Solution, ev: _Evaluation, rows, bounds, rbounds):
    B, spend = float(request.budget), ev.spend
    return {
        "budget": {
            "limit": B,
            "used": spend,
            "binding": bool(sol.lam > 1e-12 or (request.spend_everything and spend >= B - ev.tol)),
            "shadow_price": float(sol.lam),
            "spend_everything": request.spend_everything,
        },
        "min_roas": _floor_summary(prob, request, sol, ev),
        "bounds": {
            k: {
                "min": v[0],
                "max": v[1] if math.isfinite(v[1]) else None,
                "binding": [b for b in rows[k].binding if b in ("min_bound", "max_bound")] if k in rows else [],
            }
            for k, v in bounds.items()
        },
        "retailer_bounds": {
            r: {
                "min": v[0],
                "max": v[1] if math.isfinite(v[1]) else None,
                "spend": _retailer_spend(r, sol.s, prob),
                "binding": _retailer_binding(r, v, sol.s, prob, ev.tol),
                "shadow_price": float(sol.rmult.get(r, 0.0)),
            }
            for r, v in rbounds.items()
        },
        "chance": _chance_summary(request, sol, ev) if request.chance is not None else None,
        "exclude_channels": sorted(request.exclude_channels),
        "kkt_max_violation": _kkt_violation(prob, sol, ev, rows),
        # Added (issue 17): the pull toward the last period's mix, and each channel's reference spend and the
        # marginal objective its pull takes off at the plan (0 at the reference).
        "mix_anchor": {
            "strength": float(request.mix_anchor),
            "evidence": float(prob.anchor_evidence),
            "reference_spend": {
                k: float(r) for k, r, w in zip(prob.keys, prob.anchor_ref, prob.anchor_kappa, strict=True) if w > 0
            },
            "marginal_pull": {
                k: float(v)
                for k, v, w in zip(prob.keys, prob.anchor_marginal(sol.s), prob.anchor_kappa, strict=True)
                if w > 0
            },
        }
        if request.mix_anchor
        else None,
    }


def _floor_summary(prob: _Problem, request: AllocationRequest, sol: _Solution, ev: _Evaluation) -> dict:
    spend = ev.spend
    return {
        "limit": request.min_roas,
        "basis": prob.basis,
        "expected": float(ev.basis(prob).mean(axis=1).sum() / spend) if spend > 0 else None,
        "binding": bool(sol.mu > 0),
        "shadow_price": float(sol.mu),
        "probability": ev.p_floor,
        "enforced_floor": sol.floor,
        "forecast_error_sd": float(request.forecast_error_sd or 0.0),
        **(sol.floor_info or {}),
    }


def _chance_summary(request: AllocationRequest, sol: _Solution, ev: _Evaluation) -> dict:
    R = request.min_roas
    return {
        "chance": request.chance,
        "probability": ev.p_floor,
        "enforced_floor": sol.floor,
        "binding": bool(request.chance is not None and R is not None and sol.floor > R * (1 + 1e-9)),
    }


def _kkt_violation(prob: _Problem, sol: _Solution, ev: _Evaluation, rows) -> float:
    """Largest gap between a free channel's marginal Lagrangian and the budget price (0 when no channel is free:
    strictly inside its bounds and not held by a retailer bound)."""
    s, lo, hi, tol = sol.s, sol.lo, sol.hi, ev.tol
    free = [
        i
        for i, key in enumerate(prob.keys)
        if lo[i] + tol < s[i] < hi[i] - tol and not any(b.startswith("retailer_") for b in rows[key].binding)
    ]
    if not free:
        return 0.0
    dobj = ev.dobj - prob.anchor_marginal(s)  # what the solver equalizes: the objective less the anchor's pull
    if sol.floor_weights is None:
        lhs = dobj + sol.mu * (ev.dbasis(prob) - (sol.floor or 0.0))
    else:  # the tail form holds min_roas itself on the weighted samples
        lhs = dobj + sol.mu * (prob.floor_marginals(s, sol.floor_weights) - (sol.floor_info or {})["tail_floor"])
    return float(np.max(np.abs(lhs[free] - sol.lam)))


def _warnings(curves, prob: _Problem, request: AllocationRequest, sol: _Solution, ev: _Evaluation) -> tuple[str, ...]:
    B, P, R, s, spend = float(request.budget), prob.P, request.min_roas, sol.s, ev.spend
    warnings = []
    for i, key in enumerate(prob.keys):
        seen = float(getattr(curves.channel(key), "hist_max_daily_spend", math.inf) or math.inf)
        if s[i] / P > 1.5 * seen:
            warnings.append(
                f"{key}: {_money(s[i] / P)} a day is {s[i] / P / seen:.1f}x the highest daily spend in the history "
                f"({_money(seen)}); its curve is extrapolated there, so consider a maximum bound."
            )
    if sol.mu > 0 and spend < 0.5 * B:
        warnings.append(
            f"Meeting min_roas {R:g} leaves {_money(B - spend)} of the {_money(B)} budget unspent "
            f"({(B - spend) / B:.0%}); a lower floor would let the rest earn."
        )
    return tuple(warnings)


def _extrapolation_notices(curves, prob: _Problem, sol: _Solution) -> tuple[Notice, ...]:
    """The extrapolation warnings of _warnings as notices (the unspent budget is optimizer.engine.notices's)."""
    notices = []
    for i, key in enumerate(prob.keys):
        seen = float(getattr(curves.channel(key), "hist_max_daily_spend", math.inf) or math.inf)
        daily = sol.s[i] / prob.P
        if daily > 1.5 * seen:
            notices.append(
                Notice(
                    kind="extrapolated",
                    severity=WARNING,
                    text=f"{key}: {_money(daily)} a day is {daily / seen:.1f}x the highest daily spend in the history "
                    f"({_money(seen)}); its curve is extrapolated there, so consider a maximum bound.",
                    channels=(key,),
                    figures={"daily_spend": float(daily), "highest_daily_spend": seen, "times": float(daily / seen)},
                )
            )
    return tuple(notices)


def _retailer_spend(r: str, s, prob: _Problem) -> float:
    return float(sum(s[i] for i in range(len(s)) if prob.retailers[i] == r))


def _retailer_binding(r, bounds, s, prob, tol) -> str | None:
    spend = _retailer_spend(r, s, prob)
    if spend >= bounds[1] - tol:
        return "max"
    if bounds[0] > 0 and spend <= bounds[0] + tol:
        return "min"
    return None

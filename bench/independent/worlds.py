"""Retail media worlds built independently of the product's simulator and fitter (see README.md beside this file).

Only the standard library, numpy and scipy are used; nothing here imports the project. A world knows its true
response, so it can score any plan: `incremental_margin(spend)` for period spends per channel, and `oracle()` for the
best plan a perfect planner could make under the world's own request (budget, period, attributed ROAS floor).

The truth of a plan is the steady state of spending `spend / period_days` per day on every day of the planning
period (the days right after the history ends, with the seasonality of those days): carry-over then only moves sales
within the period, so it changes the history a fitter sees but not the plan's total.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import integrate, optimize, stats

RETAILERS = ("amazon", "walmart", "target", "instacart", "kroger", "criteo")
# (retailer, placement_type, sells SKUs in its rows); weights: how often a brand buys it
CHANNEL_POOL = (
    ("amazon", "sponsored_product", True, 1.0),
    ("amazon", "display", False, 0.6),
    ("walmart", "sponsored_product", True, 0.8),
    ("walmart", "display", False, 0.35),
    ("target", "sponsored_product", True, 0.5),
    ("target", "display", False, 0.2),
    ("instacart", "sponsored_product", True, 0.5),
    ("kroger", "sponsored_product", True, 0.35),
    ("kroger", "display", False, 0.15),
    ("criteo", "onsite_display", False, 0.45),
)
BRANDS = ("Northfield", "Bright Oak", "Lumen", "Cascadia", "Harbor & Vine", "Pinecrest", "Solstice", "Ridgeway",
          "Marlowe", "Tidewater", "Copperleaf", "Wildmoor")
CATEGORIES = {
    "snacks": ("Sea Salt Crisps", "Trail Mix", "Protein Bar", "Rice Cakes", "Veggie Straws", "Pretzel Bites"),
    "beverages": ("Sparkling Water", "Cold Brew", "Electrolyte Mix", "Oat Milk", "Green Tea", "Kombucha"),
    "personal care": ("Body Wash", "Shampoo", "Conditioner", "Deodorant", "Face Serum", "Lip Balm"),
    "pet food": ("Dry Kibble", "Wet Food Tray", "Dental Chews", "Training Treats", "Cat Litter", "Jerky Strips"),
    "household": ("Dish Pods", "Laundry Sheets", "Surface Spray", "Paper Towels", "Trash Bags", "Sponges"),
}
SIZES = ("4 oz", "8 oz", "12 ct", "16 oz", "24 ct", "32 oz", "family size", "2-pack", "6-pack")
H_COLUMNS = ("date", "retailer", "placement_type", "campaign_id", "sku_id", "impressions", "clicks", "spend",
             "attributed_sales", "attributed_units", "attribution_window_days", "currency")
S_COLUMNS = ("sku_id", "brand", "category", "product_name", "price", "unit_cost")
L_COLUMNS = ("retailer", "placement_type", "start_date", "end_date", "spend", "incremental_sales",
             "incremental_sales_se")


def _softplus(z: np.ndarray | float, width: float) -> np.ndarray:
    return width * np.logaddexp(0.0, np.asarray(z, dtype=float) / width)


@dataclass
class Curve:
    """Steady-state daily incremental sales of a channel's own spend: amp * h(daily_spend / scale)."""

    kind: str
    scale: float
    amp: float = 1.0
    p: dict = field(default_factory=dict)

    def h(self, u: np.ndarray | float) -> np.ndarray:
        u = np.maximum(np.asarray(u, dtype=float), 0.0)
        p = self.p
        if self.kind == "negexp":
            return -np.expm1(-u)
        if self.kind == "log":
            return np.log1p(u)
        if self.kind == "piecewise":  # three straight pieces, corners rounded off
            w = p["w"]
            return (u - (1 - p["s2"]) * (_softplus(u - 1.0, w) - _softplus(-1.0, w))
                    - (p["s2"] - p["s3"]) * (_softplus(u - p["k2"], w) - _softplus(-p["k2"], w)))
        if self.kind == "threshold":  # almost nothing below a spend threshold, then saturation
            w, t = p["w"], p["t"]
            return np.exp(-_softplus(-t, w)) - np.exp(-_softplus(u - t, w))
        if self.kind == "power":  # no ceiling: keeps growing, ever more slowly
            b = p["b"]
            return ((1.0 + u) ** b - 1.0) / b
        if self.kind == "fatigue":  # saturates, then declines past heavy frequency
            return -np.expm1(-u) - p["delta"] * (_softplus(u - p["k"], 0.3) - _softplus(-p["k"], 0.3))
        raise ValueError(self.kind)

    def __call__(self, daily_spend: np.ndarray | float) -> np.ndarray:
        return self.amp * self.h(np.asarray(daily_spend, dtype=float) / self.scale)


@dataclass
class Claim:
    """Share of the retailer's baseline sales (purchases that happen anyway) the retailer attributes to the ads."""

    kind: str
    m: float
    cmax: float
    gamma: float = 1.0

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        x = np.maximum(np.asarray(x, dtype=float), 0.0)
        if self.kind == "front":  # claims most of what it will ever claim at low spend
            return self.cmax * -np.expm1(-x / self.m)
        if self.kind == "grow":  # claims a share that keeps growing with spend
            return self.cmax * x / (x + self.m)
        if self.kind == "power":
            raw = (x / self.m) ** self.gamma
            return self.cmax * -np.expm1(-raw)
        raise ValueError(self.kind)


@dataclass
class Channel:
    retailer: str
    placement_type: str
    sells_skus: bool
    curve: Curve
    kernel: np.ndarray
    order: str  # "adstock_first" (saturation of carried-over spend) or "saturate_first" (carry-over of response)
    alpha: float  # share of its own incremental sales the retailer attributes (window, view-through)
    claim: Claim
    step: float  # response multiplier after the mid-history shift
    window: int
    noise_sigma: float
    run_rate: float = 0.0  # today's daily spend (mean of the last 56 days)
    margin_rate: float = 0.0
    split: list = field(default_factory=list)  # [(campaign_id, campaign share, [(sku_id, share)] or None)]

    @property
    def key(self) -> str:
        return f"{self.retailer}|{self.placement_type}"


def _t3_mean_factor(sigma: float, clip: float = 6.0) -> float:
    """E[exp(sigma * X)] for X a Student-t(3) variable clipped to [-clip, clip]."""
    body = integrate.quad(lambda x: math.exp(sigma * x) * stats.t.pdf(x, 3), -clip, clip)[0]
    tail = stats.t.sf(clip, 3)
    return body + tail * (math.exp(sigma * clip) + math.exp(-sigma * clip))


class World:
    name: str
    budget: float
    period_days: int
    min_roas: float

    def __init__(self, seed: int, index: int, floor_kind: str) -> None:
        self.seed, self.index, self.floor_kind = seed, index, floor_kind
        rng = np.random.default_rng(np.random.SeedSequence([seed, index, 17]))
        self._rng_files = np.random.default_rng(np.random.SeedSequence([seed, index, 29]))
        self._build(rng)
        self._simulate_history(rng)
        self._make_lift_studies(rng)
        self._make_request(rng)
        self._oracle: tuple[dict[str, float], float] | None = None

    # ---------------------------------------------------------------- construction
    def _build(self, rng: np.random.Generator) -> None:
        self.brand = BRANDS[int(rng.integers(len(BRANDS)))]
        self.category = list(CATEGORIES)[int(rng.integers(len(CATEGORIES)))]
        self.name = f"indep-{self.seed}-{self.index:02d}-{self.brand.lower().replace(' & ', '-').replace(' ', '-')}"
        self.days = int(rng.integers(180, 541))
        end = dt.date(2026, 10, 31) - dt.timedelta(days=int(rng.integers(0, 400)))
        self.start = end - dt.timedelta(days=self.days - 1)
        self.shift_day = int(self.days * rng.uniform(0.35, 0.75))

        # SKUs
        n_sku = int(rng.integers(4, 13))
        names = CATEGORIES[self.category]
        self.skus = []
        for k in range(n_sku):
            price = float(np.round(np.exp(rng.uniform(np.log(2.5), np.log(45.0))), 2))
            margin = rng.uniform(0.15, 0.6)
            self.skus.append({
                "sku_id": f"{self.brand[:3].upper()}-{self.index:02d}{k:03d}",
                "product_name": f"{self.brand} {names[k % len(names)]} {SIZES[int(rng.integers(len(SIZES)))]}",
                "price": price, "unit_cost": float(np.round(price * (1 - margin), 2)),
            })
        for s in self.skus:
            s["margin"] = (s["price"] - s["unit_cost"]) / s["price"]
        self.popularity = rng.dirichlet(np.full(n_sku, 0.8))

        # channels: always Amazon sponsored products, 3 to 7 in all
        n_ch = int(rng.integers(3, 8))
        rest = list(range(1, len(CHANNEL_POOL)))
        w = np.array([CHANNEL_POOL[i][3] for i in rest])
        picked = [0, *rng.choice(rest, size=n_ch - 1, replace=False, p=w / w.sum()).tolist()]
        picked.sort()
        self.ch: list[Channel] = []
        for i in picked:
            retailer, placement, sells, _ = CHANNEL_POOL[i]
            self.ch.append(self._make_channel(rng, retailer, placement, sells))
        n = len(self.ch)

        # seasonality: a brand-wide annual wave whose amplitude and phase change at the shift
        self.annual = [(rng.uniform(0.03, 0.3), rng.uniform(0, 365)), (rng.uniform(0.03, 0.3), rng.uniform(0, 365))]
        self.weekly = {}
        retailers = sorted({c.retailer for c in self.ch})
        for r in retailers:
            wk = 1 + 0.07 * rng.standard_normal(7)
            wk[5:] *= rng.uniform(1.0, 1.25)  # weekend shopping
            self.weekly[r] = wk / wk.mean()
        self.baseline_level = {}
        self.baseline_step = {}
        for r in retailers:
            self.baseline_level[r] = 1.0  # scaled once run rates are known
            self.baseline_step[r] = rng.uniform(0.8, 1.3)
        self.trend = rng.uniform(-0.1, 0.25)
        # one-off promotions in the history only (a retailer's sale days): demand and ad response both jump
        self.events = []
        for _ in range(int(rng.integers(1, 5))):
            self.events.append((int(rng.integers(0, self.days - 5)), int(rng.integers(1, 4)),
                                retailers[int(rng.integers(len(retailers)))],
                                rng.uniform(1.6, 3.0), rng.uniform(1.2, 1.8)))

        # halo: display lifts the same retailer's sponsored products (and Criteo lifts any), partly claimed there
        self.halo = []
        for i, a in enumerate(self.ch):
            for j, b in enumerate(self.ch):
                if a.sells_skus or not b.sells_skus:
                    continue
                if a.retailer == b.retailer and rng.random() < 0.75:
                    self.halo.append((i, j, rng.uniform(0.1, 0.5), rng.uniform(0.3, 0.9)))
                elif a.retailer == "criteo" and rng.random() < 0.35:
                    self.halo.append((i, j, rng.uniform(0.05, 0.25), rng.uniform(0.1, 0.6)))
        # cannibalization: sponsored products at two retailers steal some of each other's incremental shoppers
        self.cannib = []
        for i in range(n):
            for j in range(i + 1, n):
                a, b = self.ch[i], self.ch[j]
                if a.sells_skus and b.sells_skus and a.retailer != b.retailer and rng.random() < 0.45:
                    self.cannib.append((i, j, rng.uniform(0.1, 0.45)))

    def _make_channel(self, rng: np.random.Generator, retailer: str, placement: str, sells: bool) -> Channel:
        kind = str(rng.choice(["negexp", "log", "piecewise", "threshold", "power", "fatigue"]))
        p: dict = {}
        if kind == "piecewise":
            p = {"w": 0.15, "s2": rng.uniform(0.2, 0.5), "s3": rng.uniform(0.0, 0.08), "k2": rng.uniform(2.0, 3.5)}
        elif kind == "threshold":
            p = {"w": 0.08, "t": rng.uniform(0.2, 0.7)}
        elif kind == "power":
            p = {"b": rng.uniform(0.2, 0.6)}
        elif kind == "fatigue":
            p = {"delta": rng.uniform(0.03, 0.08), "k": rng.uniform(1.8, 3.0)}
        lag = str(rng.choice(["none", "geometric", "delayed"], p=[0.2, 0.5, 0.3]))
        if lag == "none":
            kernel = np.ones(1)
        elif lag == "geometric":
            lam = rng.uniform(0.3, 0.85)
            kernel = lam ** np.arange(int(min(30, math.ceil(math.log(0.01) / math.log(lam)))))
        else:
            a, theta = rng.uniform(1.0, 3.0), rng.uniform(1.5, 4.0)
            k = np.arange(28)
            kernel = (k + 1.0) ** a * np.exp(-k / theta)
        kernel = kernel / kernel.sum()
        claim_kind = str(rng.choice(["front", "grow", "power"]))
        window = {"amazon": 14, "walmart": 14, "target": 14, "instacart": 7, "kroger": 7, "criteo": 30}[retailer]
        if not sells:
            window = int(rng.choice([7, 14, 30]))
        return Channel(
            retailer=retailer, placement_type=placement, sells_skus=sells,
            curve=Curve(kind, 1.0, 1.0, p), kernel=kernel, order=str(rng.choice(["adstock_first", "saturate_first"])),
            alpha=rng.uniform(0.6, 1.4) * (1.1 if window >= 14 else 0.9),
            claim=Claim(claim_kind, 1.0, 1.0, rng.uniform(0.7, 1.5)),
            step=rng.uniform(0.75, 1.25), window=window, noise_sigma=rng.uniform(0.08, 0.3),
        )

    # ---------------------------------------------------------------- time
    def _date(self, t: int) -> dt.date:
        return self.start + dt.timedelta(days=int(t))

    def _annual(self, t: np.ndarray) -> np.ndarray:
        doy = np.array([(self._date(x) - dt.date(self._date(x).year, 1, 1)).days for x in t], dtype=float)
        out = np.empty(len(t))
        for regime, mask in ((0, t < self.shift_day), (1, t >= self.shift_day)):
            amp, phase = self.annual[regime]
            out[mask] = 1 + amp * np.sin(2 * np.pi * (doy[mask] - phase) / 365.25)
        return out

    def _dow(self, t: np.ndarray) -> np.ndarray:
        return np.array([self._date(x).weekday() for x in t])

    def _multipliers(self, t: np.ndarray, with_events: bool) -> tuple[np.ndarray, np.ndarray]:
        """Per channel and day: response multiplier and the retailer's baseline sales (both (n, len(t)))."""
        ann, dow = self._annual(t), self._dow(t)
        resp = np.empty((len(self.ch), len(t)))
        base = np.empty((len(self.ch), len(t)))
        for i, c in enumerate(self.ch):
            wk = self.weekly[c.retailer][dow]
            after = t >= self.shift_day
            resp[i] = ann * wk * np.where(after, c.step, 1.0)
            base[i] = (self.baseline_level[c.retailer] * ann * wk * (1 + self.trend * t / 365.0)
                       * np.where(after, self.baseline_step[c.retailer], 1.0))
            if with_events:
                for start, length, retailer, demand, response in self.events:
                    if retailer == c.retailer:
                        hit = (t >= start) & (t < start + length)
                        base[i, hit] *= demand
                        resp[i, hit] *= response
        return resp, base

    # ---------------------------------------------------------------- the true steady-state evaluation
    def _evaluate(self, daily: np.ndarray, resp_sum: np.ndarray, base_sum: np.ndarray):
        """Totals per channel over some days for constant daily spends: (incremental sales, attributed sales)."""
        daily = np.maximum(np.asarray(daily, dtype=float), 0.0)
        own = np.array([c.curve(daily[i]) for i, c in enumerate(self.ch)]) * resp_sum
        inc = own.copy()
        attr = np.array([c.alpha for c in self.ch]) * own
        for i, j, eta, rho in self.halo:
            inc[j] += eta * own[i]
            attr[j] += rho * eta * own[i]
        for i, j, kappa in self.cannib:
            a, b = max(own[i], 0.0), max(own[j], 0.0)
            loss = kappa * a * b / (a + b + 1e-9)
            inc[i] -= loss / 2
            inc[j] -= loss / 2
        attr += np.array([c.claim(daily[i]) for i, c in enumerate(self.ch)]) * base_sum
        return inc, attr

    def _vector(self, spend: dict[str, float]) -> np.ndarray:
        keys = self.channels()
        unknown = set(spend) - set(keys)
        if unknown:
            raise ValueError(f"unknown channel(s) {sorted(unknown)}; known: {keys}")
        v = np.array([float(spend.get(k, 0.0)) for k in keys])
        if np.any(v < 0) or not np.all(np.isfinite(v)):
            raise ValueError(f"spends must be finite and at least 0: {spend}")
        return v

    def _plan_totals(self, v: np.ndarray):
        return self._evaluate(v / self.period_days, self._plan_resp, self._plan_base)

    def channels(self) -> list[str]:
        return [c.key for c in self.ch]

    def margin_rates(self) -> dict[str, float]:
        return {c.key: c.margin_rate for c in self.ch}

    def incremental_sales(self, spend: dict[str, float]) -> float:
        return float(self._plan_totals(self._vector(spend))[0].sum())

    def incremental_margin(self, spend: dict[str, float]) -> float:
        inc, _ = self._plan_totals(self._vector(spend))
        return float(inc @ self._margins)

    def attributed_sales(self, spend: dict[str, float]) -> float:
        return float(self._plan_totals(self._vector(spend))[1].sum())

    def attributed_roas(self, spend: dict[str, float]) -> float:
        v = self._vector(spend)
        total = v.sum()
        return float(self._plan_totals(v)[1].sum() / total) if total > 0 else 0.0

    def history_mix(self) -> dict[str, float]:
        """Today's run rates as period spends (what 'keep last period's mix' would spend)."""
        return {c.key: c.run_rate * self.period_days for c in self.ch}

    # ---------------------------------------------------------------- history
    def _simulate_history(self, rng: np.random.Generator) -> None:
        T, n = self.days, len(self.ch)
        t = np.arange(T)
        spend = np.zeros((n, T))
        self.launch = {}
        for i, c in enumerate(self.ch):
            level = float(np.exp(rng.uniform(np.log(250), np.log(12000))))
            if c.placement_type != "sponsored_product":
                level *= 0.6
            launch = int(rng.uniform(0.25, 0.6) * T) if (i > 0 and rng.random() < 0.2) else 0
            self.launch[i] = launch
            growth = rng.uniform(-0.3, 0.6)
            weeks = T // 7 + 2
            week_mult = np.exp(rng.uniform(0.04, 0.45) * rng.standard_normal(weeks))
            path = level * np.exp(growth * (t - T) / T) * week_mult[(t + int(rng.integers(7))) // 7]
            path *= np.exp(0.08 * rng.standard_normal(T))
            if rng.random() < 0.35:  # a heavy-up flight the team tried once
                a = int(rng.integers(launch, T - 21))
                path[a:a + int(rng.integers(10, 22))] *= rng.uniform(1.8, 2.8)
            for _ in range(int(rng.integers(0, 4))):  # paused: budget exhausted or delivery outage
                a = int(rng.integers(launch, T - 1))
                path[a:a + int(rng.integers(1, 9))] = 0.0
            path[:launch] = 0.0
            spend[i] = path
        self.spend = spend
        for i, c in enumerate(self.ch):
            c.run_rate = float(spend[i, -56:].mean())
            if c.run_rate <= 0:  # never leave a channel with no recent spend
                spend[i, -56:] = spend[i, spend[i] > 0].mean()
                c.run_rate = float(spend[i, -56:].mean())

        # curve scales and amplitudes relative to today's run rate
        for c in self.ch:
            r = c.run_rate
            cv = c.curve
            if cv.kind == "threshold":
                cv.scale = r / (cv.p["t"] + rng.uniform(0.3, 1.5))
            elif cv.kind == "power":
                cv.scale = r * rng.uniform(0.3, 1.5)
            else:
                cv.scale = r * rng.uniform(0.4, 3.0)
            avg_iroas = float(np.exp(rng.uniform(np.log(0.5), np.log(3.0))))
            cv.amp = avg_iroas * r / float(cv.h(r / cv.scale))
        for retailer in self.baseline_level:
            rate = sum(c.run_rate for c in self.ch if c.retailer == retailer)
            self.baseline_level[retailer] = rate * rng.uniform(4.0, 20.0)
        for c in self.ch:
            # attributed sales per dollar that are really baseline purchases, at today's run rate
            claimed_roas = np.exp(rng.uniform(np.log(0.3), np.log(4.0) if c.sells_skus else np.log(6.0)))
            r = c.run_rate
            share = min(0.5, claimed_roas * r / self.baseline_level[c.retailer])
            if c.claim.kind == "front":
                c.claim.m = r * rng.uniform(0.15, 0.5)
            elif c.claim.kind == "grow":
                c.claim.m = r * rng.uniform(1.5, 5.0)
            else:
                c.claim.m = r
            if c.claim.kind == "power":
                c.claim.cmax = min(0.6, share * rng.uniform(1.3, 2.5))
                c.claim.m = r / float(-np.log1p(-share / c.claim.cmax)) ** (1 / c.claim.gamma)
            else:
                c.claim.cmax = 1.0
                c.claim.cmax = share / float(c.claim(r))

        # expected daily own response, halo and attributed sales
        resp, base = self._multipliers(t, with_events=True)
        own = np.zeros((n, T))
        xs = np.zeros((n, T))
        for i, c in enumerate(self.ch):
            L = len(c.kernel)
            padded = np.concatenate([np.full(L - 1, spend[i, :7].mean() if self.launch[i] == 0 else 0.0), spend[i]])
            x = np.convolve(padded, c.kernel, mode="valid")
            xs[i] = x
            if c.order == "adstock_first":
                own[i] = resp[i] * c.curve(x)
            else:
                fr = resp[i] * c.curve(spend[i])
                pad_f = np.concatenate([np.full(L - 1, fr[:7].mean() if self.launch[i] == 0 else 0.0), fr])
                own[i] = np.convolve(pad_f, c.kernel, mode="valid")
        attr = np.array([c.alpha for c in self.ch])[:, None] * own
        for i, j, eta, rho in self.halo:
            attr[j] += rho * eta * own[i]
        for i, c in enumerate(self.ch):
            attr[i] += c.claim(xs[i]) * base[i]
            attr[i, : self.launch[i]] = 0.0
        self.expected_attr = attr

        # campaigns and the SKUs they advertise; margin rates follow the same split
        for c in self.ch:
            n_camp = int(rng.integers(1, 4))
            shares = rng.dirichlet(np.full(n_camp, 3.0))
            code = f"{c.retailer[:3]}{c.placement_type[:2]}"
            if not c.sells_skus:
                c.split = [(f"{code}-{self.index:02d}-{k + 1}", float(shares[k]), None) for k in range(n_camp)]
                continue
            sold = np.flatnonzero(rng.random(len(self.skus)) < rng.uniform(0.6, 1.0))
            if len(sold) == 0:
                sold = np.array([int(np.argmax(self.popularity))])
            mix = self.popularity[sold] * np.exp(0.4 * rng.standard_normal(len(sold)))
            mix = mix / mix.sum()
            groups = [[] for _ in range(n_camp)]
            for pos, k in enumerate(sold):
                groups[pos % n_camp if pos < n_camp else int(rng.integers(n_camp))].append((int(k), mix[pos]))
            c.split = []
            for g, (share, members) in enumerate(zip(shares, groups, strict=True)):
                if not members:
                    continue
                total = sum(m for _, m in members)
                c.split.append((f"{code}-{self.index:02d}-{g + 1}", float(share),
                                [(self.skus[k]["sku_id"], m / total) for k, m in members]))
            norm = sum(s for _, s, _ in c.split)
            c.split = [(cid, s / norm, members) for cid, s, members in c.split]
        margin_of = {s["sku_id"]: s["margin"] for s in self.skus}
        sales_weight, margin_weight = 0.0, 0.0
        for i, c in enumerate(self.ch):
            if c.sells_skus:
                c.margin_rate = sum(s * m * margin_of[k] for _, s, members in c.split for k, m in members)
                sales_weight += self.expected_attr[i].sum()
                margin_weight += self.expected_attr[i].sum() * c.margin_rate
        for c in self.ch:
            if not c.sells_skus:  # campaign-level rows: the brand's sales-weighted margin of the SKUs it sold
                c.margin_rate = margin_weight / sales_weight
        self._margins = np.array([c.margin_rate for c in self.ch])

    # ---------------------------------------------------------------- lift studies
    def _make_lift_studies(self, rng: np.random.Generator) -> None:
        self.lift = []
        if rng.random() < 0.2:
            return
        candidates = [i for i in range(len(self.ch)) if rng.random() < 0.55]
        for i in candidates[:3]:
            c = self.ch[i]
            length = int(rng.integers(14, 43))
            first = max(self.launch[i], 0)
            if self.days - length - first < 10:
                continue
            a = int(rng.integers(first, self.days - length))
            days = np.arange(a, a + length)
            resp, base = self._multipliers(days, with_events=False)
            daily = self.spend[:, a:a + length].mean(axis=1)
            levels = [0.25, 0.4, 0.6, 1.0, 1.8, 2.5, 3.5]
            test = c.run_rate * float(rng.choice(levels, p=[0.15, 0.15, 0.1, 0.1, 0.15, 0.2, 0.15]))
            on, off = daily.copy(), daily.copy()
            on[i], off[i] = test, 0.0
            truth = float(self._evaluate(on, resp.sum(axis=1), base.sum(axis=1))[0].sum()
                          - self._evaluate(off, resp.sum(axis=1), base.sum(axis=1))[0].sum())
            se = max(abs(truth) * rng.uniform(0.1, 0.35), 0.05 * test * length)
            optimism = float(rng.choice([1.0, 1.0, 1.5]))  # some studies understate their error
            observed = truth + optimism * se * rng.standard_normal()
            self.lift.append({"channel": i, "start": a, "end": a + length - 1, "spend": test * length,
                              "true_incremental_sales": truth, "incremental_sales": observed, "se": se})

    # ---------------------------------------------------------------- request
    def _make_request(self, rng: np.random.Generator) -> None:
        self.period_days = int(rng.choice([28, 30, 42, 56, 91, 92], p=[0.25, 0.2, 0.1, 0.15, 0.2, 0.1]))
        plan_t = np.arange(self.days, self.days + self.period_days)
        resp, base = self._multipliers(plan_t, with_events=False)
        self._plan_resp, self._plan_base = resp.sum(axis=1), base.sum(axis=1)
        run = sum(c.run_rate for c in self.ch) * self.period_days
        u = rng.random()
        factor = rng.uniform(0.9, 1.3) if u < 0.6 else rng.uniform(1.3, 2.0) if u < 0.85 else rng.uniform(2.2, 4.0)
        self.budget = float(round(run * factor, -3) or 1000.0)
        self.min_roas = 0.0
        # floors are set from the world's own truth so that each kind really is what it says
        free, _ = self._solve(floor=0.0, starts=8)
        roas_free = self.attributed_roas(free)
        best_full = self._max_roas(self.budget)
        if self.floor_kind == "infeasible":
            reachable = max(self._max_roas(self.budget * f) for f in (0.1, 0.25, 0.5))
            if reachable < best_full * 1.03:  # attributed ROAS hardly rises at lower spend: no such floor here
                self.floor_kind = "binding"
        if self.floor_kind == "loose":
            floor = math.floor(roas_free * rng.uniform(0.55, 0.9) * 10) / 10
        elif self.floor_kind == "binding":
            floor = roas_free + rng.uniform(0.25, 0.75) * (best_full - roas_free)
            rounded = round(floor * 20) / 20
            floor = rounded if roas_free < rounded < best_full else floor
        else:  # the whole budget cannot reach it, a smaller spend can
            floor = math.ceil(best_full * rng.uniform(1.05, 1.2) * 10) / 10
            if reachable < floor:
                floor = best_full + 0.5 * (reachable - best_full)
        self.min_roas = float(max(floor, 0.1))
        self.request_facts = {"attributed_roas_unconstrained": roas_free, "max_attributed_roas_full_budget": best_full}

    # ---------------------------------------------------------------- optimization
    def _max_roas(self, spend_total: float) -> float:
        n = len(self.ch)

        def neg(y: np.ndarray) -> float:
            v = np.maximum(y, 0) * spend_total
            return -float(self._plan_totals(v)[1].sum() / spend_total)

        best = -np.inf
        cons = [{"type": "eq", "fun": lambda y: 1.0 - y.sum()}]
        for k in range(n + 1):
            y0 = np.full(n, 1.0 / n) if k == n else np.where(np.arange(n) == k, 0.7, 0.3 / max(n - 1, 1))
            res = optimize.minimize(neg, y0, method="SLSQP", bounds=[(0, 1)] * n, constraints=cons,
                                    options={"maxiter": 300, "ftol": 1e-11})
            if abs(res.x.sum() - 1) < 1e-6:
                best = max(best, -res.fun)
        return float(best)

    def _solve(self, floor: float, starts: int = 24) -> tuple[dict[str, float], float]:
        n, budget = len(self.ch), self.budget
        scale = max(self.incremental_margin({c.key: budget / n for c in self.ch}), 1.0)

        def obj(y: np.ndarray) -> float:
            return -float(self._plan_totals(np.maximum(y, 0) * budget)[0] @ self._margins) / scale

        def roas_gap(y: np.ndarray) -> float:
            v = np.maximum(y, 0) * budget
            return float(self._plan_totals(v)[1].sum() - floor * v.sum()) / budget

        cons = [{"type": "ineq", "fun": lambda y: 1.0 - y.sum()}]
        if floor > 0:
            cons.append({"type": "ineq", "fun": roas_gap})
        rng = np.random.default_rng(self.index)
        hist = np.array([c.run_rate for c in self.ch])
        hist = hist / hist.sum()
        x0s = [np.full(n, 1.0 / n), hist, 0.5 * hist, 0.2 * hist]
        x0s += [np.where(np.arange(n) == k, 0.7, 0.3 / max(n - 1, 1)) for k in range(n)]
        while len(x0s) < starts:
            x0s.append(rng.dirichlet(np.full(n, 0.7)) * rng.uniform(0.2, 1.0))

        def feasible(y: np.ndarray) -> bool:
            return y.sum() <= 1 + 1e-7 and y.min() >= -1e-9 and (floor <= 0 or roas_gap(y) >= -1e-7)

        best_y, best_f = np.zeros(n), 0.0
        for y0 in x0s[:starts]:
            res = optimize.minimize(obj, y0, method="SLSQP", bounds=[(0, 1)] * n, constraints=cons,
                                    options={"maxiter": 500, "ftol": 1e-12})
            y = np.clip(res.x, 0, 1)
            if feasible(y) and obj(y) < best_f:
                best_y, best_f = y, obj(y)
        res = optimize.minimize(obj, best_y, method="SLSQP", bounds=[(0, 1)] * n, constraints=cons,
                                options={"maxiter": 1000, "ftol": 1e-14})
        y = np.clip(res.x, 0, 1)
        if feasible(y) and obj(y) < best_f:
            best_y, best_f = y, obj(y)
        plan = {c.key: float(best_y[i] * budget) for i, c in enumerate(self.ch)}
        return plan, -best_f * scale

    def oracle(self) -> tuple[dict[str, float], float]:
        if self._oracle is None:
            self._oracle = self._solve(floor=self.min_roas, starts=24)
        return dict(self._oracle[0]), self._oracle[1]

    def request(self) -> dict:
        return {"budget": self.budget, "period_days": self.period_days, "min_roas": self.min_roas, "currency": "USD"}

    def score(self, plan: dict[str, float]) -> dict:
        """How a plan (period spends per channel) fares in truth against this world's request and oracle."""
        _, best = self.oracle()
        spent = float(sum(plan.values()))
        roas = self.attributed_roas(plan)
        return {
            "share_of_oracle": self.incremental_margin(plan) / best,
            "incremental_margin": self.incremental_margin(plan),
            "attributed_roas": roas,
            "floor_held": roas >= self.min_roas,
            "spent_share": spent / self.budget,
            "within_budget": spent <= self.budget * (1 + 1e-6),
        }

    # ---------------------------------------------------------------- files
    def write_files(self, folder: Path) -> dict:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.index, 31]))
        paths = {"history": folder / "H.csv", "skus": folder / "S.csv", "lift_studies": None}
        price_of = {s["sku_id"]: s["price"] for s in self.skus}
        avg_price = float(np.dot(self.popularity, [s["price"] for s in self.skus]))
        with paths["skus"].open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(S_COLUMNS)
            for s in self.skus:
                w.writerow([s["sku_id"], self.brand, self.category, s["product_name"], f"{s['price']:.2f}",
                            f"{s['unit_cost']:.2f}"])
        with paths["history"].open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(H_COLUMNS)
            for i, c in enumerate(self.ch):
                factor = _t3_mean_factor(c.noise_sigma)
                noise = np.exp(c.noise_sigma * np.clip(rng.standard_t(3, self.days), -6, 6)) / factor
                observed = self.expected_attr[i] * noise
                outage = rng.random(self.days) < rng.uniform(0.003, 0.02)  # reporting outage: nothing attributed
                observed[outage] = 0.0
                spike = rng.random(self.days) < 0.003  # double-counted conversions on a bad reporting day
                observed[spike] *= 2.5
                if c.sells_skus:
                    cpc, ctr = rng.uniform(0.4, 2.5), rng.uniform(0.002, 0.012)
                else:
                    cpm, ctr = rng.uniform(3.0, 15.0), rng.uniform(0.0005, 0.003)
                rows = [(cid, s, sku, m) for cid, s, members in c.split
                        for sku, m in (members if members else [("", 1.0)])]
                base_share = np.array([s * m for _, s, _, m in rows])
                for t in range(self.launch[i], self.days):
                    jit_s = rng.dirichlet(base_share * 300 + 1e-3)
                    jit_a = rng.dirichlet(base_share * 300 + 1e-3)
                    day = self._date(t).isoformat()
                    for r, (cid, _, sku, _) in enumerate(rows):
                        sp = self.spend[i, t] * jit_s[r]
                        at = observed[t] * jit_a[r]
                        if c.sells_skus:
                            clicks = int(rng.poisson(sp / cpc)) if sp > 0 else 0
                            impressions = int(rng.poisson(clicks / ctr)) if clicks > 0 else 0
                        else:
                            impressions = int(rng.poisson(sp / cpm * 1000)) if sp > 0 else 0
                            clicks = int(rng.binomial(impressions, ctr)) if impressions > 0 else 0
                        units = round(float(at) / (price_of[sku] if sku else avg_price))
                        w.writerow([day, c.retailer, c.placement_type, cid, sku, impressions, clicks, f"{sp:.2f}",
                                    f"{at:.2f}", units, c.window, "USD"])
        if self.lift:
            paths["lift_studies"] = folder / "L.csv"
            with paths["lift_studies"].open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(L_COLUMNS)
                for s in self.lift:
                    c = self.ch[s["channel"]]
                    w.writerow([c.retailer, c.placement_type, self._date(s["start"]).isoformat(),
                                self._date(s["end"]).isoformat(), f"{s['spend']:.2f}",
                                f"{s['incremental_sales']:.2f}", f"{s['se']:.2f}"])
        return paths

    def describe(self) -> dict:
        """The world's hidden truth in words and numbers, for reports (never for the planner)."""
        return {
            "name": self.name, "days": self.days, "budget": self.budget, "period_days": self.period_days,
            "min_roas": self.min_roas, "floor_kind": self.floor_kind,
            "history_run_rate_per_period": sum(c.run_rate for c in self.ch) * self.period_days,
            "channels": {c.key: {"curve": c.curve.kind, "carry_over": len(c.kernel), "order": c.order,
                                 "claim": c.claim.kind, "alpha": round(c.alpha, 3), "margin_rate": c.margin_rate,
                                 "run_rate": c.run_rate} for c in self.ch},
            "halo": [(self.ch[i].key, self.ch[j].key, round(e, 3)) for i, j, e, _ in self.halo],
            "cannibalization": [(self.ch[i].key, self.ch[j].key, round(k, 3)) for i, j, k in self.cannib],
            "lift_studies": len(self.lift), **self.request_facts,
        }


def make_worlds(n: int = 20, seed: int = 0) -> list[World]:
    """n worlds; of each 20, 8 with a floor that does not bind, 9 where it binds and 3 where the whole budget cannot
    meet it. World k is the same whatever n is."""
    block = ["infeasible"] * 3 + ["binding"] * 9 + ["loose"] * 8
    kinds = []
    for b in range(math.ceil(n / len(block))):  # shuffled blocks of 20: the first worlds never depend on n
        rng = np.random.default_rng(np.random.SeedSequence([seed, b, 7]))
        kinds += [block[k] for k in rng.permutation(len(block))]
    return [World(seed, k, kinds[k]) for k in range(n)]


def main(argv: list[str] | None = None) -> None:
    """Write each world's files and request into OUT/<name>/, and the hidden truth into OUT/truth.json."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    truth = {}
    for world in make_worlds(args.n, args.seed):
        folder = args.out / world.name
        world.write_files(folder)
        (folder / "REQUEST.json").write_text(json.dumps(world.request(), indent=1) + "\n")
        plan, best = world.oracle()
        truth[world.name] = {**world.describe(), "oracle_plan": plan, "oracle_incremental_margin": best}
        print(world.name, world.floor_kind, f"oracle {best:,.0f}", flush=True)
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Experiment data with a known conditional average treatment effect (CATE), for uplift tests and benchmarks.

Three families, each returning an :class:`UpliftData` whose ``true_cate`` is the exact E[Y(1) - Y(0) | x]:

- :func:`retail_media_experiment`: a randomized exposure test for one brand's retail media (audience, SKU,
  placement and two shopper covariates), outcome = sales per shopper over the test window.
- :func:`nie_wager_setup`: setups A–D of Nie & Wager, "Quasi-oracle estimation of heterogeneous treatment effects"
  (Biometrika 2021; arXiv:1712.04912, 2017), the four generators causalml ships as
  ``causalml.dataset.synthetic_data(mode=1..4)``. Reimplemented here because causalml cannot be imported without
  matplotlib and its other heavy dependencies; the draws are made in the same order with the same calls, so with a
  ``numpy.random.RandomState`` seeded like ``np.random.seed`` they reproduce causalml 0.18.0 exactly.
- :func:`ihdp_surface`: Hill's (2011) IHDP response surfaces A (constant effect) and B (heterogeneous) as econml
  ships them (``econml.data.dgps``, data read offline from the package).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit

AUDIENCES = ("new_to_brand", "lapsed", "loyal", "deal_seeker")
PLACEMENTS = ("sponsored_product", "onsite_display", "offsite_display", "ctv")
SKUS = ("SKU-COFFEE-1", "SKU-COFFEE-2", "SKU-SNACK-1", "SKU-SNACK-2", "SKU-PET-1")

# Conversion rate over the window without exposure, and the absolute lift exposure adds, by audience. Loyal shoppers
# buy anyway (little lift), new-to-brand shoppers rarely buy without the ad (most lift).
_BASE_CONVERSION = {"new_to_brand": 0.02, "lapsed": 0.05, "loyal": 0.30, "deal_seeker": 0.08}
_LIFT_BY_AUDIENCE = {"new_to_brand": 0.035, "lapsed": 0.025, "loyal": 0.004, "deal_seeker": 0.015}
# Sponsored products on the retailer's own search reach shoppers already about to buy: less incremental.
_LIFT_BY_PLACEMENT = {"sponsored_product": 0.5, "onsite_display": 1.0, "offsite_display": 1.3, "ctv": 1.1}
_BASKET_BY_SKU = {"SKU-COFFEE-1": 14.0, "SKU-COFFEE-2": 22.0, "SKU-SNACK-1": 6.0, "SKU-SNACK-2": 9.0, "SKU-PET-1": 35.0}


@dataclass(frozen=True)
class UpliftData:
    X: pd.DataFrame | np.ndarray
    treatment: np.ndarray  # 0/1
    outcome: np.ndarray
    true_cate: np.ndarray  # E[Y(1) - Y(0) | x] for each row
    propensity: np.ndarray  # P(T = 1 | x)

    @property
    def true_ate(self) -> float:
        return float(np.mean(self.true_cate))


def retail_media_experiment(
    n: int = 4000, *, seed: int = 0, effect: str = "heterogeneous", treated_share: float = 0.5, lift_scale: float = 1.0
) -> UpliftData:
    """A randomized exposure test: each shopper is exposed (T=1) with probability ``treated_share``.

    Outcome: the shopper's sales of the brand over the test window (0 when they do not buy, else a basket value with
    mean-one lognormal noise). With ``effect="heterogeneous"`` the lift in conversion depends on audience and
    placement and is worth the SKU's basket value, and shoppers with more past purchases respond less; with
    ``effect="constant"`` every shopper's expected lift is the same (the population mean of the heterogeneous case),
    while baseline sales still vary, so a CATE model has nothing to find.
    """
    if effect not in ("heterogeneous", "constant"):
        raise ValueError(f"effect must be 'heterogeneous' or 'constant', got {effect!r}.")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7331]))
    audience = rng.choice(AUDIENCES, size=n, p=[0.3, 0.2, 0.3, 0.2])
    placement = rng.choice(PLACEMENTS, size=n, p=[0.4, 0.25, 0.2, 0.15])
    sku = rng.choice(SKUS, size=n)
    past_purchases = rng.poisson(np.where(audience == "loyal", 4.0, 0.6))
    days_since_visit = rng.exponential(20.0, size=n).round()

    basket = np.array([_BASKET_BY_SKU[s] for s in sku])
    base = np.array([_BASE_CONVERSION[a] for a in audience]) * np.exp(-days_since_visit / 60.0)
    lift = (
        np.array([_LIFT_BY_AUDIENCE[a] for a in audience])
        * np.array([_LIFT_BY_PLACEMENT[p] for p in placement])
        / (1.0 + 0.3 * past_purchases)
        * lift_scale
    )
    cate = lift * basket
    if effect == "constant":
        cate = np.full(n, float(np.mean(cate)))
        lift = cate / basket
    treatment = (rng.random(n) < treated_share).astype(int)
    converted = rng.random(n) < base + treatment * lift
    sales = converted * basket * np.exp(rng.normal(-0.08, 0.4, size=n))  # exp(N(-σ²/2, σ²)): mean one
    X = pd.DataFrame(
        {
            "audience": audience,
            "placement": placement,
            "sku": sku,
            "past_purchases": past_purchases.astype(float),
            "days_since_visit": days_since_visit,
        }
    )
    return UpliftData(X, treatment, sales.astype(float), cate, np.full(n, float(treated_share)))


def nie_wager_setup(
    mode: int, n: int = 1000, p: int = 5, sigma: float = 1.0, adj: float = 0.0, *, rng=None
) -> UpliftData:
    """Nie & Wager setups A–D (``mode`` 1–4, as causalml numbers them): ``y = b(x) + (w - 1/2)·tau(x) + sigma·eps``.

    1 (A): difficult nuisance, easy effect, X ~ U[0,1]^p, e(x) = trim_0.1 sin(pi x1 x2), tau = (x1 + x2) / 2.
    2 (B): randomized trial, X ~ N(0, I), e = 1/2, tau = x1 + log(1 + e^x2).
    3 (C): easy propensity, difficult baseline, tau = 1 (constant effect).
    4 (D): unrelated treated and control arms, tau = max(x1+x2+x3, 0) - max(x4+x5, 0).
    ``adj`` shifts logit e(x) down in modes 1 and 4 only (causalml's extension; 0 is the paper). ``rng`` is a
    numpy Generator or RandomState (None: a fresh default Generator).
    """
    if mode not in (1, 2, 3, 4):
        raise ValueError(f"mode must be 1, 2, 3 or 4 (Nie & Wager setups A-D), got {mode!r}.")
    if p < 5:
        raise ValueError(f"the setups use five covariates, so p must be at least 5, got {p}.")
    rng = np.random.default_rng() if rng is None else rng
    zero = np.zeros(n)
    if mode == 1:
        X = rng.uniform(size=n * p).reshape((n, -1))
        b = np.sin(np.pi * X[:, 0] * X[:, 1]) + 2 * (X[:, 2] - 0.5) ** 2 + X[:, 3] + 0.5 * X[:, 4]
        e = np.clip(np.sin(np.pi * X[:, 0] * X[:, 1]), 0.1, 0.9)
        e = expit(logit(e) - adj)
        tau = (X[:, 0] + X[:, 1]) / 2
    elif mode == 2:
        X = rng.normal(size=n * p).reshape((n, -1))
        b = np.maximum.reduce([zero, X[:, 0] + X[:, 1], X[:, 2]]) + np.maximum(zero, X[:, 3] + X[:, 4])
        e = np.full(n, 0.5)
        tau = X[:, 0] + np.log1p(np.exp(X[:, 1]))
    elif mode == 3:
        X = rng.normal(size=n * p).reshape((n, -1))
        b = 2 * np.log1p(np.exp(X[:, 0] + X[:, 1] + X[:, 2]))
        e = 1 / (1 + np.exp(X[:, 1] + X[:, 2]))
        tau = np.ones(n)
    else:
        X = rng.normal(size=n * p).reshape((n, -1))
        b = (np.maximum(zero, X[:, 0] + X[:, 1] + X[:, 2]) + np.maximum(zero, X[:, 3] + X[:, 4])) / 2
        e = 1 / (1 + np.exp(-X[:, 0]) + np.exp(-X[:, 1]))
        e = expit(logit(e) - adj)
        tau = np.maximum(zero, X[:, 0] + X[:, 1] + X[:, 2]) - np.maximum(zero, X[:, 3] + X[:, 4])
    w = rng.binomial(1, e, size=n)
    y = b + (w - 0.5) * tau + sigma * rng.normal(size=n)
    return UpliftData(X, w.astype(int), y, tau, e)


def ihdp_surface(surface: str, replication: int) -> UpliftData:
    """Hill's IHDP semi-synthetic data (747 children, 25 covariates), response surface "A" or "B", via econml.

    The covariates and treatment are the real study's; the outcome surface is drawn by ``replication``. econml does
    not return propensities (the treatment is the study's, after Hill removes treated children of nonwhite mothers),
    so ``propensity`` is the treated share, a placeholder.
    """
    from econml.data import dgps  # reads its bundled CSV on import

    make = {"A": dgps.ihdp_surface_A, "B": dgps.ihdp_surface_B}.get(surface)
    if make is None:
        raise ValueError(f"IHDP surface must be 'A' or 'B', got {surface!r}.")
    y, t, X, te = make(random_state=replication)
    X = np.asarray(X, dtype=float)[:, 1:]  # econml prepends an intercept column
    t = np.asarray(t, dtype=int)
    return UpliftData(X, t, np.asarray(y, dtype=float), np.asarray(te, dtype=float), np.full(len(t), t.mean()))

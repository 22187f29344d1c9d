"""Uplift (CATE) models for targeting: econml's T-, X- and DR-learners, chosen only when they beat a constant effect.

:func:`fit_uplift` splits the experiment into a training and a validation part (stratified by treatment), fits every
requested learner and a constant-effect baseline on the training part only, and judges them on the validation part,
with nuisance models (outcome per arm ``mu0``, ``mu1``; propensity ``e``) also fitted on the training part:

- **R-loss** (Nie & Wager): ``mean(((Y - m(x)) - (T - e(x)) * tau(x))^2)`` with ``m = e*mu1 + (1 - e)*mu0`` is PEHE²
  weighted by e(1 - e), plus a constant shared by every model; it divides by nothing, so it is stable on a few
  hundred rows. The default criterion.
- **DR tau-risk** (``criterion="tau_risk"``): ``mean((phi - tau(x))^2)`` against the doubly robust pseudo-outcomes
  ``phi = mu1 - mu0 + T(Y - mu1)/e - (1 - T)(Y - mu0)/(1 - e)``: PEHE² plus a constant, but noisier.
- **Qini coefficient and AUUC** of the ranking the model induces (definitions at :class:`UpliftCurves`), with a
  bootstrap interval for the Qini coefficient. A constant effect ranks nobody above anybody: its Qini is 0.
- **PEHE** when the true effects are known (simulations).

The baseline is the average treatment effect (AIPW, cross-fitted on the training part). A CATE model is chosen only
when its loss is lower than the baseline's with a one-sided 95% confidence bound (Bonferroni over the learners
tried), and then the one that lowers it most; otherwise the result predicts the constant ATE. Models are not refitted
on the validation rows, so the reported metrics are those of the model that predicts. Method and benchmark:
docs/measurement.md, "Uplift (CATE)".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from optimizer.engine.errors import OptimizerInputError

LEARNERS = ("t", "x", "dr")
MIN_PER_ARM = 40
PROPENSITY_CLIP = 0.05  # for the AIPW baseline and the validation pseudo-outcomes
DR_MIN_PROPENSITY = 0.1
_CATEGORICAL_KINDS = ("O", "U", "S", "b")


# --- Qini and AUUC -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpliftCurves:
    """Cumulative curves at each distinct score, from the highest score down (ties enter together).

    ``fraction[j]`` is the share k/N of units targeted; with n_t(k), n_c(k) treated and control units among them and
    Y_t(k), Y_c(k) their summed outcomes:
    ``qini = (Y_t - Y_c · n_t / n_c) / N`` (Radcliffe 2007) and
    ``uplift = (Y_t / n_t - Y_c / n_c) · k / N`` (Rzepakowski & Jaroszewicz 2012; Gutierrez & Gérardy 2017),
    both 0 while one arm has no unit yet. Divided by N, both end at the difference in means (times 1 for uplift,
    times n_t/N for qini) and read as "outcome per unit of the population".
    """

    fraction: np.ndarray
    qini: np.ndarray
    uplift: np.ndarray

    @property
    def qini_coefficient(self) -> float:
        """Area between the Qini curve and the straight line of random targeting (0 for random or constant)."""
        return float(np.trapezoid(self.qini - self.fraction * self.qini[-1], self.fraction))

    @property
    def auuc(self) -> float:
        """Area under the uplift curve; random targeting scores ``uplift[-1] / 2`` (see :attr:`auuc_random`)."""
        return float(np.trapezoid(self.uplift, self.fraction))

    @property
    def auuc_random(self) -> float:
        return float(self.uplift[-1] / 2)


def uplift_curves(score: np.ndarray, treatment: np.ndarray, outcome: np.ndarray) -> UpliftCurves:
    score = np.asarray(score, dtype=float)
    treatment = np.asarray(treatment).astype(bool)
    outcome = np.asarray(outcome, dtype=float)
    n = len(score)
    order = np.argsort(-score, kind="stable")
    s, t, y = score[order], treatment[order], outcome[order]
    n_t = np.cumsum(t)
    n_c = np.cumsum(~t)
    y_t = np.cumsum(np.where(t, y, 0.0))
    y_c = np.cumsum(np.where(t, 0.0, y))
    # Ties enter together: keep only the last position of each run of equal scores.
    ends = np.flatnonzero(np.append(s[1:] != s[:-1], True))
    n_t, n_c, y_t, y_c = n_t[ends], n_c[ends], y_t[ends], y_c[ends]
    k = ends + 1.0
    both = (n_t > 0) & (n_c > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        qini = np.where(both, (y_t - y_c * n_t / n_c) / n, 0.0)
        uplift = np.where(both, (y_t / n_t - y_c / n_c) * k / n, 0.0)
    return UpliftCurves(np.append(0.0, k / n), np.append(0.0, qini), np.append(0.0, uplift))


def qini_coefficient(score, treatment, outcome) -> float:
    return uplift_curves(score, treatment, outcome).qini_coefficient


def auuc(score, treatment, outcome) -> float:
    return uplift_curves(score, treatment, outcome).auuc


def pehe(estimated_cate, true_cate) -> float:
    """Precision in estimating heterogeneous effects: sqrt(mean((tau_hat - tau)^2))."""
    diff = np.asarray(estimated_cate, dtype=float) - np.asarray(true_cate, dtype=float)
    return float(np.sqrt(np.mean(diff * diff)))


# --- features ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Encoder:
    """One-hot encodes text columns (audience, SKU, placement ...) with the categories seen in training."""

    columns: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]
    feature_names: tuple[str, ...]

    @classmethod
    def fit(cls, X) -> _Encoder:
        if not isinstance(X, pd.DataFrame):
            arr = np.asarray(X)
            width = arr.shape[1] if arr.ndim == 2 else 1
            names = tuple(f"x{i}" for i in range(width))
            return cls(names, {}, names)
        cats = {c: tuple(sorted(map(str, X[c].unique()))) for c in X.columns if _is_categorical(X[c])}
        names: list[str] = []
        for c in X.columns:
            if c in cats:
                names.extend(f"{c}={v}" for v in cats[c])
            else:
                names.append(str(c))
        return cls(tuple(map(str, X.columns)), cats, tuple(names))

    def transform(self, X) -> np.ndarray:
        if not isinstance(X, pd.DataFrame):
            arr = np.asarray(X, dtype=float)
            arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
            if arr.shape[1] != len(self.feature_names):
                raise OptimizerInputError(
                    f"X has {arr.shape[1]} columns but the model was fitted on {len(self.feature_names)}.", field="X"
                )
            return arr
        missing = [c for c in self.columns if c not in X.columns]
        if missing:
            raise OptimizerInputError(f"X lacks the column(s) {', '.join(missing)} the model was fitted on.", field="X")
        parts = []
        for c in self.columns:
            if c in self.categories:
                values = X[c].astype(str).to_numpy()
                unseen = sorted(set(values) - set(self.categories[c]))
                if unseen:
                    raise OptimizerInputError(
                        f"column {c!r} has value(s) {', '.join(unseen[:5])} not seen when the model was fitted "
                        f"(known: {', '.join(self.categories[c])}).",
                        field=c,
                    )
                parts.append(np.stack([values == v for v in self.categories[c]], axis=1).astype(float))
            else:
                try:
                    parts.append(pd.to_numeric(X[c]).to_numpy(dtype=float).reshape(-1, 1))
                except (TypeError, ValueError) as exc:
                    raise OptimizerInputError(f"column {c!r} is neither numeric nor a category.", field=c) from exc
        return np.hstack(parts)


def _is_categorical(col: pd.Series) -> bool:
    return isinstance(col.dtype, pd.CategoricalDtype) or col.dtype.kind in _CATEGORICAL_KINDS or col.dtype == "string"


# --- models --------------------------------------------------------------------------------------------------------


def _regressor(seed: int, min_leaf: int):
    from lightgbm import LGBMRegressor

    # Small boosted trees: fast on a few thousand rows. Leaves hold about 1/40 of the smaller arm (10 to 50 rows) so
    # that a few hundred noisy sales figures are not memorized.
    return LGBMRegressor(
        n_estimators=150,
        learning_rate=0.05,
        num_leaves=7,
        min_child_samples=min_leaf,
        subsample=0.8,
        subsample_freq=1,
        reg_lambda=1.0,
        random_state=seed,
        n_jobs=1,
        verbose=-1,
    )


def _propensity_model(randomized: bool):
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if randomized:
        return DummyClassifier(strategy="prior")  # known design: the treated share
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))


def _min_leaf(t: np.ndarray) -> int:
    return int(np.clip(min(t.sum(), len(t) - t.sum()) // 40, 10, 50))


def _make_learner(name: str, seed: int, randomized: bool, min_leaf: int):
    from econml.dr import DRLearner
    from econml.metalearners import TLearner, XLearner
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "t":
        return TLearner(models=_regressor(seed, min_leaf))
    if name == "x":
        return XLearner(models=_regressor(seed, min_leaf), propensity_model=_propensity_model(randomized))
    # The final stage regresses the pseudo-outcomes themselves, whose 1/e weights make them very noisy: a ridge on
    # standardized features (a linear CATE, as econml's default DRLearner) with propensities trimmed at 0.1 had
    # a half to a third of a boosted final stage's PEHE on IHDP A and Nie & Wager setup A (docs/measurement.md).
    return DRLearner(
        model_propensity=_propensity_model(randomized),
        model_regression=_regressor(seed, min_leaf),
        model_final=make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 3, 12))),
        min_propensity=DR_MIN_PROPENSITY,
        cv=2,
        random_state=seed,
    )


@dataclass
class _Nuisance:
    mu0: object
    mu1: object
    propensity: object

    @classmethod
    def fit(cls, X, t, y, seed: int, randomized: bool) -> _Nuisance:
        min_leaf = _min_leaf(t)
        mu0 = _regressor(seed, min_leaf).fit(X[t == 0], y[t == 0])
        mu1 = _regressor(seed, min_leaf).fit(X[t == 1], y[t == 1])
        return cls(mu0, mu1, _propensity_model(randomized).fit(X, t))

    def parts(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        e = np.clip(self.propensity.predict_proba(X)[:, 1], PROPENSITY_CLIP, 1 - PROPENSITY_CLIP)
        return self.mu0.predict(X), self.mu1.predict(X), e

    def pseudo_outcome(self, X, t, y) -> np.ndarray:
        m0, m1, e = self.parts(X)
        return m1 - m0 + t * (y - m1) / e - (1 - t) * (y - m0) / (1 - e)


def _aipw_ate(X, t, y, seed: int, randomized: bool) -> tuple[float, float]:
    """Cross-fitted (2 folds, stratified by arm) AIPW estimate of the ATE and its standard error."""
    from sklearn.model_selection import StratifiedKFold

    phi = np.empty(len(y))
    for fit_idx, eval_idx in StratifiedKFold(2, shuffle=True, random_state=seed).split(X, t):
        nuisance = _Nuisance.fit(X[fit_idx], t[fit_idx], y[fit_idx], seed, randomized)
        phi[eval_idx] = nuisance.pseudo_outcome(X[eval_idx], t[eval_idx], y[eval_idx])
    return float(phi.mean()), float(phi.std(ddof=1) / np.sqrt(len(phi)))


# --- result --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LearnerMetrics:
    name: str  # "baseline" | "t" | "x" | "dr"
    qini: float  # Qini coefficient on the validation split
    qini_interval: tuple[float, float]  # 90% bootstrap percentile interval
    auuc: float
    auuc_random: float  # AUUC of random targeting on the same rows
    tau_risk: float  # mean squared error against the DR pseudo-outcomes (PEHE² + a constant)
    r_loss: float  # Robinson / R-learner loss (PEHE² weighted by e(1 - e), + a constant)
    risk_improvement: float  # the baseline's loss minus this one, on the criterion used for choosing
    risk_improvement_interval: tuple[float, float]  # mean ± z·se, z the one-sided Bonferroni quantile used for choosing
    beats_baseline: bool
    pehe: float | None  # on the validation split, when the true effects are known
    fit_seconds: float


@dataclass(frozen=True)
class UpliftResult:
    chosen: str  # the learner that predicts, or "baseline" (the constant ATE)
    reason: str
    ate: float  # AIPW on the training split
    ate_se: float
    metrics: dict[str, LearnerMetrics]  # "baseline" and every learner tried
    feature_names: tuple[str, ...]
    n_train: int
    n_validation: int
    models: dict[str, object] = field(repr=False)  # fitted econml estimators, by learner
    _encoder: _Encoder = field(repr=False)
    # The validation rows (positions in the fitted data) and their DR pseudo-outcomes: unbiased per-row effect
    # estimates no model was fitted on, which segment_effects averages.
    validation_rows: np.ndarray | None = field(default=None, repr=False)
    validation_pseudo_outcome: np.ndarray | None = field(default=None, repr=False)

    def predict(self, X) -> np.ndarray:
        """Estimated effect of exposure per row of ``X`` (same columns as in fitting), for targeting."""
        return self.predict_learner(self.chosen, X)

    def predict_learner(self, name: str, X) -> np.ndarray:
        Z = self._encoder.transform(X)
        if name == "baseline":
            return np.full(len(Z), self.ate)
        if name not in self.models:
            raise OptimizerInputError(f"no fitted learner {name!r}; fitted: {', '.join(self.models)}.", field="learner")
        return np.asarray(self.models[name].effect(Z), dtype=float).ravel()

    def to_dict(self) -> dict:
        return {
            "chosen": self.chosen,
            "reason": self.reason,
            "ate": self.ate,
            "ate_se": self.ate_se,
            "n_train": self.n_train,
            "n_validation": self.n_validation,
            "feature_names": list(self.feature_names),
            "metrics": {k: vars(m).copy() for k, m in self.metrics.items()},
        }


# --- fitting -------------------------------------------------------------------------------------------------------


def _validate(X, treatment, outcome, learners, test_size, true_cate):
    t_raw = np.asarray(treatment)
    y = np.asarray(outcome)
    n = len(X)
    if t_raw.ndim != 1 or y.ndim != 1:
        raise OptimizerInputError("treatment and outcome must be one value per row.", field="treatment")
    if len(t_raw) != n:
        raise OptimizerInputError(
            f"treatment has {len(t_raw)} rows but X has {n}; give one treatment flag per row of X.", field="treatment"
        )
    if len(y) != n:
        raise OptimizerInputError(
            f"outcome has {len(y)} rows but X has {n}; give one outcome per row of X.", field="outcome"
        )
    if true_cate is not None and len(np.asarray(true_cate)) != n:
        raise OptimizerInputError(f"true_cate has {len(np.asarray(true_cate))} rows but X has {n}.", field="true_cate")
    try:
        t = t_raw.astype(float)
    except (TypeError, ValueError) as exc:
        raise OptimizerInputError(
            "treatment must be 0 (control) or 1 (exposed) on every row.", field="treatment"
        ) from exc
    bad = sorted(set(np.unique(t[np.isfinite(t)]).tolist()) - {0.0, 1.0})
    if bad or not np.all(np.isfinite(t)):
        shown = ", ".join(f"{v:g}" for v in bad[:5]) or "NaN"
        raise OptimizerInputError(
            f"treatment must be 0 (control) or 1 (exposed) on every row; found {shown}. Uplift models a binary "
            "exposure: compare one arm with control at a time.",
            field="treatment",
        )
    try:
        y = y.astype(float)
    except (TypeError, ValueError) as exc:
        raise OptimizerInputError("outcome must be numeric (sales or a 0/1 conversion).", field="outcome") from exc
    if not np.all(np.isfinite(y)):
        rows = np.flatnonzero(~np.isfinite(y))[:5].tolist()
        raise OptimizerInputError(f"outcome is missing or not finite on row(s) {rows}.", field="outcome")
    t = t.astype(int)
    n_treated = int(t.sum())
    for arm, count in (("treated (exposed)", n_treated), ("control", n - n_treated)):
        if count < MIN_PER_ARM:
            raise OptimizerInputError(
                f"too few {arm} rows: {count}; uplift needs at least {MIN_PER_ARM} in each arm so that both the "
                "training and the validation split hold enough of them.",
                field="treatment",
                details={"treated": n_treated, "control": n - n_treated, "minimum": MIN_PER_ARM},
            )
    unknown = [name for name in learners if name not in LEARNERS]
    if unknown or not learners:
        raise OptimizerInputError(
            f"unknown learner(s) {', '.join(map(repr, unknown)) or '(none given)'}; choose from {', '.join(LEARNERS)}.",
            field="learners",
        )
    if not 0.1 <= test_size <= 0.5:
        raise OptimizerInputError(f"test_size must be between 0.1 and 0.5, got {test_size}.", field="test_size")
    return t, y


def fit_uplift(
    X,
    treatment,
    outcome,
    *,
    learners: Sequence[str] = LEARNERS,
    seed: int = 0,
    test_size: float = 0.3,
    randomized: bool = False,
    true_cate=None,
    alpha: float = 0.05,
    bootstrap: int = 200,
    criterion: str = "r_loss",
) -> UpliftResult:
    """Fit the requested learners on a training split and choose between them and a constant ATE on validation.

    ``X``: a DataFrame (text columns such as audience, SKU, placement are one-hot encoded) or a numeric array.
    ``randomized``: the exposure was randomized with one probability for everybody (a holdout test), so propensity is
    the treated share instead of a fitted model. ``true_cate`` (simulations only) adds PEHE to the metrics.
    """
    from sklearn.model_selection import train_test_split

    learners = tuple(learners)
    t, y = _validate(X, treatment, outcome, learners, test_size, true_cate)
    if criterion not in ("r_loss", "tau_risk"):
        raise OptimizerInputError(f"criterion must be 'r_loss' or 'tau_risk', got {criterion!r}.", field="criterion")
    encoder = _Encoder.fit(X)
    Z = encoder.transform(X)
    if not np.all(np.isfinite(Z)):
        raise OptimizerInputError("X has missing or non-finite values; fill or drop those rows first.", field="X")
    idx_tr, idx_va = train_test_split(np.arange(len(t)), test_size=test_size, stratify=t, random_state=seed)
    Z_tr, t_tr, y_tr = Z[idx_tr], t[idx_tr], y[idx_tr]
    Z_va, t_va, y_va = Z[idx_va], t[idx_va], y[idx_va]
    tau_va = None if true_cate is None else np.asarray(true_cate, dtype=float)[idx_va]

    ate, ate_se = _aipw_ate(Z_tr, t_tr, y_tr, seed, randomized)
    m0, m1, e = _Nuisance.fit(Z_tr, t_tr, y_tr, seed, randomized).parts(Z_va)
    phi = m1 - m0 + t_va * (y_va - m1) / e - (1 - t_va) * (y_va - m0) / (1 - e)
    y_resid, t_resid = y_va - (e * m1 + (1 - e) * m0), t_va - e

    def losses(tau_hat: np.ndarray) -> np.ndarray:
        if criterion == "tau_risk":
            return (phi - tau_hat) ** 2
        return (y_resid - t_resid * tau_hat) ** 2

    base_loss = losses(np.full(len(idx_va), ate))
    z = norm.ppf(1 - alpha / len(learners))
    boot = np.random.default_rng(seed).integers(0, len(idx_va), size=(bootstrap, len(idx_va)))

    def metrics(name: str, tau_hat: np.ndarray, seconds: float) -> LearnerMetrics:
        curves = uplift_curves(tau_hat, t_va, y_va)
        qinis = [qini_coefficient(tau_hat[b], t_va[b], y_va[b]) for b in boot]
        gain = base_loss - losses(tau_hat)
        mean, se = float(gain.mean()), float(gain.std(ddof=1) / np.sqrt(len(gain)))
        return LearnerMetrics(
            name=name,
            qini=curves.qini_coefficient,
            qini_interval=(float(np.quantile(qinis, 0.05)), float(np.quantile(qinis, 0.95))),
            auuc=curves.auuc,
            auuc_random=curves.auuc_random,
            tau_risk=float(np.mean((phi - tau_hat) ** 2)),
            r_loss=float(np.mean((y_resid - t_resid * tau_hat) ** 2)),
            risk_improvement=mean,
            risk_improvement_interval=(float(mean - z * se), float(mean + z * se)),
            beats_baseline=bool(name != "baseline" and mean - z * se > 0),
            pehe=None if tau_va is None else pehe(tau_hat, tau_va),
            fit_seconds=seconds,
        )

    results = {"baseline": metrics("baseline", np.full(len(idx_va), ate), 0.0)}
    models = {}
    for name in learners:
        began = time.perf_counter()
        model = _make_learner(name, seed, randomized, _min_leaf(t_tr))
        model.fit(y_tr, t_tr, X=Z_tr)
        seconds = time.perf_counter() - began
        models[name] = model
        results[name] = metrics(name, np.asarray(model.effect(Z_va), dtype=float).ravel(), seconds)

    winners = sorted((m for m in results.values() if m.beats_baseline), key=lambda m: -m.risk_improvement)
    if winners:
        best = winners[0]
        reason = (
            f"{best.name}-learner lowers the validation {criterion} below the constant effect's by "
            f"{best.risk_improvement:.4g} "
            f"(lower bound {best.risk_improvement_interval[0]:.4g} > 0)"
        )
        chosen = best.name
    else:
        chosen = "baseline"
        reason = (
            f"no learner beats a constant effect of {ate:.4g} on validation with confidence "
            f"(one-sided {1 - alpha:.0%}, Bonferroni over {len(learners)}): targeting by model is not supported"
        )
    return UpliftResult(
        chosen=chosen,
        reason=reason,
        ate=ate,
        ate_se=ate_se,
        metrics=results,
        feature_names=encoder.feature_names,
        n_train=len(idx_tr),
        n_validation=len(idx_va),
        models=models,
        _encoder=encoder,
        validation_rows=np.asarray(idx_va),
        validation_pseudo_outcome=phi,
    )


# --- the workflow's report: segments to target and the uplift curve ---------------------------------------------------

SEGMENT_BINS = 3  # a numeric feature with many values is cut at its terciles
SEGMENT_MAX_VALUES = 6  # ... and one with at most this many distinct values is split by value
SEGMENT_MIN_PER_ARM = 10  # validation rows of each arm a segment needs before its effect is estimated
CURVE_POINTS = 41
SEGMENT_LEVEL = 0.90
VERDICTS = ("target", "avoid", "unclear", "too_few")


@dataclass(frozen=True)
class Segment:
    """One group of units (a category of a text feature, or a band of a numeric one) and its measured effect.

    ``effect`` is the mean of the doubly robust pseudo-outcomes of the segment's validation rows: an estimate of the
    average effect of exposure in the segment that no model was fitted on. ``predicted_effect`` is the chosen model's
    mean prediction over all of the segment's rows (the constant ATE when no model beat it). ``verdict``: "target"
    (the 90% interval lies above 0), "avoid" (below 0), "unclear" (it spans 0), "too_few" (fewer than
    SEGMENT_MIN_PER_ARM validation rows in an arm). ``vs_average``: "above" (the interval lies above the average
    effect ``ate``: the best groups to target), "below" (below it), "average" (it holds it), or None (too few).
    """

    feature: str
    label: str
    rows: int
    share: float
    predicted_effect: float
    effect: float | None
    interval: tuple[float, float] | None
    validation_rows: int
    verdict: str
    vs_average: str | None = None


def segment_masks(X: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    """(feature, label, row mask) for every segment of every feature column of ``X``."""
    out = []
    for column in X.columns:
        col = X[column]
        if _is_categorical(col):
            values = col.astype(str).to_numpy()
            out.extend((str(column), f"{column} = {v}", values == v) for v in sorted(set(values)))
            continue
        values = pd.to_numeric(col).to_numpy(dtype=float)
        distinct = np.unique(values)
        if len(distinct) <= SEGMENT_MAX_VALUES:
            out.extend((str(column), f"{column} = {v:g}", values == v) for v in distinct)
            continue
        edges = np.unique(np.quantile(values, np.arange(1, SEGMENT_BINS) / SEGMENT_BINS))
        bands = np.searchsorted(edges, values, side="left")  # band 0: <= edges[0]; last band: > edges[-1]
        for band in range(len(edges) + 1):
            if band == 0:
                label = f"{column} up to {edges[0]:.4g}"
            elif band == len(edges):
                label = f"{column} above {edges[-1]:.4g}"
            else:
                label = f"{column} above {edges[band - 1]:.4g}, up to {edges[band]:.4g}"
            out.append((str(column), label, bands == band))
    return out


def segment_effects(result: UpliftResult, X: pd.DataFrame, treatment) -> list[Segment]:
    """Every segment of ``X`` (the rows ``result`` was fitted on), best measured effect first."""
    if result.validation_rows is None or result.validation_pseudo_outcome is None:
        raise OptimizerInputError("segment_effects needs a result of fit_uplift on these rows.", field="result")
    t = np.asarray(treatment).astype(int)
    rows, phi = result.validation_rows, result.validation_pseudo_outcome
    predicted = result.predict(X)
    z = norm.ppf(0.5 + SEGMENT_LEVEL / 2)
    segments = []
    for feature, label, mask in segment_masks(X):
        in_va = mask[rows]
        treated = int(t[rows][in_va].sum())
        control = int(in_va.sum()) - treated
        effect = interval = vs_average = None
        verdict = "too_few"
        if min(treated, control) >= SEGMENT_MIN_PER_ARM:
            values = phi[in_va]
            effect = float(values.mean())
            half = float(z * values.std(ddof=1) / np.sqrt(len(values)))
            interval = (effect - half, effect + half)
            verdict = "target" if interval[0] > 0 else "avoid" if interval[1] < 0 else "unclear"
            vs_average = "above" if interval[0] > result.ate else "below" if interval[1] < result.ate else "average"
        segments.append(
            Segment(
                feature=feature,
                label=label,
                rows=int(mask.sum()),
                share=float(mask.mean()),
                predicted_effect=float(predicted[mask].mean()),
                effect=effect,
                interval=interval,
                validation_rows=int(in_va.sum()),
                verdict=verdict,
                vs_average=vs_average,
            )
        )
    return sorted(segments, key=lambda s: (s.effect is None, -(s.effect or 0.0), s.label))


def uplift_report(X: pd.DataFrame, treatment, outcome, **fit_options) -> dict:
    """Fit (:func:`fit_uplift`, same options) and summarize for people and storage (plain JSON types).

    Keys: ``chosen``, ``reason``, ``targeting`` (a model beat the constant effect), ``ate``, ``ate_se``,
    ``ate_interval`` (90%), row counts, ``features``, ``metrics`` (per learner and "baseline": Qini coefficient with
    its 90% bootstrap interval, AUUC and AUUC of random targeting, the loss improvement over the constant effect and
    whether it is significant), ``segments`` (:class:`Segment`, best effect first) and ``curve``: the uplift curve
    of each learner on the validation rows, ``uplift(f)`` = (mean outcome of exposed - of control among the top
    ``f`` by predicted effect) x ``f``, at CURVE_POINTS shares ``fraction``, with ``random`` (targeting at random).
    """
    began = time.perf_counter()
    result = fit_uplift(X, treatment, outcome, **fit_options)
    t = np.asarray(treatment).astype(int)
    y = np.asarray(outcome, dtype=float)
    rows = result.validation_rows
    X_va = X.iloc[rows] if isinstance(X, pd.DataFrame) else np.asarray(X)[rows]
    fraction = np.linspace(0.0, 1.0, CURVE_POINTS)
    curve: dict[str, list[float]] = {"fraction": fraction.round(4).tolist()}
    total = None
    for name in result.models:
        c = uplift_curves(result.predict_learner(name, X_va), t[rows], y[rows])
        curve[name] = np.interp(fraction, c.fraction, c.uplift).tolist()
        total = float(c.uplift[-1])
    curve["random"] = (fraction * (total or 0.0)).tolist()
    z = norm.ppf(0.95)
    metrics = {}
    for name, m in result.metrics.items():
        metrics[name] = {
            "qini": m.qini,
            "qini_interval": list(m.qini_interval),
            "auuc": m.auuc,
            "auuc_random": m.auuc_random,
            "risk_improvement": m.risk_improvement,
            "risk_improvement_interval": list(m.risk_improvement_interval),
            "beats_baseline": m.beats_baseline,
            "fit_seconds": m.fit_seconds,
        }
    segments = segment_effects(result, X, t) if isinstance(X, pd.DataFrame) else []
    return {
        "chosen": result.chosen,
        "reason": result.reason,
        "targeting": result.chosen != "baseline",
        "ate": result.ate,
        "ate_se": result.ate_se,
        "ate_interval": [result.ate - z * result.ate_se, result.ate + z * result.ate_se],
        "rows": len(t),
        "treated": int(t.sum()),
        "control": int(len(t) - t.sum()),
        "n_train": result.n_train,
        "n_validation": result.n_validation,
        "features": [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else list(result.feature_names),
        "metrics": metrics,
        "segments": [{**vars(s), "interval": None if s.interval is None else list(s.interval)} for s in segments],
        "curve": curve,
        "seconds": time.perf_counter() - began,
    }

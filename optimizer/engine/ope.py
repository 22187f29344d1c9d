"""Off-policy evaluation: the value a candidate policy would have earned, estimated from another policy's log.

Each logged row i has a context, the action the logging policy took with probability ``p_i = μ(a_i | x_i)``, the
reward ``r_i`` it earned, and the candidate's probability ``π_i = π(a_i | x_i)`` of the same action. With importance
weights ``w_i = π_i / p_i`` over n rows:

* IPS (inverse propensity scoring): ``V = (1/n) Σ w_i r_i``; se = sd(w_i r_i) / √n (sample sd, n - 1).
* SNIPS (self-normalized IPS): ``V = Σ w_i r_i / Σ w_i``; se by the delta method,
  ``√(Σ w_i² (r_i - V)²) / Σ w_i``. Slightly biased, far less variable when weights are large.
* DR (doubly robust): with a reward model ``q̂(x, a)``,
  ``V = (1/n) Σ [ Σ_a π(a|x_i) q̂(x_i, a) + w_i (r_i - q̂(x_i, a_i)) ]``; se = sd(terms) / √n.
  Unbiased when either the propensities or the reward model are right.

Rewards may also be (rows, parts) arrays, for a value that is a sum of parts each with its own action and
propensity (the bandit's channels: a channel's outcome depends only on its own spend). The estimate is then the sum
of the parts' estimates, and the standard error comes from each row's summed influence terms, so parts of the same
row that move together are not treated as independent.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from optimizer.engine.errors import OptimizerInputError


@dataclass(frozen=True)
class OPEEstimate:
    method: str
    value: float  # estimated mean reward per row under the candidate
    se: float
    n: int
    effective_sample_size: float  # (Σ w)² / Σ w², averaged over parts: how many rows the estimate really rests on
    max_weight: float

    @property
    def interval(self) -> tuple[float, float]:
        """95% normal interval."""
        return (self.value - 1.96 * self.se, self.value + 1.96 * self.se)

    def to_dict(self) -> dict:
        return {**asdict(self), "interval": list(self.interval)}


def _columns(name: str, values, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise OptimizerInputError(f"{name} must be 1-D (rows) or 2-D (rows × parts), got {arr.ndim} dimensions.")
    if n is not None and arr.shape != (n[0], n[1]):
        raise OptimizerInputError(f"{name} has shape {arr.shape}; expected {tuple(n)} like the rewards.")
    if not np.isfinite(arr).all():
        raise OptimizerInputError(f"{name} has missing or infinite values.", field=name)
    return arr


def _weights(rewards, propensities, target_probabilities):
    r = _columns("rewards", rewards)
    if r.shape[0] == 0:
        raise OptimizerInputError("There are no logged rows to evaluate on.", field="rewards")
    p = _columns("propensities", propensities, r.shape)
    pi = _columns("target_probabilities", target_probabilities, r.shape)
    if (p <= 0).any() or (p > 1).any():
        i = int(np.argwhere((p <= 0) | (p > 1))[0][0])
        raise OptimizerInputError(
            f"Logging propensities must be in (0, 1]; row {i} has {p[i].tolist()}. A zero propensity means the "
            "logging policy could not have taken the action, so the row cannot be reweighted.",
            field="propensities",
        )
    if (pi < 0).any() or (pi > 1).any():
        raise OptimizerInputError("Candidate probabilities must be in [0, 1].", field="target_probabilities")
    return r, p, pi, pi / p


def _diagnostics(w: np.ndarray) -> tuple[float, float]:
    sums = w.sum(axis=0)
    squares = (w**2).sum(axis=0)
    ess = np.divide(sums**2, squares, out=np.zeros_like(sums), where=squares > 0)
    return float(ess.mean()), float(w.max())


def _mean_and_se(method: str, terms: np.ndarray, w: np.ndarray) -> OPEEstimate:
    row = terms.sum(axis=1)
    n = len(row)
    se = float(row.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    ess, wmax = _diagnostics(w)
    return OPEEstimate(method, float(row.mean()), se, n, ess, wmax)


def ips(rewards, propensities, target_probabilities) -> OPEEstimate:
    r, _p, _pi, w = _weights(rewards, propensities, target_probabilities)
    return _mean_and_se("ips", w * r, w)


def snips(rewards, propensities, target_probabilities) -> OPEEstimate:
    r, _p, _pi, w = _weights(rewards, propensities, target_probabilities)
    n = r.shape[0]
    sums = w.sum(axis=0)
    if (sums <= 0).any():
        raise OptimizerInputError(
            "The candidate never takes an action the log took (all importance weights are zero), so SNIPS is "
            "undefined; log more days or evaluate a candidate closer to the logging policy.",
            field="target_probabilities",
        )
    values = (w * r).sum(axis=0) / sums
    # Influence of row i on part j: w_ij (r_ij - V_j) / mean_i(w_ij); the se is √(Σ_i (Σ_j ψ_ij)²) / n.
    psi = (w * (r - values[None, :]) / (sums[None, :] / n)).sum(axis=1)
    ess, wmax = _diagnostics(w)
    return OPEEstimate("snips", float(values.sum()), float(math.sqrt((psi**2).sum()) / n), n, ess, wmax)


def doubly_robust(rewards, propensities, target_probabilities, *, q_logged, q_target) -> OPEEstimate:
    """``q_logged[i] = q̂(x_i, a_i)``; ``q_target[i] = Σ_a π(a|x_i) q̂(x_i, a)`` (the model's value of the candidate)."""
    r, _p, _pi, w = _weights(rewards, propensities, target_probabilities)
    ql = _columns("q_logged", q_logged, r.shape)
    qt = _columns("q_target", q_target, r.shape)
    return _mean_and_se("dr", qt + w * (r - ql), w)


def evaluate(
    *,
    actions,
    propensities,
    rewards,
    target_action_probabilities,
    reward_model=None,
) -> dict[str, OPEEstimate]:
    """All three estimators for a discrete action space (one part).

    ``actions`` (n,) action indices; ``target_action_probabilities`` (n, K) the candidate's distribution over the
    K actions in each row's context; ``reward_model`` (n, K) predicted reward of each action in each row's context
    (DR is left out without one)."""
    a = np.asarray(actions, dtype=int)
    target = np.asarray(target_action_probabilities, dtype=float)
    if target.ndim != 2 or target.shape[0] != a.shape[0]:
        raise OptimizerInputError(
            f"target_action_probabilities must be (rows, actions) with {a.shape[0]} rows, got {target.shape}."
        )
    if ((a < 0) | (a >= target.shape[1])).any():
        raise OptimizerInputError(f"actions must be indices in 0..{target.shape[1] - 1}.", field="actions")
    if not np.allclose(target.sum(axis=1), 1.0, atol=1e-6):
        raise OptimizerInputError("Each row of target_action_probabilities must sum to 1.")
    rows = np.arange(a.shape[0])
    pi = target[rows, a]
    out = {"ips": ips(rewards, propensities, pi), "snips": snips(rewards, propensities, pi)}
    if reward_model is not None:
        q = np.asarray(reward_model, dtype=float)
        if q.shape != target.shape:
            raise OptimizerInputError(f"reward_model must have shape {target.shape}, got {q.shape}.")
        out["dr"] = doubly_robust(rewards, propensities, pi, q_logged=q[rows, a], q_target=(target * q).sum(axis=1))
    return out

"""Off-policy estimators against the textbook formulas (a 4-row example worked by hand) and on simulated logs."""

import math

import numpy as np
import pytest

from optimizer.engine.errors import OptimizerInputError
from optimizer.engine.ope import doubly_robust, evaluate, ips, snips

# Four logged rows, two actions. w = π/p = [2, 2, 0.5, 0].
REWARDS = [1.0, 0.0, 2.0, 1.0]
PROPENSITIES = [0.5, 0.25, 0.8, 0.4]
ACTIONS = [0, 1, 0, 1]
TARGET = [[1.0, 0.0], [0.5, 0.5], [0.4, 0.6], [1.0, 0.0]]  # π(a_i|x_i) = [1, 0.5, 0.4, 0]
MODEL = [[1.0, 0.5], [0.2, 0.4], [1.5, 1.0], [0.8, 1.2]]  # q̂(x_i, a)


def test_it_matches_the_hand_computed_ips_snips_and_dr():
    out = evaluate(
        actions=ACTIONS,
        propensities=PROPENSITIES,
        rewards=REWARDS,
        target_action_probabilities=TARGET,
        reward_model=MODEL,
    )
    # IPS: w·r = [2, 0, 1, 0] -> 3/4; se = sd([2, 0, 1, 0], n-1) / 2 = sqrt(2.75/3) / 2.
    assert out["ips"].value == pytest.approx(0.75)
    assert out["ips"].se == pytest.approx(math.sqrt(2.75 / 3) / 2)
    # SNIPS: Σ w r / Σ w = 3 / 4.5; se = sqrt(Σ w²(r - V)²) / Σ w = sqrt(4/9 + 16/9 + 0.25·16/9) / 4.5.
    assert out["snips"].value == pytest.approx(2 / 3)
    assert out["snips"].se == pytest.approx(math.sqrt(4 / 9 + 16 / 9 + 4 / 9) / 4.5)
    # DR: q̂ of the candidate = [1, 0.3, 1.2, 0.8]; correction w(r - q̂(a_i)) = [0, -0.8, 0.25, 0];
    # terms [1, -0.5, 1.45, 0.8] -> 2.75/4; se = sd(terms, n-1) / 2.
    assert out["dr"].value == pytest.approx(0.6875)
    assert out["dr"].se == pytest.approx(math.sqrt(2.101875 / 3) / 2)
    assert out["ips"].effective_sample_size == pytest.approx(4.5**2 / 8.25)
    assert out["ips"].interval == pytest.approx((0.75 - 1.96 * out["ips"].se, 0.75 + 1.96 * out["ips"].se))


def test_it_sums_parts_and_takes_the_se_from_each_rows_total():
    r = np.array([[1.0, 3.0], [0.0, 1.0], [2.0, 2.0], [1.0, 0.0]])
    p = np.array([[0.5, 0.5], [0.25, 0.5], [0.8, 0.5], [0.4, 0.5]])
    pi = np.array([[1.0, 0.5], [0.5, 0.5], [0.4, 1.0], [0.0, 0.5]])
    both = ips(r, p, pi)
    parts = [ips(r[:, j], p[:, j], pi[:, j]) for j in range(2)]
    assert both.value == pytest.approx(sum(e.value for e in parts))
    row_terms = (pi / p * r).sum(axis=1)
    assert both.se == pytest.approx(row_terms.std(ddof=1) / 2)
    s = snips(r, p, pi)
    assert s.value == pytest.approx(sum(snips(r[:, j], p[:, j], pi[:, j]).value for j in range(2)))


def test_it_refuses_a_zero_logging_propensity_naming_the_row():
    with pytest.raises(OptimizerInputError, match="row 1 has"):
        ips([1.0, 2.0], [0.5, 0.0], [1.0, 1.0])
    with pytest.raises(OptimizerInputError, match="never takes an action the log took"):
        snips([1.0, 2.0], [0.5, 0.5], [0.0, 0.0])


def _simulated_logs(rng, reps, n, k=3):
    x = rng.uniform(0, 1, size=(reps, n))
    q = np.stack([1 + x, 2 - x, 1.5 + 0.5 * np.sin(6 * x)], axis=2)  # true mean reward of each action
    logits = np.stack([x, 1 - x, 0.5 * np.ones_like(x)], axis=2) * 2
    mu = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)  # logging policy
    pi = np.stack([1 - x, x, np.zeros_like(x)], axis=2)  # candidate: action 0 for small x, 1 for large
    u = rng.uniform(size=(reps, n, 1))
    a = (u > mu.cumsum(axis=2)).sum(axis=2)
    take = lambda arr: np.take_along_axis(arr, a[..., None], axis=2)[..., 0]  # noqa: E731
    r = take(q) + rng.normal(0, 0.5, size=(reps, n))
    truth = (pi * q).sum(axis=2).mean()  # Monte Carlo over all reps' contexts, close to the integral
    return q, mu, pi, a, r, take, truth


def test_dr_is_unbiased_when_the_reward_model_is_right():
    rng = np.random.default_rng(5)
    reps, n = 300, 100
    q, mu, pi, _a, r, take, _ = _simulated_logs(rng, reps, n)
    truth_per_rep = (pi * q).sum(axis=2).mean(axis=1)  # candidate's value on each rep's own contexts
    right = np.array(
        [doubly_robust(r[i], take(mu)[i], take(pi)[i], q_logged=take(q)[i], q_target=(pi[i] * q[i]).sum(1)).value
         for i in range(reps)]
    )  # fmt: skip
    errors = right - truth_per_rep
    # With the true q̂ the DR error is the weighted noise alone: mean 0, se of the mean ~ sd / sqrt(reps).
    assert abs(errors.mean()) < 3 * errors.std() / math.sqrt(reps)
    # A biased reward model (+0.5 everywhere) is corrected by the importance-weighted residual: still unbiased.
    wrong = np.array(
        [doubly_robust(r[i], take(mu)[i], take(pi)[i], q_logged=take(q)[i] + 0.5,
                       q_target=(pi[i] * (q[i] + 0.5)).sum(1)).value
         for i in range(reps)]
    )  # fmt: skip
    assert abs((wrong - truth_per_rep).mean()) < 3 * (wrong - truth_per_rep).std() / math.sqrt(reps)
    # The direct method alone (the model's value, no correction) keeps the model's +0.5 bias.
    direct = np.array([(pi[i] * (q[i] + 0.5)).sum(1).mean() for i in range(reps)])
    assert (direct - truth_per_rep).mean() == pytest.approx(0.5, abs=1e-9)
    # IPS is unbiased too, with a larger spread than DR with the right model.
    ips_values = np.array([ips(r[i], take(mu)[i], take(pi)[i]).value for i in range(reps)])
    assert abs((ips_values - truth_per_rep).mean()) < 3 * (ips_values - truth_per_rep).std() / math.sqrt(reps)
    assert errors.std() < (ips_values - truth_per_rep).std()

"""Thompson-sampling reallocation: posterior updates, water-filling, pacing, propensities and serialization."""

import datetime as dt
import json
import math
import re

import numpy as np
import pytest

from optimizer.engine import bandit as B
from optimizer.engine.errors import OptimizerInputError

START = dt.date(2026, 3, 2)


def _arm(key="amazon|search", beta=1000.0, half=300.0, shape=1.0, decay=0.0, lo=0.0, hi=2000.0, prior_sd=0.5, **kw):
    return B.make_arm(
        key=key, beta=beta, half_saturation=half, shape=shape, decay=decay, incrementality_mean=0.5,
        incrementality_sd=kw.pop("incrementality_sd", 0.0), margin_rate=0.3, min_daily=lo, max_daily=hi,
        prior_sd=prior_sd, **kw,
    )  # fmt: skip


def _state(arms, *, days=28, budget_daily=1000.0, **kw):
    return B.new_state(
        arms, budget=budget_daily * days, start_date=START, end_date=START + dt.timedelta(days=days - 1), **kw
    )


def test_it_updates_the_multiplier_with_the_conjugate_formulas():
    state = _state([_arm(prior_sd=0.5)])
    arm = state.arms[0]
    assert arm.kappa == pytest.approx(0.15**2 / 0.5**2)
    # Decay 0: the adstock is the day's spend. Sales 2× the curve -> residual log 2.
    x = 300.0
    y = 2 * 1000 * x / (x + 300)
    new = B.update(state, [B.Observation(START, arm.key, x, y)]).arms[0]
    r = math.log(2)
    assert new.kappa == pytest.approx(arm.kappa + 1)
    assert new.mu == pytest.approx(r / (arm.kappa + 1))
    assert new.alpha == pytest.approx(arm.alpha + 0.5)
    assert new.b == pytest.approx(arm.b + arm.kappa * r**2 / (2 * (arm.kappa + 1)))


def test_posterior_moves_to_the_truth_and_narrows():
    rng = np.random.default_rng(1)
    arms = [_arm("a|search", decay=0.3), _arm("b|search", decay=0.3)]
    state = _state(arms)
    truth = {"a|search": 1.8, "b|search": 0.6}
    level = {"a|search": None, "b|search": None}
    obs = []
    for t in range(28):
        day = START + dt.timedelta(days=t)
        for arm in arms:
            x = float(rng.uniform(100, 700))
            level[arm.key] = x if level[arm.key] is None else 0.3 * level[arm.key] + 0.7 * x
            y = truth[arm.key] * float(arm.attributed(level[arm.key])) * math.exp(rng.normal(0, 0.1))
            obs.append(B.Observation(day, arm.key, x, y))
    prior_sd = state.arms[0].posterior_sd
    after = B.update(state, obs)
    for arm in after.arms:
        assert arm.n_obs == 28
        # 28 days at noise 0.1: the sd of log m is ~0.1/sqrt(28) ≈ 0.02; allow 4 sd.
        assert arm.mu == pytest.approx(math.log(truth[arm.key]), abs=0.08)
        assert arm.posterior_sd < prior_sd / 5
    # Replaying the same rows changes nothing: days up to last_observed are already in.
    assert B.update(after, obs) == after


def test_water_filling_equalizes_marginal_value_and_spends_the_budget():
    beta = np.array([1000.0, 2000.0, 500.0])
    half = np.array([300.0, 500.0, 200.0])
    shape = np.array([1.0, 0.8, 0.9])
    value = np.array([[0.3, 0.2, 0.5]])
    x = B.water_fill(value, beta, half, shape, np.zeros(3), np.full(3, 5000.0), 1200.0)[0]
    assert x.sum() == pytest.approx(1200.0)
    marginal = value[0] * B.hill_derivative(x, beta, half, shape)
    assert marginal == pytest.approx(np.full(3, marginal.mean()), rel=1e-4)
    # A bound that binds: the arm sits at its max and the others share the rest at equal marginal value.
    x = B.water_fill(value, beta, half, shape, np.zeros(3), np.array([5000.0, 5000.0, 100.0]), 1200.0)[0]
    assert x[2] == pytest.approx(100.0)
    assert x.sum() == pytest.approx(1200.0)
    m = value[0, :2] * B.hill_derivative(x[:2], beta[:2], half[:2], shape[:2])
    assert m[0] == pytest.approx(m[1], rel=1e-4)


def test_pacing_spends_the_budget_within_one_percent_despite_underdelivery():
    arms = [_arm("a|search", lo=50), _arm("b|search", beta=1500, lo=50), _arm("c|ctv", beta=600)]
    state = _state(arms, days=14)
    delivered: dict[dt.date, dict[str, float]] = {}
    for t in range(14):
        day = START + dt.timedelta(days=t)
        if t >= 2:  # data arrives two days late
            late = START + dt.timedelta(days=t - 2)
            state = B.update(state, [B.Observation(late, k, v, 2 * v) for k, v in delivered[late].items()])
        state, decision = B.decide(state, day, propensity_draws=50)
        delivered[day] = {k: 0.9 * v for k, v in decision.allocation.items()}  # retailers spend 90%
    total = sum(sum(v.values()) for v in delivered.values())
    assert total == pytest.approx(14_000.0, rel=0.01)
    assert state.delivery_rate == pytest.approx(0.9, abs=0.05)


def test_propensities_are_the_monte_carlo_level_probabilities_and_sum_to_one():
    arms = [_arm("a|search", incrementality_sd=0.1), _arm("b|search", beta=1200.0), _arm("c|ctv", beta=700.0)]
    state = _state(arms, levels=8)
    _, decision = B.decide(state, START, propensity_draws=199)
    for key, probs in decision.level_probabilities.items():
        assert sum(probs) == pytest.approx(1.0)
        assert len(probs) == 8
        assert decision.propensities[key] == probs[decision.levels[key]]
        assert decision.propensities[key] >= 1 / 200
    assert sum(decision.allocation.values()) == pytest.approx(1000.0, abs=0.05)
    edges = state.level_edges()
    for i, key in enumerate(state.keys):
        lv = decision.levels[key]
        assert edges[i, lv] <= decision.allocation[key] <= edges[i, lv + 1] + 0.01


def test_state_round_trips_through_json_and_decides_the_same():
    state = _state([_arm("a|search"), _arm("b|ctv", beta=500.0)], demand_weekly=[0.9, 0.9, 1, 1, 1, 1.1, 1.1])
    state, first = B.decide(state, START)
    state = B.update(state, [B.Observation(START, "a|search", 400.0, 700.0), B.Observation(START, "b|ctv", 1, 2)])
    again = B.BanditState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state
    day = START + dt.timedelta(days=1)
    assert B.decide(again, day)[1] == B.decide(state, day)[1]
    assert first.to_dict()["date"] == START.isoformat()


def test_it_explains_bounds_the_budget_cannot_meet():
    with pytest.raises(
        OptimizerInputError, match=re.escape("daily minimums add up to 1,200.00, more than the budget's 1,000.00")
    ):
        _state([_arm("a|search", lo=600), _arm("b|search", lo=600)])
    with pytest.raises(OptimizerInputError, match=re.escape("daily maximums add up to 600.00")):
        _state([_arm("a|search", hi=300), _arm("b|search", hi=300)])
    with pytest.raises(OptimizerInputError, match="outside the policy's period"):
        B.decide(_state([_arm()]), START - dt.timedelta(days=1))
    observed = B.update(_state([_arm()]), [B.Observation(START, "amazon|search", 100, 200)])
    with pytest.raises(OptimizerInputError, match="is already observed"):
        B.decide(observed, START)
    with pytest.raises(OptimizerInputError, match=re.escape("Unknown channel 'x|y'")):
        B.update(_state([_arm()]), [B.Observation(START, "x|y", 1, 1)])


def test_ope_of_the_logging_policy_itself_returns_the_mean_logged_reward():
    state = _state([_arm("a|search", incrementality_sd=0.2), _arm("b|search", beta=900.0, incrementality_sd=0.2)])
    log, probs = [], []
    for t in range(5):
        day = START + dt.timedelta(days=t)
        state, d = B.decide(state, day, propensity_draws=99)
        log.append(B.LoggedDay(day, d.levels, d.propensities, {k: 10.0 + t for k in d.allocation}))
        probs.append([d.level_probabilities[k] for k in state.keys])
    out = B.evaluate_log(state, log, np.array(probs))
    # Candidate = logger: every weight is 1, so IPS and SNIPS equal the mean of the logged totals (2 channels).
    assert out["ips"].value == pytest.approx(2 * 12.0)
    assert out["snips"].value == pytest.approx(2 * 12.0)
    assert out["ips"].effective_sample_size == pytest.approx(5.0)


def test_arms_from_curves_take_the_median_curve_and_the_samples_spread_as_prior():
    from optimizer.engine.curves import ChannelCurve, CurveSet

    rng = np.random.default_rng(0)
    s = 400
    beta = 2000 * np.exp(rng.normal(0, 0.2, s))
    curve = ChannelCurve(
        retailer="amazon", placement_type="search", beta=beta, half_saturation=np.full(s, 500.0),
        shape=np.full(s, 1.0), decay=np.full(s, 0.2), incrementality=rng.normal(0.5, 0.05, s), margin_rate=0.4,
        hist_daily_spend=500.0, hist_max_daily_spend=900.0, calibrated=True,
    )  # fmt: skip
    curves = CurveSet(
        channels=(curve,), currency="USD", demand_weekly=(1.0,) * 7, trend_per_day=0.0,
        last_date=START, diagnostics={},
    )  # fmt: skip
    (arm,) = B.arms_from_curves(curves, budget_daily=1000.0, bounds={"amazon|search": (100.0, 900.0)})
    assert arm.beta == pytest.approx(np.median(beta))
    assert (arm.min_daily, arm.max_daily) == (100.0, 900.0)
    assert arm.incrementality_mean == pytest.approx(0.5, abs=0.01)
    # Only beta varies, so the sd of log attributed sales at the historical spend is the sd of log beta (~0.2).
    assert arm.posterior_sd == pytest.approx(np.std(np.log(beta)), rel=1e-6)
    with pytest.raises(OptimizerInputError, match="has no response curve"):
        B.arms_from_curves(curves, budget_daily=1000.0, channels=["walmart|ctv"])


def test_the_closed_loop_moves_spend_from_the_prior_split_to_the_true_optimum():
    rng = np.random.default_rng(3)
    arms = [_arm("a|search"), _arm("b|search")]  # the same prior curve: the prior splits the budget evenly
    truth = np.array([2.0, 0.5])  # a is twice as good as the prior thinks, b half
    state = _state(arms, days=14)
    beta, half, shape, lo, hi = (np.array(v) for v in ([1000.0] * 2, [300.0] * 2, [1.0] * 2, [0.0] * 2, [2000.0] * 2))
    oracle = B.water_fill(truth[None, :], beta, half, shape, lo, hi, 1000.0)[0]
    for t in range(10):
        day = START + dt.timedelta(days=t)
        state, decision = B.decide(state, day, propensity_draws=30)
        obs = [
            B.Observation(day, a.key, x, truth[i] * float(a.attributed(x)) * math.exp(rng.normal(0, 0.1)))
            for i, (a, x) in enumerate(zip(arms, decision.allocation.values(), strict=True))
        ]
        state = B.update(state, obs)
    _, decision = B.decide(state, START + dt.timedelta(days=10), propensity_draws=30)
    assert oracle[0] > 750  # far from the prior's 500
    assert decision.allocation["a|search"] == pytest.approx(oracle[0], rel=0.1)

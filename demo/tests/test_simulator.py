"""The demo simulator against its own closed forms; no database."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from demo.engine import (
    PLACEMENT_PRIORS,
    ChannelPlan,
    HillCurve,
    SKUSpec,
    World,
    build_world,
    expected_outcome,
    geometric_adstock,
    simulate,
    simulate_lift_study,
)

START = dt.date(2025, 3, 1)
DAYS = 180


@pytest.fixture(scope="module")
def world() -> World:
    skus = [SKUSpec(f"snack-{i}", "Snacks", 3.99 + i, 2.10 + 0.6 * i) for i in range(3)]
    skus += [SKUSpec(f"cereal-{i}", "Cereal", 5.49 + i, 3.20 + 0.4 * i) for i in range(2)]
    plans = [
        ChannelPlan("amazon", "sponsored_product", 900, ("Snacks", "Cereal")),
        ChannelPlan("walmart", "onsite_display", 250, ("Snacks",)),
        ChannelPlan("criteo", "offsite_display", 300, ("Snacks", "Cereal")),
        ChannelPlan("amazon", "ctv", 600, ("Cereal",)),
    ]
    return build_world(seed=11, channel_plans=plans, skus=skus, reference_date=START)


def test_it_reproduces_the_same_data_for_the_same_seed(world):
    def run(seed):
        again = World.from_dict(json.loads(json.dumps(world.to_dict())))
        return simulate(again, start=START, days=60, seed=seed)

    a, b, other = run(5), run(5), run(6)
    assert np.array_equal(a.spend, b.spend) and np.array_equal(a.incremental_sales, b.incremental_sales)
    for la, lb in zip(a.lines, b.lines, strict=True):
        assert la.sku_code == lb.sku_code
        assert np.array_equal(la.attributed_sales, lb.attributed_sales) and np.array_equal(la.clicks, lb.clicks)
    assert not np.array_equal(a.spend, other.spend)


def test_it_builds_the_same_world_for_the_same_seed(world):
    plans = [
        ChannelPlan(c.retailer, c.placement_type, c.plan_daily_spend, tuple(k.brand for k in c.campaigns))
        for c in world.channels
    ]
    again = build_world(seed=11, channel_plans=plans, skus=world.skus, reference_date=START)
    assert again == world


def test_hill_curve_is_increasing_concave_and_saturates():
    curve = HillCurve(beta=5000.0, half_saturation=800.0, shape=0.8)
    x = np.linspace(0, 20000, 2001)
    y = curve(x)
    assert y[0] == 0
    assert (np.diff(y) > 0).all()
    assert (np.diff(y, 2) < 1e-9).all()  # concave: slopes never grow
    assert curve(800.0) == pytest.approx(2500.0)  # half of beta at the half-saturation point
    assert curve(1e9) == pytest.approx(5000.0, rel=1e-3)
    h = 1e-3
    central = (curve(x[1:] + h) - curve(x[1:] - h)) / (2 * h)
    assert np.allclose(curve.derivative(x[1:]), central, rtol=1e-5)


def test_hill_curve_refuses_s_shapes():
    with pytest.raises(ValueError, match="concave"):
        HillCurve(beta=1.0, half_saturation=1.0, shape=1.5)


def test_adstock_matches_the_closed_form_for_one_impulse():
    spend = np.zeros(30)
    spend[3] = 1000.0
    decay = 0.6
    got = geometric_adstock(spend, decay)
    expected = np.array([0.0 if t < 3 else (1 - decay) * decay ** (t - 3) * 1000.0 for t in range(30)])
    assert np.allclose(got, expected)
    # Normalized: the impulse's whole effect sums to the impulse, and constant spend is its own steady state.
    assert geometric_adstock(np.r_[1000.0, np.zeros(400)], decay).sum() == pytest.approx(1000.0)
    assert np.allclose(geometric_adstock(np.full(10, 50.0), decay, initial=50.0), 50.0)


def test_attributed_overstates_incremental_by_one_over_incrementality(world):
    history = simulate(world, start=START, days=DAYS, seed=3)
    for c, channel in enumerate(world.channels):
        ratio = history.attributed_sales[c].sum() / history.incremental_sales[c].sum()
        assert ratio == pytest.approx(1 / channel.incrementality, rel=0.03), channel.key
        lines = [line for line in history.lines if line.channel == c]
        assert all((line.sku_code is not None) == channel.sku_level for line in lines)
        assert sum(line.spend.sum() for line in lines) == pytest.approx(history.spend[c].sum())


def test_incrementality_follows_the_documented_ranges_per_placement(world):
    for channel in world.channels:
        lo, hi = PLACEMENT_PRIORS[channel.placement_type].incrementality
        assert lo <= channel.incrementality <= hi
    by_key = {c.placement_type: c.incrementality for c in world.channels}
    assert by_key["sponsored_product"] < 0.45 < 0.7 <= by_key["offsite_display"]


def test_expected_outcome_agrees_with_a_noise_free_simulation(world):
    daily = {"amazon:sponsored_product": 1200.0, "walmart:onsite_display": 100.0, "criteo:offsite_display": 0.0}
    outcome = expected_outcome(world, daily_spend=daily, start=START, days=DAYS)
    spend = np.array([[daily.get(c.key, 0.0)] * DAYS for c in world.channels])
    brute = simulate(world, start=START, days=DAYS, seed=0, spend=spend, noise=False, initial_adstock=spend[:, 0])
    for c, got in enumerate(outcome.channels):
        lines = [line for line in brute.lines if line.channel == c]
        assert got.incremental_sales == pytest.approx(brute.incremental_sales[c].sum(), rel=1e-9)
        assert got.incremental_margin == pytest.approx(sum(x.incremental_margin.sum() for x in lines), rel=1e-9)
        assert got.spend == pytest.approx(brute.spend[c].sum())
    assert outcome.channels[3].incremental_sales == 0  # CTV was left out: no spend, no effect
    assert outcome.incremental_profit == pytest.approx(outcome.incremental_margin - outcome.spend)


def test_expected_outcome_names_an_unknown_channel(world):
    with pytest.raises(KeyError, match="target:ctv"):
        expected_outcome(world, daily_spend={"target:ctv": 10.0}, start=START, days=7)


def test_noisy_history_averages_to_the_expectation(world):
    # With spend held at the plan, realized incremental sales scatter around expected_outcome's number.
    plan = {c.key: c.plan_daily_spend for c in world.channels}
    spend = np.array([[c.plan_daily_spend] * DAYS for c in world.channels])
    expected = expected_outcome(world, daily_spend=plan, start=START, days=DAYS)
    realized = np.mean(
        [simulate(world, start=START, days=DAYS, seed=s, spend=spend).incremental_sales.sum(axis=1) for s in range(20)],
        axis=0,
    )
    for c, got in enumerate(expected.channels):
        assert realized[c] == pytest.approx(got.incremental_sales, rel=0.01), got.key


def test_lift_studies_are_unbiased(world):
    history = simulate(world, start=START, days=DAYS, seed=4)
    draws = [
        simulate_lift_study(
            world, history, channel_key="criteo:offsite_display", start=START + dt.timedelta(days=60), days=28, seed=s
        )
        for s in range(400)
    ]
    truth = draws[0].true_incremental_sales
    assert all(d.true_incremental_sales == truth for d in draws)
    se = draws[0].standard_error
    assert se > 0
    estimates = np.array([d.estimate for d in draws])
    assert abs(estimates.mean() - truth) < 3 * se / np.sqrt(len(draws))
    assert estimates.std() == pytest.approx(se, rel=0.15)


def test_lift_study_rejects_a_window_outside_the_history(world):
    history = simulate(world, start=START, days=30, seed=4)
    with pytest.raises(ValueError, match="outside"):
        simulate_lift_study(
            world, history, channel_key="amazon:ctv", start=START + dt.timedelta(days=10), days=28, seed=1
        )

"""Experiment engine: geo tests, switchbacks, holdouts and CUPED against known truths (no database)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from optimizer.engine import experiments as ex
from optimizer.engine import geo
from optimizer.engine.errors import OptimizerInputError

START = dt.date(2025, 1, 6)


def _noise_free_panel(*, geos: int = 12, days: int = 120, additive: bool = False) -> geo.GeoPanel:
    levels = np.linspace(500.0, 5000.0, geos)
    t = np.arange(days)
    season = 1 + 0.2 * np.sin(2 * np.pi * t / 7) + 0.1 * np.cos(2 * np.pi * t / 90)
    y = levels[:, None] + 300 * season[None, :] if additive else levels[:, None] * season[None, :]
    dates = tuple(START + dt.timedelta(days=i) for i in range(days))
    return geo.GeoPanel(tuple(f"g{i:02d}" for i in range(geos)), dates, y)


@pytest.mark.parametrize(("method", "additive"), [("scaled", False), ("did", True)])
def test_it_recovers_the_injected_effect_exactly_on_a_noise_free_panel(method, additive):
    panel = _noise_free_panel(additive=additive)
    test_days, history_days = 14, 92
    design = geo.design_geo_test(
        panel.window(START, START + dt.timedelta(days=history_days - 1)),
        test_days=test_days,
        pre_days=28,
        method=method,
        cuped=False,
        n_placebo=50,
    )
    test_start = START + dt.timedelta(days=history_days)
    y = panel.outcome.copy()
    treated = [panel.geos.index(g) for g in design.treated]
    y[treated, history_days : history_days + test_days] += 37.5  # per treated geo and day
    result = geo.readout_geo_test(geo.GeoPanel(panel.geos, panel.dates, y), design, test_start=test_start)
    assert result.effect_per_geo_day == pytest.approx(37.5, abs=1e-8)
    assert result.incremental_sales == pytest.approx(37.5 * len(design.pairs) * test_days, abs=1e-6)
    assert result.incremental_sales_se == pytest.approx(0.0, abs=1e-6)


def test_it_pairs_every_geo_once_and_treats_one_of_each_pair():
    panel = _noise_free_panel(geos=11)
    design = geo.design_geo_test(panel, test_days=7, pre_days=28, n_placebo=50, seed=3)
    members = [g for p in design.pairs for g in p]
    assert len(design.pairs) == 5 and len(set(members)) == 10
    assert design.unassigned == ("g00",)  # the smallest geo when the count is odd
    # Pairs are neighbours by level: their levels differ by one step of the linspace.
    for a, b in design.pairs:
        assert abs(int(a[1:]) - int(b[1:])) == 1


def test_cuped_cuts_variance_by_one_minus_rho_squared():
    rng = np.random.default_rng(0)
    n = 40_000
    for rho in (0.5, 0.8):
        x = rng.standard_normal(n)
        y = 3.0 + rho * x + np.sqrt(1 - rho**2) * rng.standard_normal(n)
        adjusted, theta = ex.cuped_adjust(y, x)
        assert theta == pytest.approx(rho, abs=0.02)
        assert adjusted.mean() == pytest.approx(y.mean(), abs=1e-9)
        assert adjusted.var() / y.var() == pytest.approx(1 - rho**2, abs=0.02)


def test_holdout_readout_recovers_the_effect_and_cuped_shrinks_its_interval():
    rng = np.random.default_rng(1)
    n, rho = 20_000, 0.8
    pre = rng.gamma(2.0, 5.0, n)
    noise = rng.standard_normal(n) * pre.std() * np.sqrt(1 - rho**2) / rho
    held = ex.assign_holdout([f"u{i}" for i in range(n)], holdout_share=0.2, salt="s")
    y = pre + noise + np.where(held, 0.0, 1.5)
    plain = ex.readout_holdout(y, held)
    cuped = ex.readout_holdout(y, held, pre_outcome=pre)
    assert held.mean() == pytest.approx(0.2, abs=0.01)
    assert abs(cuped.effect_per_user - 1.5) < 4 * cuped.se_per_user  # within 4 standard errors of the truth
    assert (
        cuped.interval_per_user[1] - cuped.interval_per_user[0]
        < plain.interval_per_user[1] - plain.interval_per_user[0]
    )
    assert cuped.variance_reduction == pytest.approx(rho**2, abs=0.03)
    assert cuped.se_per_user / plain.se_per_user == pytest.approx(np.sqrt(1 - rho**2), abs=0.03)
    assert cuped.incremental_sales == pytest.approx(cuped.effect_per_user * cuped.n_exposed)


def test_holdout_sample_size_and_mde_are_inverse():
    n = ex.holdout_sample_size(outcome_sd=10.0, mde=0.5, holdout_share=0.1, rho=0.6)
    # (z_0.95 + z_0.80)^2 * sd^2 * (1 - rho^2) * (1/0.9 + 1/0.1) / mde^2
    assert n == pytest.approx((1.6449 + 0.8416) ** 2 * 100 * 0.64 * (1 / 0.9 + 10) / 0.25, abs=2)
    assert ex.holdout_mde(outcome_sd=10.0, n_total=n, holdout_share=0.1, rho=0.6) <= 0.5
    with pytest.raises(OptimizerInputError, match="holdout_share"):
        ex.holdout_sample_size(outcome_sd=10.0, mde=0.5, holdout_share=1.2)


def test_switchback_schedule_is_balanced_randomized_and_marks_washout_days():
    design = ex.design_switchback(start_date=START, days=60, block_days=7, washout_days=2, seed=5)
    assert design.days == 56 and design.dropped_days == 4
    arms = np.array(design.arms)
    assert (arms[0::2] != arms[1::2]).all()  # every pair: one on, one off
    schedule = design.schedule()
    assert len(schedule) == 56
    for row in schedule:
        day = (dt.date.fromisoformat(row["date"]) - START).days
        assert row["washout"] == (day % 7 < 2)
        assert row["arm"] == ("on" if arms[day // 7] else "off")
    # Randomized order: across seeds both orders appear in the first pair.
    firsts = {ex.design_switchback(start_date=START, days=42, seed=s).arms[0] for s in range(20)}
    assert firsts == {True, False}
    with pytest.raises(OptimizerInputError, match="washout"):
        ex.design_switchback(start_date=START, days=60, block_days=3, washout_days=3)
    with pytest.raises(OptimizerInputError, match="at least 3"):
        ex.design_switchback(start_date=START, days=27, block_days=7)
    with pytest.raises(OptimizerInputError, match="never varies"):
        ex.design_switchback(start_date=START, days=42, history=np.full(100, 250.0))


def test_switchback_readout_ignores_washout_days_and_finds_the_effect():
    design = ex.design_switchback(start_date=START, days=84, block_days=7, washout_days=2, seed=2)
    on = np.repeat(np.array(design.arms), 7)
    washout = (np.arange(84) % 7) < 2
    y = 1000.0 + 40.0 * on + np.where(washout, 1e6, 0.0)  # carry-over garbage only on washout days
    result = ex.readout_switchback(design, y, spend=np.where(on, 100.0, 0.0))
    assert result.effect_per_day == pytest.approx(40.0)
    assert result.on_days == 42 and result.incremental_sales == pytest.approx(40.0 * 42)
    assert result.on_spend == pytest.approx(4200.0)


def test_switchback_mde_comes_from_the_history_and_grows_with_noise():
    rng = np.random.default_rng(4)
    base = rng.standard_normal(200)
    mdes = [
        ex.design_switchback(start_date=START, days=84, history=1000 + sd * base, seed=1, n_placebo=500).mde
        for sd in (20.0, 40.0, 80.0)
    ]
    assert mdes[0] < mdes[1] < mdes[2]
    assert mdes[1] / mdes[0] == pytest.approx(2.0, rel=0.1)  # the MDE scales with the noise


def test_geo_mde_is_monotone_in_noise():
    mdes = []
    for noise in (0.03, 0.06, 0.12):
        sim = geo.simulate_geo_panels(n_panels=1, n_geos=20, days=150, seed=9, noise_sd=noise, trend_sd=0.0)
        design = geo.design_geo_arrays(sim.outcome[0], test_days=14, pre_days=56, n_placebo=300, seed=1)
        mdes.append(design["mde"])
    assert mdes[0] < mdes[1] < mdes[2]


def test_aa_false_positive_rate_is_near_alpha_on_40_simulated_tests():
    # Smoke version of bench/geo_bench.py (500 tests): wide tolerance, 40 tests.
    sim = geo.simulate_geo_panels(n_panels=40, n_geos=20, days=140, seed=11)
    history, test_days = 112, 28
    rejections = []
    for i in range(40):
        y = sim.outcome[i]
        d = geo.design_geo_arrays(y[:, :history], test_days=test_days, pre_days=56, n_placebo=100, seed=i)
        t = np.array([p[0] for p in d["pairs"]])
        c = np.array([p[1] for p in d["pairs"]])
        w = geo.window_means(
            y[:, history - 56 :], np.array([0]), pre_days=56, recent_days=d["recent_days"], test_days=test_days
        )
        means = {k: v[:, 0] for k, v in geo.pair_means(w, t, c).items()}
        r = geo.readout_geo_arrays(means, method="scaled", theta=d["theta"], alpha=0.10)
        rejections.append(float(r["p"]) < 0.10)
    assert 0.0 <= np.mean(rejections) <= 0.25


def test_geo_design_errors_name_what_is_wrong():
    panel = _noise_free_panel(geos=6)
    with pytest.raises(OptimizerInputError, match="at least 8 geos"):
        geo.design_geo_test(panel, test_days=7)
    short = _noise_free_panel(geos=10, days=40)
    with pytest.raises(OptimizerInputError, match="40 days of history"):
        geo.design_geo_test(short, test_days=14, pre_days=28)
    frame = pd.DataFrame({"date": ["2025-01-01", "2025-01-02", "2025-01-01"], "geo": ["a", "a", "b"], "outcome": 1})
    with pytest.raises(OptimizerInputError, match="no outcome for b on 2025-01-02"):
        geo.panel_from_frame(frame)
    bad = pd.DataFrame({"date": ["2025-01-01"], "geo": ["a"], "outcome": ["lots"]})
    with pytest.raises(OptimizerInputError, match="line 2"):
        geo.panel_from_frame(bad)


def test_geo_design_round_trips_through_json():
    sim = geo.simulate_geo_panels(n_panels=1, n_geos=10, days=120, seed=2)
    design = geo.design_geo_test(sim.panel(0), test_days=14, n_placebo=100, seed=4)
    again = geo.GeoDesign.from_dict(design.to_dict())
    assert again == design
    assert set(design.to_dict()["treated"]) | set(design.to_dict()["control"]) == set(sim.panel(0).geos)


def test_lift_study_estimate_serializes_dates():
    est = ex.LiftStudyEstimate(
        "amazon", "search", START, START + dt.timedelta(days=27), 1000.0, 2500.0, 400.0, "switchback"
    )
    assert est.to_dict()["end_date"] == "2025-02-02" and est.to_dict()["method"] == "switchback"


def test_readout_estimates_are_valid_lift_study_rows_for_the_file_contract(tmp_path):
    from optimizer.engine.files import read_lift_studies

    design = ex.design_switchback(start_date=START, days=42, block_days=7, washout_days=1, seed=3)
    rng = np.random.default_rng(5)
    on = np.repeat(np.array(design.arms), 7)
    result = ex.readout_switchback(design, 500 + 30 * on + rng.normal(0, 10, 42), spend=np.where(on, 80.0, 0.0))
    est = ex.LiftStudyEstimate(
        "amazon", "search", design.start_date, design.end_date, result.on_spend, result.incremental_sales,
        result.incremental_sales_se, "switchback",
    )  # fmt: skip
    path = tmp_path / "L.csv"
    pd.DataFrame([est.to_dict()]).to_csv(path, index=False)
    studies = read_lift_studies(path)
    assert studies.loc[0, "incremental_sales"] == pytest.approx(result.incremental_sales)
    assert studies.loc[0, "spend"] == pytest.approx(80.0 * 21)


def test_closed_loop_a_geo_readout_calibrates_the_channels_incrementality_toward_the_truth():
    # The demo simulator's world is the truth: its channel's true incremental sales over the last 28 days of history
    # land in the treated geos of a geo test; the readout, saved as a lift study, calibrates the fitted curve.
    from bench.curves_bench import history_frame, simulated_world, skus_frame
    from demo.engine import simulator as sim
    from optimizer.engine.curves import calibrate, fit_curves

    days, test_days, geo_history = 150, 28, 182
    world = simulated_world(11, channels=(("amazon", "sponsored_product", 900.0), ("walmart", "search", 300.0)))
    history = sim.simulate(world, start=START, days=days, seed=11)
    curves = fit_curves(history_frame(world, history), skus_frame(world), samples=100, seed=5)
    channel = world.channels[0]
    incremental = history.incremental_sales[0, days - test_days :]

    panels = geo.simulate_geo_panels(
        n_geos=40, days=geo_history + test_days, seed=3, level_median=40.0, level_sigma=0.2
    )
    names, y = panels.panel(0).geos, panels.outcome[0].copy()
    design = geo.design_geo_test(
        geo.GeoPanel(names, panels.dates[:geo_history], y[:, :geo_history]), test_days=test_days, seed=1
    )
    treated = [names.index(g) for g in design.treated]
    share = panels.levels[0, treated] / panels.levels[0, treated].sum()
    y[treated, geo_history:] += share[:, None] * incremental[None, :]
    result = geo.readout_geo_test(geo.GeoPanel(names, panels.dates, y), design, test_start=panels.dates[geo_history])
    estimate = ex.LiftStudyEstimate(
        channel.retailer, channel.placement_type, history.dates[days - test_days], history.dates[-1],
        float(history.spend[0, days - test_days :].sum()), result.incremental_sales, result.incremental_sales_se,
        "geo_matched_markets",
    )  # fmt: skip
    assert abs(result.incremental_sales - incremental.sum()) < 3 * result.incremental_sales_se

    key = "amazon|sponsored_product"
    before = calibrate(curves, None, seed=1).channel(key).incrementality
    after = calibrate(curves, pd.DataFrame([estimate.to_dict()]), seed=1).channel(key).incrementality
    truth = channel.incrementality
    assert abs(after.mean() - truth) < abs(before.mean() - truth)
    assert abs(after.mean() - truth) < 0.03
    lo, hi = np.quantile(after, [0.05, 0.95])
    assert lo < truth < hi
    assert hi - lo < 0.5 * np.ptp(np.quantile(before, [0.05, 0.95]))

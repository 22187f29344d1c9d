"""The allocator on hand-made concave curves, checked against brute force, the KKT conditions and its refusals."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from optimizer.engine.allocate import AllocationRequest, _Problem, allocate, response_curves
from optimizer.engine.curves import ChannelCurve, CurveSet
from optimizer.engine.errors import OptimizerInputError

P = 28


def _curve(retailer, placement, beta, K, shape, iota, margin=0.3, samples=1, spread=0.0, seed=0):
    rng = np.random.default_rng(seed)

    def draw(v):
        return v * (np.exp(rng.normal(0.0, spread, samples)) if spread else np.ones(samples))

    return ChannelCurve(
        retailer=retailer,
        placement_type=placement,
        beta=draw(beta),
        half_saturation=draw(K),
        shape=np.full(samples, shape),
        decay=np.zeros(samples),
        incrementality=np.clip(draw(iota), 0.01, 1.5),
        margin_rate=margin,
        hist_daily_spend=500.0,
        hist_max_daily_spend=1500.0,
        calibrated=True,
    )


def _set(*channels):
    return CurveSet(channels, "USD", (1.0,) * 7, 0.0, dt.date(2025, 6, 30), {})


@pytest.fixture
def three():
    return _set(
        _curve("amazon", "sponsored_product", 5000, 800, 0.8, 0.35, margin=0.30),
        _curve("walmart", "search", 3000, 600, 1.0, 0.50, margin=0.40),
        _curve("criteo", "offsite_display", 2000, 900, 0.7, 0.80, margin=0.35),
    )


def _period(curves, key, spend, kind="incremental"):
    ch = curves.channel(key)
    return curves.period_factor(P) * getattr(ch, kind)(np.asarray(spend) / P).mean(axis=0)


def _brute_force(curves, budget, value, ok=None, n=801):
    """Best value over a grid of (s1, s2) with s3 = budget - s1 - s2."""
    k = [c.key for c in curves.channels]
    grid = np.linspace(0, budget, n)
    s1, s2 = np.meshgrid(grid, grid, indexing="ij")
    s3 = budget - s1 - s2
    feasible = s3 >= 0
    s3 = np.maximum(s3, 0)
    spends = [s1.ravel(), s2.ravel(), s3.ravel()]
    v = value(k, spends)
    mask = feasible.ravel() & (ok(k, spends) if ok else True)
    return float(v[mask].max())


def _margin(curves):
    def value(keys, spends):
        return sum(curves.channel(k).margin_rate * _period(curves, k, s) for k, s in zip(keys, spends, strict=True))

    return value


def test_it_matches_a_brute_force_grid_optimum(three):
    budget = 30000.0
    result = allocate(three, AllocationRequest(budget=budget, period_days=P))
    best = _brute_force(three, budget, _margin(three))
    assert result.totals["expected_incremental_margin"] == pytest.approx(best, rel=5e-3)
    assert result.totals["expected_incremental_margin"] >= best * (1 - 1e-6)  # the grid cannot beat the optimum
    assert result.totals["spend"] == pytest.approx(budget, rel=1e-9)


def test_its_reported_sales_agree_with_the_curves_own_functions(three):
    result = allocate(three, AllocationRequest(budget=30000.0, period_days=P))
    for a in result.allocations:
        assert a.expected_incremental_sales == pytest.approx(_period(three, a.key, [a.spend])[0], rel=1e-9)
        assert a.expected_attributed_sales == pytest.approx(_period(three, a.key, [a.spend], "attributed")[0])
        assert a.expected_incremental_margin == pytest.approx(
            a.expected_incremental_sales * (three.channel(a.key).margin_rate)
        )


def test_unconstrained_channels_end_with_equal_marginal_returns(three):
    result = allocate(three, AllocationRequest(budget=30000.0, period_days=P))
    marginal = [a.marginal_objective for a in result.allocations]
    assert max(marginal) - min(marginal) < 1e-4 * max(marginal)
    # ... and that common marginal is the budget's shadow price (a numerical derivative of the optimum)
    up = allocate(three, AllocationRequest(budget=30300.0, period_days=P)).totals["expected_incremental_margin"]
    slope = (up - result.totals["expected_incremental_margin"]) / 300.0
    assert result.constraints["budget"]["shadow_price"] == pytest.approx(slope, rel=2e-2)
    assert result.constraints["budget"]["binding"] is True
    assert all(a.binding == () for a in result.allocations)
    assert result.constraints["kkt_max_violation"] < 1e-4


def test_a_roas_floor_binds_and_matches_brute_force(three):
    budget, floor = 30000.0, 4.2
    free = allocate(three, AllocationRequest(budget=budget, period_days=P))
    assert free.totals["expected_attributed_roas"] < floor  # so the floor must bite
    result = allocate(three, AllocationRequest(budget=budget, period_days=P, min_roas=floor))
    roas = result.constraints["min_roas"]
    assert roas["binding"] is True and roas["shadow_price"] > 0
    assert result.totals["expected_attributed_roas"] == pytest.approx(floor, rel=1e-5)
    assert result.totals["expected_attributed_roas"] >= floor * (1 - 1e-7)
    assert result.totals["unspent"] > 0  # a lower total spend is the way to a higher average ROAS
    # brute force: all (s1, s2, s3) with s1 + s2 + s3 <= budget meeting the floor
    keys = [c.key for c in three.channels]
    grid = np.linspace(0, budget, 121)
    s = np.stack(np.meshgrid(grid, grid, grid, indexing="ij")).reshape(3, -1)
    s = s[:, s.sum(axis=0) <= budget]
    att = sum(_period(three, k, s[i], "attributed") for i, k in enumerate(keys))
    value = _margin(three)(keys, list(s))
    best = float(value[att >= floor * s.sum(axis=0)].max())
    assert result.totals["expected_incremental_margin"] == pytest.approx(best, rel=5e-3)
    assert result.totals["expected_incremental_margin"] >= best * (1 - 1e-6)


def test_an_incremental_roas_floor_uses_incremental_sales(three):
    result = allocate(three, AllocationRequest(budget=30000.0, period_days=P, min_roas=1.6, roas_basis="incremental"))
    assert result.totals["expected_incremental_roas"] == pytest.approx(1.6, rel=1e-5)
    assert result.constraints["min_roas"]["basis"] == "incremental"


def test_channel_bounds_bind_and_are_reported(three):
    # Unbounded, walmart takes about 19,300 and criteo about 9,700 of the 30,000.
    request = AllocationRequest(
        budget=30000.0,
        period_days=P,
        bounds={"walmart|search": (0.0, 8000.0), "criteo|offsite_display": (15000.0, 20000.0)},
    )
    result = allocate(three, request)
    by = {a.key: a for a in result.allocations}
    assert by["walmart|search"].spend == pytest.approx(8000.0, abs=0.01)
    assert by["walmart|search"].binding == ("max_bound",)
    assert by["criteo|offsite_display"].spend == pytest.approx(15000.0, abs=0.01)
    assert by["criteo|offsite_display"].binding == ("min_bound",)
    assert result.constraints["bounds"]["walmart|search"]["binding"] == ["max_bound"]
    assert result.constraints["bounds"]["criteo|offsite_display"]["binding"] == ["min_bound"]
    assert by["amazon|sponsored_product"].spend == pytest.approx(7000.0, abs=0.05)
    assert by["amazon|sponsored_product"].binding == ()
    # KKT: the capped channel would still earn more than the price at the margin, the floored one less.
    price = result.constraints["budget"]["shadow_price"]
    assert by["walmart|search"].marginal_objective > price > by["criteo|offsite_display"].marginal_objective


def test_retailer_bounds_bind_and_are_reported():
    curves = _set(
        _curve("amazon", "sponsored_product", 5000, 800, 0.8, 0.35),
        _curve("amazon", "ctv", 2500, 900, 0.7, 0.8),
        _curve("walmart", "search", 3000, 600, 1.0, 0.5),
    )
    free = allocate(curves, AllocationRequest(budget=30000.0, period_days=P))
    amazon_free = sum(a.spend for a in free.allocations if a.retailer == "amazon")
    cap = round(amazon_free * 0.6, 2)
    result = allocate(curves, AllocationRequest(budget=30000.0, period_days=P, retailer_bounds={"amazon": (0, cap)}))
    amazon = [a for a in result.allocations if a.retailer == "amazon"]
    assert sum(a.spend for a in amazon) == pytest.approx(cap, rel=1e-6)
    assert all("retailer_max:amazon" in a.binding for a in amazon)
    # Inside the retailer its channels still share one marginal return (the retailer's price)
    assert amazon[0].marginal_objective == pytest.approx(amazon[1].marginal_objective, rel=1e-4)
    assert result.constraints["retailer_bounds"]["amazon"]["binding"] == "max"
    assert result.constraints["retailer_bounds"]["amazon"]["shadow_price"] > 0
    floor = allocate(
        curves, AllocationRequest(budget=30000.0, period_days=P, retailer_bounds={"walmart": (20000.0, None)})
    )
    assert sum(a.spend for a in floor.allocations if a.retailer == "walmart") == pytest.approx(20000.0, rel=1e-6)
    assert "retailer_min:walmart" in floor.allocation("walmart|search").binding


def test_profit_objective_leaves_money_unspent_where_it_would_lose_money(three):
    result = allocate(three, AllocationRequest(budget=100000.0, period_days=P, objective="net_incremental_profit"))
    assert result.totals["unspent"] > 50000
    assert result.constraints["budget"]["binding"] is False
    for a in result.allocations:
        if a.spend > 1:
            # Spend stops where one more dollar returns exactly one dollar of margin.
            assert a.marginal_roas * three.channel(a.key).margin_rate == pytest.approx(1.0, rel=1e-4)
    everything = allocate(
        three,
        AllocationRequest(budget=100000.0, period_days=P, objective="net_incremental_profit", spend_everything=True),
    )
    assert everything.totals["spend"] == pytest.approx(100000.0, rel=1e-9)
    assert everything.totals["expected_net_incremental_profit"] < result.totals["expected_net_incremental_profit"]


def test_revenue_objective_maximizes_incremental_sales(three):
    budget = 30000.0
    result = allocate(three, AllocationRequest(budget=budget, period_days=P, objective="incremental_revenue"))

    def revenue(keys, spends):
        return sum(_period(three, k, s) for k, s in zip(keys, spends, strict=True))

    best = _brute_force(three, budget, revenue)
    assert result.totals["expected_incremental_sales"] == pytest.approx(best, rel=5e-3)
    assert result.totals["spend"] == pytest.approx(budget)


def test_exclusions_margin_overrides_and_capacity(three):
    result = allocate(
        three,
        AllocationRequest(
            budget=30000.0,
            period_days=P,
            exclude_channels=frozenset({"criteo|offsite_display"}),
            channel_margin_override={"amazon|sponsored_product": 0.10},
            channel_capacity_factor={"walmart|search": 0.5},
        ),
    )
    by = {a.key: a for a in result.allocations}
    assert by["criteo|offsite_display"].spend == 0 and by["criteo|offsite_display"].binding == ("excluded",)
    assert by["amazon|sponsored_product"].expected_incremental_margin == pytest.approx(
        0.10 * by["amazon|sponsored_product"].expected_incremental_sales
    )
    half = 0.5 * _period(three, "walmart|search", [by["walmart|search"].spend])[0]
    assert by["walmart|search"].expected_incremental_sales == pytest.approx(half, rel=1e-9)
    assert by["amazon|sponsored_product"].spend + by["walmart|search"].spend == pytest.approx(30000.0)


def test_intervals_come_from_the_posterior_samples():
    curves = _set(
        _curve("amazon", "sponsored_product", 5000, 800, 0.8, 0.35, samples=400, spread=0.2, seed=1),
        _curve("walmart", "search", 3000, 600, 1.0, 0.5, samples=400, spread=0.2, seed=2),
    )
    request = AllocationRequest(budget=20000.0, period_days=P)
    away = allocate(curves, request)
    # Incrementality measured at the spend the plan makes, inside the spend seen: nothing is added to the posterior.
    at = {a.key: a.daily_spend for a in away.allocations}
    measured = _set(*(dataclasses.replace(c, incrementality_spend=at[c.key]) for c in curves.channels))
    result = allocate(measured, request)
    for a, b in zip(result.allocations, away.allocations, strict=True):
        assert a.spend == pytest.approx(b.spend)
        assert a.expected_incremental_sales == pytest.approx(b.expected_incremental_sales)
        draws = curves.period_factor(P) * curves.channel(a.key).incremental([a.daily_spend])[:, 0]
        lo, hi = a.incremental_sales_interval
        assert lo == pytest.approx(np.percentile(draws, 5)) and hi == pytest.approx(np.percentile(draws, 95))
        assert lo < a.expected_incremental_sales < hi
        # Measured at 500 a day, read at another level: the share may have drifted, the interval is wider.
        far_lo, far_hi = b.incremental_sales_interval
        assert abs(np.log(a.daily_spend / 500)) > 0.2
        assert far_hi - far_lo > 1.02 * (hi - lo)


def test_a_chance_constraint_tightens_the_floor_until_it_holds_in_enough_samples():
    curves = _set(
        _curve("amazon", "sponsored_product", 5000, 800, 0.8, 0.35, samples=300, spread=0.15, seed=3),
        _curve("walmart", "search", 3000, 600, 1.0, 0.5, samples=300, spread=0.15, seed=4),
    )
    plain = allocate(curves, AllocationRequest(budget=30000.0, period_days=P, min_roas=4.5))
    assert plain.totals["p_roas_floor"] < 0.9
    sure = allocate(curves, AllocationRequest(budget=30000.0, period_days=P, min_roas=4.5, chance=0.9))
    assert sure.totals["p_roas_floor"] >= 0.9
    assert sure.constraints["chance"]["binding"] is True
    assert sure.constraints["min_roas"]["enforced_floor"] > 4.5
    assert sure.totals["spend"] < plain.totals["spend"]


def test_it_refuses_min_bounds_above_the_budget(three):
    with pytest.raises(OptimizerInputError) as err:
        allocate(
            three,
            AllocationRequest(
                budget=10000.0,
                period_days=P,
                bounds={"walmart|search": (7000, 9000), "amazon|sponsored_product": (5000, None)},
            ),
        )
    assert "add up to 12,000.00, more than the budget 10,000.00" in err.value.message
    assert err.value.details["excess"] == pytest.approx(2000.0)


def test_it_refuses_an_unreachable_roas_floor_and_says_the_best_reachable(three):
    request = AllocationRequest(
        budget=30000.0, period_days=P, min_roas=9.0, bounds={"criteo|offsite_display": (10000.0, 20000.0)}
    )
    with pytest.raises(OptimizerInputError) as err:
        allocate(three, request)
    best = err.value.details["max_roas"]
    assert best < 9.0
    assert f"reaches is {best:.2f}" in err.value.message and "min_roas 9 is infeasible" in err.value.message
    # The reported best is achievable: a floor just below it is accepted.
    ok = allocate(three, AllocationRequest(**{**request.__dict__, "min_roas": best * 0.999}))
    assert ok.totals["expected_attributed_roas"] >= best * 0.999 * (1 - 1e-7)
    with pytest.raises(OptimizerInputError, match="spending the whole budget"):
        allocate(three, AllocationRequest(budget=30000.0, period_days=P, min_roas=6.0, spend_everything=True))


def test_it_refuses_an_unreachable_chance_constraint():
    curves = _set(_curve("amazon", "sponsored_product", 5000, 800, 1.0, 0.35, samples=200, spread=0.3, seed=5))
    with pytest.raises(OptimizerInputError, match="chance constraint is unreachable") as err:
        allocate(
            curves,
            AllocationRequest(
                budget=30000.0,
                period_days=P,
                min_roas=3.3,
                chance=0.95,
                bounds={"amazon|sponsored_product": (20000, None)},
            ),
        )
    # The mean ROAS at the 20,000 minimum is 3.40, above the floor, but the posterior is wide.
    assert err.value.field == "chance"
    assert err.value.details["reachable"] < 0.95


@pytest.mark.parametrize(
    ("request_args", "field", "text"),
    [
        ({"budget": -5.0}, "budget", "budget -5.00 is negative"),
        ({"period_days": 0}, "period_days", "at least 1"),
        ({"bounds": {"amazon|display": (0, 1)}}, "bounds", "Unknown channel 'amazon|display' in bounds"),
        ({"bounds": {"walmart|search": (5, 1)}}, "bounds", "minimum 5.00 is above the maximum 1.00"),
        ({"retailer_bounds": {"kroger": (0, 1)}}, "retailer_bounds", "Unknown retailer 'kroger'"),
        ({"objective": "roas"}, "objective", "Unknown objective 'roas'"),
        ({"chance": 0.9}, "chance", "chance needs a ROAS floor"),
        ({"min_roas": -1.0}, "min_roas", "min_roas must be 0 or more"),
    ],
)
def test_it_refuses_bad_requests_with_a_clear_message(three, request_args, field, text):
    args = {"budget": 30000.0, "period_days": P, **request_args}
    with pytest.raises(OptimizerInputError) as err:
        allocate(three, AllocationRequest(**args))
    assert text in err.value.message
    assert err.value.field == field


def test_unknown_channel_message_lists_the_known_ones(three):
    with pytest.raises(OptimizerInputError) as err:
        allocate(three, AllocationRequest(budget=1.0, period_days=P, bounds={"amazon|display": (0, 1)}))
    assert "amazon|sponsored_product, walmart|search, criteo|offsite_display" in err.value.message


def test_a_zero_budget_spends_nothing(three):
    result = allocate(three, AllocationRequest(budget=0.0, period_days=P))
    assert result.totals["spend"] == 0 and result.totals["expected_incremental_margin"] == 0


def test_to_dict_is_the_out_json_contract(three):
    import json

    doc = allocate(three, AllocationRequest(budget=30000.0, period_days=P, min_roas=3.0)).to_dict()
    json.dumps(doc, allow_nan=False)
    assert set(doc) == {"allocations", "totals", "constraints", "objective", "warnings"}
    row = doc["allocations"][0]
    for key in (
        "retailer",
        "placement_type",
        "spend",
        "expected_incremental_sales",
        "expected_incremental_margin",
        "expected_attributed_roas",
        "marginal_roas",
        "binding",
        "incremental_sales_interval",
    ):
        assert key in row
    assert {"budget", "min_roas", "bounds", "retailer_bounds", "chance"} <= set(doc["constraints"])


def test_it_warns_when_a_floor_leaves_most_of_the_budget_unspent_or_a_curve_is_extrapolated(three):
    result = allocate(three, AllocationRequest(budget=100000.0, period_days=P, min_roas=6.0))
    assert result.totals["unspent"] > 50000
    assert any("leaves" in w and "unspent" in w for w in result.warnings)
    # 100,000 over 28 days puts some channel far above its highest day seen (1,500 a day in these curves)
    assert any("extrapolated" in w for w in allocate(three, AllocationRequest(budget=200000.0, period_days=P)).warnings)


def test_it_refuses_to_optimize_margin_without_a_margin_rate():
    curves = _set(_curve("amazon", "sponsored_product", 5000, 800, 0.8, 0.35, margin=float("nan")))
    with pytest.raises(OptimizerInputError, match=r"No margin rate for amazon\|sponsored_product"):
        allocate(curves, AllocationRequest(budget=1000.0, period_days=P))
    revenue = allocate(curves, AllocationRequest(budget=1000.0, period_days=P, objective="incremental_revenue"))
    assert revenue.totals["spend"] == pytest.approx(1000.0)


def test_forecast_error_widens_the_intervals_and_the_chance_margin_but_not_the_means():
    curves = _set(
        _curve("amazon", "sponsored_product", 5000, 800, 0.8, 0.35, samples=150, spread=0.05, seed=6),
        _curve("walmart", "search", 3000, 600, 1.0, 0.5, samples=150, spread=0.05, seed=7),
    )
    base = AllocationRequest(budget=30000.0, period_days=P, min_roas=4.5, chance=0.9)
    tight = allocate(curves, base)
    loose = allocate(curves, AllocationRequest(**{**base.__dict__, "forecast_error_sd": 0.1}))
    assert loose.totals["p_roas_floor"] >= 0.9
    assert loose.totals["expected_attributed_roas"] > tight.totals["expected_attributed_roas"] * 1.05
    same = allocate(
        curves, AllocationRequest(**{**base.__dict__, "chance": None, "min_roas": None, "forecast_error_sd": 0.1})
    )
    plain = allocate(curves, AllocationRequest(budget=30000.0, period_days=P))
    assert same.totals["expected_incremental_sales"] == pytest.approx(plain.totals["expected_incremental_sales"])
    width = lambda r: np.diff(r.totals["incremental_sales_interval"])[0]  # noqa: E731
    # (plain already carries the incrementality drift away from the 500 a day it was measured at)
    assert width(same) > 1.8 * width(plain)


def test_a_floor_the_whole_budget_cannot_promise_returns_both_plans_with_their_probabilities():
    curves = _set(
        _curve("amazon", "sponsored_product", 5000, 800, 0.8, 0.35, samples=300, spread=0.15, seed=3),
        _curve("walmart", "search", 3000, 600, 1.0, 0.5, samples=300, spread=0.15, seed=4),
    )
    result = allocate(curves, AllocationRequest(budget=30000.0, period_days=P, min_roas=4.5, chance=0.9))
    promise = result.to_dict()["promise"]
    assert promise["whole_budget_keeps_promise"] is False and promise["chance"] == 0.9

    def p_floor(daily: dict) -> float:  # share of posterior samples whose period attributed ROAS reaches 4.5
        sales = sum(curves.period_factor(P) * curves.channel(k).attributed([x])[:, 0] for k, x in daily.items())
        return float(np.mean(sales >= 4.5 * P * sum(daily.values())))

    full, kept = promise["full_spend"], promise["largest_promised_spend"]
    assert full["spend"] == pytest.approx(30000.0, rel=1e-6)
    assert kept["spend"] == pytest.approx(result.totals["spend"]) and kept["spend"] < 0.95 * full["spend"]
    assert kept["probability"] >= 0.9 > full["probability"]
    assert full["probability"] == pytest.approx(p_floor(full["daily_spend"]), abs=0.01)
    assert kept["probability"] == pytest.approx(p_floor(kept["daily_spend"]), abs=0.01)
    assert full["expected_incremental_margin"] > kept["expected_incremental_margin"]
    assert "cannot hold min_roas 4.5" in result.warnings[0] and "with probability 90%" in result.warnings[0]


def test_a_budget_that_keeps_the_promise_says_so_and_offers_no_alternative():
    curves = _set(
        _curve("amazon", "sponsored_product", 5000, 800, 0.8, 0.35, samples=300, spread=0.15, seed=3),
        _curve("walmart", "search", 3000, 600, 1.0, 0.5, samples=300, spread=0.15, seed=4),
    )
    result = allocate(curves, AllocationRequest(budget=30000.0, period_days=P, min_roas=2.0, chance=0.9))
    assert result.totals["spend"] == pytest.approx(30000.0, rel=1e-6)
    assert result.promise["whole_budget_keeps_promise"] is True and result.promise["full_spend"] is None
    assert result.promise["largest_promised_spend"]["probability"] >= 0.9
    assert "promise" not in allocate(curves, AllocationRequest(budget=30000.0, period_days=P, min_roas=2.0)).to_dict()


def test_the_response_curves_pass_through_each_allocation_and_follow_the_true_curve():
    curves = _set(
        _curve("amazon", "sponsored_product", 5000, 800, 0.8, 0.35, samples=200, spread=0.2, seed=1),
        _curve("walmart", "search", 3000, 600, 1.0, 0.50, samples=200, spread=0.2, seed=2),
    )
    result = allocate(curves, AllocationRequest(budget=30000.0, period_days=P))
    assert "curves" not in result.to_dict()  # the optimize command's OUT.json keeps its shape
    for a in result.allocations:
        curve = result.curves[a.key]
        spend, expected = np.array(curve["spend"]), np.array(curve["expected"])
        low, high = np.array(curve["low"]), np.array(curve["high"])
        assert spend[0] == 0 and spend[-1] >= min(2 * a.spend, 30000.0) - 0.01 and spend[-1] <= 30000.0
        # The stored line is the model's own expectation at each spend, and the band holds it.
        assert expected == pytest.approx(_period(curves, a.key, spend), rel=1e-5, abs=0.02)  # both kept in cents
        assert np.all(low <= expected + 0.01) and np.all(expected <= high + 0.01)
        assert np.all(np.diff(expected) >= -1e-6)  # more spend never buys fewer sales on a Hill curve
        # Through the row: the chosen spend is a point of the curve, with the row's expected sales and interval.
        at = int(np.argmin(np.abs(spend - a.spend)))
        assert spend[at] == pytest.approx(a.spend, abs=0.01)
        assert expected[at] == pytest.approx(a.expected_incremental_sales, abs=0.01)
        assert (low[at], high[at]) == pytest.approx(a.incremental_sales_interval, abs=0.01)


def test_only_the_largest_channels_keep_a_curve(three):
    result = allocate(three, AllocationRequest(budget=30000.0, period_days=P))
    ranked = sorted(result.allocations, key=lambda a: -a.spend)
    prob = _Problem(three, AllocationRequest(budget=30000.0, period_days=P), [c.key for c in three.channels])
    spends = np.array([result.allocation(k).spend for k in prob.keys])
    kept = response_curves(prob, spends, budget=30000.0, largest=2)
    assert set(kept) == {ranked[0].key, ranked[1].key}
    assert set(result.curves) == {a.key for a in result.allocations}  # 3 channels: all under the default 12


def test_the_promise_in_its_tail_form_moves_spend_to_the_curve_it_is_sure_of(monkeypatch):
    """Issue 17: a higher floor on the posterior mean cuts spend wherever it comes from; the tail form (the floor held
    by the worst samples) sees that one channel's curve is unsure and keeps the promise with more spent on the other.
    Both plans hold the floor in at least 90% of the samples; the tail form's expected margin is higher."""
    from optimizer.engine import allocate as engine

    curves = _set(
        _curve("amazon", "sponsored_product", 5000, 800, 0.8, 0.35, samples=300, spread=0.03, seed=3),
        _curve("walmart", "sponsored_product", 5600, 800, 0.8, 0.35, samples=300, spread=0.45, seed=4),
    )
    request = AllocationRequest(budget=40000.0, period_days=P, min_roas=4.0, chance=0.9)
    tail = allocate(curves, request)
    monkeypatch.setattr(engine, "_tail_plan", lambda *args: None)
    mean = allocate(curves, request)
    assert mean.constraints["min_roas"]["chance_form"] == "mean"
    assert tail.constraints["min_roas"]["chance_form"] == "tail"
    for plan in (tail, mean):
        assert plan.totals["p_roas_floor"] >= 0.9
        assert plan.constraints["kkt_max_violation"] < 1e-3
    assert tail.totals["expected_incremental_margin"] > mean.totals["expected_incremental_margin"]

    def sure_share(plan):
        return plan.allocation("amazon|sponsored_product").spend / plan.totals["spend"]

    assert sure_share(tail) > sure_share(mean)


def test_a_mix_anchor_holds_an_unsure_channel_near_its_last_spend_and_matches_brute_force():
    """mix_anchor (issue 17): each channel's objective loses kappa · (s log(s / ref) - s + ref), ref the last period's
    spend scaled to the budget, kappa = strength x evidence x the marginal objective at ref x the relative posterior
    sd of the marginal incremental sales there, evidence = 1 - 1 / the curve set's prior discrepancy (here 4: 0.75).
    Two channels with the same curve on average: the one whose curve is unsure stays nearer the spend it was run at,
    the sure one takes the rest, and the plan is the brute-force optimum of the anchored objective (kappa computed
    here from finite differences of the curves' own samples). Where the studies agree with the priors (discrepancy
    at most 1) or there are none, the anchor is off."""
    sure = _curve("amazon", "sponsored_product", 5000, 800, 0.8, 0.35, samples=400, spread=0.02, seed=5)
    unsure = _curve("walmart", "sponsored_product", 5000, 800, 0.8, 0.35, samples=400, spread=0.5, seed=6)
    untested = _set(
        dataclasses.replace(sure, hist_daily_spend=300.0), dataclasses.replace(unsure, hist_daily_spend=1200.0)
    )
    curves = dataclasses.replace(untested, prior_discrepancy=4.0)
    budget, strength = 28000.0, 0.5
    free = allocate(curves, AllocationRequest(budget=budget, period_days=P))
    anchored = allocate(curves, AllocationRequest(budget=budget, period_days=P, mix_anchor=strength))
    for agreeing in (untested, dataclasses.replace(untested, prior_discrepancy=0.8)):
        same = allocate(agreeing, AllocationRequest(budget=budget, period_days=P, mix_anchor=strength))
        assert same.daily_spend() == pytest.approx(free.daily_spend(), rel=1e-9)
        assert same.constraints["mix_anchor"]["evidence"] == 0.0
    assert anchored.constraints["mix_anchor"]["evidence"] == pytest.approx(0.75)

    keys = ["amazon|sponsored_product", "walmart|sponsored_product"]
    ref = np.array([300.0, 1200.0]) * P * budget / (1500.0 * P)
    kappa = []
    for key, r in zip(keys, ref, strict=True):
        ch = curves.channel(key)
        h = 1e-3 * r / P
        per_sample = (
            (ch.incremental(r / P + h) - ch.incremental(r / P - h))[:, 0] / (2 * h) * curves.period_factor(P) / P
        )
        kappa.append(0.75 * strength * ch.margin_rate * per_sample.mean() * per_sample.std() / per_sample.mean())
    grid = np.linspace(1.0, budget - 1.0, 20001)

    def anchored_value(spends):
        total = 0.0
        for key, s, r, k in zip(keys, spends, ref, kappa, strict=True):
            total = total + curves.channel(key).margin_rate * _period(curves, key, s)
            total = total - k * (s * np.log(s / r) - s + r)
        return total

    values = anchored_value([grid, budget - grid])
    best = grid[int(np.argmax(values))]
    got = anchored.allocation(keys[0]).spend
    assert got == pytest.approx(best, abs=budget * 2e-3)
    assert anchored.totals["spend"] == pytest.approx(budget, rel=1e-9)
    assert anchored.constraints["kkt_max_violation"] < 1e-4
    # The unsure channel ends nearer its reference than without the anchor; the sure one takes the difference.
    s_free = free.allocation(keys[1]).spend
    s_anch = anchored.allocation(keys[1]).spend
    assert abs(np.log(s_anch / ref[1])) < abs(np.log(s_free / ref[1]))
    assert kappa[1] > 5 * kappa[0]

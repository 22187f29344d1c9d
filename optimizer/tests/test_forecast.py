"""Stock-out risk, price elasticity and allocator adjustments against known truths; no database."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.errors import OptimizerInputError
from optimizer.engine.forecast import (
    allocator_adjustments,
    price_elasticity,
    simulate_confounded_demand,
    stockout_risk,
)

WEEK = np.array([0.93, 0.91, 0.93, 0.97, 1.04, 1.12, 1.10])
WEEK = WEEK / WEEK.mean()
HORIZON = 28


def _history(series: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]], dates: pd.DatetimeIndex):
    """H.csv-shaped frame from {(retailer, placement, sku_id or ""): (daily units, daily attributed sales)}."""
    frames = []
    for (retailer, placement, sku), (units, sales) in series.items():
        frames.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "retailer": retailer,
                    "placement_type": placement,
                    "campaign_id": "c1",
                    "sku_id": sku,
                    "impressions": 1000,
                    "clicks": 10,
                    "spend": 100.0,
                    "attributed_sales": sales,
                    "attributed_units": units,
                    "attribution_window_days": 14,
                    "currency": "USD",
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _skus(prices: dict[str, tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sku_id": list(prices),
            "brand": "Acme",
            "category": "snacks",
            "product_name": list(prices),
            "price": [p for p, _ in prices.values()],
            "unit_cost": [c for _, c in prices.values()],
        }
    )


@pytest.fixture(scope="module")
def poisson_world():
    """Three SKUs with known Poisson demand (means 5, 20 and 50 a day at an average weekday) and one that never sold."""
    rng = np.random.default_rng(3)
    dates = pd.date_range("2025-01-06", periods=140, freq="D")
    means = {"low": 5.0, "mid": 20.0, "high": 50.0}
    series = {}
    for sku, mu in means.items():
        units = rng.poisson(mu * WEEK[dates.day_of_week]).astype(float)
        series[("amazon", "sponsored_product", sku)] = (units, units * 4.0)
    skus = _skus({"low": (4.0, 2.0), "mid": (4.0, 2.0), "high": (4.0, 2.0), "idle": (4.0, 2.0)})
    return _history(series, dates), skus, means


def test_it_recovers_the_mean_of_known_poisson_demand(poisson_world):
    history, skus, means = poisson_world
    table = stockout_risk(history, skus, None, horizon_days=HORIZON).set_index("sku_id")
    for sku, mu in means.items():
        row = table.loc[sku]
        # The level averages about 1/alpha ~ 50+ days of Poisson(mu) draws: its sd is under 0.2·sqrt(mu); 4 sd.
        assert row.expected_daily_units == pytest.approx(mu, abs=4 * 0.2 * math.sqrt(mu) + 0.02 * mu)
        # The 90% interval of the horizon's units holds the true expected total.
        assert row.horizon_units_low <= mu * HORIZON <= row.horizon_units_high
        assert row.daily_units_low < row.expected_daily_units < row.daily_units_high
    assert table.loc["idle", "expected_daily_units"] == 0.0
    assert math.isnan(table.loc["mid", "p_stockout"])  # no stock figure, no risk


def test_it_turns_stock_into_days_of_cover_and_a_monotone_stockout_probability(poisson_world):
    history, skus, _ = poisson_world
    grid = [0, 100, 400, 520, 560, 600, 700, 1e9]
    risks = [
        stockout_risk(history, skus, {"mid": s}, horizon_days=HORIZON).set_index("sku_id").loc["mid"] for s in grid
    ]
    p = [r.p_stockout for r in risks]
    assert p[0] == 1.0 and p[-1] == 0.0
    assert all(a >= b for a, b in itertools.pairwise(p))
    expected_total = risks[0].horizon_units
    near = stockout_risk(history, skus, {"mid": expected_total}, horizon_days=HORIZON).set_index("sku_id").loc["mid"]
    assert 0.3 < near.p_stockout < 0.7  # stock equal to the expected demand runs out about half the time
    assert risks[3].days_of_cover == pytest.approx(520 / risks[3].expected_daily_units)


def test_it_scales_demand_by_the_multiple_and_prefers_a_demand_frame(poisson_world):
    history, skus, _ = poisson_world
    base = stockout_risk(history, skus, None, horizon_days=HORIZON).set_index("sku_id")
    double = stockout_risk(history, skus, None, horizon_days=HORIZON, demand_multiple=2.0).set_index("sku_id")
    assert double.loc["mid", "expected_daily_units"] == pytest.approx(2 * base.loc["mid", "expected_daily_units"])
    dates = pd.date_range("2025-01-06", periods=84, freq="D")
    demand = pd.DataFrame({"sku_id": "idle", "date": dates, "units": 7.0, "price": 4.0})
    table = stockout_risk(history, skus, {"idle": 70}, horizon_days=HORIZON, demand=demand).set_index("sku_id")
    assert table.loc["idle", "expected_daily_units"] == pytest.approx(7.0)
    assert table.loc["idle", "days_of_cover"] == pytest.approx(10.0)
    assert table.loc["idle", "p_stockout"] == 1.0


def test_dml_recovers_a_known_elasticity_where_naive_ols_is_biased():
    # One seed of the 90% interval; bench/forecast_bench.py measures its coverage over many (seed 0 is a miss).
    demand = simulate_confounded_demand(seed=1, n_skus=8, days=240, elasticity=-1.5)
    result = price_elasticity(demand, controls=("traffic",), seed=1)
    low, high = result.interval
    assert low <= -1.5 <= high
    assert high - low < 0.25
    # Prices rise with traffic, which also lifts units: ignoring it pulls the estimate far towards zero.
    assert abs(result.naive_ols - (-1.5)) > 0.5
    assert result.zero_unit_rows == 0 and result.pooled.n_obs == len(demand)


def test_dml_reports_per_category_elasticities():
    demand = simulate_confounded_demand(seed=1, n_skus=6, days=200, elasticity=-1.5)
    result = price_elasticity(demand, controls=("traffic",), by_category=True, seed=1)
    assert set(result.by_category) == {"snacks", "cereal"}
    for estimate in result.by_category.values():
        assert estimate.interval[0] - 0.05 <= -1.5 <= estimate.interval[1] + 0.05


@pytest.fixture
def hand_made():
    """amazon|sponsored_product sells A 600 (margin 40%) and B 400 (20%); walmart|sponsored_product A 200, C 300
    (75%) plus 500 campaign-level; walmart|search only campaign-level; criteo|offsite_display only B."""
    dates = pd.date_range("2025-03-03", periods=28, freq="D")
    per_day = 1 / len(dates)

    def flat(total_sales, units=5.0):
        return np.full(len(dates), units), np.full(len(dates), total_sales * per_day)

    series = {
        ("amazon", "sponsored_product", "A"): flat(600),
        ("amazon", "sponsored_product", "B"): flat(400),
        ("walmart", "sponsored_product", "A"): flat(200),
        ("walmart", "sponsored_product", "C"): flat(300),
        ("walmart", "sponsored_product", ""): flat(500, units=0.0),
        ("walmart", "search", ""): flat(1000, units=0.0),
        ("criteo", "offsite_display", "B"): flat(100),
    }
    skus = _skus({"A": (10.0, 6.0), "B": (5.0, 4.0), "C": (8.0, 2.0), "D": (3.0, 1.0)})
    return _history(series, dates), skus


def test_it_computes_margin_and_capacity_after_excluded_skus(hand_made):
    history, skus = hand_made
    adj = allocator_adjustments(history, skus, excluded_skus=["B"], horizon_days=HORIZON)
    assert adj.channel_capacity_factor == pytest.approx(
        {"amazon|sponsored_product": 0.6, "criteo|offsite_display": 0.0}
    )
    # amazon keeps only A (40%); criteo has nothing left, so its margin stays its historical mix.
    assert adj.channel_margin_override == pytest.approx(
        {"amazon|sponsored_product": 0.4, "criteo|offsite_display": 0.2}
    )
    assert adj.excluded_skus == ("B",) and adj.reasons == {"B": "excluded by request"}
    assert "capacity 0, so the allocator gives it nothing" in adj.channel_reasons["criteo|offsite_display"]
    assert "walmart|search" not in adj.channel_capacity_factor  # campaign-level only: untouched


def test_it_treats_likely_stockouts_as_not_sellable(hand_made):
    history, skus = hand_made
    adj = allocator_adjustments(
        history, skus, stock={"C": 0, "A": 1e9}, excluded_skus=["B"], horizon_days=HORIZON, max_stockout_risk=0.5
    )
    assert adj.excluded_skus == ("B", "C")
    assert adj.reasons["C"].startswith("likely out of stock: P(stock-out within 28 days) = 1.00 > 0.50")
    # walmart|sponsored_product: A 200 at 40% and campaign-level 500 at the channel's average
    # (200·0.4 + 300·0.75) / 500 = 0.61 stay; C's 300 of 1000 go.
    assert adj.channel_capacity_factor["walmart|sponsored_product"] == pytest.approx(0.7)
    assert adj.channel_margin_override["walmart|sponsored_product"] == pytest.approx((200 * 0.4 + 500 * 0.61) / 700)
    assert adj.stockout.set_index("sku_id").loc["A", "p_stockout"] == 0.0


def test_it_leaves_every_channel_alone_when_everything_is_sellable(hand_made):
    history, skus = hand_made
    adj = allocator_adjustments(history, skus, stock={"A": 1e9}, horizon_days=HORIZON)
    assert adj.channel_margin_override == {} and adj.channel_capacity_factor == {} and adj.excluded_skus == ()


def test_it_refuses_an_unknown_excluded_sku(hand_made):
    history, skus = hand_made
    with pytest.raises(
        OptimizerInputError, match=r"Unknown SKU 'Z' in the excluded SKUs; the SKU file knows: A, B"
    ) as e:
        allocator_adjustments(history, skus, excluded_skus=["Z"], horizon_days=HORIZON)
    assert e.value.field == "excluded_skus"


def test_it_refuses_negative_stock_and_unknown_stock_skus(hand_made):
    history, skus = hand_made
    with pytest.raises(OptimizerInputError, match=r"Stock of SKU 'A' is -5; stock must be a finite number"):
        allocator_adjustments(history, skus, stock={"A": -5}, horizon_days=HORIZON)
    with pytest.raises(OptimizerInputError, match=r"Unknown SKU 'Q' in stock"):
        stockout_risk(history, skus, {"Q": 3}, horizon_days=HORIZON)
    with pytest.raises(OptimizerInputError, match=r"horizon_days must be a whole number >= 1"):
        stockout_risk(history, skus, None, horizon_days=0)


def test_it_refuses_non_positive_prices(hand_made):
    history, skus = hand_made
    skus.loc[skus["sku_id"] == "B", "price"] = 0.0
    with pytest.raises(OptimizerInputError, match=r"SKU 'B' has price 0.0; every price must be positive") as e:
        allocator_adjustments(history, skus, excluded_skus=["A"], horizon_days=HORIZON)
    assert e.value.field == "skus.price"
    demand = pd.DataFrame({"sku_id": "A", "date": pd.date_range("2025-01-01", periods=40), "units": 5, "price": 2.0})
    demand.loc[7, "price"] = -1.0
    with pytest.raises(OptimizerInputError, match=r"Price must be positive: row 7 has -1.0"):
        price_elasticity(demand)


def test_it_refuses_history_skus_missing_from_the_sku_file(hand_made):
    history, skus = hand_made
    with pytest.raises(OptimizerInputError, match=r"Unknown SKU 'C' in the history \(add it to the SKU file\)"):
        allocator_adjustments(history, skus[skus["sku_id"] != "C"], excluded_skus=["A"], horizon_days=HORIZON)


def test_the_pipeline_copies_the_adjustments_into_the_allocation_request(hand_made):
    from optimizer.engine.allocate import AllocationRequest
    from optimizer.engine.pipeline import apply_forecast

    history, skus = hand_made
    adj = allocator_adjustments(history, skus, excluded_skus=["B"], horizon_days=HORIZON)
    request = apply_forecast(
        AllocationRequest(budget=1000.0, period_days=HORIZON, channel_capacity_factor={"criteo|offsite_display": 0.5}),
        adj,
    )
    assert request.channel_margin_override == pytest.approx(adj.channel_margin_override)
    # What the request sets itself wins over the forecast.
    assert request.channel_capacity_factor == pytest.approx(
        {"amazon|sponsored_product": 0.6, "criteo|offsite_display": 0.5}
    )


def test_a_sku_whose_stock_covers_half_the_period_keeps_half_its_sales(hand_made):
    history, skus = hand_made
    # C sells 5 units a day; 70 units cover 14 of the 28 days.
    adj = allocator_adjustments(history, skus, stock={"A": 1e9, "C": 70}, horizon_days=HORIZON)
    assert "sells on 50% of the period" in adj.reasons["C"]
    assert adj.excluded_skus == ()  # partly sellable is not excluded
    # walmart|sponsored_product keeps A 200, half of C's 300 and the 500 campaign-level: 850 of 1000.
    assert adj.channel_capacity_factor["walmart|sponsored_product"] == pytest.approx(0.85, abs=0.01)
    expected_margin = (200 * 0.4 + 150 * 0.75 + 500 * 0.61) / 850
    assert adj.channel_margin_override["walmart|sponsored_product"] == pytest.approx(expected_margin, abs=0.005)

"""Forecasting benchmark: price elasticity (DML vs naive OLS) and stock-out risk calibration against known truth.

Writes the ``forecast`` section of docs/benchmarks.md. Run: ``.venv/bin/python bench/forecast_bench.py --seeds 50``.

- Elasticity: :func:`simulate_confounded_demand` (true elasticity -1.5, price reacting to an observed demand shifter
  non-linearly) per seed; :func:`price_elasticity` (LinearDML) against naive log-log OLS and OLS with the same
  controls entered linearly. Bias, RMSE and the 90% interval's coverage over the seeds.
- Stock-out: per seed 30 SKUs (10 stationary Poisson, 10 overdispersed negative binomial, 10 with a drifting level),
  120 days of history and the next 28 days drawn from the same process; stock set at 0.6-1.4x the last 28 days'
  units. Predicted ``p_stockout`` against whether the 28 days' demand really exceeded the stock (Brier score,
  calibration by bins), and the 90% interval of the horizon's units against the realized units. Baseline: Poisson
  at the last 28 days' mean.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._common import commit as _commit  # noqa: E402
from bench._common import machine as _machine  # noqa: E402
from bench._common import write_section  # noqa: E402
from optimizer.engine.forecast import price_elasticity, simulate_confounded_demand, stockout_risk  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- forecast:start -->"
END_MARK = "<!-- forecast:end -->"
TRUE_ELASTICITY = -1.5
HISTORY_DAYS, HORIZON = 120, 28
WEEK = np.array([0.93, 0.91, 0.93, 0.97, 1.04, 1.12, 1.10])
WEEK = WEEK / WEEK.mean()


def _ols_linear_controls(demand: pd.DataFrame) -> float:
    x = pd.get_dummies(demand[["sku_id"]], drop_first=False, dtype=float)
    x = x.join(pd.get_dummies(demand["date"].dt.day_of_week, prefix="dow", drop_first=True, dtype=float))
    x["promo"] = demand["promo"]
    x["traffic"] = demand["traffic"]
    x["trend"] = (demand["date"] - demand["date"].min()).dt.days
    x["log_price"] = np.log(demand["price"])
    coef, *_ = np.linalg.lstsq(x.to_numpy(float), np.log(demand["units"].to_numpy(float) + 0.5), rcond=None)
    return float(coef[-1])


def bench_elasticity(seeds: int, base_units: float) -> dict:
    rows = []
    for seed in range(seeds):
        demand = simulate_confounded_demand(seed=seed, elasticity=TRUE_ELASTICITY, base_units=base_units)
        started = time.perf_counter()
        result = price_elasticity(demand, controls=("traffic",), seed=seed)
        seconds = time.perf_counter() - started
        low, high = result.interval
        rows.append(
            {
                "dml": result.elasticity,
                "covered": low <= TRUE_ELASTICITY <= high,
                "width": high - low,
                "naive": result.naive_ols,
                "linear": _ols_linear_controls(demand),
                "seconds": seconds,
                "n": result.pooled.n_obs,
                "zero": result.zero_unit_rows / result.pooled.n_obs,
            }
        )
    return {"rows": pd.DataFrame(rows), "seeds": seeds, "base_units": base_units}


def _sku_paths(rng: np.random.Generator, kind: str, days: int, start_dow: int) -> np.ndarray:
    mu = float(np.exp(rng.uniform(np.log(2.0), np.log(60.0))))
    dow = (start_dow + np.arange(days)) % 7
    mean = mu * WEEK[dow]
    if kind == "negbin":
        mean = mean * rng.gamma(3.0, 1 / 3.0, days)
    elif kind == "drifting":
        mean = mean * np.exp(np.cumsum(rng.normal(0, 0.03, days)))
    return rng.poisson(mean).astype(float)


def bench_stockout(seeds: int) -> dict:
    rows = []
    start = pd.Timestamp("2025-01-06")
    dates = pd.date_range(start, periods=HISTORY_DAYS, freq="D")
    for seed in range(seeds):
        rng = np.random.default_rng([seed, 424242])
        history, future, stock, kinds = [], {}, {}, {}
        for j, kind in enumerate(["poisson"] * 10 + ["negbin"] * 10 + ["drifting"] * 10):
            sku = f"sku-{j:02d}"
            units = _sku_paths(rng, kind, HISTORY_DAYS + HORIZON, start.day_of_week)
            history.append(
                pd.DataFrame(
                    {
                        "date": dates,
                        "retailer": "amazon",
                        "placement_type": "sponsored_product",
                        "sku_id": sku,
                        "attributed_units": units[:HISTORY_DAYS],
                        "attributed_sales": units[:HISTORY_DAYS] * 5.0,
                    }
                )
            )
            future[sku] = units[HISTORY_DAYS:].sum()
            stock[sku] = float(np.round(units[HISTORY_DAYS - 28 : HISTORY_DAYS].sum() * rng.uniform(0.6, 1.4)))
            kinds[sku] = kind
        history = pd.concat(history, ignore_index=True)
        skus = pd.DataFrame({"sku_id": list(kinds), "price": 5.0, "unit_cost": 3.0})
        table = stockout_risk(history, skus, stock, horizon_days=HORIZON, seed=seed)
        for r in table.itertuples():
            last28 = history.loc[history["sku_id"] == r.sku_id, "attributed_units"].to_numpy()[-28:].sum()
            rows.append(
                {
                    "kind": kinds[r.sku_id],
                    "p": r.p_stockout,
                    "out": future[r.sku_id] > stock[r.sku_id],
                    "baseline_p": float(stats.poisson.sf(stock[r.sku_id], last28 / 28 * HORIZON)),
                    "covered": r.horizon_units_low <= future[r.sku_id] <= r.horizon_units_high,
                }
            )
    return {"rows": pd.DataFrame(rows), "seeds": seeds}


def render(elasticity: list[dict], so: dict, command: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        START_MARK,
        "## Forecasting: price elasticity and stock-out risk",
        "",
        f"Measured {now} on {_machine()}, at commit "
        f"{_commit()}, by `{command}` (script: `bench/forecast_bench.py`; model: docs/optimization.md).",
        "",
        f"**Price elasticity** on `simulate_confounded_demand` ({elasticity[0]['seeds']} seeds, 12 SKUs x 300 days "
        f"= {int(elasticity[0]['rows']['n'].iloc[0])} rows each, true elasticity {TRUE_ELASTICITY}; the price rises "
        "with an observed demand shifter that also lifts units, non-linearly). Outcome `log(units + 0.5)` for every "
        "estimator.",
        "",
        "| units a day (cheapest SKU) | estimator | mean estimate | bias | RMSE | 90% CI coverage | mean CI width |",
        "|---|---|---|---|---|---|---|",
    ]

    def row(scale: str, name: str, values: pd.Series, coverage: str = "n/a", width: str = "n/a") -> str:
        bias = values.mean() - TRUE_ELASTICITY
        rmse = float(np.sqrt(((values - TRUE_ELASTICITY) ** 2).mean()))
        return f"| {scale} | {name} | {values.mean():.3f} | {bias:+.3f} | {rmse:.3f} | {coverage} | {width} |"

    for el in elasticity:
        e = el["rows"]
        scale = f"{el['base_units']:g} ({e['zero'].mean():.1%} of days without sales)"
        lines.append(
            row(
                scale,
                "econml LinearDML (day-of-week, trend, promo, SKU effects, spline of traffic; 3-fold cross-fitting)",
                e["dml"],
                f"{e['covered'].mean():.0%}",
                f"{e['width'].mean():.3f}",
            )
        )
        lines.append(row(scale, "OLS, same controls entered linearly", e["linear"]))
        lines.append(row(scale, "naive log-log OLS (no controls)", e["naive"]))
    seconds = pd.concat([el["rows"]["seconds"] for el in elasticity])
    lines += ["", f"DML fit time: median {seconds.median():.2f} s per data set.", ""]
    s = so["rows"]
    lines += [
        f"**Stock-out risk** ({so['seeds']} seeds x 30 SKUs = {len(s)} SKU-horizons; {HISTORY_DAYS} days of history, "
        f"{HORIZON}-day horizon, stock 0.6-1.4x the last 28 days' units; realized stock-out = the horizon's demand "
        "exceeded the stock):",
        "",
        "| demand process | SKUs | stocked out | Brier (ours) | Brier (Poisson at last-28-day mean) | "
        "90% interval of horizon units: coverage |",
        "|---|---|---|---|---|---|",
    ]
    for kind, part in [*s.groupby("kind", sort=False), ("all", s)]:
        brier = ((part["p"] - part["out"]) ** 2).mean()
        base = ((part["baseline_p"] - part["out"]) ** 2).mean()
        lines.append(
            f"| {kind} | {len(part)} | {part['out'].mean():.0%} | {brier:.3f} | {base:.3f} | "
            f"{part['covered'].mean():.0%} |"
        )
    bins = [0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0001]
    s = s.assign(bin=pd.cut(s["p"], bins, right=False))
    lines += [
        "",
        "Calibration (all SKUs): predicted p_stockout bin, mean prediction, realized stock-out rate.",
        "",
        "| bin | SKUs | mean predicted | realized |",
        "|---|---|---|---|",
    ]
    for b, part in s.groupby("bin", observed=True):
        lines.append(
            f"| [{b.left:.1f}, {min(b.right, 1):.1f}) | {len(part)} | {part['p'].mean():.2f} | "
            f"{part['out'].mean():.2f} |"
        )
    lines.append(END_MARK)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing the doc")
    args = parser.parse_args()
    elasticity = [bench_elasticity(args.seeds, base_units) for base_units in (400.0, 20.0, 5.0)]
    so = bench_stockout(args.seeds)
    section = render(elasticity, so, f".venv/bin/python bench/forecast_bench.py --seeds {args.seeds}")
    print(section)
    if not args.no_write:
        write_section("forecast", section)


if __name__ == "__main__":
    main()

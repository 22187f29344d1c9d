"""Curve recovery benchmark: does the 90% interval of a channel's incremental ROAS cover the truth?

    .venv/bin/python bench/curves_bench.py [--seeds 20] [--days 180] [--samples 200] [--no-doc]

For each seed it builds a simulated world with the demo's nine Acme channels (demo.engine.simulator, plans as in
demo/seed.py), simulates the history, runs 1-3 lift studies on randomly chosen channels (randomized holdout
or ghost ads, 28 days, ending 10-90 days before the end of the history), fits and calibrates the curves, and scores,
for every channel at its plan spend over the 28 days after the history:

    true incremental ROAS  = expected_outcome(world, {key: plan}, start, 28).incremental_sales / (28 · plan)
    curve's samples        = incremental(plan) · period_factor(28) / (28 · plan)

Coverage of the central 90% interval is reported overall and for channels with and without a lift study, with the
median absolute relative error of the posterior median. The table goes into docs/benchmarks.md (section `curves`)
unless --no-doc.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._common import commit as _commit  # noqa: E402
from bench._common import write_section  # noqa: E402
from demo.engine import simulator as sim  # noqa: E402
from optimizer.engine.curves import PLACEMENT_INCREMENTALITY_PRIORS, calibrate, fit_curves  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- curves:start -->"
END_MARK = "<!-- curves:end -->"
PERIOD_DAYS = 28
WIDE = 2.0  # the sensitivity run: every placement prior's sd times this
WIDE_PRIORS = {k: (mean, sd * WIDE) for k, (mean, sd) in PLACEMENT_INCREMENTALITY_PRIORS.items()}
ACME_CHANNELS = (
    ("amazon", "sponsored_product", 900.0),
    ("amazon", "search", 350.0),
    ("amazon", "offsite_display", 400.0),
    ("amazon", "ctv", 600.0),
    ("walmart", "sponsored_product", 600.0),
    ("walmart", "onsite_display", 250.0),
    ("criteo", "offsite_display", 300.0),
    ("instacart", "sponsored_product", 350.0),
    ("target", "onsite_display", 200.0),
)
BENCH_SKUS = (
    sim.SKUSpec("CH-SEASALT-7OZ", "Crunchy Hollow", 3.99, 2.05),
    sim.SKUSpec("CH-BBQ-7OZ", "Crunchy Hollow", 3.99, 2.12),
    sim.SKUSpec("CH-VARIETY-20CT", "Crunchy Hollow", 12.99, 7.40),
    sim.SKUSpec("MM-OATCRUNCH-14OZ", "Morning Mill", 4.79, 2.60),
    sim.SKUSpec("MM-GRANOLA-16OZ", "Morning Mill", 6.49, 3.45),
)


def simulated_world(seed: int, *, channels=ACME_CHANNELS, reference_date=dt.date(2025, 1, 1)) -> sim.World:
    plans = [sim.ChannelPlan(r, p, x, ("Crunchy Hollow", "Morning Mill")) for r, p, x in channels]
    return sim.build_world(seed=seed, channel_plans=plans, skus=BENCH_SKUS, reference_date=reference_date)


def history_frame(world: sim.World, history: sim.History) -> pd.DataFrame:
    """The simulated history as the H.csv contract's columns (one row per report line and active day)."""
    parts = []
    dates = pd.to_datetime(pd.Index(history.dates))
    for line in history.lines:
        channel = world.channels[line.channel]
        keep = (line.spend > 0) | (line.impressions > 0) | (line.attributed_units > 0)
        parts.append(
            pd.DataFrame(
                {
                    "date": dates[keep],
                    "retailer": channel.retailer,
                    "placement_type": channel.placement_type,
                    "campaign_id": f"c{line.channel}-{line.campaign}",
                    "sku_id": line.sku_code or "",
                    "impressions": line.impressions[keep],
                    "clicks": line.clicks[keep],
                    "spend": np.round(line.spend[keep], 2),
                    "attributed_sales": np.round(line.attributed_sales[keep], 2),
                    "attributed_units": line.attributed_units[keep],
                    "attribution_window_days": 14,
                    "currency": world.currency,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def skus_frame(world: sim.World) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sku_id": [s.code for s in world.skus],
            "brand": [s.brand for s in world.skus],
            "category": "",
            "product_name": [s.code for s in world.skus],
            "price": [s.price for s in world.skus],
            "unit_cost": [s.unit_cost for s in world.skus],
        }
    )


def lift_frame(results) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "retailer": [r.retailer for r in results],
            "placement_type": [r.placement_type for r in results],
            "start_date": [r.start for r in results],
            "end_date": [r.end for r in results],
            "spend": [r.spend for r in results],
            "incremental_sales": [r.estimate for r in results],
            "incremental_sales_se": [r.standard_error for r in results],
        }
    )


def run_seed(seed: int, *, days: int, samples: int) -> list[dict]:
    world = simulated_world(seed)
    start = dt.date(2025, 1, 1) + dt.timedelta(days=int(np.random.default_rng(seed).integers(0, 365)))
    history = sim.simulate(world, start=start, days=days, seed=seed)
    rng = np.random.default_rng([seed, 99])
    n_studies = int(rng.integers(1, 4))
    studied = rng.choice(len(world.channels), size=n_studies, replace=False)
    results = []
    for c in studied:
        ends_before = int(rng.integers(10, 91))
        lift_start = history.dates[-1] - dt.timedelta(days=ends_before + 27)
        method = str(rng.choice(["rct_holdout", "ghost_ads"]))
        results.append(
            sim.simulate_lift_study(
                world, history, channel_key=world.channels[c].key, start=lift_start, days=28, seed=seed, method=method
            )
        )
    began = time.perf_counter()
    curves = fit_curves(history_frame(world, history), skus_frame(world), samples=samples, seed=seed)
    fit_seconds = time.perf_counter() - began
    period_start = history.dates[-1] + dt.timedelta(days=1)
    factor = curves.period_factor(PERIOD_DAYS)
    rows = []
    for variant, priors in (("default", None), ("wide", WIDE_PRIORS)):
        calibrated = calibrate(curves, lift_frame(results), seed=seed, priors=priors)
        rows.extend(_score(world, calibrated, studied, period_start, factor, variant, seed, fit_seconds))
    return rows


def _score(world, curves, studied, period_start, factor, variant, seed, fit_seconds) -> list[dict]:
    rows = []
    for c, channel in enumerate(world.channels):
        plan = channel.plan_daily_spend
        outcome = sim.expected_outcome(world, daily_spend={channel.key: plan}, start=period_start, days=PERIOD_DAYS)
        truth = outcome.channels[c].incremental_sales / (PERIOD_DAYS * plan)
        curve = curves.channel(f"{channel.retailer}|{channel.placement_type}")
        roas = curve.incremental(plan)[:, 0] * factor / (PERIOD_DAYS * plan)
        attributed_truth = outcome.channels[c].attributed_sales / (PERIOD_DAYS * plan)
        attributed = curve.attributed(plan)[:, 0] * factor / (PERIOD_DAYS * plan)
        lo, hi = np.quantile(roas, [0.05, 0.95])
        alo, ahi = np.quantile(attributed, [0.05, 0.95])
        rows.append(
            {
                "seed": seed,
                "priors": variant,
                "channel": channel.key,
                "placement": channel.placement_type,
                "studied": c in studied,
                "truth": truth,
                "median": float(np.median(roas)),
                "covered": bool(lo <= truth <= hi),
                "width": float((hi - lo) / truth),
                "attributed_covered": bool(alo <= attributed_truth <= ahi),
                "attributed_error": float(abs(np.median(attributed) / attributed_truth - 1)),
                "fit_seconds": fit_seconds,
            }
        )
    return rows


def summarize(frame: pd.DataFrame) -> list[tuple[str, int, float, float, float]]:
    out = []
    groups = [("all channels", frame), ("with a lift study", frame[frame.studied])]
    groups.append(("without a lift study", frame[~frame.studied]))
    for placement, part in frame.groupby("placement"):
        groups.append((f"placement {placement}", part))
    for label, part in groups:
        error = (part["median"] / part["truth"] - 1).abs()
        out.append((label, len(part), part.covered.mean(), float(error.median()), float(part.width.median())))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    rows = []
    for seed in range(args.seeds):
        rows.extend(run_seed(seed, days=args.days, samples=args.samples))
    everything = pd.DataFrame(rows)
    frame = everything[everything.priors == "default"]
    wide = everything[everything.priors == "wide"]
    seconds = time.perf_counter() - began
    table = summarize(frame)
    fit = frame.drop_duplicates("seed").fit_seconds
    lines = [
        "## Response curves: recovery of incremental ROAS (`curves`)",
        "",
        f"`.venv/bin/python bench/curves_bench.py --seeds {args.seeds} --days {args.days} --samples {args.samples}` "
        f"on {platform.node() or 'this machine'} ({platform.machine()}, {os.cpu_count()} cores shared, "
        f"Python {platform.python_version()}), {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, commit {_commit()}.",
        "",
        f"{args.seeds} simulated worlds × {len(ACME_CHANNELS)} channels (the demo's Acme plans), {args.days} days of "
        "history, 1-3 lift studies of 28 days per world on random channels. Truth: the simulator's expected "
        f"incremental ROAS at the plan spend over the {PERIOD_DAYS} days after the history; interval: the central "
        "90% of the calibrated curve's posterior samples times the fitted demand of that period.",
        "",
        "| channels | n | 90% interval coverage | median abs error of the median | median interval width (× truth) |",
        "|---|---|---|---|---|",
    ]
    for label, n, coverage, error, width in table:
        lines.append(f"| {label} | {n} | {coverage:.1%} | {error:.1%} | {width:.2f} |")
    wide_table = {label: row for label, *row in summarize(wide)}
    lines += [
        "",
        f"With every placement prior's sd ×{WIDE:g} (priors wider than the simulator's ranges): coverage "
        + ", ".join(
            f"{label} {wide_table[label][1]:.1%}"
            for label in ("all channels", "with a lift study", "without a lift study")
        )
        + ".",
        "",
        'The incrementality priors (docs/optimization.md, "Calibration with lift studies") put their central 90% '
        "on the simulator's ranges per placement, so coverage without a lift study checks the pipeline given sound "
        "priors, not the priors' realism; the row with a lift study is the test of the calibration itself.",
        "",
        f"Attributed ROAS alone (the curve without incrementality): coverage {frame.attributed_covered.mean():.1%}, "
        f"median abs error {frame.attributed_error.median():.1%}. Fit of 9 channels × {args.days} days with "
        f"{args.samples} samples: median {fit.median():.2f} s, max {fit.max():.2f} s; whole run {seconds:.0f} s.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_doc:
        write_section("curves", text)


if __name__ == "__main__":
    main()

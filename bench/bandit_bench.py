"""Bandit benchmark: in-flight reallocation and off-policy evaluation on simulator worlds with a known truth.

For each seed a world of five channels is drawn (demo.engine.simulator.build_world). The bandit starts from a
*miscalibrated* prior: each channel's attributed response level is off by a log-normal factor (sd 0.5, i.e. often
±40-65%), its half saturation by sd 0.15, its incrementality by sd 0.05 (as after lift studies); the prior says its
own uncertainty honestly (prior sd 0.5). It then runs 28 days: decide, the retailers deliver the decision (each
channel spends 95% of it on average, ±5% a day), the simulator produces the day's sales (adstock carried over), the
bandit observes them the next morning and updates.

Scored against the truth:
* regret: expected incremental margin (noise-free, steady state at each day's spend) of the bandit's days versus the
  oracle (water-filling on the true curves at the even daily budget), and the same for the fixed plan (the prior's
  own optimal allocation held all period, delivered in full);
* pacing: |total delivered spend - budget| / budget;
* OPE: two candidates, evaluated from the bandit's log with IPS, SNIPS and DR (reward model: the bandit's final
  posterior mean) against their true value (expected incremental margin per day, at each level's midpoint spend as
  delivered): "final posterior TS" (Thompson sampling with the final posterior, frozen) and "prior plan, ε = 0.3"
  (the fixed plan's spend level with probability 0.7 + 0.3/levels per channel). Bias and RMSE over seeds, as % of
  the true value, and the 95% intervals' coverage.

Usage: ``python bench/bandit_bench.py [--seeds 20] [--json out.json] [--no-doc]``; writes the `bandit` section of
docs/benchmarks.md. ``--sample-incrementality --json abl.json --no-doc`` runs the ablation; ``--render out.json
--ablation abl.json`` rewrites the section from saved runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._common import write_section  # noqa: E402
from demo.engine.simulator import ChannelPlan, SKUSpec, build_world, simulate  # noqa: E402
from optimizer.engine import bandit as B  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- bandit:start -->"
END_MARK = "<!-- bandit:end -->"
DAYS = 28
START = dt.date(2026, 3, 2)
DELIVERY_MEAN = 0.95
DELIVERY_SD = 0.05
PRIOR_MISCALIBRATION_SD = 0.5
PLANS = (
    ChannelPlan("amazon", "sponsored_product", 2000.0, ("crunch", "fizz")),
    ChannelPlan("walmart", "search", 1200.0, ("crunch",)),
    ChannelPlan("walmart", "onsite_display", 900.0, ("crunch", "fizz")),
    ChannelPlan("target", "offsite_display", 700.0, ("fizz",)),
    ChannelPlan("instacart", "sponsored_product", 600.0, ("crunch",)),
)
SKUS = (
    SKUSpec("c1", "crunch", 4.99, 2.10),
    SKUSpec("c2", "crunch", 6.49, 3.20),
    SKUSpec("f1", "fizz", 3.29, 1.10),
    SKUSpec("f2", "fizz", 8.99, 4.50),
)


def _miscalibrated(seed: int, rng: np.random.Generator):
    """A fresh world and a prior whose attributed levels are off by a log-normal factor."""
    world = build_world(seed=seed, channel_plans=PLANS, skus=SKUS, reference_date=START - dt.timedelta(days=365))
    n = len(world.channels)
    plan = np.array([c.plan_daily_spend for c in world.channels])
    incr = np.array([c.incrementality for c in world.channels])
    prior_beta = np.array([c.curve.beta for c in world.channels]) / incr
    prior_beta = prior_beta * np.exp(rng.normal(0, PRIOR_MISCALIBRATION_SD, n))
    prior_half = np.array([c.curve.half_saturation for c in world.channels]) * np.exp(rng.normal(0, 0.15, n))
    prior_incr = incr * np.exp(rng.normal(0, 0.05, n))
    arms = [
        B.make_arm(
            key=f"{c.retailer}|{c.placement_type}",
            beta=prior_beta[i],
            half_saturation=prior_half[i],
            shape=c.curve.shape,
            decay=c.adstock_decay,
            incrementality_mean=prior_incr[i],
            incrementality_sd=0.05 * prior_incr[i],
            margin_rate=world.channel_margin_rate(i),
            min_daily=0.2 * plan[i],
            max_daily=3.0 * plan[i],
            prior_sd=PRIOR_MISCALIBRATION_SD,
        )
        for i, c in enumerate(world.channels)
    ]
    return world, arms, START, plan.copy(), world.seasonality.weekly


def _fitted(seed: int, rng: np.random.Generator):
    """A scenario's world, its 180 days of history and the pipeline's calibrated curves fitted on them as prior."""
    from demo.engine.scenario import build_scenario, history_frame, lift_frame, skus_frame
    from optimizer.engine.curves import calibrate, fit_curves

    sc = build_scenario(seed)
    curves = calibrate(fit_curves(history_frame(sc), skus_frame(sc), seed=seed), lift_frame(sc), seed=seed)
    plan = np.array([c.plan_daily_spend for c in sc.world.channels])
    keys = [f"{c.retailer}|{c.placement_type}" for c in sc.world.channels]
    bounds = {k: (0.2 * plan[i], 3.0 * plan[i]) for i, k in enumerate(keys)}
    arms = B.arms_from_curves(curves, budget_daily=plan.sum(), bounds=bounds, channels=keys)
    return sc.world, arms, sc.next_start, sc.history.adstock[:, -1].copy(), curves.demand_weekly


def run_seed(
    seed: int, *, prior: str = "miscalibrated", levels: int = 10, draws: int = 400, sample_incrementality: bool = False
) -> dict:
    rng = np.random.default_rng([seed, 77])
    world, arms, start, adstock, weekly = (_fitted if prior == "fitted" else _miscalibrated)(seed, rng)
    n = len(world.channels)
    plan = np.array([c.plan_daily_spend for c in world.channels])
    margin = np.array([world.channel_margin_rate(i) for i in range(n)])
    true_beta = np.array([c.curve.beta for c in world.channels])  # incremental
    true_half = np.array([c.curve.half_saturation for c in world.channels])
    true_shape = np.array([c.curve.shape for c in world.channels])
    incr = np.array([c.incrementality for c in world.channels])
    budget = DAYS * plan.sum()
    daily = budget / DAYS
    lo, hi = np.array([a.min_daily for a in arms]), np.array([a.max_daily for a in arms])
    state = B.new_state(
        arms,
        budget=budget,
        start_date=start,
        end_date=start + dt.timedelta(days=DAYS - 1),
        demand_weekly=weekly,
        levels=levels,
        seed=seed,
        sample_incrementality=sample_incrementality,
    )
    keys = state.keys

    def true_value(x: np.ndarray) -> np.ndarray:  # expected incremental margin per day at demand 1
        return (margin * B.hill(x, true_beta, true_half, true_shape)).sum(axis=-1)

    oracle = B.water_fill(margin[None, :], true_beta, true_half, true_shape, lo, hi, daily)[0]
    beta, half, shape, _, _ = B._curve_arrays(state)
    fixed = B.water_fill(B.mean_values(state)[None, :], beta, half, shape, lo, hi, daily)[0]
    demand = world.seasonality.factor([start + dt.timedelta(days=t) for t in range(DAYS)])

    delivered_total = 0.0
    bandit_value = oracle_value = fixed_value = plan_value = 0.0
    late_bandit = late_oracle = 0.0
    log = []
    for t in range(DAYS):
        day = start + dt.timedelta(days=t)
        state, decision = B.decide(state, day, propensity_draws=draws)
        x = np.array([decision.allocation[k] for k in keys])
        delivered = x * DELIVERY_MEAN * np.exp(rng.normal(-0.5 * DELIVERY_SD**2, DELIVERY_SD, n))
        sim = simulate(
            world, start=day, days=1, seed=seed * 1000 + t, spend=delivered[:, None], initial_adstock=adstock
        )
        adstock = sim.adstock[:, -1]
        delivered_total += delivered.sum()
        v_b, v_o, v_f = (float(true_value(s) * demand[t]) for s in (delivered, oracle, fixed))
        bandit_value += v_b
        oracle_value += v_o
        fixed_value += v_f
        plan_value += float(true_value(plan) * demand[t])
        if t >= DAYS - 7:
            late_bandit += v_b
            late_oracle += v_o
        log.append(
            B.LoggedDay(
                date=day,
                levels=decision.levels,
                propensities=decision.propensities,
                rewards={k: float(sim.incremental_sales[i, 0] * margin[i]) for i, k in enumerate(keys)},
                context={"daily_budget": decision.context["daily_budget"]},
            )
        )
        state = B.update(
            state,
            [B.Observation(day, k, float(delivered[i]), float(sim.attributed_sales[i, 0])) for i, k in enumerate(keys)],
        )

    # Off-policy evaluation of two candidates on the log.
    mids = state.level_midpoints()  # (arms, levels)
    level_value = margin[:, None] * B.hill(
        mids * DELIVERY_MEAN, true_beta[:, None], true_half[:, None], true_shape[:, None]
    )
    candidates = {
        "final posterior TS": B.thompson_probabilities(
            state, [d.context["daily_budget"] for d in log], draws=200, seed=seed
        ),
        "prior plan, ε = 0.3": B.fixed_allocation_probabilities(
            state, dict(zip(keys, fixed, strict=True)), DAYS, epsilon=0.3
        ),
    }
    ope = {}
    for name, probs in candidates.items():
        truth = float((demand[:, None, None] * probs * level_value[None]).sum(axis=(1, 2)).mean())
        estimates = B.evaluate_log(state, log, probs)
        ope[name] = {
            "truth": truth,
            **{m: {"value": e.value, "se": e.se, "ess": e.effective_sample_size} for m, e in estimates.items()},
        }
    # What each multiplier should learn: true attributed sales at the plan's spend (with the world's full demand over
    # the period) over what the prior curve predicts there with the state's weekly demand.
    weekly_days = np.array([state.demand(start + dt.timedelta(days=t)) for t in range(DAYS)])
    true_att = B.hill(plan, true_beta, true_half, true_shape) / incr * demand.mean()
    prior_att = np.array([float(a.attributed(plan[i])) for i, a in enumerate(state.arms)]) * weekly_days.mean()
    multiplier_truth = true_att / prior_att
    return {
        "seed": seed,
        "regret_bandit": 1 - bandit_value / oracle_value,
        "regret_bandit_last7": 1 - late_bandit / late_oracle,
        "regret_fixed": 1 - fixed_value / oracle_value,
        "regret_plan": 1 - plan_value / oracle_value,
        "pacing_error": abs(delivered_total - budget) / budget,
        "multiplier_log_error_prior": float(np.abs(np.log(multiplier_truth)).mean()),
        "multiplier_log_error_final": float(
            np.abs(np.log(multiplier_truth) - np.array([a.mu for a in state.arms])).mean()
        ),
        "ope": ope,
    }


def summarize(runs: list[dict]) -> dict:
    def stats(values):
        v = np.array(values)
        return {"mean": float(v.mean()), "p10": float(np.percentile(v, 10)), "p90": float(np.percentile(v, 90))}

    out = {
        k: stats([r[k] for r in runs])
        for k in (
            "regret_bandit",
            "regret_bandit_last7",
            "regret_fixed",
            "regret_plan",
            "pacing_error",
            "multiplier_log_error_prior",
            "multiplier_log_error_final",
        )
    }
    out["bandit_beats_fixed"] = float(np.mean([r["regret_bandit"] < r["regret_fixed"] for r in runs]))
    out["ope"] = {}
    for name in runs[0]["ope"]:
        out["ope"][name] = {}
        for method in ("ips", "snips", "dr"):
            rel = np.array(
                [(r["ope"][name][method]["value"] - r["ope"][name]["truth"]) / r["ope"][name]["truth"] for r in runs]
            )
            covered = np.array(
                [
                    abs(r["ope"][name][method]["value"] - r["ope"][name]["truth"])
                    <= 1.96 * r["ope"][name][method]["se"]
                    for r in runs
                ]
            )
            out["ope"][name][method] = {
                "bias_pct": float(100 * rel.mean()),
                "rmse_pct": float(100 * np.sqrt((rel**2).mean())),
                "coverage": float(covered.mean()),
                "ess": float(np.mean([r["ope"][name][method]["ess"] for r in runs])),
            }
    return out


PRIOR_TITLES = {
    "miscalibrated": "Prior with miscalibrated response levels (five channels)",
    "fitted": "Prior = the pipeline's calibrated curves fitted on 180 days of history (six channels)",
}


def render(results: dict, ablation: dict | None = None) -> str:
    meta, summaries = results["meta"], results["summary"]
    seeds, seconds, commit = meta["seeds"], meta["seconds"], meta["commit"]
    lines = [
        START_MARK,
        "## Bandit: in-flight reallocation and off-policy evaluation",
        "",
        f"`python bench/bandit_bench.py --seeds {seeds}` (commit {commit}, {seconds:.0f} s on the shared, busy dev "
        f"machine). {seeds} simulator worlds per prior, 28 days each, budget = 28 × the world's planned daily spends, "
        "daily bounds 0.2-3× the plan. Retailers deliver "
        f"{DELIVERY_MEAN:.0%} of each decision on average (±{DELIVERY_SD:.0%} a day); sales come from the simulator "
        "with adstock and noise; the bandit observes each day the next morning. Two priors: *miscalibrated* (a fresh "
        "world; each channel's attributed response level off by a log-normal factor of sd "
        f"{PRIOR_MISCALIBRATION_SD}, half saturation by sd 0.15, incrementality by sd 0.05, prior sd "
        f"{PRIOR_MISCALIBRATION_SD}) and *fitted* (demo.engine.scenario: 180 days of history and three lift "
        "studies; fit_curves + calibrate as the prior, so incrementality errors the lift studies left are in it). "
        'Method: docs/measurement.md, "In-flight reallocation and off-policy evaluation".',
    ]
    for prior, summary in summaries.items():
        lines += ["", f"### {PRIOR_TITLES[prior]}", "", *_render_one(summary)]
    if ablation is not None:
        lines += [
            "",
            "Ablation: Thompson-sampling incrementality too (`--sample-incrementality`, commit "
            f"{ablation['meta']['commit']}). Incrementality is not learned in flight, so sampling it explores "
            "without learning:",
            "",
            "| Prior | Regret, 28 days: incrementality at its mean (default) | Sampled too |",
            "|---|---|---|",
        ]
        for prior, summary in summaries.items():
            other = ablation["summary"].get(prior)
            if other:
                lines.append(
                    f"| {prior} | {100 * summary['regret_bandit']['mean']:.2f}% | "
                    f"{100 * other['regret_bandit']['mean']:.2f}% |"
                )
    lines += [
        "",
        "Regret = 1 − (expected incremental margin of the policy's daily spends) / (the oracle's), noise-free, "
        "at steady state, over the same days; the oracle water-fills the even daily budget on the true curves. The "
        "fixed plan is the prior's own optimum (what an allocator would have planned from it), delivered in full. "
        "Truth of an OPE candidate: its level probabilities × the true curve at each level's midpoint spend as "
        "delivered; the log's rewards are the simulator's realized incremental margin (noise, adstock carry-over "
        "and spend within a level included), so part of the error is the discretization into levels, not the "
        "estimator.",
        END_MARK,
    ]
    return "\n".join(lines)


def _render_one(s: dict) -> list[str]:
    pct = lambda d: f"{100 * d['mean']:.1f}% (p10 {100 * d['p10']:.1f}%, p90 {100 * d['p90']:.1f}%)"  # noqa: E731
    lines = [
        "| Metric (mean over seeds, p10-p90) | Value |",
        "|---|---|",
        f"| Regret of the bandit vs the oracle allocation, 28 days | {pct(s['regret_bandit'])} |",
        f"| Regret of the bandit, last 7 days | {pct(s['regret_bandit_last7'])} |",
        f"| Regret of the fixed plan (prior's optimum, delivered in full) | {pct(s['regret_fixed'])} |",
        f"| Regret of the world's planned daily spends (the mix before any optimization) | {pct(s['regret_plan'])} |",
        f"| Seeds where the bandit beats the fixed plan | {100 * s['bandit_beats_fixed']:.0f}% |",
        f"| Pacing error, \\|delivered − budget\\| / budget | {pct(s['pacing_error'])} |",
        "| Mean \\|log error\\| of each channel's response level: prior → after 28 days | "
        f"{s['multiplier_log_error_prior']['mean']:.3f} → {s['multiplier_log_error_final']['mean']:.3f} |",
        "",
        "Off-policy evaluation from the bandit's 28-day log (value = mean daily incremental margin summed over "
        "channels; error as % of the candidate's true value; coverage of the 95% interval; ESS = effective sample "
        "size of the importance weights, per channel, out of 28 days):",
        "",
        "| Candidate | Estimator | Bias | RMSE | 95% coverage | ESS |",
        "|---|---|---|---|---|---|",
    ]
    for name, methods in s["ope"].items():
        for method, m in methods.items():
            lines.append(
                f"| {name} | {method.upper()} | {m['bias_pct']:+.1f}% | {m['rmse_pct']:.1f}% | "
                f"{100 * m['coverage']:.0f}% | {m['ess']:.1f} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--json", help="also write the per-seed results here")
    parser.add_argument(
        "--sample-incrementality", action="store_true", help="Thompson-sample incrementality too (the old default)"
    )
    parser.add_argument("--render", metavar="RESULTS_JSON", help="write the doc from a saved --json run, no rerun")
    parser.add_argument("--ablation", metavar="RESULTS_JSON", help="a saved --sample-incrementality run to compare")
    parser.add_argument("--workers", type=int, default=2, help="processes (the dev machine has 2 cores)")
    parser.add_argument("--priors", nargs="+", default=list(PRIOR_TITLES), choices=list(PRIOR_TITLES))
    args = parser.parse_args()
    ablation = json.loads(Path(args.ablation).read_text()) if args.ablation else None
    if args.render:
        section = render(json.loads(Path(args.render).read_text()), ablation)
        print(section)
        if not args.no_doc:
            write_section("bandit", section)
        return
    import subprocess

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    started = time.perf_counter()
    runs, summaries = {}, {}
    for prior in args.priors:
        with ProcessPoolExecutor(args.workers) as pool:
            runs[prior] = list(
                pool.map(
                    partial(run_seed, prior=prior, sample_incrementality=args.sample_incrementality),
                    range(args.seeds),
                )
            )
        for seed, r in enumerate(runs[prior]):
            print(
                f"{prior} seed {seed}: regret bandit {r['regret_bandit']:.3f} (last7 {r['regret_bandit_last7']:.3f}) "
                f"fixed {r['regret_fixed']:.3f} pacing {r['pacing_error']:.4f}",
                flush=True,
            )
        summaries[prior] = summarize(runs[prior])
    meta = {
        "seeds": args.seeds,
        "seconds": time.perf_counter() - started,
        "commit": commit,
        "sample_incrementality": args.sample_incrementality,
    }
    results = {"meta": meta, "summary": summaries, "runs": runs}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    section = render(results, ablation)
    print(section)
    if not args.no_doc:
        write_section("bandit", section)


if __name__ == "__main__":
    main()

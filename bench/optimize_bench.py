"""Allocation benchmark: the optimize command against the truth, with baselines, over many simulated advertisers.

    DEBUG=1 .venv/bin/python bench/optimize_bench.py --seeds 20 [--chance 0.9] [--compare-chance 0 0.95] [--no-doc]

Per seed: demo.engine.scenario draws a world (6 channels on 5 retailers), simulates 180 days in which each
channel's spend is its plan scaled by a factor drawn from 1/2.5-2.5x (so the past mix is off the optimum), and 3 lift
studies, and writes H.csv, S.csv, L.csv; the budget for the next 28 days is 0.7-1.3x the planned spend; the
attributed ROAS floor is 0.8-1.1x the true attributed ROAS of the oracle's unconstrained plan (so it binds in about
half of the seeds). Methods, all scored by the simulator's expected outcome over those 28 days:

- optimizer: `python manage.py optimize --history H.csv --skus S.csv --lift-studies L.csv --budget B
  --period-days 28 --min-roas R --chance C --json OUT.json` (call_command, the real path), OUT.json's spends;
  with --compare-chance, the same command at other chance levels (0: the floor on the posterior mean alone);
- optimizer, uncalibrated: the same curves with incrementality 1 (curves.uncalibrated), same request;
- equal split; spend share proportional to historical attributed ROAS; last period's mix (the last 28 days'
  spend shares scaled to the budget);
- oracle: the allocator on the true curves with the true floor (the 100% reference).

The table goes into docs/benchmarks.md between the optimize_bench markers unless --no-doc.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sys
import tempfile
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._common import commit as _commit  # noqa: E402
from bench._common import machine as _machine  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- optimize_bench:start -->"
END_MARK = "<!-- optimize_bench:end -->"
P = 28
MIX_SPREAD = 2.5  # historical spend per channel scaled by 1/2.5-2.5x: the past mix is off the optimum
METHODS = ("optimizer", "uncalibrated", "equal_split", "roas_proportional", "last_period_mix", "oracle")
LABELS = {
    "optimizer": "optimize command (calibrated curves, chance-constrained floor)",
    "uncalibrated": "same optimizer, uncalibrated (attributed) curves",
    "equal_split": "equal split",
    "roas_proportional": "share ∝ historical attributed ROAS",
    "last_period_mix": "last period's mix",
    "oracle": "oracle (true curves, true floor)",
}


def _command_plan(paths, *, budget, floor, chance, samples, seed) -> tuple[dict[str, float], dict]:
    from django.core.management import call_command

    out = paths["history"].parent / "OUT.json"
    out.unlink(missing_ok=True)
    args = ["--history", paths["history"], "--skus", paths["skus"], "--lift-studies", paths["lift_studies"]]
    args += ["--budget", str(budget), "--period-days", str(P), "--min-roas", str(floor), "--json", out]
    args += ["--samples", str(samples), "--seed", str(seed)] + (["--chance", str(chance)] if chance else [])
    call_command("optimize", *map(str, args), stdout=io.StringIO(), stderr=io.StringIO())
    doc = json.loads(out.read_text())
    return {f"{a['retailer']}|{a['placement_type']}": a["daily_spend"] for a in doc["allocations"]}, doc


def run_seed(seed: int, *, chance: float | None, compare: list[float], samples: int, workdir: Path) -> dict:

    from demo.engine import scenario as sc
    from optimizer.engine import files
    from optimizer.engine.allocate import AllocationRequest, allocate
    from optimizer.engine.curves import uncalibrated
    from optimizer.engine.pipeline import curves_from_frames, period_error_sd

    rng = np.random.default_rng(np.random.SeedSequence([seed, 4242]))
    scenario = sc.build_scenario(seed, days=180, lift_channels=3, mix_spread=MIX_SPREAD)
    paths = sc.write_files(scenario, workdir / f"seed{seed}")
    start, keys = scenario.next_start, scenario.keys
    budget = round(sum(c.plan_daily_spend for c in scenario.world.channels) * P * rng.uniform(0.7, 1.3), 2)
    free = sc.oracle(scenario.world, AllocationRequest(budget=budget, period_days=P), start=start)
    free_roas = sc.score(scenario.world, free.daily_spend(), start=start, days=P).attributed_roas
    floor = round(free_roas * rng.uniform(0.8, 1.1), 2)
    request = AllocationRequest(budget=budget, period_days=P, min_roas=floor, chance=chance)

    spends: dict[str, dict[str, float]] = {}
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    plan = dict(budget=budget, floor=floor, samples=samples, seed=seed)
    spends["optimizer"], doc = _command_plan(paths, chance=chance, **plan)
    seconds["optimizer"] = time.perf_counter() - t
    for other in compare:
        t = time.perf_counter()
        spends[f"chance_{other:g}"] = _command_plan(paths, chance=other or None, **plan)[0]
        seconds[f"chance_{other:g}"] = time.perf_counter() - t

    t = time.perf_counter()
    history, skus = files.read_history(paths["history"]), files.read_skus(paths["skus"])
    lift = files.read_lift_studies(paths["lift_studies"])
    curves = curves_from_frames(history, skus, lift, period_days=P, samples=samples, seed=seed)
    sd = period_error_sd(curves, history, period_days=P)  # as the command's pipeline does
    spends["uncalibrated"] = allocate(uncalibrated(curves), replace(request, forecast_error_sd=sd)).daily_spend()
    seconds["uncalibrated"] = time.perf_counter() - t

    daily = budget / P
    spends["equal_split"] = {k: daily / len(keys) for k in keys}
    roas = scenario.hist_attributed_roas()
    spends["roas_proportional"] = {k: daily * roas[k] / sum(roas.values()) for k in keys}
    last = scenario.hist_daily_spend(P)
    spends["last_period_mix"] = {k: daily * last[k] / sum(last.values()) for k in keys}
    t = time.perf_counter()
    spends["oracle"] = sc.oracle(scenario.world, request, start=start).daily_spend()
    seconds["oracle"] = time.perf_counter() - t

    row = {"seed": seed, "budget": budget, "floor": floor, "free_roas": free_roas, "methods": {}}
    for method, plan in spends.items():
        score = sc.score(scenario.world, plan, start=start, days=P)
        row["methods"][method] = {
            "margin": score.incremental_margin,
            "spend": score.spend,
            "roas": score.attributed_roas,
            "floor_holds": bool(score.attributed_roas is not None and score.attributed_roas >= floor * (1 - 1e-9)),
            "seconds": seconds.get(method),
        }
    oracle_margin = row["methods"]["oracle"]["margin"]
    for m in row["methods"].values():
        m["pct_oracle"] = 100.0 * m["margin"] / oracle_margin
    row["floor_binds"] = bool(floor > free_roas)
    row["expected_roas_reported"] = doc["totals"]["expected_attributed_roas"]
    return row


def _methods(rows) -> list[str]:
    extra = [m for m in rows[0]["methods"] if m not in METHODS]
    return [METHODS[0], *extra, *METHODS[1:]]


def _label(method: str) -> str:
    if method.startswith("chance_"):
        c = method.split("_", 1)[1]
        return "same command, floor on the posterior mean (no chance)" if c == "0" else f"same command, chance {c}"
    return LABELS[method]


def summarize(rows: list[dict]) -> dict:
    out = {}
    for method in _methods(rows):
        pct = np.array([r["methods"][method]["pct_oracle"] for r in rows])
        holds = np.array([r["methods"][method]["floor_holds"] for r in rows])
        secs = [r["methods"][method]["seconds"] for r in rows if r["methods"][method]["seconds"] is not None]
        out[method] = {
            "median_pct": float(np.median(pct)),
            "p10_pct": float(np.percentile(pct, 10)),
            "floor_share": float(holds.mean()),
            "median_seconds": float(np.median(secs)) if secs else None,
        }
    return out


def render(rows, summary, *, command: str, total_seconds: float, chance) -> str:
    n = len(rows)
    binds = sum(r["floor_binds"] for r in rows)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    opt = summary["optimizer"]
    met = opt["median_pct"] >= 95 and opt["floor_share"] >= 0.95
    lines = [
        START_MARK,
        f"Measured {now} on {_machine()}, at commit {_commit()}, by `{command}` ({n} seeds, "
        f"{total_seconds:.0f} s in all; the floor binds the oracle in {binds} of {n} seeds; chance {chance}).",
        "",
        "| method | median % of oracle incremental margin | p10 % | true attributed ROAS floor holds | "
        "median seconds per plan |",
        "|---|---:|---:|---:|---:|",
    ]
    for method in _methods(rows):
        s = summary[method]
        secs = "" if s["median_seconds"] is None else f"{s['median_seconds']:.2f}"
        lines.append(
            f"| {_label(method)} | {s['median_pct']:.1f} | {s['p10_pct']:.1f} | "
            f"{100 * s['floor_share']:.0f}% ({round(s['floor_share'] * n)}/{n}) | {secs} |"
        )
    lines += [
        "",
        f"Acceptance (median >= 95% of the oracle and the true floor holding in >= 95% of seeds): "
        f"**{'met' if met else 'not met'}** (median {opt['median_pct']:.1f}%, floor holds in "
        f"{100 * opt['floor_share']:.0f}% of seeds). The optimizer's seconds include fitting and calibrating the "
        f"curves (200 posterior samples) and reading the files; the uncalibrated row refits the same curves.",
        "",
        "Per seed (budget, floor, the oracle's unconstrained true ROAS, and % of oracle / true ROAS of the optimizer):",
        "",
        "| seed | budget | floor | oracle ROAS without floor | optimizer % | optimizer true ROAS | uncalibrated % |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        o, u = r["methods"]["optimizer"], r["methods"]["uncalibrated"]
        lines.append(
            f"| {r['seed']} | {r['budget']:,.0f} | {r['floor']:.2f} | {r['free_roas']:.2f} | {o['pct_oracle']:.1f} | "
            f"{o['roas']:.2f}{'' if o['floor_holds'] else ' (below)'} | {u['pct_oracle']:.1f} |"
        )
    lines.append(END_MARK)
    return "\n".join(lines)


def write_doc(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if START_MARK in text:
        before, rest = text.split(START_MARK, 1)
        text = before + section + rest.split(END_MARK, 1)[1]
    else:
        intro = (
            "## Optimization: allocation against the truth\n\n"
            '`bench/optimize_bench.py` (docs/optimization.md, "Allocation and the file contract"): per seed a '
            "simulated advertiser (demo.engine.scenario: 6 channels on 5 retailers, 180 days of history "
            "whose spend mix is off the optimum by 1/2.5-2.5x per channel, 3 lift studies) writes H.csv, S.csv "
            "and L.csv; the `optimize` command plans the next 28 days (budget 0.7-1.3x the planned spend, "
            "attributed ROAS floor 0.8-1.1x the oracle's unconstrained true ROAS) and every plan is scored by the "
            "simulator's expected outcome. \"% of oracle\" is the plan's true incremental margin over the "
            "oracle's (the allocator on the true curves with the true floor); a plan that breaks the floor can "
            'exceed 100%. "Floor holds" means the plan\'s true attributed ROAS over the period is at least the '
            "floor.\n\n"
        )
        head, body = intro.split("\n\n", 1)
        intro = head + "\n\n" + "\n".join(textwrap.wrap(body.strip(), 120, break_on_hyphens=False)) + "\n\n"
        text = text.rstrip("\n") + "\n\n" + intro + section + "\n"
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--chance", type=float, default=0.9)
    parser.add_argument("--compare-chance", type=float, nargs="*", default=[0.0, 0.95])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--json", help="Also write the per-seed rows here.")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rmn_site.settings")
    import django

    django.setup()
    chance = args.chance if args.chance > 0 else None
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            row = run_seed(seed, chance=chance, compare=args.compare_chance, samples=args.samples, workdir=Path(tmp))
            o = row["methods"]["optimizer"]
            print(
                f"seed {seed}: optimizer {o['pct_oracle']:.1f}% of oracle, true ROAS {o['roas']:.2f} vs floor "
                f"{row['floor']:.2f} ({'ok' if o['floor_holds'] else 'BELOW'}), uncalibrated "
                f"{row['methods']['uncalibrated']['pct_oracle']:.1f}%, {o['seconds']:.1f} s",
                flush=True,
            )
            rows.append(row)
    total = time.perf_counter() - t0
    summary = summarize(rows)
    command = "DEBUG=1 .venv/bin/python bench/optimize_bench.py " + " ".join(sys.argv[1:])
    section = render(rows, summary, command=command.strip(), total_seconds=total, chance=chance)
    print(section)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "summary": summary}, indent=2))
    if not args.no_doc:
        write_doc(section)


if __name__ == "__main__":
    main()

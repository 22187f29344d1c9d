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

`--family independent` runs the same command on bench/independent's worlds (scored by each world's own truth);
with `--promise-bound` it adds the row of a planner that knows the world's true curves and keeps the same promise
against the level error the optimizer's plan states (what the promise itself costs; see _promise_bound).

`--level-study 1 2 3 4 5 6 --worlds 8` measures how well the files tell the period's sales level and what a
planner that knows every true curve reaches when it keeps the promise against that level error (level_study).

`--reliability A.json B.json ...` runs nothing: it reads the independent rows of earlier `--json` dumps and tables
how well the command's stated P(floor) and intervals match the truth (see reliability; docs/benchmarks.md, part D).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import os
import sys
import tempfile
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
INDEPENDENT_START = "<!-- optimize_bench_independent:start -->"
INDEPENDENT_END = "<!-- optimize_bench_independent:end -->"
P = 28
MIX_SPREAD = 2.5  # historical spend per channel scaled by 1/2.5-2.5x: the past mix is off the optimum
BUDGET_TOLERANCE = 0.005  # "whole budget used": at least 99.5% of it spent
METHODS = (
    "optimizer",
    "uncalibrated",
    "equal_split",
    "roas_proportional",
    "last_period_mix",
    "promise_bound",
    "oracle",
)
LABELS = {
    "optimizer": "optimize command (calibrated curves, chance-constrained floor)",
    "uncalibrated": "same optimizer, uncalibrated (attributed) curves",
    "equal_split": "equal split",
    "roas_proportional": "share ∝ historical attributed ROAS",
    "last_period_mix": "last period's mix",
    "promise_bound": "true curves, floor raised to keep the promise against the plan's level error",
    "oracle": "oracle (true curves, true floor)",
}


def _command_plan(paths, *, budget, floor, chance, samples, seed, period_days=P) -> tuple[dict[str, float], dict]:
    """The optimize command's plan (period spend per channel) and its OUT.json. ``chance`` None or 0: the floor on
    the posterior mean (``--chance 0``, since the command's default is the 0.9 promise)."""
    from django.core.management import call_command

    out = paths["history"].parent / "OUT.json"
    out.unlink(missing_ok=True)
    args = ["--history", paths["history"], "--skus", paths["skus"]]
    if paths.get("lift_studies"):
        args += ["--lift-studies", paths["lift_studies"]]
    args += ["--budget", str(budget), "--period-days", str(period_days), "--min-roas", str(floor), "--json", out]
    args += ["--samples", str(samples), "--seed", str(seed), "--chance", str(chance or 0)]
    call_command("optimize", *map(str, args), stdout=io.StringIO(), stderr=io.StringIO())
    doc = json.loads(out.read_text())
    return {f"{a['retailer']}|{a['placement_type']}": a["spend"] for a in doc["allocations"]}, doc


def _plan_facts(doc: dict, *, true_margin: float, chance) -> dict:
    """What the plan itself said, to compare with the truth: the promise, its probability, the 90% interval."""
    lo, hi = doc["totals"]["incremental_margin_interval"]
    promise = doc.get("promise")
    p = doc["totals"].get("p_roas_floor")
    return {
        "p_floor": p,
        "promised": bool(chance and p is not None and p >= chance - 1e-9),
        "promise_binds": bool((doc["constraints"].get("chance") or {}).get("binding")),
        "states_promise_unkept": bool(promise and not promise["whole_budget_keeps_promise"]),
        "full_spend_probability": (promise or {}).get("full_spend", {}) and promise["full_spend"]["probability"],
        "covered": bool(lo <= true_margin <= hi),
        # The stated distribution of the period's attributed sales (reliability of the stated P(floor): where the
        # truth falls in it, _stated_quantile).
        "expected_attributed_sales": doc["totals"].get("expected_attributed_sales"),
        "attributed_sales_interval": doc["totals"].get("attributed_sales_interval"),
        "forecast_error_sd": (doc["constraints"].get("min_roas") or {}).get("forecast_error_sd"),
    }


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
    period, doc = _command_plan(paths, chance=chance, **plan)
    spends["optimizer"] = {k: v / P for k, v in period.items()}
    seconds["optimizer"] = time.perf_counter() - t
    for other in compare:
        t = time.perf_counter()
        spends[f"chance_{other:g}"] = {k: v / P for k, v in _command_plan(paths, chance=other, **plan)[0].items()}
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
            "budget_used": bool(score.spend >= budget * (1 - BUDGET_TOLERANCE)),
            "seconds": seconds.get(method),
        }
    oracle_margin = row["methods"]["oracle"]["margin"]
    for m in row["methods"].values():
        m["pct_oracle"] = 100.0 * m["margin"] / oracle_margin
    row["methods"]["optimizer"].update(
        _plan_facts(doc, true_margin=row["methods"]["optimizer"]["margin"], chance=chance)
    )
    row["floor_binds"] = bool(floor > free_roas)
    row["expected_roas_reported"] = doc["totals"]["expected_attributed_roas"]
    return row


def _promise_bound(world, doc: dict, chance: float, sd: float | None = None) -> dict[str, float] | None:
    """The price of the promise itself: the plan of a planner that knows the world's true curves and is unsure only
    of the period's level, by as much as the optimize command's plan says (its forecast_error_sd, a mean-one
    lognormal factor common to every channel). Keeping the floor R with probability ``chance`` against that factor
    means holding R · exp(z · sd + sd² / 2) in truth (z the chance's normal quantile): the world's own oracle under
    that floor. None where no spend reaches it. No planner that is unsure of the level by that much can keep the
    promise more cheaply, so the gap between this row and the oracle is what the promise costs, the gap between the
    optimizer and this row what its curves cost. ``sd`` given: that level error instead of the plan's."""
    import copy
    from statistics import NormalDist

    if sd is None:
        sd = float((doc["constraints"].get("min_roas") or {}).get("forecast_error_sd") or 0.0)
    shadow = copy.copy(world)
    shadow.min_roas = float(world.min_roas) * math.exp(NormalDist().inv_cdf(chance) * sd + sd * sd / 2)
    shadow._oracle = None  # the copy's own oracle cache (the world's stays as it is)
    try:
        return dict(shadow.oracle()[0])
    except Exception:
        return None


def run_world(
    world,
    *,
    chance: float | None,
    compare: list[float],
    samples: int,
    seed: int,
    workdir: Path,
    promise_bound: bool = False,
    promise_bound_sd: float | None = None,
) -> dict:
    """One world of the independent family (bench/independent, part F): its files through the optimize command,
    the baselines, and every plan scored by the world's own truth (period spends)."""
    import pandas as pd

    from optimizer.engine import files
    from optimizer.engine.allocate import AllocationRequest, allocate
    from optimizer.engine.curves import uncalibrated
    from optimizer.engine.pipeline import curves_from_frames, period_error_sd

    folder = workdir / str(world.name)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: (Path(v) if v else None) for k, v in world.write_files(folder).items()}
    budget, days, floor = float(world.budget), int(world.period_days), float(world.min_roas)
    keys = list(world.channels())
    plan = dict(budget=budget, floor=floor, samples=samples, seed=seed, period_days=days)
    spends: dict[str, dict[str, float] | None] = {}
    seconds: dict[str, float] = {}
    docs: dict[str, dict] = {}
    errors: dict[str, str] = {}
    for method, level in [("optimizer", chance), *((f"chance_{c:g}", c) for c in compare)]:
        t = time.perf_counter()
        try:
            spends[method], docs[method] = _command_plan(paths, chance=level, **plan)
        except Exception as exc:  # a refusal is a result too: no plan, counted as such
            spends[method], errors[method] = None, str(exc)
        seconds[method] = time.perf_counter() - t

    t = time.perf_counter()
    history, skus = files.read_history(paths["history"]), files.read_skus(paths["skus"])
    lift = files.read_lift_studies(paths["lift_studies"]) if paths.get("lift_studies") else None
    try:
        curves = curves_from_frames(history, skus, lift, period_days=days, samples=samples, seed=seed)
        sd = period_error_sd(curves, history, period_days=days)
        request = AllocationRequest(budget=budget, period_days=days, min_roas=floor, forecast_error_sd=sd)
        result = allocate(uncalibrated(curves), request)
        spends["uncalibrated"] = {a.key: a.spend for a in result.allocations}
    except Exception as exc:
        spends["uncalibrated"], errors["uncalibrated"] = None, str(exc)
    seconds["uncalibrated"] = time.perf_counter() - t

    spends["equal_split"] = {k: budget / len(keys) for k in keys}
    frame = pd.DataFrame({"date": pd.to_datetime(history["date"]), "spend": history["spend"]})
    frame["key"] = history["retailer"].astype(str) + "|" + history["placement_type"].astype(str)
    last = frame[frame["date"] > frame["date"].max() - pd.Timedelta(days=days)].groupby("key")["spend"].sum()
    spends["last_period_mix"] = {k: budget * float(last.get(k, 0.0)) / float(last.sum()) for k in keys}
    t = time.perf_counter()
    oracle_spend, oracle_margin = world.oracle()
    seconds["oracle"] = time.perf_counter() - t
    spends["oracle"] = dict(oracle_spend)
    if promise_bound and chance:
        t = time.perf_counter()
        spends["promise_bound"] = (
            _promise_bound(world, docs["optimizer"], chance, promise_bound_sd) if "optimizer" in docs else None
        )
        seconds["promise_bound"] = time.perf_counter() - t

    row = {
        "seed": str(world.name),
        "budget": budget,
        "floor": floor,
        "period_days": days,
        "floor_kind": getattr(world, "floor_kind", None),
        # Today's run rate over the period (the last 56 days' mean daily spend times the period's days): how far a
        # plan's total moves away from what the history ran (reliability).
        "run_rate_spend": float(frame[frame["date"] > frame["date"].max() - pd.Timedelta(days=56)]["spend"].sum())
        / 56
        * days,
        "errors": errors,
        "methods": {},
    }
    for method, spend in spends.items():
        if spend is None:
            row["methods"][method] = {
                "margin": 0.0, "spend": 0.0, "roas": None, "floor_holds": False, "budget_used": False,
                "pct_oracle": 0.0, "seconds": seconds.get(method), "refused": True,
            }  # fmt: skip
            continue
        spend = {k: float(v) for k, v in spend.items() if k in keys}
        total = sum(spend.values())
        margin = float(world.incremental_margin(spend))
        roas = float(world.attributed_roas(spend)) if total > 0 else None
        row["methods"][method] = {
            "margin": margin,
            "spend": total,
            "roas": roas,
            "floor_holds": bool(roas is not None and roas >= floor * (1 - 1e-9)),
            "budget_used": bool(total >= budget * (1 - BUDGET_TOLERANCE)),
            "pct_oracle": 100.0 * margin / float(oracle_margin),
            "seconds": seconds.get(method),
        }
        if method in docs:
            row["methods"][method].update(
                _plan_facts(docs[method], true_margin=margin, chance=level_of(method, chance))
            )
    return row


def level_of(method: str, chance):
    return chance if method == "optimizer" else float(method.split("_", 1)[1]) or None


def _methods(rows) -> list[str]:
    order = [m for m in METHODS if m in rows[0]["methods"]]
    extra = [m for m in rows[0]["methods"] if m not in METHODS]
    return [order[0], *extra, *order[1:]]


def _label(method: str) -> str:
    if method.startswith("chance_"):
        c = method.split("_", 1)[1]
        return "same command, `--chance 0`: floor on the posterior mean" if c == "0" else f"same command, chance {c}"
    return LABELS[method]


def summarize(rows: list[dict]) -> dict:
    out = {}
    for method in _methods(rows):
        ms = [r["methods"][method] for r in rows]
        pct = np.array([m["pct_oracle"] for m in ms])
        secs = [m["seconds"] for m in ms if m["seconds"] is not None]
        promised = [m for m in ms if m.get("promised")]
        binding = [m for m in promised if m.get("promise_binds")]
        covered = [m["covered"] for m in ms if "covered" in m]
        out[method] = {
            "median_pct": float(np.median(pct)),
            "worst_pct": float(pct.min()),
            "p10_pct": float(np.percentile(pct, 10)),
            "floor_share": float(np.mean([m["floor_holds"] for m in ms])),
            "budget_used": int(sum(m["budget_used"] for m in ms)),
            "budget_used_or_stated": int(sum(m["budget_used"] or m.get("states_promise_unkept", False) for m in ms)),
            "stated_unkept": int(sum(m.get("states_promise_unkept", False) for m in ms)),
            "refused": int(sum(m.get("refused", False) for m in ms)),
            "promised": len(promised),
            "promised_held": int(sum(m["floor_holds"] for m in promised)),
            "binding": len(binding),
            "binding_held": int(sum(m["floor_holds"] for m in binding)),
            "coverage": (float(np.mean(covered)), len(covered)) if covered else None,
            "median_seconds": float(np.median(secs)) if secs else None,
        }
    return out


def _share(k: int, n: int) -> str:
    return f"{100 * k / n:.0f}% ({k}/{n})" if n else "–"


def _table(rows, summary) -> list[str]:
    n = len(rows)
    lines = [
        "| method | median % of oracle incremental margin | worst % | p10 % | true attributed ROAS floor holds | "
        "whole budget used (or the plan says the promise needs less) | median seconds per plan |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for method in _methods(rows):
        s = summary[method]
        secs = "" if s["median_seconds"] is None else f"{s['median_seconds']:.2f}"
        budget = _share(s["budget_used_or_stated"], n)
        if s["stated_unkept"]:
            budget += f", {s['stated_unkept']} stated"
        lines.append(
            f"| {_label(method)} | {s['median_pct']:.1f} | {s['worst_pct']:.1f} | {s['p10_pct']:.1f} | "
            f"{_share(round(s['floor_share'] * n), n)} | {budget} | {secs} |"
        )
    lines.append("")
    for method in _methods(rows):
        s = summary[method]
        if s["coverage"] is None:
            continue
        cov, k = s["coverage"]
        refused = f"; refused (no plan, scored 0) in {s['refused']}" if s["refused"] else ""
        lines.append(
            f"- {_label(method)}: of the plans that promised the floor (P(floor) >= the chance asked), "
            f"{_share(s['promised_held'], s['promised'])} held it; of those where the promise bound the plan, "
            f"{_share(s['binding_held'], s['binding'])}; the 90% interval of incremental margin covered the truth "
            f"in {_share(round(cov * k), k)}{refused}."
        )
    return lines


def render(rows, summary, *, command: str, total_seconds: float, chance) -> str:
    """The project's own family (demo.engine.scenario)."""
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
        *_table(rows, summary),
        "",
        f"Acceptance (median >= 95% of the oracle and the true floor holding in >= 95% of seeds): "
        f"**{'met' if met else 'not met'}** (median {opt['median_pct']:.1f}%, floor holds in "
        f"{100 * opt['floor_share']:.0f}% of seeds). The optimizer's seconds include fitting and calibrating the "
        f"curves and reading the files; the uncalibrated row refits the same curves.",
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


def render_independent(rows, summary, *, command: str, total_seconds: float, chance) -> str:
    """The independent family (bench/independent/worlds.py, written from its description only)."""
    n = len(rows)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    opt = summary["optimizer"]
    kinds: dict = {}
    for r in rows:
        kinds[r["floor_kind"]] = kinds.get(r["floor_kind"], 0) + 1
    calibrated = opt["promised"] and 0.85 <= opt["promised_held"] / opt["promised"] <= 0.95
    bound = "promise_bound" in rows[0]["methods"]
    checks = [
        (f"median >= 97% of the oracle ({opt['median_pct']:.1f}%)", opt["median_pct"] >= 97),
        (f"floor held in >= 95% of worlds ({100 * opt['floor_share']:.0f}%)", opt["floor_share"] >= 0.95),
        (
            f"whole budget used wherever the plan does not state the promise cannot be kept "
            f"({opt['budget_used_or_stated']}/{n})",
            opt["budget_used_or_stated"] == n,
        ),
        (
            f"promised-{chance:.0%} plans holding the floor in 85-95% ({opt['promised_held']}/{opt['promised']})",
            bool(calibrated),
        ),
    ]
    lines = [
        INDEPENDENT_START,
        f"Measured {now} on {_machine()}, at commit {_commit()}, by `{command}` ({n} worlds, "
        f"{total_seconds:.0f} s in all; floors: "
        f"{', '.join(f'{v} {k}' for k, v in sorted(kinds.items(), key=lambda kv: str(kv[0])))}; chance {chance}).",
        "",
        *_table(rows, summary),
        "",
        "Acceptance: " + "; ".join(f"{text}: **{'met' if ok else 'not met'}**" for text, ok in checks) + ".",
        "",
        "Per world (floor kind, the optimizer's % of oracle, true attributed ROAS against the floor, spend / budget, "
        "the plan's P(floor)):",
        "",
        "| world | period | floor kind | floor | optimizer % | true ROAS | spend / budget | P(floor) | promise |"
        + (" known curves, same promise % |" if bound else ""),
        "|---|---:|---|---:|---:|---:|---:|---:|---|" + ("---:|" if bound else ""),
    ]
    for r in rows:
        o = r["methods"]["optimizer"]
        roas = "–" if o["roas"] is None else f"{o['roas']:.2f}{'' if o['floor_holds'] else ' (below)'}"
        p = o.get("p_floor")
        note = (
            "refused"
            if o.get("refused")
            else ("says the budget cannot keep it" if o.get("states_promise_unkept") else "")
        )
        lines.append(
            f"| {r['seed']} | {r['period_days']} | {r['floor_kind']} | {r['floor']:.2f} | {o['pct_oracle']:.1f} | "
            f"{roas} | {o['spend'] / r['budget']:.0%} | {'–' if p is None else f'{p:.0%}'} | {note} |"
            + (f" {r['methods']['promise_bound']['pct_oracle']:.1f} |" if bound else "")
        )
    lines.append(INDEPENDENT_END)
    return "\n".join(lines)


# Stated P(floor) bins: [lo, hi) with their labels; the last holds the plans that stated certainty.
P_BINS = (
    (0.0, 0.5, "below 0.5"),
    (0.5, 0.7, "0.5-0.7"),
    (0.7, 0.85, "0.7-0.85"),
    (0.85, 0.9, "0.85-0.9"),
    (0.9, 0.95, "0.9-0.95"),
    (0.95, 0.999, "0.95-0.995"),
    (0.999, math.inf, "1"),
)
Z_TENTH = 1.2816  # the normal's 90th percentile: beyond it lies a tenth of a calibrated distribution
Z_INTERVAL = 1.6449  # its 95th: the stated 90% interval spans 2 · 1.6449 standard deviations


def _stated_z(m: dict) -> float | None:
    """Where the true attributed sales of a plan fall in the distribution the plan stated, in its standard
    deviations: the stated 90% interval of attributed sales read as a lognormal (median sqrt(lo · hi), log sd
    log(hi / lo) / 3.29). About N(0, 1) over many plans when the stated spread and centre are right."""
    interval, roas = m.get("attributed_sales_interval"), m.get("roas")
    if not interval or roas is None or m.get("spend", 0) <= 0 or min(interval) <= 0:
        return None
    lo, hi = (float(v) for v in interval)
    sd = math.log(hi / lo) / (2 * Z_INTERVAL)
    if sd <= 0:
        return None
    return (math.log(roas * m["spend"]) - 0.5 * math.log(lo * hi)) / sd


def reliability(rows: list[dict]) -> list[str]:
    """How well the command's stated P(floor) and intervals match the truth, over every plan of the command in
    ``rows`` (the promise and the other --compare-chance levels; a plan identical to the promise's counted once):
    a reliability table binned by the stated P(floor) (held against the sum of the stated probabilities, what a
    calibrated statement expects), and where the truth fell in the stated distribution of attributed sales, apart
    for plans that cut spend and plans that spend the whole budget."""
    plans = []
    for r in rows:
        seen = []
        for name, m in r["methods"].items():
            if not (name == "optimizer" or name.startswith("chance_")) or m.get("refused"):
                continue
            if m.get("p_floor") is None or m.get("roas") is None:
                continue
            key = (round(m["spend"], 2), m["p_floor"])
            if key in seen:
                continue
            seen.append(key)
            plans.append((r, m))
    lines = [
        f"Reliability of the stated P(floor) ({len(plans)} plans of the command, {len(rows)} worlds):",
        "",
        "| stated P(floor) | plans | mean stated | held the floor | a calibrated statement expects |",
        "|---|---:|---:|---:|---:|",
    ]
    for lo, hi, label in P_BINS:
        group = [m for _, m in plans if lo <= m["p_floor"] < hi]
        if not group:
            continue
        stated = [m["p_floor"] for m in group]
        held = sum(m["floor_holds"] for m in group)
        lines.append(
            f"| {label} | {len(group)} | {np.mean(stated):.3f} | {held} ({held / len(group):.0%}) | {sum(stated):.1f} |"
        )
    lines += [
        "",
        "Where the true attributed sales fell in the plan's stated distribution (z: in its standard deviations; a "
        "calibrated statement gives mean 0, sd 1 and a tenth of the plans in each tail beyond ±1.28):",
        "",
        "| plans | n | mean z | sd of z | lowest tenth | highest tenth |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    groups = (
        ("spend cut below 95% of the budget", lambda r, m: m["spend"] < 0.95 * r["budget"]),
        ("whole budget (95% or more)", lambda r, m: m["spend"] >= 0.95 * r["budget"]),
        ("all", lambda r, m: True),
    )
    ratio = [
        ("below 0.8", 0.0, 0.8),
        ("0.8-1", 0.8, 1.0),
        ("1-1.3", 1.0, 1.3),
        ("1.3-2", 1.3, 2.0),
        ("2 or more", 2.0, math.inf),
    ]
    if all(r.get("run_rate_spend") for r in rows):
        groups += tuple(
            (
                f"plan spend {label} times the run rate",
                lambda r, m, lo=lo, hi=hi: lo <= m["spend"] / r["run_rate_spend"] < hi,
            )
            for label, lo, hi in ratio
        )
    # By the world's own floor kind (set from its truth): whether cutting spend selects plans whose estimate was low.
    for kind in sorted({str(r.get("floor_kind")) for r in rows if r.get("floor_kind")}):
        groups += (
            (
                f"floor {kind} in truth, spend cut",
                lambda r, m, kind=kind: str(r.get("floor_kind")) == kind and m["spend"] < 0.95 * r["budget"],
            ),
            (
                f"floor {kind} in truth, whole budget",
                lambda r, m, kind=kind: str(r.get("floor_kind")) == kind and m["spend"] >= 0.95 * r["budget"],
            ),
        )
    for label, keep in groups:
        z = np.array([v for r, m in plans if keep(r, m) and (v := _stated_z(m)) is not None])
        if not len(z):
            continue
        lines.append(
            f"| {label} | {len(z)} | {z.mean():+.2f} | {z.std():.2f} | {int((z < -Z_TENTH).sum())} "
            f"(expected {0.1 * len(z):.1f}) | {int((z > Z_TENTH).sum())} |"
        )
    return lines


def level_study(seeds: list[int], n: int, sds: list[float], *, samples: int = 200) -> list[str]:
    """How well the next period's attributed sales level can be known from the files, and what that costs any
    planner that keeps the promise (docs/benchmarks.md, issue 17, "What the level error allows").

    Per independent world: the curves as the optimize command fits them (with the last weeks' level) predict the
    period's attributed sales at today's run rate (the last period's daily spends); the truth is the world's own
    expected attributed sales at those spends. Reported: the realized log error against the level error the plan
    states (pipeline.period_error_sd), and how much of it the world's seasonal wave explains (its change from the
    history's last 14 days to the period, from the world's hidden truth). Then, per level error sd in ``sds``, the
    share of the oracle reached by a planner that knows every true curve and keeps the floor with 90% against that
    level error alone (_promise_bound): no planner unsure of the level by that much can do better."""
    from statistics import NormalDist

    from bench.independent.worlds import make_worlds
    from optimizer.engine import files
    from optimizer.engine.allocate import AllocationRequest, _Problem
    from optimizer.engine.pipeline import curves_from_frames, period_error_sd, with_recent_level

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for world in make_worlds(n, seed):
                folder = Path(tmp) / str(world.name)
                folder.mkdir(parents=True, exist_ok=True)
                paths = {k: (Path(v) if v else None) for k, v in world.write_files(folder).items()}
                history, skus = files.read_history(paths["history"]), files.read_skus(paths["skus"])
                lift = files.read_lift_studies(paths["lift_studies"]) if paths.get("lift_studies") else None
                days = int(world.period_days)
                curves = curves_from_frames(history, skus, lift, period_days=days, samples=samples, seed=0)
                stated = period_error_sd(curves, history, period_days=days)
                curves = with_recent_level(curves, history, period_days=days)
                keys = list(world.channels())
                prob = _Problem(curves, AllocationRequest(budget=float(world.budget), period_days=days), keys)
                run = np.array([curves.channel(k).hist_daily_spend * days for k in keys])
                model = float(prob.attributed_samples(run).mean(axis=1).sum())
                truth = float(world.attributed_sales({k: float(v) for k, v in zip(keys, run, strict=True)}))
                season = math.nan
                if hasattr(world, "_annual") and hasattr(world, "days"):  # the world's hidden seasonal wave
                    end = int(world.days)
                    ahead = world._annual(np.arange(end, end + days)).mean()
                    season = float(math.log(ahead / world._annual(np.arange(end - 14, end)).mean()))
                _, best = world.oracle()
                bound = {}
                for sd in sds:
                    plan = _promise_bound(world, {}, 0.9, sd)
                    bound[sd] = 100.0 * float(world.incremental_margin(plan)) / float(best) if plan else 0.0
                rows.append(
                    {
                        "world": str(world.name),
                        "kind": world.floor_kind,
                        "error": math.log(model / truth),
                        "stated": stated,
                        "season": season,
                        "bound": bound,
                    }
                )
                print(f"{world.name}: level error {rows[-1]['error']:+.3f}, stated {stated:.3f}", flush=True)
    err = np.array([r["error"] for r in rows])
    stated = np.array([r["stated"] for r in rows])
    season = np.array([r["season"] for r in rows])
    z90 = NormalDist().inv_cdf(0.9)

    def corr(a, b) -> str:
        return f"{np.corrcoef(a, b)[0, 1]:+.2f}" if len(a) >= 3 and np.std(a) > 0 and np.std(b) > 0 else "–"

    out = [
        f"{len(rows)} worlds (world seeds {', '.join(map(str, seeds))}, {n} each).",
        "",
        "| level of the period's attributed sales at today's run rate | value |",
        "|---|---:|",
        f"| realized log error, root mean square | {np.sqrt(np.mean(err**2)):.3f} |",
        f"| realized log error, mean | {err.mean():+.3f} |",
        f"| stated level error (forecast_error_sd), mean | {stated.mean():.3f} |",
        f"| correlation of the stated error with the realized one's size | {corr(stated, np.abs(err))} |",
        f"| realized error beyond ±{z90:.2f} stated sds (a tenth each side if calibrated) | "
        f"{int(np.sum(err / stated < -z90))} below, {int(np.sum(err / stated > z90))} above |",
    ]
    if np.isfinite(season).all():
        out += [
            f"| realized error with the seasonal wave's change added back, root mean square | "
            f"{np.sqrt(np.mean((err + season) ** 2)):.3f} |",
            f"| correlation of the error with the seasonal change | {corr(err, season)} |",
        ]
    kinds = np.array([r["kind"] for r in rows])
    out += [
        "",
        "| level error sd the planner keeps the 90% promise against (true curves) | median % of oracle | mean % "
        "| worst % | worlds at 97% or more | loose median | binding median | infeasible median |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for sd in sds:
        b = np.array([r["bound"][sd] for r in rows])
        by = [
            f"{np.median(b[kinds == k]):.1f}" if (kinds == k).any() else "–" for k in ("loose", "binding", "infeasible")
        ]
        out.append(
            f"| {sd:g} | {np.median(b):.1f} | {b.mean():.1f} | {b.min():.1f} | {int(np.sum(b >= 97.0))}/{len(b)} | "
            + " | ".join(by)
            + " |"
        )
    return out


def write_doc(section: str, start: str = START_MARK, end: str = END_MARK) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if start in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.replace(END_MARK, END_MARK + "\n\n" + section, 1)
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=("own", "independent", "both"), default="both")
    parser.add_argument("--seeds", type=int, default=20, help="Seeds of the project's own family.")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--worlds", type=int, default=20, help="Worlds of the independent family.")
    parser.add_argument("--world-seed", type=int, default=0)
    parser.add_argument("--chance", type=float, default=0.9)
    parser.add_argument("--compare-chance", type=float, nargs="*", default=[0.0, 0.95])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--json", help="Also write the per-seed rows here.")
    parser.add_argument(
        "--promise-bound",
        action="store_true",
        help="Independent family: add the row of a planner that knows the true curves and keeps the promise "
        "against the optimizer's stated level error (what the promise itself costs).",
    )
    parser.add_argument(
        "--promise-bound-sd",
        type=float,
        help="With --promise-bound: this level error (relative sd) for every world instead of the plan's own.",
    )
    parser.add_argument(
        "--reliability",
        nargs="+",
        metavar="JSON",
        help="Run nothing: read the independent rows of these --json files and print how well the stated P(floor) "
        "and intervals match the truth (reliability).",
    )
    parser.add_argument(
        "--level-study",
        type=int,
        nargs="+",
        metavar="WORLD_SEED",
        help="Run nothing else: on these world seeds (--worlds each) measure how well the period's level is known "
        "and what that costs a planner that knows the true curves (level_study).",
    )
    parser.add_argument("--level-sds", type=float, nargs="+", default=[0.03, 0.05, 0.07, 0.094])
    args = parser.parse_args()
    if args.level_study:
        print("\n".join(level_study(args.level_study, args.worlds, args.level_sds, samples=args.samples)))
        return
    if args.reliability:
        rows = [r for f in args.reliability for r in json.loads(Path(f).read_text())["independent"]["rows"]]
        print("\n".join(reliability(rows)))
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rmn_site.settings")
    import django

    django.setup()
    chance = args.chance if args.chance > 0 else None
    command = ("DEBUG=1 .venv/bin/python bench/optimize_bench.py " + " ".join(sys.argv[1:])).strip()
    dump = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.family in ("own", "both"):
            t0 = time.perf_counter()
            rows = []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                row = run_seed(
                    seed, chance=chance, compare=args.compare_chance, samples=args.samples, workdir=Path(tmp)
                )
                o = row["methods"]["optimizer"]
                print(
                    f"seed {seed}: optimizer {o['pct_oracle']:.1f}% of oracle, true ROAS {o['roas']:.2f} vs floor "
                    f"{row['floor']:.2f} ({'ok' if o['floor_holds'] else 'BELOW'}), uncalibrated "
                    f"{row['methods']['uncalibrated']['pct_oracle']:.1f}%, {o['seconds']:.1f} s",
                    flush=True,
                )
                rows.append(row)
            summary = summarize(rows)
            section = render(rows, summary, command=command, total_seconds=time.perf_counter() - t0, chance=chance)
            print(section)
            dump["own"] = {"rows": rows, "summary": summary}
            if not args.no_doc:
                write_doc(section)
        if args.family in ("independent", "both"):
            from bench.independent.worlds import make_worlds

            t0 = time.perf_counter()
            rows = []
            for world in make_worlds(args.worlds, args.world_seed):
                row = run_world(
                    world,
                    chance=chance,
                    compare=args.compare_chance,
                    samples=args.samples,
                    seed=0,
                    workdir=Path(tmp),
                    promise_bound=args.promise_bound or args.promise_bound_sd is not None,
                    promise_bound_sd=args.promise_bound_sd,
                )
                o = row["methods"]["optimizer"]
                roas = "none" if o["roas"] is None else f"{o['roas']:.2f}"
                print(
                    f"world {row['seed']} ({row['floor_kind']}): optimizer {o['pct_oracle']:.1f}% of oracle, true ROAS "
                    f"{roas} vs floor {row['floor']:.2f} ({'ok' if o['floor_holds'] else 'BELOW'}), spend "
                    f"{o['spend'] / row['budget']:.0%} of budget, P(floor) {o.get('p_floor')}, "
                    f"{'refused: ' + row['errors'].get('optimizer', '') if o.get('refused') else ''}",
                    flush=True,
                )
                rows.append(row)
            summary = summarize(rows)
            section = render_independent(
                rows, summary, command=command, total_seconds=time.perf_counter() - t0, chance=chance
            )
            print(section)
            dump["independent"] = {"rows": rows, "summary": summary}
            if not args.no_doc:
                write_doc(section, INDEPENDENT_START, INDEPENDENT_END)
    if args.json:
        Path(args.json).write_text(json.dumps(dump, indent=2, default=str))


if __name__ == "__main__":
    main()

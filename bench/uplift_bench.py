"""Uplift (CATE) benchmark: PEHE of econml's T-, X- and DR-learners against a constant-ATE baseline.

    .venv/bin/python bench/uplift_bench.py [--reps 10] [--n 1000] [--retail-n 20000] [--no-doc]

Families (both offline):
- IHDP response surfaces A (constant effect) and B (heterogeneous), Hill (2011), as econml ships them; ``--reps``
  replications of the outcome surface (random_state 0..reps-1), 747 children, 25 covariates.
- Nie & Wager setups A-D (causalml's ``synthetic_data`` modes 1-4, reimplemented in demo.engine.uplift_data),
  ``--n`` rows, 5 covariates, sigma 1, seeds 0..reps-1 (numpy RandomState, as ``np.random.seed`` would give causalml).
- The product's own case (demo.engine.uplift_data.retail_media_experiment): a randomized exposure test of
  ``--retail-n`` shoppers, sales outcome, at the generator's realistic conversion lifts and at five times them
  (propensity known: ``randomized=True``).

Each replication runs ``fit_uplift`` once (70/30 split stratified by treatment, propensity estimated) and scores every
learner, the baseline (AIPW ATE of the training split, predicted for everybody) and the model ``fit_uplift`` chose,
by PEHE = sqrt(mean((tau_hat - tau)^2)) on the validation rows, which no model saw. The table goes into
docs/benchmarks.md between the ``uplift`` markers unless --no-doc.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._common import commit as _commit  # noqa: E402
from bench._common import cpu_model as _cpu  # noqa: E402
from bench._common import write_section  # noqa: E402
from demo.engine.uplift_data import ihdp_surface, nie_wager_setup, retail_media_experiment  # noqa: E402
from optimizer.engine.uplift import LEARNERS, fit_uplift  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- uplift:start -->"
END_MARK = "<!-- uplift:end -->"
COLUMNS = ("baseline", *LEARNERS, "chosen")
SETUP_NAMES = {
    1: "A: hard nuisance, easy effect",
    2: "B: randomized trial",
    3: "C: constant effect",
    4: "D: unrelated arms",
}


def families(reps: int, n: int, retail_n: int):
    for surface, label in (("A", "IHDP A (constant effect)"), ("B", "IHDP B (heterogeneous)")):
        yield "IHDP", label, [lambda r=r, s=surface: ihdp_surface(s, r) for r in range(reps)], False
    for mode in (1, 2, 3, 4):
        label = f"Nie & Wager {SETUP_NAMES[mode]} (mode {mode}, n={n})"
        makers = [lambda r=r, m=mode: nie_wager_setup(m, n, 5, 1.0, rng=np.random.RandomState(r)) for r in range(reps)]
        yield "synthetic", label, makers, False
    if retail_n:
        for scale, what in ((1.0, "realistic lift"), (5.0, "lift x5")):
            label = f"retail exposure test, {what} (n={retail_n})"
            makers = [lambda r=r, k=scale: retail_media_experiment(retail_n, seed=r, lift_scale=k) for r in range(reps)]
            yield "retail", label, makers, True


def run_family(makers, randomized: bool) -> dict:
    pehes = {c: [] for c in COLUMNS}
    chosen = []
    seconds = []
    for rep, make in enumerate(makers):
        data = make()
        began = time.perf_counter()
        result = fit_uplift(
            data.X, data.treatment, data.outcome, seed=rep, true_cate=data.true_cate, randomized=randomized
        )
        seconds.append(time.perf_counter() - began)
        for name in ("baseline", *LEARNERS):
            pehes[name].append(result.metrics[name].pehe)
        pehes["chosen"].append(result.metrics[result.chosen].pehe)
        chosen.append(result.chosen)
    return {"pehe": {k: np.array(v) for k, v in pehes.items()}, "chosen": chosen, "seconds": float(np.mean(seconds))}


def _cell(pehes: dict, name: str) -> str:
    v, base = pehes[name], pehes["baseline"]
    text = f"{v.mean():.3f} ± {v.std(ddof=1):.3f}"
    if name != "baseline":
        text += f" ({int(np.sum(v < base))}/{len(v)} wins)"
    if name != "baseline" and v.mean() < base.mean():
        text = f"**{text}**"
    return text


def render(rows: list[tuple[str, str, dict]], args) -> str:
    import econml
    import lightgbm
    import sklearn

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {now} on {_cpu()}, {os.cpu_count()} cores (Python {platform.python_version()}, econml "
        f"{econml.__version__}, lightgbm {lightgbm.__version__}, scikit-learn {sklearn.__version__}), at commit "
        f"{_commit()}, by `.venv/bin/python bench/uplift_bench.py --reps {args.reps} --n {args.n} "
        f"--retail-n {args.retail_n}`.",
        "",
        "PEHE on the validation rows (30%, unseen by every model), mean ± standard deviation over replications; "
        "lower is better. *wins* = replications where the learner's PEHE is below the baseline's. *chosen* is the "
        "model `fit_uplift` picked in each replication (the baseline unless a learner beats it on the validation "
        "R-loss with confidence), scored the same way.",
        "",
        "| family | data | reps | constant ATE (baseline) | T-learner | X-learner | DR-learner | chosen | "
        "picked (baseline/T/X/DR) | s per fit |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for family, label, res in rows:
        cells = " | ".join(_cell(res["pehe"], name) for name in COLUMNS)
        picked = "/".join(str(res["chosen"].count(k)) for k in ("baseline", *LEARNERS))
        reps = len(res["chosen"])
        lines.append(f"| {family} | {label} | {reps} | {cells} | {picked} | {res['seconds']:.1f} |")
    lines.append("")
    lines.append("Bold: mean PEHE below the constant-ATE baseline's.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--n", type=int, default=1000, help="rows per synthetic data set")
    parser.add_argument("--retail-n", type=int, default=20000, help="shoppers per retail test (0: skip)")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    rows = []
    for family, label, makers, randomized in families(args.reps, args.n, args.retail_n):
        res = run_family(makers, randomized)
        rows.append((family, label, res))
        means = {k: round(float(v.mean()), 3) for k, v in res["pehe"].items()}
        print(f"{label}: {means} picked {res['chosen']}", flush=True)
    body = render(rows, args)
    print(body)
    if not args.no_doc:
        write_section("uplift", body, heading="## Uplift (CATE)")


if __name__ == "__main__":
    main()

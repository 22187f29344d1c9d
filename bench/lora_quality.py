"""Quality of the task adapters on the embedded base model: every acceptance figure of issue 5's quality bullet.

    DEBUG=1 SECRET_KEY=x .venv/bin/python bench/lora_quality.py [--quick] [--tasks budgeting harmonization creative]

Builds the datasets (ml.engine.datasets, seeded), trains the budgeting and harmonization task adapters (SFT) and
the creative adapter (SFT, then DPO on preference pairs from the SFT adapter), and scores each on held-out rows
(phrasings and retailers the training split never saw) beside the untuned base model:

- budgeting: exact match of the parsed objective JSON (target >= 0.90), JSON validity;
- harmonization: field-mapping F1 on held-out header spellings (target >= 0.85);
- creative: policy-violation rate of generated copy and preference accuracy on held-out pairs, for base, SFT and
  DPO (targets: DPO above SFT on preference accuracy, below it on violation rate).

The base model is settings.BASE_MODEL (prepared with ``manage.py prepare_base_model`` if missing) unless
--base-model names another. Results go to OUT/TASK/result.json (the table is made of every task's latest result, so
``--tasks creative`` reruns one part, and the three tasks can run as three processes) and to the "LoRA quality"
section of docs/benchmarks.md unless --no-doc. --quick trains a few steps on small splits to check the pipeline
(its figures are not the acceptance figures).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import commit, machine, write_section  # noqa: E402

TASKS = ("budgeting", "harmonization", "creative")

# Steps, split sizes and generation lengths. Full: about 55 minutes on a 2-core machine with --threads 2.
# Budgeting trains one epoch of 1280 requests; creative SFT stops at 16 steps (24 already gave copy with no violation on
# the held-out briefs, leaving DPO nothing to lower), then DPO runs 36 steps from it (three passes over the 96 pairs;
# one pass tied SFT's preference accuracy).
PLANS = {
    "full": {
        "budgeting": {"steps": 160, "n_train": 1280, "n_heldout": 60, "max_new_tokens": 110},
        "harmonization": {"steps": 120, "n_train": 960, "n_heldout": 120, "max_new_tokens": 16},
        "creative": {"steps": 16, "n_train": 128, "n_heldout": 48, "max_new_tokens": 100, "dpo_steps": 36,
                     "dpo_lr": 1e-4, "pairs_train": 96, "pairs_heldout": 48},
    },
    "quick": {
        "budgeting": {"steps": 4, "n_train": 32, "n_heldout": 8, "max_new_tokens": 110},
        "harmonization": {"steps": 4, "n_train": 32, "n_heldout": 16, "max_new_tokens": 16},
        "creative": {"steps": 4, "n_train": 32, "n_heldout": 6, "max_new_tokens": 100, "dpo_steps": 2,
                     "pairs_train": 16, "pairs_heldout": 8},
    },
}  # fmt: skip
SFT_LR = 1e-3
DPO_LR = 1e-4
BATCH = 8
THREADS = 1  # set from --threads in main()


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def default_base_model() -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rmn_site.settings")
    import django

    django.setup()
    from django.conf import settings

    from ml.engine.base import is_ready, prepare_base_model

    path = Path(settings.BASE_MODEL)
    default = Path(settings.MODEL_STORAGE_DIR) / "base" / "SmolLM2-135M-Instruct"
    if path == default and not is_ready(path):
        say(f"Preparing the embedded base model at {path} ...")
        prepare_base_model(path, progress=say)
    return str(path)


def train_adapter(*, base_model: str, method: str, dataset: Path, output: Path, steps: int, lr: float, reference=None):
    import shutil

    from ml.engine.training import TrainConfig, train

    shutil.rmtree(output, ignore_errors=True)
    cfg = TrainConfig(
        base_model=base_model,
        method=method,
        dataset=dataset,
        output=output,
        reference_adapter=reference,
        max_steps=steps,
        batch_size=BATCH,
        learning_rate=lr,
        max_length=512,
        seed=0,
        threads=THREADS,
    )

    def progress(p: dict) -> None:
        if p["step"] == 1 or p["step"] % 10 == 0 or p["step"] == p["total_steps"]:
            extra = f", reward acc {p['reward_accuracy']:.2f}" if p.get("reward_accuracy") is not None else ""
            say(f"  {method} step {p['step']}/{p['total_steps']} loss {p['loss']:.3f}{extra}")

    result = train(cfg, on_progress=progress)
    say(f"  {method} trained {result.steps} steps in {result.seconds:.0f} s (final loss {result.final_loss:.3f})")
    return result


def serving(base_model: str, adapters: dict[str, Path]):
    """The runtime that serves requests (ml.engine.runtime.LoRARuntime) with ``adapters`` (key -> folder) loaded: the
    figures are what a request composed of one adapter gets."""
    from ml.engine.runtime import AdapterRef, LoRARuntime

    runtime = LoRARuntime(base_model)
    for key, path in adapters.items():
        runtime.ensure_loaded(AdapterRef(key, path))
    return runtime


def score(task: str, rows: list[dict], runtime, adapter: str | None, max_new_tokens: int) -> dict:
    from ml.engine.evaluation import evaluate_task
    from ml.engine.runtime import Composition

    composition = Composition((adapter,)) if adapter else None
    started = time.monotonic()
    metrics = evaluate_task(
        task, rows, lambda batch: runtime.generate(batch, composition, max_new_tokens=max_new_tokens)
    )  # fmt: skip
    metrics["eval_seconds"] = round(time.monotonic() - started, 1)
    return metrics


def pref(pairs: list[dict], runtime, adapter: str | None) -> list[tuple[float, float]]:
    from ml.engine.evaluation import pair_logprobs
    from ml.engine.runtime import Composition

    with runtime.using(Composition((adapter,)) if adapter else None) as (model, tokenizer):
        return pair_logprobs(model, tokenizer, pairs)


def _accuracy(scores: list[tuple[float, float]]) -> float:
    return sum(c > r for c, r in scores) / len(scores)


def run_task(task: str, plan: dict, base_model: str, out: Path) -> dict:
    from ml.engine.datasets import build, build_preference_pairs, write_jsonl

    p = plan[task]
    started = time.monotonic()
    train_rows, held_rows = build(task, seed=0, n_train=p["n_train"], n_heldout=p["n_heldout"])
    write_jsonl(train_rows, out / task / "train.jsonl")
    write_jsonl(held_rows, out / task / "heldout.jsonl")
    say(f"{task}: {len(train_rows)} training rows, {len(held_rows)} held-out rows")
    result: dict = {"train_rows": len(train_rows), "heldout_rows": len(held_rows), "sft_steps": p["steps"],
                    "sft_lr": p.get("sft_lr", SFT_LR)}  # fmt: skip
    say(f"{task}: scoring the untuned base model ...")
    result["base"] = score(task, held_rows, serving(base_model, {}), None, p["max_new_tokens"])
    sft_dir = out / task / "adapter-sft"
    trained = train_adapter(
        base_model=base_model, method="sft", dataset=out / task / "train.jsonl", output=sft_dir, steps=p["steps"],
        lr=p.get("sft_lr", SFT_LR),
    )  # fmt: skip
    result["sft_train_seconds"] = round(trained.seconds, 1)
    result["sft_final_loss"] = trained.final_loss
    say(f"{task}: scoring the SFT adapter ...")
    result["sft"] = score(task, held_rows, serving(base_model, {"sft": sft_dir}), "sft", p["max_new_tokens"])
    if task == "creative":
        pairs_train, pairs_held = build_preference_pairs(seed=0, n_train=p["pairs_train"], n_heldout=p["pairs_heldout"])
        write_jsonl(pairs_train, out / task / "pairs-train.jsonl")
        write_jsonl(pairs_held, out / task / "pairs-heldout.jsonl")
        dpo_dir = out / task / "adapter-dpo"
        trained = train_adapter(
            base_model=base_model, method="dpo", dataset=out / task / "pairs-train.jsonl", output=dpo_dir,
            steps=p["dpo_steps"], lr=p.get("dpo_lr", DPO_LR), reference=sft_dir,
        )  # fmt: skip
        result.update(
            dpo_steps=p["dpo_steps"], dpo_lr=p.get("dpo_lr", DPO_LR), dpo_train_seconds=round(trained.seconds, 1),
            pairs=len(pairs_held),
        )  # fmt: skip
        result["dpo_final_loss"] = trained.final_loss
        say(f"{task}: scoring the DPO adapter and preference accuracy on {len(pairs_held)} held-out pairs ...")
        runtime = serving(base_model, {"sft": sft_dir, "dpo": dpo_dir})
        result["dpo"] = score(task, held_rows, runtime, "dpo", p["max_new_tokens"])
        base_scores, sft_scores, dpo_scores = (pref(pairs_held, runtime, a) for a in (None, "sft", "dpo"))
        result["base"]["preference_accuracy"] = _accuracy(base_scores)
        result["sft"]["preference_accuracy"] = _accuracy(sft_scores)
        result["dpo"]["preference_accuracy"] = _accuracy(dpo_scores)
        # DPO's implicit reward: chosen wins when its log-probability gain over the SFT reference beats the rejected's.
        result["dpo"]["reward_accuracy_vs_sft"] = sum(
            (c - rc) > (r - rr) for (c, r), (rc, rr) in zip(dpo_scores, sft_scores, strict=True)
        ) / len(pairs_held)
        result["pairs_by_violation"] = _by_violation(pairs_held, base_scores, sft_scores, dpo_scores)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def _by_violation(pairs, *scores) -> dict:
    """Preference accuracy of base, SFT and DPO per kind of violation in the held-out pairs."""
    out: dict[str, dict] = {}
    for i, pair in enumerate(pairs):
        kind = pair["meta"]["violation"]
        entry = out.setdefault(kind, {"n": 0, "base": 0, "sft": 0, "dpo": 0})
        entry["n"] += 1
        for name, model_scores in zip(("base", "sft", "dpo"), scores, strict=True):
            entry[name] += model_scores[i][0] > model_scores[i][1]
    return out


def _f(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def _steps(result: dict) -> str:
    return f"{result['sft_steps']} (lr {result.get('sft_lr', SFT_LR):g})"


def render(results: dict) -> str:
    meta = results.get("meta", {})
    lines = [
        "## LoRA quality (task adapters on the embedded model)",
        "",
        f"On {meta.get('machine', '?')}; base model {meta.get('base_model_name', '?')}. "
        "Held-out rows use phrasings and retailers the training split never saw (docs/evaluation.md). "
        f"LoRA r=16, alpha 32, all linear layers, batch {BATCH}, DPO beta 0.1; steps and learning rates in the table.",
        "",
        "| Task | Metric | Target | Untuned base | SFT adapter | DPO adapter | Steps (batch 8) | Train s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    b = results.get("budgeting")
    if b:
        lines.append(
            f"| budgeting ({b['heldout_rows']} held-out) | exact match | ≥ 0.90 | {_f(b['base']['exact_match'])} | "
            f"**{_f(b['sft']['exact_match'])}** | | {_steps(b)} | {b['sft_train_seconds']:.0f} |"
        )
        lines.append(
            f"| | JSON valid | | {_f(b['base']['json_valid_rate'])} | {_f(b['sft']['json_valid_rate'])} | | | |"
        )
    h = results.get("harmonization")
    if h:
        lines.append(
            f"| harmonization ({h['heldout_rows']} held-out) | field F1 | ≥ 0.85 | {_f(h['base']['field_f1'])} | "
            f"**{_f(h['sft']['field_f1'])}** | | {_steps(h)} | {h['sft_train_seconds']:.0f} |"
        )
        lines.append(
            f"| | precision / recall | | {_f(h['base']['precision'])} / {_f(h['base']['recall'])} | "
            f"{_f(h['sft']['precision'])} / {_f(h['sft']['recall'])} | | | |"
        )
    c = results.get("creative")
    if c:
        lines.append(
            f"| creative ({c['heldout_rows']} held-out briefs) | policy-violation rate | DPO < SFT | "
            f"{_f(c['base']['violation_rate'])} | {_f(c['sft']['violation_rate'])} | "
            f"**{_f(c['dpo']['violation_rate'])}** | {_steps(c)} + {c['dpo_steps']} (lr {c.get('dpo_lr', DPO_LR):g}) | "
            f"{c['sft_train_seconds']:.0f} + {c['dpo_train_seconds']:.0f} |"
        )
        lines.append(
            f"| | JSON valid | | {_f(c['base']['json_valid_rate'])} | {_f(c['sft']['json_valid_rate'])} | "
            f"{_f(c['dpo']['json_valid_rate'])} | | |"
        )
        lines.append(
            f"| creative ({c['pairs']} held-out pairs) | preference accuracy | DPO > SFT | "
            f"{_f(c['base']['preference_accuracy'])} | {_f(c['sft']['preference_accuracy'])} | "
            f"**{_f(c['dpo']['preference_accuracy'])}** | | |"
        )
        lines.append(
            f"| | DPO implicit-reward accuracy vs the SFT reference | | | | {_f(c['dpo']['reward_accuracy_vs_sft'])} "
            "| | |"
        )
    done = [t for t in TASKS if t in results]
    total = sum(results[t]["seconds"] for t in done)
    metas = {(results[t]["meta"]["command"], results[t]["meta"]["commit"], results[t]["meta"]["when"]) for t in done}
    if len(metas) == 1 and len(done) == len(TASKS):
        command, commit_, when = metas.pop()
        lines += ["", f"All figures from one run: `{command}` (commit {commit_}, started {when}, "
                      f"{total / 60:.0f} min: datasets, training and scoring of every task)."]  # fmt: skip
    else:
        runs = [
            f"- {t}: `{results[t]['meta']['command']}` (commit {results[t]['meta']['commit']}, "
            f"{results[t]['meta']['when']})"
            for t in done
        ]
        lines += ["", "Runs (each task in its own process; the machine line names the newest run's threads):", *runs]
        lines += ["", f"Wall time of the parts above: {total / 60:.1f} min (datasets, training and scoring)."]
    c = results.get("creative")
    if c and c.get("pairs_by_violation"):
        parts = [
            f"{kind.replace('_', ' ')} {v['base']}/{v['sft']}/{v['dpo']} of {v['n']}"
            for kind, v in sorted(c["pairs_by_violation"].items())
        ]
        lines += ["", "Held-out pairs ranked right, base/SFT/DPO, by the violation in the rejected copy: "
                      + "; ".join(parts) + "."]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps on small splits: checks the pipeline")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--base-model", help="model folder or id (default: settings.BASE_MODEL)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "rmn-lora-quality")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: on a shared 2-core machine, 2 threads per process ran 2x slower than 1)",
    )
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--render", action="store_true", help="train nothing: write the table from --out's results")
    parser.add_argument(
        "--set", action="append", default=[], metavar="TASK.KEY=N",
        help="override one number of the plan, e.g. creative.dpo_steps=8 (repeatable)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base_model = args.base_model or default_base_model()
    plan = {task: dict(values) for task, values in PLANS["quick" if args.quick else "full"].items()}
    for item in args.set:
        try:
            key, value = item.split("=", 1)
            task, name = key.split(".", 1)
            if name not in plan[task] and name not in ("sft_lr", "dpo_lr"):
                raise KeyError(name)
            plan[task][name] = float(value) if name.endswith("_lr") else int(value)
        except (ValueError, KeyError) as exc:
            parser.error(f"--set {item!r}: expected TASK.KEY=N with a key of PLANS ({exc}).")
    out = args.out / ("quick" if args.quick else "full")
    out.mkdir(parents=True, exist_ok=True)
    global THREADS
    THREADS = torch.get_num_threads()
    meta = {
        "command": " ".join(["python bench/lora_quality.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(f"torch {torch.__version__}", f"{torch.get_num_threads()} threads"),
        "commit": commit(),
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "base_model_name": Path(base_model).name,
        "quick": args.quick,
    }
    for task in [] if args.render else args.tasks:
        result = run_task(task, plan, base_model, out)
        result["meta"] = meta
        (out / task / "result.json").write_text(json.dumps(result, indent=2) + "\n")
        say(f"{task}: done in {result['seconds']:.0f} s")
    # Every task's latest result, so the tasks can run as separate processes (--tasks) and still make one table.
    results = {}
    for task in TASKS:
        path = out / task / "result.json"
        if path.is_file():
            results[task] = json.loads(path.read_text())
    # The table names the run of the newest result (its machine, commit and time).
    results["meta"] = max((r["meta"] for r in results.values()), key=lambda m: m["when"], default=meta)
    text = render(results)
    print(text)
    if not args.no_doc:
        write_section("lora-quality", text)
    return results


if __name__ == "__main__":
    main()

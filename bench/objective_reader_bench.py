"""The plan in words, measured on phrasings written by someone who never saw the training templates (issue 17.5).

    DEBUG=1 SECRET_KEY=x .venv/bin/python bench/objective_reader_bench.py [--phrasings FILE] [--answers FILE]
        [--adapter DIR] [--limit N] [--threads 1] [--no-doc]

Three ways to fill the plan form from a marketer's text, scored against each phrasing's expected fields:

- the adapter alone: the demo's budgeting adapter (40 SFT steps, as ``make demo`` trains it), its answer parsed as
  the page did before the reader (an answer that is not a plan is an error; a missing period is the 28-day default);
- the reader alone: optimizer.engine.objective_reader (deterministic), a missing budget or period or another
  currency than the tenant's (USD) is a question;
- both (the adapter forced on): optimizer.objective_text.cross_check, the adapter's answer read field by field (a
  field it left out, gave as null or off-schema is no vote); a field where the two disagree is a question;
- the product as a demo user gets it: the adapter is promoted only when its exact match on the held-out rows
  (``EVAL_ROWS`` of the task's held-out split, as ``demo_train_adapters`` scores it) beats the plan reader's on the
  same rows (ml.eval_services); not promoted, the page reads with the reader alone.

"Fields right when filled": of the phrasings a system filled without a question, those with every field right (a
phrasing that needed a question, and was filled anyway, counts as wrong). "Filled without a question": of the
phrasings that are complete in USD, those filled without one. Goals: >= 99% and >= 85%.

The adapter's answers are generated once and kept in ``--answers`` (a JSON file, text -> raw output), so scoring
again costs nothing; ``--adapter`` names a trained adapter folder, else one is trained (40 steps, seed 0) into
var/bench/objective_reader/adapter on settings.BASE_MODEL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import commit, machine, write_section  # noqa: E402

PHRASINGS = ROOT / "bench" / "independent" / "phrasings.jsonl"
WORK = ROOT / "var" / "bench" / "objective_reader"
TENANT_CURRENCY = "USD"
DEFAULT_OBJECTIVE = "incremental_margin"  # the plan form's first choice, what an unstated objective becomes
# The demo's retailers (demo/seed.py) and Kroger, the codes the phrasings use: code, name.
RETAILERS = [("amazon", "Amazon Ads"), ("walmart", "Walmart Connect"), ("target", "Roundel (Target)"),
             ("instacart", "Instacart Ads"), ("kroger", "Kroger Precision Marketing"),
             ("criteo", "Criteo Retail Media")]  # fmt: skip
DEMO_STEPS = 40
EVAL_ROWS = 30  # demo_train_adapters --eval-limit
MAX_NEW_TOKENS = 160  # a budgeting answer with caps is under 100 tokens; the page allows 256


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the adapter's answers (the only part that needs the model) -----------------------------------------------------


def base_model() -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rmn_site.settings")
    import django

    django.setup()
    from django.conf import settings

    from ml.engine.base import is_ready, prepare_base_model

    path = Path(settings.BASE_MODEL)
    if path == Path(settings.MODEL_STORAGE_DIR) / "base" / "SmolLM2-135M-Instruct" and not is_ready(path):
        say(f"Preparing the embedded base model at {path} ...")
        prepare_base_model(path, progress=say)
    return str(path)


def train_demo_adapter(base: str, output: Path, threads: int) -> None:
    """The budgeting adapter ``make demo`` trains: the task's default split, 40 SFT steps, batch 8, seed 0."""
    from ml.engine.datasets import build, write_jsonl
    from ml.engine.training import TrainConfig, train

    rows, _held = build("budgeting", seed=0)
    data = write_jsonl(rows, output.parent / "train.jsonl")
    say(f"Training the demo's budgeting adapter ({DEMO_STEPS} steps on {len(rows)} rows) into {output} ...")
    result = train(
        TrainConfig(base_model=base, method="sft", dataset=data, output=output, max_steps=DEMO_STEPS, threads=threads),
        on_progress=lambda p: (
            p["step"] % 10 == 0 and say(f"  step {p['step']}/{p['total_steps']} loss {p['loss']:.3f}")
        ),
    )
    say(f"Trained in {result.seconds:.0f} s.")


def adapter_answers(texts: list[str], *, answers_path: Path, adapter: Path | None, threads: int) -> dict[str, str]:
    """text -> the adapter's raw answer, generated for the texts not yet in ``answers_path``."""
    answers = json.loads(answers_path.read_text()) if answers_path.exists() else {}
    todo = [t for t in dict.fromkeys(texts) if t not in answers]
    if not todo:
        return answers
    import torch

    torch.set_num_threads(threads)
    from ml.engine.prompts import task_messages
    from ml.engine.runtime import AdapterRef, Composition, LoRARuntime

    base = base_model()
    folder = adapter or WORK / "adapter"
    if not (folder / "adapter_config.json").exists():
        train_demo_adapter(base, folder, threads)
    runtime = LoRARuntime(base)
    runtime.ensure_loaded(AdapterRef("budgeting", folder))
    composition = Composition(("budgeting",))
    started = time.monotonic()
    for i in range(0, len(todo), 8):
        batch = todo[i : i + 8]
        outputs = runtime.generate([task_messages("budgeting", {"text": t}) for t in batch], composition,
                                   max_new_tokens=MAX_NEW_TOKENS)  # fmt: skip
        answers.update(zip(batch, outputs, strict=True))
        answers_path.parent.mkdir(parents=True, exist_ok=True)
        answers_path.write_text(json.dumps(answers, indent=1, ensure_ascii=False))
        say(f"  {i + len(batch)}/{len(todo)} answered ({time.monotonic() - started:.0f} s)")
    return answers


def promotion(*, answers_path: Path, adapter: Path | None, threads: int) -> dict:
    """The promotion rule on the demo adapter: its exact match and the plan reader's on the first ``EVAL_ROWS``
    held-out rows of the budgeting split (greedy, 128 new tokens, as ml.eval_services scores it)."""
    base_model()  # Django set up, the base prepared
    from ml.engine.datasets import build
    from ml.engine.evaluation import evaluate_task
    from ml.eval_services import MAX_NEW_TOKENS, behind_reader, reader_baseline

    _train, held = build("budgeting", seed=0)
    rows = held[:EVAL_ROWS]
    cached = json.loads(answers_path.read_text()) if answers_path.exists() else {}
    keys = [json.dumps(r["prompt"], sort_keys=True) for r in rows]
    todo = [k for k in keys if k not in cached]
    if todo:
        import torch

        torch.set_num_threads(threads)
        from ml.engine.runtime import AdapterRef, Composition, LoRARuntime

        runtime = LoRARuntime(base_model())
        runtime.ensure_loaded(AdapterRef("budgeting", adapter or WORK / "adapter"))
        say(f"Scoring the adapter on {len(todo)} held-out rows ...")
        for i in range(0, len(todo), 8):
            batch = todo[i : i + 8]
            outputs = runtime.generate([json.loads(k) for k in batch], Composition(("budgeting",)),
                                       max_new_tokens=MAX_NEW_TOKENS["budgeting"])  # fmt: skip
            cached.update(zip(batch, outputs, strict=True))
            answers_path.write_text(json.dumps(cached, indent=1, ensure_ascii=False))
    replay = iter([cached[k] for k in keys])
    metrics = evaluate_task("budgeting", rows, lambda batch: [next(replay) for _ in batch])
    metrics = {"exact_match": metrics["exact_match"], "n_eval": float(metrics["n"])}
    metrics.update(reader_baseline(task="budgeting", rows=rows))
    why = behind_reader(metrics)
    return {**metrics, "promoted": why is None, "why": why}


# --- scoring --------------------------------------------------------------------------------------------------------


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(a)))


def wrong_fields(values: dict, expect: dict) -> list[str]:
    """The fields of a filled form that differ from the phrasing's expectation (an unstated objective is the form's
    default; the basis counts only under a floor, an unstated one being attributed)."""
    wrong = []
    if not _close(values["budget"], expect["budget"]):
        wrong.append("budget")
    if values["period_days"] != expect["period_days"]:
        wrong.append("period_days")
    if values["objective"] != (expect["objective"] or DEFAULT_OBJECTIVE):
        wrong.append("objective")
    if not _close(values["min_roas"], expect["min_roas"]):
        wrong.append("min_roas")
    elif expect["min_roas"] is not None and values["roas_basis"] != (expect["roas_basis"] or "attributed"):
        wrong.append("roas_basis")
    caps, expected_caps = values.get("retailer_caps") or {}, expect.get("retailer_caps") or {}
    if (
        sorted(values.get("exclude_retailers") or []) != sorted(expect.get("exclude_retailers") or [])
        or caps.keys() != expected_caps.keys()
        or not all(_close(caps[k], expected_caps[k]) for k in caps)
    ):
        wrong.append("retailers")
    return wrong


def outcome_adapter(output: str) -> tuple[str, dict | None, str | None]:
    """The page before the reader: an answer that is no plan is an error, a missing period the 28-day default."""
    from ml.engine.prompts import parse_answer

    parsed = parse_answer("budgeting", output)
    if parsed is None:
        return "error", None, None
    values = dict(parsed)
    values["period_days"] = int(values["period_days"]) if values["period_days"] else 28
    return "filled", values, None


def outcome_checked(text: str, output: str | None) -> tuple[str, dict | None, str | None]:
    """The page now: the reader alone (``output`` None) or cross-checking the adapter's answer."""
    from ml.engine.prompts import budgeting_fields, parse_answer
    from optimizer.engine.objective_reader import read_objective, retailer_names
    from optimizer.objective_text import adapter_retailers, cross_check

    adapter: dict = {}
    if output is not None:  # an answer with no usable JSON is no vote, as on the page (ml.views._plan_read_result)
        adapter = parse_answer("budgeting", output) or budgeting_fields(output)
    reading = read_objective(text, RETAILERS)
    adapter = adapter_retailers(adapter, retailer_names(RETAILERS))
    check = cross_check(reading, adapter, currency=TENANT_CURRENCY, retailer_names=dict(RETAILERS))
    if check.question is not None:
        return "asked", None, check.question.field
    return "filled", check.values, None


QUESTION_NAMES = {"period_days": "period"}


def score(rows: list[dict], outcomes: list[tuple[str, dict | None, str | None]]) -> dict:
    complete = [i for i, r in enumerate(rows) if r["complete"]]
    incomplete = [i for i, r in enumerate(rows) if not r["complete"]]
    filled = [i for i, (kind, _v, _q) in enumerate(outcomes) if kind == "filled"]
    right = [i for i in filled if rows[i]["complete"] and not wrong_fields(outcomes[i][1], rows[i]["expect"])]
    wrong_by_field: Counter = Counter()
    for i in filled:
        if not rows[i]["complete"]:
            wrong_by_field[f"filled though it needed a question ({rows[i]['question']})"] += 1
        else:
            wrong_by_field.update(wrong_fields(outcomes[i][1], rows[i]["expect"]))
    asked_by_field = Counter(QUESTION_NAMES.get(q, q) or kind for kind, _v, q in outcomes if kind != "filled")
    asked = [i for i in incomplete if outcomes[i][0] != "filled"]
    right_question = [
        i for i in incomplete if QUESTION_NAMES.get(outcomes[i][2], outcomes[i][2]) == rows[i]["question"]
    ]
    return {
        "n": len(rows),
        "complete": len(complete),
        "filled": len(filled),
        "right_when_filled": len(right),
        "filled_complete": sum(1 for i in complete if outcomes[i][0] == "filled"),
        "incomplete": len(incomplete),
        "incomplete_stopped": len(asked),
        "incomplete_right_question": len(right_question),
        "wrong_by_field": dict(wrong_by_field.most_common()),
        "asked_by_field": dict(asked_by_field.most_common()),
    }


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}% ({a}/{b})" if b else "–"


def table(results: dict[str, dict]) -> str:
    lines = [
        "| | fields right when filled (goal ≥ 99%) | filled without a question, of the complete USD phrasings (goal "
        "≥ 85%) | incomplete phrasings stopped (asked or error) | …with the expected question | wrong when filled, "
        "by field | not filled, by question |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        wrong = ", ".join(f"{k} {v}" for k, v in r["wrong_by_field"].items()) or "none"
        asked = ", ".join(f"{k} {v}" for k, v in r["asked_by_field"].items()) or "none"
        lines.append(
            f"| {name} | {pct(r['right_when_filled'], r['filled'])} | {pct(r['filled_complete'], r['complete'])} "
            f"| {pct(r['incomplete_stopped'], r['incomplete'])} "
            f"| {pct(r['incomplete_right_question'], r['incomplete'])} | {wrong} | {asked} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phrasings", type=Path, default=PHRASINGS)
    parser.add_argument("--answers", type=Path, default=WORK / "answers.json")
    parser.add_argument("--adapter", type=Path, help="a trained budgeting adapter folder (default: train the demo's)")
    parser.add_argument("--limit", type=int, help="only the first N phrasings (a trial)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--train-only", action="store_true", help="train the adapter (if missing) and stop")
    parser.add_argument("--no-adapter", action="store_true", help="score the reader alone (no model needed)")
    parser.add_argument(
        "--cached-only", action="store_true", help="score the adapter on the answers in --answers only (a subset)"
    )
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    if args.train_only:
        folder = args.adapter or WORK / "adapter"
        if not (folder / "adapter_config.json").exists():
            import torch

            torch.set_num_threads(args.threads)
            train_demo_adapter(base_model(), folder, args.threads)
        return
    rows = [json.loads(line) for line in args.phrasings.read_text().splitlines() if line.strip()]
    rows = rows[: args.limit] if args.limit else rows
    results = {"reader alone": score(rows, [outcome_checked(r["text"], None) for r in rows])}
    subset = rows
    decision: dict = {}
    if not args.no_adapter:
        if args.cached_only:
            answers = json.loads(args.answers.read_text()) if args.answers.exists() else {}
        else:
            answers = adapter_answers([r["text"] for r in rows], answers_path=args.answers, adapter=args.adapter,
                                      threads=args.threads)  # fmt: skip
        subset = [r for r in rows if r["text"] in answers]
        if len(subset) < len(rows):
            results[f"reader alone, the {len(subset)} the adapter answered"] = score(
                subset, [outcome_checked(r["text"], None) for r in subset]
            )
        outputs = [answers[r["text"]] for r in subset]
        results["adapter alone (the page before)"] = score(subset, [outcome_adapter(o) for o in outputs])
        both = score(subset, [outcome_checked(r["text"], o) for r, o in zip(subset, outputs, strict=True)])
        results["adapter + reader (the adapter forced on)"] = both
        decision = promotion(answers_path=args.answers.with_name("heldout_answers.json"), adapter=args.adapter,
                             threads=args.threads)  # fmt: skip
        alone = results.get(f"reader alone, the {len(subset)} the adapter answered", results["reader alone"])
        product = both if decision["promoted"] else alone
        verdict = "promoted: adapter + reader" if decision["promoted"] else "not promoted: the reader alone"
        results[f"the product with the promotion rule ({verdict})"] = product
    print(table(results))
    if decision:
        print(f"Promotion: {decision}")
    if args.no_doc:
        return
    complete = sum(r["complete"] for r in rows)
    text = (
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {machine()} (shared with other sessions, busy), at "
        f"commit {commit()}, by `DEBUG=1 SECRET_KEY=x .venv/bin/python bench/objective_reader_bench.py"
        f"{' --no-adapter' if args.no_adapter else ''}{f' --limit {args.limit}' if args.limit else ''}`. "
        f"{len(rows)} phrasings from `{args.phrasings.relative_to(ROOT)}` ({complete} complete in USD, "
        f"{len(rows) - complete} needing a question), written by a session that never saw the adapter's training "
        f"templates; tenant currency USD. The adapter: the demo's budgeting adapter ({DEMO_STEPS} SFT steps, seed 0, "
        f"SmolLM2-135M-Instruct), greedy, at most {MAX_NEW_TOKENS} new tokens"
        + (f", on the first {len(subset)} phrasings only (CPU time)" if len(subset) < len(rows) else "")
        + ".\n\n"
        + table(results)
        + "\n"
        + (
            f"\nThe promotion rule (ml.eval_services): on the first {EVAL_ROWS} held-out rows of the budgeting split, "
            f"the adapter's exact match {decision['exact_match']:.3f} against the plan reader's "
            f"{decision['reader_exact_match']:.3f}: "
            + ("promoted." if decision["promoted"] else f"not promoted ({decision['why']}).")
            + "\n"
            if decision
            else ""
        )
    )
    write_section("objective_reader", text, heading="## The plan in words: reader, adapter and both (issue 17.5)")


if __name__ == "__main__":
    main()

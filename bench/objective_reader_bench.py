"""The plan in words, measured on phrasings written by someone who never saw the training templates (issue 17.5).

    DEBUG=1 SECRET_KEY=x .venv/bin/python bench/objective_reader_bench.py [--phrasings FILE] [--answers FILE]
        [--adapter DIR] [--limit N] [--threads 1] [--no-doc]

Three ways to fill the plan form from a marketer's text, scored against each phrasing's expected fields:

- the adapter alone: the demo's budgeting adapter (40 SFT steps, as ``make demo`` trains it), its answer parsed as
  the page did before the reader (an answer that is not a plan is an error; a missing period is the 28-day default);
- the reader alone: optimizer.engine.objective_reader (deterministic), a missing budget or period or another
  currency than the tenant's (USD) is a question;
- both (the page today): optimizer.objective_text.cross_check, a field where the two disagree is a question.

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
        on_progress=lambda p: p["step"] % 10 == 0 and say(f"  step {p['step']}/{p['total_steps']} loss {p['loss']:.3f}"),
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
                                   max_new_tokens=110)  # fmt: skip
        answers.update(zip(batch, outputs, strict=True))
        answers_path.parent.mkdir(parents=True, exist_ok=True)
        answers_path.write_text(json.dumps(answers, indent=1, ensure_ascii=False))
        say(f"  {i + len(batch)}/{len(todo)} answered ({time.monotonic() - started:.0f} s)")
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phrasings", type=Path, default=PHRASINGS)
    parser.add_argument("--answers", type=Path, default=WORK / "answers.json")
    parser.add_argument("--adapter", type=Path, help="a trained budgeting adapter folder (default: train the demo's)")
    parser.add_argument("--limit", type=int, help="only the first N phrasings (a trial)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--train-only", action="store_true", help="train the adapter (if missing) and stop")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    if args.train_only:
        folder = args.adapter or WORK / "adapter"
        if not (folder / "adapter_config.json").exists():
            import torch

            torch.set_num_threads(args.threads)
            train_demo_adapter(base_model(), folder, args.threads)
        return


if __name__ == "__main__":
    main()

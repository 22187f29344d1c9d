"""Evaluating a stored adapter on a held-out dataset, recording the figures on it, and promoting it only when it
beats the active version on its task's headline metric (ml.engine.evaluation.HEADLINE_METRIC) and, for budgeting, the
plan reader the adapter is meant to help (optimizer.engine.objective_reader, which fills the plan form without any
adapter): an adapter that reads plans worse than the rules alone would only add questions and wrong fields."""

from __future__ import annotations

import json

from django.db import transaction

from core.errors import DomainError
from governance.services import audit_record
from ml.engine.datasets import DatasetError, read_jsonl
from ml.engine.datasets.common import display_name
from ml.engine.evaluation import HEADLINE_METRIC, evaluate_reader, evaluate_task, preference_accuracy
from ml.engine.prompts import TASKS
from ml.engine.runtime import Composition, LoRARuntime
from ml.inference import adapter_ref
from ml.models import Adapter
from ml.services import adapter_promote
from optimizer.engine.objective_reader import read_objective
from optimizer.objective_text import reading_answer

MAX_NEW_TOKENS = {"budgeting": 128, "harmonization": 16, "creative": 128, "measurement": 64}


def load_rows(*, task: str, dataset_path: str, limit: int | None = None) -> list[dict]:
    """Rows of an evaluation dataset for ``task``: SFT rows, or for creative also preference pairs."""
    if task not in TASKS:
        raise DomainError(f"Unknown task {task!r}; use one of {', '.join(TASKS)}.", field="task")
    if limit is not None and limit < 1:
        raise DomainError(f"limit must be at least 1, not {limit}.", field="limit")
    try:
        rows = read_jsonl(dataset_path)
    except DatasetError as exc:
        raise DomainError(str(exc), field="dataset_path") from exc
    if not rows:
        raise DomainError(f"{dataset_path} holds no rows.", field="dataset_path")
    for number, row in enumerate(rows, start=1):
        if row.get("task", task) != task:
            raise DomainError(f"{dataset_path}, row {number} is a {row['task']!r} row, not {task!r}.", field="task")
        needed = ("prompt", "chosen", "rejected") if "chosen" in row else ("prompt", "completion")
        if "chosen" in row and task != "creative":
            raise DomainError(
                f"{dataset_path}, row {number}: preference pairs are scored for creative only.", field="task"
            )
        missing = [k for k in needed if k not in row]
        if missing:
            raise DomainError(f"{dataset_path}, row {number} lacks {', '.join(missing)}.", field="dataset_path")
    return rows[:limit] if limit else rows


def evaluate_model(*, runtime, composition, task: str, rows: list[dict]) -> dict:
    """Numeric metrics of one composition (None: the base model) served by ``runtime``
    (ml.engine.runtime.LoRARuntime, the code that serves requests), preference accuracy too when the rows are pairs."""

    def predict(batch: list[list[dict]]) -> list[str]:
        return runtime.generate(batch, composition, max_new_tokens=MAX_NEW_TOKENS[task])

    metrics = evaluate_task(task, rows, predict)
    if all("chosen" in row for row in rows):
        with runtime.using(composition) as (model, tokenizer):
            metrics["preference_accuracy"] = preference_accuracy(model, tokenizer, rows)
    metrics["n_eval"] = metrics.pop("n")
    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def reader_baseline(*, task: str, rows: list[dict]) -> dict | None:
    """The plan reader's figures on ``rows`` (budgeting only, else None), keyed ``reader_<metric>``. The reader is told
    the retailers the rows name, as the plans page tells it the tenant's."""
    if task != "budgeting":
        return None
    codes: set[str] = set()
    for row in rows:
        truth = json.loads(row["completion"][-1]["content"])
        codes.update(truth.get("retailer_caps") or {}, truth.get("exclude_retailers") or [])
    retailers = [(code, display_name(code)) for code in sorted(codes)]
    figures = evaluate_reader(task, rows, lambda text: reading_answer(read_objective(text, retailers)))
    return {"reader_exact_match": figures["exact_match"], "reader_answered": figures["answered"]}


def behind_reader(metrics: dict) -> str | None:
    """Why an adapter with these ``metrics`` does not beat the plan reader on the same rows (its exact match is not
    above the reader's); None when it does, or when it was not compared with the reader (not a budgeting adapter)."""
    reader = metrics.get("reader_exact_match")
    if reader is None:
        return None
    mine = metrics.get("exact_match", 0.0)
    if mine > reader:
        return None
    return (
        f"its exact match {mine:.3f} does not beat the plan reader's {reader:.3f} on the same "
        f"{int(metrics.get('n_eval', 0))} held-out rows, so the plans page reads plans with the plan reader alone"
    )


def adapter_evaluate(
    *, adapter: Adapter, task: str, dataset_path: str, user=None, promote: bool = False, limit: int | None = None
) -> dict:
    """Score ``adapter`` on ``dataset_path``, merge the figures into ``adapter.metrics`` and, with ``promote``, make
    it active when it strictly beats the active version on the task's headline metric (or none is active).

    Returns ``{"task", "metric", "metrics", "promoted", "promotion_error"}``.
    """
    rows = load_rows(task=task, dataset_path=dataset_path, limit=limit)
    if not adapter.files_dir.is_dir():
        raise DomainError(f"{adapter} has no files at {adapter.files_dir}.", field="path")
    # A runtime of its own: the base may not be settings.BASE_MODEL, and scoring a candidate must not fill the
    # serving runtime's cache.
    runtime = LoRARuntime(adapter.base_model)
    ref = adapter_ref(adapter)
    runtime.ensure_loaded(ref)
    metrics = evaluate_model(runtime=runtime, composition=Composition((ref.key,)), task=task, rows=rows)
    metrics.update(reader_baseline(task=task, rows=rows) or {})
    with transaction.atomic():
        locked = Adapter.objects.select_for_update(of=("self",)).get(pk=adapter.pk)
        locked.metrics = {**(locked.metrics or {}), **metrics}
        locked.save(update_fields=["metrics"])
        audit_record(
            action="adapter.evaluate",
            tenant=locked.tenant,
            user=user,
            obj=locked,
            detail={"task": task, "dataset": str(dataset_path), "metrics": metrics},
        )
    adapter.refresh_from_db()
    result = {"task": task, "metric": HEADLINE_METRIC[task], "metrics": metrics, "promoted": False,
              "promotion_error": None}  # fmt: skip
    if promote:
        behind = behind_reader(metrics)
        try:
            if behind is not None:
                raise DomainError(f"{adapter.name} v{adapter.version} is not promoted: {behind}.", field="metrics")
            adapter_promote(adapter=adapter, user=user, require_better=HEADLINE_METRIC[task])
        except DomainError as exc:
            result["promotion_error"] = exc.message
        else:
            result["promoted"] = True
        adapter.refresh_from_db()
    return result


def base_evaluate(*, base_model: str, task: str, dataset_path: str, limit: int | None = None) -> dict:
    """The untuned base model's figures on the same rows, for comparison (stored nowhere)."""
    rows = load_rows(task=task, dataset_path=dataset_path, limit=limit)
    metrics = evaluate_model(runtime=LoRARuntime(base_model), composition=None, task=task, rows=rows)
    return {"task": task, "metric": HEADLINE_METRIC[task], "metrics": metrics}

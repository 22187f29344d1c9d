"""Training and held-out data for the task adapters, from generated data and from the database. Django-free.

``build(task, ...)`` returns ``(train, heldout)`` SFT rows ``{"prompt", "completion", "task", "meta"}``;
``build_preference_pairs(...)`` returns creative DPO rows ``{"prompt", "chosen", "rejected", "task", "meta"}``.
Held-out rows use phrasings and retailers the training rows never contain (see each task's module). ``source`` is
what ml/dataset_sources.py reads from the database: ``{"retailers": [{"code", "name", "policy_specs"}],
"brands": [{"name", "skus": [{"code", "name", "price"}]}], "mappings": [{"retailer", "columns": {field: header}}]}``.
"""

from __future__ import annotations

from ml.engine.datasets import budgeting, creative, harmonization, measurement
from ml.engine.datasets.jsonl import DatasetError, read_jsonl, write_jsonl
from ml.engine.prompts import TASKS

BUILDERS = {
    "budgeting": budgeting.build,
    "harmonization": harmonization.build,
    "creative": creative.build,
    "measurement": measurement.build,
}


def build(
    task: str,
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_heldout: int | None = None,
    source: dict | None = None,
) -> tuple[list[dict], list[dict]]:
    if task not in BUILDERS:
        raise ValueError(f"Unknown task {task!r}; use one of {', '.join(TASKS)}.")
    for name, n in (("n_train", n_train), ("n_heldout", n_heldout)):
        if n is not None and n < 1:
            raise ValueError(f"{name} must be at least 1, not {n}.")
    return BUILDERS[task](seed=seed, n_train=n_train, n_heldout=n_heldout, source=source)


def build_preference_pairs(
    *, seed: int = 0, n_train: int | None = None, n_heldout: int | None = None, source: dict | None = None
) -> tuple[list[dict], list[dict]]:
    return creative.build_preference_pairs(seed=seed, n_train=n_train, n_heldout=n_heldout, source=source)


__all__ = ["TASKS", "DatasetError", "build", "build_preference_pairs", "read_jsonl", "write_jsonl"]

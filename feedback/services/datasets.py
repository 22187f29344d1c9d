"""Datasets from feedback: a tenant's current review answers exported as a stored, versioned training set (DPO, KTO
or SFT JSONL files under MODEL_STORAGE_DIR), split by prompt into train and held-out. The rules (filters, weights,
dedup, split) are feedback.engine.datasets'; this module loads the records, writes the files and the row.

Task ``creative`` exports the "Ad copy" kind of review task: completions are the creative's JSON answer in the
creative task's canonical form (``ml.engine.prompts.answer_text``), a correction is merged over the fields it
corrects. Task ``budgeting`` exports the budget-plan review tasks: the completion is the plan's explanation the
reviewers rated (plans take no corrections, so no correction rows). Other tasks have no review queue yet.

The creative task's policy check (``ExportOptions.drop_policy_violations``, on by default): a row's chosen answer is
checked with ``ml.engine.policy.check_copy`` against the policy of the item's creative's brief (the retailer's
policy as it was when the creative was checked); an item without a creative is not checked. Budget plans have no
policy check.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max

from core.errors import DomainError
from feedback.engine import datasets as engine
from feedback.models import Adjudication, Creative, Feedback, FeedbackDataset, ReviewItem, ReviewTask
from feedback.selectors import reviewer_quality_list
from governance.models import Tenant
from governance.services import audit_record
from ml.engine.policy import check_copy
from ml.engine.prompts import answer_text, parse_answer

# The ml task a dataset trains -> the kind of review task whose feedback it reads.
TASK_KINDS = {"creative": ReviewTask.Kind.CREATIVE, "budgeting": ReviewTask.Kind.PLAN}
PARTS = ("train", "heldout")


def storage_dir() -> Path:
    return Path(settings.MODEL_STORAGE_DIR)


def _check(task: str, fmt: str, options: dict | None) -> engine.ExportOptions:
    if task not in TASK_KINDS:
        raise DomainError(
            f"No review task collects feedback for {task!r}; export one of {', '.join(TASK_KINDS)}.", field="task"
        )
    if fmt not in engine.FORMATS:
        raise DomainError(f"Unknown format {fmt!r}; use one of {', '.join(engine.FORMATS)}.", field="format")
    try:
        return engine.ExportOptions.from_dict(options)
    except ValueError as exc:
        name = str(exc).split(":", 1)[0]
        raise DomainError(str(exc), field=f"options.{name}") from None


def _creative_text(fields: dict | None) -> str:
    return answer_text("creative", fields) if fields else ""


def _item_record(item: ReviewItem, task: str) -> engine.Item:
    content = item.content or {}
    record = engine.Item(id=item.pk, task_id=item.task_id, kind=item.kind, prompt=list(item.prompt or []),
                         status=item.status, is_gold=item.is_gold)  # fmt: skip
    if task == "budgeting":
        record.completion = str(content.get("explanation") or "")
    elif item.kind == ReviewItem.Kind.PAIR:
        record.completion = _creative_text(content.get("a"))
        record.completion_b = _creative_text(content.get("b"))
    else:
        record.completion = _creative_text(content.get("fields"))
    return record


def _records(*, tenant: Tenant, task: str) -> tuple[list[engine.Item], dict[str, tuple[int, int]]]:
    tasks = list(ReviewTask.objects.filter(tenant=tenant, kind=TASK_KINDS[task]).order_by("pk"))
    items = {
        item.pk: _item_record(item, task)
        for item in ReviewItem.objects.filter(tenant=tenant, task__in=tasks).order_by("pk")
    }
    originals: dict[int, dict] = {}  # item id -> the fields a correction is merged over
    answers = (
        Feedback.objects.filter(tenant=tenant, item_id__in=items, is_current=True)
        .select_related("reviewer", "guideline", "item")
        .order_by("pk")
    )
    for fb in answers:
        correction = None
        if fb.correction and task == "creative":
            originals.setdefault(fb.item_id, (fb.item.content or {}).get("fields") or {})
            correction = _creative_text({**originals[fb.item_id], **fb.correction})
        items[fb.item_id].answers.append(
            engine.Answer(
                id=fb.pk, reviewer=fb.reviewer.get_username(), thumb=fb.thumb, preference=fb.preference,
                ratings=fb.ratings or {}, correction=correction,
                guideline_version=fb.guideline.version if fb.guideline_id else None,
            )
        )  # fmt: skip
    for ruling in Adjudication.objects.filter(tenant=tenant, item_id__in=items).order_by("pk"):
        items[ruling.item_id].ruling, items[ruling.item_id].ruling_id = ruling.decision, ruling.pk  # the latest stands
    gold: dict[str, tuple[int, int]] = {}
    for review_task in tasks:
        for q in reviewer_quality_list(task=review_task):
            answered, right = gold.get(q.username, (0, 0))
            gold[q.username] = (answered + q.gold_answered, right + q.gold_right)
    return list(items.values()), gold


def _creative_policies(items: list[engine.Item]) -> dict[int, dict]:
    """{item id: the policy of its creative's brief} for the items that have one."""
    rows = ReviewItem.objects.filter(pk__in=[i.id for i in items], creative__isnull=False).values_list(
        "pk", "creative__brief__policy"
    )
    return {pk: policy for pk, policy in rows if isinstance(policy, dict)}


def _creative_policy_check(policies: dict[int, dict]) -> engine.PolicyCheck:
    def check(item: engine.Item, completion: str) -> list[str]:
        policy = policies.get(item.id)
        if policy is None:
            return []
        copy = parse_answer("creative", completion)
        if copy is None:
            return ["not creative copy (no headline and body as JSON)"]
        return [v.reason for v in check_copy(copy, policy)]

    return check


def _approved(*, tenant: Tenant, task: str) -> list[engine.Approved]:
    if task != "creative":
        return []
    creatives = Creative.objects.filter(
        tenant=tenant, status__in=[Creative.Status.APPROVED, Creative.Status.LIVE], compliant=True
    ).order_by("pk")
    return [
        engine.Approved(id=c.pk, prompt=list(c.prompt), completion=_creative_text(c.fields()))
        for c in creatives
        if c.prompt
    ]


def _write(rows: list[dict], path: Path, digest) -> None:
    """Write ``rows`` as JSONL next to ``path`` and move them into place, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        for row in rows:
            line = json.dumps(row, ensure_ascii=False) + "\n"
            digest.update(line.encode())
            out.write(line)
    os.replace(temp, path)


def feedback_dataset_export(
    *, tenant: Tenant, task: str, fmt: str, user=None, options: dict | None = None
) -> FeedbackDataset:
    """Export the tenant's current feedback for ``task`` as rows of ``fmt`` (dpo, kto, sft) into a new version of
    its dataset: the train and held-out JSONL files and the FeedbackDataset with options, provenance and counts.
    Bad input is a DomainError naming the field; nothing is stored then."""
    clean = _check(task, fmt, options)
    items, gold = _records(tenant=tenant, task=task)
    check = _creative_policy_check(_creative_policies(items)) if task == "creative" else None
    result = engine.build(fmt, items=items, gold=gold, options=clean, approved=_approved(tenant=tenant, task=task),
                          policy_check=check)  # fmt: skip
    versions = {(task_id, version) for task_id, version in result.guideline_versions}
    provenance = {
        "feedback_ids": sorted(result.feedback_ids),
        "adjudication_ids": sorted(result.adjudication_ids),
        "item_ids": sorted(result.item_ids),
        "approved_creative_ids": sorted(result.approved_ids),
        "review_task_ids": sorted({item.task_id for item in items if item.id in result.item_ids}),
        "guideline_versions": [{"task": t, "version": v} for t, v in sorted(versions)],
    }
    dropped = dict(sorted(result.dropped.items()))
    counts = {"train": len(result.train), "heldout": len(result.heldout), "dropped": dropped}
    for attempt in range(5):
        latest = FeedbackDataset.objects.filter(tenant=tenant, task=task, format=fmt).aggregate(v=Max("version"))["v"]
        version = (latest or 0) + 1
        folder = Path("datasets") / "feedback" / tenant.slug
        train_path = folder / f"{task}-{fmt}-v{version}-train.jsonl"
        heldout_path = folder / f"{task}-{fmt}-v{version}-heldout.jsonl"
        if (storage_dir() / train_path).exists():  # left by a run whose database row never committed
            (storage_dir() / train_path).unlink()
        digest = hashlib.sha256()
        try:
            _write(result.train, storage_dir() / train_path, digest)
            _write(result.heldout, storage_dir() / heldout_path, digest)
        except OSError as exc:
            message = f"Cannot write the dataset files under {folder}: {exc.strerror}."
            raise DomainError(message, field="storage") from exc
        try:
            with transaction.atomic():
                dataset = FeedbackDataset.objects.create(
                    tenant=tenant, task=task, format=fmt, version=version, options=clean.as_dict(),
                    provenance=provenance, counts=counts, train_path=str(train_path),
                    heldout_path=str(heldout_path), sha256=digest.hexdigest(), created_by=user,
                )  # fmt: skip
                audit_record(
                    action="feedback_dataset.export", tenant=tenant, user=user, obj=dataset,
                    detail={"task": task, "format": fmt, "version": version, "counts": counts},
                )  # fmt: skip
            return dataset
        except IntegrityError:
            if attempt == 4:
                raise
            continue  # another export took this version number at the same moment: take the next one
    raise AssertionError("unreachable")


def feedback_dataset_path(*, dataset: FeedbackDataset, part: str = "train") -> Path:
    """The absolute path of the ``part`` ("train" or "heldout") file of ``dataset``."""
    if part not in PARTS:
        raise DomainError(f"Part must be one of {', '.join(PARTS)}, not {part!r}.", field="part")
    return storage_dir() / (dataset.train_path if part == "train" else dataset.heldout_path)


def feedback_dataset_rows(*, dataset: FeedbackDataset, part: str = "train") -> list[dict]:
    """The rows of the ``part`` file of ``dataset``, as written (TRL's keys plus weight, source, item_ids,
    feedback_ids, reviewers)."""
    path = feedback_dataset_path(dataset=dataset, part=part)
    if not path.is_file():
        raise DomainError(f"The {part} file of {dataset} is missing from the model storage.", field="part")
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]

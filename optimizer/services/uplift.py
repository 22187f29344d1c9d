"""Uplift studies: an exposure test's unit-level file in, who to target out (docs/measurement.md, "Uplift workflow").

The file is read strictly when it is uploaded (optimizer.engine.files.read_exposure_test: a bad line is refused then,
naming the line and column, and nothing is stored); the fit (econml T/X/DR learners against a constant effect,
optimizer.engine.uplift.uplift_report) takes seconds to minutes, so it runs on a worker (task ``optimizer.uplift_fit``,
cpu queue) and the study shows its progress until then.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.bounds import seed_limit_message
from core.errors import DomainError
from governance.models import Tenant
from governance.services import audit_record
from optimizer.engine.errors import OptimizerInputError
from optimizer.engine.files import exposure_parts, read_exposure_test
from optimizer.engine.jsonsafe import json_safe
from optimizer.engine.uplift import LEARNERS, MIN_PER_ARM, uplift_report
from optimizer.models import UpliftStudy
from optimizer.tasks import uplift_fit as uplift_fit_task

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ROWS = 200_000


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _raw(upload) -> bytes:
    """The upload's bytes: ``upload`` is bytes, a path or a file object (a Django UploadedFile)."""
    limit = _limit("UPLIFT_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise DomainError(f"The file is {size / 2**20:.1f} MiB; at most {limit / 2**20:.0f} MiB.", field="file")
    if isinstance(upload, bytes):
        raw = upload
    elif isinstance(upload, Path):
        raw = upload.read_bytes()
    elif hasattr(upload, "read"):
        raw = upload.read(limit + 1)
    else:
        raise DomainError("file must be an uploaded CSV file.", field="file")
    if len(raw) > limit:
        raise DomainError(f"The file is larger than {limit / 2**20:.0f} MiB.", field="file")
    return raw


def _learners(learners: Sequence[str]) -> list[str]:
    chosen = [str(name).strip().lower() for name in learners if str(name).strip()]
    unknown = sorted(set(chosen) - set(LEARNERS))
    if unknown or not chosen:
        raise DomainError(
            f"learners: unknown {', '.join(map(repr, unknown)) or '(none given)'}; choose from {', '.join(LEARNERS)}.",
            field="learners",
        )
    return [name for name in LEARNERS if name in chosen]


def uplift_study_create(
    *,
    tenant: Tenant,
    upload,
    file_name: str = "",
    name: str = "",
    learners: Sequence[str] = LEARNERS,
    randomized: bool = False,
    seed: int = 0,
    user=None,
    api_key=None,
    queue: bool = True,
) -> UpliftStudy:
    """Read an exposure test's file (U.csv) strictly, store it as a pending study and queue its fit once the
    transaction commits (``queue=False``: the caller fits it, as the ``uplift`` command does)."""
    file_name = Path(file_name or getattr(upload, "name", "") or "U.csv").name[:255]
    if len(name) > 200:
        raise DomainError("name must be at most 200 characters.", field="name")
    message = seed_limit_message(seed)
    if message:
        raise DomainError(f"seed {message}", field="seed")
    learners = _learners(learners)
    try:
        frame = read_exposure_test(_raw(upload), name=file_name, max_rows=_limit("UPLIFT_MAX_ROWS", DEFAULT_MAX_ROWS))
    except OptimizerInputError as exc:
        raise DomainError(exc.message, field="file") from None
    treated = int(frame["treatment"].sum())
    for arm, count in (("exposed (treatment 1)", treated), ("control (treatment 0)", len(frame) - treated)):
        if count < MIN_PER_ARM:
            raise DomainError(
                f"{file_name} has {count} {arm} line(s); uplift needs at least {MIN_PER_ARM} in each arm.",
                field="file",
            )
    features = [str(c) for c in exposure_parts(frame)[0].columns]
    study = UpliftStudy(
        tenant=tenant,
        name=name.strip() or f"{file_name}: {len(frame):,} units",
        file_name=file_name,
        rows=len(frame),
        treated=treated,
        features=features,
        options={"learners": learners, "randomized": bool(randomized), "seed": seed},
        data=frame.to_csv(index=False),
        created_by=user if getattr(user, "pk", None) else None,
    )
    with transaction.atomic():
        study.save()
        audit_record(
            action="uplift_study.create",
            tenant=tenant,
            user=user,
            api_key=api_key,
            obj=study,
            detail={"rows": study.rows, "treated": treated, "features": features[:20]},
        )
        if queue:
            study.task_id = f"uplift-{study.pk}"
            study.save(update_fields=["task_id"])
            transaction.on_commit(lambda: uplift_fit_task.apply_async((study.pk,), task_id=study.task_id))
    return study


def _claim(study_id: int) -> UpliftStudy | None:
    """Mark the study running; None when it is finished. A running one is taken again: its worker died and the
    message was delivered anew (acks_late), and the fit is deterministic."""
    with transaction.atomic():
        study = UpliftStudy.objects.select_for_update().select_related("tenant").filter(pk=study_id).first()
        if study is None or study.status in (UpliftStudy.Status.SUCCEEDED, UpliftStudy.Status.FAILED):
            return None
        study.status, study.started_at = UpliftStudy.Status.RUNNING, timezone.now()
        study.save(update_fields=["status", "started_at"])
    return study


def uplift_study_fit(study_id: int) -> UpliftStudy:
    """Fit a stored study (the worker's side; idempotent: a finished study is returned as it is)."""
    study = _claim(study_id)
    if study is None:
        return UpliftStudy.objects.get(pk=study_id)
    try:
        frame = read_exposure_test(study.data.encode("utf-8"), name=study.file_name or "U.csv")
        options = study.options or {}
        result = uplift_report(
            *exposure_parts(frame),
            learners=tuple(options.get("learners") or LEARNERS),
            randomized=bool(options.get("randomized")),
            seed=int(options.get("seed") or 0),
        )
    except OptimizerInputError as exc:
        _finish(study, status=UpliftStudy.Status.FAILED, error=exc.message)
    except Exception as exc:
        _finish(study, status=UpliftStudy.Status.FAILED, error=f"internal error ({type(exc).__name__}): {exc}")
        raise
    else:
        _finish(study, status=UpliftStudy.Status.SUCCEEDED, result=json_safe(result))
    return study


def _finish(study: UpliftStudy, *, status: str, error: str = "", result: dict | None = None) -> None:
    study.status, study.error, study.result = status, error, result or {}
    study.finished_at = timezone.now()
    with transaction.atomic():
        study.save(update_fields=["status", "error", "result", "finished_at"])
        audit_record(
            action="uplift_study.finish",
            tenant=study.tenant,
            actor_label="optimizer",
            obj=study,
            detail={"status": status, "error": error[:500], "chosen": (result or {}).get("chosen")},
        )

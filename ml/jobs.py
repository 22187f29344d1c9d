"""Training jobs: create one (validated, audited, sent to the ``gpu`` queue), run one on a worker, reap dead ones.

A job's life: ``queued`` -> ``running`` (worker "host:pid", heartbeat every few seconds, progress per step) ->
``succeeded`` (a candidate Adapter registered in the same transaction), ``cancelled`` or ``failed``. Files are
renamed into place only when complete (ml.engine.training), and the Adapter row is written only after that, so a worker
that dies mid-job leaves a running job with a stale heartbeat, which ``reap_dead_jobs`` marks failed, removing the
partial files; never an adapter row without files.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import uuid
from datetime import timedelta
from numbers import Real
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.bounds import SEED_MAX, seed_limit_message
from core.errors import LIMIT_REACHED, DomainError, full_clean_or_raise
from core.liveness import Heartbeat, stale, worker_identity
from governance.models import Tenant
from governance.selectors import tenant_limits
from governance.services import audit_record
from ml.engine import training
from ml.engine.prompts import TASKS
from ml.models import Adapter, AdapterKind, TrainingJob, validate_relative_path
from ml.tasks import train_adapter

logger = logging.getLogger(__name__)

# TrainConfig fields a job may set through ``params``; everything else is refused by name.
INT_PARAMS = ("max_steps", "batch_size", "lora_r", "lora_alpha", "max_length", "seed", "threads")
FLOAT_PARAMS = ("learning_rate", "beta", "sft_weight")
# ``feedback_dataset``: the FeedbackDataset a retraining job trains on (feedback.services.retrain); recorded only.
OTHER_PARAMS = ("target_modules", "reference_adapter", "register", "feedback_dataset")
DEFAULT_HEARTBEAT_S = 10.0
DEFAULT_STALE_AFTER_S = 120.0
# A job still queued this long after its message was sent gets a warning and a "Send again" button on its page: no
# gpu worker is running, or the message was lost (a Redis restart without persistence). Jobs wait behind each other
# on one gpu worker, so this is a question to the admin, not a failure.
DEFAULT_QUEUED_WARN_S = 900.0


def storage_dir() -> Path:
    return Path(settings.MODEL_STORAGE_DIR)


def heartbeat_interval_s() -> float:
    return float(getattr(settings, "ML_JOB_HEARTBEAT_S", DEFAULT_HEARTBEAT_S))


# --- create -------------------------------------------------------------------------------------------------------


def _check_params(params: dict) -> dict:
    params = dict(params)
    unknown = sorted(set(params) - set(INT_PARAMS) - set(FLOAT_PARAMS) - set(OTHER_PARAMS))
    if unknown:
        allowed = ", ".join(INT_PARAMS + FLOAT_PARAMS + OTHER_PARAMS)
        raise DomainError(f"params: unknown {', '.join(unknown)} (allowed: {allowed}).", field="params")
    for key in INT_PARAMS:
        value = params.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < (key != "seed")):
            minimum = "0 or more" if key == "seed" else "1 or more"
            raise DomainError(f"params: {key} must be a whole number, {minimum}; got {value!r}.", field="params")
        if key == "seed" and value is not None and value > SEED_MAX:
            raise DomainError(f"params: seed {seed_limit_message(value)}", field="params")
    for key in FLOAT_PARAMS:
        value = params.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, Real) or not 0 < value < 1e3):
            raise DomainError(f"params: {key} must be a positive number, got {value!r}.", field="params")
    lr = params.get("learning_rate")
    if lr is not None and not lr < 1:
        raise DomainError(f"params: learning_rate must be below 1, got {lr!r}.", field="params")
    target = params.get("target_modules")
    if target is not None and not (
        isinstance(target, str) or (isinstance(target, list) and target and all(isinstance(t, str) for t in target))
    ):
        raise DomainError("params: target_modules must be 'all-linear' or a list of module names.", field="params")
    dataset_id = params.get("feedback_dataset")
    if dataset_id is not None and (isinstance(dataset_id, bool) or not isinstance(dataset_id, int) or dataset_id < 1):
        raise DomainError("params: feedback_dataset must be a dataset id.", field="params")
    if "register" in params and not isinstance(params["register"], bool):
        raise DomainError("params: register must be true or false.", field="params")
    return params


def resolve_reference_adapter(*, reference, name: str, tenant: Tenant | None, base_model: str) -> dict:
    """The SFT adapter a DPO job starts from: an Adapter id, a folder, or (None) the active/newest version of the
    adapter being trained. Returns the params entries to store."""
    if isinstance(reference, bool) or not isinstance(reference, int | str | None):
        raise DomainError("reference_adapter must be an adapter id or a folder.", field="reference_adapter")
    if isinstance(reference, str) and not reference.isdigit():
        folder = Path(reference)
        folder = folder if folder.is_absolute() else storage_dir() / folder
        if not (folder / training.ADAPTER_CONFIG_FILE).is_file():
            raise DomainError(
                f"Reference adapter {folder} holds no {training.ADAPTER_CONFIG_FILE}.", field="reference_adapter"
            )
        return {"reference_adapter": reference}
    visible = Adapter.objects.filter(tenant__isnull=True) | Adapter.objects.filter(tenant=tenant)
    if reference is None:
        scope = Adapter.objects.filter(name=name, tenant=tenant).exclude(status=Adapter.Status.RETIRED)
        adapter = scope.filter(status=Adapter.Status.ACTIVE).first() or scope.order_by("-version").first()
        if adapter is None:
            raise DomainError(
                f"DPO starts from an SFT adapter: {name!r} has no version yet, so name one (reference_adapter).",
                field="reference_adapter",
            )
    else:
        adapter = visible.filter(pk=int(reference)).first()
        if adapter is None:
            raise DomainError(f"Reference adapter #{reference} does not exist.", field="reference_adapter")
    if adapter.base_model != base_model:
        raise DomainError(
            f"Reference adapter {adapter.name} v{adapter.version} was trained on {adapter.base_model}, not on "
            f"{base_model}.",
            field="reference_adapter",
        )
    if not (adapter.files_dir / training.ADAPTER_CONFIG_FILE).is_file():
        raise DomainError(
            f"{adapter.name} v{adapter.version} has no files at {adapter.files_dir}.", field="reference_adapter"
        )
    # Relative to MODEL_STORAGE_DIR, like Adapter.path: the worker may mount the storage elsewhere.
    return {"reference_adapter": adapter.path, "reference_adapter_id": adapter.pk}


def default_output_dir(job: TrainingJob) -> str:
    """Where a job's adapter goes, relative to MODEL_STORAGE_DIR: one folder per job, brand adapters per tenant."""
    if job.tenant_id:
        return f"adapters/{job.tenant.slug}/{job.adapter_name}-job{job.pk}"
    return f"adapters/{job.adapter_name}-job{job.pk}"


# --- who may start a job, and how many ------------------------------------------------------------------------


ACTIVE_STATUSES = (TrainingJob.Status.QUEUED, TrainingJob.Status.RUNNING)
QUOTA_WINDOW = timedelta(hours=24)


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def training_job_check_allowed(
    *, user, tenant: Tenant | None, adapter_kind: str, operator: bool = False, ignore_limits: bool = False,
    lock: bool = False,
) -> None:  # fmt: skip
    """Refuse a job its starter may not start. A shared adapter (no tenant: task, retailer) changes what every tenant
    gets, so only staff users start one (an API key never is staff), or an operator at the command line
    (``operator``). A tenant's (brand) job counts against its limits (``governance.selectors.tenant_limits``): jobs
    queued or running at once and jobs started in any 24 hours; ``ignore_limits`` (an operator's command that says
    so) skips them. ``lock`` holds the tenant's row until the transaction ends, so two requests cannot both take the
    last place."""
    if tenant is None:
        if not operator and not getattr(user, "is_staff", False):
            raise DomainError(
                f"A {adapter_kind} adapter is shared by every tenant: only staff may train one (an API key never "
                "is staff). Train a brand adapter for your own tenant instead.",
                field="kind",
                code="forbidden",
            )
        return
    if ignore_limits:
        return
    if lock:
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
    limits = tenant_limits(tenant)
    jobs = TrainingJob.objects.filter(tenant=tenant)
    at_once = limits.training_jobs_at_once
    active = jobs.filter(status__in=ACTIVE_STATUSES).count()
    if active >= at_once:
        raise DomainError(
            f"{tenant.name} has {_plural(active, 'training job')} queued or running; at most {at_once:,} at once "
            f"({limits.why('training_jobs_at_once')}). Wait for one to finish, or cancel one.",
            field="training_jobs_at_once",
            code=LIMIT_REACHED,
        )
    now = timezone.now()
    recent = jobs.filter(created_at__gte=now - QUOTA_WINDOW)
    per_day = limits.training_jobs_per_day
    started = recent.count()
    if started >= per_day:
        oldest = recent.order_by("created_at").values_list("created_at", flat=True).first()
        free_at = (oldest or now) + QUOTA_WINDOW
        raise DomainError(
            f"{tenant.name} started {_plural(started, 'training job')} in the last 24 hours; at most {per_day:,} a "
            f"day ({limits.why('training_jobs_per_day')}). The next one may start at {free_at:%Y-%m-%d %H:%M} UTC.",
            field="training_jobs_per_day",
            code=LIMIT_REACHED,
            retry_after=max(1, int((free_at - now).total_seconds()) + 1),
        )


def training_job_create(
    *,
    user,
    tenant: Tenant | None,
    adapter_name: str,
    adapter_kind: str,
    method: str,
    dataset_path: str,
    base_model: str | None = None,
    params: dict | None = None,
    enqueue: bool = True,
    output_dir: str | None = None,
    operator: bool = False,
    ignore_limits: bool = False,
) -> TrainingJob:
    """Validate and store a queued TrainingJob; with ``enqueue`` send it to the ``gpu`` worker after the commit.

    A shared adapter's job needs a staff ``user`` or ``operator`` (a command run by an operator); a tenant's job
    must fit the tenant's limits unless ``ignore_limits`` (training_job_check_allowed).

    ``params`` holds TrainConfig fields (max_steps, batch_size, learning_rate, lora_r, ...), ``reference_adapter``
    for DPO and KTO (an Adapter id or folder; default: the active, else newest, version of ``adapter_name``) and
    ``register`` (default true: register a candidate adapter on success). ``output_dir`` (relative to
    MODEL_STORAGE_DIR) defaults to ``adapters/[tenant/]NAME-jobID``.
    """
    check_adapter_name(adapter_name)
    if adapter_kind not in AdapterKind.values:
        raise DomainError(
            f"Unknown adapter kind {adapter_kind!r}: use {', '.join(AdapterKind.values)}.", field="adapter_kind"
        )
    if method not in TrainingJob.Method.values:
        raise DomainError(f"Unknown method {method!r}: use {', '.join(TrainingJob.Method.values)}.", field="method")
    if adapter_kind == AdapterKind.BRAND and tenant is None:
        raise DomainError("A brand adapter belongs to one tenant: name the tenant.", field="tenant")
    if adapter_kind != AdapterKind.BRAND and tenant is not None:
        raise DomainError(
            f"A {adapter_kind} adapter is shared by all tenants: train it without a tenant.", field="tenant"
        )
    other_kind = Adapter.objects.filter(name=adapter_name).exclude(kind=adapter_kind).values_list("kind", flat=True)
    if other_kind.first():
        raise DomainError(
            f"The name {adapter_name!r} is already used by a {other_kind.first()} adapter.", field="adapter_name"
        )
    base_model = base_model or settings.BASE_MODEL
    if Path(base_model).is_absolute() and not Path(base_model).is_dir():
        raise DomainError(
            f"Base model folder {base_model} does not exist (for the default, run `manage.py prepare_base_model`).",
            field="base_model",
        )
    params = _check_params(params or {})
    dataset = Path(dataset_path).expanduser().resolve()
    try:
        rows = training.read_rows(dataset, method)
    except training.TrainingInputError as exc:
        raise DomainError(str(exc), field="dataset_path") from None
    if method in training.PREFERENCE_METHODS:  # DPO and KTO continue an SFT adapter, their frozen reference
        params.update(
            resolve_reference_adapter(
                reference=params.get("reference_adapter"), name=adapter_name, tenant=tenant, base_model=base_model
            )
        )
    elif params.get("reference_adapter") is not None:
        raise DomainError(f"reference_adapter is for DPO and KTO only, not {method}.", field="reference_adapter")
    if output_dir is not None:
        try:
            validate_relative_path(output_dir)
        except Exception as exc:
            raise DomainError(" ".join(getattr(exc, "messages", [str(exc)])), field="output_dir") from None
        if (storage_dir() / output_dir).exists():
            raise DomainError(f"{storage_dir() / output_dir} already exists: choose a new folder.", field="output_dir")

    task_id = str(uuid.uuid4()) if enqueue else ""
    job = TrainingJob(
        tenant=tenant,
        adapter_name=adapter_name,
        adapter_kind=adapter_kind,
        method=method,
        base_model=base_model,
        dataset_path=str(dataset),
        params=params,
        task_id=task_id,
        output_dir=output_dir or "",
        progress={"step": 0, "total_steps": params.get("max_steps", training.TrainConfig.max_steps), "history": []},
        sent_at=timezone.now(),
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    full_clean_or_raise(job, exclude=["tenant", "created_by", "output_dir"])
    with transaction.atomic():
        training_job_check_allowed(
            user=user, tenant=tenant, adapter_kind=adapter_kind, operator=operator, ignore_limits=ignore_limits,
            lock=True,
        )  # fmt: skip
        job.save()
        if not job.output_dir:
            job.output_dir = default_output_dir(job)
            job.save(update_fields=["output_dir"])
        audit_record(
            action="training_job.create",
            tenant=tenant,
            user=user,
            obj=job,
            detail={"adapter": adapter_name, "kind": adapter_kind, "method": method, "rows": len(rows)},
        )
        if enqueue:
            transaction.on_commit(lambda: train_adapter.apply_async((job.pk,), task_id=task_id))
    return job


def queued_too_long(job: TrainingJob, *, now=None) -> bool:
    """Queued for longer than ML_JOB_QUEUED_WARN_S (900 s) since its message was last sent."""
    if job.status != TrainingJob.Status.QUEUED:
        return False
    limit = float(getattr(settings, "ML_JOB_QUEUED_WARN_S", DEFAULT_QUEUED_WARN_S))
    return (now or timezone.now()) - (job.sent_at or job.created_at) > timedelta(seconds=limit)


def training_job_resend(*, job: TrainingJob, user) -> TrainingJob:
    """Send a queued job's message to the gpu queue again (its first was lost). Safe when it was not lost: a worker
    runs a job only while it is queued (``_claim``), so a second message for it does nothing."""
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update(of=("self",)).get(pk=job.pk)
        if job.status != TrainingJob.Status.QUEUED:
            raise DomainError(
                f"Training job #{job.pk} is {job.status}: only a queued job is sent again.", field="status"
            )
        job.sent_at = timezone.now()
        job.save(update_fields=["sent_at"])
        audit_record(action="training_job.resend", tenant=job.tenant, user=user, obj=job)
        transaction.on_commit(lambda: train_adapter.apply_async((job.pk,), task_id=job.task_id or None))
    return job


# --- run ----------------------------------------------------------------------------------------------------------


def train_config(job: TrainingJob) -> training.TrainConfig:
    params = job.params or {}
    known = {key: params[key] for key in INT_PARAMS + FLOAT_PARAMS + ("target_modules",) if params.get(key) is not None}
    reference = params.get("reference_adapter")
    return training.TrainConfig(
        base_model=job.base_model,
        method=job.method,
        dataset=Path(job.dataset_path),
        output=storage_dir() / job.output_dir,
        reference_adapter=storage_dir() / reference if reference else None,  # an absolute path stays as it is
        **known,
    )


def _running(job_id: int):
    return TrainingJob.objects.filter(pk=job_id, status=TrainingJob.Status.RUNNING)


def _finish(job_id: int, status: str, *, error: str = "", **fields) -> int:
    return _running(job_id).update(status=status, error=error[:10_000], finished_at=timezone.now(), **fields)


def _claim(job_id: int) -> TrainingJob | None:
    """Mark a queued job running on this worker; None when it is not queued (finished, running, redelivered)."""
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update(of=("self",)).filter(pk=job_id).first()
        if job is None:
            raise TrainingJob.DoesNotExist(f"Training job #{job_id} does not exist.")
        if job.status != TrainingJob.Status.QUEUED:
            logger.warning("Training job #%s is %s, not queued: not running it again.", job_id, job.status)
            return None
        now = timezone.now()
        if job.cancel_requested:
            job.status, job.finished_at = TrainingJob.Status.CANCELLED, now
            job.save(update_fields=["status", "finished_at"])
            return None
        job.status, job.worker = TrainingJob.Status.RUNNING, worker_identity()
        job.heartbeat_at = job.started_at = now
        job.save(update_fields=["status", "worker", "heartbeat_at", "started_at"])
    return job


def run_training_job(job_id: int, *, on_progress: training.Progress | None = None) -> TrainingJob:
    """Run a queued job in this process (body of the ``ml.train_adapter`` task; tests and the command call it too).

    ``on_progress`` also receives each step's progress entry after it is stored (the command prints it)."""
    job = _claim(job_id)
    if job is None:
        return TrainingJob.objects.get(pk=job_id)
    progress = dict(job.progress or {})
    history: list[dict] = []
    lost = threading.Event()  # the row stopped being ours (reaped as dead): stop and keep nothing

    def store_progress(entry: dict) -> None:
        history.append(entry)
        progress.update(entry, history=history)
        if not _running(job_id).update(progress=progress, heartbeat_at=timezone.now()):
            lost.set()
        if on_progress is not None:
            on_progress(entry)

    def should_stop() -> bool:
        row = TrainingJob.objects.filter(pk=job_id).values_list("status", "cancel_requested").first()
        if row is None or row[0] != TrainingJob.Status.RUNNING:
            lost.set()
        return lost.is_set() or bool(row and row[1])

    heartbeat = Heartbeat(
        lambda: _running(job_id).update(heartbeat_at=timezone.now()), heartbeat_interval_s(),
        name=f"training-job-{job_id}-heartbeat",
    )  # fmt: skip
    heartbeat.start()
    output = storage_dir() / job.output_dir
    try:
        cfg = train_config(job)
        result = training.train(cfg, on_progress=store_progress, should_stop=should_stop)
    except training.TrainingCancelled:
        if not lost.is_set():
            _finish(job_id, TrainingJob.Status.CANCELLED)
        return TrainingJob.objects.get(pk=job_id)
    except Exception as exc:
        logger.exception("Training job #%s failed", job_id)
        _finish(job_id, TrainingJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        return TrainingJob.objects.get(pk=job_id)
    except BaseException as exc:  # Ctrl-C in the command, a worker's SystemExit: fail now, not after the reaper's wait
        _finish(job_id, TrainingJob.Status.FAILED, error=f"Interrupted ({type(exc).__name__}).")
        raise
    finally:
        heartbeat.stop()
    progress.update(final_loss=result.final_loss, seconds=round(result.seconds, 3), step=result.steps)
    try:
        _complete(job, progress=progress)
    except Exception as exc:
        # No adapter row was stored (one transaction), so the files would be orphans: remove them.
        shutil.rmtree(output, ignore_errors=True)
        logger.exception("Training job #%s could not register its adapter", job_id)
        _finish(job_id, TrainingJob.Status.FAILED, error=f"Registering the adapter failed: {exc}")
    return TrainingJob.objects.get(pk=job_id)


class _NotOurs(Exception):
    pass


def _complete(job: TrainingJob, *, progress: dict) -> None:
    from ml.services import adapter_register

    with transaction.atomic():
        locked = TrainingJob.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=job.pk)
        if locked.status != TrainingJob.Status.RUNNING or locked.worker != worker_identity():
            raise _NotOurs(f"job #{job.pk} is {locked.status} on {locked.worker or 'no worker'}, no longer ours")
        if locked.params.get("register", True):
            adapter_register(
                name=locked.adapter_name,
                kind=locked.adapter_kind,
                tenant=locked.tenant,
                base_model=locked.base_model,
                path=locked.output_dir,
                training_job=locked,
                user=locked.created_by,
            )
        locked.status, locked.finished_at, locked.progress = TrainingJob.Status.SUCCEEDED, timezone.now(), progress
        locked.save(update_fields=["status", "finished_at", "progress"])


# --- reap ---------------------------------------------------------------------------------------------------------


def reap_dead_jobs(*, stale_after_s: float | None = None) -> int:
    """Mark running jobs without a heartbeat for ``stale_after_s`` (setting ML_JOB_STALE_AFTER_S, 120 s) failed,
    removing their partial files; return how many. Safe to run from any process at any time (beat: every 60 s).

    A job of a process on this host that no longer exists is reaped sooner, after two missed heartbeat intervals (the
    interval check keeps a worker in another container that happens to share the hostname safe)."""
    if stale_after_s is None:
        stale_after_s = float(getattr(settings, "ML_JOB_STALE_AFTER_S", DEFAULT_STALE_AFTER_S))
    reaped = 0
    running = TrainingJob.objects.filter(status=TrainingJob.Status.RUNNING)
    for job_id, _, heartbeat_at in stale(running, stale_after_s=stale_after_s, heartbeat_s=heartbeat_interval_s()):
        with transaction.atomic():
            job = TrainingJob.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=job_id)
            if job.status != TrainingJob.Status.RUNNING or job.heartbeat_at != heartbeat_at:
                continue  # finished or beat again since the query
            silent_s = (timezone.now() - job.heartbeat_at).total_seconds()
            job.status, job.finished_at = TrainingJob.Status.FAILED, timezone.now()
            why = f"the limit is {stale_after_s:g} s" if silent_s >= stale_after_s else "its process is gone"
            job.error = (
                f"The worker {job.worker or '(unknown)'} stopped sending heartbeats (died?): nothing heard for "
                f"{silent_s:.0f} s and {why}. No adapter was registered."
            )
            job.save(update_fields=["status", "finished_at", "error"])
            audit_record(action="training_job.reap", tenant=job.tenant, obj=job, detail={"worker": job.worker})
            registered = Adapter.objects.filter(training_job=job).exists()
        if job.output_dir:
            output = storage_dir() / job.output_dir
            for partial in training.partial_dirs(output):
                shutil.rmtree(partial, ignore_errors=True)
            if output.exists() and not registered:
                shutil.rmtree(output, ignore_errors=True)  # renamed into place, then the worker died before the row
        logger.warning("Reaped training job #%s: %s", job.pk, job.error)
        reaped += 1
    return reaped


# --- starting a job from a task's generated data (the page, the API and the demo command) ----------------------


ADAPTER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


def check_adapter_name(name: str) -> str:
    """Adapter names become folder and file names: lower-case letters, digits, '_' and '-', nothing else."""
    if not ADAPTER_NAME_RE.match(name):
        raise DomainError(
            f"{name[:120]!r} is not a valid adapter name: use lower-case letters, digits, '_' and '-' (at most 100).",
            field="adapter_name",
        )
    return name


def _under(root: Path, path: Path) -> Path:
    """``path`` resolved, refused unless it lies under ``root`` (a name can never point elsewhere)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise DomainError(f"{path.name!r} would be stored outside {root.name}/.", field="adapter_name")
    return resolved


def default_adapter_name(*, kind: str, task: str, tenant_slug: str) -> str:
    return f"task_{task}" if kind == AdapterKind.TASK else f"brand_{tenant_slug.replace('-', '_')}"


def training_job_start(
    *,
    user,
    tenant,
    kind: str,
    task: str,
    method: str,
    adapter_name: str = "",
    max_steps: int = 40,
    seed: int = 0,
    n_train: int | None = None,
    n_heldout: int | None = None,
    params: dict | None = None,
    enqueue: bool = True,
    operator: bool = False,
):
    """Build the task's training data, write it under MODEL_STORAGE_DIR/datasets/ and queue a TrainingJob.

    Who may start it and how many a tenant may have are checked before any data is built (a shared task adapter:
    staff users, or ``operator`` for the demo's command; a brand adapter: within the tenant's limits).

    A task adapter is shared (the job and its adapter have no tenant); a brand adapter belongs to ``tenant`` and learns
    creative copy from that tenant's brands and SKUs. DPO continues the active (else newest) SFT version of the same
    name, which is also its frozen reference (ml.jobs resolves it). The held-out split is written beside the training
    file (``heldout_path``) for evaluation.
    """
    # Imported here: the builders and the database sources load pandas, which pages that never train need not.
    from ml.dataset_sources import dataset_source
    from ml.engine import datasets

    if kind not in (AdapterKind.TASK, AdapterKind.BRAND):
        raise DomainError(f"kind must be task or brand, not {kind!r}.", field="kind")
    if task not in TASKS:
        raise DomainError(f"task must be one of {', '.join(TASKS)}, not {task!r}.", field="task")
    owner = tenant if kind == AdapterKind.BRAND else None
    training_job_check_allowed(user=user, tenant=owner, adapter_kind=kind, operator=operator)
    name = check_adapter_name(
        adapter_name or default_adapter_name(kind=kind, task=task, tenant_slug=tenant.slug if tenant else "")
    )
    if method == TrainingJob.Method.KTO:
        raise DomainError(
            "KTO learns from reviewers' thumbs, which task data does not have: export a KTO dataset from feedback and "
            "retrain from it (feedback.services.retrain).",
            field="method",
        )
    source = dataset_source(tenant=owner)
    if method == TrainingJob.Method.DPO:
        if task != "creative":
            raise DomainError(
                f"DPO needs preference pairs, which exist for the creative task only, not {task}.", field="method"
            )
        if not Adapter.objects.filter(name=name, tenant=owner).exclude(status=Adapter.Status.RETIRED).exists():
            raise DomainError(
                f"DPO starts from an SFT adapter: {name!r} has no version yet, so train one with SFT first.",
                field="method",
            )
        train, heldout = datasets.build_preference_pairs(seed=seed, n_train=n_train, n_heldout=n_heldout, source=source)
    else:
        train, heldout = datasets.build(task, seed=seed, n_train=n_train, n_heldout=n_heldout, source=source)
    folder = Path(settings.MODEL_STORAGE_DIR) / "datasets"
    stem = f"{name}-{method}-{timezone.now():%Y%m%d-%H%M%S-%f}"
    train_path = datasets.write_jsonl(train, _under(folder, folder / f"{stem}.jsonl"))
    held_path = datasets.write_jsonl(heldout, heldout_path(str(train_path)))
    try:
        return training_job_create(
            user=user,
            tenant=owner,
            adapter_name=name,
            adapter_kind=kind,
            method=method,
            dataset_path=str(train_path),
            # Further TrainConfig fields in ``params`` (batch_size, threads, ...); seed 0 is TrainConfig's default.
            params={**(params or {}), "max_steps": int(max_steps), **({"seed": int(seed)} if seed else {})},
            enqueue=enqueue,
            operator=operator,
        )
    except DomainError:
        train_path.unlink(missing_ok=True)  # no job refers to them
        held_path.unlink(missing_ok=True)
        raise


def heldout_path(dataset_path: str) -> Path:
    path = Path(dataset_path)
    return path.with_name(path.name.removesuffix(".jsonl") + ".heldout.jsonl")

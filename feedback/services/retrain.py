"""Retraining an adapter from reviewers' feedback: a FeedbackDataset's train file becomes a DPO or KTO TrainingJob on
the ``gpu`` queue (ml.jobs), continuing an SFT adapter version that is also the frozen reference. When the job
succeeds, the gate (feedback.services.gate) judges the candidate it registered (feedback.tasks.gate_finished_retrains).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from core.errors import DomainError
from feedback.models import FeedbackDataset
from governance.access import Capability, access_for_user
from governance.models import Tenant
from ml.engine import training
from ml.jobs import training_job_create
from ml.models import Adapter, TrainingJob

RETRAIN_METHODS = (TrainingJob.Method.DPO, TrainingJob.Method.KTO)
# The job's params that retraining sets itself; a caller may not override them.
RESERVED_PARAMS = ("reference_adapter", "feedback_dataset", "register")


def _check_allowed(*, tenant: Tenant, user, adapter: Adapter) -> None:
    """An admin of ``tenant`` (MANAGE_TENANT) retrains the tenant's adapters; a shared adapter also needs staff
    (ml.jobs.training_job_check_allowed says so again when the job is created)."""
    if not getattr(user, "pk", None):
        raise DomainError("Retraining is started by a person: sign in (an API key cannot).", code="forbidden")
    access = access_for_user(user, tenant.pk)
    if access is None:
        raise DomainError("No such tenant.", field="tenant", code="forbidden")
    if not access.can(Capability.MANAGE_TENANT):
        raise DomainError(
            f"Your role ({access.role}) in {tenant.name} cannot retrain adapters; an admin does.", code="forbidden"
        )
    if adapter.tenant_id is not None and adapter.tenant_id != tenant.pk:
        raise DomainError(f"Adapter #{adapter.pk} does not exist.", field="adapter")
    if adapter.tenant_id is None and not user.is_staff:
        raise DomainError(
            f"{adapter.name} is shared by every tenant: only staff may retrain it. Retrain a brand adapter instead.",
            field="adapter",
            code="forbidden",
        )


def retrain_start(
    *,
    tenant: Tenant,
    user,
    adapter: Adapter,
    dataset: FeedbackDataset,
    method: str = "dpo",
    params: dict | None = None,
    enqueue: bool = True,
) -> TrainingJob:
    """Queue a DPO or KTO job that continues ``adapter`` (an SFT version: starting point and frozen reference) on
    ``dataset``'s train file; the job's params record the dataset id (``feedback_dataset``). ``params`` may set
    TrainConfig fields (max_steps, batch_size, learning_rate, beta, ...). DomainError naming the field for a dataset
    of another format or tenant, an adapter of another tenant, a dataset without training rows, a retired adapter."""
    _check_allowed(tenant=tenant, user=user, adapter=adapter)
    if method not in RETRAIN_METHODS:
        raise DomainError(f"Retrain with dpo or kto, not {method!r}.", field="method")
    if dataset.tenant_id != tenant.pk:
        raise DomainError(f"Feedback dataset #{dataset.pk} does not exist.", field="dataset")
    if dataset.format != method:
        raise DomainError(
            f"{method.upper()} trains on a {method} dataset; {dataset} is a {dataset.format} export. Export the "
            f"feedback as {method} first.",
            field="dataset",
        )
    if adapter.status == Adapter.Status.RETIRED:
        raise DomainError(
            f"{adapter.name} v{adapter.version} is retired: retrain from the active version or a candidate.",
            field="adapter",
        )
    path = Path(settings.MODEL_STORAGE_DIR) / dataset.train_path if dataset.train_path else None
    train_rows = (dataset.counts or {}).get("train")
    if path is None or not path.is_file() or train_rows == 0:
        raise DomainError(f"{dataset} has no training rows: export more feedback first.", field="dataset")
    try:
        training.read_rows(path, method)
    except training.TrainingInputError as exc:
        raise DomainError(f"{dataset}: {exc}", field="dataset") from None
    params = dict(params or {})
    reserved = sorted(set(params) & set(RESERVED_PARAMS))
    if reserved:
        raise DomainError(f"params: {', '.join(reserved)} are set by retraining itself.", field="params")
    params.update(reference_adapter=adapter.pk, feedback_dataset=dataset.pk)
    return training_job_create(
        user=user,
        tenant=adapter.tenant,
        adapter_name=adapter.name,
        adapter_kind=adapter.kind,
        method=method,
        dataset_path=str(path),
        base_model=adapter.base_model,
        params=params,
        enqueue=enqueue,
    )


def retrain_dataset(job: TrainingJob) -> FeedbackDataset | None:
    """The FeedbackDataset a retraining job trained on (None for a job that did not come from feedback)."""
    dataset_id = (job.params or {}).get("feedback_dataset")
    return FeedbackDataset.objects.filter(pk=dataset_id).first() if dataset_id else None

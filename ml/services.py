"""Writes for the adapter registry. Every write validates, runs in one transaction and leaves an audit entry; a broken
rule raises DomainError naming the field, and nothing is stored."""

from __future__ import annotations

from numbers import Real

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core.errors import DomainError, full_clean_or_raise
from governance.models import Tenant
from governance.services import audit_record
from ml.models import Adapter, TrainingJob

# Metrics where a smaller number is the better model; every other metric (accuracy, exact match, F1) is higher-better.
LOWER_IS_BETTER_SUFFIXES = ("loss", "perplexity", "violation_rate", "error_rate")

# The files PEFT's save_pretrained writes; an adapter without them cannot be loaded by the runtime.
ADAPTER_CONFIG_FILE = "adapter_config.json"


def metric_higher_is_better(metric: str) -> bool:
    return not metric.endswith(LOWER_IS_BETTER_SUFFIXES)


def _scope(*, name: str, tenant: Tenant | None):
    return Adapter.objects.filter(name=name, tenant=tenant)


def _check_name_kind(*, name: str, kind: str) -> None:
    # A name means one kind everywhere, so a tenant's brand adapter can never shadow a shared adapter of that name.
    other = Adapter.objects.filter(name=name).exclude(kind=kind).values_list("kind", flat=True).first()
    if other is not None:
        raise DomainError(f"The name {name!r} is already used by a {other} adapter.", field="name")


def adapter_register(
    *,
    name: str,
    kind: str,
    tenant: Tenant | None,
    base_model: str,
    path: str,
    training_job: TrainingJob | None = None,
    metrics: dict | None = None,
    user=None,
) -> Adapter:
    """Store a new candidate version of ``name`` (one more than the highest so far in its scope).

    The files must already be complete under MODEL_STORAGE_DIR: registration is the last step of a training job, so a
    job that dies earlier leaves no adapter row behind.
    """
    adapter = Adapter(
        name=name,
        kind=kind,
        tenant=tenant,
        base_model=base_model,
        path=path,
        training_job=training_job,
        metrics=metrics or {},
        version=1,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    full_clean_or_raise(adapter)
    _check_metrics(metrics or {})
    if not (adapter.files_dir / ADAPTER_CONFIG_FILE).is_file():
        raise DomainError(f"path: {adapter.files_dir} holds no {ADAPTER_CONFIG_FILE}.", field="path")
    _check_name_kind(name=name, kind=kind)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                latest = _scope(name=name, tenant=tenant).aggregate(v=Max("version"))["v"] or 0
                adapter.pk = None
                adapter.version = latest + 1
                adapter.save()
                audit_record(
                    action="adapter.register",
                    tenant=tenant,
                    user=user,
                    obj=adapter,
                    detail={"name": name, "kind": kind, "version": adapter.version, "path": path},
                )
            return adapter
        except IntegrityError:
            continue  # another registration took this version number at the same moment
    raise DomainError(f"Could not number a new version of {name!r}: registrations keep colliding.", field="version")


def _check_metrics(metrics: dict) -> None:
    for key, value in metrics.items():
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, Real):
            raise DomainError(f"metrics: {key!r} must map a name to a number, not {value!r}.", field="metrics")


def _metric_value(adapter: Adapter, metric: str) -> float:
    value = adapter.metrics.get(metric)
    if isinstance(value, bool) or not isinstance(value, Real):
        raise DomainError(
            f"{adapter.name} v{adapter.version} has no evaluation result for {metric!r}.", field="require_better"
        )
    return float(value)


def _locked(adapter: Adapter) -> Adapter:
    return Adapter.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=adapter.pk)


def adapter_promote(*, adapter: Adapter, user, require_better: str | None = None) -> Adapter:
    """Make ``adapter`` the active version of its name, retiring the version that was active.

    With ``require_better`` the candidate must strictly beat the active version on that metric (lower is better for
    losses and violation rates, see ``metric_higher_is_better``); otherwise nothing changes.
    """
    with transaction.atomic():
        adapter = _locked(adapter)
        if adapter.status == Adapter.Status.ACTIVE:
            raise DomainError(f"{adapter.name} v{adapter.version} is already active.", field="status")
        current = (
            _scope(name=adapter.name, tenant=adapter.tenant)
            .select_for_update(of=("self",))
            .filter(status=Adapter.Status.ACTIVE)
            .first()
        )
        detail: dict = {"name": adapter.name, "version": adapter.version}
        if require_better:
            candidate_value = _metric_value(adapter, require_better)
            detail.update(metric=require_better, candidate_value=candidate_value)
            if current is not None:
                active_value = _metric_value(current, require_better)
                detail["active_value"] = active_value
                higher = metric_higher_is_better(require_better)
                better = candidate_value > active_value if higher else candidate_value < active_value
                if not better:
                    raise DomainError(
                        f"{adapter.name} v{adapter.version} does not beat the active v{current.version} on "
                        f"{require_better}: {candidate_value:g} vs {active_value:g} "
                        f"({'higher' if higher else 'lower'} is better).",
                        field="require_better",
                    )
        if current is not None:
            current.status = Adapter.Status.RETIRED
            current.save(update_fields=["status"])
            detail["retired_version"] = current.version
        adapter.status = Adapter.Status.ACTIVE
        adapter.promoted_at = timezone.now()
        adapter.save(update_fields=["status", "promoted_at"])
        audit_record(action="adapter.promote", tenant=adapter.tenant, user=user, obj=adapter, detail=detail)
    return adapter


def adapter_rollback(*, name: str, tenant: Tenant | None, user) -> Adapter:
    """Retire the active version of ``name`` and re-activate the newest retired version below it."""
    with transaction.atomic():
        scope = _scope(name=name, tenant=tenant).select_for_update(of=("self",))
        current = scope.filter(status=Adapter.Status.ACTIVE).first()
        if current is None:
            raise DomainError(f"{name!r} has no active version to roll back from.", field="name")
        previous = scope.filter(status=Adapter.Status.RETIRED, version__lt=current.version).order_by("-version").first()
        if previous is None:
            raise DomainError(f"{name!r} v{current.version} has no earlier retired version to return to.", field="name")
        current.status = Adapter.Status.RETIRED
        current.save(update_fields=["status"])
        previous.status = Adapter.Status.ACTIVE
        previous.promoted_at = timezone.now()
        previous.save(update_fields=["status", "promoted_at"])
        audit_record(
            action="adapter.rollback",
            tenant=tenant,
            user=user,
            obj=previous,
            detail={"name": name, "from_version": current.version, "to_version": previous.version},
        )
    return previous


def adapter_retire(*, adapter: Adapter, user) -> Adapter:
    with transaction.atomic():
        adapter = _locked(adapter)
        if adapter.status == Adapter.Status.RETIRED:
            raise DomainError(f"{adapter.name} v{adapter.version} is already retired.", field="status")
        was = adapter.status
        adapter.status = Adapter.Status.RETIRED
        adapter.save(update_fields=["status"])
        audit_record(
            action="adapter.retire",
            tenant=adapter.tenant,
            user=user,
            obj=adapter,
            detail={"name": adapter.name, "version": adapter.version, "was": was},
        )
    return adapter


def training_job_request_cancel(*, job: TrainingJob, user) -> TrainingJob:
    """Ask the worker to stop at its next step; the worker marks the job cancelled."""
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update(of=("self",)).get(pk=job.pk)
        if job.status in TrainingJob.FINISHED:
            raise DomainError(f"Training job #{job.pk} already finished ({job.status}).", field="status")
        job.cancel_requested = True
        job.save(update_fields=["cancel_requested"])
        audit_record(action="training_job.cancel", tenant=job.tenant, user=user, obj=job)
    return job

"""Reads of the adapter registry. A tenant sees the shared (retailer and task) adapters and its own brand adapters,
never another tenant's."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from core.errors import DomainError
from governance.models import Tenant
from ml.models import Adapter, TrainingJob


class AdapterForbidden(DomainError, PermissionDenied):
    """A composition names an adapter the tenant may not use. Also a PermissionDenied, so plain Django views answer
    403; the message is the same for "another tenant's", "inactive" and "no such adapter", so it leaks nothing."""

    def __init__(self, message: str):
        super().__init__(message, field="adapters", code="forbidden")


def adapters_visible_to(tenant: Tenant | None) -> QuerySet[Adapter]:
    shared = Q(tenant__isnull=True)
    return Adapter.objects.filter(shared | Q(tenant=tenant) if tenant is not None else shared).select_related("tenant")


def adapter_active(name: str, tenant: Tenant | None) -> Adapter | None:
    return adapters_visible_to(tenant).filter(name=name, status=Adapter.Status.ACTIVE).first()


def authorize_composition(
    tenant: Tenant | None, names: Iterable[str], *, base_model: str | None = None
) -> list[Adapter]:
    """The active adapters ``names`` resolve to for ``tenant``, in the order given.

    The runtime calls this on every request, also when it already holds the composed weights in its cache: the cache
    key is the names, and only this check says whether the tenant may use them. With ``base_model`` every adapter
    must have been trained on that base.
    """
    names = list(names)
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DomainError(f"Adapter {name!r} is listed twice.", field="adapters")
        seen.add(name)
    if not names:
        return []
    found = {a.name: a for a in adapters_visible_to(tenant).filter(name__in=names, status=Adapter.Status.ACTIVE)}
    adapters = []
    for name in names:
        adapter = found.get(name)
        if adapter is None:
            raise AdapterForbidden(f"Adapter {name!r} does not exist or is not active for this tenant.")
        if base_model is not None and adapter.base_model != base_model:
            raise DomainError(
                f"Adapter {name!r} v{adapter.version} was trained on {adapter.base_model!r}, not {base_model!r}.",
                field="adapters",
            )
        adapters.append(adapter)
    return adapters


def adapter_versions(name: str, tenant: Tenant | None) -> QuerySet[Adapter]:
    return Adapter.objects.filter(name=name, tenant=tenant).order_by("-version")


def training_jobs_visible_to(tenant: Tenant | None) -> QuerySet[TrainingJob]:
    shared = Q(tenant__isnull=True)
    return TrainingJob.objects.filter(shared | Q(tenant=tenant) if tenant is not None else shared)


def training_eta_seconds(job: TrainingJob, *, now) -> float | None:
    """Seconds until ``job`` finishes at the pace of its steps so far (time since it started over steps done, so the
    model's loading counts against the first steps and the estimate errs long); None before the first step or once
    it is finished."""
    if job.status != TrainingJob.Status.RUNNING or job.started_at is None:
        return None
    step, total = (job.progress or {}).get("step") or 0, (job.progress or {}).get("total_steps") or 0
    if step < 1 or total <= step:
        return None
    return max(0.0, (now - job.started_at).total_seconds()) / step * (total - step)

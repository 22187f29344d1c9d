import datetime as dt

from django.db.models import Count, Q, QuerySet, Sum

from governance.limits import LIMIT_FIELDS, Limits, default_limits
from governance.models import APIKey, AuditLog, CleanRoomDataset, Tenant, TenantLimits


def api_key_list(*, tenant: Tenant) -> QuerySet[APIKey]:
    return APIKey.objects.filter(tenant=tenant).select_related("created_by").order_by("-created_at")


def tenant_limits(tenant: Tenant) -> Limits:
    """The tenant's effective limits: the site defaults (settings.TENANT_LIMITS), each replaced by the tenant's
    override where an administrator set one (TenantLimits, in Django admin)."""
    row = TenantLimits.objects.filter(tenant_id=tenant.pk).values(*LIMIT_FIELDS).first() or {}
    overridden = {name for name, value in row.items() if value is not None}
    values = default_limits() | {name: row[name] for name in overridden}
    return Limits(tenant_name=tenant.name, overridden=frozenset(overridden), **values)


# Guardrail decisions in the audit log, by the kind the governance page filters on. The PII redaction entries are
# "pii.*" actions.
GUARDRAIL_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "refused": ("Refused queries", ("cleanroom.refused",)),
    "epsilon": ("Epsilon spent", ("cleanroom.epsilon_spent",)),
    "answered": ("Exact answers in the tenant", ("cleanroom.answered",)),
    "datasets": ("Dataset loads and rule changes", ("cleanroom.dataset_loaded", "cleanroom.dataset_changed")),
    "redaction": ("PII redactions", ("pii.",)),
}
GUARDRAIL_PREFIXES = ("cleanroom.", "pii.")


def _actions_matching(prefixes: tuple[str, ...]) -> Q:
    query = Q()
    for prefix in prefixes:
        query |= Q(action__startswith=prefix) if prefix.endswith(".") else Q(action=prefix)
    return query


def guardrail_kind_label(action: str) -> str:
    for label, prefixes in GUARDRAIL_KINDS.values():
        if any(action.startswith(p) if p.endswith(".") else action == p for p in prefixes):
            return label
    return action


def guardrail_audit(
    *, tenant: Tenant, kind: str | None = None, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> QuerySet[AuditLog]:
    """The tenant's guardrail decisions, newest first; dates are UTC days, both ends included."""
    entries = AuditLog.objects.filter(tenant=tenant).filter(
        _actions_matching(GUARDRAIL_KINDS[kind][1] if kind else GUARDRAIL_PREFIXES)
    )
    if date_from:
        entries = entries.filter(created_at__gte=dt.datetime.combine(date_from, dt.time.min, tzinfo=dt.UTC))
    if date_to:
        entries = entries.filter(
            created_at__lt=dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
        )
    return entries.order_by("-created_at", "-id")


def clean_room_budgets(*, tenant: Tenant) -> list[dict]:
    """Each of the tenant's clean-room datasets with its privacy budget: spent (the ledger's sum) and left."""
    datasets = CleanRoomDataset.objects.filter(tenant=tenant).annotate(
        spent=Sum("privacy_spends__epsilon"), answers=Count("privacy_spends")
    )
    return [
        {
            "dataset": d,
            "spent": d.spent or 0.0,
            "remaining": max(d.epsilon_budget - (d.spent or 0.0), 0.0),
            "answers": d.answers,
            "used_percent": min(100.0, 100.0 * (d.spent or 0.0) / d.epsilon_budget) if d.epsilon_budget else 100.0,
        }
        for d in datasets.order_by("slug")
    ]

from django.db.models import QuerySet

from governance.limits import LIMIT_FIELDS, Limits, default_limits
from governance.models import APIKey, Tenant, TenantLimits


def api_key_list(*, tenant: Tenant) -> QuerySet[APIKey]:
    return APIKey.objects.filter(tenant=tenant).select_related("created_by").order_by("-created_at")


def tenant_limits(tenant: Tenant) -> Limits:
    """The tenant's effective limits: the site defaults (settings.TENANT_LIMITS), each replaced by the tenant's
    override where an administrator set one (TenantLimits, in Django admin)."""
    row = TenantLimits.objects.filter(tenant_id=tenant.pk).values(*LIMIT_FIELDS).first() or {}
    overridden = {name for name, value in row.items() if value is not None}
    values = default_limits() | {name: row[name] for name in overridden}
    return Limits(tenant_name=tenant.name, overridden=frozenset(overridden), **values)

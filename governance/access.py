"""Who may do what in which tenant. Every page and API view resolves its tenant through here.

Membership decides visibility (not a member: the tenant's objects do not exist for you, 404); the role decides
actions (a member without the capability: 403).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.http import Http404

from governance.models import Membership, Role, Tenant


class Capability(StrEnum):
    VIEW_DATA = "view_data"  # dashboards, catalog, performance, plans
    EDIT_DATA = "edit_data"  # campaigns, SKUs, brands, lift studies, plans
    GIVE_FEEDBACK = "give_feedback"  # RLHF ratings and preference pairs
    MANAGE_TENANT = "manage_tenant"  # API keys, members, adapters


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.MARKETER: frozenset({Capability.VIEW_DATA, Capability.EDIT_DATA}),
    Role.REVIEWER: frozenset({Capability.VIEW_DATA, Capability.GIVE_FEEDBACK}),
    Role.ADMIN: frozenset(Capability),
}


@dataclass(frozen=True)
class TenantAccess:
    tenant: Tenant
    role: str

    def can(self, capability: Capability) -> bool:
        return capability in ROLE_CAPABILITIES.get(self.role, frozenset())

    def require(self, capability: Capability) -> None:
        if not self.can(capability):
            raise PermissionDenied(f"Your role ({self.role}) in {self.tenant.name} does not allow {capability.value}.")


def memberships_for(user) -> list[Membership]:
    if not user.is_authenticated:
        return []
    return list(Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name"))


def access_for_user(user, tenant_id: int | str | None) -> TenantAccess | None:
    """The user's access to one tenant, or None when the user is not a member (or the id is garbage)."""
    if not user.is_authenticated or tenant_id in (None, ""):
        return None
    try:
        tenant_id = int(tenant_id)
    except (TypeError, ValueError):
        return None
    membership = Membership.objects.filter(user=user, tenant_id=tenant_id).select_related("tenant").first()
    return TenantAccess(membership.tenant, membership.role) if membership else None


SESSION_KEY = "current_tenant_id"


_CACHE_ATTR = "_rmn_tenant_access"


def current_access(request) -> TenantAccess | None:
    """The tenant chosen in the session, falling back to the user's first membership (cached per request)."""
    if not hasattr(request, _CACHE_ATTR):
        setattr(request, _CACHE_ATTR, _resolve_current_access(request))
    return getattr(request, _CACHE_ATTR)


def _resolve_current_access(request) -> TenantAccess | None:
    if not request.user.is_authenticated:
        return None
    access = access_for_user(request.user, request.session.get(SESSION_KEY))
    if access is None:
        memberships = memberships_for(request.user)
        if not memberships:
            return None
        first = memberships[0]
        request.session[SESSION_KEY] = first.tenant_id
        access = TenantAccess(first.tenant, first.role)
    return access


def switch_tenant(request, tenant_id: int | str) -> TenantAccess:
    """Make another of the user's tenants current; a tenant the user is not a member of does not exist (404)."""
    access = access_for_user(request.user, tenant_id)
    if access is None:
        raise Http404("No such tenant.")
    request.session[SESSION_KEY] = access.tenant.pk
    setattr(request, _CACHE_ATTR, access)
    return access


def require_access(request, capability: Capability = Capability.VIEW_DATA) -> TenantAccess:
    access = current_access(request)
    if access is None:
        raise Http404("You are not a member of any tenant.")
    access.require(capability)
    return access

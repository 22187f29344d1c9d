"""Who may do what in which tenant. Every page and API view resolves its tenant through here.

Membership decides visibility (not a member: the tenant's objects do not exist for you, 404); the role decides
actions (a member without the capability: 403).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework import exceptions

from governance.models import Membership, Role, Tenant


class Capability(StrEnum):
    VIEW_DATA = "view_data"  # dashboards, catalog, performance, plans
    EDIT_DATA = "edit_data"  # campaigns, SKUs, brands, lift studies, plans
    GIVE_FEEDBACK = "give_feedback"  # RLHF ratings and preference pairs
    ADJUDICATE = "adjudicate"  # see reviewers' answers on conflicting items and settle them
    MANAGE_TENANT = "manage_tenant"  # API keys, members, adapters


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.MARKETER: frozenset({Capability.VIEW_DATA, Capability.EDIT_DATA}),
    Role.REVIEWER: frozenset({Capability.VIEW_DATA, Capability.GIVE_FEEDBACK}),
    Role.ADJUDICATOR: frozenset({Capability.VIEW_DATA, Capability.GIVE_FEEDBACK, Capability.ADJUDICATE}),
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
    if not 0 < tenant_id < 2**63:  # a larger id overflows the database driver (SQLite: OverflowError)
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


def tenant_page(capability: Capability = Capability.VIEW_DATA) -> Callable:
    """Login, a current tenant and ``capability`` in it, or no page.

    A signed-in user without any tenant gets a page that says so (not a bare 404); a member without the
    capability gets 403. The view receives the ``access`` as a keyword argument.
    """

    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            access = current_access(request)
            if access is None:
                return render(request, "governance/no_tenant.html")
            access.require(capability)
            return view(request, *args, access=access, **kwargs)

        return wrapper

    return decorator


TENANT_HEADER = "HTTP_X_TENANT"


def api_access(request) -> TenantAccess:
    """API key: its own tenant and role. Session user: the tenant named by ``X-Tenant: <slug>``, else the
    session's current tenant. Not a member: 404, as if the tenant did not exist."""
    key = getattr(request, "auth", None)
    if key is not None and hasattr(key, "tenant"):
        return TenantAccess(key.tenant, key.role)
    slug = request.META.get(TENANT_HEADER)
    if slug:
        membership = (
            Membership.objects.filter(user=request.user, tenant__slug=slug).select_related("tenant").first()
            if request.user.is_authenticated
            else None
        )
        if membership is None:
            raise exceptions.NotFound(f"No tenant {slug!r}.")
        return TenantAccess(membership.tenant, membership.role)
    access = current_access(request._request) if request.user.is_authenticated else None
    if access is None:
        raise exceptions.NotFound("You are not a member of any tenant.")
    return access

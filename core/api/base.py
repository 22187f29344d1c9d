"""The base every tenant-owned API endpoint uses. It fails closed: a subclass that sets ``queryset`` or overrides
``get_queryset`` is refused at import time, so no endpoint can read across tenants by accident."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from rest_framework import exceptions, permissions, viewsets

from core.api.schema import ApiAutoSchema
from governance.access import Capability, api_access
from governance.models import Tenant


class TenantScopedViewSet(viewsets.GenericViewSet):
    read_capability: Capability = Capability.VIEW_DATA
    write_capability: Capability = Capability.EDIT_DATA
    permission_classes = [permissions.IsAuthenticated]
    schema = ApiAutoSchema()
    # A plain Serializer describing the list filters (see core.api.inputs.parse_query), or None.
    query_serializer_class: type | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("queryset") is not None:
            raise ImproperlyConfigured(f"{cls.__name__}: set get_tenant_queryset(), not queryset.")
        if "get_queryset" in cls.__dict__:
            raise ImproperlyConfigured(f"{cls.__name__}: override get_tenant_queryset(), not get_queryset().")

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.tenant_access = api_access(request)
        needed = self.read_capability if request.method in permissions.SAFE_METHODS else self.write_capability
        if not self.tenant_access.can(needed):
            raise exceptions.PermissionDenied(
                f"Your role ({self.tenant_access.role}) does not allow {needed.value} in this tenant."
            )

    @property
    def tenant(self) -> Tenant:
        return self.tenant_access.tenant

    def get_tenant_queryset(self, *, tenant: Tenant) -> QuerySet:
        raise ImproperlyConfigured(f"{type(self).__name__} must define get_tenant_queryset().")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.get_tenant_queryset(tenant=Tenant(pk=0)).none()
        return self.get_tenant_queryset(tenant=self.tenant)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        access = getattr(self, "tenant_access", None)
        context["tenant"] = access.tenant if access else None
        return context

    def validated_input(self, serializer_class=None, *, instance=None, partial: bool = False) -> dict:
        """The request body checked by the endpoint's serializer; writes then go through a service."""
        serializer_class = serializer_class or self.get_serializer_class()
        serializer = serializer_class(
            instance, data=self.request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def actor(self) -> dict:
        """Keyword arguments that name who acts, for services and the audit log."""
        key = getattr(self.request, "auth", None)
        if key is not None and hasattr(key, "tenant"):
            return {"user": None, "api_key": key}
        return {"user": self.request.user, "api_key": None}


__all__ = ["TenantScopedViewSet"]

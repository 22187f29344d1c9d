"""``/api/v1/me/``: who the caller is, in which tenant, with which role."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.api.base import TenantScopedViewSet
from governance.access import ROLE_CAPABILITIES, Capability
from governance.models import Role, Tenant


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["slug", "name", "kind", "reporting_currency"]
        read_only_fields = fields


class MeSerializer(serializers.Serializer):
    tenant = TenantSerializer()
    role = serializers.ChoiceField(choices=Role.choices)
    capabilities = serializers.ListField(child=serializers.ChoiceField(choices=[c.value for c in Capability]))
    principal = serializers.CharField(help_text="user:<username> for a session, api-key:<prefix> for an API key.")


class MeViewSet(TenantScopedViewSet):
    serializer_class = MeSerializer

    def get_tenant_queryset(self, *, tenant):
        return Tenant.objects.filter(pk=tenant.pk)

    @extend_schema(operation_id="me_retrieve", responses=MeSerializer)
    def retrieve(self, request):
        access = self.tenant_access
        capabilities = sorted(c.value for c in ROLE_CAPABILITIES.get(access.role, frozenset()))
        actor = self.actor()
        principal = f"api-key:{actor['api_key'].prefix}" if actor["api_key"] else f"user:{request.user.get_username()}"
        me = {"tenant": access.tenant, "role": access.role, "capabilities": capabilities, "principal": principal}
        return Response(MeSerializer(me).data)

"""Partner API for lift studies. Writes go through optimizer.services.lift_studies."""

from __future__ import annotations

from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from campaigns.api import RetailerCodeField
from core.api.base import TenantScopedViewSet
from core.api.inputs import StrictInputMixin
from optimizer.models import LiftStudy
from optimizer.selectors import lift_study_list
from optimizer.services.lift_studies import lift_study_create


class LiftStudySerializer(StrictInputMixin, serializers.ModelSerializer):
    retailer = RetailerCodeField(active_only=True)
    incremental_roas = serializers.DecimalField(
        max_digits=None,
        decimal_places=4,
        read_only=True,
        allow_null=True,
        help_text="incremental_sales / spend (null when spend is 0).",
    )

    class Meta:
        model = LiftStudy
        fields = [
            "id",
            "retailer",
            "placement_type",
            "start_date",
            "end_date",
            "spend",
            "incremental_sales",
            "incremental_sales_se",
            "currency",
            "method",
            "source",
            "notes",
            "incremental_roas",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {
            "currency": {"required": False, "help_text": "ISO 4217; defaults to the tenant's reporting currency."}
        }


class LiftStudyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    serializer_class = LiftStudySerializer

    def get_tenant_queryset(self, *, tenant):
        return lift_study_list(tenant=tenant)

    def create(self, request):
        data = self.validated_input()
        study = lift_study_create(tenant=self.tenant, retailer_code=data.pop("retailer").code, **data, **self.actor())
        return Response(LiftStudySerializer(study).data, status=status.HTTP_201_CREATED)

"""Partner API for allocation plans. Writes go through optimizer.services.plans."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.base import TenantScopedViewSet
from core.api.inputs import StrictInputMixin
from core.bounds import validate_money
from optimizer.models import AllocationPlan
from optimizer.selectors import plan_list
from optimizer.services.plans import MAX_HISTORY_DAYS, plan_create, plan_rerun


class AllocationPlanSerializer(serializers.ModelSerializer):
    # A plain string in the schema: a second enum named "status" would need a settings override.
    status = serializers.CharField(read_only=True, help_text="pending, running, succeeded or failed.")
    request = serializers.JSONField(
        read_only=True,
        help_text="bounds {channel: [min, max]}, retailer_bounds {retailer: [min, max]}, exclude_channels, chance.",
    )
    result = serializers.JSONField(
        read_only=True,
        help_text="The optimizer's OUT.json (allocations, totals, constraints, objective; docs/optimization.md); "
        "empty until the plan succeeds.",
    )
    error = serializers.CharField(read_only=True, help_text="Why the plan failed (an infeasible floor, ...).")

    class Meta:
        model = AllocationPlan
        fields = [
            "id",
            "name",
            "budget",
            "currency",
            "period_days",
            "min_roas",
            "roas_basis",
            "objective",
            "request",
            "status",
            "result",
            "error",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


def _bounds_field(key: str) -> serializers.DictField:
    return serializers.DictField(
        child=serializers.ListField(
            child=serializers.DecimalField(max_digits=18, decimal_places=4, validators=[validate_money]),
            min_length=2,
            max_length=2,
        ),
        required=False,
        help_text=f'{{"{key}": [min_spend, max_spend]}} over the whole period.',
    )


class AllocationPlanCreateSerializer(StrictInputMixin, serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, help_text="The objective in words.")
    budget = serializers.DecimalField(
        max_digits=18, decimal_places=4, validators=[validate_money], help_text="Total spend over the period."
    )
    period_days = serializers.IntegerField(help_text="Length of the period in days (1 to 366).")
    min_roas = serializers.DecimalField(
        max_digits=8, decimal_places=3, required=False, allow_null=True, help_text="ROAS floor over the period."
    )
    roas_basis = serializers.ChoiceField(
        choices=AllocationPlan.RoasBasis.choices, required=False, default=AllocationPlan.RoasBasis.ATTRIBUTED
    )
    objective = serializers.ChoiceField(
        choices=AllocationPlan.Objective.choices, required=False, default=AllocationPlan.Objective.INCREMENTAL_MARGIN
    )
    bounds = _bounds_field("retailer|placement_type")
    retailer_bounds = _bounds_field("retailer")
    exclude_channels = serializers.ListField(
        child=serializers.CharField(), required=False, help_text='Channel keys "retailer|placement_type" to leave out.'
    )
    chance = serializers.FloatField(
        required=False, allow_null=True, help_text="e.g. 0.9: P(period ROAS >= min_roas) >= chance."
    )
    history_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=f"Learn from the last N days of history only (14 to {MAX_HISTORY_DAYS}; default: all).",
    )


class AllocationPlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Budget allocation plans of the tenant, newest first. POST a request to optimize it in the background
    (202); poll the plan until ``status`` is succeeded (``result``) or failed (``error``)."""

    serializer_class = AllocationPlanSerializer

    def get_tenant_queryset(self, *, tenant):
        return plan_list(tenant=tenant)

    @extend_schema(request=AllocationPlanCreateSerializer, responses={202: AllocationPlanSerializer})
    def create(self, request):
        data = self.validated_input(AllocationPlanCreateSerializer)
        plan = plan_create(tenant=self.tenant, **data, **self.actor())
        return Response(AllocationPlanSerializer(plan).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={202: AllocationPlanSerializer},
        description="Optimize a failed plan again with the same request, on the tenant's data as it is now. 400 when "
        "the plan is not failed.",
    )
    @action(detail=True, methods=["post"])
    def rerun(self, request, pk=None):
        plan = plan_rerun(plan=self.get_object(), **self.actor())
        return Response(AllocationPlanSerializer(plan).data, status=status.HTTP_202_ACCEPTED)

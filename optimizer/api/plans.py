"""Partner API for allocation plans. Writes go through optimizer.services.plans."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.base import TenantScopedViewSet
from core.api.inputs import StrictInputMixin, parse_query
from core.api.schema import ErrorSerializer
from core.bounds import validate_money
from core.errors import DomainError
from optimizer.api.plan_results import PlanResultSerializer
from optimizer.models import AllocationPlan
from optimizer.selectors import plan_list, plan_versions
from optimizer.services.plans import (
    MAX_HISTORY_DAYS,
    plan_create,
    plan_export_csv,
    plan_rerun,
    plan_version_create,
)


class AllocationPlanSerializer(serializers.ModelSerializer):
    # A plain string in the schema: a second enum named "status" would need a settings override.
    status = serializers.CharField(
        read_only=True, help_text="pending, running, succeeded or failed (whether the optimizer ran; see outcome)."
    )
    request = serializers.JSONField(
        read_only=True,
        help_text="bounds {channel: [min, max]}, retailer_bounds {retailer: [min, max]}, exclude_channels, chance.",
    )
    outcome = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="What the finished plan amounts to: ready, ready_with_warnings, cannot_meet (the plan does not do "
        "what was asked: a ROAS floor held only by leaving more than half of the budget unspent, or a period other "
        "than its objective text names) or failed; null while pending or running.",
    )
    result = PlanResultSerializer(
        read_only=True,
        help_text="The optimizer's OUT.json (allocations, totals, constraints, objective; docs/optimization.md) with "
        "money as decimal strings, and `notices`; empty until the plan succeeds.",
    )
    creator = serializers.CharField(
        source="creator_label", read_only=True, help_text='Who created it: a username or "API key <name> (<owner>)".'
    )
    error = serializers.CharField(read_only=True, help_text="Why the plan failed (an infeasible floor, ...).")
    root = serializers.IntegerField(
        source="root_id", read_only=True, help_text="The plan's first version (every version shares it)."
    )
    parent = serializers.IntegerField(
        source="parent_id", read_only=True, allow_null=True, help_text="The version this one was edited from."
    )
    version = serializers.IntegerField(read_only=True, help_text="1 for the first version, then 2, 3, ...")
    review_status = serializers.CharField(
        read_only=True, help_text="draft (not reviewed), changes_requested, approved or rejected."
    )

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
            "outcome",
            "result",
            "error",
            "created_at",
            "finished_at",
            "root",
            "parent",
            "version",
            "review_status",
            "creator",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["root"] = data["root"] or instance.pk  # a plan saved outside the services is its own root
        data["outcome"] = data["outcome"] or None
        return data


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
        required=False,
        allow_null=True,
        help_text="P(period ROAS >= min_roas) >= chance. Default with a min_roas: 0.9 (the floor as a promise); "
        "0 or null: the floor on the expected ROAS only.",
    )
    history_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=f"Learn from the last N days of history only (14 to {MAX_HISTORY_DAYS}; default: all).",
    )


class AllocationPlanVersionSerializer(StrictInputMixin, serializers.Serializer):
    budget = serializers.DecimalField(
        max_digits=18, decimal_places=4, validators=[validate_money], required=False, help_text="Default: unchanged."
    )
    min_roas = serializers.DecimalField(
        max_digits=8,
        decimal_places=3,
        required=False,
        allow_null=True,
        help_text="Default: unchanged; null removes the floor (and its chance constraint).",
    )
    bounds = serializers.DictField(
        child=serializers.ListField(
            child=serializers.DecimalField(max_digits=18, decimal_places=4, validators=[validate_money]),
            min_length=2,
            max_length=2,
        ),
        required=False,
        help_text='{"retailer|placement_type": [min_spend, max_spend]}, replacing the edited version\'s bounds. '
        "Default: unchanged.",
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, help_text="Default: unchanged.")
    chance = serializers.FloatField(
        required=False,
        allow_null=True,
        help_text="P(period ROAS >= min_roas) >= chance, as on a new plan; 0 or null: the floor on the expected ROAS "
        "only. Default: unchanged (0.9 where a floor is added to a version that had none).",
    )


class PlanExportQuerySerializer(serializers.Serializer):
    retailer = serializers.CharField(required=False, max_length=50, help_text="Only this retailer's rows.")


class PlanNotApproved(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_approved"
    default_detail = "Only an approved plan can be exported."


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

    @extend_schema(
        methods=["GET"],
        request=None,
        responses={200: AllocationPlanSerializer(many=True)},
        description="Every version of this plan (the same root), oldest first.",
    )
    @extend_schema(
        methods=["POST"],
        request=AllocationPlanVersionSerializer,
        responses={202: AllocationPlanSerializer},
        description="A what-if edit of a finished (succeeded or failed) version: a new version with this budget, "
        "ROAS floor and channel bounds, the rest of the request copied, optimized in the background (poll it like "
        "any plan). It starts unreviewed. 400 naming `status` while the edited version is pending or running.",
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def versions(self, request, pk=None):
        plan = self.get_object()
        if request.method == "GET":
            return Response(AllocationPlanSerializer(plan_versions(plan=plan), many=True).data)
        data = self.validated_input(AllocationPlanVersionSerializer)
        version = plan_version_create(plan=plan, **data, **self.actor())
        return Response(AllocationPlanSerializer(version).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[PlanExportQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="plan, version, retailer, placement_type, currency, period_days, spend, daily_spend",
            ),
            400: OpenApiResponse(
                ErrorSerializer, description="`retailer` names a retailer the plan does not spend on."
            ),
            409: OpenApiResponse(ErrorSerializer, description="The version is not approved (error code not_approved)."),
        },
        description="The approved version's spend per retailer × placement as CSV; `retailer` keeps that "
        "retailer's rows (one file per retailer console). 409 unless the version is approved; 400 naming "
        "`retailer` for a retailer the plan does not spend on.",
    )
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        plan = self.get_object()
        retailer = parse_query(PlanExportQuerySerializer, request).get("retailer")
        try:
            body = plan_export_csv(plan=plan, retailer=retailer)
        except DomainError as exc:
            if exc.code == "not_approved":
                raise PlanNotApproved(exc.message) from None
            raise
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        name = f"plan-{plan.root_id or plan.pk}-v{plan.version}{'-' + retailer if retailer else ''}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

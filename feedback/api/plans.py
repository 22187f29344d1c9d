"""Partner API for marketers' decisions on plan versions. Writes go through feedback.services.plan_review."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from core.api.base import TenantScopedViewSet
from core.api.inputs import StrictInputMixin
from feedback.models import PlanReview
from feedback.services.plan_review import plan_review_submit
from optimizer.models import AllocationPlan
from optimizer.selectors import plan_list


class TenantPlanField(serializers.PrimaryKeyRelatedField):
    """A plan version's id, valid only for the caller's tenant: another tenant's plan does not exist."""

    default_error_messages = {
        **serializers.PrimaryKeyRelatedField.default_error_messages,
        "does_not_exist": "Plan {pk_value} does not exist.",
    }

    def __init__(self, **kwargs):
        super().__init__(queryset=AllocationPlan.objects.none(), **kwargs)

    def get_queryset(self):
        tenant = self.context.get("tenant")
        return plan_list(tenant=tenant) if tenant is not None else AllocationPlan.objects.none()


class PlanReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.get_username", read_only=True)
    version = serializers.IntegerField(source="plan.version", read_only=True)

    class Meta:
        model = PlanReview
        fields = ["id", "plan", "version", "decision", "comment", "reviewer", "created_at"]
        read_only_fields = fields


class PlanReviewCreateSerializer(StrictInputMixin, serializers.Serializer):
    plan = TenantPlanField(help_text="The plan version decided on.")
    decision = serializers.ChoiceField(choices=PlanReview.Decision.choices)
    comment = serializers.CharField(
        required=False, allow_blank=True, help_text="Required to reject or to request changes."
    )


class PlanReviewQuerySerializer(serializers.Serializer):
    plan = TenantPlanField(required=False, help_text="Only the decisions on this plan version.")


@extend_schema_view(list=extend_schema(parameters=[PlanReviewQuerySerializer]))
class PlanReviewViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Marketers' decisions on plan versions, oldest first (append-only: a later decision is a new record and sets
    the version's ``review_status``). POST decides: edit_data capability, a signed-in person (an API key cannot
    decide), a succeeded plan, and a comment to reject or request changes."""

    serializer_class = PlanReviewSerializer
    query_serializer_class = PlanReviewQuerySerializer

    def get_tenant_queryset(self, *, tenant):
        return PlanReview.objects.filter(tenant=tenant).select_related("reviewer", "plan").order_by("created_at", "id")

    def filter_queryset(self, queryset):
        if self.action != "list" or getattr(self, "swagger_fake_view", False):
            return queryset
        request = self.request
        serializer = PlanReviewQuerySerializer(data=request.query_params, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        plan = serializer.validated_data.get("plan")
        return queryset.filter(plan=plan) if plan is not None else queryset

    @extend_schema(request=PlanReviewCreateSerializer, responses={201: PlanReviewSerializer})
    def create(self, request):
        data = self.validated_input(PlanReviewCreateSerializer)
        actor = self.actor()
        review = plan_review_submit(
            plan=data["plan"], user=actor["user"], decision=data["decision"], comment=data.get("comment", "")
        )
        return Response(PlanReviewSerializer(review).data, status=status.HTTP_201_CREATED)


__all__ = ["PlanReviewViewSet"]

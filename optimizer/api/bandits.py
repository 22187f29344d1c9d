"""Partner API for bandit policies (list, retrieve with the decision log)."""

from __future__ import annotations

from rest_framework import mixins, serializers

from core.api.base import TenantScopedViewSet
from optimizer.models import BanditDecision, BanditPolicy
from optimizer.selectors import policy_list


class BanditDecisionSerializer(serializers.ModelSerializer):
    allocation = serializers.JSONField(read_only=True, help_text="Channel key -> daily spend chosen.")
    propensities = serializers.JSONField(
        read_only=True, help_text="Channel key -> probability the policy gave its choice."
    )
    reward = serializers.JSONField(
        read_only=True,
        allow_null=True,
        help_text="Channel key -> {spend, attributed_sales, reward} once the day's performance arrived.",
    )

    class Meta:
        model = BanditDecision
        fields = ["date", "allocation", "propensities", "reward"]
        read_only_fields = fields


class BanditPolicySerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="active, paused or finished.")
    plan = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    channels = serializers.SerializerMethodField(help_text='Channel keys "retailer|placement_type".')

    class Meta:
        model = BanditPolicy
        fields = [
            "id",
            "name",
            "plan",
            "currency",
            "budget",
            "spent",
            "start_date",
            "end_date",
            "status",
            "last_observed_date",
            "channels",
            "created_at",
        ]
        read_only_fields = fields

    def get_channels(self, policy) -> list[str]:
        return [a["key"] for a in (policy.state or {}).get("arms", [])]


class BanditPolicyDetailSerializer(BanditPolicySerializer):
    state = serializers.JSONField(
        read_only=True, help_text="The engine's state: the posterior per channel (arms), pacing, pending decisions."
    )
    decisions = BanditDecisionSerializer(many=True, read_only=True)

    class Meta(BanditPolicySerializer.Meta):
        fields = [*BanditPolicySerializer.Meta.fields, "state", "decisions"]
        read_only_fields = fields


class BanditPolicyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """In-flight reallocation policies of the tenant; one policy's page has its state and its decision log."""

    serializer_class = BanditPolicySerializer

    def get_serializer_class(self):
        return BanditPolicyDetailSerializer if self.action == "retrieve" else BanditPolicySerializer

    def get_tenant_queryset(self, *, tenant):
        return policy_list(tenant=tenant).order_by("-created_at").prefetch_related("decisions")

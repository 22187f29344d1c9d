"""Partner API for experiments (list, retrieve, design). Writes go through optimizer.services.experiments."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from campaigns.api import RetailerCodeField
from core.api.base import TenantScopedViewSet
from core.api.inputs import StrictInputMixin
from optimizer.models import Experiment
from optimizer.services.experiments import experiment_design


class ExperimentSerializer(serializers.ModelSerializer):
    retailer = RetailerCodeField(read_only=True)
    # Plain strings in the schema: a second enum named "status" would need a settings override.
    status = serializers.CharField(read_only=True, help_text="designed, running, read_out or cancelled.")
    design = serializers.JSONField(
        read_only=True, help_text="Assignment or schedule, MDE and power, by kind (docs/measurement.md)."
    )
    readout = serializers.JSONField(
        read_only=True,
        help_text="Empty until read out: the estimate (incremental_sales, incremental_sales_se, interval, p_value, "
        "spend, incremental_roas) and the lift_study entry a save would store.",
    )
    lift_study = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The lift study this readout was saved as, if any."
    )

    class Meta:
        model = Experiment
        fields = [
            "id",
            "name",
            "kind",
            "retailer",
            "placement_type",
            "start_date",
            "end_date",
            "status",
            "design",
            "readout",
            "lift_study",
            "created_at",
        ]
        read_only_fields = fields


class ExperimentDesignSerializer(StrictInputMixin, serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[Experiment.Kind.SWITCHBACK, Experiment.Kind.HOLDOUT],
        help_text="switchback or holdout (a geo test needs an uploaded panel: design it on the Experiments page).",
    )
    retailer = RetailerCodeField(active_only=True)
    placement_type = serializers.CharField(help_text="The channel's placement type, e.g. sponsored_product.")
    start_date = serializers.DateField()
    end_date = serializers.DateField(help_text="A switchback's end is shortened to whole block pairs.")
    params = serializers.DictField(
        required=False,
        help_text="All: name, alpha (0.10), power (0.80), seed. switchback: block_days (7), washout_days (2), "
        "history_days (182), outcome_history (CSV text date,outcome). holdout: audience_size (required), "
        "holdout_share (0.10), outcome_sd and rho, or users (CSV text user_id,outcome[,pre_outcome]), mde, spend. "
        "Any other key is refused; seed is 0 to 4294967295.",
    )


class ExperimentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """The tenant's experiments, newest first. POST designs a switchback or a holdout on the tenant's history
    (201); read out and save as a lift study on the Experiments page."""

    serializer_class = ExperimentSerializer

    def get_tenant_queryset(self, *, tenant):
        return Experiment.objects.filter(tenant=tenant).select_related("retailer")

    @extend_schema(request=ExperimentDesignSerializer, responses={201: ExperimentSerializer})
    def create(self, request):
        data = self.validated_input(ExperimentDesignSerializer)
        experiment = experiment_design(
            tenant=self.tenant,
            kind=data["kind"],
            retailer=data["retailer"],
            placement_type=data["placement_type"],
            start_date=data["start_date"],
            end_date=data["end_date"],
            params=data.get("params") or {},
            user=self.actor()["user"],
        )
        return Response(ExperimentSerializer(experiment).data, status=status.HTTP_201_CREATED)

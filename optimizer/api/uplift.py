"""Partner API for uplift studies and per-SKU forecasts. Writes go through optimizer.services.uplift; forecasts are
computed by optimizer.services.forecasts."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from campaigns.models import SKU
from core.api.base import TenantScopedViewSet
from core.api.inputs import StrictInputMixin, parse_query
from core.api.schema import ApiAutoSchema
from core.bounds import SEED_MAX
from optimizer.engine.uplift import LEARNERS
from optimizer.models import UpliftStudy
from optimizer.services.forecasts import HORIZON_DAYS, sku_forecast
from optimizer.services.uplift import uplift_study_create


class UpliftStudySerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="pending, running, succeeded or failed.")
    features = serializers.JSONField(read_only=True, help_text="The feature columns of the file, in its order.")
    options = serializers.JSONField(read_only=True, help_text="learners, randomized, seed.")
    result = serializers.JSONField(
        read_only=True,
        help_text="Empty until fitted: chosen (t, x, dr or baseline), reason, targeting, ate with ate_interval (90%), "
        "metrics per learner and baseline (qini, qini_interval, auuc, auuc_random, beats_baseline), segments (best "
        "effect first: label, rows, effect, interval, predicted_effect, verdict target/avoid/unclear/too_few, "
        "vs_average above/below/average) and "
        "curve (fraction, random and one uplift curve per learner). docs/measurement.md, 'Uplift workflow'.",
    )

    class Meta:
        model = UpliftStudy
        fields = [
            "id",
            "name",
            "file_name",
            "rows",
            "treated",
            "features",
            "options",
            "status",
            "error",
            "result",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class UpliftUploadSerializer(StrictInputMixin, serializers.Serializer):
    file = serializers.FileField(
        help_text="U.csv: treatment (1 exposed, 0 control), outcome (a number), optional unit_id, and one or more "
        "feature columns (numbers or categories). docs/measurement.md, 'Uplift workflow'."
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    learners = serializers.CharField(
        required=False, default=",".join(LEARNERS), help_text=f"Comma list of {', '.join(LEARNERS)} (all by default)."
    )
    randomized = serializers.BooleanField(
        required=False, default=False, help_text="Exposure was assigned at random with one probability for everybody."
    )
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=SEED_MAX)


class UpliftStudyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """The tenant's uplift studies, newest first. POST an exposure test's file: it is read at once (a bad line is a
    400 naming it) and fitted by a worker (202); poll the study until its status is succeeded or failed."""

    serializer_class = UpliftStudySerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_tenant_queryset(self, *, tenant):
        return UpliftStudy.objects.filter(tenant=tenant).defer("data")

    @extend_schema(request={"multipart/form-data": UpliftUploadSerializer}, responses={202: UpliftStudySerializer})
    def create(self, request):
        data = self.validated_input(UpliftUploadSerializer)
        study = uplift_study_create(
            tenant=self.tenant,
            upload=data["file"],
            name=data.get("name") or "",
            learners=data["learners"].split(","),
            randomized=data["randomized"],
            seed=data["seed"],
            **self.actor(),
        )
        return Response(UpliftStudySerializer(study).data, status=status.HTTP_202_ACCEPTED)


class SkuForecastQuerySerializer(serializers.Serializer):
    horizon_days = serializers.IntegerField(
        required=False, default=28, min_value=HORIZON_DAYS[0], max_value=HORIZON_DAYS[1], help_text="Default 28."
    )


class ElasticitySerializer(serializers.Serializer):
    estimate = serializers.FloatField(allow_null=True, help_text="d log(units) / d log(price); null: see reason.")
    stderr = serializers.FloatField(required=False, allow_null=True)
    interval = serializers.ListField(
        child=serializers.FloatField(allow_null=True), required=False, help_text="90% interval."
    )
    days = serializers.IntegerField(required=False, help_text="Days with an observed price.")
    naive_ols = serializers.FloatField(
        required=False, allow_null=True, help_text="Log-log slope without controls, for comparison."
    )
    reason = serializers.CharField(help_text="Why there is no estimate (empty when there is one).")


class SkuForecastRowSerializer(serializers.Serializer):
    sku_id = serializers.CharField()
    product_name = serializers.CharField()
    expected_daily_units = serializers.FloatField()
    daily_units_low = serializers.FloatField()
    daily_units_high = serializers.FloatField()
    horizon_units = serializers.FloatField()
    horizon_units_low = serializers.FloatField()
    horizon_units_high = serializers.FloatField()
    history_units = serializers.FloatField()
    stock = serializers.FloatField(allow_null=True, help_text="Units on hand; null when the tenant tracks no stock.")
    days_of_cover = serializers.FloatField(allow_null=True)
    p_stockout = serializers.FloatField(allow_null=True, help_text="P(demand over the horizon > stock).")
    elasticity = ElasticitySerializer()


class SkuForecastSerializer(serializers.Serializer):
    horizon_days = serializers.IntegerField()
    currency = serializers.CharField()
    tracks_stock = serializers.BooleanField()
    history_start = serializers.DateField(allow_null=True)
    history_end = serializers.DateField(allow_null=True)
    demand_source = serializers.CharField()
    pooled_elasticity = ElasticitySerializer(allow_null=True)
    skus = SkuForecastRowSerializer(many=True, help_text="Highest stock-out risk first.")


class _OneObjectSchema(ApiAutoSchema):
    # The collection's GET answers one object (the forecast with its SKUs), not a page of rows.
    def _is_list_view(self, serializer=None) -> bool:
        return False


class SkuForecastViewSet(TenantScopedViewSet):
    """Stock-out risk and price elasticity per SKU of the tenant (docs/optimization.md, "Forecasting")."""

    serializer_class = SkuForecastSerializer
    pagination_class = None
    schema = _OneObjectSchema()
    query_serializer_class = SkuForecastQuerySerializer

    def get_tenant_queryset(self, *, tenant):
        return SKU.objects.filter(tenant=tenant)

    @extend_schema(parameters=[SkuForecastQuerySerializer], responses=SkuForecastSerializer)
    def list(self, request):
        query = parse_query(SkuForecastQuerySerializer, request)
        return Response(sku_forecast(tenant=self.tenant, horizon_days=query["horizon_days"]))

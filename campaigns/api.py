"""Partner API for retailers, brands, SKUs, campaigns and performance. Thin: serializers check shapes and
types, services in campaigns/services.py apply the rules, selectors in campaigns/selectors.py do the reads."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns.models import SKU, AttributionModel, Brand, Campaign, PerformanceFact, PlacementType, Retailer
from campaigns.selectors import (
    PerformanceFilter,
    brand_list,
    campaign_list,
    performance_by_channel,
    performance_facts,
    performance_totals,
    sku_list,
)
from campaigns.services import (
    RetailerItemSpec,
    brand_create,
    campaign_create,
    campaign_update,
    sku_create,
    sku_update,
)
from core.api.base import TenantScopedViewSet
from core.api.inputs import StrictInputMixin, parse_query
from core.bounds import ID_MAX

# --- fields ---------------------------------------------------------------------------------------------------


class RetailerCodeField(serializers.SlugRelatedField):
    """A retailer named by its ``code``; an unknown code is a 400 that repeats it."""

    default_error_messages = {
        **serializers.SlugRelatedField.default_error_messages,
        "does_not_exist": "Unknown retailer {value!r}.",
    }

    def __init__(self, *, active_only: bool = False, **kwargs):
        if not kwargs.get("read_only"):
            kwargs["queryset"] = Retailer.objects.filter(is_active=True) if active_only else Retailer.objects.all()
        super().__init__(slug_field="code", **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:  # PostgreSQL cannot even compare it: a 500 in a filter
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)


class TenantBrandField(serializers.PrimaryKeyRelatedField):
    """A brand id, valid only for the caller's tenant: another tenant's brand does not exist."""

    default_error_messages = {
        **serializers.PrimaryKeyRelatedField.default_error_messages,
        "does_not_exist": "Brand {pk_value} does not exist.",
    }

    def __init__(self, **kwargs):
        # The placeholder gives the schema its id type; get_queryset() is what validation uses.
        super().__init__(queryset=Brand.objects.none(), **kwargs)

    def get_queryset(self):
        tenant = self.context.get("tenant")
        return brand_list(tenant=tenant) if tenant is not None else Brand.objects.none()


# --- retailers ------------------------------------------------------------------------------------------------


class AttributionDefaultsSerializer(serializers.Serializer):
    # Named like the performance fact's fields, so both share one AttributionModel enum in the schema.
    attribution_window_days = serializers.IntegerField(source="default_attribution_window_days")
    attribution_model = serializers.ChoiceField(source="default_attribution_model", choices=AttributionModel.choices)


class RetailerSerializer(serializers.ModelSerializer):
    default_attribution = AttributionDefaultsSerializer(
        source="*", read_only=True, help_text="How the retailer attributes sales unless a report says otherwise."
    )

    class Meta:
        model = Retailer
        fields = ["code", "name", "reporting_currency", "timezone", "default_attribution", "policy_specs", "is_active"]
        read_only_fields = fields


class RetailerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    serializer_class = RetailerSerializer
    lookup_field = "code"

    def get_tenant_queryset(self, *, tenant):
        # Shared reference data, the same for every tenant; the base still requires the caller to have one.
        return Retailer.objects.all()


# --- brands ---------------------------------------------------------------------------------------------------


class BrandSerializer(StrictInputMixin, serializers.ModelSerializer):
    class Meta:
        model = Brand
        fields = ["id", "name"]


class BrandViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    serializer_class = BrandSerializer

    def get_tenant_queryset(self, *, tenant):
        return brand_list(tenant=tenant)

    def create(self, request):
        brand = brand_create(tenant=self.tenant, **self.validated_input(), **self.actor())
        return Response(BrandSerializer(brand).data, status=status.HTTP_201_CREATED)


# --- SKUs -----------------------------------------------------------------------------------------------------


class RetailerItemSerializer(serializers.Serializer):
    retailer = RetailerCodeField()
    item_id = serializers.CharField(max_length=64, help_text="The retailer's id for the item (ASIN, item id, ...).")


class SKUSerializer(StrictInputMixin, serializers.ModelSerializer):
    brand = TenantBrandField()
    retailer_items = RetailerItemSerializer(
        many=True, required=False, help_text="The retailer crosswalk; on PATCH, the list given replaces the old one."
    )

    class Meta:
        model = SKU
        fields = [
            "id",
            "brand",
            "sku_code",
            "name",
            "gtin",
            "category",
            "currency",
            "price",
            "unit_cost",
            "stock_units",
            "is_active",
            "retailer_items",
        ]
        extra_kwargs = {"currency": {"help_text": "ISO 4217; defaults to the tenant's reporting currency."}}


def _retailer_item_specs(items: list[dict] | None) -> list[RetailerItemSpec] | None:
    return None if items is None else [RetailerItemSpec(**item) for item in items]


class SKUViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    serializer_class = SKUSerializer

    def get_tenant_queryset(self, *, tenant):
        return sku_list(tenant=tenant).prefetch_related("retailer_items__retailer")

    def create(self, request):
        data = self.validated_input()
        items = _retailer_item_specs(data.pop("retailer_items", []))
        sku = sku_create(tenant=self.tenant, retailer_items=items, **data, **self.actor())
        return Response(SKUSerializer(sku).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        sku = self.get_object()
        data = self.validated_input(instance=sku, partial=True)
        items = _retailer_item_specs(data.pop("retailer_items", None))
        sku_update(sku=sku, changes=data, retailer_items=items, **self.actor())
        return Response(SKUSerializer(self.get_object()).data)


# --- campaigns ------------------------------------------------------------------------------------------------


class CampaignSerializer(StrictInputMixin, serializers.ModelSerializer):
    retailer = RetailerCodeField(active_only=True)
    brand = TenantBrandField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "external_id",
            "retailer",
            "brand",
            "placement_type",
            "start_date",
            "end_date",
            "budget",
            "budget_currency",
            "status",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {
            "budget_currency": {"required": False, "help_text": "ISO 4217; defaults to the reporting currency."}
        }


class CampaignUpdateSerializer(StrictInputMixin, serializers.ModelSerializer):
    """Retailer, external id and placement type are fixed once a campaign exists."""

    brand = TenantBrandField()

    class Meta:
        model = Campaign
        fields = ["name", "brand", "start_date", "end_date", "budget", "budget_currency", "status"]


class CampaignQuerySerializer(serializers.Serializer):
    retailer = RetailerCodeField(required=False, help_text="Retailer code, for example amazon.")
    placement_type = serializers.ChoiceField(choices=PlacementType.choices, required=False)
    status = serializers.ChoiceField(choices=Campaign.Status.choices, required=False)


@extend_schema_view(list=extend_schema(parameters=[CampaignQuerySerializer]))
class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    serializer_class = CampaignSerializer
    query_serializer_class = CampaignQuerySerializer

    def get_tenant_queryset(self, *, tenant):
        return campaign_list(tenant=tenant)

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        params = parse_query(CampaignQuerySerializer, self.request)
        if "retailer" in params:
            queryset = queryset.filter(retailer=params["retailer"])
        if "placement_type" in params:
            queryset = queryset.filter(placement_type=params["placement_type"])
        if "status" in params:
            queryset = queryset.filter(status=params["status"])
        return queryset

    def create(self, request):
        campaign = campaign_create(tenant=self.tenant, **self.validated_input(), **self.actor())
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CampaignUpdateSerializer, responses=CampaignSerializer)
    def partial_update(self, request, pk=None):
        campaign = self.get_object()
        data = self.validated_input(CampaignUpdateSerializer, instance=campaign, partial=True)
        campaign_update(campaign=campaign, changes=data, **self.actor())
        return Response(CampaignSerializer(campaign).data)


# --- performance ----------------------------------------------------------------------------------------------


class PerformanceQuerySerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False, help_text="First UTC day included (YYYY-MM-DD).")
    date_to = serializers.DateField(required=False, help_text="Last UTC day included (YYYY-MM-DD).")
    retailer = RetailerCodeField(required=False, help_text="Retailer code, for example amazon.")
    placement_type = serializers.ChoiceField(choices=PlacementType.choices, required=False)
    campaign = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False, help_text="Campaign id.")

    def validate(self, attrs):
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError({"date_to": [f"date_to is before date_from {attrs['date_from']}."]})
        return attrs


class PerformanceFactSerializer(serializers.ModelSerializer):
    retailer = RetailerCodeField(read_only=True)

    class Meta:
        model = PerformanceFact
        fields = [
            "id",
            "date",
            "retailer",
            "campaign",
            "sku",
            "placement_type",
            "impressions",
            "clicks",
            "spend",
            "attributed_sales",
            "attributed_units",
            "attribution_window_days",
            "attribution_model",
            "currency",
            "original_currency",
            "original_spend",
            "original_attributed_sales",
            "fx_rate",
        ]
        read_only_fields = fields


class TotalsSerializer(serializers.Serializer):
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    spend = serializers.DecimalField(max_digits=None, decimal_places=4)
    attributed_sales = serializers.DecimalField(max_digits=None, decimal_places=4)
    attributed_units = serializers.IntegerField()
    roas = serializers.DecimalField(
        max_digits=None, decimal_places=4, allow_null=True, help_text="Attributed ROAS: attributed_sales / spend."
    )
    ctr = serializers.FloatField(allow_null=True, help_text="clicks / impressions.")


class ChannelTotalsSerializer(serializers.Serializer):
    retailer = serializers.CharField(help_text="Retailer code.")
    retailer_name = serializers.CharField()
    placement_type = serializers.ChoiceField(choices=PlacementType.choices)
    totals = TotalsSerializer()


class PerformanceSummarySerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The tenant's reporting currency, which all amounts are in.")
    totals = TotalsSerializer()
    channels = ChannelTotalsSerializer(many=True, help_text="Per retailer × placement type, biggest spend first.")


@extend_schema_view(list=extend_schema(parameters=[PerformanceQuerySerializer]))
class PerformanceViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """RMIS daily performance facts, in the tenant's reporting currency. Read-only."""

    serializer_class = PerformanceFactSerializer
    query_serializer_class = PerformanceQuerySerializer

    def performance_filter(self) -> PerformanceFilter:
        if getattr(self, "swagger_fake_view", False):
            return PerformanceFilter()
        params = parse_query(PerformanceQuerySerializer, self.request)
        retailer = params.get("retailer")
        return PerformanceFilter(
            date_from=params.get("date_from"),
            date_to=params.get("date_to"),
            retailer_code=retailer.code if retailer else None,
            placement_type=params.get("placement_type"),
            campaign_id=params.get("campaign"),
        )

    def get_tenant_queryset(self, *, tenant):
        return performance_facts(tenant=tenant, filters=self.performance_filter()).select_related("retailer")

    @extend_schema(parameters=[PerformanceQuerySerializer], responses=PerformanceSummarySerializer)
    @action(detail=False, methods=["get"])
    def summary(self, request):
        filters = self.performance_filter()
        channels = [
            {"retailer": code, "retailer_name": name, "placement_type": placement, "totals": totals}
            for code, name, placement, totals in performance_by_channel(tenant=self.tenant, filters=filters)
        ]
        summary = {
            "currency": self.tenant.reporting_currency,
            "totals": performance_totals(tenant=self.tenant, filters=filters),
            "channels": channels,
        }
        return Response(PerformanceSummarySerializer(summary).data)

"""Partner API for creatives: ask for a brief, read briefs and their variants, change a creative's status, export the
approved ones in a retailer's layout. Writes go through feedback.services.creatives."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns.models import Retailer
from core.api.base import TenantScopedViewSet
from core.api.inputs import StrictInputMixin, parse_query
from feedback.models import Creative, CreativeBrief
from feedback.services.creatives import (
    MAX_SKUS,
    MAX_VARIANTS,
    brief_list,
    creative_brief_create,
    creative_list,
    creative_status_change,
    creatives_export_csv,
)

# Statuses are plain strings in the schema: other endpoints already publish an enum named "status".


def _one_of(value: str, choices) -> str:
    if value not in choices:
        raise serializers.ValidationError(f"Use one of {', '.join(choices)}, not {value!r}.")
    return value


class CreativeSerializer(serializers.ModelSerializer):
    retailer = serializers.SlugRelatedField(slug_field="code", read_only=True)
    status = serializers.CharField(read_only=True, help_text="draft, in_review, approved, rejected or live.")
    adapter_versions = serializers.JSONField(
        read_only=True, help_text='[{"name", "version", "kind"}] that wrote it; empty: the base model alone.'
    )
    verification = serializers.JSONField(
        read_only=True,
        help_text='The policy check: {"compliant", "parsed", "violations": [{"rule", "field", "reason"}], '
        '"first_violations", "repairs": [{"step": "regenerate"|"rules", ...}], "policy"}.',
    )

    class Meta:
        model = Creative
        fields = [
            "id",
            "brief",
            "retailer",
            "variant",
            "take",
            "headline",
            "body",
            "cta",
            "disclosure",
            "status",
            "compliant",
            "repaired",
            "adapter_versions",
            "verification",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CreativeBriefSerializer(serializers.ModelSerializer):
    retailer = serializers.SlugRelatedField(slug_field="code", read_only=True)
    status = serializers.CharField(read_only=True, help_text="queued, running, succeeded or failed.")
    progress = serializers.JSONField(read_only=True, help_text='{"done": n, "total": n} variants written.')
    adapters = serializers.JSONField(read_only=True, help_text="Adapter names composed; empty: the base model.")
    skus = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    creatives = CreativeSerializer(many=True, read_only=True)

    class Meta:
        model = CreativeBrief
        fields = [
            "id",
            "retailer",
            "brand",
            "skus",
            "goal",
            "tone",
            "promotion",
            "variants_requested",
            "takes",
            "adapters",
            "status",
            "progress",
            "error",
            "created_at",
            "finished_at",
            "creatives",
        ]
        read_only_fields = fields


class CreativeBriefCreateSerializer(StrictInputMixin, serializers.Serializer):
    retailer = serializers.SlugField(help_text="The retailer's code, e.g. walmart.")
    brand = serializers.IntegerField(help_text="Id of one of your brands.")
    skus = serializers.ListField(
        child=serializers.IntegerField(), max_length=MAX_SKUS, help_text="Ids of that brand's SKUs (at least one)."
    )
    goal = serializers.CharField(max_length=200, help_text="What the copy should achieve.")
    tone = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    promotion = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    variants = serializers.IntegerField(min_value=1, max_value=MAX_VARIANTS, required=False, default=4)
    takes = serializers.IntegerField(
        min_value=1,
        max_value=2,
        required=False,
        default=1,
        help_text="2: each variant is written twice (the second sampled) and reviewers compare the two (A/B pairs).",
    )


class CreativeQuerySerializer(serializers.Serializer):
    brief = serializers.IntegerField(required=False, help_text="Only this brief's variants.")
    status = serializers.CharField(required=False, help_text="Only this status: draft, in_review, approved, ...")

    def validate_status(self, value: str) -> str:
        return _one_of(value, Creative.Status.values)

    retailer = serializers.SlugField(required=False, help_text="Only this retailer (code).")


class CreativeStatusSerializer(StrictInputMixin, serializers.Serializer):
    status = serializers.CharField(help_text="approved, rejected or live.")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    def validate_status(self, value: str) -> str:
        return _one_of(value, [Creative.Status.APPROVED, Creative.Status.REJECTED, Creative.Status.LIVE])


class ExportQuerySerializer(serializers.Serializer):
    retailer = serializers.SlugField(
        required=False, help_text="The retailer's code: its column layout. Without it: every retailer, default names."
    )


class CreativeBriefViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Creative briefs of the tenant, newest first. POST one to have its variants written on the inference queue
    (202); poll it until ``status`` is succeeded: each variant is in ``creatives`` with its policy check."""

    serializer_class = CreativeBriefSerializer

    def get_tenant_queryset(self, *, tenant):
        return brief_list(tenant=tenant).prefetch_related("skus", "creatives__retailer")

    @extend_schema(request=CreativeBriefCreateSerializer, responses={202: CreativeBriefSerializer})
    def create(self, request):
        data = self.validated_input(CreativeBriefCreateSerializer)
        actor = self.actor()
        brief = creative_brief_create(tenant=self.tenant, **data, user=actor["user"], api_key=actor["api_key"])
        return Response(CreativeBriefSerializer(brief).data, status=status.HTTP_202_ACCEPTED)


class CreativeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Creatives of the tenant (every variant written, compliant or rejected with its reasons)."""

    serializer_class = CreativeSerializer
    query_serializer_class = CreativeQuerySerializer

    def get_tenant_queryset(self, *, tenant):
        qs = creative_list(tenant=tenant).order_by("-id")
        if getattr(self, "action", None) == "list":
            query = parse_query(CreativeQuerySerializer, self.request)
            if "brief" in query:
                qs = qs.filter(brief_id=query["brief"])
            if "status" in query:
                qs = qs.filter(status=query["status"])
            if "retailer" in query:
                qs = qs.filter(retailer__code=query["retailer"])
        return qs

    @extend_schema(
        request=CreativeStatusSerializer,
        responses={200: CreativeSerializer},
        description="Approve, reject or mark live (history kept). 400 for a move the creative's status does not "
        "allow; a creative that failed the policy check can never be approved.",
    )
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        creative = self.get_object()  # another tenant's: 404 before the body is read
        data = self.validated_input(CreativeStatusSerializer)
        creative = creative_status_change(
            creative=creative, to_status=data["status"], note=data["note"], **self.actor()
        )
        return Response(CreativeSerializer(creative).data)

    @extend_schema(
        parameters=[ExportQuerySerializer],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="creative_id, then the "
                                                      "retailer's columns, one row per approved or live creative.")},
    )  # fmt: skip
    @action(detail=False, methods=["get"])
    def export(self, request):
        query = parse_query(ExportQuerySerializer, request)
        retailer = None
        if "retailer" in query:
            retailer = Retailer.objects.filter(code=query["retailer"]).first()
            if retailer is None:
                raise exceptions.NotFound(f"No retailer {query['retailer']!r}.")
        response = HttpResponse(creatives_export_csv(tenant=self.tenant, retailer=retailer), content_type="text/csv")
        name = retailer.code if retailer else "all"
        response["Content-Disposition"] = f'attachment; filename="creatives-{name}.csv"'
        return response

"""Partner API for ingest batches: list and read them (with the quality report), upload a file to ingest."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from core.api.base import TenantScopedViewSet
from harmonization.models import IngestBatch
from harmonization.selectors import batch_list
from harmonization.services import batch_create_from_upload


class IngestBatchSerializer(serializers.ModelSerializer):
    retailer = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text="Retailer code; null when the mapping names none."
    )
    progress = serializers.FloatField(read_only=True, help_text="Share of the input consumed, 0..1.")
    report = serializers.JSONField(
        read_only=True, help_text="The quality report (docs/mapping_guide.md); empty until the batch finishes."
    )
    has_quarantine_file = serializers.SerializerMethodField(help_text="Whether quarantined rows were stored.")
    # A plain string in the schema: a second enum named "status" (campaigns have one) would need a settings override.
    status = serializers.CharField(read_only=True, help_text="pending, running, succeeded or failed.")

    class Meta:
        model = IngestBatch
        fields = [
            "id",
            "retailer",
            "source",
            "mapping_name",
            "status",
            "input_bytes",
            "bytes_read",
            "progress",
            "rows_read",
            "rows_loaded",
            "rows_quarantined",
            "report",
            "error",
            "has_quarantine_file",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_has_quarantine_file(self, batch: IngestBatch) -> bool:
        return bool(batch.quarantine_file)


class IngestUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The retailer export (csv, tsv, jsonl, json, parquet; gzip allowed).")
    mapping = serializers.CharField(
        max_length=200, help_text="Name of a shipped mapping (config/mappings/<name>.yaml) or one saved for the tenant."
    )


class IngestBatchViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Ingest batches of the tenant, newest first. POST a file to harmonize it in the background (202)."""

    serializer_class = IngestBatchSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_tenant_queryset(self, *, tenant):
        return batch_list(tenant=tenant)

    @extend_schema(
        request={"multipart/form-data": IngestUploadSerializer},
        responses={202: IngestBatchSerializer},
        description="Upload a file; the batch is created pending and ingested by a worker. Poll the batch.",
    )
    def create(self, request):
        data = self.validated_input(IngestUploadSerializer)
        actor = self.actor()
        batch = batch_create_from_upload(
            tenant=self.tenant, mapping_name=data["mapping"], upload=data["file"], user=actor["user"],
            api_key=actor["api_key"],
        )  # fmt: skip
        return Response(IngestBatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)

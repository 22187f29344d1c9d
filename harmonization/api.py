"""Partner API for ingest batches: list and read them (with the quality report), upload a file to ingest."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from core.api.base import TenantScopedViewSet
from core.api.paths import HideServerPathsMixin
from harmonization.downloads import safe_csv_lines
from harmonization.models import IngestBatch
from harmonization.selectors import batch_list
from harmonization.services import batch_create_from_upload, ingest_batch_rerun


class IngestBatchSerializer(HideServerPathsMixin, serializers.ModelSerializer):
    server_path_fields = ("source", "error", "report")  # a worker's internal error may name a stored file
    retailer = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text="Retailer code (null when the mapping has none)."
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
            "input_deleted_at",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_has_quarantine_file(self, batch: IngestBatch) -> bool:
        return bool(batch.quarantine_file)


class IngestUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="The retailer export (csv, tsv, jsonl, json, parquet; gzip allowed), within the tenant's limits: "
        "upload size and header columns (400 here), rows (the batch fails)."
    )
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

    @extend_schema(
        request=None,
        responses={202: IngestBatchSerializer},
        description="Run a failed batch again from its stored file (or send a batch that has waited for a worker for "
        "over 15 minutes again). 400 when the batch is not failed or its file was deleted after the retention period.",
    )
    @action(detail=True, methods=["post"], parser_classes=[JSONParser, FormParser, MultiPartParser])
    def rerun(self, request, pk=None):
        actor = self.actor()
        batch = ingest_batch_rerun(batch=self.get_object(), user=actor["user"], api_key=actor["api_key"])
        return Response(IngestBatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The quarantined rows."),
                   404: OpenApiResponse(description="The batch quarantined no rows, or they were deleted.")},
        description="The batch's quarantined rows as CSV: line, field, reason, then the source columns (cells that "
        "a spreadsheet would run as formulas are escaped). Kept for a batch refused by its thresholds too.",
    )  # fmt: skip
    @action(detail=True, methods=["get"])
    def quarantine(self, request, pk=None):
        batch = self.get_object()
        if not batch.quarantine_file:
            raise exceptions.NotFound("This batch quarantined no rows.")
        try:
            handle = batch.quarantine_file.open("rb")
        except FileNotFoundError:
            raise exceptions.NotFound("The quarantined rows are no longer stored.") from None
        response = StreamingHttpResponse(safe_csv_lines(handle), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{batch.pk}-quarantined-rows.csv"'
        return response

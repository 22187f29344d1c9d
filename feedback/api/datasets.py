"""Partner API for datasets from feedback: export the tenant's current review feedback as a new dataset version, list
and read the versions, download their train and held-out JSONL files. Everything needs manage_tenant: the rows
carry reviewers' names and the exports feed training. Writes go through feedback.services.datasets."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.base import TenantScopedViewSet
from core.api.inputs import StrictInputMixin, parse_query
from feedback.engine.datasets import FORMATS, ExportOptions
from feedback.models import FeedbackDataset
from feedback.selectors import feedback_dataset_list
from feedback.services.datasets import TASK_KINDS, feedback_dataset_export, feedback_dataset_path
from governance.access import Capability

ROWS_HELP = (
    "JSONL, one row a line in TRL's conversational format (dpo: prompt, chosen, rejected; kto: prompt, completion, "
    "label; sft: prompt, completion) plus weight, source, item_ids, feedback_ids and reviewers, which trainers ignore."
)


class FeedbackDatasetSerializer(serializers.ModelSerializer):
    format = serializers.CharField(read_only=True, help_text="dpo, kto or sft.")
    options = serializers.JSONField(read_only=True, help_text="The filters and split it was made with.")
    provenance = serializers.JSONField(
        read_only=True,
        help_text="feedback_ids, adjudication_ids, item_ids, approved_creative_ids, review_task_ids and "
        'guideline_versions [{"task", "version"}] behind its rows.',
    )
    counts = serializers.JSONField(read_only=True, help_text='{"train": n, "heldout": n, "dropped": {reason: n}}')
    created_by = serializers.CharField(
        source="created_by.get_username", read_only=True, default=None, allow_null=True, help_text="null: an API key."
    )

    class Meta:
        model = FeedbackDataset
        fields = ["id", "task", "format", "version", "options", "provenance", "counts", "sha256", "created_by",
                  "created_at"]  # fmt: skip
        read_only_fields = fields


class FeedbackDatasetCreateSerializer(StrictInputMixin, serializers.Serializer):
    task = serializers.CharField(help_text=f"One of {', '.join(TASK_KINDS)}.")
    format = serializers.CharField(help_text=f"One of {', '.join(FORMATS)}.")
    options = serializers.DictField(
        required=False,
        help_text="Any of " + ", ".join(f"{k} ({v})" for k, v in ExportOptions().as_dict().items()) + ".",
    )


class FeedbackDatasetQuerySerializer(serializers.Serializer):
    task = serializers.CharField(required=False, help_text="Only this task's datasets.")
    # Not "format": DRF reads ?format= as the renderer to answer with.
    fmt = serializers.CharField(required=False, help_text="Only this format (dpo, kto, sft).")


def _jsonl_response(dataset: FeedbackDataset, part: str) -> FileResponse:
    path = feedback_dataset_path(dataset=dataset, part=part)
    if not path.is_file():
        raise exceptions.NotFound(f"The {part} file of this dataset is missing from the model storage.")
    name = f"{dataset.tenant.slug}-{dataset.task}-{dataset.format}-v{dataset.version}-{part}.jsonl"
    return FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type="application/jsonl")


FILE_RESPONSE = {(200, "application/jsonl"): OpenApiResponse(OpenApiTypes.BINARY, description=ROWS_HELP)}


@extend_schema_view(list=extend_schema(parameters=[FeedbackDatasetQuerySerializer]))
class FeedbackDatasetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Datasets from feedback, newest first. POST exports a new version (400 names a bad task, format or option);
    ``train`` and ``heldout`` download its files. No prompt is in both files."""

    serializer_class = FeedbackDatasetSerializer
    read_capability = Capability.MANAGE_TENANT
    write_capability = Capability.MANAGE_TENANT

    def get_tenant_queryset(self, *, tenant):
        return feedback_dataset_list(tenant=tenant).select_related("tenant")

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        query = parse_query(FeedbackDatasetQuerySerializer, self.request)
        return feedback_dataset_list(tenant=self.tenant, task=query.get("task"), fmt=query.get("fmt"))

    @extend_schema(request=FeedbackDatasetCreateSerializer, responses={201: FeedbackDatasetSerializer})
    def create(self, request):
        data = self.validated_input(FeedbackDatasetCreateSerializer)
        dataset = feedback_dataset_export(
            tenant=self.tenant, task=data["task"], fmt=data["format"], user=self.actor()["user"],
            options=data.get("options"),
        )  # fmt: skip
        return Response(FeedbackDatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=FILE_RESPONSE)
    @action(detail=True, methods=["get"])
    def train(self, request, pk=None):
        """The train rows (JSONL)."""
        return _jsonl_response(self.get_object(), "train")

    @extend_schema(responses=FILE_RESPONSE)
    @action(detail=True, methods=["get"])
    def heldout(self, request, pk=None):
        """The held-out rows (JSONL): prompts that are in no train row."""
        return _jsonl_response(self.get_object(), "heldout")


__all__ = ["FeedbackDatasetViewSet"]

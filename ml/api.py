"""Partner API of the generative layer: the adapter registry, training jobs and generations, all scoped to the caller's
tenant. Writes go through ml.services, ml.jobs and ml.inference; the rules on who may manage what are ml.views'."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.base import TenantScopedViewSet
from core.api.inputs import StrictInputMixin, parse_query
from core.api.paths import HideServerPathsMixin
from core.bounds import SEED_MAX
from governance.access import Capability
from ml.engine.prompts import TASKS
from ml.forms import MODES
from ml.jobs import ADAPTER_NAME_RE, training_job_start
from ml.models import Adapter, AdapterKind, GenerationRequest, TrainingJob
from ml.selectors import adapters_visible_to, training_jobs_visible_to
from ml.services import adapter_promote, adapter_retire, adapter_rollback, training_job_request_cancel

# Kinds, statuses, methods and tasks are plain strings in the schema: several other endpoints already publish enums
# named "kind", "status" and "method", and a second one of the same name would need a settings override.


def _shared_needs_staff(request, *, shared: bool, what: str) -> None:
    if shared and not (getattr(request, "auth", None) is None and request.user.is_staff):
        raise exceptions.PermissionDenied(f"{what} is shared by every tenant: only staff may change it.")


BASE_MODEL_HELP = "A Hugging Face model id, or a local model folder relative to the model storage."


# --- adapters -------------------------------------------------------------------------------------------------------


class AdapterSerializer(HideServerPathsMixin, serializers.ModelSerializer):
    server_path_fields = ("base_model",)  # a local base model folder is shown relative to MODEL_STORAGE_DIR
    kind = serializers.CharField(read_only=True, help_text="retailer, brand or task.")
    status = serializers.CharField(read_only=True, help_text="candidate, active or retired.")
    tenant = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="Owner of a brand adapter; null for shared adapters.",
    )
    metrics = serializers.JSONField(read_only=True, help_text="Evaluation results, metric name -> number.")

    class Meta:
        model = Adapter
        fields = [
            "id",
            "name",
            "kind",
            "tenant",
            "base_model",
            "version",
            "status",
            "metrics",
            "training_job",
            "created_at",
            "promoted_at",
        ]
        read_only_fields = fields
        extra_kwargs = {"base_model": {"help_text": BASE_MODEL_HELP}}


class AdapterQuerySerializer(serializers.Serializer):
    name = serializers.SlugField(required=False, help_text="Only this adapter name (every version).")
    kind = serializers.CharField(required=False, help_text="retailer, brand or task.")
    status = serializers.CharField(required=False, help_text="candidate, active or retired.")

    def validate_kind(self, value: str) -> str:
        return _one_of(value, AdapterKind.values, "kind")

    def validate_status(self, value: str) -> str:
        return _one_of(value, Adapter.Status.values, "status")


class AdapterPromoteSerializer(StrictInputMixin, serializers.Serializer):
    require_better = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="A metric name (e.g. exact_match): promote only if this version beats the active one on it.",
    )


def _one_of(value: str, allowed, field: str) -> str:
    if value not in allowed:
        raise serializers.ValidationError(f"{field} must be one of {', '.join(allowed)}, not {value!r}.")
    return value


@extend_schema_view(list=extend_schema(parameters=[AdapterQuerySerializer]))
class AdapterViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """LoRA adapter versions the tenant may see: shared retailer and task adapters and its own brand adapters.
    Promote, roll back and retire need manage_tenant; shared adapters are managed by staff only."""

    serializer_class = AdapterSerializer
    query_serializer_class = AdapterQuerySerializer
    write_capability = Capability.MANAGE_TENANT

    def get_tenant_queryset(self, *, tenant):
        return adapters_visible_to(tenant)

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        params = parse_query(AdapterQuerySerializer, self.request)
        for key in ("name", "kind", "status"):
            if key in params:
                queryset = queryset.filter(**{key: params[key]})
        return queryset

    def _managed(self) -> Adapter:
        adapter = self.get_object()
        _shared_needs_staff(self.request, shared=adapter.tenant_id is None, what=f"Adapter {adapter.name!r}")
        return adapter

    @extend_schema(request=AdapterPromoteSerializer, responses=AdapterSerializer)
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        """Make this version active (the active one is retired)."""
        adapter = self._managed()
        data = self.validated_input(AdapterPromoteSerializer)
        done = adapter_promote(
            adapter=adapter, user=self.actor()["user"], require_better=data.get("require_better") or None
        )
        return Response(AdapterSerializer(done).data)

    @extend_schema(request=None, responses=AdapterSerializer)
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        """Retire the active version of this adapter's name and re-activate the newest earlier one; answers it."""
        adapter = self._managed()
        done = adapter_rollback(name=adapter.name, tenant=adapter.tenant, user=self.actor()["user"])
        return Response(AdapterSerializer(done).data)

    @extend_schema(request=None, responses=AdapterSerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        adapter = self._managed()
        done = adapter_retire(adapter=adapter, user=self.actor()["user"])
        return Response(AdapterSerializer(done).data)


# --- training jobs --------------------------------------------------------------------------------------------------


class TrainingJobSerializer(HideServerPathsMixin, serializers.ModelSerializer):
    server_path_fields = ("base_model", "params", "error")
    adapter_kind = serializers.CharField(read_only=True, help_text="brand or task.")
    method = serializers.CharField(read_only=True, help_text="sft, dpo or qlora.")
    status = serializers.CharField(read_only=True, help_text="queued, running, succeeded, failed or cancelled.")
    tenant = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="The tenant of a brand adapter's job; null for shared jobs.",
    )
    params = serializers.JSONField(read_only=True, help_text="Trainer settings (max_steps, seed, ...).")
    progress = serializers.JSONField(
        read_only=True,
        help_text='{"step", "total_steps", "loss", "history": [{"step", "loss", "reward_margin", '
        '"reward_accuracy"}]} (reward keys for DPO only), rewritten as the job trains.',
    )
    fraction_done = serializers.FloatField(read_only=True, help_text="step / total_steps, 0..1.")
    adapters = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="Adapter versions this job registered (one when it succeeded)."
    )

    class Meta:
        model = TrainingJob
        fields = [
            "id",
            "adapter_name",
            "adapter_kind",
            "tenant",
            "method",
            "base_model",
            "params",
            "status",
            "progress",
            "fraction_done",
            "error",
            "cancel_requested",
            "adapters",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields
        extra_kwargs = {"base_model": {"help_text": BASE_MODEL_HELP}}


class TrainingJobCreateSerializer(StrictInputMixin, serializers.Serializer):
    kind = serializers.CharField(
        help_text="task (a shared adapter: staff users only, never an API key) or brand (this tenant's)."
    )
    task = serializers.CharField(help_text=f"The training data: {', '.join(TASKS)} (brand adapters: creative).")
    method = serializers.CharField(
        help_text="sft, dpo (creative preference pairs, from the active SFT version) or qlora."
    )
    adapter_name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="Default task_<task> or brand_<tenant>."
    )
    max_steps = serializers.IntegerField(min_value=1, max_value=2000, required=False, default=40)
    seed = serializers.IntegerField(min_value=0, max_value=SEED_MAX, required=False, default=0)

    def validate_kind(self, value: str) -> str:
        return _one_of(value, (AdapterKind.TASK, AdapterKind.BRAND), "kind")

    def validate_adapter_name(self, value: str) -> str:
        if value and not ADAPTER_NAME_RE.match(value):
            raise serializers.ValidationError(
                "use lower-case letters, digits, '_' and '-' (at most 100), starting with a letter or digit."
            )
        return value

    def validate_task(self, value: str) -> str:
        return _one_of(value, TASKS, "task")

    def validate_method(self, value: str) -> str:
        return _one_of(value, TrainingJob.Method.values, "method")


class TrainingJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Training jobs of the tenant's brand adapters and of the shared adapters, newest first. POST starts one (202);
    poll it for ``progress`` until ``status`` is succeeded (``adapters``), failed (``error``) or cancelled. A shared
    (task) adapter's job needs a staff user (403); a brand job past the tenant's limits (jobs at once, jobs a day) is a
    429 ``limit_reached``."""

    serializer_class = TrainingJobSerializer
    write_capability = Capability.MANAGE_TENANT

    def get_tenant_queryset(self, *, tenant):
        return training_jobs_visible_to(tenant).prefetch_related("adapters")

    @extend_schema(request=TrainingJobCreateSerializer, responses={202: TrainingJobSerializer})
    def create(self, request):
        data = self.validated_input(TrainingJobCreateSerializer)
        job = training_job_start(user=self.actor()["user"], tenant=self.tenant, **data)
        return Response(TrainingJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: TrainingJobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Ask the worker to stop at its next step; the job then turns cancelled and registers nothing."""
        job = self.get_object()
        user = self.actor()["user"]
        if job.tenant_id is None and not (user is not None and (user.is_staff or job.created_by_id == user.pk)):
            raise exceptions.PermissionDenied("Only staff or whoever started it may cancel a shared training job.")
        job = training_job_request_cancel(job=job, user=user)
        return Response(TrainingJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


# --- generations ----------------------------------------------------------------------------------------------------


class GenerationSerializer(HideServerPathsMixin, serializers.ModelSerializer):
    server_path_fields = ("error",)
    status = serializers.CharField(read_only=True, help_text="queued, running, succeeded or failed.")
    adapters = serializers.ListField(child=serializers.CharField(), read_only=True)
    weights = serializers.ListField(child=serializers.FloatField(), read_only=True, allow_null=True)
    prompt = serializers.JSONField(read_only=True, help_text="The task payload or chat messages as sent.")
    parsed = serializers.JSONField(read_only=True, help_text="The output parsed as the task's JSON; null if invalid.")

    class Meta:
        model = GenerationRequest
        fields = [
            "id",
            "task",
            "adapters",
            "mode",
            "weights",
            "prompt",
            "status",
            "output",
            "parsed",
            "error",
            "seconds",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class GenerationCreateSerializer(StrictInputMixin, serializers.Serializer):
    task = serializers.CharField(help_text=f"{', '.join(TASKS)}.")
    adapters = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        default=list,
        help_text="Adapter names in composition order (active versions the tenant may use); empty: the base model.",
    )
    mode = serializers.CharField(required=False, default="stack", help_text="stack, linear, cat or ties.")
    weights = serializers.ListField(
        child=serializers.FloatField(), required=False, allow_null=True, default=None, help_text="One per adapter."
    )
    payload = serializers.JSONField(
        help_text='The task payload, e.g. {"text": "Allocate $2.5M to maximize incremental margin with ROAS >= 3"} '
        "for budgeting (shapes in ml/prompts.py), or a list of chat messages."
    )

    def validate_task(self, value: str) -> str:
        return _one_of(value, TASKS, "task")

    def validate_mode(self, value: str) -> str:
        return _one_of(value, [m for m, _ in MODES], "mode")

    def validate(self, data):
        weights = data.get("weights")
        if weights is not None and len(weights) != len(data.get("adapters") or []):
            raise serializers.ValidationError(
                {"weights": [f"{len(weights)} weight(s) for {len(data['adapters'])} adapter(s)."]}
            )
        return data


class GenerationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Generations the tenant asked for, newest first. POST one (202; answered by an inference worker) and poll it until
    ``status`` is succeeded (``output``, ``parsed``) or failed. An adapter the tenant may not use is a 403; a text of
    the payload longer than the tenant's limit (1,000 characters by default) a 400; past the tenant's generations a day
    a 429 ``limit_reached``."""

    serializer_class = GenerationSerializer

    def get_tenant_queryset(self, *, tenant):
        return GenerationRequest.objects.filter(tenant=tenant)

    @extend_schema(request=GenerationCreateSerializer, responses={202: GenerationSerializer})
    def create(self, request):
        data = self.validated_input(GenerationCreateSerializer)
        from ml.inference import generation_request_create  # loads torch: only once a request is valid

        generation = generation_request_create(
            tenant=self.tenant,
            user=self.actor()["user"],
            task=data["task"],
            adapters=data["adapters"],
            payload_or_messages=data["payload"],
            mode=data["mode"],
            weights=data["weights"],
            enqueue=True,
        )
        return Response(GenerationSerializer(generation).data, status=status.HTTP_202_ACCEPTED)

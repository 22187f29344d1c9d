from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from governance.models import Tenant


class AdapterKind(models.TextChoices):
    RETAILER = "retailer", "Retailer"
    BRAND = "brand", "Brand"
    TASK = "task", "Task"


class TrainingJob(models.Model):
    """One LoRA training run (SFT, DPO or QLoRA) on the ``gpu`` queue.

    ``progress`` is rewritten by the worker as it trains: ``{"step", "total_steps", "loss", "history": [{"step",
    "loss", "reward_margin", "reward_accuracy"}, ...]}`` (the reward keys only for DPO). The worker polls
    ``cancel_requested`` between steps.
    """

    class Method(models.TextChoices):
        SFT = "sft", "SFT"
        DPO = "dpo", "DPO"
        KTO = "kto", "KTO"
        QLORA = "qlora", "QLoRA"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="training_jobs")
    adapter_name = models.SlugField(max_length=100)
    adapter_kind = models.CharField(max_length=10, choices=AdapterKind.choices)
    method = models.CharField(max_length=10, choices=Method.choices)
    base_model = models.CharField(max_length=300, help_text="Hugging Face id or local path of the base model.")
    dataset_path = models.CharField(max_length=500)
    params = models.JSONField(default=dict, blank=True, help_text="Hyperparameters as passed to the trainer.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    cancel_requested = models.BooleanField(default=False)
    output_dir = models.CharField(max_length=500, blank=True, help_text="Relative to MODEL_STORAGE_DIR.")
    worker = models.CharField(max_length=200, blank=True, help_text="hostname:pid of the process running the job.")
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life from the running job; a stale one means the worker died."
    )
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the job's message last went to the gpu queue (created, or sent again)."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.method} {self.adapter_name} ({self.status})"

    @property
    def fraction_done(self) -> float:
        if self.status == self.Status.SUCCEEDED:
            return 1.0
        step, total = self.progress.get("step") or 0, self.progress.get("total_steps") or 0
        return min(1.0, step / total) if total else 0.0


def validate_relative_path(value: str) -> None:
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts or "\\" in value:
        raise ValidationError(f"{value!r} must be a relative path inside MODEL_STORAGE_DIR (no '..').")


# What the demo's task adapters do, in the words the pages use (their names are registry identifiers).
TASK_ADAPTER_PURPOSES = {
    "task_budgeting": "Budgeting: fills the plan form from your words",
    "task_creative": "Ad copy: writes creative variants",
    "task_harmonization": "Imports: maps an export's columns",
}


class Adapter(models.Model):
    """One version of a LoRA adapter. Retailer and task adapters are shared by every tenant; a brand adapter belongs
    to exactly one tenant and no other tenant can ever compose it. At most one version of a name is active per scope
    (shared, or one tenant): that is the version the runtime serves."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    name = models.SlugField(max_length=100)
    kind = models.CharField(max_length=10, choices=AdapterKind.choices)
    tenant = models.ForeignKey(
        Tenant,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="adapters",
        help_text="Owner of a brand adapter; empty for shared retailer and task adapters.",
    )
    base_model = models.CharField(max_length=300)
    version = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    path = models.CharField(
        max_length=500, validators=[validate_relative_path], help_text="Adapter files, relative to MODEL_STORAGE_DIR."
    )
    training_job = models.ForeignKey(
        TrainingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="adapters"
    )
    metrics = models.JSONField(default=dict, blank=True, help_text="Evaluation results, metric name -> number.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CANDIDATE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "tenant__name", "-version"]
        constraints = [
            # NULL tenants (shared adapters) need their own indexes: NULLs never collide in a plain UNIQUE index.
            models.UniqueConstraint(
                fields=["tenant", "name", "version"], condition=Q(tenant__isnull=False), name="adapter_unique_version"
            ),
            models.UniqueConstraint(
                fields=["name", "version"], condition=Q(tenant__isnull=True), name="adapter_unique_shared_version"
            ),
            models.UniqueConstraint(
                fields=["tenant", "name"],
                condition=Q(status="active", tenant__isnull=False),
                name="adapter_one_active",
            ),
            models.UniqueConstraint(
                fields=["name"], condition=Q(status="active", tenant__isnull=True), name="adapter_one_active_shared"
            ),
            models.CheckConstraint(
                condition=(Q(kind="brand") & Q(tenant__isnull=False)) | (~Q(kind="brand") & Q(tenant__isnull=True)),
                name="adapter_brand_owned_others_shared",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="adapter_version_positive"),
        ]

    def __str__(self) -> str:
        owner = self.tenant.slug if self.tenant_id else "shared"
        return f"{self.name} v{self.version} ({owner}, {self.status})"

    @property
    def purpose(self) -> str:
        """What the adapter is for, in words (the name stays the identifier)."""
        if self.name in TASK_ADAPTER_PURPOSES:
            return TASK_ADAPTER_PURPOSES[self.name]
        return f"{self.get_kind_display()}: {self.name.replace('_', ' ')}"

    def clean(self) -> None:
        if self.kind == AdapterKind.BRAND and self.tenant_id is None:
            raise ValidationError({"tenant": "A brand adapter belongs to one tenant: choose the tenant."})
        if self.kind in (AdapterKind.RETAILER, AdapterKind.TASK) and self.tenant_id is not None:
            raise ValidationError({"tenant": f"A {self.kind} adapter is shared by all tenants: leave tenant empty."})

    @property
    def files_dir(self) -> Path:
        return Path(settings.MODEL_STORAGE_DIR) / self.path


class GenerationRequest(models.Model):
    """One generation a person asked for through the pages or the API: the composition, the prompt and the answer.

    Runs on the ``inference`` queue (``ml.generate_request``); the page polls it. Kept so reviewers can rate outputs.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="generation_requests")
    task = models.CharField(max_length=20, blank=True, help_text="budgeting, harmonization, creative, measurement.")
    adapters = models.JSONField(default=list, help_text="Adapter names, in composition order.")
    mode = models.CharField(max_length=10, default="stack", help_text="stack, linear, cat or ties.")
    weights = models.JSONField(null=True, blank=True)
    prompt = models.JSONField(help_text="Chat messages [{role, content}] or the task payload.")
    output = models.TextField(blank=True)
    parsed = models.JSONField(null=True, blank=True, help_text="The output parsed as the task's JSON, when valid.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    seconds = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {'+'.join(self.adapters) or 'base'} ({self.status})"

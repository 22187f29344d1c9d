from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from governance.currencies import validate_currency
from governance.models import Tenant


class FXRate(models.Model):
    """A dated exchange rate: 1 unit of ``currency`` is worth ``rate`` units of ``quote_currency`` on ``date``.

    Shared by all tenants (rates are facts about the world). Harmonization converts each row with the rate of its
    own date, falling back to the latest earlier rate within a few days (no fixings on weekends and holidays); a row
    with no usable rate is quarantined, never converted with a guess.
    """

    date = models.DateField()
    currency = models.CharField(max_length=3, validators=[validate_currency])
    quote_currency = models.CharField(max_length=3, validators=[validate_currency])
    rate = models.DecimalField(max_digits=20, decimal_places=10, validators=[MinValueValidator(0)])
    source = models.CharField(max_length=100, blank=True, help_text="Where the rate came from (ECB, bank, ...).")

    class Meta:
        verbose_name = "FX rate"
        ordering = ["-date", "currency", "quote_currency"]
        constraints = [
            models.UniqueConstraint(fields=["date", "currency", "quote_currency"], name="fxrate_unique_day_pair"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="fxrate_positive"),
            models.CheckConstraint(condition=~Q(currency=models.F("quote_currency")), name="fxrate_distinct_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.date} 1 {self.currency} = {self.rate} {self.quote_currency}"


class Mapping(models.Model):
    """A retailer mapping (YAML, docs/mapping_guide.md) saved in the database.

    The mappings shipped with the product live as files under ``config/mappings/``; mappings a person writes or
    accepts from the suggester are stored here, either shared (no tenant, admins only) or for one tenant.
    """

    name = models.SlugField(max_length=100)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="mappings")
    retailer = models.ForeignKey("campaigns.Retailer", on_delete=models.PROTECT, related_name="mappings")
    yaml_text = models.TextField(help_text="The mapping document (validated on save).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="mapping_unique_tenant_name"),
            models.UniqueConstraint(fields=["name"], condition=Q(tenant__isnull=True), name="mapping_unique_shared"),
        ]

    def __str__(self) -> str:
        return self.name


class IngestBatch(models.Model):
    """One load of retailer data (a file, an API pull, the demo simulator). Every RMIS fact points at one."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="ingest_batches")
    retailer = models.ForeignKey("campaigns.Retailer", null=True, blank=True, on_delete=models.PROTECT)
    source = models.CharField(max_length=300, help_text="File name, API pull or generator that produced the rows.")
    mapping_name = models.CharField(max_length=200, blank=True)
    mapping_yaml = models.TextField(blank=True, help_text="The mapping document exactly as it was applied.")
    input_file = models.FileField(upload_to="ingest/uploads/%Y/%m/", blank=True, max_length=300)
    input_deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the uploaded file (and quarantined rows) were deleted after retention."
    )
    input_bytes = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0, help_text="Progress: bytes of the input consumed so far.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    rows_read = models.BigIntegerField(default=0)
    rows_loaded = models.BigIntegerField(default=0)
    rows_quarantined = models.BigIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    quarantine_file = models.FileField(upload_to="ingest/quarantine/%Y/%m/", blank=True, max_length=300)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the worker running it.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life from that worker.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "ingest batches"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.source} ({self.status})"

    @property
    def progress(self) -> float:
        """Share of the input consumed, 0..1 (1 once finished)."""
        if self.status in (self.Status.SUCCEEDED, self.Status.FAILED):
            return 1.0
        return min(1.0, self.bytes_read / self.input_bytes) if self.input_bytes else 0.0

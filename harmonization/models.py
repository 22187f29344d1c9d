from django.conf import settings
from django.db import models

from governance.models import Tenant


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
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    rows_read = models.BigIntegerField(default=0)
    rows_loaded = models.BigIntegerField(default=0)
    rows_quarantined = models.BigIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "ingest batches"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.source} ({self.status})"

from django.contrib import admin

from harmonization.models import IngestBatch


@admin.register(IngestBatch)
class IngestBatchAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "tenant",
        "retailer",
        "source",
        "status",
        "rows_read",
        "rows_loaded",
        "rows_quarantined",
        "created_at",
    ]
    list_filter = ["status", "tenant", "retailer"]
    search_fields = ["source", "mapping_name"]
    readonly_fields = ["rows_read", "rows_loaded", "rows_quarantined", "report", "error", "created_at", "finished_at"]
    date_hierarchy = "created_at"

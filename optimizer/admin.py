from django.contrib import admin

from optimizer.models import LiftStudy, SimulationTruth


@admin.register(LiftStudy)
class LiftStudyAdmin(admin.ModelAdmin):
    list_display = [
        "tenant",
        "retailer",
        "placement_type",
        "start_date",
        "end_date",
        "spend",
        "incremental_sales",
        "incremental_sales_se",
        "currency",
        "method",
        "source",
    ]
    list_filter = ["tenant", "retailer", "placement_type", "method", "source"]
    search_fields = ["notes", "retailer__name", "tenant__name"]
    date_hierarchy = "end_date"


@admin.register(SimulationTruth)
class SimulationTruthAdmin(admin.ModelAdmin):
    list_display = ["tenant", "name", "seed", "simulator_version", "created_at"]
    list_filter = ["tenant", "simulator_version"]
    search_fields = ["name", "tenant__name"]
    readonly_fields = ["truth", "created_at"]

from django.contrib import admin

from governance.tenant_admin import TenantScopedAdmin, tenant_admin_site
from optimizer.models import (
    AllocationPlan,
    BanditDecision,
    BanditPolicy,
    Experiment,
    LiftStudy,
    SimulationTruth,
    UpliftStudy,
)


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


@admin.register(AllocationPlan)
class AllocationPlanAdmin(admin.ModelAdmin):
    list_display = ["id", "tenant", "name", "version", "budget", "currency", "period_days", "min_roas", "status",
                    "review_status"]  # fmt: skip
    list_filter = ["tenant", "status", "review_status", "objective", "roas_basis"]
    search_fields = ["name", "error", "tenant__name"]
    date_hierarchy = "created_at"
    # Versions and the review state change only through the services (what-if edits; feedback.PlanReview).
    readonly_fields = ["result", "error", "task_id", "created_at", "finished_at", "root", "parent", "version",
                       "review_status"]  # fmt: skip


class BanditDecisionInline(admin.TabularInline):
    model = BanditDecision
    extra = 0
    can_delete = False
    fields = ["date", "allocation", "propensities", "context", "reward", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BanditPolicy)
class BanditPolicyAdmin(admin.ModelAdmin):
    list_display = ["tenant", "name", "budget", "spent", "currency", "start_date", "end_date", "status"]
    list_filter = ["tenant", "status"]
    search_fields = ["name", "tenant__name"]
    readonly_fields = ["state", "last_observed_date", "created_at", "updated_at"]
    inlines = [BanditDecisionInline]


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["tenant", "name", "kind", "retailer", "placement_type", "start_date", "end_date", "status"]
    list_filter = ["tenant", "kind", "status", "retailer"]
    search_fields = ["name", "tenant__name"]
    readonly_fields = ["readout", "lift_study", "created_at"]


@admin.register(BanditDecision)
class BanditDecisionAdmin(admin.ModelAdmin):
    """The decision log is what off-policy evaluation replays: readable, never edited by hand."""

    list_display = ["policy", "date", "created_at"]
    list_filter = ["policy__tenant", "date"]
    search_fields = ["policy__name", "policy__tenant__name"]
    date_hierarchy = "date"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UpliftStudy)
class UpliftStudyAdmin(admin.ModelAdmin):
    list_display = ["id", "tenant", "name", "rows", "treated", "status", "created_at", "finished_at"]
    list_filter = ["tenant", "status"]
    search_fields = ["name", "file_name", "error", "tenant__name"]
    date_hierarchy = "created_at"
    # The uploaded units stay out of the form: thousands of lines, and the result is read on the study's page.
    exclude = ["data"]
    readonly_fields = ["result", "options", "features", "created_at", "started_at", "finished_at"]


@admin.register(LiftStudy, site=tenant_admin_site)
class TenantLiftStudyAdmin(TenantScopedAdmin):
    """The current tenant's lift studies (the tenant admins' site, /manage/)."""

    list_display = ["retailer", "placement_type", "start_date", "end_date", "spend", "incremental_sales", "currency",
                    "method", "source"]  # fmt: skip
    list_filter = ["retailer", "placement_type", "method", "source"]
    search_fields = ["notes", "retailer__name"]
    date_hierarchy = "end_date"
    exclude = ["created_by"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

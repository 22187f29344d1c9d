from django.contrib import admin, messages

from core.errors import DomainError
from ml.models import Adapter, GenerationRequest, TrainingJob
from ml.services import adapter_promote, adapter_retire, adapter_rollback, training_job_request_cancel


def _run_each(modeladmin, request, items, action, verb: str) -> None:
    done = 0
    for item in items:
        try:
            action(item)
            done += 1
        except DomainError as exc:
            modeladmin.message_user(request, exc.message, level=messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{verb} {done}.", level=messages.SUCCESS)


@admin.register(Adapter)
class AdapterAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "kind", "tenant", "status", "base_model", "created_at", "promoted_at"]
    list_filter = ["status", "kind", "tenant"]
    search_fields = ["name", "base_model", "path", "tenant__name"]
    date_hierarchy = "created_at"
    actions = ["promote", "rollback", "retire"]

    def get_readonly_fields(self, request, obj=None):
        # Versions, status and metrics change only through the registry services (numbering, audit, one active).
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Promote the selected versions (retires the active one)")
    def promote(self, request, queryset):
        _run_each(self, request, queryset, lambda a: adapter_promote(adapter=a, user=request.user), "Promoted")

    @admin.action(description="Roll back to the previous version")
    def rollback(self, request, queryset):
        # One rollback per name and scope, however many of its versions were ticked.
        scopes = {(a.name, a.tenant_id): (a.name, a.tenant) for a in queryset.select_related("tenant")}
        _run_each(
            self,
            request,
            scopes.values(),
            lambda scope: adapter_rollback(name=scope[0], tenant=scope[1], user=request.user),
            "Rolled back",
        )

    @admin.action(description="Retire the selected versions")
    def retire(self, request, queryset):
        _run_each(self, request, queryset, lambda a: adapter_retire(adapter=a, user=request.user), "Retired")


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = ["id", "adapter_name", "adapter_kind", "method", "tenant", "status", "step", "created_at"]
    list_filter = ["status", "method", "adapter_kind", "tenant"]
    search_fields = ["adapter_name", "base_model", "dataset_path", "task_id", "tenant__name"]
    date_hierarchy = "created_at"
    actions = ["request_cancel"]

    def get_readonly_fields(self, request, obj=None):
        # A job is a record the worker writes; people only ask it to stop (the action), never edit it.
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.display(description="step")
    def step(self, obj: TrainingJob) -> str:
        step, total = obj.progress.get("step"), obj.progress.get("total_steps")
        return f"{step}/{total}" if total else "-"

    @admin.action(description="Ask the worker to cancel the selected jobs")
    def request_cancel(self, request, queryset):
        _run_each(self, request, queryset, lambda j: training_job_request_cancel(job=j, user=request.user), "Cancelled")


@admin.register(GenerationRequest)
class GenerationRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "tenant", "task", "composition", "mode", "status", "seconds", "created_by", "created_at"]
    list_filter = ["status", "task", "mode", "tenant"]
    search_fields = ["output", "error", "tenant__name"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        # What was asked and answered is a record (reviewers rate it); it is never edited.
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.display(description="adapters")
    def composition(self, obj: GenerationRequest) -> str:
        return " + ".join(obj.adapters) or "base model"

"""Admin for the RLHF console. Feedback, adjudications, plan reviews and creative history are append-only: they can
be read and searched here, never changed or deleted (a changed answer is a new record that supersedes)."""

from django.contrib import admin

from feedback.models import (
    Adjudication,
    Assignment,
    Creative,
    CreativeBrief,
    CreativeEvent,
    Feedback,
    FeedbackDataset,
    GateDecision,
    Guideline,
    PlanReview,
    ReviewItem,
    ReviewTask,
)
from feedback.services.review import guideline_create


class AppendOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CreativeBrief)
class CreativeBriefAdmin(admin.ModelAdmin):
    list_display = ["id", "tenant", "retailer", "brand", "goal", "variants_requested", "status", "created_at"]
    list_filter = ["status", "retailer", "tenant"]
    search_fields = ["goal", "tone", "promotion", "brand__name", "tenant__name"]
    readonly_fields = ["policy", "progress", "error", "task_id", "worker", "heartbeat_at", "finished_at"]


class CreativeEventInline(admin.TabularInline):
    model = CreativeEvent
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "actor", "note", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Creative)
class CreativeAdmin(admin.ModelAdmin):
    list_display = ["id", "tenant", "retailer", "headline", "status", "compliant", "repaired", "created_at"]
    list_filter = ["status", "compliant", "repaired", "retailer", "tenant"]
    search_fields = ["headline", "body", "cta", "tenant__name"]
    inlines = [CreativeEventInline]

    # Read here, changed on the Creatives page or the API: they keep the history, and copy edited after its check
    # would still say compliant.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CreativeEvent)
class CreativeEventAdmin(AppendOnlyAdmin):
    list_display = ["creative", "from_status", "to_status", "actor", "created_at"]
    list_filter = ["to_status"]
    search_fields = ["note", "actor__username"]


class GuidelineInline(admin.StackedInline):
    model = Guideline
    extra = 0
    readonly_fields = ["version", "text", "created_by", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ReviewTask)
class ReviewTaskAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "kind", "overlap", "is_active", "created_at"]
    list_filter = ["kind", "is_active", "tenant"]
    search_fields = ["name", "tenant__name"]
    inlines = [GuidelineInline]


@admin.register(Guideline)
class GuidelineAdmin(admin.ModelAdmin):
    """Guidelines are versioned: saving (a new one, or a change to one) writes a new version of the task's
    guidelines; the version that earlier answers were given under stays as it was."""

    list_display = ["task", "version", "created_by", "created_at"]
    list_filter = ["task__tenant"]
    search_fields = ["text", "task__name"]
    fields = ["task", "text", "version", "created_by", "created_at"]
    readonly_fields = ["version", "created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "task"] if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        new = guideline_create(task=obj.task, text=obj.text, user=request.user)
        # The admin goes on with the new version (its message and redirect); the edited row is never saved.
        obj.pk, obj.version, obj.created_by, obj.created_at = new.pk, new.version, new.created_by, new.created_at
        obj._state.adding = False


@admin.register(ReviewItem)
class ReviewItemAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "kind", "is_gold", "status", "created_at"]
    list_filter = ["kind", "is_gold", "status", "task__tenant"]
    search_fields = ["task__name", "creative__headline"]
    raw_id_fields = ["creative", "creative_b", "plan"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["item", "reviewer", "status", "assigned_at", "submitted_at"]
    list_filter = ["status"]
    search_fields = ["reviewer__username"]
    raw_id_fields = ["item"]


@admin.register(Feedback)
class FeedbackAdmin(AppendOnlyAdmin):
    list_display = ["id", "item", "reviewer", "thumb", "preference", "is_current", "created_at"]
    list_filter = ["thumb", "preference", "is_current", "tenant"]
    search_fields = ["reviewer__username", "reason"]


@admin.register(Adjudication)
class AdjudicationAdmin(AppendOnlyAdmin):
    list_display = ["id", "item", "adjudicator", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["adjudicator__username", "note"]


@admin.register(PlanReview)
class PlanReviewAdmin(AppendOnlyAdmin):
    list_display = ["plan", "decision", "reviewer", "created_at"]
    list_filter = ["decision", "tenant"]
    search_fields = ["comment", "reviewer__username"]


@admin.register(FeedbackDataset)
class FeedbackDatasetAdmin(AppendOnlyAdmin):
    list_display = ["id", "tenant", "task", "format", "version", "created_by", "created_at"]
    list_filter = ["task", "format", "tenant"]
    search_fields = ["task", "tenant__name", "train_path"]


@admin.register(GateDecision)
class GateDecisionAdmin(AppendOnlyAdmin):
    list_display = ["id", "candidate", "baseline", "promoted", "created_at"]
    list_filter = ["promoted", "tenant"]
    search_fields = ["candidate__name"]

from django.contrib import admin, messages

from governance.limits import LIMIT_FIELDS, default_limits, human_bytes
from governance.models import (
    APIKey,
    AuditLog,
    CleanRoomDataset,
    CleanRoomExposure,
    CleanRoomPurchase,
    CleanRoomShopper,
    Membership,
    PrivacySpend,
    Tenant,
    TenantLimits,
)
from governance.services import api_key_create, api_key_revoke, audit_record
from governance.tenant_admin import TenantScopedAdmin, tenant_admin_site


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class _LimitsFields:
    """An empty field keeps the site default, shown as the field's placeholder."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in LIMIT_FIELDS and formfield is not None:
            default = default_limits()[db_field.name]
            shown = human_bytes(default) if db_field.name == "upload_bytes" else f"{default:,}"
            formfield.widget.attrs["placeholder"] = f"default: {shown}"
            formfield.help_text = f"{db_field.help_text} Empty: the site default ({shown})."
        return formfield


class TenantLimitsInline(_LimitsFields, admin.StackedInline):
    model = TenantLimits
    extra = 0
    max_num = 1
    fields = list(LIMIT_FIELDS)
    verbose_name_plural = "limits (empty: the site default)"


def _audit_limits(request, limits: TenantLimits, changed: list[str]) -> None:
    detail = {name: getattr(limits, name) for name in changed if name in LIMIT_FIELDS}
    audit_record(action="tenant_limits.update", tenant=limits.tenant, user=request.user, obj=limits, detail=detail)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "reporting_currency", "created_at"]
    list_filter = ["kind", "reporting_currency"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline, TenantLimitsInline]

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is TenantLimits:
            for inline_form in formset.forms:
                if inline_form.instance.pk and inline_form.has_changed() and inline_form not in formset.deleted_forms:
                    _audit_limits(request, inline_form.instance, inline_form.changed_data)


@admin.register(TenantLimits)
class TenantLimitsAdmin(_LimitsFields, admin.ModelAdmin):
    list_display = ["tenant", *LIMIT_FIELDS, "updated_at"]
    list_filter = [("training_jobs_at_once", admin.EmptyFieldListFilter), ("import_rows", admin.EmptyFieldListFilter)]
    search_fields = ["tenant__name", "tenant__slug"]
    autocomplete_fields = ["tenant"]
    fields = ["tenant", *LIMIT_FIELDS]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.has_changed():
            _audit_limits(request, obj, form.changed_data)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__name"]
    autocomplete_fields = ["user", "tenant"]


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "role", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["role", "tenant", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "tenant__name"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    fields = ["tenant", "name", "role", *readonly_fields]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return
        key, raw = api_key_create(tenant=obj.tenant, name=obj.name, role=obj.role, created_by=request.user)
        obj.pk = key.pk
        messages.warning(request, f"New API key (copy it now, it is not stored): {raw}")

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(key=key, user=request.user)


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "actor_label", "action", "object_type", "object_id"]
    list_filter = ["action", "tenant", "object_type"]
    search_fields = ["actor_label", "action", "object_type", "object_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- the tenant admins' site (/manage/): the current tenant's members and audit log (governance.tenant_admin) ------


@admin.register(Membership, site=tenant_admin_site)
class TenantMembershipAdmin(TenantScopedAdmin):
    """A tenant admin changes members' roles or removes them; adding people is the staff's (a user list spans every
    tenant)."""

    list_display = ["user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username"]
    fields = ["user", "role"]
    readonly_fields = ["user"]

    def has_add_permission(self, request, *args):
        return False

    # Not one's own membership: an admin who demoted or removed themselves would lock the tenant's admin out.
    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.user_id != request.user.pk)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.user_id != request.user.pk)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        detail = {"role": obj.role}
        audit_record(action="membership.update", tenant=obj.tenant, user=request.user, obj=obj, detail=detail)

    def delete_model(self, request, obj):
        audit_record(
            action="membership.delete", tenant=obj.tenant, user=request.user, obj=obj, detail={"user": obj.user_id}
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            self.delete_model(request, membership)


@admin.register(AuditLog, site=tenant_admin_site)
class TenantAuditLogAdmin(TenantScopedAdmin):
    list_display = ["created_at", "actor_label", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_label", "action", "object_type", "object_id"]
    date_hierarchy = "created_at"
    # Read only, and no form: the actor's user is shown as text, never offered as a choice among every user.
    readonly_fields = ["created_at", "actor_label", "action", "object_type", "object_id", "detail"]
    fields = readonly_fields

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CleanRoomDataset)
class CleanRoomDatasetAdmin(admin.ModelAdmin):
    """Rules, budget and per-query epsilon are edited here (docs/governance.md); every change is audited."""

    list_display = ["name", "tenant", "slug", "retailer_code", "epsilon_budget", "epsilon_per_query", "created_at"]
    list_filter = ["tenant", "retailer_code"]
    search_fields = ["name", "slug", "tenant__name", "retailer_code"]
    autocomplete_fields = ["tenant"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.has_changed():
            detail = {name: form.cleaned_data.get(name) for name in form.changed_data if name != "tenant"}
            audit_record(
                action="cleanroom.dataset_changed",
                tenant=obj.tenant,
                user=request.user,
                obj=obj,
                detail={"changed": form.changed_data, **detail},
            )


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CleanRoomShopper)
class CleanRoomShopperAdmin(_ReadOnlyAdmin):
    list_display = ["shopper_id", "dataset", "region", "age_band", "loyalty_tier"]
    list_filter = ["dataset", "loyalty_tier", "region"]
    search_fields = ["shopper_id", "dataset__slug", "dataset__tenant__name"]


@admin.register(CleanRoomExposure)
class CleanRoomExposureAdmin(_ReadOnlyAdmin):
    list_display = ["shopper_id", "dataset", "campaign_id", "impressions"]
    list_filter = ["dataset", "campaign_id"]
    search_fields = ["shopper_id", "campaign_id", "dataset__tenant__name"]


@admin.register(CleanRoomPurchase)
class CleanRoomPurchaseAdmin(_ReadOnlyAdmin):
    list_display = ["shopper_id", "dataset", "category", "amount", "units"]
    list_filter = ["dataset", "category"]
    search_fields = ["shopper_id", "category", "dataset__tenant__name"]


@admin.register(PrivacySpend)
class PrivacySpendAdmin(_ReadOnlyAdmin):
    """The privacy budget ledger: append-only, so read-only here too."""

    list_display = ["created_at", "tenant", "dataset", "epsilon", "actor_label", "query_sha256"]
    list_filter = ["tenant", "dataset"]
    search_fields = ["actor_label", "query_sha256", "dataset__slug", "tenant__name"]
    date_hierarchy = "created_at"

    def has_delete_permission(self, request, obj=None):
        return False

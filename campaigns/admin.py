from django.contrib import admin

from campaigns.forms import RetailerPolicyForm
from campaigns.models import SKU, Brand, Campaign, PerformanceDaily, PerformanceFact, Retailer, RetailerItem
from campaigns.services import performance_rollup_kept, performance_rollup_refresh
from governance.tenant_admin import TenantScopedAdmin, TenantScopedInline, tenant_admin_site


@admin.register(Retailer)
class RetailerAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "reporting_currency",
        "timezone",
        "default_attribution_window_days",
        "default_attribution_model",
        "is_active",
    ]
    list_filter = ["is_active", "reporting_currency", "default_attribution_model"]
    search_fields = ["code", "name"]
    form = RetailerPolicyForm
    fieldsets = [
        (None, {"fields": ["code", "name", "reporting_currency", "timezone", "default_attribution_window_days",
                           "default_attribution_model", "is_active"]}),
        ("Creative policy: limits", {"fields": ["headline_max_chars", "body_max_chars", "cta_max_chars"]}),
        ("Creative policy: words", {"fields": ["banned_terms", "banned_claims", "required_disclosures",
                                               "trademark_rules", "price_claims_allowed"]}),
        ("Creative policy: repair and export", {"fields": ["max_repairs", "export_headline", "export_body",
                                                            "export_cta", "export_disclosure"]}),
    ]  # fmt: skip


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["name", "tenant__name"]
    autocomplete_fields = ["tenant"]


class RetailerItemInline(admin.TabularInline):
    model = RetailerItem
    extra = 0
    fields = ["retailer", "item_id"]


@admin.register(SKU)
class SKUAdmin(admin.ModelAdmin):
    list_display = ["sku_code", "name", "tenant", "brand", "category", "price", "unit_cost", "currency", "stock_units"]
    list_filter = ["tenant", "brand", "category", "is_active"]
    search_fields = ["sku_code", "name", "gtin", "retailer_items__item_id"]
    autocomplete_fields = ["tenant", "brand"]
    inlines = [RetailerItemInline]

    def save_formset(self, request, form, formset, change):
        for obj in formset.save(commit=False):
            obj.tenant = form.instance.tenant
            obj.save()
        for obj in formset.deleted_objects:
            obj.delete()


@admin.register(RetailerItem)
class RetailerItemAdmin(admin.ModelAdmin):
    list_display = ["item_id", "retailer", "sku", "tenant"]
    list_filter = ["retailer", "tenant"]
    search_fields = ["item_id", "sku__sku_code", "sku__name"]
    autocomplete_fields = ["sku", "tenant"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "tenant",
        "retailer",
        "brand",
        "placement_type",
        "status",
        "budget",
        "budget_currency",
        "start_date",
        "end_date",
    ]
    list_filter = ["tenant", "retailer", "placement_type", "status"]
    search_fields = ["name", "external_id", "brand__name"]
    autocomplete_fields = ["tenant", "brand"]
    date_hierarchy = "start_date"

    # Deleting a campaign deletes its facts: the dashboard's rollup follows.
    def delete_model(self, request, obj):
        with performance_rollup_kept(facts=PerformanceFact.objects.filter(campaign=obj)):
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with performance_rollup_kept(facts=PerformanceFact.objects.filter(campaign__in=queryset)):
            super().delete_queryset(request, queryset)


@admin.register(PerformanceFact)
class PerformanceFactAdmin(admin.ModelAdmin):
    list_display = [
        "date",
        "tenant",
        "retailer",
        "campaign",
        "sku",
        "placement_type",
        "impressions",
        "clicks",
        "spend",
        "attributed_sales",
        "currency",
        "attribution_window_days",
    ]
    list_filter = ["tenant", "retailer", "placement_type", "attribution_window_days", "currency"]
    search_fields = ["campaign__name", "campaign__external_id", "sku__sku_code"]
    date_hierarchy = "date"
    list_select_related = ["tenant", "retailer", "campaign", "sku"]
    raw_id_fields = ["campaign", "sku", "ingest_batch"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        # Facts come from ingest batches; editing one by hand would break the batch's reconciliation.
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        performance_rollup_refresh(tenant=obj.tenant, date_from=obj.date, date_to=obj.date)

    def delete_model(self, request, obj):
        with performance_rollup_kept(facts=PerformanceFact.objects.filter(pk=obj.pk)):
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with performance_rollup_kept(facts=queryset):
            super().delete_queryset(request, queryset)


@admin.register(PerformanceDaily)
class PerformanceDailyAdmin(admin.ModelAdmin):
    """Read-only: the rollup is derived from the facts by campaigns.services.performance_rollup_refresh."""

    list_display = ["date", "tenant", "retailer", "placement_type", "spend", "attributed_sales", "impressions", "facts"]
    list_filter = ["tenant", "retailer", "placement_type"]
    search_fields = ["tenant__name", "retailer__code", "retailer__name"]
    date_hierarchy = "date"
    list_select_related = ["tenant", "retailer"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- the tenant admins' site (/manage/): the current tenant's catalog and campaigns only (governance.tenant_admin) ---


class TenantRetailerItemInline(TenantScopedInline):
    model = RetailerItem
    fields = ["retailer", "item_id"]


@admin.register(Brand, site=tenant_admin_site)
class TenantBrandAdmin(TenantScopedAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(SKU, site=tenant_admin_site)
class TenantSKUAdmin(TenantScopedAdmin):
    list_display = ["sku_code", "name", "brand", "category", "price", "unit_cost", "currency", "stock_units"]
    list_filter = ["brand", "is_active", "category"]
    search_fields = ["sku_code", "name", "gtin", "retailer_items__item_id"]
    inlines = [TenantRetailerItemInline]


@admin.register(Campaign, site=tenant_admin_site)
class TenantCampaignAdmin(TenantScopedAdmin):
    list_display = ["name", "retailer", "brand", "placement_type", "status", "budget", "budget_currency", "start_date"]
    list_filter = ["retailer", "placement_type", "status"]
    search_fields = ["name", "external_id", "brand__name"]
    date_hierarchy = "start_date"

    # Deleting a campaign deletes its facts: the dashboard's rollup follows (as in CampaignAdmin).
    def delete_model(self, request, obj):
        with performance_rollup_kept(facts=PerformanceFact.objects.filter(campaign=obj)):
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with performance_rollup_kept(facts=PerformanceFact.objects.filter(campaign__in=queryset)):
            super().delete_queryset(request, queryset)

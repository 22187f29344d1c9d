"""The tenant admins' own admin site at ``/manage/``: a tenant's brands, SKUs, campaigns, lift studies, members and
audit log, for the admins of that tenant (the session's current tenant), and nothing of any other tenant.

``/admin/`` stays the staff's site over every tenant. Here every queryset is the current tenant's, a new object gets
the current tenant, and a foreign key offers only the tenant's own objects (or a shared table named in SHARED_MODELS):
a model admin that would offer anything else fails when its form is built, never shows another tenant's rows.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse

from governance.access import Capability, TenantAccess, current_access

# Tables every tenant reads and none owns: choosing one of their rows names nothing of another tenant.
SHARED_MODELS = {"campaigns.retailer"}


def manage_access(request) -> TenantAccess | None:
    """The current tenant's access when the user may manage it, else None."""
    if not (request.user.is_authenticated and request.user.is_active):
        return None
    access = current_access(request)
    return access if access is not None and access.can(Capability.MANAGE_TENANT) else None


class TenantAdminSite(admin.AdminSite):
    site_header = "RMN Optimizer · manage your tenant"
    site_title = "Manage"
    index_title = "Your tenant's data"
    site_url = "/"

    def has_permission(self, request) -> bool:
        return manage_access(request) is not None

    def login(self, request, extra_context=None):
        # One sign-in page for the whole site (with its lock-out); a signed-in user who is no admin here gets 403.
        if self.has_permission(request):
            return redirect("tenant_admin:index")
        if request.user.is_authenticated:
            raise PermissionDenied("Only an admin of the current tenant may manage it.")
        return redirect_to_login(request.GET.get("next") or reverse("tenant_admin:index"))

    def each_context(self, request):
        context = super().each_context(request)
        access = manage_access(request)
        context["site_header"] = f"Manage {access.tenant.name}" if access else self.site_header
        return context

    def get_urls(self):
        # No "view on site" shortcut: it answers for any object of any content type, whichever tenant owns it.
        return [url for url in super().get_urls() if getattr(url, "name", None) != "view_on_site"]


tenant_admin_site = TenantAdminSite(name="tenant_admin")


class TenantModelForm(forms.ModelForm):
    """Validates with the tenant set, so per-tenant unique constraints answer as form errors, not database errors."""

    tenant = None  # set per request by TenantScopedAdmin.get_form

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.tenant is not None and getattr(self.instance, "tenant_id", None) is None:
            self.instance.tenant = self.tenant

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        exclude.discard("tenant")
        return exclude


def _tenant_form(form_class, tenant):
    return type(form_class.__name__, (form_class,), {"tenant": tenant})


def _scoped_choices(db_field, tenant, kwargs: dict) -> dict:
    related = db_field.related_model
    if related._meta.label_lower in SHARED_MODELS:
        return kwargs
    if not any(f.name == "tenant" for f in related._meta.get_fields()):
        raise ImproperlyConfigured(
            f"{db_field.model.__name__}.{db_field.name} offers {related.__name__}, which has no tenant: leave the "
            "field out of the tenant admin's form or name the model in SHARED_MODELS."
        )
    kwargs["queryset"] = related._default_manager.filter(tenant=tenant)
    return kwargs


class _Scoped:
    """What the tenant admin's model admins and inlines share: the tenant's rows, choices and form."""

    def _tenant(self, request):
        access = manage_access(request)
        if access is None:
            raise PermissionDenied("Only an admin of the current tenant may manage it.")
        return access.tenant

    def get_queryset(self, request):
        return super().get_queryset(request).filter(tenant=self._tenant(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs = _scoped_choices(db_field, self._tenant(request), kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs = _scoped_choices(db_field, self._tenant(request), kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_view_permission(self, request, obj=None) -> bool:
        return manage_access(request) is not None

    def has_add_permission(self, request, *args) -> bool:
        return manage_access(request) is not None

    def has_change_permission(self, request, obj=None) -> bool:
        return manage_access(request) is not None

    def has_delete_permission(self, request, obj=None) -> bool:
        return manage_access(request) is not None


class TenantScopedAdmin(_Scoped, admin.ModelAdmin):
    form = TenantModelForm
    view_on_site = False

    def get_exclude(self, request, obj=None):
        return [*(super().get_exclude(request, obj) or []), "tenant"]

    def get_form(self, request, obj=None, **kwargs):
        return _tenant_form(super().get_form(request, obj, **kwargs), self._tenant(request))

    def has_module_permission(self, request) -> bool:
        return manage_access(request) is not None

    def get_list_filter(self, request):
        # A filter on a foreign key lists every row of the related table: only those of this tenant's rows here.
        out = []
        for item in super().get_list_filter(request):
            if isinstance(item, str):
                field = get_fields_from_path(self.model, item)[-1]
                if field.is_relation and field.related_model._meta.label_lower not in SHARED_MODELS:
                    item = (item, admin.RelatedOnlyFieldListFilter)
            out.append(item)
        return out

    def save_model(self, request, obj, form, change):
        obj.tenant = self._tenant(request)
        super().save_model(request, obj, form, change)


class TenantScopedInline(_Scoped, admin.TabularInline):
    form = TenantModelForm
    extra = 0

    def get_exclude(self, request, obj=None):
        return [*(super().get_exclude(request, obj) or []), "tenant"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = _tenant_form(formset.form, self._tenant(request))
        return formset

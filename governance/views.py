"""Pages for the signed-in shell: tenant switching, the no-tenant page and tenant API keys."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from governance.access import Capability, switch_tenant, tenant_page
from governance.forms import APIKeyCreateForm, GuardrailFilterForm
from governance.models import APIKey
from governance.selectors import api_key_list, clean_room_budgets, guardrail_audit, guardrail_kind_label
from governance.services import api_key_create, api_key_revoke


@login_required
@require_POST
def tenant_switch(request: HttpRequest) -> HttpResponse:
    access = switch_tenant(request, request.POST.get("tenant_id", ""))
    messages.info(request, f"You are now working in {access.tenant.name}.")
    target = request.POST.get("next", "")
    # Only a path of this site: anything else ("-1", a date) would be taken for a URL name and fail to reverse.
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=False
    ):
        target = "dashboard"
    return redirect(target)


@tenant_page(Capability.MANAGE_TENANT)
def api_keys(request: HttpRequest, *, access) -> HttpResponse:
    form = APIKeyCreateForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        key, raw = api_key_create(
            tenant=access.tenant,
            name=form.cleaned_data["name"],
            role=form.cleaned_data["role"],
            created_by=request.user,
        )
        created = {"key": key, "raw": raw}
        form = APIKeyCreateForm()
    keys = api_key_list(tenant=access.tenant)
    response = render(request, "governance/api_keys.html", {"form": form, "keys": keys, "created": created})
    # The raw key is in this response only; keep it out of every cache and the browser's history.
    response["Cache-Control"] = "no-store"
    return response


@tenant_page(Capability.MANAGE_TENANT)
@require_POST
def api_key_revoke_view(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    key = get_object_or_404(APIKey, pk=pk, tenant=access.tenant)
    if key.is_active:
        api_key_revoke(key=key, user=request.user)
        messages.success(request, f"Revoked {key.name} ({key.prefix}…). Requests with it now fail.")
    return redirect("api_keys")


@tenant_page(Capability.MANAGE_TENANT)
def guardrails(request: HttpRequest, *, access) -> HttpResponse:
    """Tenant admins: the clean rooms' privacy budgets and the audit entries of guardrail decisions, filtered."""
    form = GuardrailFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = guardrail_audit(
        tenant=access.tenant,
        kind=filters.get("kind") or None,
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
    )
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    for entry in page:
        entry.kind_label = guardrail_kind_label(entry.action)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "budgets": clean_room_budgets(tenant=access.tenant),
    }
    template = "governance/guardrails.html"
    response = render(request, f"{template}#guardrail-results" if request.htmx else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response

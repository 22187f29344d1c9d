"""Creatives pages: a brief form, the brief's progress then its variants (compliance, repairs, reasons, adapter
versions), approve / reject / mark live with history, and the CSV export per retailer."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from campaigns.models import SKU, Brand, Retailer
from campaigns.selectors import retailer_list
from core.errors import DomainError
from core.forms import form_error
from feedback.models import Creative, CreativeBrief
from feedback.services import creatives as svc
from governance.access import Capability, tenant_page

POLL_SECONDS = 1
# The status buttons each state offers (the service refuses anything else).
ACTIONS = {
    Creative.Status.IN_REVIEW: [("approved", "Approve"), ("rejected", "Reject")],
    Creative.Status.DRAFT: [("rejected", "Reject")],
    Creative.Status.APPROVED: [("live", "Mark live"), ("rejected", "Reject")],
    Creative.Status.LIVE: [("approved", "Take off live"), ("rejected", "Reject")],
}


class BriefForm(forms.Form):
    retailer = forms.ChoiceField()
    brand = forms.ChoiceField()
    skus = forms.MultipleChoiceField(label="SKUs", widget=forms.CheckboxSelectMultiple)
    goal = forms.CharField(max_length=200, help_text="What the copy should achieve, e.g. trial of the new flavour.")
    tone = forms.CharField(max_length=100, required=False, help_text="e.g. upbeat, premium, plain.")
    promotion = forms.CharField(max_length=200, required=False, help_text="The offer to mention, if any.")
    variants = forms.IntegerField(min_value=1, max_value=svc.MAX_VARIANTS, initial=4, label="Variants")
    compare = forms.BooleanField(
        required=False,
        label="Two takes of each variant, for reviewers to compare",
        help_text="Each variant is written twice; reviewers see the two side by side and pick the better one, which "
        "teaches the copy model what they prefer. Uses twice the generations.",
    )

    def __init__(self, data=None, *, tenant, brand_id=None):
        super().__init__(data)
        self.fields["retailer"].choices = list(retailer_list().values_list("code", "name"))
        brands = list(Brand.objects.filter(tenant=tenant).values_list("pk", "name"))
        self.fields["brand"].choices = [(str(pk), name) for pk, name in brands]
        chosen = (data or {}).get("brand") or brand_id or (brands[0][0] if brands else None)
        skus = SKU.objects.filter(tenant=tenant, brand_id=chosen if str(chosen or "").isdigit() else None)
        self.fields["skus"].choices = [(str(s.pk), f"{s.name} ({s.sku_code})") for s in skus.order_by("name")]
        if chosen:
            self.initial["brand"] = str(chosen)


def _brief_or_404(access, pk: int) -> CreativeBrief:
    try:
        return svc.brief_get(tenant=access.tenant, pk=pk)
    except CreativeBrief.DoesNotExist:
        raise Http404("No such brief.") from None


@tenant_page()
def creative_list(request: HttpRequest, *, access) -> HttpResponse:
    can_edit = access.can(Capability.EDIT_DATA)
    form = None
    if request.method == "POST":
        access.require(Capability.EDIT_DATA)
        form = BriefForm(request.POST, tenant=access.tenant)
        if form.is_valid():
            data = form.cleaned_data
            try:
                brief = svc.creative_brief_create(
                    tenant=access.tenant,
                    user=request.user,
                    retailer=data["retailer"],
                    brand=data["brand"],
                    skus=data["skus"],
                    goal=data["goal"],
                    tone=data["tone"],
                    promotion=data["promotion"],
                    variants=data["variants"],
                    takes=2 if data.get("compare") else 1,
                )
            except DomainError as exc:
                form_error(form, exc)
            else:
                return redirect("creative_brief", pk=brief.pk)
    elif can_edit:
        form = BriefForm(tenant=access.tenant, brand_id=request.GET.get("brand"))
        if request.htmx and request.GET.get("brand"):
            response = render(request, "feedback/creatives/list.html#sku-options", {"form": form})
            patch_vary_headers(response, ["HX-Request"])
            return response
    page = Paginator(svc.brief_list(tenant=access.tenant), 25).get_page(request.GET.get("page"))
    exports = (
        svc.creative_list(tenant=access.tenant)
        .filter(status__in=[Creative.Status.APPROVED, Creative.Status.LIVE])
        .values("retailer__code", "retailer__name")
        .annotate(approved=Count("id"))
        .order_by("retailer__name")
    )
    context = {"form": form, "page": page, "exports": exports}
    return render(request, "feedback/creatives/list.html", context, status=400 if form and form.errors else 200)


def _creative_view(creative: Creative, *, can_edit: bool) -> dict:
    verification = creative.verification or {}
    return {
        "creative": creative,
        "violations": verification.get("violations") or [],
        "first_violations": verification.get("first_violations") or [],
        "repairs": verification.get("repairs") or [],
        "parsed": verification.get("parsed", True),
        "actions": ACTIONS.get(creative.status, []) if can_edit else [],
        "events": list(creative.events.select_related("actor")),
    }


@tenant_page()
def creative_brief(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    brief = _brief_or_404(access, pk)
    can_edit = access.can(Capability.EDIT_DATA)
    creatives = brief.creatives.order_by("variant").prefetch_related("events__actor")
    context = {
        "brief": brief,
        "is_active": brief.status not in CreativeBrief.FINISHED,
        "poll_seconds": POLL_SECONDS,
        "progress": brief.progress or {},
        "variants": [_creative_view(c, can_edit=can_edit) for c in creatives],
        "skus": list(brief.skus.order_by("name")),
    }
    template = "feedback/creatives/brief.html"
    response = render(request, f"{template}#brief-status" if request.htmx else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@tenant_page(Capability.EDIT_DATA)
@require_POST
def creative_status_view(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    try:
        creative = svc.creative_get(tenant=access.tenant, pk=pk)
    except Creative.DoesNotExist:
        raise Http404("No such creative.") from None
    try:
        svc.creative_status_change(
            creative=creative, to_status=request.POST.get("status", ""), user=request.user,
            note=request.POST.get("note", ""),
        )  # fmt: skip
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Variant {creative.variant} is now {creative.get_status_display().lower()}.")
    return redirect(f"{_brief_url(creative)}#creative-{creative.pk}")


def _brief_url(creative: Creative) -> str:
    from django.urls import reverse

    return reverse("creative_brief", args=[creative.brief_id])


@tenant_page()
def creative_export(request: HttpRequest, code: str, *, access) -> HttpResponse:
    retailer = Retailer.objects.filter(code=code).first()
    if retailer is None:
        raise Http404("No such retailer.")
    response = HttpResponse(
        svc.creatives_export_csv(tenant=access.tenant, retailer=retailer), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="creatives-{retailer.code}.csv"'
    return response

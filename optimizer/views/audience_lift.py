"""The audience lift page: a campaign's lift by audience, read from a retailer's clean room through the gateway."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from campaigns.models import Campaign
from core.errors import DomainError
from core.forms import form_error
from governance.access import Capability, tenant_page
from governance.models import CleanRoomDataset
from optimizer.forms.audience_lift import AudienceLiftForm
from optimizer.services.audience_lift import audience_lift_read, cleanroom_client
from optimizer.services.cleanroom import clean_room_budget


@tenant_page()
def audience_lift_view(request: HttpRequest, *, access) -> HttpResponse:
    tenant = access.tenant
    datasets = list(CleanRoomDataset.objects.filter(tenant=tenant).order_by("slug"))
    campaigns = Campaign.objects.filter(tenant=tenant).select_related("retailer").order_by("retailer__code", "name")
    form = AudienceLiftForm(request.POST or None, datasets=datasets, campaigns=campaigns)
    result = None
    can_read = access.can(Capability.EDIT_DATA)  # a read spends the dataset's privacy budget
    if request.method == "POST":
        access.require(Capability.EDIT_DATA)
        if form.is_valid():
            try:
                with cleanroom_client(tenant=tenant, base_url=request.build_absolute_uri("/api/v1/")) as client:
                    result = audience_lift_read(
                        tenant=tenant,
                        dataset=form.cleaned_data["dataset"],
                        campaign_id=form.cleaned_data["campaign_id"],
                        client=client,
                    )
            except DomainError as exc:
                form_error(form, exc)
    budgets = [(d, clean_room_budget(dataset=d)) for d in datasets]
    return render(
        request,
        "optimizer/audience_lift.html",
        {"form": form, "result": result, "budgets": budgets, "can_read": can_read},
    )

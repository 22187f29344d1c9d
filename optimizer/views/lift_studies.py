"""Lift study pages: the measured incrementality results that calibrate response curves."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.errors import DomainError
from core.forms import form_error
from governance.access import Capability, tenant_page
from optimizer import selectors
from optimizer.forms.lift_studies import LiftStudyForm
from optimizer.services.lift_studies import lift_study_create


@tenant_page()
def lift_study_list(request: HttpRequest, *, access) -> HttpResponse:
    studies = selectors.lift_study_list(tenant=access.tenant)
    return render(
        request, "optimizer/lift_study_list.html", {"studies": studies, "can_edit": access.can(Capability.EDIT_DATA)}
    )


@tenant_page(Capability.EDIT_DATA)
def lift_study_create_view(request: HttpRequest, *, access) -> HttpResponse:
    form = LiftStudyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            study = lift_study_create(
                tenant=access.tenant,
                retailer_code=data["retailer"],
                placement_type=data["placement_type"],
                start_date=data["start_date"],
                end_date=data["end_date"],
                spend=data["spend"],
                incremental_sales=data["incremental_sales"],
                incremental_sales_se=data["incremental_sales_se"],
                method=data["method"],
                source=data["source"],
                currency=data["currency"] or None,
                notes=data["notes"],
                user=request.user,
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(
                request, f"Saved the lift study for {study.retailer.name}, {study.get_placement_type_display()}."
            )
            return redirect("lift_study_list")
    return render(
        request, "optimizer/lift_study_form.html", {"form": form, "currency": access.tenant.reporting_currency}
    )

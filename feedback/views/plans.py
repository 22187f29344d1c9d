"""The review panel on the plan page (filled into the "optimizer.plan_review" slot) and its decision form."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.forms import form_error
from feedback.models import PlanReview
from feedback.services.plan_review import plan_review_list, plan_review_submit
from governance.access import Capability, tenant_page
from optimizer.models import AllocationPlan
from optimizer.selectors import plan_get


class PlanDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=PlanReview.Decision.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Required to reject or to request changes: say what should change.",
    )


def plan_review_panel(*, access, plan: AllocationPlan, form: PlanDecisionForm | None = None) -> dict:
    """Slot filler: the decisions on this version and, for a marketer or admin, the form to decide."""
    if plan.status != AllocationPlan.Status.SUCCEEDED:
        return {}
    can_decide = access.can(Capability.EDIT_DATA)
    return {
        "plan_review": {
            "template": "feedback/plans/review_panel.html",
            "reviews": list(plan_review_list(plan=plan)),
            "form": (form or PlanDecisionForm()) if can_decide else None,
        }
    }


@tenant_page(Capability.EDIT_DATA)
@require_POST
def plan_review_submit_view(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    try:
        plan = plan_get(tenant=access.tenant, pk=pk)
    except AllocationPlan.DoesNotExist:
        raise Http404("No such plan.") from None
    form = PlanDecisionForm(request.POST)
    if form.is_valid():
        try:
            review = plan_review_submit(
                plan=plan,
                user=request.user,
                decision=form.cleaned_data["decision"],
                comment=form.cleaned_data["comment"],
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.info(request, f"{review.get_decision_display()}: recorded on version {plan.version}.")
            return redirect("plan_detail", pk=plan.pk)
    errors = "; ".join(" ".join(errs) for errs in form.errors.values())
    messages.error(request, f"Nothing recorded: {errors}")
    return redirect("plan_detail", pk=plan.pk)

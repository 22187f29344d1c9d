from __future__ import annotations

from django import forms

from campaigns.forms import DateInput
from core.bounds import validate_money
from core.forms import MoneyField
from optimizer.models import AllocationPlan


class BanditPolicyForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=AllocationPlan.objects.none(), label="Allocation plan")
    name = forms.CharField(max_length=200)
    budget = MoneyField(
        required=False,
        max_digits=18,
        decimal_places=2,
        validators=[validate_money],
        help_text="Leave empty for the plan's budget.",
    )
    start_date = forms.DateField(widget=DateInput)
    end_date = forms.DateField(widget=DateInput)

    def __init__(self, *args, tenant=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = AllocationPlan.objects.filter(
            tenant=tenant, status=AllocationPlan.Status.SUCCEEDED
        ).order_by("-created_at")
        self.fields["plan"].label_from_instance = lambda p: f"#{p.pk} {p.name or p.get_objective_display()}"

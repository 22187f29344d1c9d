from __future__ import annotations

from django import forms

from campaigns.forms import DateInput, retailer_choices
from campaigns.models import PlacementType
from core.bounds import validate_money
from optimizer.models import LiftStudy


class LiftStudyForm(forms.Form):
    """Shapes and types only: the business rules (dates in order, no negative spend, ...) live in
    optimizer.services.lift_studies.lift_study_create, whose errors the view puts beside the field they name."""

    retailer = forms.ChoiceField()
    placement_type = forms.ChoiceField(choices=PlacementType.choices, label="Placement")
    start_date = forms.DateField(widget=DateInput)
    end_date = forms.DateField(widget=DateInput)
    spend = forms.DecimalField(max_digits=18, decimal_places=4, validators=[validate_money])
    incremental_sales = forms.DecimalField(
        max_digits=18,
        decimal_places=4,
        validators=[validate_money],
        help_text="Sales caused by the spend, against the no-ads control.",
    )
    incremental_sales_se = forms.DecimalField(
        max_digits=18,
        decimal_places=4,
        validators=[validate_money],
        label="Standard error",
        help_text="Standard error of the incremental sales.",
    )
    currency = forms.CharField(
        max_length=3, required=False, help_text="ISO 4217 code; leave empty for the tenant's reporting currency."
    )
    method = forms.ChoiceField(choices=LiftStudy.Method.choices)
    source = forms.ChoiceField(choices=[c for c in LiftStudy.Source.choices if c[0] != LiftStudy.Source.SIMULATOR])
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["retailer"].choices = retailer_choices("Choose a retailer")

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()

from __future__ import annotations

from django import forms

from campaigns.models import Campaign, PlacementType
from campaigns.selectors import retailer_list


def retailer_choices(empty_label: str) -> list[tuple[str, str]]:
    # Retailers are shared reference data (not tenant-owned), so listing the active ones leaks nothing.
    return [("", empty_label), *retailer_list().values_list("code", "name")]


class DateInput(forms.DateInput):
    input_type = "date"


class DashboardFilterForm(forms.Form):
    date_from = forms.DateField(required=False, label="From", widget=DateInput)
    date_to = forms.DateField(required=False, label="To", widget=DateInput)
    retailer = forms.ChoiceField(required=False)
    placement = forms.ChoiceField(required=False, choices=[("", "All placements"), *PlacementType.choices])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["retailer"].choices = retailer_choices("All retailers")

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", f"The end date {end} is before the start date {start}.")
        return data


class CampaignFilterForm(forms.Form):
    retailer = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Campaign.Status.choices])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["retailer"].choices = retailer_choices("All retailers")

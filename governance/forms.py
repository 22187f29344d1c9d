from django import forms

from governance.models import APIKey, Role
from governance.selectors import GUARDRAIL_KINDS


class APIKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=APIKey._meta.get_field("name").max_length,
        help_text="Who or what uses it, for example “Agency BI export”.",
    )
    role = forms.ChoiceField(
        choices=Role.choices, initial=Role.MARKETER, help_text="What the key may do: the same rules as a member's role."
    )


class GuardrailFilterForm(forms.Form):
    kind = forms.ChoiceField(
        required=False, choices=[("", "All guardrails"), *((k, label) for k, (label, _) in GUARDRAIL_KINDS.items())]
    )
    date_from = forms.DateField(
        required=False, label="From", help_text="UTC day", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", help_text="UTC day, included", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end is before the start.")
        return data

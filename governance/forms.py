from django import forms

from governance.models import APIKey, Role


class APIKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=APIKey._meta.get_field("name").max_length,
        help_text="Who or what uses it, for example “Agency BI export”.",
    )
    role = forms.ChoiceField(
        choices=Role.choices, initial=Role.MARKETER, help_text="What the key may do: the same rules as a member's role."
    )

"""Service errors on forms: a DomainError goes beside the field it names, or above the form."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django import forms

from core.errors import DomainError


def form_error(form: forms.Form, exc: DomainError, *, fields: Mapping[str, str] | None = None) -> None:
    """Put ``exc`` beside the form field it names (``fields`` maps a service's field name to the form's, e.g.
    ``retailer`` -> ``channel``), or above the form when the field is not on it."""
    field = (fields or {}).get(exc.field, exc.field)
    form.add_error(field if field in form.fields else None, exc.message)


class GroupedNumberInput(forms.TextInput):
    """A money amount shown with thousands separators ("2,500,000"); static/js/money-input.js regroups it as the
    person types. A text input: a number input can show no separators."""

    def __init__(self, attrs=None):
        super().__init__({"inputmode": "decimal", "autocomplete": "off", "data-money": "", **(attrs or {})})

    def format_value(self, value):
        if value in (None, ""):
            return None
        try:
            number = Decimal(str(value).replace(",", ""))
        except (InvalidOperation, ValueError):
            return str(value)  # what the person typed, shown back beside its error
        if not number.is_finite():
            return str(value)
        return f"{number:,.0f}" if number == number.to_integral_value() else f"{number:,f}"  # its own decimals


class MoneyField(forms.DecimalField):
    """An amount of money that accepts thousands separators and spaces ("2,500,000", "2 500 000.50")."""

    widget = GroupedNumberInput

    def to_python(self, value):
        if isinstance(value, str):
            value = value.replace(",", "").replace(" ", "").replace("\u00a0", "").replace("_", "")
        return super().to_python(value)

    def widget_attrs(self, widget):
        # DecimalField would add a "step" for a number input; a text input has none.
        attrs = super().widget_attrs(widget)
        attrs.pop("step", None)
        return attrs

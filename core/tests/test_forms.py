from decimal import Decimal

from django import forms

from core.errors import DomainError
from core.forms import MoneyField, form_error


class _Form(forms.Form):
    channel = forms.CharField(required=False)
    budget = forms.IntegerField(required=False)


def _bound() -> _Form:
    form = _Form({"channel": "amazon|display", "budget": "5"})
    assert form.is_valid()
    return form


def test_it_puts_the_error_beside_the_field_it_names():
    form = _bound()
    form_error(form, DomainError("budget must be positive.", field="budget"))
    assert form.errors == {"budget": ["budget must be positive."]}


def test_it_maps_a_services_field_to_the_forms():
    form = _bound()
    form_error(form, DomainError("Unknown retailer.", field="retailer"), fields={"retailer": "channel"})
    assert form.errors == {"channel": ["Unknown retailer."]}


def test_a_field_the_form_lacks_goes_above_the_form():
    form = _bound()
    form_error(form, DomainError("History is empty.", field="history"))
    assert form.non_field_errors() == ["History is empty."]
    form = _bound()
    form_error(form, DomainError("No field at all."))
    assert form.non_field_errors() == ["No field at all."]


class _Money(forms.Form):
    budget = MoneyField(max_digits=18, decimal_places=2)


def test_a_money_field_reads_grouped_amounts_and_shows_them_grouped():
    for typed, value in (("2,500,000", "2500000"), ("2 500 000.50", "2500000.50"), ("1_000", "1000"), ("12.5", "12.5")):
        form = _Money({"budget": typed})
        assert form.is_valid(), (typed, form.errors)
        assert form.cleaned_data["budget"] == Decimal(value)
    assert 'value="2,500,000"' in str(_Money(initial={"budget": Decimal("2500000.00")})["budget"])
    assert 'value="1,234.50"' in str(_Money(initial={"budget": Decimal("1234.50")})["budget"])
    bad = _Money({"budget": "2,5oo"})
    assert not bad.is_valid() and "budget" in bad.errors
    assert 'value="2,5oo"' in str(bad["budget"])  # shown back as typed, beside its error
    assert 'inputmode="decimal"' in str(bad["budget"]) and 'type="text"' in str(bad["budget"])

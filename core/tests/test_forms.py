from django import forms

from core.errors import DomainError
from core.forms import form_error


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

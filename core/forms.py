"""Service errors on forms: a DomainError goes beside the field it names, or above the form."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms

from core.errors import DomainError


def form_error(form: forms.Form, exc: DomainError, *, fields: Mapping[str, str] | None = None) -> None:
    """Put ``exc`` beside the form field it names (``fields`` maps a service's field name to the form's, e.g.
    ``retailer`` -> ``channel``), or above the form when the field is not on it."""
    field = (fields or {}).get(exc.field, exc.field)
    form.add_error(field if field in form.fields else None, exc.message)

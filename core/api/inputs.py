"""Input handling shared by the API's serializers and list filters."""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers


class StrictInputMixin:
    # Refuses body keys the serializer does not accept, so a typo or an immutable field is an error, not a
    # silent no-op. (A comment, not a docstring: the schema would show a docstring on every serializer.)

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            errors = {}
            for name in sorted(set(data) - writable):
                errors[name] = ["This field is read-only." if name in self.fields else "Unknown or unchangeable field."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


def parse_query(serializer_class: type[serializers.Serializer], request) -> dict:
    """Validate a list endpoint's query parameters; a bad one is a 400 that names the parameter."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data

"""OpenAPI additions shared by every endpoint: the common error body on each operation and the X-Tenant header."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status code, repeated.")
    code = serializers.CharField(help_text="Machine-readable: invalid, not_authenticated, permission_denied, ...")
    message = serializers.CharField(help_text="Readable summary that names the field or parameter at fault.")
    # Published as "fields" (see the extension below): a serializer cannot declare a field of that name.
    field_errors = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Only for 400: per input field or query parameter, a list of messages (an object of such lists "
        "for a nested field, such as one entry of retailer_items).",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class ErrorDetailExtension(OpenApiSerializerExtension):
    target_class = ErrorDetailSerializer

    def map_serializer(self, auto_schema, direction):
        schema = super().map_serializer(auto_schema, direction)
        schema["properties"]["fields"] = schema["properties"].pop("field_errors")
        return schema


TENANT_HEADER_PARAMETER = OpenApiParameter(
    name="X-Tenant",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Session clients only: the slug of the tenant to act in (default: the session's current tenant). "
    "API keys always act in their own tenant.",
)

_ERRORS = {
    "400": "Invalid input; `fields` names each bad field or query parameter.",
    "401": "Missing, malformed, wrong or revoked credentials.",
    "403": "Your role does not allow this action.",
    "404": "No such object in your tenant (or no such tenant).",
    "429": "Too many requests; retry after the `Retry-After` header's seconds.",
}


class ApiAutoSchema(AutoSchema):
    def get_override_parameters(self):
        return [*super().get_override_parameters(), TENANT_HEADER_PARAMETER]

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        takes_input = self.method != "GET" or getattr(self.view, "query_serializer_class", None) is not None
        for code, description in _ERRORS.items():
            if code == "400" and not takes_input:
                continue
            responses.setdefault(
                code,
                self._get_response_for_code(OpenApiResponse(ErrorSerializer, description), code, direction=direction),
            )
        return responses

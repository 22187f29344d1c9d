from __future__ import annotations

import hmac

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from governance.models import APIKey

KEYWORD = "Api-Key"


class APIKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Api-Key rmn_<prefix>_<secret>``. The request's user is anonymous; ``request.auth`` is
    the key, which carries the tenant and the role."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, raw = header.partition(" ")
        if keyword.lower() != KEYWORD.lower():
            return None
        raw = raw.strip()
        parts = raw.split("_")
        if len(parts) < 3 or parts[0] != "rmn" or not raw:
            raise exceptions.AuthenticationFailed("Malformed API key; expected 'Api-Key rmn_<prefix>_<secret>'.")
        key = APIKey.objects.select_related("tenant").filter(prefix=parts[1]).first()
        if key is None or not hmac.compare_digest(key.key_hash, APIKey.hash_secret(raw)):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if not key.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            APIKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return (_KeyUser(key), key)

    def authenticate_header(self, request):
        return KEYWORD


class _KeyUser:
    """Stands in for ``request.user`` on API-key requests: authenticated, but no Django user and no staff rights."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    is_active = True
    pk = None
    id = None

    def __init__(self, key: APIKey):
        self.api_key = key

    def get_username(self) -> str:
        return f"api-key:{self.api_key.prefix}"

    def __str__(self) -> str:
        return self.get_username()


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = APIKeyAuthentication
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Value: `Api-Key rmn_<prefix>_<secret>`",
        }

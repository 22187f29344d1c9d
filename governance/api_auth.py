from __future__ import annotations

import hmac
import logging

from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from governance.models import APIKey
from governance.tasks import api_key_touch

logger = logging.getLogger(__name__)

KEYWORD = "Api-Key"
TOUCH_EVERY_S = 60


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
        _note_use(key)
        return (_KeyUser(key), key)

    def authenticate_header(self, request):
        return KEYWORD


def _note_use(key: APIKey) -> None:
    """``last_used_at`` at most once a minute per key, written by a worker: authentication itself only reads, so a
    busy database (a long import on SQLite) never fails an API call."""
    now = timezone.now()
    if key.last_used_at is not None and (now - key.last_used_at).total_seconds() < TOUCH_EVERY_S:
        return
    if not cache.add(f"api-key-touch:{key.prefix}", 1, timeout=TOUCH_EVERY_S):
        return  # this process (or, with a shared cache, another) already sent it this minute
    try:
        api_key_touch.delay(key.pk, now.isoformat())
    except Exception:  # the broker being down must not fail the request; the next minute tries again
        logger.warning("could not queue last_used_at for API key %s", key.prefix, exc_info=True)


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

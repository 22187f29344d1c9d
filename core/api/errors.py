"""One error shape for every API error:

{"error": {"status": 400, "code": "invalid", "message": "...", "fields": {"spend": ["..."]}}}

``exception_handler`` shapes what DRF handles; ``server_error`` and ``page_not_found`` (the site's handler500 and
handler404) answer the same shape for anything under /api/ that escapes DRF: an unhandled exception (logged by
Django's ``django.request`` logger with its traceback) and an address no endpoint serves.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.api.paths import hide_server_paths, hide_server_paths_in
from core.errors import LIMIT_REACHED, DomainError
from governance.privacy import pii_scrub_error


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        parts = [f"{key}: {_flatten(value)}" for key, value in detail.items()]
        return "; ".join(parts)
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, DomainError) and exc.code == "forbidden":
        # A refusal (for example composing another tenant's adapter) is a permission error, not bad input.
        exc = exceptions.PermissionDenied(exc.message)
    elif isinstance(exc, DomainError) and exc.code == LIMIT_REACHED:
        # A tenant's count over time is used up (training jobs at once or a day, generations a day): try later.
        retry_after = exc.retry_after
        exc = exceptions.Throttled(detail=exc.message, code=LIMIT_REACHED)
        exc.wait = retry_after  # the Retry-After header; the message already says when, in words
    elif isinstance(exc, DomainError):
        field = exc.field or "non_field_errors"
        exc = exceptions.ValidationError({field: [exc.message]}, code=exc.code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    body: dict = {"status": response.status_code}
    if isinstance(exc, exceptions.ValidationError):
        body["code"] = "invalid"
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body["message"] = "The request is invalid: " + _flatten(detail)
        fields = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        body["fields"] = hide_server_paths_in(fields)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        body["code"] = codes if isinstance(codes, str) else "error"
        body["message"] = _flatten(
            response.data.get("detail", response.data) if isinstance(response.data, dict) else response.data
        )
    # Service messages may name a folder (a base model, an adapter's files): never the server's absolute path.
    body["message"] = hide_server_paths(body["message"])
    # A refusal may quote the value it refused (a choice, a mapping name, a file name): never personal data.
    _without_pii(body, context)
    return Response({"error": body}, status=response.status_code, headers=_headers(response))


def _without_pii(body: dict, context) -> None:
    request = context.get("request") if isinstance(context, dict) else None
    view = context.get("view") if isinstance(context, dict) else None
    access = getattr(view, "tenant_access", None)
    # What authentication already found (reading request.user here could run the authenticators again).
    key = getattr(request, "_auth", None)
    who = {
        "tenant": getattr(access, "tenant", None),
        "user": getattr(request, "_user", None),
        "api_key": key if hasattr(key, "prefix") else None,
    }
    for part in ("message", "fields"):
        if part in body:
            body[part] = pii_scrub_error(body[part], source="api.error", **who)


def _headers(response) -> dict:
    return {
        key: value for key, value in response.items() if key.lower() in {"retry-after", "www-authenticate", "allow"}
    }


API_PREFIX = "/api/"
SERVER_ERROR_MESSAGE = (
    "The server failed to answer this request. The error has been logged; try again in a moment, and if it "
    "persists, report the time of the request."
)


def _is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


def server_error(request, *args, **kwargs):
    """handler500: the JSON error under /api/, the site's 500 page elsewhere. Django has already logged the
    exception with its traceback (``django.request``) when it calls this."""
    if _is_api(request):
        body = {"status": 500, "code": "server_error", "message": SERVER_ERROR_MESSAGE}
        return JsonResponse({"error": body}, status=500)
    return defaults.server_error(request, *args, **kwargs)


def page_not_found(request, exception, *args, **kwargs):
    """handler404: the JSON error for an address under /api/ that no endpoint serves, the site's 404 page elsewhere."""
    if _is_api(request):
        message = pii_scrub_error(f"No endpoint at {request.path}.", source="api.error")
        body = {"status": 404, "code": "not_found", "message": message}
        return JsonResponse({"error": body}, status=404)
    return defaults.page_not_found(request, exception, *args, **kwargs)

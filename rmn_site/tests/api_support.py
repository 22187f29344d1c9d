"""Clients and assertions shared by the API tests (a plain module, not fixtures, so each test file stays
explicit about what it uses)."""

from __future__ import annotations

from rest_framework.test import APIClient

API = "/api/v1"


def client_for(user=None, *, key: str | None = None, tenant: str | None = None) -> APIClient:
    """A session client for ``user``, an API-key client for ``key``, or an anonymous one when neither is given.
    ``tenant`` sends ``X-Tenant: <slug>`` with every request."""
    client = APIClient()
    if user is not None:
        client.force_login(user)
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    if tenant is not None:
        client.defaults["HTTP_X_TENANT"] = tenant
    return client


def assert_error(response, status: int, *, mentions: tuple[str, ...] = (), field: str | None = None) -> dict:
    """The response is an error of ``status`` in the single error shape, and its message names ``mentions``."""
    assert response.status_code == status, (response.status_code, getattr(response, "data", response.content))
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    for text in mentions:
        assert text in error["message"], (text, error["message"])
    if field is not None:
        assert field in error["fields"], error
    if status != 400:
        assert "fields" not in error
    return error

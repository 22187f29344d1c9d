"""The API's one error shape for domain errors: bad input is 400 naming the field; a refusal is 403."""

from rest_framework.test import APIRequestFactory

from core.api.errors import exception_handler
from core.errors import DomainError


def _handle(exc):
    request = APIRequestFactory().get("/api/v1/")
    return exception_handler(exc, {"request": request, "view": None})


def test_a_domain_error_is_a_400_naming_the_field():
    response = _handle(DomainError("budget must be positive.", field="budget"))
    assert response.status_code == 400
    assert response.data["error"]["code"] == "invalid"
    assert response.data["error"]["fields"] == {"budget": ["budget must be positive."]}


def test_a_forbidden_domain_error_is_a_403():
    response = _handle(DomainError("adapter brand_globex is not available to this tenant.", code="forbidden"))
    assert response.status_code == 403
    assert response.data["error"]["code"] == "permission_denied"
    assert "brand_globex" in response.data["error"]["message"]

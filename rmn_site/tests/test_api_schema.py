"""The OpenAPI schema, the docs page, /me/ and throttling."""

from __future__ import annotations

import re
from io import StringIO

import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from governance.models import Membership, Role
from governance.services import api_key_create
from rmn_site.tests.api_support import API, assert_error, client_for


def test_it_generates_a_valid_schema_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out), stderr=StringIO())
    schema = yaml.safe_load(out.read_text())
    paths = set(schema["paths"])
    for path in [
        "/api/v1/retailers/",
        "/api/v1/retailers/{code}/",
        "/api/v1/brands/",
        "/api/v1/skus/{id}/",
        "/api/v1/campaigns/{id}/",
        "/api/v1/performance/",
        "/api/v1/performance/summary/",
        "/api/v1/lift-studies/",
        "/api/v1/me/",
    ]:
        assert path in paths
    assert "patch" in schema["paths"]["/api/v1/campaigns/{id}/"]
    assert "put" not in schema["paths"]["/api/v1/campaigns/{id}/"]
    filters = {p["name"] for p in schema["paths"]["/api/v1/performance/"]["get"]["parameters"]}
    assert {"date_from", "date_to", "retailer", "placement_type", "campaign", "page", "page_size"} <= filters
    error = schema["components"]["schemas"]["ErrorDetail"]["properties"]
    assert set(error) == {"status", "code", "message", "fields"}
    assert schema["paths"]["/api/v1/brands/"]["post"]["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["name"] == "Authorization"


def test_it_serves_a_valid_schema_over_http(db):
    response = client_for().get(f"{API}/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    validate_schema(response.json())
    assert SchemaGenerator().get_schema(request=None, public=True)["info"]["version"] == "1.0.0"


def test_it_serves_swagger_ui_from_local_static_files(settings, db):
    # Manifest storage needs collectstatic; in tests, plain storage resolves the same sidecar files.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    response = client_for().get(f"{API}/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html and "/api/v1/schema/" in html
    assert "://" not in html, "the docs page must not load anything from another host"
    assert '"validatorUrl": null' in html
    assets = re.findall(r"(?:src|href)=\"/static/([^\"]+)\"", html)
    assert len(assets) >= 3
    for asset in assets:
        assert finders.find(asset), f"{asset} is not a local static file"


def test_it_tells_the_caller_who_and_where_they_are(personas, tenants):
    me = client_for(personas["owner"]).get(f"{API}/me/").json()
    assert me == {
        "tenant": {"slug": "acme", "name": "Acme Foods", "kind": "brand_owner", "reporting_currency": "USD"},
        "role": "admin",
        "capabilities": ["adjudicate", "edit_data", "give_feedback", "manage_tenant", "view_data"],
        "principal": "user:owner",
    }
    Membership.objects.create(user=personas["owner"], tenant=tenants["globex"], role=Role.REVIEWER)
    other = client_for(personas["owner"], tenant="globex").get(f"{API}/me/").json()
    assert (other["tenant"]["slug"], other["role"]) == ("globex", "reviewer")
    assert "edit_data" not in other["capabilities"]


def _with_rate(settings, rate: str) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"client": rate}}


def test_it_throttles_a_client_with_the_error_shape(settings, personas):
    _with_rate(settings, "3/minute")
    client = client_for(personas["marketer"])
    assert [client.get(f"{API}/me/").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get(f"{API}/brands/")
    error = assert_error(response, 429)
    assert error["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    # Buckets are per client: another user (and an API key) still get through.
    assert client_for(personas["reviewer"]).get(f"{API}/me/").status_code == 200


def test_it_throttles_each_api_key_separately(settings, tenants):
    _with_rate(settings, "1/minute")
    _, first = api_key_create(tenant=tenants["acme"], name="one")
    _, second = api_key_create(tenant=tenants["acme"], name="two")
    assert client_for(key=first).get(f"{API}/me/").status_code == 200
    assert_error(client_for(key=first).get(f"{API}/me/"), 429)
    assert client_for(key=second).get(f"{API}/me/").status_code == 200

"""Unhandled errors: under /api/ they answer the API's JSON error shape (500 server_error, 404 not_found), logged
with their traceback; pages keep the site's HTML pages. And inputs that used to end in a 500 now do not."""

from __future__ import annotations

import logging

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from rmn_site.tests.api_support import API, assert_error, client_for

with_failing_routes = override_settings(ROOT_URLCONF="rmn_site.tests.urls_boom", DEBUG=False)
WRITE_ENDPOINTS = [
    "brands", "skus", "campaigns", "lift-studies", "plans", "experiments", "training-jobs", "generations"
]  # fmt: skip


@with_failing_routes
def test_an_unhandled_error_in_an_endpoint_answers_the_json_error_and_is_logged(db, caplog):
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = APIClient(raise_request_exception=False).get("/api/v1/boom/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    error = assert_error(response, 500)
    assert error["code"] == "server_error" and "logged" in error["message"]
    assert "boom" not in error["message"]  # the exception's text stays in the log
    record = next(r for r in caplog.records if r.name == "django.request")
    assert record.exc_info and "boom in an endpoint" in str(record.exc_info[1])


@with_failing_routes
def test_an_unhandled_error_in_a_page_answers_the_sites_500_page(db, caplog):
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html and "css/app.css" in html and 'class="topbar"' in html
    assert any(r.exc_info and "boom in a page" in str(r.exc_info[1]) for r in caplog.records)


def test_an_unknown_api_address_is_a_json_404_and_an_unknown_page_the_html_404(personas):
    client = client_for(personas["marketer"])
    assert_error(client.get(f"{API}/no-such-endpoint/"), 404, mentions=("/api/v1/no-such-endpoint/",))
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and b"<html" in response.content


@pytest.mark.parametrize("endpoint", WRITE_ENDPOINTS)
def test_a_deeply_nested_body_is_a_400_not_a_500(endpoint, personas):
    client = client_for(personas["owner"])
    client.raise_request_exception = False
    deep = "[" * 100_000 + "]" * 100_000  # was RecursionError in the decoder: a 500
    response = client.post(f"{API}/{endpoint}/", deep, content_type="application/json")
    assert_error(response, 400, mentions=("nested deeper than 64 levels",))
    nested = '{"name": ' + "[" * 65 + "]" * 65 + "}"  # parses, but no endpoint takes 65 levels
    response = client.post(f"{API}/{endpoint}/", nested, content_type="application/json")
    assert_error(response, 400, mentions=("nested deeper than 64 levels",))


def test_a_30_digit_campaign_filter_is_a_400_naming_it(personas, catalog):
    client = client_for(personas["marketer"])
    client.raise_request_exception = False
    huge = "1" * 30  # was OverflowError on SQLite: a 500
    for path in ("performance", "performance/summary"):
        assert_error(client.get(f"{API}/{path}/?campaign={huge}"), 400, field="campaign")


def test_switching_to_a_30_digit_tenant_id_is_a_404(personas):
    client = Client(raise_request_exception=False)
    client.force_login(personas["marketer"])
    assert client.post("/tenant/switch/", {"tenant_id": "1" * 30}).status_code == 404  # was a 500 (OverflowError)


@pytest.mark.parametrize("endpoint", WRITE_ENDPOINTS)
def test_a_nul_character_in_a_body_is_a_400_on_every_database(endpoint, personas):
    # PostgreSQL stores no NUL in text or jsonb: a generation's payload or an experiment's name with one was a 500.
    client = client_for(personas["owner"])
    client.raise_request_exception = False
    body = '{"name": "a\\u0000b", "params": {"name": "x"}, "payload": {"text": "a\\u0000b"}}'
    response = client.post(f"{API}/{endpoint}/", body, content_type="application/json")
    assert_error(response, 400, mentions=("NUL",))


def test_a_nul_character_in_a_retailer_filter_is_a_400_naming_it(personas, catalog):
    client = client_for(personas["marketer"])
    client.raise_request_exception = False
    for path in ("campaigns", "performance", "performance/summary"):
        assert_error(client.get(f"{API}/{path}/?retailer=am%00azon"), 400, field="retailer")


@pytest.mark.parametrize("target", ["-1", "2026-02-30", "0", "dashboard-typo"])
def test_switching_tenant_with_a_next_that_is_not_a_path_lands_on_the_dashboard(target, personas, tenants):
    client = Client(raise_request_exception=False)
    client.force_login(personas["marketer"])
    response = client.post("/tenant/switch/", {"tenant_id": tenants["acme"].pk, "next": target})
    assert response.status_code == 302 and response["Location"] == "/"  # was a 500 (NoReverseMatch)

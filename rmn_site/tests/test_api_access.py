"""Who may read and write what, over every endpoint of the partner API: the persona matrix."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest

from campaigns.models import SKU, Brand, Campaign, PerformanceFact, Retailer
from optimizer.models import LiftStudy
from optimizer.services.lift_studies import lift_study_create
from rmn_site.tests.api_support import API, assert_error, client_for


@pytest.fixture
def world(catalog, tenants):
    """The catalog plus one lift study per tenant: ``world[slug]`` holds each tenant's objects."""
    for slug, tenant in tenants.items():
        catalog[slug]["study"] = lift_study_create(
            tenant=tenant,
            retailer_code="amazon",
            placement_type="sponsored_product",
            start_date=dt.date(2026, 2, 1),
            end_date=dt.date(2026, 2, 28),
            spend=Decimal("1000"),
            incremental_sales=Decimal("1500"),
            incremental_sales_se=Decimal("200"),
            method="rct_holdout",
            source="retailer",
        )
    return catalog


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    model: type | None = None  # tenant-owned rows listed by the endpoint (None: nothing to count)
    detail: Callable[[dict], str] | None = None  # the URL of one Acme object
    create: Callable[[dict], dict] | None = None  # a valid body for POST
    update: Callable[[dict], tuple[dict, str, object]] | None = None  # body, field, value expected afterwards


def _campaign_body(acme: dict) -> dict:
    return {
        "name": "Spring push",
        "external_id": "new-ext-1",
        "retailer": "walmart",
        "brand": acme["brand"].pk,
        "placement_type": "search",
        "start_date": "2026-04-01",
        "end_date": "2026-04-30",
        "budget": "2500.00",
    }


def _study_body(acme: dict) -> dict:
    return {
        "retailer": "walmart",
        "placement_type": "onsite_display",
        "start_date": "2026-03-01",
        "end_date": "2026-03-10",
        "spend": "500.00",
        "incremental_sales": "400.00",
        "incremental_sales_se": "50.00",
        "method": "geo_matched_markets",
        "source": "in_house",
    }


ENDPOINTS = [
    Endpoint("retailers", "retailers/", detail=lambda acme: "retailers/amazon/"),
    Endpoint(
        "brands",
        "brands/",
        model=Brand,
        detail=lambda acme: f"brands/{acme['brand'].pk}/",
        create=lambda acme: {"name": "Acme Organics"},
    ),
    Endpoint(
        "skus",
        "skus/",
        model=SKU,
        detail=lambda acme: f"skus/{acme['skus'][0].pk}/",
        create=lambda acme: {
            "brand": acme["brand"].pk,
            "sku_code": "acme-new",
            "name": "New product",
            "price": "3.50",
            "unit_cost": "1.25",
        },
        update=lambda acme: ({"name": "Renamed product"}, "name", "Renamed product"),
    ),
    Endpoint(
        "campaigns",
        "campaigns/",
        model=Campaign,
        detail=lambda acme: f"campaigns/{acme['campaigns']['amazon'].pk}/",
        create=_campaign_body,
        update=lambda acme: ({"budget": "1234.50"}, "budget", Decimal("1234.50")),
    ),
    Endpoint("performance", "performance/", model=PerformanceFact),
    Endpoint("performance-summary", "performance/summary/"),
    Endpoint(
        "lift-studies",
        "lift-studies/",
        model=LiftStudy,
        detail=lambda acme: f"lift-studies/{acme['study'].pk}/",
        create=_study_body,
    ),
    Endpoint("me", "me/"),
]
BY_NAME = {e.name: e for e in ENDPOINTS}
WITH_DETAIL = [e for e in ENDPOINTS if e.detail]
WITH_CREATE = [e for e in ENDPOINTS if e.create]
WITH_UPDATE = [e for e in ENDPOINTS if e.update]
ids = lambda endpoints: [e.name for e in endpoints]  # noqa: E731


def _url(path: str) -> str:
    return f"{API}/{path}"


def _rows(response) -> list[dict]:
    body = response.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


def _row_ids(response) -> set[int]:
    return {row["id"] for row in _rows(response)}


def _tenant_ids(model, tenant) -> set[int]:
    return set(model.objects.filter(tenant=tenant).values_list("pk", flat=True))


def _counts() -> dict:
    return {e.name: e.model.objects.count() for e in ENDPOINTS if e.model}


def _detail_value(endpoint: Endpoint, acme: dict, field: str):
    obj = endpoint.model.objects.get(pk=int(endpoint.detail(acme).rstrip("/").rsplit("/", 1)[1]))
    return getattr(obj, field)


@pytest.mark.parametrize("persona", ["owner", "marketer", "reviewer"])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids(ENDPOINTS))
def test_it_lets_every_acme_member_read_acme_rows(endpoint, persona, personas, world, tenants):
    response = client_for(personas[persona]).get(_url(endpoint.path))
    assert response.status_code == 200, response.content
    if endpoint.model:
        assert _row_ids(response) == _tenant_ids(endpoint.model, tenants["acme"])
    if endpoint.name == "me":
        assert response.json()["tenant"]["slug"] == "acme"
    if endpoint.detail:
        detail = client_for(personas[persona]).get(_url(endpoint.detail(world["acme"])))
        assert detail.status_code == 200, detail.content


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids(ENDPOINTS))
def test_it_never_shows_acme_rows_to_a_stranger(endpoint, personas, world, tenants):
    client = client_for(personas["stranger"])
    response = client.get(_url(endpoint.path))
    assert response.status_code == 200
    if endpoint.model:
        seen = _row_ids(response)
        assert seen == _tenant_ids(endpoint.model, tenants["globex"])
        assert not seen & _tenant_ids(endpoint.model, tenants["acme"])
    if endpoint.name == "me":
        assert response.json()["tenant"]["slug"] == "globex"
    if endpoint.detail and endpoint.model:
        assert_error(client.get(_url(endpoint.detail(world["acme"]))), 404)


def test_it_shares_retailers_with_every_tenant(personas, world):
    response = client_for(personas["stranger"]).get(_url("retailers/amazon/"))
    assert response.status_code == 200
    assert response.json()["default_attribution"] == {"attribution_window_days": 14, "attribution_model": "last_touch"}
    codes = {row["code"] for row in _rows(client_for(personas["stranger"]).get(_url("retailers/")))}
    assert codes == set(Retailer.objects.values_list("code", flat=True))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids(ENDPOINTS))
def test_it_answers_404_for_a_tenant_the_user_is_not_a_member_of(endpoint, personas, world):
    client = client_for(personas["stranger"], tenant="acme")
    assert_error(client.get(_url(endpoint.path)), 404, mentions=("acme",))
    if endpoint.detail:
        assert_error(client.get(_url(endpoint.detail(world["acme"]))), 404)


def test_it_switches_tenant_with_the_x_tenant_header_for_members(personas, world, tenants):
    from governance.models import Membership, Role

    Membership.objects.create(user=personas["owner"], tenant=tenants["globex"], role=Role.REVIEWER)
    response = client_for(personas["owner"], tenant="globex").get(_url("brands/"))
    assert _row_ids(response) == _tenant_ids(Brand, tenants["globex"])
    refused = client_for(personas["owner"], tenant="globex").post(_url("brands/"), {"name": "Nope"})
    assert_error(refused, 403, mentions=("reviewer",))


@pytest.mark.parametrize("persona", ["owner", "marketer"])
@pytest.mark.parametrize("endpoint", WITH_CREATE, ids=ids(WITH_CREATE))
def test_it_lets_owner_and_marketer_create(endpoint, persona, personas, world, tenants):
    before = _counts()
    response = client_for(personas[persona]).post(_url(endpoint.path), endpoint.create(world["acme"]))
    assert response.status_code == 201, response.content
    created = endpoint.model.objects.get(pk=response.json()["id"])
    assert created.tenant == tenants["acme"]
    assert _counts() == {**before, endpoint.name: before[endpoint.name] + 1}


@pytest.mark.parametrize("persona", ["owner", "marketer"])
@pytest.mark.parametrize("endpoint", WITH_UPDATE, ids=ids(WITH_UPDATE))
def test_it_lets_owner_and_marketer_update(endpoint, persona, personas, world):
    acme = world["acme"]
    body, field, expected = endpoint.update(acme)
    response = client_for(personas[persona]).patch(_url(endpoint.detail(acme)), body)
    assert response.status_code == 200, response.content
    assert _detail_value(endpoint, acme, field) == expected


@pytest.mark.parametrize("endpoint", WITH_CREATE, ids=ids(WITH_CREATE))
def test_it_refuses_creates_from_a_reviewer(endpoint, personas, world):
    before = _counts()
    response = client_for(personas["reviewer"]).post(_url(endpoint.path), endpoint.create(world["acme"]))
    assert_error(response, 403, mentions=("reviewer", "edit_data"))
    assert _counts() == before


@pytest.mark.parametrize("endpoint", WITH_UPDATE, ids=ids(WITH_UPDATE))
def test_it_refuses_updates_from_a_reviewer(endpoint, personas, world):
    acme = world["acme"]
    body, field, expected = endpoint.update(acme)
    assert_error(client_for(personas["reviewer"]).patch(_url(endpoint.detail(acme)), body), 403)
    assert _detail_value(endpoint, acme, field) != expected


@pytest.mark.parametrize("endpoint", WITH_UPDATE, ids=ids(WITH_UPDATE))
def test_it_refuses_updates_across_tenants(endpoint, personas, world):
    acme = world["acme"]
    body, field, expected = endpoint.update(acme)
    assert_error(client_for(personas["stranger"]).patch(_url(endpoint.detail(acme)), body), 404)
    assert_error(client_for(personas["stranger"], tenant="acme").patch(_url(endpoint.detail(acme)), body), 404)
    assert _detail_value(endpoint, acme, field) != expected


@pytest.mark.parametrize("endpoint", WITH_CREATE, ids=ids(WITH_CREATE))
def test_it_refuses_creates_in_a_tenant_the_user_is_not_a_member_of(endpoint, personas, world, tenants):
    before = _counts()
    response = client_for(personas["stranger"], tenant="acme").post(_url(endpoint.path), endpoint.create(world["acme"]))
    assert_error(response, 404)
    assert _counts() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids(ENDPOINTS))
def test_it_asks_anonymous_callers_to_authenticate(endpoint, world):
    client = client_for()
    before = _counts()
    response = client.get(_url(endpoint.path))
    error = assert_error(response, 401)
    assert error["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Api-Key"
    if endpoint.detail:
        assert_error(client.get(_url(endpoint.detail(world["acme"]))), 401)
    if endpoint.create:
        assert_error(client.post(_url(endpoint.path), endpoint.create(world["acme"])), 401)
    assert _counts() == before


def test_it_answers_404_to_a_user_without_any_tenant(django_user_model, world):
    loner = django_user_model.objects.create_user(username="loner", password="pw-for-tests-123")
    assert_error(client_for(loner).get(_url("brands/")), 404, mentions=("not a member",))


@pytest.mark.parametrize("path", ["retailers/", "performance/", "me/", "performance/summary/"])
def test_it_refuses_writes_to_read_only_endpoints(path, personas, world):
    before = (_counts(), Retailer.objects.count())
    assert_error(client_for(personas["owner"]).post(_url(path), {"code": "x", "name": "X"}), 405)
    assert (_counts(), Retailer.objects.count()) == before


@pytest.mark.parametrize("path", ["brands/{brand}/", "lift-studies/{study}/", "retailers/amazon/"])
def test_it_offers_no_update_where_none_is_documented(path, personas, world):
    acme = world["acme"]
    url = _url(path.format(brand=acme["brand"].pk, study=acme["study"].pk))
    assert_error(client_for(personas["owner"]).patch(url, {"name": "Changed"}), 405)
    assert Brand.objects.get(pk=acme["brand"].pk).name == "Acme Foods Brand"

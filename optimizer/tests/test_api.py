"""Lift studies through the partner API, with API-key clients."""

from __future__ import annotations

from decimal import Decimal

import pytest

from governance.models import AuditLog, Role
from governance.services import api_key_create, api_key_revoke
from optimizer.models import LiftStudy
from rmn_site.tests.api_support import API, assert_error, client_for

STUDY = {
    "retailer": "amazon",
    "placement_type": "sponsored_product",
    "start_date": "2026-02-01",
    "end_date": "2026-02-28",
    "spend": "1200.00",
    "incremental_sales": "1800.00",
    "incremental_sales_se": "240.00",
    "method": "rct_holdout",
    "source": "retailer",
    "notes": "Amazon holdout, 10% control",
}


@pytest.fixture
def acme_key(tenants, retailers, personas):
    key, raw = api_key_create(tenant=tenants["acme"], name="Partner ETL", created_by=personas["owner"])
    return key, raw


def test_it_lets_an_api_key_create_and_read_a_lift_study(acme_key, tenants):
    key, raw = acme_key
    client = client_for(key=raw)
    response = client.post(f"{API}/lift-studies/", STUDY)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["retailer"], body["spend"], body["currency"], body["incremental_roas"]) == (
        "amazon",
        "1200.0000",
        "USD",
        "1.5000",
    )
    study = LiftStudy.objects.get(pk=body["id"])
    assert study.tenant == tenants["acme"] and study.incremental_sales == Decimal("1800")
    assert study.created_by is None
    entry = AuditLog.objects.get(action="lift_study.create")
    assert (entry.actor_api_key, entry.actor_label) == (key, f"api-key:{key.prefix}")

    assert client.get(f"{API}/lift-studies/{study.pk}/").json()["notes"] == "Amazon holdout, 10% control"
    assert [row["id"] for row in client.get(f"{API}/lift-studies/").json()["results"]] == [study.pk]
    me = client.get(f"{API}/me/").json()
    assert (me["tenant"]["slug"], me["role"], me["principal"]) == ("acme", "marketer", f"api-key:{key.prefix}")


def test_it_records_the_user_for_a_session_client(personas, retailers):
    response = client_for(personas["marketer"]).post(f"{API}/lift-studies/", STUDY)
    assert response.status_code == 201
    assert LiftStudy.objects.get(pk=response.json()["id"]).created_by == personas["marketer"]


def test_it_ignores_x_tenant_for_api_keys(acme_key, tenants):
    _, raw = acme_key
    client = client_for(key=raw, tenant="globex")
    assert client.get(f"{API}/me/").json()["tenant"]["slug"] == "acme"


@pytest.mark.parametrize(
    "header",
    [
        "Api-Key rmn_{prefix}_not-the-secret",
        "Api-Key rmn_nosuchprefix_secret",
        "Api-Key garbage",
        "Api-Key ",
    ],
)
def test_it_refuses_a_wrong_or_malformed_key(header, acme_key):
    key, _ = acme_key
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=header.format(prefix=key.prefix))
    assert_error(client.get(f"{API}/lift-studies/"), 401)
    assert_error(client.post(f"{API}/lift-studies/", STUDY), 401)
    assert LiftStudy.objects.count() == 0


def test_it_refuses_a_revoked_key(acme_key):
    key, raw = acme_key
    client = client_for(key=raw)
    assert client.get(f"{API}/lift-studies/").status_code == 200
    api_key_revoke(key=key)
    assert_error(client.get(f"{API}/lift-studies/"), 401, mentions=("revoked",))
    assert_error(client.post(f"{API}/lift-studies/", STUDY), 401, mentions=("revoked",))
    assert LiftStudy.objects.count() == 0


def test_it_lets_a_reviewer_key_read_but_not_write(tenants, retailers, personas):
    _, raw = api_key_create(tenant=tenants["acme"], name="Auditor", role=Role.REVIEWER)
    client = client_for(key=raw)
    assert client.get(f"{API}/lift-studies/").status_code == 200
    assert_error(client.post(f"{API}/lift-studies/", STUDY), 403, mentions=("reviewer",))
    assert_error(client.post(f"{API}/brands/", {"name": "Nope"}), 403)
    assert LiftStudy.objects.count() == 0


def test_it_keeps_a_key_inside_its_own_tenant(acme_key, tenants):
    _, acme_raw = acme_key
    study_id = client_for(key=acme_raw).post(f"{API}/lift-studies/", STUDY).json()["id"]
    _, globex_raw = api_key_create(tenant=tenants["globex"], name="Globex ETL")
    globex = client_for(key=globex_raw)
    assert_error(globex.get(f"{API}/lift-studies/{study_id}/"), 404)
    assert globex.get(f"{API}/lift-studies/").json()["results"] == []


@pytest.mark.parametrize(
    ("overrides", "field", "mentions"),
    [
        ({"end_date": "2026-01-15"}, "end_date", ("before start_date",)),
        ({"spend": "-10"}, "spend", ("greater than or equal to 0",)),
        ({"incremental_sales_se": "-1"}, "incremental_sales_se", ()),
        ({"spend": "lots"}, "spend", ("number",)),
        ({"retailer": "nowhere-mart"}, "retailer", ("nowhere-mart",)),
        ({"placement_type": "billboard"}, "placement_type", ("billboard",)),
        ({"method": "vibes"}, "method", ("vibes",)),
        ({"currency": "EURO"}, "currency", ()),
        ({"start_date": "2026-02-30"}, "start_date", ()),
        ({"tenant": "globex"}, "tenant", ()),
    ],
)
def test_it_refuses_a_bad_lift_study_and_stores_nothing(overrides, field, mentions, acme_key):
    _, raw = acme_key
    before = (LiftStudy.objects.count(), AuditLog.objects.count())
    response = client_for(key=raw).post(f"{API}/lift-studies/", {**STUDY, **overrides})
    assert_error(response, 400, field=field, mentions=mentions)
    assert (LiftStudy.objects.count(), AuditLog.objects.count()) == before


def test_it_refuses_a_missing_field(acme_key):
    _, raw = acme_key
    body = {k: v for k, v in STUDY.items() if k != "incremental_sales"}
    assert_error(client_for(key=raw).post(f"{API}/lift-studies/", body), 400, field="incremental_sales")
    assert LiftStudy.objects.count() == 0

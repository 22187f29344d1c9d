"""Experiments and bandit policies through the partner API: design (201), list, retrieve with the decision log,
named errors, roles and tenant scoping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from governance.models import Role
from governance.services import api_key_create
from optimizer.models import Experiment
from optimizer.services.bandits import policy_create, policy_decide
from optimizer.services.experiments import experiment_design
from rmn_site.tests.api_support import API, assert_error, client_for

AMAZON = "amazon|sponsored_product"
WALMART = "walmart|onsite_display"

SWITCHBACK = {
    "kind": "switchback",
    "retailer": "walmart",
    "placement_type": "onsite_display",
    "start_date": "2026-03-11",
    "end_date": "2026-03-17",
    "params": {"block_days": 1, "washout_days": 0, "seed": 1, "name": "API switchback"},
}
HOLDOUT = {
    "kind": "holdout",
    "retailer": "amazon",
    "placement_type": "sponsored_product",
    "start_date": "2026-03-01",
    "end_date": "2026-03-10",
    "params": {"audience_size": 50000, "holdout_share": 0.2, "outcome_sd": 4.0, "rho": 0.5},
}


@pytest.fixture
def acme_key(tenants, personas):
    return api_key_create(tenant=tenants["acme"], name="Partner measurement", created_by=personas["owner"])


def _experiment(tenant, name="Acme switchback") -> Experiment:
    return experiment_design(
        tenant=tenant, kind="switchback", retailer="walmart", placement_type="onsite_display",
        start_date=dt.date(2026, 3, 11), end_date=dt.date(2026, 3, 17),
        params={"block_days": 1, "washout_days": 0, "seed": 1, "name": name},
    )  # fmt: skip


def _policy(tenant, name="March reallocation"):
    return policy_create(
        tenant=tenant, name=name, channels=[AMAZON, WALMART], budget=Decimal("700"),
        start_date=dt.date(2026, 3, 5), end_date=dt.date(2026, 3, 18),
    )  # fmt: skip


def test_an_api_key_designs_a_switchback_and_a_holdout(acme_key, tenants, catalog):
    client = client_for(key=acme_key[1])
    response = client.post(f"{API}/experiments/", SWITCHBACK, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    experiment = Experiment.objects.get(pk=body["id"])
    assert experiment.tenant == tenants["acme"] and experiment.name == "API switchback"
    assert body["kind"] == "switchback" and body["retailer"] == "walmart" and body["status"] == "designed"
    assert body["end_date"] == "2026-03-16"  # 7 days hold 3 block pairs of 1 day
    assert body["design"]["arms"] == experiment.design["arms"] and body["design"]["mde"] > 0
    assert body["readout"] == {} and body["lift_study"] is None

    response = client.post(f"{API}/experiments/", HOLDOUT, format="json")
    assert response.status_code == 201, response.content
    design = response.json()["design"]
    assert design["audience_size"] == 50000 and design["mde_per_user"] > 0
    ids = [e["id"] for e in client.get(f"{API}/experiments/").json()["results"]]
    assert ids == [response.json()["id"], experiment.pk]  # newest first
    assert client.get(f"{API}/experiments/{experiment.pk}/").json()["design"] == experiment.design


def test_design_errors_name_the_field(acme_key, catalog):
    client = client_for(key=acme_key[1])
    assert_error(
        client.post(f"{API}/experiments/", {**HOLDOUT, "params": {"outcome_sd": 2}}, format="json"),
        400,
        mentions=("audience_size is required",),
        field="audience_size",
    )
    assert_error(
        client.post(f"{API}/experiments/", {**SWITCHBACK, "params": {}}, format="json"),
        400,
        mentions=("at least 42 days",),
        field="end_date",
    )
    assert_error(client.post(f"{API}/experiments/", {**SWITCHBACK, "kind": "geo"}, format="json"), 400, field="kind")
    assert_error(
        client.post(f"{API}/experiments/", {**SWITCHBACK, "retailer": "nope"}, format="json"),
        400,
        mentions=("Unknown retailer 'nope'",),
        field="retailer",
    )
    assert_error(client.post(f"{API}/experiments/", {**SWITCHBACK, "status": "read_out"}, format="json"), 400)
    assert not Experiment.objects.exists()


def test_a_reviewer_reads_experiments_and_policies_but_may_not_design(personas, catalog, tenants):
    experiment = _experiment(tenants["acme"])
    policy = _policy(tenants["acme"])
    client = client_for(personas["reviewer"])
    assert [e["id"] for e in client.get(f"{API}/experiments/").json()["results"]] == [experiment.pk]
    assert [p["id"] for p in client.get(f"{API}/bandit-policies/").json()["results"]] == [policy.pk]
    assert_error(client.post(f"{API}/experiments/", SWITCHBACK, format="json"), 403, mentions=("reviewer",))
    _, raw = api_key_create(tenant=tenants["acme"], name="read only", role=Role.REVIEWER)
    assert_error(client_for(key=raw).post(f"{API}/experiments/", SWITCHBACK, format="json"), 403)
    assert Experiment.objects.count() == 1


def test_a_policy_comes_with_its_decision_log(acme_key, tenants, catalog):
    policy = _policy(tenants["acme"])
    first = policy_decide(policy, dt.date(2026, 3, 5))
    client = client_for(key=acme_key[1])
    listed = client.get(f"{API}/bandit-policies/").json()["results"]
    assert [p["id"] for p in listed] == [policy.pk] and "decisions" not in listed[0]
    assert sorted(listed[0]["channels"]) == [AMAZON, WALMART]
    body = client.get(f"{API}/bandit-policies/{policy.pk}/").json()
    assert body["budget"] == "700.0000" and body["status"] == "active" and body["currency"] == "USD"
    assert body["decisions"] == [
        {"date": "2026-03-05", "allocation": first.allocation, "propensities": first.propensities, "reward": None}
    ]
    assert {a["key"] for a in body["state"]["arms"]} == {AMAZON, WALMART}
    assert_error(client.post(f"{API}/bandit-policies/", {}, format="json"), 405)


def test_experiments_and_policies_are_scoped_to_the_tenant(personas, catalog, tenants, acme_key):
    acme_exp, globex_exp = _experiment(tenants["acme"]), _experiment(tenants["globex"], "Globex switchback")
    acme_policy, globex_policy = _policy(tenants["acme"]), _policy(tenants["globex"])
    stranger = client_for(personas["stranger"])
    assert [e["id"] for e in stranger.get(f"{API}/experiments/").json()["results"]] == [globex_exp.pk]
    assert [p["id"] for p in stranger.get(f"{API}/bandit-policies/").json()["results"]] == [globex_policy.pk]
    assert_error(stranger.get(f"{API}/experiments/{acme_exp.pk}/"), 404)
    assert_error(stranger.get(f"{API}/bandit-policies/{acme_policy.pk}/"), 404)
    assert_error(client_for(personas["stranger"], tenant="acme").get(f"{API}/experiments/"), 404)
    key_client = client_for(key=acme_key[1])
    assert_error(key_client.get(f"{API}/experiments/{globex_exp.pk}/"), 404)
    assert_error(key_client.get(f"{API}/bandit-policies/{globex_policy.pk}/"), 404)
    assert key_client.get(f"{API}/experiments/{acme_exp.pk}/").json()["name"] == "Acme switchback"
    # A design through the API lands in the key's tenant, whatever the body says.
    key_client.post(f"{API}/experiments/", SWITCHBACK, format="json")
    assert Experiment.objects.filter(tenant=tenants["globex"]).count() == 1


def test_the_api_refuses_anonymous_callers(db):
    assert_error(client_for().get(f"{API}/experiments/"), 401)
    assert_error(client_for().get(f"{API}/bandit-policies/"), 401)

"""Allocation plans through the partner API: create (202, optimized in the background), list, retrieve, scoping."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from governance.models import AuditLog, Role
from governance.services import api_key_create
from optimizer.models import AllocationPlan
from optimizer.services.plans import plan_run
from optimizer.tests.test_plans_services import seed_history
from rmn_site.tests.api_support import API, assert_error, client_for


@pytest.fixture(autouse=True)
def _fewer_posterior_samples(monkeypatch):
    # 60 posterior samples instead of the service's 200 keep each in-process engine run well under a second;
    # the worker tests run the service's own number.
    monkeypatch.setattr("optimizer.services.plans.PLAN_SAMPLES", 60)


REQUEST = {
    "name": "Q2 incremental margin",
    "budget": "40000.00",
    "period_days": 28,
    "min_roas": "2.000",
    "roas_basis": "attributed",
    "objective": "incremental_margin",
    "bounds": {"walmart|onsite_display": ["2000", "9000"]},
    "retailer_bounds": {"amazon": ["0", "35000"]},
    "exclude_channels": [],
}


@pytest.fixture
def acme_key(tenants, personas):
    return api_key_create(tenant=tenants["acme"], name="Partner planner", created_by=personas["owner"])


@pytest.fixture
def queued(monkeypatch):
    from optimizer import tasks

    sent = []
    monkeypatch.setattr(tasks.plan_run, "apply_async", lambda args, task_id: sent.append(args[0]))
    return sent


def test_an_api_key_creates_a_plan_and_reads_its_result(
    acme_key, tenants, retailers, queued, django_capture_on_commit_callbacks
):
    seed_history(tenants["acme"], retailers)
    key, raw = acme_key
    client = client_for(key=raw)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{API}/plans/", REQUEST, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["budget"], body["currency"], body["period_days"], body["min_roas"]) == (
        "pending",
        "40000.0000",
        "USD",
        28,
        "2.000",
    )
    assert body["result"] == {} and body["error"] == ""
    assert body["request"]["bounds"] == {"walmart|onsite_display": [2000.0, 9000.0]}
    assert queued == [body["id"]]
    entry = AuditLog.objects.get(action="allocation_plan.create")
    assert (entry.actor_api_key, entry.object_id) == (key, str(body["id"]))

    plan_run(body["id"])  # what the worker does
    body = client.get(f"{API}/plans/{body['id']}/").json()
    assert body["status"] == "succeeded", body["error"]
    allocations = body["result"]["allocations"]
    assert {(a["retailer"], a["placement_type"]) for a in allocations} == {
        ("amazon", "sponsored_product"),
        ("amazon", "search"),
        ("walmart", "onsite_display"),
    }
    for a in allocations:
        assert {
            "spend",
            "expected_incremental_sales",
            "expected_incremental_margin",
            "expected_attributed_roas",
        } <= set(a)
    # Money is a decimal string with 4 places (docs/api.md), the same amounts as the stored floats.
    four_places = re.compile(r"^-?\d+\.\d{4}$")
    stored = AllocationPlan.objects.get(pk=body["id"]).result
    for a, kept in zip(allocations, stored["allocations"], strict=True):
        for name in ("spend", "daily_spend", "expected_incremental_sales", "expected_incremental_margin"):
            assert four_places.match(a[name]), (name, a[name])
            assert Decimal(a[name]) == pytest.approx(Decimal(str(kept[name])), abs=Decimal("0.0001"))
        assert all(four_places.match(v) for v in a["incremental_sales_interval"])
        assert isinstance(a["expected_attributed_roas"], float)  # a ratio stays a number
    assert sum(Decimal(a["spend"]) for a in allocations) <= 40000 * (1 + Decimal("1e-6"))
    walmart = next(a for a in allocations if a["retailer"] == "walmart")
    assert 2000 <= Decimal(walmart["spend"]) <= 9000 + Decimal("1e-4")
    totals = body["result"]["totals"]
    assert all(four_places.match(totals[k]) for k in ("spend", "budget", "unspent", "expected_incremental_margin"))
    assert totals["budget"] == "40000.0000"
    assert Decimal(totals["spend"]) + Decimal(totals["unspent"]) == pytest.approx(
        Decimal("40000"), abs=Decimal("0.001")
    )
    assert four_places.match(body["result"]["constraints"]["bounds"]["walmart|onsite_display"]["min"])
    anchor = body["result"]["constraints"]["mix_anchor"]  # the pull toward the last period's mix, as stored
    assert anchor["strength"] == 1.0 and 0.0 <= anchor["evidence"] < 1.0
    assert all(four_places.match(v) for v in anchor["reference_spend"].values())
    assert set(anchor["marginal_pull"]) == set(anchor["reference_spend"])
    assert set(body["result"]) >= {"allocations", "totals", "constraints", "objective", "notices"}
    assert body["outcome"] in ("ready", "ready_with_warnings", "cannot_meet")
    assert body["creator"] == "API key Partner planner (owner)"
    listing = client.get(f"{API}/plans/").json()
    assert [p["id"] for p in listing["results"]] == [body["id"]]


@pytest.mark.parametrize(
    ("change", "field", "mention"),
    [
        ({"budget": "-10"}, "budget", "budget must be greater than 0"),
        ({"period_days": 0}, "period_days", "period_days must be between 1 and 366"),
        ({"bounds": {"target|ctv": ["0", "10"]}}, "bounds", "unknown channel 'target|ctv'"),
        ({"retailer_bounds": {"criteo": ["0", "10"]}}, "retailer_bounds", "unknown retailer 'criteo'"),
        ({"chance": 0.9, "min_roas": None}, "chance", "chance needs a min_roas"),
    ],
)
def test_a_bad_request_is_a_400_naming_the_field(acme_key, catalog, queued, change, field, mention):
    client = client_for(key=acme_key[1])
    response = client.post(f"{API}/plans/", {**REQUEST, "bounds": {}, **change}, format="json")
    assert_error(response, 400, mentions=(mention,), field=field)
    assert not AllocationPlan.objects.exists() and queued == []


def test_unknown_fields_and_bad_shapes_are_refused(acme_key, catalog, queued):
    client = client_for(key=acme_key[1])
    assert_error(client.post(f"{API}/plans/", {**REQUEST, "status": "succeeded"}, format="json"), 400, field="status")
    assert_error(
        client.post(f"{API}/plans/", {**REQUEST, "bounds": {"walmart|onsite_display": ["1"]}}, format="json"),
        400,
        field="bounds",
    )
    assert not AllocationPlan.objects.exists()


def test_a_reviewer_reads_plans_but_may_not_create_one(personas, catalog, tenants, queued):
    plan = AllocationPlan.objects.create(
        tenant=tenants["acme"], budget=Decimal("100"), currency="USD", period_days=7, request={}
    )
    client = client_for(personas["reviewer"])
    assert [p["id"] for p in client.get(f"{API}/plans/").json()["results"]] == [plan.pk]
    assert_error(client.post(f"{API}/plans/", REQUEST, format="json"), 403, mentions=("reviewer",))
    _, raw = api_key_create(tenant=tenants["acme"], name="read only", role=Role.REVIEWER)
    assert_error(client_for(key=raw).post(f"{API}/plans/", REQUEST, format="json"), 403)
    assert AllocationPlan.objects.count() == 1


def test_plans_are_scoped_to_the_tenant(personas, catalog, tenants, acme_key):
    acme_plan = AllocationPlan.objects.create(
        tenant=tenants["acme"], budget=Decimal("100"), currency="USD", period_days=7, request={}
    )
    globex_plan = AllocationPlan.objects.create(
        tenant=tenants["globex"], budget=Decimal("200"), currency="USD", period_days=7, request={}
    )
    stranger = client_for(personas["stranger"])
    assert [p["id"] for p in stranger.get(f"{API}/plans/").json()["results"]] == [globex_plan.pk]
    assert_error(stranger.get(f"{API}/plans/{acme_plan.pk}/"), 404)
    assert_error(client_for(personas["stranger"], tenant="acme").get(f"{API}/plans/"), 404)
    key_client = client_for(key=acme_key[1])
    assert_error(key_client.get(f"{API}/plans/{globex_plan.pk}/"), 404)
    assert key_client.get(f"{API}/plans/{acme_plan.pk}/").json()["budget"] == "100.0000"


def test_the_api_refuses_anonymous_callers(db):
    assert_error(client_for().get(f"{API}/plans/"), 401)


@pytest.mark.parametrize(("change", "stored"), [({}, 0.9), ({"chance": 0}, None), ({"chance": None}, None)])
def test_a_floor_is_a_90_percent_promise_unless_the_request_says_otherwise(acme_key, catalog, queued, change, stored):
    client = client_for(key=acme_key[1])
    response = client.post(f"{API}/plans/", {**REQUEST, "bounds": {}, "retailer_bounds": {}, **change}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["request"]["chance"] == stored


def test_the_schema_gives_plan_result_money_as_decimal_strings_and_ratios_as_numbers(db):
    from drf_spectacular.generators import SchemaGenerator

    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    plan = components["AllocationPlan"]["properties"]
    assert plan["result"]["allOf"][0]["$ref"] == "#/components/schemas/PlanResult"
    assert {"outcome", "creator"} <= set(plan)
    allocation, totals = components["PlanAllocation"]["properties"], components["PlanTotals"]["properties"]
    for field in (allocation["spend"], allocation["daily_spend"], totals["unspent"], totals["budget"]):
        assert (field["type"], field["format"]) == ("string", "decimal")
        assert field["pattern"].endswith(r"\d{0,4})?$")
    assert totals["incremental_margin_interval"]["items"]["type"] == "string"
    assert allocation["expected_attributed_roas"]["type"] == "number"
    assert components["PromiseSide"]["properties"]["daily_spend"]["additionalProperties"]["type"] == "string"


def test_result_money_is_rounded_to_4_places_and_a_missing_key_stays_missing():
    from optimizer.api.plan_results import PlanResultSerializer

    stored = {
        "allocations": [{"spend": 42047.19463593917, "expected_attributed_roas": 2.5, "binding": []}],
        "totals": {"unspent": 1.0000279871746898e-05, "expected_incremental_sales": 3e20},
        "promise": None,
    }
    data = PlanResultSerializer(stored).data
    assert data["allocations"] == [{"spend": "42047.1946", "expected_attributed_roas": 2.5, "binding": []}]
    # An interval end past the API's 18 digits (an extreme posterior tail) is still a 4-place string, not a 500.
    assert data["totals"] == {"unspent": "0.0000", "expected_incremental_sales": "300000000000000000000.0000"}
    assert data["promise"] is None and "constraints" not in data and "notices" not in data


def test_a_plan_an_api_key_created_names_the_key_and_its_owner_on_the_pages(
    acme_key, tenants, personas, catalog, queued, client
):
    from django.urls import reverse

    from optimizer.services.plans import plan_create

    plan = plan_create(tenant=tenants["acme"], budget="100", period_days=7, api_key=acme_key[0])
    assert (plan.created_by, plan.created_by_key) == (None, acme_key[0])
    client.force_login(personas["marketer"])
    for url in (reverse("plan_list"), reverse("plan_detail", args=[plan.pk])):
        assert "API key Partner planner (owner)" in client.get(url).content.decode()

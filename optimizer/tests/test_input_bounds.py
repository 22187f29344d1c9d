"""Input the optimizer used to accept or answer with a 500: amounts past what the databases store, unknown or
unbounded experiment params, seeds past 2**32-1, non-finite numbers, dates that are not dates. Each is now a 400
naming the field (API) or an error beside the field (pages), and nothing is stored."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.errors import DomainError
from optimizer.models import AllocationPlan, BanditPolicy, Experiment, LiftStudy
from optimizer.services.bandits import policy_create
from optimizer.services.experiments import experiment_design, experiment_readout
from rmn_site.tests.api_support import API, assert_error, client_for

LARGEST = "99,999,999,999.9999"
SEED_LIMIT = "4,294,967,295"
HOLDOUT = {
    "kind": "holdout", "retailer": "walmart", "placement_type": "onsite_display", "start_date": "2026-03-11",
    "end_date": "2026-04-21",
}  # fmt: skip
SWITCHBACK = {**HOLDOUT, "kind": "switchback", "end_date": "2026-03-17"}
SWITCHBACK_PARAMS = {"block_days": 1, "washout_days": 0, "seed": 1}


def visible(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
def marketer(personas):
    return client_for(personas["marketer"])


def _design(client, body, params):
    return client.post(f"{API}/experiments/", {**body, "params": params})


# --- experiment params ------------------------------------------------------------------------------------------


def test_an_unknown_param_is_refused_naming_it_and_the_allowed_ones(marketer, catalog):
    response = _design(marketer, HOLDOUT, {"audience_size": 1000, "outcome_sd": 2, "audiense": 5})
    error = assert_error(response, 400, field="params", mentions=("'audiense'", "audience_size", "holdout_share"))
    assert "block_days" not in error["message"]  # a switchback's key is not offered for a holdout
    response = _design(marketer, SWITCHBACK, {**SWITCHBACK_PARAMS, "audience_size": 1000})
    assert_error(response, 400, field="params", mentions=("'audience_size'", "block_days", "washout_days"))
    assert not Experiment.objects.exists()


@pytest.mark.parametrize("seed", [2**80, 2**32, -1, "1e400", 1.5])
def test_a_seed_outside_0_to_2_32_minus_1_is_refused(seed, marketer, catalog):
    response = _design(marketer, HOLDOUT, {"audience_size": 1000, "outcome_sd": 2, "seed": seed})
    assert_error(response, 400, field="seed", mentions=("seed", SEED_LIMIT))
    assert not Experiment.objects.exists()


def test_the_largest_seed_is_accepted(marketer, catalog):
    response = _design(marketer, HOLDOUT, {"audience_size": 1000, "outcome_sd": 2, "seed": 2**32 - 1})
    assert response.status_code == 201
    assert response.json()["design"]["seed"] == 2**32 - 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"audience_size": 1000, "outcome_sd": "inf"}, "outcome_sd"),  # was a 500: inf is not JSON
        ({"audience_size": "1e400", "outcome_sd": 2}, "audience_size"),  # was a 500 (OverflowError)
        ({"audience_size": 10**30, "outcome_sd": 2}, "audience_size"),
        ({"audience_size": 1000, "outcome_sd": 2, "spend": "1e300"}, "spend"),
        ({"audience_size": 1000, "outcome_sd": 2, "name": {"a": 1}}, "name"),
    ],
)
def test_holdout_numbers_must_be_finite_and_in_range(params, field, marketer, catalog):
    assert_error(_design(marketer, HOLDOUT, params), 400, field=field, mentions=(field,))
    assert not Experiment.objects.exists()


def test_a_huge_history_days_is_refused(marketer, catalog):
    # was a 500: OverflowError in the date arithmetic
    response = _design(marketer, SWITCHBACK, {**SWITCHBACK_PARAMS, "history_days": 10**30})
    assert_error(response, 400, field="history_days", mentions=("history_days", "3,660"))


@pytest.mark.parametrize("bad", ["notadate", "2026-13-45"])
def test_a_bad_date_in_a_switchback_outcome_history_names_its_line(bad, marketer, catalog):
    history = f"date,outcome\n2026-03-01,5\n{bad},6\n"
    response = _design(marketer, SWITCHBACK, {**SWITCHBACK_PARAMS, "outcome_history": history})
    assert_error(response, 400, field="outcome_history", mentions=("line 3", repr(bad)))


def test_a_bad_date_in_a_switchback_readout_names_its_line(tenants, catalog):
    experiment = experiment_design(
        tenant=tenants["acme"], kind="switchback", retailer="walmart", placement_type="onsite_display",
        start_date=dt.date(2026, 3, 11), end_date=dt.date(2026, 3, 17), params=SWITCHBACK_PARAMS,
    )  # fmt: skip
    rows = [f"{dt.date(2026, 3, 11) + dt.timedelta(days=i)},{100 + i}" for i in range(7)]
    rows[3] = "2026-03-32,103"
    with pytest.raises(DomainError) as caught:
        experiment_readout(experiment, "date,outcome\n" + "\n".join(rows) + "\n")
    assert caught.value.field == "data" and "line 5" in caught.value.message and "2026-03-32" in caught.value.message
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.DESIGNED and experiment.readout == {}


def test_the_design_page_sends_only_the_chosen_kinds_params(client, personas, catalog):
    # The page shows every kind's fields (with initial values); a holdout must not fail on a switchback's block_days.
    client.force_login(personas["marketer"])
    form = {
        "kind": "holdout", "channel": "walmart|onsite_display", "start_date": "2026-03-11", "end_date": "2026-04-21",
        "audience_size": "1000", "outcome_sd": "2", "block_days": "7", "washout_days": "2", "alpha": "0.1",
    }  # fmt: skip
    response = client.post(reverse("experiment_list"), form)
    assert response.status_code == 302
    assert Experiment.objects.get().design["audience_size"] == 1000
    response = client.post(reverse("experiment_list"), {**form, "seed": str(2**32)})
    assert response.status_code == 400
    assert re.search(r'id="id_seed_error">[^<]*4294967295', response.content.decode())


def test_a_bandit_policy_refuses_a_seed_past_2_32(tenants, catalog):
    with pytest.raises(DomainError) as caught:
        policy_create(
            tenant=tenants["acme"], name="p", budget="100", start_date=dt.date(2026, 3, 11),
            end_date=dt.date(2026, 3, 20), channels=["amazon|sponsored_product"], seed=2**80,
        )  # fmt: skip
    assert caught.value.field == "seed" and SEED_LIMIT in caught.value.message
    assert not BanditPolicy.objects.exists()


# --- plans and money on the pages -------------------------------------------------------------------------------


def test_a_plan_refuses_a_history_days_past_ten_years(marketer, catalog):
    # was accepted, then failed in the worker with an OverflowError
    response = marketer.post(f"{API}/plans/", {"budget": "100", "period_days": 28, "history_days": 10**30})
    assert_error(response, 400, field="history_days", mentions=("history_days", "3660"))
    assert not AllocationPlan.objects.exists()


def test_the_lift_study_page_refuses_an_amount_past_the_bound(client, personas, retailers):
    client.force_login(personas["marketer"])
    form = {
        "retailer": "amazon", "placement_type": "sponsored_product", "start_date": "2026-02-01",
        "end_date": "2026-02-28", "spend": "99999999999999.9999", "incremental_sales": "1",
        "incremental_sales_se": "1", "currency": "", "method": "rct_holdout", "source": "retailer",
    }  # fmt: skip
    response = client.post(reverse("lift_study_create"), form)
    assert response.status_code == 200
    assert re.search(rf'id="id_spend_error">[^<]*{re.escape(LARGEST)}', response.content.decode())
    assert not LiftStudy.objects.exists()
    assert client.get(reverse("lift_study_list")).status_code == 200


def test_the_plan_page_refuses_a_budget_past_the_bound(client, personas, catalog):
    client.force_login(personas["marketer"])
    form = {
        "budget": "100000000000", "period_days": "28", "roas_basis": "attributed", "objective": "incremental_margin"
    }  # fmt: skip
    response = client.post(reverse("plan_list"), form)
    assert response.status_code == 400
    assert LARGEST in visible(response.content.decode())
    assert not AllocationPlan.objects.exists()


def test_the_design_page_accepts_a_csv_upload_only_for_its_kind(client, personas, catalog):
    client.force_login(personas["marketer"])
    upload = SimpleUploadedFile("users.csv", b"user_id,outcome\n" + b"".join(b"u%d,%d\n" % (i, i) for i in range(20)))
    form = {
        "kind": "holdout", "channel": "walmart|onsite_display", "start_date": "2026-03-11", "end_date": "2026-04-21",
        "audience_size": "1000", "users": upload,
    }  # fmt: skip
    assert client.post(reverse("experiment_list"), form).status_code == 302
    assert Experiment.objects.get().design["variance_source"] == "per-user history"


# --- found by probing the pages ---------------------------------------------------------------------------------


def test_a_lift_study_dated_past_what_pandas_holds_is_refused(marketer, catalog):
    # One such study (9999-12-31 was accepted) made every plan and bandit policy of the tenant fail.
    body = {
        "retailer": "amazon", "placement_type": "search", "start_date": "2026-01-01", "end_date": "9999-12-31",
        "spend": "10", "incremental_sales": "5", "incremental_sales_se": "1", "method": "other", "source": "retailer",
    }  # fmt: skip
    assert_error(marketer.post(f"{API}/lift-studies/", body), 400, field="end_date", mentions=("2199-12-31",))
    body.update(start_date="0001-01-01", end_date="2026-01-31")
    assert_error(marketer.post(f"{API}/lift-studies/", body), 400, field="start_date", mentions=("1900-01-01",))
    assert not LiftStudy.objects.exists()


def test_a_stored_study_with_such_dates_no_longer_breaks_the_tenants_frames(tenants, catalog, retailers):
    from optimizer.selectors import tenant_frames

    LiftStudy.objects.create(
        tenant=tenants["acme"], retailer=retailers["amazon"], placement_type="sponsored_product",
        start_date=dt.date(2026, 1, 1), end_date=dt.date(9999, 12, 31), spend=10, incremental_sales=5,
        incremental_sales_se=1, currency="USD", method="other", source="retailer",
    )  # fmt: skip
    history, _, lift = tenant_frames(tenants["acme"])  # was OutOfBoundsDatetime
    assert len(history) == 20 and lift.empty


@pytest.mark.parametrize(
    ("start", "end", "field"), [("2026-03-11", "9999-12-31", "end_date"), ("0001-01-01", "2026-03-20", "start_date")]
)
def test_a_bandit_policy_dated_past_what_pandas_holds_is_an_error_on_the_page(
    start, end, field, client, personas, catalog, tenants
):
    plan = AllocationPlan.objects.create(
        tenant=tenants["acme"], budget=100, currency="USD", period_days=28, status="succeeded",
        result={"allocations": [{"retailer": "amazon", "placement_type": "sponsored_product", "spend": 10}]},
    )  # fmt: skip
    client.force_login(personas["marketer"])
    form = {"plan": plan.pk, "name": "b", "budget": "100", "start_date": start, "end_date": end}
    response = client.post(reverse("bandit_create"), form)  # was a 500 (OutOfBoundsDatetime)
    assert response.status_code == 400
    assert re.search(rf'id="id_{field}_error">[^<]*between 1900-01-01 and 2199-12-31', response.content.decode())
    assert not BanditPolicy.objects.exists()


@pytest.mark.parametrize("column", ["outcome", "spend"])
def test_a_readout_number_too_large_for_a_float_is_refused(column, tenants, catalog):
    # "1e400" read as infinity and the readout could not be stored (a 500: invalid JSON).
    experiment = experiment_design(
        tenant=tenants["acme"], kind="switchback", retailer="walmart", placement_type="onsite_display",
        start_date=dt.date(2026, 3, 11), end_date=dt.date(2026, 3, 17), params=SWITCHBACK_PARAMS,
    )  # fmt: skip
    rows = [f"{dt.date(2026, 3, 11) + dt.timedelta(days=i)},{100 + i},10" for i in range(7)]
    rows[2] = "2026-03-13,1e400,10" if column == "outcome" else "2026-03-13,100,1e400"
    with pytest.raises(DomainError) as caught:
        experiment_readout(experiment, "date,outcome,spend\n" + "\n".join(rows) + "\n")
    assert caught.value.field == "data" and f"{column} that is not a finite number" in caught.value.message
    experiment.refresh_from_db()
    assert experiment.readout == {}

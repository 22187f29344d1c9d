"""Plan pages: the request form, the progress panel htmx polls, the allocation or the failure's explanation; who
may see and do what. One test runs a plan through a real Celery worker and the real engine."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse

from optimizer.models import AllocationPlan
from optimizer.services.plans import plan_run
from optimizer.tests.test_plans_services import seed_history


@pytest.fixture(autouse=True)
def _fewer_posterior_samples(monkeypatch):
    # 60 posterior samples instead of the service's 200 keep each in-process engine run well under a second;
    # the worker tests run the service's own number.
    monkeypatch.setattr("optimizer.services.plans.PLAN_SAMPLES", 60)


def visible(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


FORM = {
    "name": "Spring push",
    "budget": "40000",
    "period_days": "28",
    "min_roas": "2",
    "roas_basis": "attributed",
    "objective": "incremental_margin",
}


@pytest.fixture
def no_queue(monkeypatch):
    """Plans created by the pages stay pending (the worker tests below send them for real)."""
    from optimizer import tasks

    sent = []
    monkeypatch.setattr(tasks.plan_run, "apply_async", lambda args, task_id: sent.append(args[0]))
    return sent


def _plan(tenant, **fields) -> AllocationPlan:
    values = {"name": "Q2", "budget": Decimal("40000"), "currency": "USD", "period_days": 28, "request": {}}
    return AllocationPlan.objects.create(tenant=tenant, **{**values, **fields})


def test_it_sends_anonymous_visitors_to_login(client, db):
    for url in (reverse("plan_list"), reverse("plan_detail", args=[1])):
        assert client.get(url)["Location"].startswith(reverse("login"))


def test_the_form_offers_min_and_max_for_each_of_the_tenants_channels(client, personas, catalog):
    client.force_login(personas["marketer"])
    html = client.get(reverse("plan_list")).content.decode()
    text = visible(html)
    assert "New plan" in text
    assert "Amazon Ads · Sponsored product minimum" in text and "Walmart Connect · Onsite display maximum" in text
    assert 'name="ch0_min"' in html and 'name="ch1_max"' in html and 'name="ch2_min"' not in html
    assert 'href="/plans/"' in html  # the nav link


def test_a_marketer_creates_a_plan_and_lands_on_its_page(
    client, personas, catalog, tenants, no_queue, django_capture_on_commit_callbacks
):
    client.force_login(personas["marketer"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("plan_list"), {**FORM, "chance": "on", "ch0_min": "1000", "ch0_max": "20000", "ch1_max": "5000"}
        )
    plan = AllocationPlan.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("plan_detail", args=[plan.pk])
    assert (plan.tenant, plan.name, plan.budget, plan.min_roas, plan.created_by) == (
        tenants["acme"],
        "Spring push",
        Decimal("40000"),
        Decimal("2"),
        personas["marketer"],
    )
    assert plan.request["bounds"] == {
        "amazon|sponsored_product": [1000.0, 20000.0],
        "walmart|onsite_display": [0, 5000.0],
    }
    assert plan.request["chance"] == 0.9
    assert no_queue == [plan.pk]
    html = client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' in html and "Waiting for a worker" in html


def test_a_bad_request_comes_back_with_the_reason(client, personas, catalog, no_queue):
    client.force_login(personas["marketer"])
    response = client.post(reverse("plan_list"), {**FORM, "budget": "-5"})
    assert response.status_code == 400
    assert "budget must be greater than 0, got -5" in visible(response.content.decode())
    response = client.post(reverse("plan_list"), {**FORM, "ch0_min": "500", "ch0_max": "100"})
    assert response.status_code == 400
    assert "bounds['amazon|sponsored_product']: max 100 is below min 500." in visible(response.content.decode())
    assert not AllocationPlan.objects.exists() and no_queue == []


def test_a_reviewer_sees_plans_but_may_not_create_one(client, personas, catalog, tenants, no_queue):
    plan = _plan(tenants["acme"])
    client.force_login(personas["reviewer"])
    html = client.get(reverse("plan_list")).content.decode()
    assert "New plan" not in html and reverse("plan_detail", args=[plan.pk]) in html
    assert client.get(reverse("plan_detail", args=[plan.pk])).status_code == 200
    assert client.post(reverse("plan_list"), FORM).status_code == 403
    assert AllocationPlan.objects.count() == 1


def test_another_tenants_plan_does_not_exist_for_a_stranger(client, personas, catalog, tenants):
    plan = _plan(tenants["acme"], name="Acme secret plan")
    client.force_login(personas["stranger"])
    assert client.get(reverse("plan_detail", args=[plan.pk])).status_code == 404
    assert "Acme secret plan" not in client.get(reverse("plan_list")).content.decode()


def test_the_status_panel_stops_polling_once_the_plan_is_done(client, personas, catalog, tenants):
    plan = _plan(tenants["acme"], status=AllocationPlan.Status.RUNNING)
    client.force_login(personas["marketer"])
    partial = client.get(reverse("plan_detail", args=[plan.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="plan-status"') and 'hx-trigger="every 1s"' in partial
    assert "<html" not in partial
    plan.status, plan.error = AllocationPlan.Status.FAILED, "min_roas 20 is infeasible: lower the floor."
    plan.save()
    partial = client.get(reverse("plan_detail", args=[plan.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in partial
    assert "min_roas 20 is infeasible: lower the floor." in visible(partial)


def test_a_succeeded_plan_shows_its_allocation_from_the_real_engine(client, personas, tenants, retailers):
    seed_history(tenants["acme"], retailers)
    plan = _plan(tenants["acme"], min_roas=Decimal("2"), request={"bounds": {"walmart|onsite_display": [2000, 9000]}})
    plan_run(plan)
    assert plan.status == "succeeded", plan.error
    client.force_login(personas["marketer"])
    html = client.get(reverse("plan_detail", args=[plan.pk])).content.decode()
    text = visible(html)
    assert "hx-trigger" not in html
    rows = re.findall(r'<tr data-channel="([^"]+)">(.*?)</tr>', html, flags=re.S)
    assert {key for key, _ in rows} == {"amazon|sponsored_product", "amazon|search", "walmart|onsite_display"}
    by_key = {a["retailer"] + "|" + a["placement_type"]: a for a in plan.result["allocations"]}
    for key, row in rows:
        spend = re.search(r'data-metric="spend">([^<]+)<', row).group(1)
        assert float(spend.replace(",", "")) == pytest.approx(by_key[key]["spend"], abs=0.01)
        assert "<meter" in row
    for heading in ("Allocation", "Constraints", "Incremental sales (90%)", "Marginal ROAS", "Binding"):
        assert heading in text
    assert "Walmart Connect · Onsite display" in text  # the bound in the constraints panel


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_plan_runs_through_the_worker_and_its_page_shows_the_allocation(
    celery_worker_process, client, personas, tenants, retailers
):
    seed_history(tenants["acme"], retailers)
    client.force_login(personas["marketer"])
    response = client.post(reverse("plan_list"), FORM, follow=True)
    assert response.status_code == 200
    plan = AllocationPlan.objects.get()
    deadline = time.monotonic() + 90
    while plan.status in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        plan.refresh_from_db()
    assert plan.status == "succeeded", plan.error
    spend = [a["spend"] for a in plan.result["allocations"]]
    assert all(s >= 0 for s in spend) and 0 < sum(spend) <= 40000 * (1 + 1e-6)
    html = client.get(reverse("plan_detail", args=[plan.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in html and 'id="allocations"' in html


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_infeasible_plan_fails_in_the_worker_with_the_explanation_on_its_page(
    celery_worker_process, client, personas, tenants, retailers
):
    seed_history(tenants["acme"], retailers, lift_study=False)
    client.force_login(personas["marketer"])
    channels = [row for row in client.get(reverse("plan_list")).context["form"].channel_rows]
    display = next(i for i, row in enumerate(channels) if row["key"] == "walmart|onsite_display")
    form = {**FORM, "min_roas": "20", f"ch{display}_min": "30000"}
    client.post(reverse("plan_list"), form)
    plan = AllocationPlan.objects.get()
    deadline = time.monotonic() + 90
    while plan.status in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        plan.refresh_from_db()
    assert plan.status == "failed" and plan.result == {}
    text = visible(client.get(reverse("plan_detail", args=[plan.pk])).content.decode())
    assert "No plan: the optimizer could not meet this request." in text
    assert "min_roas 20 is infeasible" in text and plan.error in text


def test_the_admin_lists_plans_and_shows_a_bandit_policy_with_its_decisions(client, django_user_model, tenants):
    import datetime as dt

    from optimizer.models import BanditDecision, BanditPolicy, Experiment

    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-123"))
    plan = _plan(tenants["acme"], name="Admin visible plan")
    policy = BanditPolicy.objects.create(
        tenant=tenants["acme"], name="In-flight Q2", plan=plan, currency="USD", budget=Decimal("1000"),
        start_date=dt.date(2026, 4, 1), end_date=dt.date(2026, 4, 30),
    )  # fmt: skip
    BanditDecision.objects.create(
        policy=policy, date=dt.date(2026, 4, 1), allocation={"amazon|search": 12.5}, propensities={"amazon|search": 0.4}
    )
    assert "Admin visible plan" in client.get(reverse("admin:optimizer_allocationplan_changelist")).content.decode()
    html = client.get(reverse("admin:optimizer_banditpolicy_change", args=[policy.pk])).content.decode()
    assert "amazon|search" in html and 'name="decisions-0-date"' not in html  # the log is read-only
    assert client.get(reverse("admin:optimizer_experiment_changelist")).status_code == 200
    assert Experiment.objects.count() == 0


def test_a_high_floor_says_why_budget_is_left_unspent(client, personas, tenants, retailers):
    seed_history(tenants["acme"], retailers)
    plan = _plan(tenants["acme"], min_roas=Decimal("8"))
    plan_run(plan)
    assert plan.status == "succeeded", plan.error
    unspent = plan.result["totals"]["unspent"]
    assert unspent > 0.1 * 40000 and plan.result["constraints"]["min_roas"]["binding"]
    client.force_login(personas["marketer"])
    html = client.get(reverse("plan_detail", args=[plan.pk])).content.decode()
    text = visible(html)
    # Holding the floor keeps most of the budget back: the plan does not meet the request, and says so first.
    share = f"{unspent / 40000:.0%}"
    lead = f"Holding a ROAS of at least 8.00 leaves {share} of the budget (USD {unspent:,.2f}) unspent"
    # Shown once as news (the notice) beside the Unspent figure; the engine's own sentences are folded details.
    unfolded = visible(re.sub(r"<details>.*?</details>", "", html, flags=re.S))
    assert lead in unfolded and unfolded.count(f"{unspent:,.2f}") == 2
    assert "Meeting min_roas" not in unfolded
    assert plan.outcome == "cannot_meet" and "Does not meet the request" in text and "Succeeded" not in text


def test_a_floor_the_budget_cannot_promise_shows_both_plans_side_by_side(client, personas, tenants, retailers):
    seed_history(tenants["acme"], retailers)
    plan = _plan(tenants["acme"], min_roas=Decimal("8"), request={"chance": 0.9})
    plan_run(plan)
    assert plan.status == "succeeded", plan.error
    promise = plan.result["promise"]
    assert promise["whole_budget_keeps_promise"] is False
    client.force_login(personas["marketer"])
    html = client.get(reverse("plan_detail", args=[plan.pk])).content.decode()
    table = re.search(r'<table class="data" id="plan-promise">(.*?)</table>', html, flags=re.S).group(1)
    kept = re.search(r'data-metric="promise_probability">(\d+)%<', table).group(1)
    full = re.search(r'data-metric="full_spend_probability">(\d+)%<', table).group(1)
    assert int(kept) == round(100 * promise["largest_promised_spend"]["probability"]) and int(kept) >= 90
    assert int(full) == round(100 * promise["full_spend"]["probability"]) and int(full) < 90
    assert "cannot hold min_roas 8 (attributed) with probability 90%" in visible(html)


def test_the_default_form_without_a_floor_makes_a_plan(client, personas, catalog, no_queue):
    # The promise box is ticked by default and the floor is optional: leaving the floor empty is the common case.
    client.force_login(personas["marketer"])
    response = client.post(reverse("plan_list"), {**FORM, "min_roas": "", "chance": "on"})
    plan = AllocationPlan.objects.get()
    assert response.status_code == 302 and (plan.min_roas, plan.request["chance"]) == (None, None)

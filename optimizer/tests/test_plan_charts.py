"""The plan page's charts: the optimizer stores each large channel's response curve with the plan, the page draws
one chart per channel through the row's figures and the split as a bar, and the API's result stays OUT.json."""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pytest
from django.urls import reverse

from governance.services import api_key_create
from optimizer.services.plans import plan_create, plan_run
from optimizer.tests.test_plans_services import seed_history
from rmn_site.tests.api_support import API, client_for


@pytest.fixture(autouse=True)
def _fewer_posterior_samples(monkeypatch):
    monkeypatch.setattr("optimizer.services.plans.PLAN_SAMPLES", 60)


@pytest.fixture
def plan(tenants, retailers, personas):
    seed_history(tenants["acme"], retailers)
    created = plan_create(tenant=tenants["acme"], user=personas["marketer"], budget=Decimal("40000"), period_days=28)
    return plan_run(created.pk)


def test_a_finished_plan_keeps_a_curve_through_each_channels_allocation(plan):
    assert plan.status == "succeeded", plan.error
    curves = plan.result["curves"]
    for a in plan.result["allocations"]:
        curve = curves[f"{a['retailer']}|{a['placement_type']}"]
        spend = np.array(curve["spend"])
        assert len(spend) == 25 and spend[0] == 0 and spend[-1] <= 40000
        # The chosen spend is a point of the curve, at the row's expected sales and interval (stored in cents).
        at = list(spend).index(round(a["spend"], 2))
        assert curve["expected"][at] == pytest.approx(a["expected_incremental_sales"], abs=0.01)
        assert [curve["low"][at], curve["high"][at]] == pytest.approx(a["incremental_sales_interval"], abs=0.01)


def test_the_api_result_is_the_optimizers_out_json_without_the_charts(plan, tenants, personas):
    _, raw = api_key_create(tenant=tenants["acme"], name="Partner", created_by=personas["owner"])
    body = client_for(key=raw).get(f"{API}/plans/{plan.pk}/").json()
    assert "curves" not in body["result"] and body["result"]["allocations"]
    assert "curves" in plan.result  # left out of the answer, not of the plan


def test_the_page_draws_a_curve_per_channel_and_the_split(client, plan, personas):
    client.force_login(personas["reviewer"])
    html = client.get(reverse("plan_detail", args=[plan.pk])).content.decode()
    spending = [a for a in plan.result["allocations"] if a["spend"] > 0]
    assert html.count('<figure class="chart curve"') == len(spending)
    assert html.count('class="split-seg') == len(spending) + (plan.result["totals"]["unspent"] > 0.005 * 40000)
    for a in spending:
        assert f"at a spend of {a['spend']:,.2f}" in html
    widths = [float(w) for w in re.findall(r'class="split-seg[^"]*" style="width: ([\d.]+)%', html)]
    assert sum(widths) == pytest.approx(100 * plan.result["totals"]["spend"] / 40000, abs=0.01)
    # The budget in the what-if form is grouped; a reviewer has no form.
    assert 'id="what-if-form"' not in html
    client.force_login(personas["marketer"])
    html = client.get(reverse("plan_detail", args=[plan.pk])).content.decode()
    assert re.search(r'name="budget" value="40,000"', html)

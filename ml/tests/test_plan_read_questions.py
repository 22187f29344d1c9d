"""The plan in words is cross-checked by the deterministic reader (optimizer/engine/objective_reader.py): where the
budgeting adapter and the reader read a field differently, where a field is missing, or where the money is in another
currency than the tenant's, the page asks that one question instead of filling a wrong form.

The adapter's answer is what the inference worker stores on the GenerationRequest (ml.inference), as in
test_plan_read.py; the reader runs for real."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from ml.models import Adapter, AdapterKind, GenerationRequest


def visible(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def answer(**fields) -> dict:
    return {
        "budget": 2500000.0, "period_days": 28, "objective": "incremental_margin", "min_roas": None,
        "roas_basis": "attributed", "retailer_caps": {}, "exclude_retailers": [], **fields,
    }  # fmt: skip


@pytest.fixture
def reading(db, tenants, catalog):
    """A budgeting reading of Acme's, answered by the adapter with ``parsed`` (or the raw ``output``)."""
    Adapter.objects.create(
        name="task_budgeting", kind=AdapterKind.TASK, tenant=None, base_model="base", version=1,
        path="adapters/task_budgeting", status=Adapter.Status.ACTIVE,
    )  # fmt: skip

    def make(text: str, parsed: dict | None, output: str = "{...}") -> GenerationRequest:
        return GenerationRequest.objects.create(
            tenant=tenants["acme"], task="budgeting", adapters=["task_budgeting"], prompt={"text": text},
            parsed=parsed, output=output, status=GenerationRequest.Status.SUCCEEDED,
        )  # fmt: skip

    return make


def status_of(client, generation):
    return client.get(reverse("plan_read_status", args=[generation.pk]))


def answer_with(client, generation, field, value="", choice="", **earlier):
    body = {"field": field, "answer": value, "choice": choice, **{f"a_{k}": v for k, v in earlier.items()}}
    return client.post(reverse("plan_read_answer", args=[generation.pk]), body)


def test_four_weeks_read_as_4_days_is_asked_not_filled(client, personas, reading):
    client.force_login(personas["marketer"])
    text = "Allocate $2.5M over four weeks to maximize incremental margin with a 3:1 ROAS"
    generation = reading(text, answer(period_days=4, min_roas=3.1))
    html = status_of(client, generation).content.decode()
    assert "plan-form" not in html  # nothing filled yet
    page = visible(html)
    assert "Over how many days should the budget be spent?" in page
    assert "28 days (4 weeks)" in page and "4 days" in page
    assert 'name="field" value="period_days"' in html

    html = answer_with(client, generation, "period_days", choice="28").content.decode()
    assert "plan-form" not in html
    assert "What ROAS must the plan hold at least?" in visible(html)  # 3 (reader) or 3.1 (adapter)
    assert 'name="a_period_days" value="28"' in html  # the first answer rides along

    response = answer_with(client, generation, "min_roas", value="3", period_days="28")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="plan-form" hx-swap-oob="true"' in html
    assert 'name="period_days" value="28"' in html and 'name="min_roas" value="3"' in html
    assert 'name="budget" value="2,500,000"' in html
    assert "with the plan reader, cross-checked by the budgeting model v1 and your answers" in visible(html)


def test_where_the_two_agree_the_form_fills_at_once(client, personas, reading):
    client.force_login(personas["marketer"])
    text = "Spend $750k over the next two weeks to grow sales, iROAS of at least 2.5. Nothing on Walmart."
    parsed = answer(budget=750000.0, period_days=14, objective="incremental_revenue", min_roas=2.5,
                    roas_basis="incremental", exclude_retailers=["walmart"])  # fmt: skip
    html = status_of(client, reading(text, parsed)).content.decode()
    assert 'id="plan-form" hx-swap-oob="true"' in html
    assert 'name="budget" value="750,000"' in html and 'name="period_days" value="14"' in html
    assert '<option value="incremental_revenue" selected>' in html
    assert '<option value="incremental" selected>' in html
    assert re.search(r'name="ch\d+_max" value="0"', html)  # Walmart's channel closed


def test_pounds_for_a_dollar_tenant_ask_for_the_budget_in_dollars(client, personas, reading):
    client.force_login(personas["marketer"])
    generation = reading(
        "£500k over 8 weeks, maximise profit",
        answer(budget=500000.0, period_days=56, objective="net_incremental_profit"),
    )
    html = status_of(client, generation).content.decode()
    assert "plan-form" not in html
    assert "Your text gives the budget as “£500k” in GBP, but this tenant plans in USD" in visible(html)

    html = answer_with(client, generation, "currency", value="635,000").content.decode()
    assert 'name="budget" value="635,000' in html and 'name="period_days" value="56"' in html


def test_a_missing_period_is_asked_not_assumed(client, personas, reading):
    client.force_login(personas["marketer"])
    generation = reading(
        "Spend $1M to grow incremental sales", answer(budget=1e6, period_days=None, objective="incremental_revenue")
    )
    html = status_of(client, generation).content.decode()
    assert "Over how many days should the budget be spent? Your text gives no period." in visible(html)
    assert "plan-form" not in html and "28 days assumed" not in visible(html)


def test_a_bad_or_empty_answer_asks_again_and_fills_nothing(client, personas, reading):
    client.force_login(personas["marketer"])
    generation = reading(
        "Spend $1M to grow incremental sales", answer(budget=1e6, period_days=None, objective="incremental_revenue")
    )
    response = answer_with(client, generation, "period_days", value="four-ish")
    assert response.status_code == 400
    assert "Give the period as a number, not “four-ish”." in visible(response.content.decode())
    assert "plan-form" not in response.content.decode()
    response = answer_with(client, generation, "period_days")
    assert response.status_code == 400 and "Choose or type an answer first." in visible(response.content.decode())
    assert answer_with(client, generation, "colour", value="blue").status_code == 400


def test_an_unknown_objective_costs_that_field_only(client, personas, reading):
    """The adapter answered an objective the form does not have: before, the whole answer was "not a plan"."""
    client.force_login(personas["marketer"])
    output = ('{"budget": 300000, "period_days": 30, "objective": "maximize_roas", "min_roas": 4, '
              '"roas_basis": "attributed", "retailer_caps": {}, "exclude_retailers": []}')  # fmt: skip
    generation = reading("Put $300k into next month to maximize net profit at ROAS >= 4", None, output=output)
    html = status_of(client, generation).content.decode()
    assert 'id="plan-form" hx-swap-oob="true"' in html
    assert '<option value="net_incremental_profit" selected>' in html
    assert 'name="min_roas" value="4"' in html


def test_only_editors_of_the_tenant_answer(client, personas, reading):
    generation = reading("Spend $1M to grow incremental sales", answer(budget=1e6, period_days=None))
    client.force_login(personas["reviewer"])
    assert answer_with(client, generation, "period_days", value="30").status_code == 403
    client.force_login(personas["stranger"])
    assert answer_with(client, generation, "period_days", value="30").status_code == 404
    client.force_login(personas["marketer"])
    assert client.get(reverse("plan_read_answer", args=[generation.pk])).status_code == 405

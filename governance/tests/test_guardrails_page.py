"""The governance page: tenant admins see their clean rooms' budgets and the guardrail decisions, with filters."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from demo.engine.shoppers import default_rules, shopper_tables
from governance.clean_rooms import CleanRoomRefused, clean_room_dataset_load, clean_room_query
from governance.services import audit_record

SQL = "SELECT s.region, COUNT(DISTINCT s.shopper_id) AS n FROM shoppers s GROUP BY s.region"


@pytest.fixture
def decisions(tenants, personas):
    tables = shopper_tables(campaign_ids=["acme-amazon"], shoppers=800, seed=5)
    dataset = clean_room_dataset_load(
        tenant=tenants["acme"], slug="amazon-shoppers", name="Amazon shoppers", retailer_code="amazon",
        rules=default_rules(), shoppers=tables.shoppers, exposures=tables.exposures, purchases=tables.purchases,
        epsilon_budget=2.0,
    )  # fmt: skip
    clean_room_query(dataset=dataset, sql=SQL, release=True, epsilon=0.75, user=personas["owner"])
    with pytest.raises(CleanRoomRefused):
        clean_room_query(dataset=dataset, sql="SELECT * FROM shoppers", release=True, user=personas["marketer"])
    audit_record(action="cleanroom.refused", tenant=tenants["globex"], detail={"rule": "globex_secret_rule"})
    return dataset


def test_it_shows_an_admin_the_budget_and_every_decision(client, personas, decisions):
    client.force_login(personas["owner"])
    response = client.get(reverse("guardrails"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Amazon shoppers" in page
    assert "0.75" in page and "1.25" in page  # spent and left of the budget of 2
    assert "no_select_star" in page and "Epsilon spent" in page
    assert "globex_secret_rule" not in page


def test_it_filters_by_kind_and_date(client, personas, decisions):
    client.force_login(personas["owner"])
    refused = client.get(reverse("guardrails"), {"kind": "refused"}).content.decode()
    assert "no_select_star" in refused and "cleanroom.epsilon_spent" not in refused
    spent = client.get(reverse("guardrails"), {"kind": "epsilon"}).content.decode()
    assert "cleanroom.epsilon_spent" in spent and "no_select_star" not in spent
    today = timezone.now().date()

    def count(**query) -> int:
        return client.get(reverse("guardrails"), query).context["page"].paginator.count

    # Acme's three: the dataset load, the epsilon spend, the refusal (Globex's entry is never counted).
    assert count(date_from=str(today), date_to=str(today)) == 3
    assert count(date_to=str(today - dt.timedelta(days=1))) == 0
    assert count(date_from=str(today + dt.timedelta(days=1))) == 0
    assert count(kind="datasets") == 1


def test_it_answers_htmx_with_the_results_fragment(client, personas, decisions):
    client.force_login(personas["owner"])
    response = client.get(reverse("guardrails"), {"kind": "refused"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert 'id="guardrail-results"' in body and "<html" not in body and "no_select_star" in body


@pytest.mark.parametrize("persona", ["marketer", "reviewer"])
def test_it_is_for_tenant_admins_only(client, personas, decisions, persona):
    client.force_login(personas[persona])
    assert client.get(reverse("guardrails")).status_code == 403

"""Operators change a dataset's rules and budget in Django admin: a malformed rule is refused naming its key, and
every change is an audit entry."""

import json

import pytest
from django.urls import reverse

from demo.engine.shoppers import default_rules
from governance.models import AuditLog, CleanRoomDataset


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-123"))
    return client


@pytest.fixture
def dataset(tenants):
    return CleanRoomDataset.objects.create(
        tenant=tenants["acme"], slug="amazon-shoppers", name="Amazon", retailer_code="amazon", rules=default_rules()
    )


def _form(dataset, **changes) -> dict:
    data = {
        "tenant": dataset.tenant_id, "slug": dataset.slug, "name": dataset.name, "retailer_code": dataset.retailer_code,
        "rules": json.dumps(dataset.rules), "epsilon_budget": dataset.epsilon_budget,
        "epsilon_per_query": dataset.epsilon_per_query,
    }  # fmt: skip
    return data | changes


def test_it_refuses_malformed_rules_naming_the_key(superuser_client, dataset):
    rules = default_rules()
    rules["tables"]["purchases"]["aggregates"]["amount"] = ["MAX"]
    url = reverse("admin:governance_cleanroomdataset_change", args=[dataset.pk])
    response = superuser_client.post(url, _form(dataset, rules=json.dumps(rules)))
    assert response.status_code == 200 and "rules.tables.purchases.aggregates.amount: MAX" in response.content.decode()
    dataset.refresh_from_db()
    assert dataset.rules == default_rules()
    assert not AuditLog.objects.filter(action="cleanroom.dataset_changed").exists()


def test_it_audits_a_budget_change(superuser_client, dataset):
    url = reverse("admin:governance_cleanroomdataset_change", args=[dataset.pk])
    response = superuser_client.post(url, _form(dataset, epsilon_budget=25))
    assert response.status_code == 302
    dataset.refresh_from_db()
    assert dataset.epsilon_budget == 25
    entry = AuditLog.objects.get(action="cleanroom.dataset_changed")
    assert entry.detail["changed"] == ["epsilon_budget"] and entry.detail["epsilon_budget"] == 25
    assert entry.actor_label == "user:root" and entry.tenant == dataset.tenant

"""Migrations 0008 and 0009 (h_d): plans finished before outcomes existed get one from their stored results, and
plans an API key created get that key as their creator, from the audit log."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("optimizer", "0007_uplift_study"), ("governance", "0003_adjudicator_role")]
AFTER = [("optimizer", "0009_plan_outcome_backfill")]


@pytest.fixture
def back_to_latest():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # the other tests need every app's latest schema


@pytest.mark.django_db(transaction=True)
def test_old_plans_get_their_outcome_and_api_key_creator(back_to_latest):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Tenant, Plan = apps.get_model("governance", "Tenant"), apps.get_model("optimizer", "AllocationPlan")
    APIKey, AuditLog = apps.get_model("governance", "APIKey"), apps.get_model("governance", "AuditLog")
    tenant = Tenant.objects.create(name="Acme", slug="acme", reporting_currency="USD")
    key = APIKey.objects.create(tenant=tenant, name="Partner", prefix="abcdef123456", key_hash="0" * 64)

    def plan(**fields):
        values = {"tenant": tenant, "budget": 1000, "currency": "USD", "period_days": 28, "request": {}}
        return Plan.objects.create(**{**values, **fields})

    def totals(unspent, binding=False):
        return {
            "totals": {"budget": 1000.0, "unspent": unspent},
            "constraints": {"min_roas": {"limit": 20.0, "binding": binding}},
            "allocations": [],
            "warnings": [],
        }

    held_back = plan(status="succeeded", result=totals(950.0, binding=True))
    spent = plan(status="succeeded", result=totals(0.0))
    misread = plan(status="succeeded", result=totals(0.0), name="$1,000 over 4 weeks", period_days=4)
    failed = plan(status="failed", error="min_roas 20 is infeasible")
    pending = plan()
    AuditLog.objects.create(
        tenant=tenant, actor_api_key=key, actor_label="api-key", action="allocation_plan.create",
        object_type="optimizer.AllocationPlan", object_id=str(spent.pk),
    )  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    Plan = apps.get_model("optimizer", "AllocationPlan")
    outcomes = dict(Plan.objects.values_list("pk", "outcome"))
    assert outcomes == {
        held_back.pk: "cannot_meet",
        spent.pk: "ready",
        misread.pk: "cannot_meet",
        failed.pk: "failed",
        pending.pk: "",
    }
    assert dict(Plan.objects.values_list("pk", "created_by_key_id"))[spent.pk] == key.pk
    assert Plan.objects.filter(created_by_key__isnull=False).count() == 1

"""Plans a dead worker left behind: the reaper fails them, a failed plan runs again (page and API), and a
redelivered message never optimizes a plan twice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.models import AuditLog, Role
from governance.services import api_key_create
from optimizer import tasks
from optimizer.models import AllocationPlan
from optimizer.services.plans import plan_run, reap_dead_plans
from rmn_site.tests.api_support import API, assert_error, client_for


@pytest.fixture
def sent(monkeypatch):
    out = []
    monkeypatch.setattr(tasks.plan_run, "apply_async", lambda args, task_id: out.append(args[0]))
    return out


def _plan(tenant, **fields) -> AllocationPlan:
    values = {"name": "Q2", "budget": Decimal("40000"), "currency": "USD", "period_days": 28, "request": {}}
    return AllocationPlan.objects.create(tenant=tenant, **{**values, **fields})


def _running(tenant, *, silent_s: float) -> AllocationPlan:
    beat = timezone.now() - dt.timedelta(seconds=silent_s)
    return _plan(tenant, status="running", worker="elsewhere:1", heartbeat_at=beat, started_at=beat)


def test_the_reaper_fails_a_silent_plan_only(tenants):
    dead, alive = _running(tenants["acme"], silent_s=600), _running(tenants["acme"], silent_s=5)
    assert reap_dead_plans() == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == "failed" and "stopped while optimizing" in dead.error and dead.finished_at
    assert alive.status == "running"
    assert AuditLog.objects.filter(action="allocation_plan.reap", object_id=str(dead.pk)).exists()


def test_a_redelivered_message_does_not_optimize_a_running_plan_again(tenants):
    plan = _running(tenants["acme"], silent_s=1)
    assert plan_run(plan.pk).status == "running"
    plan.refresh_from_db()
    assert plan.status == "running" and plan.result == {}


def test_a_failed_plan_runs_again_from_its_page(client, personas, tenants, sent, django_capture_on_commit_callbacks):
    plan = _plan(tenants["acme"], status="failed", error="The optimizer's worker stopped", result={"x": 1})
    client.force_login(personas["marketer"])
    assert "Run this plan again" in client.get(reverse("plan_detail", args=[plan.pk])).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("plan_rerun", args=[plan.pk]))
    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.status, plan.error, plan.result, sent) == ("pending", "", {}, [plan.pk])


def test_reviewers_and_strangers_cannot_rerun(client, personas, tenants, sent):
    plan = _plan(tenants["acme"], status="failed", error="x")
    client.force_login(personas["reviewer"])
    assert "Run this plan again" not in client.get(reverse("plan_detail", args=[plan.pk])).content.decode()
    assert client.post(reverse("plan_rerun", args=[plan.pk])).status_code == 403
    client.force_login(personas["stranger"])
    assert client.post(reverse("plan_rerun", args=[plan.pk])).status_code == 404
    plan.refresh_from_db()
    assert plan.status == "failed" and sent == []


def test_the_api_reruns_only_failed_plans(tenants, personas, sent, django_capture_on_commit_callbacks):
    _, raw = api_key_create(tenant=tenants["acme"], name="ETL", role=Role.MARKETER, created_by=personas["owner"])
    failed, done = _plan(tenants["acme"], status="failed"), _plan(tenants["acme"], status="succeeded")
    client = client_for(key=raw)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{API}/plans/{failed.pk}/rerun/")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert_error(client.post(f"{API}/plans/{done.pk}/rerun/"), 400, field="status")
    assert sent == [failed.pk]

"""Marketers decide on plan versions (approve, reject, request changes, with a comment); a reviewer cannot; the
plan page shows the decisions and queues the version once for reviewers to rate; the API lists and submits them
within the tenant only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from core.errors import DomainError
from feedback.models import PlanReview, ReviewItem
from feedback.services.plan_review import plan_review_submit
from optimizer.models import AllocationPlan
from optimizer.tests.test_plans_pages import visible
from rmn_site.tests.api_support import API, assert_error, client_for


def _plan(tenant, **fields) -> AllocationPlan:
    channel = {"retailer": "amazon", "placement_type": "sponsored_product", "spend": 30000.0}
    values = {
        "name": "Q2", "budget": Decimal("40000"), "currency": "USD", "period_days": 28, "request": {},
        "status": AllocationPlan.Status.SUCCEEDED, "result": {"allocations": [channel], "totals": {"spend": 30000.0}},
    }  # fmt: skip
    plan = AllocationPlan.objects.create(tenant=tenant, **{**values, **fields})
    plan.root = plan
    plan.save(update_fields=["root"])
    return plan


@pytest.fixture
def plan(tenants):
    return _plan(tenants["acme"])


def test_it_records_each_decision_and_sets_the_review_status(plan, personas):
    plan_review_submit(plan=plan, user=personas["marketer"], decision="request_changes", comment="Less on search.")
    plan.refresh_from_db()
    assert plan.review_status == AllocationPlan.Review.CHANGES_REQUESTED
    plan_review_submit(plan=plan, user=personas["owner"], decision="approve", comment="")
    plan.refresh_from_db()
    assert plan.review_status == AllocationPlan.Review.APPROVED
    assert list(PlanReview.objects.filter(plan=plan).values_list("decision", "reviewer__username", "comment")) == [
        ("request_changes", "marketer", "Less on search."),
        ("approve", "owner", ""),
    ]  # append-only: the first decision is still there


@pytest.mark.parametrize("decision", ["reject", "request_changes"])
def test_it_requires_a_comment_to_reject_or_request_changes(plan, personas, decision):
    with pytest.raises(DomainError) as refused:
        plan_review_submit(plan=plan, user=personas["marketer"], decision=decision, comment="  ")
    assert refused.value.field == "comment" and "a comment is required" in refused.value.message
    plan.refresh_from_db()
    assert plan.review_status == AllocationPlan.Review.DRAFT and not PlanReview.objects.exists()


def test_a_reviewer_cannot_approve_anywhere(client, plan, personas):
    with pytest.raises(DomainError) as refused:
        plan_review_submit(plan=plan, user=personas["reviewer"], decision="approve")
    assert refused.value.code == "forbidden" and "a marketer or an admin decides" in refused.value.message
    client.force_login(personas["reviewer"])
    assert client.post(reverse("plan_review_submit", args=[plan.pk]), {"decision": "approve"}).status_code == 403
    page = client.get(reverse("plan_detail", args=[plan.pk])).content.decode()
    assert 'id="plan-review-form"' not in page and "a marketer or an admin approves plans" in visible(page)
    assert_error(
        client_for(personas["reviewer"]).post(
            f"{API}/plan-reviews/", {"plan": plan.pk, "decision": "approve"}, format="json"
        ),
        403,
    )
    plan.refresh_from_db()
    assert plan.review_status == AllocationPlan.Review.DRAFT and not PlanReview.objects.exists()


@pytest.mark.parametrize("status", ["pending", "running", "failed"])
def test_only_a_succeeded_plan_can_be_reviewed(tenants, personas, status):
    plan = _plan(tenants["acme"], status=status, result={})
    with pytest.raises(DomainError) as refused:
        plan_review_submit(plan=plan, user=personas["marketer"], decision="approve")
    assert refused.value.field == "status" and "only an optimized (succeeded) plan" in refused.value.message


def test_the_plan_page_shows_the_decisions_and_approving_unlocks_the_export(client, plan, personas):
    client.force_login(personas["marketer"])
    response = client.post(reverse("plan_review_submit", args=[plan.pk]), {"decision": "reject", "comment": ""})
    assert response.status_code == 302
    page = visible(client.get(response["Location"]).content.decode())
    assert "Nothing recorded: Say why you reject: a comment is required." in page

    client.post(
        reverse("plan_review_submit", args=[plan.pk]), {"decision": "request_changes", "comment": "Cap Amazon."}
    )
    client.post(reverse("plan_review_submit", args=[plan.pk]), {"decision": "approve", "comment": "Fine now."})
    page = visible(client.get(reverse("plan_detail", args=[plan.pk])).content.decode())
    assert "Request changes by marketer" in page and "Cap Amazon." in page
    assert "Approve by marketer" in page and "Fine now." in page
    assert "All retailers CSV" in page
    assert client.get(reverse("plan_export", args=[plan.pk])).status_code == 200


def test_succeeded_versions_are_queued_once_for_reviewers_and_a_page_view_writes_nothing(
    client, plan, tenants, personas
):
    pending = _plan(tenants["acme"], status=AllocationPlan.Status.PENDING, result={})
    client.force_login(personas["reviewer"])
    client.get(reverse("plan_detail", args=[plan.pk]))
    assert not ReviewItem.objects.exists()

    from feedback.tasks import queue_finished_plans

    assert queue_finished_plans() == 1 and queue_finished_plans() == 0
    items = ReviewItem.objects.filter(kind=ReviewItem.Kind.PLAN)
    assert [(i.plan_id, i.task.name, i.tenant_id) for i in items] == [(plan.pk, "Budget plans", tenants["acme"].pk)]
    # What reviewers rate: the plan's own allocation rows and a plain explanation of its totals.
    content = items[0].content
    assert content["allocation"] == [
        {"retailer": "amazon", "placement": "sponsored_product", "spend": 30000.0,
         "expected_incremental_margin": 0.0, "attributed_roas": None},
    ]  # fmt: skip
    assert content["explanation"].startswith("Spend 30,000 USD of 40,000 USD over 28 days")
    pending.status = AllocationPlan.Status.SUCCEEDED
    pending.save(update_fields=["status"])
    plan_review_submit(plan=pending, user=personas["marketer"], decision="approve")  # a decision queues it at once
    assert ReviewItem.objects.filter(plan=pending).count() == 1 and queue_finished_plans() == 0


def test_the_api_submits_and_lists_decisions_within_the_tenant(plan, tenants, personas):
    other = _plan(tenants["acme"], name="Q3")
    api = client_for(personas["marketer"])
    assert_error(
        api.post(f"{API}/plan-reviews/", {"plan": plan.pk, "decision": "reject"}, format="json"), 400, field="comment"
    )
    created = api.post(f"{API}/plan-reviews/", {"plan": plan.pk, "decision": "approve", "comment": "ok"}, format="json")
    assert created.status_code == 201, created.content
    assert {k: created.json()[k] for k in ("plan", "version", "decision", "comment", "reviewer")} == {
        "plan": plan.pk, "version": 1, "decision": "approve", "comment": "ok", "reviewer": "marketer",
    }  # fmt: skip
    api.post(f"{API}/plan-reviews/", {"plan": other.pk, "decision": "request_changes", "comment": "no"}, format="json")
    assert api.get(f"{API}/plans/{plan.pk}/").json()["review_status"] == "approved"
    listed = api.get(f"{API}/plan-reviews/", {"plan": plan.pk}).json()["results"]
    assert [(r["plan"], r["decision"]) for r in listed] == [(plan.pk, "approve")]

    stranger = client_for(personas["stranger"])
    assert stranger.get(f"{API}/plan-reviews/").json()["results"] == []
    assert_error(stranger.get(f"{API}/plan-reviews/", {"plan": plan.pk}), 400, field="plan")
    assert_error(
        stranger.post(f"{API}/plan-reviews/", {"plan": plan.pk, "decision": "reject", "comment": "x"}, format="json"),
        400, field="plan",
    )  # fmt: skip
    assert PlanReview.objects.filter(plan=plan).count() == 1


def test_an_api_key_cannot_decide(plan, tenants, personas):
    from governance.services import api_key_create

    _, raw = api_key_create(tenant=tenants["acme"], name="Partner", created_by=personas["owner"])
    response = client_for(key=raw).post(f"{API}/plan-reviews/", {"plan": plan.pk, "decision": "approve"}, format="json")
    assert_error(response, 403, mentions=("signed by a person",))

"""Plan versions: a what-if edit re-optimizes into a new version of the same plan, the history stays; only an
approved version exports (CSV per retailer) on the page and through the API; another tenant sees none of it."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from core.errors import DomainError
from optimizer.models import AllocationPlan
from optimizer.services.plans import plan_create, plan_run, plan_version_create
from optimizer.tests.test_plans_pages import visible
from optimizer.tests.test_plans_services import seed_history
from rmn_site.tests.api_support import API, assert_error, client_for


@pytest.fixture(autouse=True)
def _fewer_posterior_samples(monkeypatch):
    monkeypatch.setattr("optimizer.services.plans.PLAN_SAMPLES", 60)


@pytest.fixture
def queued(monkeypatch):
    """Plans are optimized in this process (plan_run) instead of by a worker; the ids sent are recorded."""
    from optimizer import tasks

    sent = []
    monkeypatch.setattr(tasks.plan_run, "apply_async", lambda args, task_id: sent.append(args[0]))
    return sent


@pytest.fixture
def optimized(tenants, retailers, personas, queued):
    """A succeeded first version for Acme: 40,000 over 28 days, attributed ROAS floor 2."""
    seed_history(tenants["acme"], retailers)
    plan = plan_create(
        tenant=tenants["acme"], user=personas["marketer"], name="Spring push", budget="40000", period_days=28,
        min_roas="2", bounds={"walmart|onsite_display": ["2000", "9000"]},
    )  # fmt: skip
    return plan_run(plan.pk)


def approve(plan: AllocationPlan) -> AllocationPlan:
    plan.review_status = AllocationPlan.Review.APPROVED
    plan.save(update_fields=["review_status"])
    return plan


def rows_of(body: bytes | str) -> list[dict]:
    text = body.decode() if isinstance(body, bytes) else body
    return list(csv.DictReader(io.StringIO(text)))


def test_it_makes_a_what_if_edit_a_new_version_that_honours_the_new_budget(optimized, personas):
    first = optimized
    assert first.status == AllocationPlan.Status.SUCCEEDED, first.error
    assert first.root_id == first.pk and first.version == 1
    before = first.result

    second = plan_run(plan_version_create(plan=first, user=personas["marketer"], budget=Decimal("20000")).pk)
    third = plan_run(plan_version_create(plan=second, user=personas["marketer"], min_roas=None).pk)

    assert [(p.version, p.root_id, p.parent_id) for p in (first, second, third)] == [
        (1, first.pk, None),
        (2, first.pk, first.pk),
        (3, first.pk, second.pk),
    ]
    assert second.status == AllocationPlan.Status.SUCCEEDED, second.error
    totals = second.result["totals"]
    assert second.result["constraints"]["budget"]["limit"] == pytest.approx(20000)
    assert totals["spend"] <= 20000 * 1.001
    assert totals["spend"] + totals["unspent"] == pytest.approx(20000, rel=1e-3)
    # The rest of the request is the edited version's; the review starts over.
    assert second.min_roas == Decimal("2") and second.request["bounds"] == first.request["bounds"]
    assert second.review_status == AllocationPlan.Review.DRAFT
    assert third.min_roas is None and third.budget == Decimal("20000")
    first.refresh_from_db()
    assert first.budget == Decimal("40000") and first.result == before  # history kept as it was


def test_it_refuses_a_what_if_on_a_plan_not_yet_optimized(tenants, retailers, personas, queued):
    seed_history(tenants["acme"], retailers)
    pending = plan_create(tenant=tenants["acme"], budget="40000", period_days=28)
    with pytest.raises(DomainError) as refused:
        plan_version_create(plan=pending, budget="1000")
    assert refused.value.field == "status" and "wait until it is optimized" in refused.value.message


def test_the_plan_page_shows_the_versions_and_the_list_one_row_per_plan(client, optimized, personas):
    second = plan_run(plan_version_create(plan=optimized, user=personas["marketer"], budget="25000").pk)
    client.force_login(personas["marketer"])

    page = visible(client.get(reverse("plan_detail", args=[optimized.pk])).content.decode())
    assert "This is version 1; the current version is version 2" in page
    assert "v1 (this page)" in page and "v2 current" in page
    assert "USD 40,000.00" in page and "USD 25,000.00" in page

    listing = client.get(reverse("plan_list")).content.decode()
    assert listing.count(f'href="/plans/{second.pk}/"') >= 1
    assert f'href="/plans/{optimized.pk}/"' not in listing  # the older version is reached from the plan page
    assert 'data-version-count="2"' in listing and "1 plan" in visible(listing)


def test_a_marketer_edits_the_budget_on_the_page_and_lands_on_the_new_version(
    client, optimized, personas, queued, django_capture_on_commit_callbacks
):
    client.force_login(personas["marketer"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("plan_version_create", args=[optimized.pk]), {"budget": "30000", "min_roas": "2"}
        )
    new = AllocationPlan.objects.get(parent=optimized)
    assert response.status_code == 302 and response["Location"] == reverse("plan_detail", args=[new.pk])
    assert new.budget == Decimal("30000") and new.version == 2 and queued[-1] == new.pk

    bad = client.post(reverse("plan_version_create", args=[optimized.pk]), {"budget": "-5"})
    assert bad.status_code == 400
    assert "budget must be greater than 0" in visible(bad.content.decode())
    assert AllocationPlan.objects.filter(root=optimized).count() == 2


def test_a_reviewer_cannot_edit_a_plan(client, optimized, personas):
    client.force_login(personas["reviewer"])
    assert client.post(reverse("plan_version_create", args=[optimized.pk]), {"budget": "1"}).status_code == 403
    assert "What if" not in client.get(reverse("plan_detail", args=[optimized.pk])).content.decode()


def test_only_an_approved_plan_exports_on_the_page(client, optimized, personas):
    client.force_login(personas["marketer"])
    url = reverse("plan_export", args=[optimized.pk])
    refused = client.get(url)
    assert refused.status_code == 409 and "only an approved plan can be exported" in refused.content.decode()
    page = visible(client.get(reverse("plan_detail", args=[optimized.pk])).content.decode())
    assert "Only an approved plan can be exported" in page and "Amazon Ads CSV" not in page

    approve(optimized)
    page = visible(client.get(reverse("plan_detail", args=[optimized.pk])).content.decode())
    assert "Amazon Ads CSV" in page and "Walmart Connect CSV" in page
    response = client.get(url, {"retailer": "walmart"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f"plan-{optimized.pk}-v1-walmart.csv" in response["Content-Disposition"]
    rows = rows_of(response.content)
    expected = [a for a in optimized.result["allocations"] if a["retailer"] == "walmart"]
    assert [(r["retailer"], r["placement_type"]) for r in rows] == [("walmart", "onsite_display")]
    assert Decimal(rows[0]["spend"]) == pytest.approx(Decimal(str(expected[0]["spend"])), abs=Decimal("0.005"))
    assert Decimal(rows[0]["daily_spend"]) == pytest.approx(Decimal(rows[0]["spend"]) / 28, abs=Decimal("0.01"))


def test_the_api_lists_versions_creates_a_what_if_and_exports_only_approved(
    optimized, personas, queued, django_capture_on_commit_callbacks
):
    client = client_for(personas["marketer"])
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(f"{API}/plans/{optimized.pk}/versions/", {"budget": "15000"}, format="json")
    assert created.status_code == 202, created.content
    body = created.json()
    assert (body["version"], body["root"], body["parent"], body["review_status"]) == (
        2,
        optimized.pk,
        optimized.pk,
        "draft",
    )
    assert Decimal(body["budget"]) == 15000 and body["status"] == "pending" and queued[-1] == body["id"]
    listed = client.get(f"{API}/plans/{body['id']}/versions/").json()
    assert [(v["id"], v["version"]) for v in listed] == [(optimized.pk, 1), (body["id"], 2)]
    assert_error(
        client.post(f"{API}/plans/{optimized.pk}/versions/", {"budget": "1", "period_days": 3}, format="json"),
        400, field="period_days",
    )  # fmt: skip

    assert_error(client.get(f"{API}/plans/{optimized.pk}/export/"), 409, mentions=("only an approved plan",))
    approve(optimized)
    all_rows = rows_of(client.get(f"{API}/plans/{optimized.pk}/export/").content)
    spend = {(a["retailer"], a["placement_type"]): a["spend"] for a in optimized.result["allocations"]}
    assert {(r["retailer"], r["placement_type"]) for r in all_rows} == set(spend)
    for r in all_rows:
        assert float(r["spend"]) == pytest.approx(spend[r["retailer"], r["placement_type"]], abs=0.005)
        assert (r["plan"], r["version"], r["currency"]) == (str(optimized.pk), "1", "USD")
    amazon = rows_of(client.get(f"{API}/plans/{optimized.pk}/export/", {"retailer": "amazon"}).content)
    assert {r["retailer"] for r in amazon} == {"amazon"} and len(amazon) == 2
    assert_error(client.get(f"{API}/plans/{optimized.pk}/export/", {"retailer": "target"}), 400, field="retailer")


def test_another_tenant_sees_no_version_nor_export(client, optimized, personas):
    approve(optimized)
    api = client_for(personas["stranger"])
    assert_error(api.get(f"{API}/plans/{optimized.pk}/versions/"), 404)
    assert_error(api.post(f"{API}/plans/{optimized.pk}/versions/", {"budget": "1"}, format="json"), 404)
    assert_error(api.get(f"{API}/plans/{optimized.pk}/export/"), 404)
    client.force_login(personas["stranger"])
    assert client.get(reverse("plan_export", args=[optimized.pk])).status_code == 404
    assert client.post(reverse("plan_version_create", args=[optimized.pk]), {"budget": "1"}).status_code == 404
    assert AllocationPlan.objects.filter(root=optimized).count() == 1


def test_a_promise_the_budget_cannot_keep_leads_to_a_what_if_that_holds_the_floor_on_average(
    client, tenants, retailers, personas, queued, django_capture_on_commit_callbacks
):
    # Issue 17.1 on the page: where the whole budget cannot keep the 90% promise, the page says what to change to
    # spend it all, and the what-if form can drop the promise (the floor held on average only) or bring it back.
    seed_history(tenants["acme"], retailers)
    plan = plan_create(
        tenant=tenants["acme"], user=personas["marketer"], name="Floor of 8", budget="40000", period_days=28,
        min_roas="8",
    )  # fmt: skip
    plan = plan_run(plan.pk)
    promise = plan.result["promise"]
    assert plan.status == AllocationPlan.Status.SUCCEEDED, plan.error
    assert plan.request["chance"] == 0.9 and promise["whole_budget_keeps_promise"] is False
    client.force_login(personas["marketer"])
    html = client.get(reverse("plan_detail", args=[plan.pk])).content.decode()
    step = visible(re.search(r'<p class="muted" id="promise-next-step">(.*?)</p>', html, flags=re.S).group(1))
    full = promise["full_spend"]["expected_roas"]
    if full < 8:  # even on average the whole budget stays below the floor: only a lower floor spends it all
        assert f"lower the floor to {full:.2f} or less in a new version: What if… below" in step
    else:
        assert "untick “Hold the floor with 90% probability”" in step
    assert 'href="#what-if-form"' in html and "chance 0 in the API" not in html
    box = re.search(r'<input[^>]*name="chance"[^>]*>', html).group(0)
    assert 'type="checkbox"' in box and "checked" in box

    url = reverse("plan_version_create", args=[plan.pk])
    with django_capture_on_commit_callbacks(execute=True):
        unticked = client.post(url, {"budget": "40000", "min_roas": "8", "chance_shown": "1"})
    on_average = AllocationPlan.objects.get(parent=plan)
    assert unticked.status_code == 302 and unticked["Location"] == reverse("plan_detail", args=[on_average.pk])
    assert on_average.min_roas == Decimal("8") and on_average.request["chance"] is None
    on_average = plan_run(on_average.pk)
    assert on_average.status == AllocationPlan.Status.SUCCEEDED, on_average.error
    assert not on_average.result.get("promise")
    # The floor on the mean is the weaker constraint: the plan earns at least as much as the promise's.
    margin = on_average.result["totals"]["expected_incremental_margin"]
    assert margin >= plan.result["totals"]["expected_incremental_margin"] * (1 - 1e-6)
    page = client.get(reverse("plan_detail", args=[on_average.pk])).content.decode()
    assert "checked" not in re.search(r'<input[^>]*name="chance"[^>]*>', page).group(0)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("plan_version_create", args=[on_average.pk]),
            {"budget": "40000", "min_roas": "8", "chance_shown": "1", "chance": "on"},
        )
    assert AllocationPlan.objects.get(parent=on_average).request["chance"] == 0.9  # the promise is back
    # A post without the box (an older page, a script) keeps the edited version's promise.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"budget": "30000", "min_roas": "8"})
    kept = AllocationPlan.objects.filter(parent=plan).exclude(pk=on_average.pk).get()
    assert kept.budget == Decimal("30000") and kept.request["chance"] == 0.9

    # Where the whole budget holds the floor on average but not surely, the page says to untick the box instead.
    result = plan.result
    result["promise"]["full_spend"].update(expected_roas=8.4, probability=0.55)
    AllocationPlan.objects.filter(pk=plan.pk).update(result=result)
    html = client.get(reverse("plan_detail", args=[plan.pk])).content.decode()
    step = visible(re.search(r'<p class="muted" id="promise-next-step">(.*?)</p>', html, flags=re.S).group(1))
    assert step == (
        "To spend the whole budget, untick “Hold the floor with 90% probability” (the floor then holds on average "
        "only: 55% of the time) or lower the floor in a new version: What if… below."
    )


def test_the_api_what_if_sets_or_keeps_the_promise(optimized, personas, queued, django_capture_on_commit_callbacks):
    assert optimized.request["chance"] == 0.9
    client = client_for(personas["marketer"])
    url = f"{API}/plans/{optimized.pk}/versions/"
    with django_capture_on_commit_callbacks(execute=True):
        kept = client.post(url, {"budget": "15000"}, format="json").json()
        on_mean = client.post(url, {"chance": 0}, format="json").json()
        surer = client.post(url, {"chance": 0.95}, format="json").json()
        no_floor = client.post(url, {"min_roas": None, "chance": 0.95}, format="json").json()
    chances = {p.pk: p.request["chance"] for p in AllocationPlan.objects.filter(parent=optimized)}
    assert chances == {kept["id"]: 0.9, on_mean["id"]: None, surer["id"]: 0.95, no_floor["id"]: None}
    assert_error(client.post(url, {"chance": 1.5}, format="json"), 400, field="chance")

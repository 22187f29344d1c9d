"""In a browser: a marketer edits a plan's budget, sees the new version optimized beside the first, approves it and
gets the export; screenshots at 1366 and 390 px for each step (var/screenshots/<test name>/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from optimizer.models import AllocationPlan
from optimizer.services.plans import plan_create, plan_run
from optimizer.tests.test_plans_services import seed_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fewer_posterior_samples(monkeypatch):
    monkeypatch.setattr("optimizer.services.plans.PLAN_SAMPLES", 60)


@pytest.fixture
def sent(monkeypatch):
    """No broker in this test: the ids the pages send to the optimizer are kept, and the test runs them as the
    worker would (plan_run), while the page polls."""
    from optimizer import tasks

    ids = []
    monkeypatch.setattr(tasks.plan_run, "apply_async", lambda args, task_id: ids.append(args[0]))
    return ids


def test_a_marketer_edits_the_budget_sees_the_new_version_and_approves_it(
    page, live_site, tenants, retailers, personas, sent
):
    seed_history(tenants["acme"], retailers)
    first = plan_run(plan_create(tenant=tenants["acme"], name="Spring push", budget="40000", period_days=28).pk)
    assert first.status == AllocationPlan.Status.SUCCEEDED, first.error

    live_site.login(page, personas["marketer"])
    page.goto(f"{live_site.url}/plans/{first.pk}/")
    expect(page.locator("#allocations")).to_be_visible()
    expect(page.locator("#export-hint")).to_contain_text("Only an approved plan can be exported")
    live_site.shot(page, "first-version")

    page.fill("#what-if-form input[name=budget]", "25000")
    live_site.shot(page, "budget-edited")
    page.get_by_role("button", name="Optimize a new version").click()
    expect(page.locator("#plan-version")).to_have_text("v2")
    second = AllocationPlan.objects.get(parent=first)
    assert sent[-1] == second.pk  # (the first id is the first version's, run above)
    live_site.shot(page, "new-version-queued")

    plan_run(second.pk)  # the worker's part; the page's poll shows the result
    expect(page.locator('#plan-totals [data-metric="spend"]')).to_contain_text("25,000", timeout=10_000)
    versions = page.locator("#plan-versions tbody tr")
    expect(versions).to_have_count(2)
    expect(versions.nth(0)).to_contain_text("USD 40,000.00")
    expect(versions.nth(1)).to_contain_text("v2 (this page) current")
    expect(versions.nth(1)).to_contain_text("USD 25,000.00")
    live_site.shot(page, "new-version-optimized")

    page.locator("#plan-review-form input[value=approve]").check()
    page.fill("#plan-review-form textarea[name=comment]", "Good split at the lower budget.")
    page.get_by_role("button", name="Record the decision").click()
    expect(page.locator("#plan-review")).to_contain_text("Approve by marketer")
    expect(page.locator("#plan-review")).to_contain_text("Good split at the lower budget.")
    expect(page.locator('#plan-review [data-review-status="approved"]')).to_have_text("Approved")
    expect(page.get_by_role("link", name="Walmart Connect CSV")).to_be_visible()
    overflow = live_site.shot(page, "approved")
    assert overflow["phone"] == 0, overflow

    with page.expect_download() as download:
        page.get_by_role("link", name="Walmart Connect CSV").click()
    csv_text = Path(download.value.path()).read_text()
    assert re.match(r"plan,version,retailer,placement_type,currency,period_days,spend,daily_spend\n", csv_text)
    assert f"{first.pk},2,walmart,onsite_display,USD,28," in csv_text
    second.refresh_from_db()
    first.refresh_from_db()
    assert (second.review_status, first.review_status) == ("approved", "draft")

"""In a browser: the "queued; this page follows ..." banner of a plan and of a data import shows while the work is
waiting or running and is gone once it is done, without reloading the page (the page's own polling swaps it out).
Screenshots at 1366 and 390 px (var/screenshots/<test name>/)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from harmonization.models import FXRate, IngestBatch, Mapping
from harmonization.services import ingest_batch_run
from harmonization.tests import files
from optimizer.models import AllocationPlan
from optimizer.services.plans import plan_run
from optimizer.tests.test_plans_services import seed_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BANNER = "this page follows"


@pytest.fixture(autouse=True)
def _fewer_posterior_samples(monkeypatch):
    monkeypatch.setattr("optimizer.services.plans.PLAN_SAMPLES", 60)


@pytest.fixture
def held(monkeypatch):
    """No broker: the ids the pages send to the workers are kept, and the test does the worker's part itself while
    the page polls."""
    from harmonization import tasks as import_tasks
    from optimizer import tasks as plan_tasks

    ids = {"plans": [], "imports": []}
    monkeypatch.setattr(plan_tasks.plan_run, "apply_async", lambda args, task_id: ids["plans"].append(args[0]))
    monkeypatch.setattr(import_tasks.ingest_batch, "apply_async", lambda args, task_id: ids["imports"].append(args[0]))
    return ids


def test_the_plan_banner_goes_once_the_plan_is_optimized(page, live_site, tenants, retailers, personas, held):
    seed_history(tenants["acme"], retailers)
    live_site.login(page, personas["marketer"])
    page.goto(f"{live_site.url}/plans/")
    page.fill("#plan-form input[name=name]", "Spring push")
    page.fill("#plan-form input[name=budget]", "40000")
    page.fill("#plan-form input[name=period_days]", "28")
    page.fill("#plan-form input[name=min_roas]", "2")
    page.get_by_role("button", name="Optimize").click()
    expect(page.locator("#plan-progress")).to_contain_text("The plan is queued; this page follows the optimizer.")
    live_site.shot(page, "plan-queued")

    plan = AllocationPlan.objects.get()
    assert held["plans"] == [plan.pk]
    plan_run(plan.pk)  # the worker's part; the page's poll shows the result
    expect(page.locator("#plan-status [data-status]").first).to_have_attribute("data-status", "ready", timeout=10_000)
    expect(page.get_by_text(BANNER)).to_have_count(0)
    expect(page.locator("[data-progress]")).to_have_count(0)
    expect(page.locator("#plan-status")).not_to_have_attribute("hx-trigger", "every 1s")
    overflow = live_site.shot(page, "plan-done")
    assert overflow["desktop"] == 0, overflow
    # A later visit of the finished plan shows no banner either (nothing waits in the session's messages).
    page.reload()
    expect(page.get_by_text(BANNER)).to_have_count(0)


def test_the_import_banner_goes_once_the_import_is_loaded(
    page, live_site, tenants, retailers, personas, catalog, held, tmp_path
):
    Mapping.objects.create(
        name="tiny_amazon",
        tenant=tenants["acme"],
        retailer=retailers["amazon"],
        yaml_text=files.MAPPING.replace("{max_quarantine_rate}", "0.5"),
    )
    FXRate.objects.create(date=dt.date(2026, 4, 1), currency="EUR", quote_currency="USD", rate=Decimal(files.EUR_RATE))
    export = tmp_path / "export.csv"
    export.write_text(files.CSV)
    live_site.login(page, personas["marketer"])
    page.goto(f"{live_site.url}/imports/")
    page.select_option("select[name=mapping]", "tiny_amazon")
    page.set_input_files("input[name=file]", str(export))
    page.locator("form[enctype='multipart/form-data'] button[type=submit]").click()
    expect(page.locator("#import-progress")).to_contain_text("export.csv is queued; this page follows its progress.")
    live_site.shot(page, "import-queued")

    batch = IngestBatch.objects.exclude(source="conftest").get()
    assert held["imports"] == [batch.pk]
    ingest_batch_run(batch_id=batch.pk)  # the worker's part
    expect(page.locator('#batch-status [data-status="succeeded"]')).to_be_visible(timeout=10_000)
    expect(page.get_by_text(BANNER)).to_have_count(0)
    expect(page.locator("[data-progress]")).to_have_count(0)
    live_site.shot(page, "import-done")
    page.reload()
    expect(page.get_by_text(BANNER)).to_have_count(0)

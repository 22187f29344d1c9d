"""In a browser: the pages added with the uplift workflow, the SKU forecast, the promise a budget cannot keep, and the
one question the plan reader asks; screenshots at 1366 and 390 px for each step (var/screenshots/<test name>/).

No broker here: the ids the pages queue are kept, and the test does the worker's part (the fit, the plan run, the
adapter's stored answer) while the page polls, as in test_plan_versions_browser.py."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from campaigns.models import SKU
from ml.models import Adapter, AdapterKind, GenerationRequest
from optimizer.engine.forecast import stockout_risk
from optimizer.models import AllocationPlan, UpliftStudy
from optimizer.selectors import tenant_frames
from optimizer.services.plans import plan_run
from optimizer.services.uplift import uplift_study_fit
from optimizer.tests.test_plans_services import seed_history
from optimizer.tests.test_sku_forecast import TRUE_ELASTICITY, elastic_sku  # noqa: F401 (a fixture)
from optimizer.tests.test_uplift_workflow import TRUE_EFFECT, csv_bytes, exposure_test

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fewer_posterior_samples(monkeypatch):
    monkeypatch.setattr("optimizer.services.plans.PLAN_SAMPLES", 60)


@pytest.fixture
def queued(monkeypatch):
    """What the pages send to the workers, by task: kept, not sent."""
    from ml import tasks as ml_tasks
    from optimizer import tasks

    ids: dict[str, list[int]] = {"uplift": [], "plan": [], "generation": []}
    monkeypatch.setattr(tasks.uplift_fit, "apply_async", lambda args, task_id: ids["uplift"].append(args[0]))
    monkeypatch.setattr(tasks.plan_run, "apply_async", lambda args, task_id: ids["plan"].append(args[0]))
    monkeypatch.setattr(ml_tasks.generate_request, "delay", lambda pk: ids["generation"].append(pk))
    return ids


def _fits_a_phone(overflow: dict) -> None:
    assert overflow["phone"] == 0, f"the page scrolls sideways at 390 px: {overflow}"


def _seen_whole_on_a_phone(page, *locators) -> None:
    """Each element lies inside a 390 px window: not cut off, nor hidden to the right in a table that scrolls."""
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        for locator in locators:
            box = locator.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (locator, box)
    finally:
        page.set_viewport_size({"width": 1366, "height": 900})


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("−", "-"))


def test_a_marketer_uploads_an_exposure_test_and_reads_who_to_target(page, live_site, personas, queued, tmp_path):
    path = tmp_path / "U.csv"
    path.write_bytes(csv_bytes(exposure_test(3000, seed=3)))
    live_site.login(page, personas["marketer"])
    page.goto(f"{live_site.url}/uplift/")
    expect(page.locator("#uplift-form")).to_contain_text("New uplift study")
    expect(page.get_by_text("No uplift studies yet")).to_be_visible()
    _fits_a_phone(live_site.shot(page, "empty-list"))

    page.set_input_files("#uplift-form input[name=file]", str(path))
    page.fill("#uplift-form input[name=name]", "Spring holdout")
    page.get_by_label("Exposure was assigned at random (a holdout test)").check()
    for learner in ("X-learner", "DR-learner"):  # the T-learner alone keeps the fit short
        page.get_by_label(learner).uncheck()
    live_site.shot(page, "form-filled")
    page.get_by_role("button", name="Upload and fit").click()

    study = UpliftStudy.objects.get()
    expect(page).to_have_url(re.compile(rf"/uplift/{study.pk}/$"))
    expect(page.locator("#uplift-status")).to_contain_text("Waiting for a worker")
    expect(page.locator("body")).to_contain_text("3,000 units")
    assert queued["uplift"] == [study.pk] and study.options["learners"] == ["t"]
    _fits_a_phone(live_site.shot(page, "waiting"))

    uplift_study_fit(study.pk)  # the worker's part; the page's poll shows the answer
    best = page.locator("#uplift-best li")
    expect(best.first).to_contain_text("audience = loyal", timeout=15_000)
    expect(page.locator("#uplift-best")).not_to_contain_text("audience = new")
    expect(page.locator("#uplift-weakest")).to_contain_text("audience = new")
    # The effect a marketer reads for the loyal shoppers is near the truth (4 per unit), its range holds it.
    shown = re.search(r"\+([\d.]+) per unit \(90% range (-?[\d.]+) to (-?[\d.]+)\)", best.first.inner_text())
    effect, low, high = (float(x) for x in shown.groups())
    assert low <= TRUE_EFFECT["loyal"] <= high and abs(effect - TRUE_EFFECT["loyal"]) < 1.5
    loyal_row = page.locator("#uplift-segments tbody tr", has_text="audience = loyal")
    expect(loyal_row).to_have_attribute("data-verdict", "target")
    expect(loyal_row).to_contain_text("Show ads")
    expect(page.locator('#uplift-metrics tr[data-learner="baseline"]')).to_contain_text("Same effect for everybody")
    expect(page.locator("svg.chart-svg polyline")).to_have_count(2)
    page.set_viewport_size({"width": 390, "height": 844})
    axis = page.locator("#uplift-curve text.axis").first.bounding_box()
    assert axis["height"] >= 9, axis  # the scaled-down chart's labels stay readable on a phone
    page.set_viewport_size({"width": 1366, "height": 900})
    _fits_a_phone(live_site.shot(page, "answer"))

    page.get_by_role("link", name="Uplift").first.click()
    row = page.locator("table.data tbody tr", has_text="Spring holdout")
    expect(row).to_contain_text("Fitted")
    expect(row).to_contain_text("3,000")
    _fits_a_phone(live_site.shot(page, "list-with-study"))


def test_a_marketer_reads_stockout_risk_and_price_sensitivity_per_sku(
    page,
    live_site,
    tenants,
    personas,
    catalog,
    elastic_sku,  # noqa: F811
):
    SKU.objects.filter(sku_code="acme-sku-0").update(stock_units=5)
    history, skus, _ = tenant_frames(tenants["acme"])
    stock = {"acme-sku-0": 5.0, "acme-sku-1": 100.0, "acme-elastic": 100.0}
    truth = {r["sku_id"]: r for r in stockout_risk(history, skus, stock, horizon_days=14, seed=0).to_dict("records")}

    live_site.login(page, personas["marketer"])
    page.goto(f"{live_site.url}/sku-forecast/")
    expect(page.locator("#sku-forecast")).to_be_visible()
    _fits_a_phone(live_site.shot(page, "default-horizon"))

    page.fill("#horizon", "500")
    page.get_by_role("button", name="Show").click()  # the browser refuses it (max): no request, no new page
    assert page.locator("#horizon").evaluate("e => e.validity.rangeOverflow")
    expect(page).to_have_url(f"{live_site.url}/sku-forecast/")
    page.goto(f"{live_site.url}/sku-forecast/?horizon_days=500")  # a link typed or kept: the server says why
    expect(page.locator(".field-error")).to_contain_text("The horizon must be a whole number of days from")
    expect(page.locator("#sku-forecast thead")).to_contain_text("Units in 28 days")
    live_site.shot(page, "bad-horizon")

    page.fill("#horizon", "14")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#sku-forecast thead")).to_contain_text("Units in 14 days")
    expect(page.locator(".field-error")).to_have_count(0)
    for code in ("acme-sku-0", "acme-sku-1"):
        risk = page.locator(f'#sku-forecast tr[data-sku="{code}"] [data-metric="p_stockout"]')
        expect(risk).to_have_text(f"{round(100 * truth[code]['p_stockout'])}%")
    assert truth["acme-sku-0"]["p_stockout"] > 0.9  # 5 units on hand against a few a day
    low_stock = page.locator('#sku-forecast tr[data-sku="acme-sku-0"]')
    expect(low_stock).to_contain_text("needs 30")  # too little history for an elasticity: the page says why
    elasticity = page.locator('#sku-forecast tr[data-sku="acme-elastic"] [data-metric="elasticity"]').inner_text()
    estimate, low, high = (_number(x) for x in re.findall(r"−?-?[\d.]+", elasticity)[:3])
    assert low <= TRUE_ELASTICITY <= high and abs(estimate - TRUE_ELASTICITY) < 0.4, elasticity
    _fits_a_phone(live_site.shot(page, "fourteen-days"))


def test_a_floor_the_whole_budget_cannot_promise_shows_both_plans(
    page, live_site, tenants, retailers, personas, queued
):
    seed_history(tenants["acme"], retailers)
    live_site.login(page, personas["marketer"])
    page.goto(f"{live_site.url}/plans/")
    page.fill("input[name=name]", "Floor of 8")
    page.fill("input[name=budget]", "40000")
    page.fill("input[name=period_days]", "28")
    page.fill("input[name=min_roas]", "8")
    page.locator("#floor-advanced summary").click()  # the floor's finer settings are folded under Advanced
    page.select_option("select[name=roas_basis]", "attributed")
    expect(page.get_by_label("Hold the floor with 90% probability")).to_be_checked()
    live_site.shot(page, "request")
    page.get_by_role("button", name="Optimize", exact=True).click()

    plan = AllocationPlan.objects.get()
    expect(page).to_have_url(re.compile(rf"/plans/{plan.pk}/$"))
    assert queued["plan"] == [plan.pk] and plan.min_roas == Decimal("8")
    plan = plan_run(plan.pk)  # the worker's part
    assert plan.status == AllocationPlan.Status.SUCCEEDED, plan.error
    promise = plan.result["promise"]
    assert promise["whole_budget_keeps_promise"] is False

    table = page.locator("#plan-promise")
    expect(table).to_be_visible(timeout=15_000)
    expect(table.locator("caption")).to_contain_text("The whole budget cannot hold the floor with 90% probability")
    kept = round(100 * promise["largest_promised_spend"]["probability"])
    full = round(100 * promise["full_spend"]["probability"])
    expect(table.locator('[data-metric="promise_probability"]')).to_have_text(f"{kept}%")
    expect(table.locator('[data-metric="full_spend_probability"]')).to_have_text(f"{full}%")
    assert kept >= 90 > full
    spend_row = table.locator("tbody tr", has_text="Spend").first
    expect(spend_row).to_contain_text(f"{promise['full_spend']['spend']:,.2f}")
    expect(spend_row).to_contain_text(f"{promise['largest_promised_spend']['spend']:,.2f}")
    expect(page.locator("body")).to_contain_text("cannot hold min_roas 8 (attributed) with probability 90%")
    # What to change to spend it all, and where: the what-if form, whose promise box starts ticked.
    step = page.locator("#promise-next-step")
    expect(step).to_contain_text("in a new version: What if… below.")
    step.get_by_role("link", name="What if…").click()
    expect(page).to_have_url(re.compile(r"#what-if-form$"))
    expect(page.locator("#what-if-form").get_by_label("Hold the floor with 90% probability")).to_be_checked()
    page.locator("#plan-promise").scroll_into_view_if_needed()
    probabilities = ('[data-metric="promise_probability"]', '[data-metric="full_spend_probability"]')
    _seen_whole_on_a_phone(page, table.locator("caption"), *(table.locator(p) for p in probabilities))
    _fits_a_phone(live_site.shot(page, "both-plans"))


def test_the_plan_reader_fills_the_form_before_any_adapter_exists(page, live_site, personas, catalog):
    # A fresh demo: no task_budgeting adapter has been trained or promoted yet (issue 18.7).
    assert not Adapter.objects.filter(name="task_budgeting").exists()
    live_site.login(page, personas["marketer"])
    page.goto(f"{live_site.url}/plans/")
    page.fill("#plan-read-text", "Spend $1.2M over the next 6 weeks to grow incremental sales, ROAS of at least 2.5")
    page.get_by_role("button", name="Fill the form").click()
    expect(page.locator("#plan-read")).to_contain_text("Filled the form below from your text with the plan reader.")
    expect(page.locator("#plan-form input[name=budget]")).to_have_value("1,200,000")
    expect(page.locator("#plan-form input[name=period_days]")).to_have_value("42")
    expect(page.locator("#plan-form input[name=min_roas]")).to_have_value("2.5")
    expect(page.locator("#plan-form select[name=objective]")).to_have_value("incremental_revenue")
    live_site.shot(page, "reader-alone-filled")


def test_the_plan_reader_asks_where_the_adapter_disagrees(
    page, live_site, tenants, personas, catalog, queued, settings
):
    # The adapter is only named: its answer is stored below as the inference worker would (test_plan_read_questions).
    Adapter.objects.create(
        name="task_budgeting", kind=AdapterKind.TASK, tenant=None, base_model=settings.BASE_MODEL, version=1,
        path="adapters/task_budgeting", status=Adapter.Status.ACTIVE,
    )  # fmt: skip
    live_site.login(page, personas["marketer"])
    page.goto(f"{live_site.url}/plans/")
    text = "Allocate $2.5M over four weeks to maximize incremental margin with a 3:1 ROAS"
    page.fill("#plan-read-text", text)
    page.get_by_role("button", name="Fill the form").click()
    expect(page.locator("#plan-read")).to_contain_text("The budgeting model is reading it")
    (pk,) = queued["generation"]
    live_site.shot(page, "reading")

    # What the inference worker stores when the adapter answers: four weeks read as 4 days, 3:1 as 3.1.
    parsed = {
        "budget": 2500000.0, "period_days": 4, "objective": "incremental_margin", "min_roas": 3.1,
        "roas_basis": "attributed", "retailer_caps": {}, "exclude_retailers": [],
    }  # fmt: skip
    GenerationRequest.objects.filter(pk=pk).update(status="succeeded", parsed=parsed, output="{...}")
    question = page.locator("#plan-read .plan-question")
    expect(question.locator("legend")).to_contain_text("Over how many days should the budget be spent?", timeout=10_000)
    expect(question.get_by_label("28 days (4 weeks)")).to_be_visible()
    expect(question.get_by_label("4 days", exact=True)).to_be_visible()
    expect(page.locator("input[name=period_days]")).not_to_have_value("4")  # nothing filled from the wrong reading
    _seen_whole_on_a_phone(page, question.locator("legend"), page.locator("#plan-read-text"))
    page.set_viewport_size({"width": 390, "height": 844})
    box = page.locator("#plan-read-text")  # the text the question is about stays readable: no line hidden
    assert box.bounding_box()["width"] > 280 and box.evaluate("e => e.scrollHeight <= e.clientHeight")
    page.set_viewport_size({"width": 1366, "height": 900})
    _fits_a_phone(live_site.shot(page, "question-period"))

    question.get_by_role("button", name="Answer").click()  # nothing chosen: asked again, nothing filled
    expect(question.locator("[role=alert]")).to_have_text("Choose or type an answer first.")
    live_site.shot(page, "question-unanswered")
    question.get_by_label("28 days (4 weeks)").check()
    question.get_by_role("button", name="Answer").click()
    expect(question.locator("legend")).to_contain_text("What ROAS must the plan hold at least?")
    _fits_a_phone(live_site.shot(page, "question-floor"))

    page.fill("#plan-question-answer", "3")
    question.get_by_role("button", name="Answer").click()
    expect(page.locator("#plan-read")).to_contain_text(
        "with the plan reader, cross-checked by the budgeting model v1 and your answers"
    )
    expect(page.locator("#plan-form input[name=budget]")).to_have_value("2,500,000")
    expect(page.locator("#plan-form input[name=period_days]")).to_have_value("28")
    expect(page.locator("#plan-form input[name=min_roas]")).to_have_value("3")
    expect(page.locator("#plan-form select[name=objective]")).to_have_value("incremental_margin")
    _fits_a_phone(live_site.shot(page, "form-filled"))

"""Every page, for every persona, at 1366 px and at 390 px (a phone), in one browser: no page scrolls sideways,
chart labels stay readable on a phone, no script fails, an error answer to an htmx request always leaves a message
a person sees, and a page whose work is finished shows no progress banner and polls nothing. Screenshots under
var/screenshots/<test name>/ (each page once, for the first persona that opens it).

To add a page: put its URL in the persona lists of the ``site`` fixture (with a seeded object behind it).

The seed is small but complete: one finished object behind every detail page (a plan the optimizer ran, a fitted
uplift study, a finished training job, an answered generation, a creative brief with copy, a review task with a
conflict, an experiment and a bandit policy), so the list of URLs per persona below covers the whole site."""

from __future__ import annotations

import datetime as dt
import re
import time
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from governance.models import Membership, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Words that only a page still following work may show; on a finished seed none may remain.
PROGRESS_WORDS = re.compile(
    r"this page follows|Waiting for a worker|refreshes every|is queued|Waiting for a gpu worker", re.IGNORECASE
)


@pytest.fixture(autouse=True)
def _fewer_posterior_samples(monkeypatch):
    monkeypatch.setattr("optimizer.services.plans.PLAN_SAMPLES", 60)


def _finished(obj, timeout: float = 240.0):
    """``obj`` once its status is final (queued or running: another process has it; poll the database)."""
    deadline = time.monotonic() + timeout
    while obj.status in ("pending", "queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        obj.refresh_from_db()
    return obj


@pytest.fixture
def site(tenants, retailers, personas, django_user_model, settings, tmp_path):
    """A finished object behind every detail page of Acme, and the URLs each persona can open."""
    from campaigns.models import Campaign
    from feedback.models import Creative, CreativeBrief, Feedback, Guideline, ReviewItem, ReviewTask
    from feedback.tests.review_support import ALL_FOUR, make_items
    from harmonization.models import IngestBatch
    from ml.models import Adapter, AdapterKind, GenerationRequest, TrainingJob
    from optimizer.models import AllocationPlan, LiftStudy, UpliftStudy
    from optimizer.services.bandits import policy_create
    from optimizer.services.experiments import experiment_design
    from optimizer.services.plans import plan_create, plan_run
    from optimizer.services.uplift import uplift_study_create, uplift_study_fit
    from optimizer.tests.test_plans_services import seed_history
    from optimizer.tests.test_uplift_workflow import csv_bytes, exposure_test

    acme = tenants["acme"]
    seed_history(acme, retailers)
    marketer = personas["marketer"]
    # Where the suite runs a real Celery worker (CI), the worker may claim the plan queued on commit before plan_run
    # does: wait for whichever runs it.
    plan = _finished(plan_run(plan_create(tenant=acme, user=marketer, name="Spring", budget=Decimal("40000"),
                                          period_days=28).pk))  # fmt: skip
    assert plan.status == AllocationPlan.Status.SUCCEEDED, plan.error

    experiment = experiment_design(
        tenant=acme, kind="switchback", retailer="walmart", placement_type="onsite_display",
        start_date=dt.date(2026, 4, 10), end_date=dt.date(2026, 4, 16),
        params={"block_days": 1, "washout_days": 0, "seed": 1, "name": "Walmart display switchback"},
    )  # fmt: skip
    policy = policy_create(
        tenant=acme, name="April reallocation", plan=plan, budget=Decimal("7000"),
        start_date=dt.date(2026, 4, 5), end_date=dt.date(2026, 4, 18),
    )  # fmt: skip
    LiftStudy.objects.create(
        tenant=acme, retailer=retailers["walmart"], placement_type="onsite_display",
        start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31), spend=Decimal("5000"),
        incremental_sales=Decimal("1000"), incremental_sales_se=Decimal("100"), currency="USD",
        method=LiftStudy.Method.GEO_MATCHED_MARKETS, source=LiftStudy.Source.IN_HOUSE, notes="Q1 holdout",
    )  # fmt: skip
    study = uplift_study_create(
        tenant=acme, upload=csv_bytes(exposure_test(1200, seed=3)), file_name="U.csv", name="Spring holdout",
        learners=["t"], randomized=True,
    )  # fmt: skip
    assert _finished(uplift_study_fit(study.pk)).status == UpliftStudy.Status.SUCCEEDED
    batch = IngestBatch.objects.filter(tenant=acme).first()

    settings.MODEL_STORAGE_DIR = str(tmp_path)
    Adapter.objects.create(
        name="task_budgeting", kind=AdapterKind.TASK, tenant=None, base_model=settings.BASE_MODEL, version=1,
        path="adapters/task_budgeting", status=Adapter.Status.ACTIVE,
    )  # fmt: skip
    history = [{"step": s, "loss": 2.0 / s} for s in range(1, 11)]
    job = TrainingJob.objects.create(
        tenant=acme, adapter_name="brand_acme", adapter_kind=AdapterKind.BRAND, method=TrainingJob.Method.SFT,
        base_model=settings.BASE_MODEL, dataset_path="datasets/acme.jsonl", status=TrainingJob.Status.SUCCEEDED,
        progress={"step": 10, "total_steps": 10, "loss": 0.2, "history": history},
    )  # fmt: skip
    # A runaway answer: one long word and many lines, as a model that does not stop writes.
    runaway = '{"budget": ' + "9" * 400 + "}\n" + "more text\n" * 200
    generation = GenerationRequest.objects.create(
        tenant=acme, task="budgeting", adapters=["task_budgeting"], prompt={"text": "Allocate $2.5M over 4 weeks"},
        status=GenerationRequest.Status.SUCCEEDED, output=runaway, seconds=0.4,
    )  # fmt: skip

    brief = CreativeBrief.objects.create(
        tenant=acme, retailer=retailers["walmart"], brand=plan_brand(acme), goal="Trial of the new granola",
        tone="upbeat", status=CreativeBrief.Status.SUCCEEDED, progress={"done": 1, "total": 1},
    )  # fmt: skip
    Creative.objects.create(
        tenant=acme, brief=brief, retailer=retailers["walmart"], variant=1, headline="Crunch o'clock",
        body="Oats baked today, in every bowl.", cta="Shop now",
    )  # fmt: skip

    task = ReviewTask.objects.create(tenant=acme, name="Ad copy", kind=ReviewTask.Kind.CREATIVE, overlap=2)
    guideline = Guideline.objects.create(task=task, version=1, text="Rate what a shopper would think.")
    items = make_items(task, 3)
    second = django_user_model.objects.create_user(username="reviewer2", password="pw-for-tests-123")
    Membership.objects.create(user=second, tenant=acme, role=Role.REVIEWER)
    for reviewer, thumb in ((personas["reviewer"], "up"), (second, "down")):
        Feedback.objects.create(
            tenant=acme, item=items[0], reviewer=reviewer, thumb=thumb, ratings=ALL_FOUR, guideline=guideline
        )
    ReviewItem.objects.filter(pk=items[0].pk).update(status=ReviewItem.Status.CONFLICT)

    from governance.services import api_key_create

    api_key_create(tenant=acme, name="Nightly export to the data warehouse of the brand team", created_by=marketer)
    admin = django_user_model.objects.create_superuser(username="root", password="pw-for-tests-123")
    Membership.objects.create(user=admin, tenant=acme, role=Role.ADMIN)

    campaign = Campaign.objects.filter(tenant=acme).first()
    everyone = [
        "/", "/campaigns/", f"/campaigns/{campaign.pk}/", "/plans/", f"/plans/{plan.pk}/",
        "/lift-studies/", "/experiments/", f"/experiments/{experiment.pk}/", f"/experiments/bandits/{policy.pk}/",
        "/uplift/", f"/uplift/{study.pk}/", "/sku-forecast/", "/imports/", f"/imports/{batch.pk}/",
        "/creatives/", f"/creatives/briefs/{brief.pk}/", "/models/", "/models/jobs/", f"/models/jobs/{job.pk}/",
        "/models/try/", f"/models/try/{generation.pk}/", "/api/v1/docs/",
    ]  # fmt: skip
    editors = ["/lift-studies/new/"]
    review = ["/review/", f"/review/{task.pk}/"]
    adjudicate = ["/review/conflicts/", "/review/loop/", f"/review/{task.pk}/quality/"]
    return {
        "users": {
            "marketer": (marketer, everyone + editors),
            "reviewer": (personas["reviewer"], everyone + review),
            "tenant-admin": (personas["owner"], everyone + editors + review + adjudicate + ["/settings/api-keys/"]),
            "superuser": (admin, everyone + editors + review + adjudicate + ["/settings/api-keys/", "/admin/"]),
        },
        "plan": plan,
    }


def plan_brand(tenant):
    from campaigns.models import Brand

    return Brand.objects.filter(tenant=tenant).first()


WIDEST = """() => {
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    let clipped = false;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible" && getComputedStyle(el).position !== "absolute") clipped = true;
    }
    if (!clipped && box.right > window.innerWidth + 1) {
      const name = `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${[...el.classList].join(".")}`;
      out.push(`${name} right=${Math.round(box.right)}`);
    }
  }
  return out.slice(0, 4);
}"""


def _too_wide(page, width: int) -> list[str]:
    """The innermost elements that stick out of a window ``width`` px wide (what to fix when a page overflows)."""
    page.set_viewport_size({"width": width, "height": 844})
    try:
        return page.evaluate(WIDEST)
    finally:
        page.set_viewport_size({"width": 1366, "height": 900})


def _overflow(page, live_site) -> dict:
    """Sideways overflow at both widths, as ``live_site.shot`` measures it, without the screenshots."""
    overflow = {}
    for label, width in (("desktop", 1366), ("phone", 390)):
        page.set_viewport_size({"width": width, "height": 844})
        overflow[label] = live_site.overflow(page)
    page.set_viewport_size({"width": 1366, "height": 900})
    return overflow


def _smallest_chart_text(page) -> float | None:
    """The height of the smallest chart label at 390 px, as drawn (None: no chart on the page)."""
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        heights = page.locator("svg.chart-svg text").evaluate_all(
            "ts => ts.filter(t => t.getBBox().width > 0).map(t => t.getBoundingClientRect().height)"
        )
    finally:
        page.set_viewport_size({"width": 1366, "height": 900})
    return min(heights) if heights else None


def _finished_page_problems(page) -> list[str]:
    problems = []
    if page.locator('[hx-trigger*="every"]').count():
        problems.append("polls although nothing is running")
    shown = page.locator("main").inner_text()
    match = PROGRESS_WORDS.search(shown)
    if match:
        problems.append(f"shows a progress banner ({match.group(0)!r})")
    return problems


def test_every_page_fits_both_widths_for_every_persona_and_shows_no_stale_progress(page, live_site, site):
    problems, shot = [], set()
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(f"{page.url}: {error}"))
    for persona, (user, urls) in site["users"].items():
        page.context.clear_cookies()
        live_site.login(page, user)
        for url in urls:
            response = page.goto(f"{live_site.url}{url}")
            if response.status != 200:
                problems.append(f"{persona} {url}: HTTP {response.status}")
                continue
            page.wait_for_load_state("load")
            if url == "/api/v1/docs/":
                page.locator(".opblock").first.wait_for(timeout=30_000)  # Swagger UI draws after loading the schema
            # Each page is screenshotted once, for the first persona that opens it (the rest are only measured:
            # full-page screenshots are most of this test's time).
            name = f"{persona}{url.rstrip('/').replace('/', '-') or '-dashboard'}"
            overflow = _overflow(page, live_site) if url in shot else live_site.shot(page, name)
            shot.add(url)
            for width, pixels in overflow.items():
                if pixels > 0:
                    culprits = _too_wide(page, 390 if width == "phone" else 1366)
                    problems.append(f"{persona} {url}: {pixels} px sideways at {width} width: {culprits}")
            small = _smallest_chart_text(page)
            if small is not None and small < 9:
                problems.append(f"{persona} {url}: chart labels {small:.1f} px high on a phone")
            if url not in ("/admin/", "/api/v1/docs/"):  # not our pages: no progress banners to look for
                problems.extend(f"{persona} {url}: {p}" for p in _finished_page_problems(page))
    problems.extend(f"script error on {e}" for e in script_errors)
    assert not problems, "\n".join(problems)


def _visible_alert(page, within: str = "body"):
    return page.locator(f"{within} [role=alert]:visible")


def test_an_empty_objective_says_why_instead_of_nothing(page, live_site, site):
    live_site.login(page, site["users"]["marketer"][0])
    page.goto(f"{live_site.url}/plans/")
    page.fill("#plan-read-text", "")
    page.get_by_role("button", name="Fill the form").click()
    expect(_visible_alert(page, "#plan-read")).to_contain_text("first")
    live_site.shot(page, "empty-objective")
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#plan-read").screenshot(path=str(live_site.shots / "describe-box-phone.png"))
    page.set_viewport_size({"width": 1366, "height": 900})
    # Any refused form answered with its fragment is swapped, not only where a template asks for it: the same 400
    # answer into an element that has no hook of its own.
    page.evaluate("htmx.ajax('POST', '/plans/read/', {target: '#plan-form', swap: 'innerHTML', values: {text: ''}})")
    expect(_visible_alert(page, "#plan-form")).to_contain_text("Describe the plan first")
    expect(page.locator("#htmx-error")).to_have_count(0)  # swapped in place: no second, generic message


@pytest.mark.parametrize(
    ("url", "status", "says"),
    [
        ("/plans/999999/", 404, "could not be found"),
        ("/settings/api-keys/", 403, "not allowed"),
    ],
)
def test_an_htmx_error_without_a_form_to_show_leaves_a_short_message(page, live_site, site, url, status, says):
    # A reviewer may not manage keys (403) and no plan 999999 exists (404): htmx would swap nothing and say nothing.
    live_site.login(page, site["users"]["reviewer"][0])
    page.goto(f"{live_site.url}/plans/{site['plan'].pk}/")
    with page.expect_response(lambda r: url in r.url) as answer:
        page.evaluate("url => htmx.ajax('GET', url, {target: '#plan-status', swap: 'outerHTML'})", url)
    assert answer.value.status == status
    alert = page.locator("#htmx-error")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(says)
    assert len(alert.inner_text()) < 300
    expect(page.locator("#plan-status")).to_be_visible()  # the page's own content stays where it was
    overflow = live_site.shot(page, f"htmx-{status}")
    assert overflow["phone"] == 0, overflow
    page.locator("#htmx-error button").click()  # dismissed, it goes
    expect(alert).to_be_hidden()


def test_a_runaway_model_answer_stays_inside_its_box(page, live_site, site):
    from ml.models import GenerationRequest

    generation = GenerationRequest.objects.get()
    live_site.login(page, site["users"]["marketer"][0])
    page.goto(f"{live_site.url}/models/try/{generation.pk}/")
    output = page.locator("#generation-output")
    expect(output).to_be_visible()
    overflow = live_site.shot(page, "runaway-answer")
    assert overflow == {"desktop": 0, "phone": 0}
    assert output.bounding_box()["height"] <= 500  # 200 lines scroll inside the box, the page stays short


def test_the_plan_page_shows_every_column_a_curve_per_channel_and_the_split(page, live_site, site):
    from optimizer.models import AllocationPlan

    plan = site["plan"]
    spending = [a for a in plan.result["allocations"] if a["spend"] > 0]
    live_site.login(page, site["users"]["marketer"][0])
    page.goto(f"{live_site.url}/plans/{plan.pk}/")

    # 1366 px: the whole allocation table is in view, Marginal ROAS and Binding included (nothing to scroll to).
    table = page.locator("#allocations")
    assert table.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth"), "the allocation table is cut off"
    panel = page.locator("#plan-allocation").bounding_box()
    binding = table.locator("thead th", has_text="Binding").bounding_box()
    assert binding["x"] + binding["width"] <= panel["x"] + panel["width"]

    # One curve per channel that gets spend, its dot at the row's spend and expected sales, inside its band.
    curves = page.locator("#plan-curves figure")
    expect(curves).to_have_count(len(spending))
    for a in spending:
        figure = page.locator(f'#plan-curves figure[data-channel="{a["retailer"]}|{a["placement_type"]}"]')
        expect(figure.locator("svg")).to_have_attribute("aria-label", re.compile(f"spend of {a['spend']:,.2f}"))
        dot, band = figure.locator("circle.chosen"), figure.locator("polygon.band")
        expect(dot).to_have_count(1)
        dot_box, band_box = dot.bounding_box(), band.bounding_box()
        centre_x = dot_box["x"] + dot_box["width"] / 2
        assert band_box["x"] <= centre_x <= band_box["x"] + band_box["width"]

    # The split: one segment per channel, sized by its share of the budget (and the unspent rest, if any).
    widths = page.locator("#plan-split .split-seg").evaluate_all(
        "segs => segs.map(s => s.getBoundingClientRect().width / s.parentElement.getBoundingClientRect().width)"
    )
    budget = float(plan.budget)
    shares = sorted((a["spend"] / budget for a in spending), reverse=True)
    assert widths[: len(shares)] == pytest.approx(shares, abs=0.02)
    live_site.shot(page, "plan")

    # 390 px: the charts stack, fit the window, and their axis labels stay readable.
    page.set_viewport_size({"width": 390, "height": 844})
    for box in curves.evaluate_all("fs => fs.map(f => f.getBoundingClientRect().right)"):
        assert box <= 390
    label = page.locator("#plan-curves text.axis").first.bounding_box()
    assert label["height"] >= 10, label
    # Every figure of every channel is in view: Marginal ROAS and Binding too, not behind a sideways scroll.
    for cell in table.locator("tbody td").all():
        box = cell.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (cell.get_attribute("data-label"), box)
    page.locator("#plan-allocation").screenshot(path=str(live_site.shots / "allocation-phone.png"))
    page.locator("#what-if-form").screenshot(path=str(live_site.shots / "what-if-phone.png"))
    page.set_viewport_size({"width": 1366, "height": 900})
    page.locator("#plan-allocation").screenshot(path=str(live_site.shots / "allocation-desktop.png"))
    page.locator("#what-if-form").screenshot(path=str(live_site.shots / "what-if-desktop.png"))

    # Budgets show thousands separators, and a grouped amount typed in is read as the number it is.
    budget_input = page.locator("#what-if-form input[name=budget]")
    expect(budget_input).to_have_value("40,000")
    budget_input.fill("2,500,000")
    budget_input.blur()
    page.get_by_role("button", name="Optimize a new version").click()
    expect(page).not_to_have_url(re.compile(rf"/plans/{plan.pk}/$"))
    assert AllocationPlan.objects.get(parent=plan).budget == Decimal("2500000")


def test_a_poll_the_server_fails_says_so_and_the_message_goes_when_it_answers_again(page, live_site, site):
    from optimizer.models import AllocationPlan

    waiting = AllocationPlan.objects.create(
        tenant=site["plan"].tenant, name="Waiting", budget=Decimal("1000"), currency="USD", period_days=28,
        request={}, status=AllocationPlan.Status.PENDING, version=1,
    )  # fmt: skip
    live_site.login(page, site["users"]["marketer"][0])
    url = f"{live_site.url}/plans/{waiting.pk}/"
    page.goto(url)
    # From now on the page's polls meet a proxy whose server is down.
    page.route(url, lambda route: route.fulfill(status=502, body="Bad gateway", content_type="text/plain"))
    alert = page.locator("#htmx-error")
    expect(alert).to_be_visible(timeout=5_000)
    expect(alert).to_contain_text("Something went wrong on the server (502)")
    expect(page.locator("#plan-status")).to_be_visible()  # what the page showed stays
    live_site.shot(page, "poll-failed")
    page.unroute(url)
    expect(alert).to_be_hidden(timeout=5_000)  # the next poll answers: the message goes by itself

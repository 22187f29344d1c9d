"""In a browser: a marketer asks for creatives, sees one repaired and one rejected with its reasons, approves one;
screenshots at 1366 and 390 px for each step (var/screenshots/<test name>/). The model's answers come through the
documented CREATIVE_SCRIPT seam; the checks, repairs, pages and polling are the real ones."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from feedback.models import CreativeBrief
from feedback.services.creatives import creative_brief_run
from feedback.tests.test_creative_briefs import POLICY, answer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sent(monkeypatch):
    """No broker in this test: the brief ids the page sends to the inference queue are kept, and the test runs them
    as the worker would, while the page polls."""
    from feedback.services import creatives

    ids = []
    monkeypatch.setattr(creatives.creative_brief_run_task, "apply_async", lambda args, **kw: ids.append(args[0]))
    return ids


def test_a_marketer_asks_for_creatives_sees_repaired_and_rejected_ones_and_approves_one(
    page, live_site, personas, catalog, retailers, settings, tmp_path, sent
):
    retailers["walmart"].policy_specs = POLICY
    retailers["walmart"].save()
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps([
            answer(headline="Crisp ACME® cola, ice cold"),
            answer(body="Clinically proven refreshment."), answer(body="Clinically proven, and cold."),
            answer(body="Only $2 a can."), answer(body="Now $1.99 a can."),
        ])
    )  # fmt: skip
    settings.CREATIVE_SCRIPT = str(script)

    live_site.login(page, personas["marketer"])
    page.goto(f"{live_site.url}/creatives/")
    page.select_option("select[name=retailer]", "walmart")
    page.locator("input[name=skus]").first.check()
    page.fill("input[name=goal]", "Trial of the new cola")
    page.fill("input[name=tone]", "upbeat")
    page.fill("input[name=variants]", "3")
    live_site.shot(page, "brief-filled")
    page.get_by_role("button", name="Write variants").click()
    expect(page.locator("#brief-progress")).to_contain_text("0 of 3 variants written")
    brief = CreativeBrief.objects.get()
    assert sent == [brief.pk]
    live_site.shot(page, "brief-queued")

    creative_brief_run(brief.pk)  # the inference worker's part; the page's poll shows the result
    expect(page.locator("#brief-progress")).to_contain_text("3 of 3 variants written", timeout=10_000)
    repaired = page.locator('[data-variant="2"]')
    expect(repaired.locator("[data-compliance]")).to_have_text("Compliant after repair")
    expect(repaired.locator(".repairs")).to_contain_text("Removed 'clinically proven'")
    rejected = page.locator('[data-variant="3"]')
    expect(rejected.locator("[data-compliance]")).to_have_text("Failed the policy check")
    expect(rejected.locator(".rejection-reasons")).to_contain_text("Makes a price claim")
    expect(rejected.get_by_role("button", name="Approve")).to_have_count(0)
    overflow = live_site.shot(page, "variants-checked")
    assert overflow["phone"] == 0, overflow

    first = page.locator('[data-variant="1"]')
    first.locator("input[name=note]").fill("Ready for Walmart")
    first.get_by_role("button", name="Approve").click()
    first = page.locator('[data-variant="1"]')
    expect(first.locator("[data-creative-status]")).to_have_text("Approved")
    first.locator(".history summary").click()
    expect(first.locator(".history")).to_contain_text("in_review → approved by marketer · Ready for Walmart")
    live_site.shot(page, "approved")
    page.goto(f"{live_site.url}/creatives/")
    expect(page.locator("#exports")).to_contain_text("1 approved or live")
    live_site.shot(page, "export-offered")


def test_a_marketer_asks_for_two_takes_and_a_reviewer_picks_the_better_one(
    page, live_site, personas, catalog, retailers, settings, tmp_path, sent
):
    """Two takes a variant: the reviewer meets them as A and B of the same brief and picks one with a key."""
    from feedback.models import Feedback, ReviewItem

    retailers["walmart"].policy_specs = POLICY
    retailers["walmart"].save()
    script = tmp_path / "script.json"
    script.write_text(json.dumps([answer(body="Cold and crisp."), answer(body="Ice cold, all summer long.")]))
    settings.CREATIVE_SCRIPT = str(script)

    live_site.login(page, personas["marketer"])
    page.goto(f"{live_site.url}/creatives/")
    page.select_option("select[name=retailer]", "walmart")
    page.locator("input[name=skus]").first.check()
    page.fill("input[name=goal]", "Trial of the new cola")
    page.fill("input[name=variants]", "1")
    page.get_by_label("Two takes of each variant, for reviewers to compare").check()
    page.get_by_role("button", name="Write variants").click()
    expect(page.locator("#brief-progress")).to_contain_text("0 of 2 answers (1 variant, two takes each")
    creative_brief_run(sent[0])
    expect(page.locator("#brief-progress")).to_contain_text("2 of 2 answers", timeout=10_000)
    expect(page.locator("section.creative h2")).to_contain_text(["Variant 1, take 1", "Variant 1, take 2"])
    live_site.shot(page, "two-takes-written")

    pair = ReviewItem.objects.get(kind=ReviewItem.Kind.PAIR)
    side_of_summer = "b" if "summer" in pair.content["b"]["body"] else "a"
    page.context.clear_cookies()
    live_site.login(page, personas["reviewer"])
    page.goto(f"{live_site.url}/review/{pair.task_id}/")
    page.keyboard.press("Enter")
    expect(page.locator("#side-a")).to_be_visible()
    expect(page.locator(f"#side-{side_of_summer}")).to_contain_text("Ice cold, all summer long.")
    expect(page.locator("#answer-form")).to_contain_text("two answers to the same brief")
    page.keyboard.press(side_of_summer)
    overflow = live_site.shot(page, "pair-to-choose")
    page.keyboard.press("Enter")
    expect(page.locator("#review-done")).to_have_text("1 done")
    assert Feedback.objects.get(item=pair).preference == side_of_summer
    assert overflow["phone"] == 0, overflow

"""In a browser: a reviewer rates ten items with the keyboard alone, and two reviewers and an adjudicator settle a
conflict; screenshots at 1366 and 390 px for each step (var/screenshots/<test name>/)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from feedback.models import Adjudication, Feedback, Guideline, ReviewItem, ReviewTask
from feedback.tests.review_support import make_items
from governance.models import Membership, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _member(django_user_model, tenant, username, role):
    user = django_user_model.objects.create_user(username=username, password="pw-for-tests-123")
    Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


def _task(tenant) -> ReviewTask:
    task = ReviewTask.objects.create(tenant=tenant, name="Ad copy", kind=ReviewTask.Kind.CREATIVE, overlap=2)
    Guideline.objects.create(task=task, version=1, text="Rate what a shopper would think. Claims need proof.")
    return task


def _shows_item(page, item) -> None:
    expect(page.locator('#answer-form input[name="item"]')).to_have_value(str(item.pk))


def test_a_reviewer_rates_ten_items_with_the_keyboard_only(page, live_site, tenants, personas):
    task = _task(tenants["acme"])
    items = make_items(task, 9) + make_items(task, 1, kind=ReviewItem.Kind.PAIR)
    reviewer = personas["reviewer"]
    live_site.login(page, reviewer)
    page.goto(f"{live_site.url}/review/{task.pk}/")  # from here on, keys only: no click
    expect(page.locator("#shortcuts")).to_contain_text("rate the highlighted criterion")
    expect(page.locator("#guidelines")).to_contain_text("v1")
    live_site.shot(page, "queue-start")
    page.keyboard.press("Enter")
    _shows_item(page, items[0])
    for number, item in enumerate(items[:9], start=1):
        _shows_item(page, item)
        for key in "4534":  # one per criterion; the highlight moves on by itself
            page.keyboard.press(key)
        page.keyboard.press("y" if number % 3 else "n")
        if number == 1:
            expect(page.locator(".criterion.is-focused")).to_have_attribute("data-criterion", "clear")
            live_site.shot(page, "first-item-rated")
        if number == 3:
            page.keyboard.press("e")  # edit: write a better version
            expect(page.locator("#correction input[name=correction_headline]")).to_be_focused()
            page.keyboard.press("Control+a")
            page.keyboard.type("Oats baked at dawn")
            page.keyboard.press("Escape")
            live_site.shot(page, "correction-written")
        page.keyboard.press("Enter")
        expect(page.locator("#review-done")).to_have_text(f"{number} done")
        if number == 4:  # undo the fourth answer, change it, submit again
            page.keyboard.press("u")
            _shows_item(page, item)
            expect(page.locator("#review-done")).to_have_text("3 done")
            live_site.shot(page, "undone")
            for _ in range(3):  # the earlier answer is filled in; the highlight starts on the first criterion
                page.keyboard.press("ArrowDown")
            page.keyboard.press("2")  # "clear" becomes 2
            page.keyboard.press("Enter")
            expect(page.locator("#review-done")).to_have_text("4 done")
    pair = items[9]
    _shows_item(page, pair)
    expect(page.locator("#side-a")).to_be_visible()
    expect(page.locator("#side-b")).to_be_visible()
    page.keyboard.press("b")
    live_site.shot(page, "pair-chosen")
    page.keyboard.press("Enter")
    expect(page.locator("#queue-empty")).to_be_visible()
    overflow = live_site.shot(page, "queue-done")
    assert overflow["phone"] == 0, overflow

    answers = Feedback.objects.filter(reviewer=reviewer, is_current=True)
    assert answers.count() == 10
    assert answers.get(item=items[0]).ratings == {"on_brand": 4, "compliant": 5, "persuasive": 3, "clear": 4}
    assert answers.get(item=items[2]).correction["headline"] == "Oats baked at dawn"
    assert answers.get(item=items[2]).thumb == "down"  # the third item got N
    fourth = answers.get(item=items[3])
    assert fourth.ratings["clear"] == 2 and fourth.supersedes is not None
    assert answers.get(item=pair).preference == "b"
    assert all(a.seconds_spent is not None and a.guideline.version == 1 for a in answers)


def test_two_reviewers_disagree_and_an_adjudicator_settles_it(browser, live_site, tenants, django_user_model):
    task = _task(tenants["acme"])
    (item,) = make_items(task, 1)
    ann = _member(django_user_model, tenants["acme"], "ann", Role.REVIEWER)
    bob = _member(django_user_model, tenants["acme"], "bob", Role.REVIEWER)
    judge = _member(django_user_model, tenants["acme"], "judge", Role.ADJUDICATOR)
    size = {"viewport": {"width": 1366, "height": 900}}

    def review(user, keys: str, reason: str, step: str):
        context = browser.new_context(**size)
        page = context.new_page()
        live_site.login(page, user)
        page.goto(f"{live_site.url}/review/{task.pk}/")
        page.keyboard.press("Enter")
        _shows_item(page, item)
        assert "zqannsreason" not in page.content()  # blind: nobody else's answer before one's own
        for key in keys:
            page.keyboard.press(key)
        page.fill("#answer-form textarea[name=reason]", reason)
        live_site.shot(page, step)
        page.locator("#submit-answer").click()
        expect(page.locator("#queue-empty")).to_be_visible()
        context.close()

    review(ann, "5555y", "zqannsreason: bright and clear", "ann-rates")
    review(bob, "2222n", "The claim 'best ever' is not allowed", "bob-rates")
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.CONFLICT

    context = browser.new_context(**size)
    page = context.new_page()
    live_site.login(page, judge)
    page.goto(f"{live_site.url}/review/conflicts/")
    conflict = page.locator(f"#conflict-{item.pk}")
    expect(conflict).to_contain_text("zqannsreason")
    expect(conflict).to_contain_text("The claim 'best ever' is not allowed")
    live_site.shot(page, "conflict-listed")
    conflict.locator("select[name=thumb]").select_option("down")
    conflict.locator("select[name=rating_compliant]").select_option("1")
    conflict.locator("textarea[name=note]").fill("Unproven claim: Bob is right.")
    conflict.get_by_role("button", name=f"Resolve item #{item.pk}").click()
    expect(page.locator("#no-conflicts")).to_be_visible()
    live_site.shot(page, "resolved")
    page.goto(f"{live_site.url}/review/{task.pk}/quality/")
    expect(page.locator("#reviewers")).to_contain_text("ann")
    live_site.shot(page, "quality")
    context.close()

    item.refresh_from_db()
    assert item.status == ReviewItem.Status.RESOLVED
    ruling = Adjudication.objects.get(item=item)
    assert ruling.adjudicator == judge and ruling.decision == {"thumb": "down", "ratings": {"compliant": 1}}

"""The review console's pages: the queue without JavaScript and with htmx, blindness, permissions, tenants."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from feedback.models import Assignment, Feedback, ReviewItem, ReviewTask
from feedback.services.review import review_next, review_submit
from feedback.tests.review_support import ALL_FOUR, make_items, review_fixture  # noqa: F401  (the review fixture)
from governance.models import Membership, Role

HTMX = {"HX-Request": "true"}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post_answer(client, task, item, **extra):
    body = {"item": item.pk, **{f"rating_{c}": v for c, v in ALL_FOUR.items()}, **extra}
    return client.post(reverse("review_queue", args=[task.pk]), body, headers=extra.pop("headers", None) or {})


def test_it_lists_tasks_with_the_reviewers_progress(review):
    task = review["task"]
    items = make_items(task, 3)
    review_next(task=task, reviewer=review["reviewer"])
    review_submit(item=items[0], reviewer=review["reviewer"], ratings=ALL_FOUR)
    page = _client(review["reviewer"]).get(reverse("review_tasks"))
    assert page.status_code == 200
    row = page.content.decode().split(f'data-task="{task.pk}"')[1].split("</tr>")[0]
    assert ">Ad copy</a>" in row and '<td class="num" data-metric="done">1' in row and "0 / 3" in row


def test_a_reviewer_works_through_the_queue_without_javascript(review):
    task = review["task"]
    first, _second = make_items(task, 2)
    client = _client(review["reviewer"])
    page = client.get(reverse("review_queue", args=[task.pk]))
    assert "Start reviewing" in page.content.decode() and not Assignment.objects.exists()  # a GET hands out nothing
    assert client.post(reverse("review_next", args=[task.pk])).status_code == 302
    page = client.get(reverse("review_queue", args=[task.pk])).content.decode()
    assert "Crunch time 0" in page and "Guidelines" in page and "Rate what a shopper would think." in page
    assert "task_creative v3" in page  # which adapter version made the copy
    response = _post_answer(client, task, first, thumb="down", reason_tags=["tone"])
    assert response.status_code == 302
    fb = Feedback.objects.get()
    assert fb.ratings == ALL_FOUR and fb.thumb == "down" and fb.reason_tags == ["tone"]
    assert fb.guideline == review["guideline"] and fb.seconds_spent is not None
    page = client.get(reverse("review_queue", args=[task.pk])).content.decode()
    assert "Crunch time 1" in page  # the next item was handed out with the answer


def test_the_next_item_arrives_as_a_fragment_for_htmx(review):
    task = review["task"]
    first, _ = make_items(task, 2)
    client = _client(review["reviewer"])
    fragment = client.post(reverse("review_next", args=[task.pk]), headers=HTMX).content.decode()
    assert 'id="review-item"' in fragment and "Crunch time 0" in fragment and "<html" not in fragment
    body = {"item": first.pk, **{f"rating_{c}": v for c, v in ALL_FOUR.items()}}
    fragment = client.post(reverse("review_queue", args=[task.pk]), body, headers=HTMX).content.decode()
    assert "Crunch time 1" in fragment and "<html" not in fragment and "1 done" in fragment


def test_a_bad_answer_is_shown_beside_its_field(review):
    task = review["task"]
    (item,) = make_items(task, 1)
    client = _client(review["reviewer"])
    client.post(reverse("review_next", args=[task.pk]))
    response = client.post(reverse("review_queue", args=[task.pk]), {"item": item.pk, "rating_clear": "3"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-criterion="on_brand"' in page and "Rate every criterion" in page
    on_brand_row = page.split('data-criterion="on_brand"')[1].split('data-criterion="compliant"')[0]
    assert "field-error" in on_brand_row
    assert not Feedback.objects.exists()


def test_a_correction_is_kept_as_a_better_completion(review):
    task = review["task"]
    (item,) = make_items(task, 1)
    client = _client(review["reviewer"])
    client.post(reverse("review_next", args=[task.pk]))
    _post_answer(
        client, task, item, correction_headline="Oats, baked at dawn", correction_body="Fresh oats, baked today."
    )
    assert Feedback.objects.get().correction == {
        "headline": "Oats, baked at dawn", "body": "Fresh oats, baked today.", "cta": "Shop now",
    }  # fmt: skip


def test_undo_brings_back_the_last_answer_to_change(review):
    task = review["task"]
    first, _ = make_items(task, 2)
    client = _client(review["reviewer"])
    client.post(reverse("review_next", args=[task.pk]))
    _post_answer(client, task, first, thumb="up")
    fragment = client.post(reverse("review_undo", args=[task.pk]), headers=HTMX).content.decode()
    assert "Crunch time 0" in fragment and re.search(r'name="thumb" value="up"[^>]*checked', fragment)
    assert not Feedback.objects.get().is_current
    _post_answer(client, task, first, thumb="down")
    current = Feedback.objects.get(is_current=True)
    assert current.thumb == "down" and current.supersedes is not None


def test_a_pair_shows_a_and_b_side_by_side(review):
    task = review["task"]
    (pair,) = make_items(task, 1, kind=ReviewItem.Kind.PAIR)
    client = _client(review["reviewer"])
    client.post(reverse("review_next", args=[task.pk]))
    page = client.get(reverse("review_queue", args=[task.pk])).content.decode()
    assert 'id="side-a"' in page and 'id="side-b"' in page and "A0" in page and "B0" in page
    assert "data-criterion=" not in page  # a pair asks for a preference, not ratings
    client.post(reverse("review_queue", args=[task.pk]), {"item": pair.pk, "preference": "b", "reason": "Clearer."})
    assert Feedback.objects.get().preference == "b"


def test_a_plan_item_shows_its_explanation_and_allocation(review, tenants):
    task = ReviewTask.objects.create(tenant=tenants["acme"], name="Plans", kind=ReviewTask.Kind.PLAN, overlap=1)
    ReviewItem.objects.create(
        tenant=tenants["acme"], task=task, kind=ReviewItem.Kind.PLAN,
        content={"name": "Spring push", "version": 2, "explanation": "Amazon gets most: its curve is steepest.",
                 "allocation": [{"retailer": "amazon", "spend": 700}, {"retailer": "walmart", "spend": 300}]},
    )  # fmt: skip
    client = _client(review["reviewer"])
    client.post(reverse("review_next", args=[task.pk]))
    page = client.get(reverse("review_queue", args=[task.pk])).content.decode()
    assert "Amazon gets most: its curve is steepest." in page and 'id="plan-allocation"' in page and ">700<" in page
    assert "correction_headline" not in page


def test_nobody_sees_another_reviewers_answer_on_the_queue(review):
    task = review["task"]
    (item,) = make_items(task, 1)
    review_next(task=task, reviewer=review["reviewer"])
    review_submit(item=item, reviewer=review["reviewer"], ratings=ALL_FOUR, reason="zqsecretreason", thumb="down")
    client = _client(review["reviewer2"])
    client.post(reverse("review_next", args=[task.pk]))
    page = client.get(reverse("review_queue", args=[task.pk])).content.decode()
    assert "Crunch time 0" in page and "zqsecretreason" not in page
    assert not re.search(r'name="thumb" value="down"[^>]*checked', page)


def test_a_marketer_cannot_review_and_a_reviewer_cannot_adjudicate(review, personas):
    task = review["task"]
    (item,) = make_items(task, 1)
    marketer = _client(personas["marketer"])
    assert marketer.get(reverse("review_tasks")).status_code == 403
    assert marketer.post(reverse("review_next", args=[task.pk])).status_code == 403
    assert _post_answer(marketer, task, item).status_code == 403
    reviewer = _client(review["reviewer"])
    assert reviewer.get(reverse("review_conflicts")).status_code == 403
    assert reviewer.get(reverse("review_quality", args=[task.pk])).status_code == 403
    assert reviewer.post(reverse("review_resolve", args=[item.pk]), {"thumb": "up"}).status_code == 403
    assert not Feedback.objects.exists() and not Assignment.objects.exists()


def test_another_tenants_task_does_not_exist(review, tenants, django_user_model):
    task = review["task"]
    make_items(task, 1)
    outsider = django_user_model.objects.create_user(username="globex-reviewer", password="x")
    Membership.objects.create(user=outsider, tenant=tenants["globex"], role=Role.ADJUDICATOR)
    client = _client(outsider)
    assert client.get(reverse("review_queue", args=[task.pk])).status_code == 404
    assert client.post(reverse("review_next", args=[task.pk])).status_code == 404
    assert "Ad copy" not in client.get(reverse("review_tasks")).content.decode()
    assert not Assignment.objects.exists()


def test_an_adjudicator_sees_every_answer_and_resolves(review):
    task = review["task"]
    (item,) = make_items(task, 1)
    for user, thumb in ((review["reviewer"], "up"), (review["reviewer2"], "down")):
        review_next(task=task, reviewer=user)
        review_submit(item=item, reviewer=user, ratings=ALL_FOUR, thumb=thumb, reason=f"because {user.username}")
    client = _client(review["adjudicator"])
    page = client.get(reverse("review_conflicts")).content.decode()
    assert f'id="conflict-{item.pk}"' in page
    assert "<td>because reviewer</td>" in page and "<td>because reviewer2</td>" in page
    assert (
        client.post(reverse("review_resolve", args=[item.pk]), {"thumb": "down", "note": "Claim."}).status_code == 302
    )
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.RESOLVED
    assert "No conflicts" in client.get(reverse("review_conflicts")).content.decode()


def test_the_quality_page_shows_agreement_and_gold_accuracy(review):
    task = review["task"]
    (gold,) = make_items(task, 1, gold={"thumb": "down"})
    review_next(task=task, reviewer=review["reviewer"])
    review_submit(item=gold, reviewer=review["reviewer"], ratings=ALL_FOUR, thumb="down", seconds_spent=12)
    page = _client(review["adjudicator"]).get(reverse("review_quality", args=[task.pk])).content.decode()
    row = page.split('data-reviewer="reviewer"')[1].split("</tr>")[0]
    assert "100%" in row and "(1 of 1)" in row and "12.0" in row
    assert "Krippendorff" in page and 'id="kappa"' in page

"""The console's partner API: pull items, push answers, read agreement; blind, tenant-scoped, one error shape."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from feedback.models import Feedback, ReviewItem
from feedback.services.review import review_next, review_submit
from feedback.tests.review_support import ALL_FOUR, make_items, review_fixture  # noqa: F401  (the review fixture)
from governance.models import Role
from governance.services import api_key_create


def _session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _key(tenant, role) -> Client:
    _, raw = api_key_create(tenant=tenant, name=f"{role} tool", role=role)
    return Client(headers={"Authorization": f"Api-Key {raw}"})


def test_a_reviewer_pulls_the_next_item_and_pushes_an_answer(review):
    task = review["task"]
    first, second = make_items(task, 2)
    client = _session(review["reviewer"])
    response = client.post(reverse("api:review-task-next", args=[task.pk]), {}, content_type="application/json")
    assert response.status_code == 200 and response.json()["id"] == first.pk
    assert response.json()["assignment"] == "pending" and response.json()["answers"] == []
    body = {"ratings": ALL_FOUR, "thumb": "up", "seconds_spent": 3.5, "correction": {"headline": "Better"}}
    response = client.post(reverse("api:review-item-feedback", args=[first.pk]), body, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert response.json()["guideline_version"] == 1 and response.json()["is_current"] is True
    listed = client.get(reverse("api:review-item-list")).json()["results"]
    assert [i["id"] for i in listed] == [first.pk] and listed[0]["assignment"] == "submitted"
    client.post(reverse("api:review-task-next", args=[task.pk]), {}, content_type="application/json")
    listed = client.get(reverse("api:review-item-list"), {"task": task.pk}).json()["results"]
    assert [i["id"] for i in listed] == [first.pk, second.pk]


def test_it_answers_204_when_the_queue_is_empty(review):
    response = _session(review["reviewer"]).post(
        reverse("api:review-task-next", args=[review["task"].pk]), {}, content_type="application/json"
    )
    assert response.status_code == 204


def test_a_bad_answer_names_the_field_in_the_error_shape(review):
    task = review["task"]
    (item,) = make_items(task, 1)
    client = _session(review["reviewer"])
    client.post(reverse("api:review-task-next", args=[task.pk]), {}, content_type="application/json")
    url = reverse("api:review-item-feedback", args=[item.pk])
    error = client.post(url, {"ratings": {"clear": 3}}, content_type="application/json").json()["error"]
    assert error["status"] == 400 and error["code"] == "invalid" and "ratings.on_brand" in error["fields"]
    error = client.post(url, {"ratings": {**ALL_FOUR, "clear": 9}}, content_type="application/json").json()["error"]
    assert "ratings" in error["fields"]
    assert not Feedback.objects.exists()


def test_an_item_not_assigned_is_refused(review):
    (item,) = make_items(review["task"], 1)
    response = _session(review["reviewer"]).post(
        reverse("api:review-item-feedback", args=[item.pk]), {"ratings": ALL_FOUR}, content_type="application/json"
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_the_api_hides_other_answers_until_the_caller_has_answered(review):
    task = review["task"]
    (item,) = make_items(task, 1)
    review_next(task=task, reviewer=review["reviewer"])
    review_submit(item=item, reviewer=review["reviewer"], ratings=ALL_FOUR, reason="zqsecretreason")
    client = _session(review["reviewer2"])
    pulled = client.post(reverse("api:review-task-next", args=[task.pk]), {}, content_type="application/json")
    assert pulled.json()["answers"] == [] and "zqsecretreason" not in pulled.content.decode()
    detail = client.get(reverse("api:review-item-detail", args=[item.pk]))
    assert "zqsecretreason" not in detail.content.decode()
    client.post(reverse("api:review-item-feedback", args=[item.pk]), {"ratings": ALL_FOUR},
                content_type="application/json")  # fmt: skip
    detail = client.get(reverse("api:review-item-detail", args=[item.pk])).json()
    assert [a["reason"] for a in detail["answers"]] == ["zqsecretreason"]


def test_an_api_key_acts_for_the_reviewer_it_names(review, tenants):
    task = review["task"]
    (item,) = make_items(task, 1)
    tool = _key(tenants["acme"], Role.REVIEWER)
    url = reverse("api:review-task-next", args=[task.pk])
    error = tool.post(url, {}, content_type="application/json").json()["error"]
    assert "reviewer" in error["fields"]
    assert tool.post(url, {"reviewer": "marketer"}, content_type="application/json").status_code == 400
    assert tool.post(url, {"reviewer": "reviewer2"}, content_type="application/json").json()["id"] == item.pk
    response = tool.post(reverse("api:review-item-feedback", args=[item.pk]),
                         {"reviewer": "reviewer2", "thumb": "down", "ratings": ALL_FOUR},
                         content_type="application/json")  # fmt: skip
    assert response.status_code == 201 and response.json()["reviewer"] == "reviewer2"
    assert Feedback.objects.get().reviewer == review["reviewer2"]


def test_agreement_is_read_by_adjudicators_only(review):
    task = review["task"]
    items = make_items(task, 2)
    for item, thumbs in zip(items, (("up", "up"), ("down", "up")), strict=True):
        for user, thumb in zip((review["reviewer"], review["reviewer2"]), thumbs, strict=True):
            review_next(task=task, reviewer=user)
            review_submit(item=item, reviewer=user, ratings=ALL_FOUR, thumb=thumb)
    url = reverse("api:review-agreement-detail", args=[task.pk])
    assert _session(review["reviewer"]).get(url).status_code == 403
    body = _session(review["adjudicator"]).get(url).json()
    # Thumbs (up,up) (down,up): o_uu=2, o_ud=o_du=1; n=4, n_up=3, n_down=1 -> alpha = 1 - 3*2/(2*3*1) = 0.
    assert body["alpha"]["thumb"] == pytest.approx(0.0)
    assert body["pairs"][0]["reviewers"] == ["reviewer", "reviewer2"] and body["pairs"][0]["items"] == 2
    assert ReviewItem.objects.get(pk=items[1].pk).status == ReviewItem.Status.CONFLICT


def test_a_marketer_cannot_give_feedback_and_strangers_see_nothing(review, personas, tenants):
    task = review["task"]
    (item,) = make_items(task, 1)
    marketer = _session(personas["marketer"])
    assert marketer.get(reverse("api:review-item-list")).status_code == 403
    response = marketer.post(reverse("api:review-task-next", args=[task.pk]), {}, content_type="application/json")
    assert response.status_code == 403
    globex = _key(tenants["globex"], Role.ADMIN)
    assert globex.get(reverse("api:review-item-list")).json()["results"] == []
    assert globex.get(reverse("api:review-item-detail", args=[item.pk])).status_code == 404
    assert globex.get(reverse("api:review-task-list")).json()["results"] == []
    response = globex.post(reverse("api:review-item-feedback", args=[item.pk]), {"ratings": ALL_FOUR},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 404
    assert not Feedback.objects.exists()

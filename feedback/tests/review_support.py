"""Fixtures for the review console's tests: a task with ordinary and gold items and the reviewer personas."""

from __future__ import annotations

import pytest

from feedback.models import Guideline, ReviewItem, ReviewTask
from governance.models import Membership, Role

ALL_FOUR = {"on_brand": 4, "compliant": 5, "persuasive": 3, "clear": 4}


def make_items(task: ReviewTask, n: int, *, kind: str = ReviewItem.Kind.SINGLE, gold: dict | None = None) -> list:
    items = []
    for i in range(n):
        content = (
            {"a": {"headline": f"A{i}", "body": "a body"}, "b": {"headline": f"B{i}", "body": "b body"}}
            if kind == ReviewItem.Kind.PAIR
            else {"fields": {"headline": f"Crunch time {i}", "body": "Fresh oats, baked today.", "cta": "Shop now"}}
        )
        items.append(
            ReviewItem.objects.create(
                tenant=task.tenant,
                task=task,
                kind=kind,
                content=content,
                prompt=[{"role": "user", "content": f"Write copy {i}"}],
                adapter_versions=[{"name": "task_creative", "version": 3, "kind": "task"}],
                is_gold=gold is not None,
                gold=gold,
            )
        )
    return items


@pytest.fixture(name="review")
def review_fixture(tenants, personas, django_user_model):
    """Acme's "Ad copy" task (overlap 2, guidelines v1) and a second reviewer and an adjudicator of Acme."""

    def member(username, role):
        user = django_user_model.objects.create_user(username=username, password="pw-for-tests-123")
        Membership.objects.create(user=user, tenant=tenants["acme"], role=role)
        return user

    task = ReviewTask.objects.create(tenant=tenants["acme"], name="Ad copy", kind=ReviewTask.Kind.CREATIVE, overlap=2)
    guideline = Guideline.objects.create(task=task, version=1, text="Rate what a shopper would think.")
    return {
        "task": task,
        "guideline": guideline,
        "reviewer": personas["reviewer"],
        "reviewer2": member("reviewer2", Role.REVIEWER),
        "reviewer3": member("reviewer3", Role.REVIEWER),
        "adjudicator": member("adjudicator", Role.ADJUDICATOR),
    }

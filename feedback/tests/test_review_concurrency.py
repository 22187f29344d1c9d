"""Reviewers asking for their next item at the same moment never push an item past its overlap."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from feedback.models import Assignment, Guideline, ReviewItem, ReviewTask
from feedback.services.review import review_next
from feedback.tests.review_support import make_items
from governance.models import Membership, Role


@pytest.mark.django_db(transaction=True)
def test_it_never_exceeds_overlap_when_reviewers_ask_at_once(tenants, django_user_model):
    if connection.vendor != "postgresql":
        pytest.skip("row locks (select_for_update, skip_locked) are PostgreSQL's; SQLite serializes every write")
    task = ReviewTask.objects.create(tenant=tenants["acme"], name="Race", kind=ReviewTask.Kind.CREATIVE, overlap=2)
    Guideline.objects.create(task=task, version=1, text="-")
    items = make_items(task, 3)
    reviewers = []
    for i in range(8):
        user = django_user_model.objects.create_user(username=f"racer{i}", password="x")
        Membership.objects.create(user=user, tenant=tenants["acme"], role=Role.REVIEWER)
        reviewers.append(user)
    barrier = threading.Barrier(len(reviewers))
    got, errors = {}, []

    def ask(user):
        try:
            barrier.wait()
            assignment = review_next(task=task, reviewer=user)
            got[user.username] = assignment.item_id if assignment else None
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(user,)) for user in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    per_item = {item.pk: Assignment.objects.filter(item=item).count() for item in items}
    assert all(n <= 2 for n in per_item.values()), per_item
    assert sum(per_item.values()) == 6  # every seat taken: 3 items x 2, and two reviewers got nothing
    assert sorted(v is None for v in got.values()).count(True) == 2
    assert ReviewItem.objects.filter(task=task).count() == 3

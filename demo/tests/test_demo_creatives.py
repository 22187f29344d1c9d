"""The demo seeds creatives through the product's own pipeline: items wait in the Ad copy review task on first
login, repaired ones say what was edited, a rejected one keeps its reasons, the model's briefs wait for the worker,
and the second reviewer and the adjudicator can log in."""

import pytest

from demo.tests.test_seed_demo import printed_password, seed
from feedback.models import Creative, CreativeBrief, ReviewItem
from governance.models import Membership, Role
from ml.engine.policy import check_copy

pytestmark = pytest.mark.django_db


def test_the_demo_queues_checked_creatives_for_its_reviewers(client):
    output = seed()
    password = printed_password(output)
    assert "acme-reviewer2" in output and "acme-adjudicator" in output
    roles = dict(Membership.objects.filter(tenant__slug="acme").values_list("user__username", "role"))
    assert roles["acme-reviewer2"] == Role.REVIEWER and roles["acme-adjudicator"] == Role.ADJUDICATOR
    items = ReviewItem.objects.filter(tenant__slug="acme", task__name="Ad copy")
    assert items.count() >= 15
    for item in items.select_related("creative__retailer"):
        assert check_copy(item.creative.fields(), item.creative.retailer.policy_specs) == []
    repaired = Creative.objects.filter(tenant__slug="acme", repaired=True)
    assert repaired.exists()
    rules = {e["rule"] for c in repaired for r in c.verification["repairs"] if r["step"] == "rules" for e in r["edits"]}
    assert {"banned_claim", "headline_length", "missing_disclosure"} <= rules
    rejected = Creative.objects.get(tenant__slug="acme", status="rejected")
    assert [v["rule"] for v in rejected.verification["violations"]] == ["price_claim"]
    assert all(c.verification["source"] == "the demo's sample copy" for c in Creative.objects.all())
    assert CreativeBrief.objects.filter(tenant__slug="acme", status="queued").count() == 2  # for the model
    # One brief's two takes wait as A/B pairs of the same prompt.
    pairs = items.filter(kind=ReviewItem.Kind.PAIR)
    assert pairs.count() == 3
    for item in pairs.select_related("creative", "creative_b"):
        assert item.creative.brief_id == item.creative_b.brief_id and item.creative.prompt == item.creative_b.prompt
        assert item.creative.fields() != item.creative_b.fields()
        assert check_copy(item.creative_b.fields(), item.creative_b.retailer.policy_specs) == []
    assert client.login(username="acme-reviewer2", password=password)
    from django.contrib.auth import get_user_model

    from feedback.services.review import guideline_current, review_next

    task = items.first().task
    assert guideline_current(task=task).version == 1
    for username in ("acme-reviewer", "acme-reviewer2"):
        assignment = review_next(task=task, reviewer=get_user_model().objects.get(username=username))
        assert assignment is not None and assignment.item.creative.compliant

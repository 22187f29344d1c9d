"""The gate measures violations on held-out briefs with each brief's own retailer policy, found from the rows the
exporter writes (``item_ids``): an exported creative dataset must never read as 'violations not measured'."""

from __future__ import annotations

import pytest

from feedback.models import Creative, CreativeBrief
from feedback.services.datasets import feedback_dataset_export, feedback_dataset_rows
from feedback.services.gate import heldout_briefs
from feedback.tests.datasets_support import answer_all, pair, prompt
from feedback.tests.review_support import review_fixture  # noqa: F401  (the review fixture)

POLICY = {"headline_max_chars": 30, "banned_claims": ["best ever"], "required_disclosures": ["Sponsored"]}


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MODEL_STORAGE_DIR = tmp_path / "models"


def test_it_finds_each_held_out_briefs_policy_from_the_exported_rows(review, catalog, retailers, tenants):
    acme = catalog["acme"]
    brief = CreativeBrief.objects.create(tenant=tenants["acme"], retailer=retailers["walmart"], brand=acme["brand"],
                                         goal="Trial", policy=POLICY)  # fmt: skip
    creatives = [
        Creative.objects.create(
            tenant=tenants["acme"],
            brief=brief,
            retailer=retailers["walmart"],
            variant=v,
            headline=f"Crunch {v}",
            compliant=True,
        )
        for v in (1, 2)
    ]
    item = pair(review["task"], 1, "Crunch 1", "Crunch 2")
    item.creative, item.creative_b = creatives
    item.save(update_fields=["creative", "creative_b"])
    unrelated = pair(review["task"], 2, "Oats A", "Oats B")  # no creative behind it: no policy to check against
    for it in (item, unrelated):
        answer_all(it, [review["reviewer"], review["reviewer2"]], preference="a")

    # The chosen copy lacks the policy's required disclosure, which the export drops by default; this test is about
    # finding the policy, so the rows are kept.
    options = {"heldout_share": 0, "drop_policy_violations": False}
    dataset = feedback_dataset_export(tenant=tenants["acme"], task="creative", fmt="dpo", options=options)
    rows = feedback_dataset_rows(dataset=dataset, part="train")
    assert len(rows) == 2
    assert heldout_briefs(dataset, rows, limit=10) == [(prompt(1), POLICY)]

    # Another tenant's item ids in a row never lend it their policy.
    assert heldout_briefs(dataset.__class__(tenant=tenants["globex"], task="creative"), rows, limit=10) == []

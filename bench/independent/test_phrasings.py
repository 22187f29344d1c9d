"""The held-out phrasings are well-formed and follow the conventions in PHRASINGS.md."""

import json
from pathlib import Path

import pytest

from bench.independent.worlds import RETAILERS

FIELDS = {"budget", "currency", "period_days", "min_roas", "objective", "roas_basis", "exclude_retailers",
          "retailer_caps"}
OBJECTIVES = {None, "incremental_margin", "incremental_revenue", "net_incremental_profit"}


@pytest.fixture(scope="module")
def phrasings():
    lines = (Path(__file__).parent / "phrasings.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_each_phrasing_has_the_pinned_shape(phrasings):
    assert len(phrasings) >= 130
    assert len({p["text"] for p in phrasings}) == len(phrasings)
    for p in phrasings:
        e = p["expect"]
        assert set(p) == {"text", "expect", "complete", "question"} and set(e) == FIELDS, p["text"]
        assert e["budget"] is None or (isinstance(e["budget"], float) and e["budget"] > 0)
        assert e["currency"] in {None, "USD", "GBP", "EUR"}
        assert e["period_days"] is None or (isinstance(e["period_days"], int) and e["period_days"] > 0)
        assert e["min_roas"] is None or (isinstance(e["min_roas"], float) and e["min_roas"] > 0)
        assert e["objective"] in OBJECTIVES
        assert e["roas_basis"] in {None, "attributed", "incremental"}
        assert e["roas_basis"] is None or e["min_roas"] is not None
        assert set(e["exclude_retailers"]) <= set(RETAILERS) and set(e["retailer_caps"]) <= set(RETAILERS)
        assert all(isinstance(v, float) and v > 0 for v in e["retailer_caps"].values())


def test_a_question_is_asked_exactly_when_a_field_is_missing_or_the_currency_is_foreign(phrasings):
    for p in phrasings:
        e = p["expect"]
        if e["budget"] is None:
            expected = "budget"
        elif e["period_days"] is None:
            expected = "period"
        elif e["currency"] not in (None, "USD"):
            expected = "currency"
        else:
            expected = None
        assert p["question"] == expected, p["text"]
        assert p["complete"] is (expected is None)
    complete = sum(p["complete"] for p in phrasings) / len(phrasings)
    assert 0.85 <= complete <= 0.90

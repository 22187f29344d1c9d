"""The policy checker names rule, field and reason for every rule; the rule-based repair makes the edits it says."""

import pytest

from ml.engine.policy import check_copy, export_columns, repair_copy, truncate_words

POLICY = {
    "headline_max_chars": 30,
    "body_max_chars": 60,
    "cta_max_chars": 12,
    "banned_terms": ["cheap"],
    "banned_claims": ["clinically proven"],
    "required_disclosures": ["Sponsored"],
    "trademark_rules": [{"term": "acme", "form": "ACME®"}, {"term": "zapp", "form": ""}],
    "price_claims_allowed": False,
}
GOOD = {"headline": "Try ACME® Cola", "body": "Crisp cola taste.", "cta": "Shop now", "disclosure": "Sponsored"}


def found(copy):
    return [(v.rule, v.field) for v in check_copy(copy, POLICY)]


def test_it_passes_compliant_copy():
    assert found(GOOD) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"headline": "A headline that runs well past thirty"}, ("headline_length", "headline")),
        ({"body": "word " * 13}, ("body_length", "body")),
        ({"cta": "Shop it today now"}, ("cta_length", "cta")),
        ({"body": "So cheap."}, ("banned_term", "body")),
        ({"body": "Clinically proven."}, ("banned_claim", "body")),
        ({"disclosure": ""}, ("missing_disclosure", "disclosure")),
        ({"headline": "Try Acme Cola"}, ("trademark", "headline")),
        ({"body": "Now with zapp."}, ("trademark", "body")),
        ({"body": "Only $2."}, ("price_claim", "body")),
    ],
)
def test_it_names_the_rule_and_the_field_of_each_violation(change, expected):
    violations = check_copy({**GOOD, **change}, POLICY)
    assert [(v.rule, v.field) for v in violations] == [expected]
    assert violations[0].reason


def test_it_says_how_a_trademark_must_be_written():
    [violation] = check_copy({**GOOD, "headline": "Try acme cola"}, POLICY)
    assert "'acme'" in violation.reason and "'ACME®'" in violation.reason


def test_repair_rewrites_trademarks_removes_banned_phrases_appends_disclosure_and_truncates():
    bad = {
        "headline": "Clinically proven acme cola for the whole family",
        "body": "Cheap, crisp and cold.",
        "cta": "Shop today",
        "disclosure": "",
    }
    repair = repair_copy(bad, POLICY)
    assert check_copy(repair.copy, POLICY) == []
    assert repair.copy["headline"] == "ACME® cola for the whole"
    assert repair.copy["body"] == "crisp and cold."
    assert repair.copy["disclosure"] == "Sponsored"
    assert {e["rule"] for e in repair.edits} == {
        "trademark", "banned_claim", "banned_term", "headline_length", "missing_disclosure"
    }  # fmt: skip
    assert all(e["field"] and e["edit"] for e in repair.edits)


def test_repair_leaves_price_claims_for_the_check_to_reject():
    repair = repair_copy({**GOOD, "body": "Only $2 a can."}, POLICY)
    assert [v.rule for v in check_copy(repair.copy, POLICY)] == ["price_claim"]


def test_truncation_cuts_at_a_word_boundary_under_the_limit():
    assert truncate_words("Crisp cola taste for you", 12) == "Crisp cola"
    assert truncate_words("Supercalifragilistic", 5) == "Super"
    assert truncate_words("short", 12) == "short"


def test_export_columns_follow_the_retailer_layout():
    assert export_columns({}) == {"headline": "headline", "body": "body", "cta": "cta", "disclosure": "disclosure"}
    layout = {"export_columns": {"headline": "Title", "body": "Description", "disclosure": "Legal"}}
    assert export_columns(layout) == {"headline": "Title", "body": "Description", "disclosure": "Legal"}

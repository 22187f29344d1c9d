import pytest

from ml.engine.policy import check_copy

POLICY = {
    "headline_max_chars": 30,
    "banned_claims": ["clinically proven", "#1", "best seller"],
    "required_disclosures": ["Sponsored"],
    "price_claims_allowed": False,
}
GOOD = {"headline": "Try Zero Cola today", "body": "Crisp cola taste. Add it to your cart.", "disclosure": "Sponsored"}


def rules(copy, policy=POLICY):
    return [v.rule for v in check_copy(copy, policy)]


def test_it_passes_compliant_copy():
    assert check_copy(GOOD, POLICY) == []


def test_it_catches_a_headline_over_the_limit_and_says_by_how_much():
    violations = check_copy({**GOOD, "headline": "x" * 31}, POLICY)
    assert [v.rule for v in violations] == ["headline_length"]
    assert "31 characters; the limit is 30" in violations[0].reason
    assert rules({**GOOD, "headline": "x" * 30}) == []


@pytest.mark.parametrize(
    "body",
    ["CLINICALLY PROVEN crunch.", "The #1 cola.", "A best seller, again.", "Crisp. Clinically  proven? no"],
)
def test_it_catches_banned_claims_case_insensitively(body):
    expected = [] if "  " in body else ["banned_claim"]
    assert rules({**GOOD, "body": body}) == expected


def test_it_matches_banned_claims_on_word_boundaries_only():
    assert rules({**GOOD, "body": "Our bestseller list and #10 pick."}) == []
    assert rules({**GOOD, "body": "Rated #1."}) == ["banned_claim"]


def test_it_catches_a_missing_disclosure_wherever_the_copy_would_carry_it():
    assert rules({**GOOD, "disclosure": ""}) == ["missing_disclosure"]
    assert rules({**GOOD, "disclosure": "", "body": "Crisp cola. sponsored"}) == []
    ad = {**POLICY, "required_disclosures": ["Ad"]}
    assert rules({**GOOD, "disclosure": "", "body": "Add it to your cart."}, ad) == ["missing_disclosure"]
    assert rules({**GOOD, "disclosure": "Ad", "body": "Add it to your cart."}, ad) == []


@pytest.mark.parametrize("body", ["Now only $3.99!", "Save $1 today.", "20% off this week.", "Just 2 dollars."])
def test_it_catches_price_claims_where_they_are_not_allowed(body):
    assert rules({**GOOD, "body": body}) == ["price_claim"]
    assert rules({**GOOD, "body": body}, {**POLICY, "price_claims_allowed": True}) == []


def test_a_policy_without_the_price_key_allows_price_claims():
    policy = {k: v for k, v in POLICY.items() if k != "price_claims_allowed"}
    assert rules({**GOOD, "body": "Now only $3.99!"}, policy) == []


def test_it_reports_every_violation_at_once():
    bad = {"headline": "The #1 cola for your whole family", "body": "Only $2.", "disclosure": ""}
    assert sorted(rules(bad)) == ["banned_claim", "headline_length", "missing_disclosure", "price_claim"]


def test_it_reports_copy_that_is_not_text():
    assert rules({"headline": 3, "body": "x"}) == ["invalid"]
    assert rules({**GOOD, "headline": "  "}) == ["invalid"]

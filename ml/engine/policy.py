"""Checking ad copy against a retailer's creative policy (``Retailer.policy_specs``). Django-free.

The policy keys: ``headline_max_chars`` (int), ``banned_claims`` (phrases, matched case-insensitively on word
boundaries anywhere in the copy), ``required_disclosures`` (each must appear in the copy, case-insensitively, on
word boundaries: "Ad" is not in "Add to cart") and ``price_claims_allowed`` (missing means allowed: a policy forbids
only what it states).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A price claim: an amount of money, a percentage off, or a saving stated in money.
PRICE_CLAIM = re.compile(
    r"(?:[$€£]\s?\d)|(?:\b\d+(?:[.,]\d+)?\s?(?:%|percent)\s+off\b)|(?:\bsave\s+(?:up\s+to\s+)?[$€£]?\d)"
    r"|(?:\b\d+(?:[.,]\d+)?\s?(?:dollars|cents|usd|eur)\b)|(?:\bhalf[- ]price\b)|(?:\bbogo\b)"
    r"|(?:\bbuy one,? get one\b)",
    re.I,
)


@dataclass(frozen=True)
class Violation:
    rule: str  # headline_length | banned_claim | missing_disclosure | price_claim | invalid
    reason: str

    def as_dict(self) -> dict:
        return {"rule": self.rule, "reason": self.reason}


def _claim_pattern(claim: str) -> re.Pattern:
    # \b fails next to a non-word character such as "#" in "#1": require "not a word character" on each side instead.
    return re.compile(rf"(?<!\w){re.escape(claim.strip())}(?!\w)", re.I)


def check_copy(copy: dict, policy: dict) -> list[Violation]:
    """Every way ``copy`` (``{"headline", "body", "disclosure"}``) breaks ``policy``; empty when it complies."""
    if not isinstance(copy, dict) or not all(isinstance(copy.get(k, ""), str) for k in ("headline", "body")):
        return [Violation("invalid", "The copy is not an object with text headline and body.")]
    headline = copy.get("headline") or ""
    text = " \n ".join(str(copy.get(k) or "") for k in ("headline", "body", "disclosure"))
    violations = []
    limit = policy.get("headline_max_chars")
    if not headline.strip():
        violations.append(Violation("invalid", "The headline is empty."))
    if limit and len(headline) > int(limit):
        violations.append(
            Violation("headline_length", f"Headline is {len(headline)} characters; the limit is {limit}.")
        )
    for claim in policy.get("banned_claims") or []:
        if claim and _claim_pattern(claim).search(text):
            violations.append(Violation("banned_claim", f"Uses the banned claim {claim!r}."))
    for disclosure in policy.get("required_disclosures") or []:
        if disclosure and not _claim_pattern(disclosure).search(text):
            violations.append(Violation("missing_disclosure", f"Lacks the required disclosure {disclosure!r}."))
    if not policy.get("price_claims_allowed", True):
        match = PRICE_CLAIM.search(text)
        if match:
            violations.append(Violation("price_claim", f"Makes a price claim ({match.group(0)!r}); not allowed."))
    return violations

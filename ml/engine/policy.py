"""Checking ad copy against a retailer's creative policy (``Retailer.policy_specs``) and rule-based repair.
Django-free.

The policy keys (every one optional: a policy forbids only what it states):

- ``headline_max_chars``, ``body_max_chars``, ``cta_max_chars``: character limits per field.
- ``banned_terms`` and ``banned_claims``: phrases matched case-insensitively on word boundaries in every field.
- ``required_disclosures``: each must appear somewhere in the copy, case-insensitively, on word boundaries ("Ad" is
  not in "Add to cart").
- ``trademark_rules``: ``[{"term": "acme", "form": "ACME®"}, {"term": "zapp", "form": ""}]``: wherever the term
  appears (any case) it must be written exactly as ``form``; an empty form means the term must not appear at all.
- ``price_claims_allowed``: missing means allowed.
- ``max_repairs``: how many times a failing variant is regenerated with its violations stated (default 2).
- ``export_columns``: ``{field: column name}``, the retailer's CSV layout for approved creatives.

``check_copy`` returns every violation, each naming its rule, field and reason. ``repair_copy`` applies the edits
rules can make (rewrite a trademark, remove a banned term or claim, append a missing disclosure, truncate at a word
boundary under a limit) and returns the copy with the edits made; the caller checks the result again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FIELDS = ("headline", "body", "cta", "disclosure")
LIMIT_KEYS = {"headline": "headline_max_chars", "body": "body_max_chars", "cta": "cta_max_chars"}
DEFAULT_MAX_REPAIRS = 2
DEFAULT_EXPORT_COLUMNS = {"headline": "headline", "body": "body", "cta": "cta", "disclosure": "disclosure"}

# A price claim: an amount of money, a percentage off, or a saving stated in money.
PRICE_CLAIM = re.compile(
    r"(?:[$€£]\s?\d)|(?:\b\d+(?:[.,]\d+)?\s?(?:%|percent)\s+off\b)|(?:\bsave\s+(?:up\s+to\s+)?[$€£]?\d)"
    r"|(?:\b\d+(?:[.,]\d+)?\s?(?:dollars|cents|usd|eur)\b)|(?:\bhalf[- ]price\b)|(?:\bbogo\b)"
    r"|(?:\bbuy one,? get one\b)",
    re.I,
)


@dataclass(frozen=True)
class Violation:
    # headline_length | body_length | cta_length | banned_term | banned_claim | missing_disclosure | trademark
    # | price_claim | invalid
    rule: str
    reason: str
    field: str = ""

    def as_dict(self) -> dict:
        return {"rule": self.rule, "field": self.field, "reason": self.reason}


@dataclass
class Repair:
    """The copy after rule-based edits and the edits made: ``[{"rule", "field", "edit"}]``."""

    copy: dict
    edits: list[dict] = field(default_factory=list)


def _claim_pattern(claim: str) -> re.Pattern:
    # \b fails next to a non-word character such as "#" in "#1": require "not a word character" on each side instead.
    return re.compile(rf"(?<!\w){re.escape(claim.strip())}(?!\w)", re.I)


def trademark_rules(policy: dict) -> list[tuple[str, str]]:
    """(term, form) pairs of the policy; form "" means the term must not appear."""
    rules = []
    for rule in policy.get("trademark_rules") or []:
        if isinstance(rule, dict) and str(rule.get("term") or "").strip():
            rules.append((str(rule["term"]).strip(), str(rule.get("form") or "")))
    return rules


def _trademark_misuses(text: str, term: str, form: str) -> list[re.Match]:
    """Occurrences of ``term`` not written as ``form`` (every occurrence when the term is banned)."""
    return [m for m in _claim_pattern(term).finditer(text) if not form or not text.startswith(form, m.start())]


def _fields(copy: dict) -> dict[str, str]:
    return {name: str(copy.get(name) or "") for name in FIELDS}


def check_copy(copy: dict, policy: dict) -> list[Violation]:
    """Every way ``copy`` (``{"headline", "body", "cta"?, "disclosure"}``) breaks ``policy``; empty when it complies."""
    if not isinstance(copy, dict) or not all(
        isinstance(copy.get(k, ""), str) or (copy.get(k) is None and k in ("cta", "disclosure")) for k in FIELDS
    ):
        return [Violation("invalid", "The copy is not an object with text headline and body.")]
    fields = _fields(copy)
    violations = []
    if not fields["headline"].strip():
        violations.append(Violation("invalid", "The headline is empty.", "headline"))
    for name, key in LIMIT_KEYS.items():
        limit = policy.get(key)
        if limit and len(fields[name]) > int(limit):
            violations.append(
                Violation(
                    f"{name}_length",
                    f"{name.capitalize() if name != 'cta' else 'CTA'} is {len(fields[name])} characters; "
                    f"the limit is {limit}.",
                    name,
                )
            )
    for rule, key, what in (("banned_term", "banned_terms", "term"), ("banned_claim", "banned_claims", "claim")):
        for phrase in policy.get(key) or []:
            if not phrase or not str(phrase).strip():
                continue
            for name, text in fields.items():
                if _claim_pattern(phrase).search(text):
                    violations.append(Violation(rule, f"Uses the banned {what} {phrase!r}.", name))
    whole = " \n ".join(fields.values())
    for disclosure in policy.get("required_disclosures") or []:
        if disclosure and not _claim_pattern(disclosure).search(whole):
            violations.append(
                Violation("missing_disclosure", f"Lacks the required disclosure {disclosure!r}.", "disclosure")
            )
    for term, form in trademark_rules(policy):
        for name, text in fields.items():
            misuses = _trademark_misuses(text, term, form)
            if misuses:
                reason = (
                    f"Writes {misuses[0].group(0)!r}; the trademark must be written {form!r}."
                    if form
                    else f"Uses {misuses[0].group(0)!r}, a term this retailer does not allow."
                )
                violations.append(Violation("trademark", reason, name))
    if not policy.get("price_claims_allowed", True):
        for name, text in fields.items():
            match = PRICE_CLAIM.search(text)
            if match:
                violations.append(
                    Violation("price_claim", f"Makes a price claim ({match.group(0)!r}); not allowed.", name)
                )
    return violations


def _tidy(text: str) -> str:
    """Spacing and punctuation left sensible after a phrase is cut out."""
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?=[,.;:!?])", "", text)
    text = re.sub(r"^[\s,.;:!?-]+", "", text)
    return text.strip()


def truncate_words(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters (mid-word only when one word is longer)."""
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    space = cut.rstrip().rfind(" ")
    head = cut[:space] if space > 0 else text[:limit]
    return head.rstrip(" ,;:-")


def repair_copy(copy: dict, policy: dict) -> Repair:
    """The edits rules can make so that ``copy`` complies with ``policy``. Price claims and an empty headline are not
    repaired here (no rule can say what the copy should claim instead): ``check_copy`` on the result still reports
    them."""
    fields = _fields(copy)
    edits: list[dict] = []

    def edit(rule: str, name: str, new: str, what: str) -> None:
        if new != fields[name]:
            fields[name] = new
            edits.append({"rule": rule, "field": name, "edit": what})

    for term, form in trademark_rules(policy):
        for name in FIELDS:
            text = fields[name]
            misuses = _trademark_misuses(text, term, form)
            if not misuses:
                continue
            for match in reversed(misuses):
                text = text[: match.start()] + form + text[match.end() :]
            what = f"Wrote {misuses[0].group(0)!r} as {form!r}." if form else f"Removed {misuses[0].group(0)!r}."
            edit("trademark", name, _tidy(text) if not form else text, what)
    for rule, key in (("banned_term", "banned_terms"), ("banned_claim", "banned_claims")):
        for phrase in policy.get(key) or []:
            if not phrase or not str(phrase).strip():
                continue
            pattern = _claim_pattern(phrase)
            for name in FIELDS:
                if pattern.search(fields[name]):
                    edit(rule, name, _tidy(pattern.sub("", fields[name])), f"Removed {str(phrase).strip()!r}.")
    for name, key in LIMIT_KEYS.items():
        limit = policy.get(key)
        if limit and len(fields[name]) > int(limit):
            edit(
                f"{name}_length",
                name,
                truncate_words(fields[name], int(limit)),
                f"Cut from {len(fields[name])} to at most {int(limit)} characters at a word boundary.",
            )
    for disclosure in policy.get("required_disclosures") or []:
        whole = " \n ".join(fields.values())
        if disclosure and not _claim_pattern(disclosure).search(whole):
            current = fields["disclosure"].strip()
            edit(
                "missing_disclosure",
                "disclosure",
                f"{current} {disclosure.strip()}".strip(),
                f"Appended the required disclosure {disclosure.strip()!r}.",
            )
    return Repair(copy={**copy, **fields}, edits=edits)


def max_repairs(policy: dict) -> int:
    value = policy.get("max_repairs", DEFAULT_MAX_REPAIRS)
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return DEFAULT_MAX_REPAIRS


def export_columns(policy: dict) -> dict[str, str]:
    """``{field: column}`` for the retailer's CSV, in field order; a field the layout leaves out is not exported
    unless the layout is empty (then every field, under its own name)."""
    layout = policy.get("export_columns") or {}
    if not isinstance(layout, dict) or not layout:
        return dict(DEFAULT_EXPORT_COLUMNS)
    return {name: str(layout[name]) for name in FIELDS if str(layout.get(name) or "").strip()}

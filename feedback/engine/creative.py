"""One ad-copy variant written, verified against the retailer policy and repaired. Django-free.

``write_variant`` asks the model (any ``generate(messages) -> text`` callable) for an answer, parses it, checks it
with ``ml.engine.policy.check_copy``; while it fails it asks again with the violations stated, up to ``max_repairs``
times, then applies the rule-based edits (``repair_copy``). The result says what happened at each step, so the page
can show what was repaired and how, and why a rejected variant failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from ml.engine.policy import FIELDS, check_copy, max_repairs, repair_copy, trademark_rules
from ml.engine.prompts import parse_answer, task_messages

# One angle per variant so that N variants are N different takes on the brief, not N copies of one.
ANGLES = (
    "lead with the taste or the experience",
    "lead with the value for money",
    "lead with convenience",
    "lead with quality and ingredients",
    "lead with an occasion to use it",
    "lead with what is new",
    "speak to a first-time buyer",
    "speak to a loyal customer",
)
UNPARSEABLE = "The model's answer is not JSON with text headline, body and disclosure."


@dataclass(frozen=True)
class BriefText:
    retailer: str
    brand: str
    products: list[str]
    goal: str
    tone: str = ""
    promotion: str = ""


@dataclass
class VariantResult:
    copy: dict  # {headline, body, cta, disclosure}: the final text (empty strings when nothing parsed)
    compliant: bool
    violations: list[dict]  # what still fails (empty when compliant)
    repairs: list[dict]  # [{"step": "regenerate", "attempt", "violations", "parsed"} | {"step": "rules", "edits"}]
    first_violations: list[dict]
    raw_output: str
    messages: list[dict]
    parsed: bool = True
    outputs: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        return self.compliant and bool(self.repairs)

    def verification(self, policy: dict) -> dict:
        return {
            "compliant": self.compliant,
            "parsed": self.parsed,
            "violations": self.violations,
            "first_violations": self.first_violations,
            "repairs": self.repairs,
            "policy": policy,
        }


def angle(variant: int) -> str:
    return ANGLES[(variant - 1) % len(ANGLES)]


def variant_messages(brief: BriefText, policy: dict, variant: int) -> list[dict]:
    """The creative task's prompt (ml.engine.prompts) for one variant, its angle in the brief; rules the task
    template does not state (other limits, banned terms, trademarks) follow on one more line when the policy has
    them."""
    parts = [brief.goal.strip().rstrip(".")]
    if brief.tone.strip():
        parts.append(f"tone: {brief.tone.strip()}")
    if brief.promotion.strip():
        parts.append(f"offer: {brief.promotion.strip()}")
    parts.append(f"angle: {angle(variant)}")
    payload = {
        "retailer": brief.retailer,
        "brand": brief.brand,
        "product": ", ".join(brief.products) or brief.brand,
        "brief": "; ".join(parts),
        "policy": policy,
    }
    messages = task_messages("creative", payload)
    extra = []
    for name in ("body", "cta"):
        if policy.get(f"{name}_max_chars"):
            extra.append(f"{name} max: {policy[f'{name}_max_chars']} chars")
    if policy.get("banned_terms"):
        extra.append(f"banned terms: {'; '.join(policy['banned_terms'])}")
    rules = trademark_rules(policy)
    if rules:
        extra.append("trademarks: " + "; ".join(f"write {form}" if form else f"never {term}" for term, form in rules))
    if extra:
        messages[-1] = {**messages[-1], "content": messages[-1]["content"] + "\n" + "\n".join(extra)}
    return messages


def parse_creative(text: str) -> dict | None:
    """The answer's {headline, body, cta, disclosure}; the creative task answers the first three
    (``parse_answer``), a "cta" string in the same object is kept too."""
    answer = parse_answer("creative", text or "")
    if answer is None:
        return None
    cta = ""
    start = text.find("{")
    try:
        obj, _ = json.JSONDecoder().raw_decode(text[start:])
        if isinstance(obj, dict) and isinstance(obj.get("cta"), str):
            cta = obj["cta"]
    except json.JSONDecodeError:
        pass
    return {"headline": answer["headline"], "body": answer["body"], "cta": cta, "disclosure": answer["disclosure"]}


def retry_messages(messages: list[dict], answer: str, violations: list[dict]) -> list[dict]:
    reasons = "; ".join(f"{v['field'] or 'copy'}: {v['reason']}" for v in violations)
    return [
        *messages,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": f"That breaks the retailer policy: {reasons} Write it again as JSON that fixes "
                                    "every point."},
    ]  # fmt: skip


def write_variant(messages: list[dict], policy: dict, generate: Callable[[list[dict]], str]) -> VariantResult:
    """Generate, verify and repair one variant (see the module docstring)."""
    raw = generate(messages)
    outputs = [raw]
    copy = parse_creative(raw)
    violations = [v.as_dict() for v in check_copy(copy, policy)] if copy else [_unparseable()]
    first = list(violations)
    repairs: list[dict] = []
    answer = raw
    for attempt in range(1, max_repairs(policy) + 1):
        if not violations:
            break
        answer = generate(retry_messages(messages, answer, violations))
        outputs.append(answer)
        candidate = parse_creative(answer)
        stated = violations
        if candidate is not None:
            copy = candidate
            violations = [v.as_dict() for v in check_copy(copy, policy)]
        repairs.append(
            {"step": "regenerate", "attempt": attempt, "violations": stated, "parsed": candidate is not None,
             "fixed": candidate is not None and not violations}
        )  # fmt: skip
    if violations and copy is not None:
        fixed = repair_copy(copy, policy)
        if fixed.edits:
            copy = {name: fixed.copy[name] for name in FIELDS}
            repairs.append({"step": "rules", "edits": fixed.edits})
            violations = [v.as_dict() for v in check_copy(copy, policy)]
    return VariantResult(
        copy=copy or dict.fromkeys(FIELDS, ""),
        compliant=copy is not None and not violations,
        violations=violations,
        repairs=repairs,
        first_violations=first,
        raw_output=raw,
        messages=messages,
        parsed=copy is not None,
        outputs=outputs,
    )


def _unparseable() -> dict:
    return {"rule": "invalid", "field": "", "reason": UNPARSEABLE}

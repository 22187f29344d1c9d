"""What a finished plan tells its reader, by severity, and the outcome that follows (docs/optimization.md,
"Outcomes and notices"). Django-free.

The allocator's ``warnings`` are sentences for the optimize command's OUT.json (a pinned contract). Notices carry the
same facts as data: a kind, a severity, the channels and SKUs concerned and the figures, so that a page can lead with
one plain sentence in display names and fold the technical text (``text``) beneath it.

Severities: ``critical`` (the plan does not do what was asked: the floor is held only by leaving most of the budget
unspent, or the plan covers another period than its objective names), ``warning`` (the plan does what was asked
but something needs a decision: budget left unspent, a channel left out, a floor the whole budget cannot promise,
spend far past the history) and ``info`` (adjustments made for the reader's benefit: stock-outs, excluded SKUs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITIES = (CRITICAL, WARNING, INFO)

READY, READY_WITH_WARNINGS, CANNOT_MEET, FAILED = "ready", "ready_with_warnings", "cannot_meet", "failed"

# Budget left unspent below this share is rounding, not news.
UNSPENT_NOTICE_SHARE = 0.005
# A floor held only by leaving more than this share unspent does not meet the request (the allocator's own
# "Meeting min_roas ... leaves ... unspent" warning uses the same line).
UNSPENT_CANNOT_MEET_SHARE = 0.5


@dataclass(frozen=True)
class Notice:
    kind: str
    severity: str
    text: str
    channels: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()
    figures: Mapping[str, float | str | None] = field(default_factory=dict)
    details: tuple[str, ...] = ()  # technical lines beyond ``text`` (one per SKU or channel)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "text": self.text,
            "channels": list(self.channels),
            "skus": list(self.skus),
            "figures": dict(self.figures),
            "details": list(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Notice:
        return cls(
            kind=str(data.get("kind") or "note"),
            severity=data.get("severity") if data.get("severity") in SEVERITIES else INFO,
            text=str(data.get("text") or ""),
            channels=tuple(data.get("channels") or ()),
            skus=tuple(data.get("skus") or ()),
            figures=dict(data.get("figures") or {}),
            details=tuple(str(d) for d in data.get("details") or ()),
        )


def ranked(notices: Iterable[Notice]) -> list[Notice]:
    """Critical first, then warnings (unspent budget leading them), then informational notes; stable otherwise."""
    order = {CRITICAL: 0, WARNING: 1, INFO: 2}
    return sorted(notices, key=lambda n: (order.get(n.severity, 2), n.kind != "unspent"))


def outcome(notices: Iterable[Notice]) -> str:
    """The state a successfully optimized plan ends in: cannot_meet, ready_with_warnings or ready."""
    severities = {n.severity for n in notices}
    if CRITICAL in severities:
        return CANNOT_MEET
    if WARNING in severities:
        return READY_WITH_WARNINGS
    return READY


def _money(x: float) -> str:
    return f"{x:,.2f}"


def unspent_notice(result: Mapping) -> Notice | None:
    """The one notice about budget left unspent, from an AllocationResult.to_dict(): critical when the ROAS floor
    (or its promise) keeps more than half of the budget back, a warning otherwise; None below 0.5%."""
    totals = result.get("totals") or {}
    constraints = result.get("constraints") or {}
    budget, unspent = float(totals.get("budget") or 0.0), float(totals.get("unspent") or 0.0)
    if budget <= 0 or unspent <= UNSPENT_NOTICE_SHARE * budget:
        return None
    share = unspent / budget
    floor = constraints.get("min_roas") or {}
    chance = constraints.get("chance") or {}
    promise = result.get("promise") or {}
    capped = [
        any(b == "max_bound" or str(b).startswith("retailer_max") or b == "excluded" for b in a.get("binding") or ())
        for a in result.get("allocations") or ()
    ]
    if promise.get("full_spend"):
        cause = "promise"
    elif floor.get("binding") or chance.get("binding"):
        cause = "floor"
    elif capped and all(capped):
        cause = "max_bounds"
    else:
        cause = "margin"
    held_by_floor = cause in ("floor", "promise")
    severity = CRITICAL if held_by_floor and share > UNSPENT_CANNOT_MEET_SHARE else WARNING
    limit = floor.get("limit")
    if cause == "promise":
        why = f"spending more could not hold min_roas {limit:g} with the asked probability"
    elif cause == "floor":
        why = f"spending more would take the period's ROAS below min_roas {limit:g}"
    elif cause == "max_bounds":
        why = "every channel is at its maximum"
    else:
        why = "more spend would cost more than the incremental margin it brings"
    return Notice(
        kind="unspent",
        severity=severity,
        text=f"{_money(unspent)} of the {_money(budget)} budget ({share:.0%}) is left unspent: {why}.",
        figures={
            "unspent": unspent,
            "budget": budget,
            "share": share,
            "cause": cause,
            "min_roas": floor.get("limit"),
            "expected_roas": floor.get("expected"),
        },
    )


def period_notice(*, objective_days: int | None, plan_days: int) -> Notice | None:
    """Critical when the objective's own words name another period than the plan covers ("over 4 weeks" read as
    4 days): the plan answers another question than the one asked."""
    if objective_days is None or int(objective_days) == int(plan_days):
        return None
    return Notice(
        kind="period_mismatch",
        severity=CRITICAL,
        text=f"The objective names a period of {objective_days} days; the plan covers {plan_days} days.",
        figures={"objective_days": int(objective_days), "plan_days": int(plan_days)},
    )


def objective_period_days(text: str) -> int | None:
    """The period a plan's objective text names, when the text reads as a plan in words (a budget and one period:
    "$40k over 4 weeks"); None otherwise. A name such as "Q2 push" names a time, not the plan's length."""
    from optimizer.engine.objective_reader import read_objective

    if not (text or "").strip():
        return None
    reading = read_objective(text)
    if reading.budget is None or reading.period_days is None or "period_days" in reading.ambiguous:
        return None
    return int(reading.period_days)


def legacy_notices(result: Mapping) -> list[Notice]:
    """Notices for a result stored before they existed: the unspent one, and each warning as an informational
    note (the floor's unspent warning is the unspent notice itself, so it is not repeated)."""
    notices = [n for n in [unspent_notice(result)] if n]
    for text in result.get("warnings") or ():
        if str(text).startswith("Meeting min_roas") and notices:
            continue
        notices.append(Notice(kind="note", severity=INFO, text=str(text)))
    return notices

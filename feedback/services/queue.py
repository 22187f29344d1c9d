"""Putting things in front of reviewers: compliant creatives and plan versions become review items.

Only a compliant creative is queued (``Creative.compliant``); a rejected one stays out, kept as a negative.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import transaction

from feedback.models import Creative, CreativeEvent, ReviewItem, ReviewTask
from governance.models import Tenant
from optimizer.models import AllocationPlan

DEFAULT_TASK_NAMES = {ReviewTask.Kind.CREATIVE: "Ad copy", ReviewTask.Kind.PLAN: "Budget plans"}


def review_task_default(*, tenant: Tenant, kind: str) -> ReviewTask:
    """The tenant's default task of ``kind`` (created on first use, overlap 2)."""
    task, _ = ReviewTask.objects.get_or_create(
        tenant=tenant, name=DEFAULT_TASK_NAMES[kind], defaults={"kind": kind, "overlap": 2}
    )
    return task


def creative_item_content(creative: Creative) -> dict:
    return {
        "fields": creative.fields(),
        "retailer": creative.retailer.name,
        "brief": {"goal": creative.brief.goal, "tone": creative.brief.tone, "promotion": creative.brief.promotion},
        "verification": creative.verification,
    }


def queue_creatives(*, creatives: Iterable[Creative], actor=None, task: ReviewTask | None = None) -> list[ReviewItem]:
    """Queue each compliant creative as a single item in ``task`` (default: the tenant's "Ad copy" task) and mark it
    in review; a creative that is not compliant is skipped (never queued as compliant)."""
    items = []
    with transaction.atomic():
        for creative in creatives:
            if not creative.compliant or creative.status != Creative.Status.DRAFT:
                continue
            target = task or review_task_default(tenant=creative.tenant, kind=ReviewTask.Kind.CREATIVE)
            items.append(
                ReviewItem.objects.create(
                    tenant=creative.tenant,
                    task=target,
                    kind=ReviewItem.Kind.SINGLE,
                    creative=creative,
                    prompt=creative.prompt,
                    content=creative_item_content(creative),
                    adapter_versions=creative.adapter_versions,
                )
            )
            CreativeEvent.objects.create(
                creative=creative, from_status=creative.status, to_status=Creative.Status.IN_REVIEW, actor=actor,
                note=f"Queued for review in {target.name}.",
            )  # fmt: skip
            creative.status = Creative.Status.IN_REVIEW
            creative.save(update_fields=["status", "updated_at"])
    return items


def queue_creative_pairs(*, creatives: Iterable[Creative], actor=None, task: ReviewTask | None = None) -> list:
    """A/B review of a brief's two takes: where both takes of a variant (the same prompt) passed the policy and say
    different things, they are queued as one pair item (the reviewer says which is better; its preference becomes a
    DPO pair of that prompt), the sides in an order fixed by a coin per variant so neither take is always A. A take
    without a compliant twin is queued as a single item as before; twins that read the same, the first take only."""
    by_variant: dict[tuple[int, int], list[Creative]] = {}
    for creative in creatives:
        if creative.compliant and creative.status == Creative.Status.DRAFT:
            by_variant.setdefault((creative.brief_id, creative.variant), []).append(creative)
    items, singles = [], []
    with transaction.atomic():
        for (brief_id, variant), takes in sorted(by_variant.items()):
            takes.sort(key=lambda c: c.take)
            if len(takes) == 2 and takes[0].fields() == takes[1].fields():
                takes = takes[:1]  # the same copy twice: reviewed once
            if len(takes) != 2 or takes[0].prompt != takes[1].prompt:
                singles.extend(takes)
                continue
            a, b = takes if _coin(brief_id, variant) else takes[::-1]
            target = task or review_task_default(tenant=a.tenant, kind=ReviewTask.Kind.CREATIVE)
            content = creative_item_content(a)
            content.update(a=a.fields(), b=b.fields(), verification={"a": a.verification, "b": b.verification})
            del content["fields"]
            item = ReviewItem.objects.create(
                tenant=a.tenant, task=target, kind=ReviewItem.Kind.PAIR, creative=a, creative_b=b,
                prompt=a.prompt, content=content, adapter_versions=a.adapter_versions,
            )  # fmt: skip
            items.append(item)
            for creative in (a, b):
                CreativeEvent.objects.create(
                    creative=creative, from_status=creative.status, to_status=Creative.Status.IN_REVIEW, actor=actor,
                    note=f"Queued for A/B review beside take {b.take if creative is a else a.take} in {target.name}.",
                )  # fmt: skip
                creative.status = Creative.Status.IN_REVIEW
                creative.save(update_fields=["status", "updated_at"])
        items.extend(queue_creatives(creatives=singles, actor=actor, task=task))
    return items


def _coin(brief_id: int, variant: int) -> bool:
    return hashlib.sha256(f"{brief_id}:{variant}".encode()).digest()[0] % 2 == 0


def _money(value, currency: str) -> str:
    try:
        return f"{float(value):,.0f} {currency}"
    except (TypeError, ValueError):
        return "?"


def plan_item_content(plan: AllocationPlan) -> dict:
    """What a reviewer rates for a plan version: a plain explanation (spend, expected margin and ROAS, warnings) and
    the allocation as rows of retailer, placement, spend, expected incremental margin and attributed ROAS."""
    result = plan.result or {}
    totals = result.get("totals") or {}
    currency = plan.currency
    parts = [
        f"Spend {_money(totals.get('spend'), currency)} of {_money(plan.budget, currency)} over "
        f"{plan.period_days} days",
        f"expected incremental margin {_money(totals.get('expected_incremental_margin'), currency)}",
    ]
    roas = totals.get("expected_attributed_roas")
    if roas is not None:
        parts.append(f"attributed ROAS {float(roas):.2f}" + (f" (floor {plan.min_roas})" if plan.min_roas else ""))
    explanation = "; ".join(parts) + "."
    warnings = [str(w) for w in result.get("warnings") or []]
    allocation = [
        {
            "retailer": row.get("retailer"),
            "placement": row.get("placement_type"),
            "spend": round(float(row.get("spend") or 0), 2),
            "expected_incremental_margin": round(float(row.get("expected_incremental_margin") or 0), 2),
            "attributed_roas": None if row.get("expected_attributed_roas") is None
            else round(float(row["expected_attributed_roas"]), 2),
        }
        for row in result.get("allocations") or []
    ]  # fmt: skip
    return {
        "name": plan.name,
        "version": plan.version,
        "budget": str(plan.budget),
        "currency": currency,
        "explanation": explanation,
        "warnings": warnings,
        "allocation": allocation,
    }


def queue_plan(*, plan: AllocationPlan, task: ReviewTask | None = None) -> ReviewItem:
    """Queue one finished plan version for reviewers to rate (its explanation and allocation)."""
    target = task or review_task_default(tenant=plan.tenant, kind=ReviewTask.Kind.PLAN)
    return ReviewItem.objects.create(
        tenant=plan.tenant,
        task=target,
        kind=ReviewItem.Kind.PLAN,
        plan=plan,
        prompt=[{"role": "user", "content": plan.name or f"Allocate {plan.budget} {plan.currency}"}],
        content=plan_item_content(plan),
    )

"""Helpers for the datasets-from-feedback tests: items with their prompts, answers through the console's services."""

from __future__ import annotations

from feedback.models import Assignment, ReviewItem, ReviewTask
from feedback.services.review import review_submit
from ml.engine.prompts import answer_text

FOUR = ("on_brand", "compliant", "persuasive", "clear")


def prompt(n) -> list[dict]:
    return [
        {"role": "system", "content": "Write ad copy as JSON that follows the retailer policy."},
        {"role": "user", "content": f"retailer: Amazon\nbrand: Acme\nproduct: granola no {n}"},
    ]


def fields(headline: str, body: str = "Fresh oats, baked today.") -> dict:
    return {"headline": headline, "body": body, "cta": "Shop now", "disclosure": ""}


def text(f: dict) -> list[dict]:
    """A creative's fields as the assistant message the rows carry."""
    return [{"role": "assistant", "content": answer_text("creative", f)}]


def single(task: ReviewTask, n, headline: str, *, gold: dict | None = None, body: str = "Fresh oats, baked today."):
    return ReviewItem.objects.create(
        tenant=task.tenant, task=task, kind=ReviewItem.Kind.SINGLE, prompt=prompt(n),
        content={"fields": fields(headline, body)}, is_gold=gold is not None, gold=gold,
    )  # fmt: skip


def pair(task: ReviewTask, n, a: str, b: str):
    return ReviewItem.objects.create(
        tenant=task.tenant, task=task, kind=ReviewItem.Kind.PAIR, prompt=prompt(n),
        content={"a": fields(a), "b": fields(b)},
    )  # fmt: skip


def rate(value: int) -> dict:
    return dict.fromkeys(FOUR, value)


def answer(item: ReviewItem, reviewer, **kwargs):
    """The reviewer's answer, given as the console gives it (assignment, then review_submit)."""
    Assignment.objects.get_or_create(item=item, reviewer=reviewer)
    return review_submit(item=item, reviewer=reviewer, **kwargs)


def answer_all(item: ReviewItem, reviewers, **kwargs) -> list:
    return [answer(item, r, **kwargs) for r in reviewers]

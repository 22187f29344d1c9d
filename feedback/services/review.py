"""Reviewers at work: the next item (assignment), answers (append-only feedback), undo, and adjudication.

Assignment is safe under concurrency: the item row is locked (``select_for_update(skip_locked=True)`` on PostgreSQL)
and its assignments are counted again under the lock, so two reviewers asking at once never push an item past its
task's ``overlap``, and nobody gets the same item twice (a unique constraint backs that). Gold items go to every
reviewer once (they measure each reviewer) and never become conflicts.
"""

from __future__ import annotations

import time

from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import DomainError
from feedback.engine.agreement import disagreements
from feedback.models import CREATIVE_FIELDS, Adjudication, Assignment, Feedback, Guideline, ReviewItem, ReviewTask
from governance.privacy import PIITally

CANDIDATES = 2  # open items locked per try; the first one that still has room wins
ASSIGN_TRIES = 20
THUMB_TAGS_MAX = 10


def guideline_current(*, task: ReviewTask) -> Guideline | None:
    return task.guidelines.order_by("-version").first()


def guideline_create(*, task: ReviewTask, text: str, user=None) -> Guideline:
    """A new version of the task's guidelines (the old ones stay as they were: answers point at them)."""
    if not text.strip():
        raise DomainError("Write the guidelines.", field="text")
    with transaction.atomic():
        ReviewTask.objects.select_for_update().filter(pk=task.pk).first()
        latest = task.guidelines.order_by("-version").values_list("version", flat=True).first() or 0
        return Guideline.objects.create(task=task, version=latest + 1, text=text, created_by=user)


def _open_for(*, task: ReviewTask, reviewer):
    assigned = (
        Assignment.objects.filter(item=OuterRef("pk")).order_by().values("item").annotate(n=Count("id")).values("n")
    )
    return (
        ReviewItem.objects.filter(task=task, status=ReviewItem.Status.OPEN)
        .exclude(assignments__reviewer=reviewer)
        .annotate(n_assigned=Coalesce(Subquery(assigned), 0))
        .filter(Q(is_gold=True) | Q(n_assigned__lt=task.overlap))
        .order_by("id")
    )


def review_next(*, task: ReviewTask, reviewer) -> Assignment | None:
    """The reviewer's oldest pending assignment in ``task``, or a new one: the oldest open item they have not had
    that still has fewer than ``overlap`` reviewers. None when the queue has nothing for them."""
    pending = (
        Assignment.objects.filter(item__task=task, reviewer=reviewer, status=Assignment.Status.PENDING)
        .select_related("item")
        .order_by("id")
        .first()
    )
    if pending is not None:
        return pending
    for attempt in range(ASSIGN_TRIES):
        with transaction.atomic():
            candidates = list(
                _open_for(task=task, reviewer=reviewer).select_for_update(skip_locked=True, of=("self",))[:CANDIDATES]
            )
            for item in candidates:
                # Counted again under the row lock: a reviewer who took a seat and committed is seen now.
                if not item.is_gold and item.assignments.count() >= task.overlap:
                    continue
                try:
                    with transaction.atomic():
                        assignment = Assignment.objects.create(item=item, reviewer=reviewer)
                    item.task = task  # the caller renders it: no query for what we hold
                    assignment.is_new = True  # handed out just now: nothing of this reviewer's to show on it yet
                    return assignment
                except IntegrityError:  # the same reviewer asking twice at once
                    continue
        # Every candidate was locked by someone else's assignment, or filled up meanwhile: is anything left?
        if not _open_for(task=task, reviewer=reviewer).exists():
            return None
        time.sleep(0.005 * (attempt + 1))
    return None


def _answer(fb) -> dict:
    return {"thumb": fb.thumb, "preference": fb.preference, "ratings": fb.ratings or {}}


def _validate(
    *, item: ReviewItem, thumb: str, reason_tags, ratings, preference: str, correction, complete: bool = True
) -> dict:
    """The answer cleaned, or a DomainError naming its field. ``complete``: a reviewer's answer rates every
    criterion (or gives a thumb); an adjudicator's ruling may settle only the questions in dispute."""
    criteria = item.task.criteria_list
    if thumb and thumb not in Feedback.Thumb.values:
        raise DomainError(f"Thumb must be one of {', '.join(Feedback.Thumb.values)}.", field="thumb")
    if preference and preference not in Feedback.Preference.values:
        raise DomainError(f"Preference must be one of {', '.join(Feedback.Preference.values)}.", field="preference")
    tags = [str(t).strip() for t in (reason_tags or []) if str(t).strip()]
    if len(tags) > THUMB_TAGS_MAX or any(len(t) > 50 for t in tags):
        raise DomainError(f"At most {THUMB_TAGS_MAX} reason tags of up to 50 characters.", field="reason_tags")
    clean_ratings = {}
    for criterion, value in (ratings or {}).items():
        if criterion not in criteria:
            known = ", ".join(criteria)
            raise DomainError(f"{criterion!r} is not a criterion of this task ({known}).", field="ratings")
        if value in (None, ""):
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise DomainError(f"Rate {criterion} from 1 to 5.", field=f"ratings.{criterion}") from None
        if not 1 <= number <= 5 or str(number) != str(value).strip():
            raise DomainError(f"Rate {criterion} from 1 to 5.", field=f"ratings.{criterion}")
        clean_ratings[criterion] = number
    if item.kind == ReviewItem.Kind.PAIR:
        if not preference:
            raise DomainError("Say which is better: A, B, tie or both bad.", field="preference")
    elif preference:
        raise DomainError("Only a pair of items takes a preference.", field="preference")
    elif complete:
        missing = [c for c in criteria if c not in clean_ratings]
        if missing and not thumb:
            raise DomainError(
                f"Rate every criterion (missing: {', '.join(missing)}) or give a thumb.", field=f"ratings.{missing[0]}"
            )
        if clean_ratings and missing:
            raise DomainError(f"Rate every criterion (missing: {', '.join(missing)}).", field=f"ratings.{missing[0]}")
    clean_correction = None
    if correction:
        if item.kind == ReviewItem.Kind.PLAN:
            raise DomainError("A plan takes no correction; say what to change in the reason.", field="correction")
        unknown = set(correction) - set(CREATIVE_FIELDS)
        if unknown:
            raise DomainError(f"A correction has the fields {', '.join(CREATIVE_FIELDS)}.", field="correction")
        clean_correction = {k: str(v).strip() for k, v in correction.items() if str(v or "").strip()}
        clean_correction = clean_correction or None
    return {"tags": tags, "ratings": clean_ratings, "correction": clean_correction}


def review_submit(
    *,
    item: ReviewItem,
    reviewer,
    thumb: str = "",
    reason_tags: list[str] | None = None,
    ratings: dict | None = None,
    preference: str = "",
    reason: str = "",
    correction: dict | None = None,
    seconds_spent: float | None = None,
    guideline: Guideline | None = None,
) -> Feedback:
    """Record the reviewer's answer to an item assigned to them. A second answer supersedes the first (a new row;
    only the current one counts). When every reviewer's answer is in, the item is complete, or a conflict when
    they disagree (``feedback.engine.agreement.disagreements``)."""
    clean = _validate(
        item=item, thumb=thumb, reason_tags=reason_tags, ratings=ratings, preference=preference, correction=correction
    )
    if seconds_spent is not None and not 0 <= seconds_spent < 86400:
        raise DomainError("Seconds spent must be between 0 and 86400.", field="seconds_spent")
    if guideline is not None and guideline.task_id != item.task_id:
        raise DomainError("That guideline is not this task's.", field="guideline")
    # A reviewer's words and corrections become training data: no personal data in them, ever.
    pii = PIITally(source="feedback.review", tenant=item.tenant, user=reviewer, obj=item)
    reason = pii.scrub(reason.strip())
    correction = pii.scrub_json(clean["correction"]) if clean["correction"] else clean["correction"]
    with transaction.atomic():
        assignment = Assignment.objects.select_for_update().filter(item=item, reviewer=reviewer).first()
        if assignment is None:
            raise DomainError("This item is not assigned to you.", field="item", code="forbidden")
        pii.record()
        previous = Feedback.objects.filter(item=item, reviewer=reviewer).order_by("-id").first()
        if previous is not None and previous.is_current:
            previous.is_current = False
            previous.save(update_fields=["is_current"])
        feedback = Feedback.objects.create(
            tenant_id=item.tenant_id, item=item, reviewer=reviewer, thumb=thumb, reason_tags=clean["tags"],
            ratings=clean["ratings"], preference=preference, reason=reason, correction=correction,
            prompt=item.prompt, adapter_versions=item.adapter_versions,
            guideline=guideline or guideline_current(task=item.task), seconds_spent=seconds_spent,
            supersedes=previous,
        )  # fmt: skip
        assignment.status = Assignment.Status.SUBMITTED
        assignment.submitted_at = timezone.now()
        assignment.save(update_fields=["status", "submitted_at"])
        _settle(item)
    return feedback


def review_undo(*, item: ReviewItem, reviewer) -> Feedback:
    """Withdraw the reviewer's current answer to ``item``: it stops counting (kept, never deleted), the item is
    theirs to answer again, and the next answer supersedes the withdrawn one."""
    with transaction.atomic():
        current = Feedback.objects.select_for_update().filter(item=item, reviewer=reviewer, is_current=True).first()
        if current is None:
            raise DomainError("You have no answer to undo on this item.", field="item")
        if item.status == ReviewItem.Status.RESOLVED:
            raise DomainError("An adjudicator has settled this item; it can no longer change.", field="item")
        current.is_current = False
        current.save(update_fields=["is_current"])
        Assignment.objects.filter(item=item, reviewer=reviewer).update(
            status=Assignment.Status.PENDING, submitted_at=None
        )
        _settle(item)
    return current


def review_last_answered(*, task: ReviewTask, reviewer) -> Feedback | None:
    return (
        Feedback.objects.filter(item__task=task, reviewer=reviewer, is_current=True)
        .exclude(item__status=ReviewItem.Status.RESOLVED)
        .select_related("item")
        .order_by("-id")
        .first()
    )


def _settle(item: ReviewItem) -> None:
    """Open, complete or conflict, from the current answers (a resolved item stays resolved; gold stays open)."""
    if item.status == ReviewItem.Status.RESOLVED or item.is_gold:
        return
    answers = [_answer(fb) for fb in Feedback.objects.filter(item=item, is_current=True)]
    if len(answers) < item.task.overlap:
        status = ReviewItem.Status.OPEN
    else:
        status = ReviewItem.Status.CONFLICT if disagreements(answers) else ReviewItem.Status.COMPLETE
    if status != item.status:
        item.status = status
        item.save(update_fields=["status"])


def review_adjudicate(
    *, item: ReviewItem, adjudicator, thumb: str = "", ratings: dict | None = None, preference: str = "", note: str = ""
) -> Adjudication:
    """Settle a conflict: the answer that stands (an Adjudication row); the item becomes resolved."""
    if item.status != ReviewItem.Status.CONFLICT:
        raise DomainError("Only an item whose reviewers disagree can be adjudicated.", field="item")
    clean = _validate(
        item=item, thumb=thumb, reason_tags=[], ratings=ratings, preference=preference, correction=None, complete=False
    )
    if not (thumb or preference or clean["ratings"]):
        raise DomainError("Give the answer that stands: a thumb, a preference or ratings.", field="thumb")
    decision = {k: v for k, v in {"thumb": thumb, "preference": preference, "ratings": clean["ratings"]}.items() if v}
    with transaction.atomic():
        locked = ReviewItem.objects.select_for_update().get(pk=item.pk)
        if locked.status != ReviewItem.Status.CONFLICT:
            raise DomainError("Another adjudicator has just settled this item.", field="item")
        pii = PIITally(source="feedback.adjudication", tenant=item.tenant, user=adjudicator, obj=item)
        note = pii.scrub(note.strip())
        ruling = Adjudication.objects.create(
            tenant_id=item.tenant_id, item=item, adjudicator=adjudicator, decision=decision, note=note
        )
        pii.record()
        locked.status = ReviewItem.Status.RESOLVED
        locked.save(update_fields=["status"])
    item.status = ReviewItem.Status.RESOLVED
    return ruling

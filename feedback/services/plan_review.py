"""Marketers' decisions on plan versions (approve, reject, request changes), and plan versions queued for reviewers.

A decision is a ``PlanReview`` row (append-only: a later decision is a new row) and sets the version's
``AllocationPlan.review_status``; only an approved version can be exported (optimizer.services.plans).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from core.errors import DomainError
from feedback.models import PlanReview, ReviewItem
from feedback.services.queue import queue_plan
from governance.access import Capability, access_for_user
from governance.privacy import pii_scrub_text
from governance.services import audit_record
from optimizer.models import AllocationPlan

REVIEW_STATUS = {
    PlanReview.Decision.APPROVE: AllocationPlan.Review.APPROVED,
    PlanReview.Decision.REJECT: AllocationPlan.Review.REJECTED,
    PlanReview.Decision.REQUEST_CHANGES: AllocationPlan.Review.CHANGES_REQUESTED,
}
COMMENT_REQUIRED = {PlanReview.Decision.REJECT, PlanReview.Decision.REQUEST_CHANGES}
MAX_COMMENT = 5000


def plan_review_submit(*, plan: AllocationPlan, user, decision: str, comment: str = "") -> PlanReview:
    """Record ``user``'s decision on one plan version and set its review status. Needs the edit_data capability
    in the plan's tenant (marketers and admins; a reviewer rates plans in the console but cannot approve one);
    only a succeeded version can be decided on; reject and request changes need a comment saying why."""
    if not getattr(user, "pk", None):
        raise DomainError(
            "A plan decision is signed by a person: sign in (an API key cannot decide).", code="forbidden"
        )
    access = access_for_user(user, plan.tenant_id)
    if access is None:
        raise DomainError("No such plan.", code="forbidden")
    if not access.can(Capability.EDIT_DATA):
        raise DomainError(
            f"Your role ({access.role}) in {plan.tenant.name} cannot approve, reject or request changes on a plan; "
            "a marketer or an admin decides.",
            code="forbidden",
        )
    if decision not in PlanReview.Decision.values:
        raise DomainError(
            f"Unknown decision {decision!r}; use one of {', '.join(PlanReview.Decision.values)}.", field="decision"
        )
    comment = (comment or "").strip()
    if decision in COMMENT_REQUIRED and not comment:
        label = PlanReview.Decision(decision).label.lower()
        raise DomainError(f"Say why you {label}: a comment is required.", field="comment")
    if len(comment) > MAX_COMMENT:
        raise DomainError(f"comment is {len(comment)} characters long; the limit is {MAX_COMMENT}.", field="comment")
    with transaction.atomic():
        plan = AllocationPlan.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=plan.pk)
        comment = pii_scrub_text(text=comment, source="feedback.plan_review", tenant=plan.tenant, user=user, obj=plan)
        if plan.status != AllocationPlan.Status.SUCCEEDED:
            raise DomainError(
                f"Plan #{plan.pk} is {plan.get_status_display().lower()}: only an optimized (succeeded) plan can be "
                "reviewed.",
                field="status",
            )
        review = PlanReview.objects.create(
            tenant=plan.tenant, plan=plan, decision=decision, comment=comment, reviewer=user
        )
        plan.review_status = REVIEW_STATUS[decision]
        plan.save(update_fields=["review_status"])
        audit_record(
            action=f"allocation_plan.review.{decision}",
            tenant=plan.tenant,
            user=user,
            obj=plan,
            detail={"version": plan.version, "comment": comment[:500]},
        )
        _queue_once(plan)
    return review


def plan_review_list(*, plan: AllocationPlan) -> QuerySet[PlanReview]:
    """The decisions on one version, oldest first."""
    return PlanReview.objects.filter(plan=plan, tenant_id=plan.tenant_id).select_related("reviewer")


def plan_review_queue(*, plan: AllocationPlan) -> ReviewItem | None:
    """Queue a succeeded plan version once for reviewers to rate (feedback.services.queue.queue_plan); the item
    when this call queued it, None when it was queued before or the plan has not succeeded."""
    if plan.status != AllocationPlan.Status.SUCCEEDED or _queued(plan):
        return None
    with transaction.atomic():
        locked = AllocationPlan.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=plan.pk)
        return _queue_once(locked)


def plan_review_queue_finished(*, limit: int = 500) -> int:
    """Queue every succeeded plan version not yet queued (the beat task ``feedback.queue_finished_plans`` runs it
    every minute: the optimizer cannot call feedback, and a page view must not write); how many were queued."""
    queued_ids = ReviewItem.objects.filter(kind=ReviewItem.Kind.PLAN, plan__isnull=False).values("plan_id")
    finished = AllocationPlan.objects.filter(status=AllocationPlan.Status.SUCCEEDED).exclude(pk__in=queued_ids)
    return sum(plan_review_queue(plan=plan) is not None for plan in finished.order_by("id")[:limit])


def _queued(plan: AllocationPlan) -> bool:
    return ReviewItem.objects.filter(plan=plan, kind=ReviewItem.Kind.PLAN).exists()


def _queue_once(plan: AllocationPlan) -> ReviewItem | None:
    """The caller holds the plan's row lock, so two first views never queue it twice."""
    if plan.status != AllocationPlan.Status.SUCCEEDED or _queued(plan):
        return None
    return queue_plan(plan=plan)

"""The review console's pages: tasks with the reviewer's progress, the keyboard-first queue (the next item arrives
as an htmx fragment; without JavaScript the same form posts and the page reloads), quality figures, and the
adjudicator's conflicts."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.forms import form_error
from feedback import selectors
from feedback.forms import AnswerForm, ResolveForm, criterion_label
from feedback.models import Assignment, Feedback, Guideline, ReviewItem, ReviewTask
from feedback.services.review import (
    guideline_current,
    review_adjudicate,
    review_last_answered,
    review_next,
    review_submit,
    review_undo,
)
from governance.access import Capability, tenant_page

QUEUE = "feedback/review/queue.html"


def _task(access, pk) -> ReviewTask:
    try:
        return selectors.review_task_get(tenant=access.tenant, pk=pk)
    except ReviewTask.DoesNotExist:
        raise Http404("No such review task.") from None


def _pending(task: ReviewTask, user) -> Assignment | None:
    return (
        Assignment.objects.filter(item__task=task, reviewer=user, status=Assignment.Status.PENDING)
        .select_related("item", "item__task")
        .order_by("id")
        .first()
    )


def _initial_from(feedback: Feedback | None) -> dict:
    if feedback is None:
        return {}
    initial = {
        "thumb": feedback.thumb, "reason_tags": feedback.reason_tags, "preference": feedback.preference,
        "reason": feedback.reason,
    }  # fmt: skip
    initial.update({f"rating_{c}": str(v) for c, v in (feedback.ratings or {}).items()})
    initial.update({f"correction_{k}": v for k, v in (feedback.correction or {}).items()})
    return initial


def _item_context(
    task: ReviewTask, user, *, assignment=None, form=None, started=False, guideline=None, can_undo=None
) -> dict:
    guideline = guideline or guideline_current(task=task)
    item = assignment.item if assignment else None
    if item is not None and form is None:
        # An item handed out just now has no earlier answer of this reviewer to fill in (one query fewer).
        fresh = getattr(assignment, "is_new", False)
        previous = None if fresh else Feedback.objects.filter(item=item, reviewer=user).order_by("-id").first()
        initial = {"item": item.pk, "guideline": guideline.pk if guideline else None, **_initial_from(previous)}
        form = AnswerForm(initial=initial, item=item)
    done = Assignment.objects.filter(item__task=task, reviewer=user, status=Assignment.Status.SUBMITTED).count()
    if can_undo is None:
        can_undo = review_last_answered(task=task, reviewer=user) is not None
    return {
        "task": task, "item": item, "form": form, "guideline": guideline, "done": done, "started": started,
        "content": item.content if item else {}, "allocation": _allocation(item) if item else None,
        "can_undo": can_undo,
    }  # fmt: skip


def _allocation(item: ReviewItem) -> dict | None:
    """A plan item's allocation rows as a table (the columns are whatever the plan's rows carry)."""
    rows = (item.content or {}).get("allocation") or (item.content or {}).get("allocations") or []
    rows = [r for r in rows if isinstance(r, dict)]
    if not rows:
        return None
    columns = list(dict.fromkeys(k for r in rows for k in r))
    return {"columns": columns, "rows": [[r.get(c, "") for c in columns] for r in rows]}


def _render_queue(request, context: dict, status: int = 200) -> HttpResponse:
    template = f"{QUEUE}#review-item" if request.htmx else QUEUE
    return render(request, template, context, status=status)


@tenant_page(Capability.GIVE_FEEDBACK)
def review_tasks(request: HttpRequest, *, access) -> HttpResponse:
    progress = selectors.task_progress_list(tenant=access.tenant, reviewer=request.user)
    return render(
        request,
        "feedback/review/tasks.html",
        {"progress": progress, "can_adjudicate": access.can(Capability.ADJUDICATE)},
    )


@tenant_page(Capability.GIVE_FEEDBACK)
def review_queue(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    """GET: the reviewer's current item (never assigns: GET changes nothing). POST: an answer, then the next item."""
    task = _task(access, pk)
    if request.method != "POST":
        return _render_queue(request, _item_context(task, request.user, assignment=_pending(task, request.user)))
    try:
        item = ReviewItem.objects.select_related("task").get(task=task, pk=request.POST.get("item") or 0)
    except (ReviewItem.DoesNotExist, ValueError):
        raise Http404("No such item in this task.") from None
    assignment = Assignment.objects.filter(item=item, reviewer=request.user).first()
    if assignment is None:
        raise Http404("This item is not assigned to you.")
    form = AnswerForm(request.POST, item=item)
    if form.is_valid():
        answer = form.answer()
        if answer["seconds_spent"] is None:
            answer["seconds_spent"] = min((timezone.now() - assignment.assigned_at).total_seconds(), 3600.0)
        guideline = Guideline.objects.filter(task=task, pk=form.cleaned_data.get("guideline") or 0).first()
        try:
            answered = review_submit(item=item, reviewer=request.user, guideline=guideline, **answer)
        except DomainError as exc:
            field = exc.field or ""
            field = field.replace("ratings.", "rating_") if field.startswith("ratings.") else field
            form_error(form, DomainError(exc.message, field=field if field in form.fields else None))
        else:
            following = review_next(task=task, reviewer=request.user)
            if not request.htmx:
                messages.success(request, "Answer saved.")
                return redirect("review_queue", pk=task.pk)
            context = _item_context(
                task, request.user, assignment=following, started=True, guideline=answered.guideline, can_undo=True
            )
            return _render_queue(request, context)
    context = _item_context(task, request.user, assignment=assignment, form=form)
    return _render_queue(request, context, status=400)


@require_POST
@tenant_page(Capability.GIVE_FEEDBACK)
def review_next_view(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    """Take the next item of the queue (a write: items are handed out here, never on a GET)."""
    task = _task(access, pk)
    assignment = review_next(task=task, reviewer=request.user)
    if not request.htmx:
        return redirect("review_queue", pk=task.pk)
    return _render_queue(request, _item_context(task, request.user, assignment=assignment, started=True))


@require_POST
@tenant_page(Capability.GIVE_FEEDBACK)
def review_undo_view(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    """Withdraw the reviewer's last answer in this task and show that item again, filled in, to change."""
    task = _task(access, pk)
    last = review_last_answered(task=task, reviewer=request.user)
    if last is None:
        messages.info(request, "Nothing to undo.")
        if not request.htmx:
            return redirect("review_queue", pk=task.pk)
        return _render_queue(request, _item_context(task, request.user, assignment=_pending(task, request.user)))
    review_undo(item=last.item, reviewer=request.user)
    assignment = Assignment.objects.select_related("item", "item__task").get(item=last.item, reviewer=request.user)
    if not request.htmx:
        messages.info(request, "Your last answer is withdrawn; change it and submit again.")
        return redirect("review_queue", pk=task.pk)
    context = _item_context(task, request.user, assignment=assignment, started=True)
    context["form"] = AnswerForm(
        initial={"item": last.item_id, "guideline": context["guideline"].pk if context["guideline"] else None,
                 **_initial_from(last)},
        item=last.item,
    )  # fmt: skip
    return _render_queue(request, context)


@tenant_page(Capability.ADJUDICATE)
def review_quality(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    task = _task(access, pk)
    agreement = selectors.task_agreement(task=task)
    questions = list(agreement.alpha)
    labels = {q: criterion_label(q.split(".", 1)[1]) if "." in q else q.capitalize() for q in questions}
    return render(
        request,
        "feedback/review/quality.html",
        {
            "task": task,
            "alpha_rows": [(labels[q], agreement.alpha[q], agreement.units[q]) for q in questions],
            "pair_rows": [
                {"reviewers": p["reviewers"], "items": p["items"], "kappa": [p["kappa"].get(q) for q in questions]}
                for p in agreement.pairs
            ],
            "questions": [labels[q] for q in questions],
            "reviewers": selectors.reviewer_quality_list(task=task),
        },
    )


@tenant_page(Capability.ADJUDICATE)
def review_conflicts(request: HttpRequest, *, access) -> HttpResponse:
    items = list(selectors.conflict_list(tenant=access.tenant)[:50])
    rows = [
        {
            "item": item,
            "answers": selectors.answers_visible(item=item, viewer=request.user, adjudicator=True),
            "form": ResolveForm(item=item, auto_id=f"id_{item.pk}_%s"),
        }
        for item in items
    ]
    return render(request, "feedback/review/conflicts.html", {"rows": rows})


@require_POST
@tenant_page(Capability.ADJUDICATE)
def review_resolve(request: HttpRequest, pk: int, *, access) -> HttpResponse:
    try:
        item = selectors.review_item_get(tenant=access.tenant, pk=pk)
    except ReviewItem.DoesNotExist:
        raise Http404("No such item.") from None
    form = ResolveForm(request.POST, item=item)
    if form.is_valid():
        decision = form.decision()
        try:
            review_adjudicate(item=item, adjudicator=request.user, **decision)
        except DomainError as exc:
            messages.error(request, f"Item #{item.pk}: {exc.message}")
        else:
            messages.success(request, f"Item #{item.pk} is resolved.")
    return redirect("review_conflicts")

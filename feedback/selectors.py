"""Reads for the review console: tasks and their progress, what a reviewer may see of an item, agreement and each
reviewer's quality. Every read is scoped to a tenant."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from feedback.engine.agreement import alpha, matches_gold, pairwise_kappa
from feedback.models import (
    Adjudication,
    Assignment,
    Feedback,
    FeedbackDataset,
    GateDecision,
    ReviewItem,
    ReviewTask,
)
from governance.models import Tenant


def review_task_list(*, tenant: Tenant) -> QuerySet[ReviewTask]:
    return ReviewTask.objects.filter(tenant=tenant, is_active=True).order_by("name")


def review_task_get(*, tenant: Tenant, pk) -> ReviewTask:
    return ReviewTask.objects.get(tenant=tenant, pk=pk)


def review_item_get(*, tenant: Tenant, pk) -> ReviewItem:
    return ReviewItem.objects.select_related("task").get(tenant=tenant, pk=pk)


def assignment_list(*, tenant: Tenant, reviewer) -> QuerySet[Assignment]:
    """The reviewer's assignments in ``tenant``, oldest first."""
    return (
        Assignment.objects.filter(item__tenant=tenant, reviewer=reviewer)
        .select_related("item", "item__task")
        .order_by("id")
    )


@dataclass
class TaskProgress:
    task: ReviewTask
    total: int
    done_by_me: int
    pending_for_me: int
    complete: int
    conflicts: int


def task_progress_list(*, tenant: Tenant, reviewer) -> list[TaskProgress]:
    tasks = review_task_list(tenant=tenant).annotate(
        total=Count("items", distinct=True),
        complete=Count("items", filter=Q(items__status__in=["complete", "resolved"]), distinct=True),
        conflicts=Count("items", filter=Q(items__status="conflict"), distinct=True),
    )
    mine = defaultdict(lambda: {"submitted": 0, "pending": 0})
    rows = (
        Assignment.objects.filter(item__tenant=tenant, reviewer=reviewer)
        .values("item__task", "status")
        .annotate(n=Count("id"))
    )
    for row in rows:
        mine[row["item__task"]][row["status"]] += row["n"]
    return [
        TaskProgress(
            task=t,
            total=t.total,
            done_by_me=mine[t.pk]["submitted"],
            pending_for_me=mine[t.pk]["pending"],
            complete=t.complete,
            conflicts=t.conflicts,
        )
        for t in tasks
    ]


def answers_visible(*, item: ReviewItem, viewer, adjudicator: bool = False) -> list[Feedback]:
    """Other reviewers' current answers to ``item`` that ``viewer`` may see: none until the viewer has submitted
    their own (blind review); an adjudicator sees all of them on an item in conflict or resolved."""
    others = Feedback.objects.filter(item=item, is_current=True).select_related("reviewer").order_by("id")
    if adjudicator and item.status in (ReviewItem.Status.CONFLICT, ReviewItem.Status.RESOLVED):
        return list(others)
    if not Feedback.objects.filter(item=item, reviewer=viewer, is_current=True).exists():
        return []
    return list(others.exclude(reviewer=viewer))


def conflict_list(*, tenant: Tenant, task: ReviewTask | None = None) -> QuerySet[ReviewItem]:
    items = ReviewItem.objects.filter(tenant=tenant, status=ReviewItem.Status.CONFLICT)
    if task is not None:
        items = items.filter(task=task)
    return items.select_related("task").order_by("id")


def adjudication_list(*, tenant: Tenant) -> QuerySet[Adjudication]:
    return Adjudication.objects.filter(tenant=tenant).select_related("item", "adjudicator").order_by("-id")


@dataclass
class Agreement:
    """Agreement of a task: alpha per question (None: undefined), and kappa per reviewer pair and question."""

    alpha: dict[str, float | None] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)
    pairs: list[dict] = field(default_factory=list)


def _units(task: ReviewTask) -> dict[str, dict[int, dict[str, object]]]:
    """question -> {item id: {reviewer name: value}} over the current answers to the task's ordinary items."""
    questions = {"thumb": {}, "preference": {}} | {f"ratings.{c}": {} for c in task.criteria_list}
    rows = Feedback.objects.filter(item__task=task, item__is_gold=False, is_current=True).values_list(
        "item_id", "reviewer__username", "thumb", "preference", "ratings"
    )
    for item_id, name, thumb, preference, ratings in rows:
        if thumb:
            questions["thumb"].setdefault(item_id, {})[name] = thumb
        if preference:
            questions["preference"].setdefault(item_id, {})[name] = preference
        for criterion, value in (ratings or {}).items():
            if f"ratings.{criterion}" in questions:
                questions[f"ratings.{criterion}"].setdefault(item_id, {})[name] = value
    return questions


def task_agreement(*, task: ReviewTask) -> Agreement:
    """Krippendorff's alpha per question (ordinal for ratings, nominal for thumbs and preferences) and Cohen's
    kappa per reviewer pair, over the current answers to the task's items (gold items left out)."""
    out = Agreement()
    pairs: dict[tuple, dict] = {}
    for question, units in _units(task).items():
        level = "ordinal" if question.startswith("ratings.") else "nominal"
        out.alpha[question] = alpha(units, level=level)
        out.units[question] = sum(len(answers) >= 2 for answers in units.values())
        for (one, two), (value, n) in pairwise_kappa(units).items():
            row = pairs.setdefault((one, two), {"reviewers": (one, two), "kappa": {}, "items": 0})
            row["kappa"][question] = value
            row["items"] = max(row["items"], n)
    out.pairs = [pairs[key] for key in sorted(pairs)]
    return out


@dataclass
class ReviewerQuality:
    username: str
    assigned: int
    submitted: int
    gold_answered: int
    gold_right: int
    median_seconds: float | None

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_right / self.gold_answered if self.gold_answered else None


def reviewer_quality_list(*, task: ReviewTask) -> list[ReviewerQuality]:
    """Per reviewer of the task: progress, accuracy on gold items, and median seconds per answer."""
    stats: dict[int, dict] = {}
    for reviewer_id, status, n in (
        Assignment.objects.filter(item__task=task).values_list("reviewer", "status").annotate(n=Count("id"))
    ):
        row = stats.setdefault(reviewer_id, {"assigned": 0, "submitted": 0, "gold": [0, 0], "seconds": []})
        row["assigned"] += n
        if status == Assignment.Status.SUBMITTED:
            row["submitted"] += n
    feedback = Feedback.objects.filter(item__task=task, is_current=True).values_list(
        "reviewer", "item__is_gold", "item__gold", "thumb", "preference", "ratings", "seconds_spent"
    )
    for reviewer_id, is_gold, gold, thumb, preference, ratings, seconds in feedback:
        row = stats.setdefault(reviewer_id, {"assigned": 0, "submitted": 0, "gold": [0, 0], "seconds": []})
        if seconds is not None:
            row["seconds"].append(seconds)
        if is_gold and gold:
            row["gold"][0] += 1
            row["gold"][1] += matches_gold({"thumb": thumb, "preference": preference, "ratings": ratings}, gold)
    names = dict(get_user_model().objects.filter(pk__in=stats).values_list("pk", "username"))
    return [
        ReviewerQuality(
            username=names[pk],
            assigned=row["assigned"],
            submitted=row["submitted"],
            gold_answered=row["gold"][0],
            gold_right=row["gold"][1],
            median_seconds=statistics.median(row["seconds"]) if row["seconds"] else None,
        )
        for pk, row in sorted(stats.items(), key=lambda kv: names[kv[0]])
    ]


# --- Closing the loop: the learning dashboard's figures ---------------------------------------------------------------


def feedback_volume_by_day(*, tenant: Tenant, days: int = 30, today=None) -> list[tuple[dt.date, int]]:
    """Current and superseded answers given per day over the last ``days`` days (UTC), every day listed, zeros
    included, oldest first: a quiet day shows as a dip, not as a gap the chart would bridge."""
    today = today or timezone.now().date()
    first = today - dt.timedelta(days=days - 1)
    counts = dict(
        Feedback.objects.filter(tenant=tenant, created_at__date__gte=first)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    return [(first + dt.timedelta(days=i), counts.get(first + dt.timedelta(days=i), 0)) for i in range(days)]


@dataclass
class QueueProgress:
    task: ReviewTask
    total: int
    settled: int
    conflicts: int
    answers: int
    alpha: dict[str, float | None]

    @property
    def open(self) -> int:
        return self.total - self.settled - self.conflicts

    @property
    def alpha_defined(self) -> list[tuple[str, float]]:
        return [(q, v) for q, v in self.alpha.items() if v is not None]

    @property
    def settled_pct(self) -> int:
        return round(100 * self.settled / self.total) if self.total else 0


def queue_progress_list(*, tenant: Tenant) -> list[QueueProgress]:
    """Every active task of the tenant: items settled (complete or resolved), in conflict and open, current answers,
    and Krippendorff's alpha per question (``task_agreement``)."""
    tasks = review_task_list(tenant=tenant).annotate(
        total=Count("items", distinct=True),
        settled=Count("items", filter=Q(items__status__in=["complete", "resolved"]), distinct=True),
        conflicts=Count("items", filter=Q(items__status="conflict"), distinct=True),
    )
    answers = dict(
        Feedback.objects.filter(tenant=tenant, is_current=True)
        .values_list("item__task")
        .annotate(n=Count("id"))
        .values_list("item__task", "n")
    )
    return [
        QueueProgress(
            task=t,
            total=t.total,
            settled=t.settled,
            conflicts=t.conflicts,
            answers=answers.get(t.pk, 0),
            alpha=task_agreement(task=t).alpha,
        )
        for t in tasks
    ]


@dataclass
class ReviewerThroughput:
    username: str
    answers: int  # current answers, all tasks
    last_7_days: int
    gold_answered: int
    gold_right: int
    median_seconds: float | None

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_right / self.gold_answered if self.gold_answered else None


def reviewer_throughput_list(*, tenant: Tenant, now=None) -> list[ReviewerThroughput]:
    """Per reviewer across the tenant's tasks: answers given (in all, and in the last seven days), gold accuracy and
    median seconds per answer (from ``reviewer_quality_list`` of each task, summed)."""
    now = now or timezone.now()
    totals = Counter(
        dict(
            Feedback.objects.filter(tenant=tenant, is_current=True)
            .values_list("reviewer__username")
            .annotate(n=Count("id"))
            .values_list("reviewer__username", "n")
        )
    )
    recent = Counter(
        dict(
            Feedback.objects.filter(tenant=tenant, created_at__gte=now - dt.timedelta(days=7))
            .values_list("reviewer__username")
            .annotate(n=Count("id"))
            .values_list("reviewer__username", "n")
        )
    )
    gold: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    seconds: dict[str, list[float]] = defaultdict(list)
    for task in review_task_list(tenant=tenant):
        for q in reviewer_quality_list(task=task):
            gold[q.username][0] += q.gold_answered
            gold[q.username][1] += q.gold_right
            if q.median_seconds is not None:
                seconds[q.username].append(q.median_seconds)
    names = sorted(set(totals) | set(gold))
    return [
        ReviewerThroughput(
            username=name,
            answers=totals[name],
            last_7_days=recent[name],
            gold_answered=gold[name][0],
            gold_right=gold[name][1],
            median_seconds=statistics.median(seconds[name]) if seconds[name] else None,
        )
        for name in names
    ]


def feedback_dataset_list(
    *, tenant: Tenant, task: str | None = None, fmt: str | None = None
) -> QuerySet[FeedbackDataset]:
    datasets = FeedbackDataset.objects.filter(tenant=tenant).select_related("created_by")
    if task:
        datasets = datasets.filter(task=task)
    if fmt:
        datasets = datasets.filter(format=fmt)
    return datasets.order_by("-created_at", "-id")


def feedback_dataset_get(*, tenant: Tenant, pk) -> FeedbackDataset:
    return FeedbackDataset.objects.get(tenant=tenant, pk=pk)


def gate_decision_list(*, tenant: Tenant) -> QuerySet[GateDecision]:
    """The gate's verdicts on the tenant's candidates (and on shared adapters retrained from its feedback)."""
    return GateDecision.objects.filter(tenant=tenant).select_related(
        "candidate", "baseline", "dataset", "training_job", "created_by"
    )


def gate_decision_get(*, tenant: Tenant, pk) -> GateDecision:
    return gate_decision_list(tenant=tenant).get(pk=pk)


def gate_figure(figures: dict, *path: str) -> float | None:
    """The number at ``path`` in a decision's figures (as ``feedback.engine.gate.GateFigures.as_dict`` writes them,
    e.g. "preference", "win_rate" or "violations", "candidate"); None where it is absent or was not measured."""
    value: object = figures
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# Descriptions of a measurement rather than measurements: left out of the table.
FIGURE_NOISE = ("metric", "higher_is_better", "measured")


def _figure_text(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "–"}[value]
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"
    if isinstance(value, list | tuple):
        return " – ".join(_figure_text(v) for v in value) if len(value) == 2 else ", ".join(map(_figure_text, value))
    return str(value)


def gate_figure_rows(figures: dict, prefix: str = "", keys: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    """A decision's figures flattened to (dotted name, text) rows for a table, in the order the gate wrote them (only
    the top-level ``keys`` when given); a two-number list (a confidence interval) reads "low – high"."""
    rows: list[tuple[str, str]] = []
    for key, value in (figures or {}).items():
        if (keys is not None and key not in keys) or key in FIGURE_NOISE:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(gate_figure_rows(value, f"{name}."))
        else:
            rows.append((name, _figure_text(value)))
    return rows

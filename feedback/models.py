"""The RLHF console's data: creatives made for a brief and checked against the retailer's policy, review tasks with
their versioned guidelines, items assigned to reviewers, the feedback they give (append-only), adjudications, and
marketers' decisions on plan versions.

Feedback is never edited: a changed answer is a new ``Feedback`` row whose ``supersedes`` points at the old one, and
the old one stops being ``is_current``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from campaigns.models import SKU, Brand, Retailer
from governance.models import Tenant
from ml.models import Adapter, TrainingJob
from optimizer.models import AllocationPlan

CRITERIA = ("on_brand", "compliant", "persuasive", "clear")
CREATIVE_FIELDS = ("headline", "body", "cta", "disclosure")


# --- Creatives -------------------------------------------------------------------------------------------------------


class CreativeBrief(models.Model):
    """A marketer's ask for N ad-copy variants for one retailer, brand and SKU(s); answered on the inference queue."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Writing"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"

    FINISHED = frozenset({Status.SUCCEEDED, Status.FAILED})

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="creative_briefs")
    retailer = models.ForeignKey(Retailer, on_delete=models.PROTECT, related_name="+")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    skus = models.ManyToManyField(SKU, related_name="+", blank=True)
    goal = models.CharField(max_length=200, help_text="What the copy should achieve, e.g. 'trial of the new flavour'.")
    tone = models.CharField(max_length=100, blank=True)
    promotion = models.CharField(max_length=200, blank=True, help_text="The offer to mention, if any.")
    variants_requested = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    takes = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(2)],
        help_text="1: one answer a variant. 2: a second, sampled answer to the same prompt, and the two are shown to "
        "reviewers side by side (A/B) when both pass the policy and differ.",
    )
    adapters = models.JSONField(default=list, blank=True, help_text="Adapter names composed, in order.")
    policy = models.JSONField(default=dict, blank=True, help_text="The retailer's policy as it was when checked.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.JSONField(default=dict, blank=True, help_text='{"done": n, "total": n}')
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the worker writing it.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.brand} on {self.retailer} ({self.status})"


class Creative(models.Model):
    """One variant of ad copy. ``verification`` is the policy check at serve time: ``{"compliant": bool,
    "violations": [{"rule", "field", "reason"}], "repairs": [{"step": "regenerate"|"rules", ...}], "policy": {...}}``.
    A variant that still fails after repair is kept, ``rejected``, with its reasons: a negative for training."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        LIVE = "live", "Live"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="creatives")
    brief = models.ForeignKey(CreativeBrief, on_delete=models.CASCADE, related_name="creatives")
    retailer = models.ForeignKey(Retailer, on_delete=models.PROTECT, related_name="+")
    variant = models.PositiveSmallIntegerField(help_text="1..N within the brief.")
    take = models.PositiveSmallIntegerField(
        default=1, help_text="1: the variant's answer (greedy). 2: a second answer to the same prompt, sampled."
    )
    headline = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    cta = models.CharField(max_length=200, blank=True)
    disclosure = models.CharField(max_length=500, blank=True)
    prompt = models.JSONField(default=list, blank=True, help_text="The chat messages the model answered.")
    raw_output = models.TextField(blank=True, help_text="The model's first answer, before any repair.")
    adapter_versions = models.JSONField(
        default=list, blank=True, help_text='[{"name", "version", "kind"}]; empty: the base model alone.'
    )
    verification = models.JSONField(default=dict, blank=True)
    compliant = models.BooleanField(default=False, help_text="Passed every rule of the policy (after any repair).")
    repaired = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["brief_id", "variant", "take"]
        constraints = [
            models.UniqueConstraint(fields=["brief", "variant", "take"], name="creative_unique_variant_take"),
            # Never shown as compliant when it is not: only a compliant creative can be queued, approved or live.
            models.CheckConstraint(
                condition=Q(compliant=True) | Q(status__in=["draft", "rejected"]), name="creative_only_compliant_on"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.headline[:40]!r} ({self.status})"

    def fields(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in CREATIVE_FIELDS}


class CreativeEvent(models.Model):
    """A creative's history: every status change, who made it and why."""

    creative = models.ForeignKey(Creative, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"creative #{self.creative_id}: {self.from_status or '-'} -> {self.to_status}"


# --- Review tasks, items and assignment ------------------------------------------------------------------------------


class ReviewTask(models.Model):
    """A queue of items of one kind for a tenant's reviewers; each item goes to ``overlap`` reviewers."""

    class Kind(models.TextChoices):
        CREATIVE = "creative", "Ad copy"
        PLAN = "plan", "Budget plans"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="review_tasks")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    overlap = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(10)], help_text="Reviewers per item."
    )
    criteria = models.JSONField(default=list, blank=True, help_text="Rated 1-5; default on_brand, compliant, ...")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant__name", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="review_task_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.tenant})"

    @property
    def criteria_list(self) -> list[str]:
        return list(self.criteria or CRITERIA)


class Guideline(models.Model):
    """One version of a task's guidelines (admins write a new version; the one shown is stored with each answer)."""

    task = models.ForeignKey(ReviewTask, on_delete=models.CASCADE, related_name="guidelines")
    version = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    text = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task_id", "-version"]
        constraints = [models.UniqueConstraint(fields=["task", "version"], name="guideline_unique_version")]

    def __str__(self) -> str:
        return f"{self.task.name} guidelines v{self.version}"


class ReviewItem(models.Model):
    """Something to review: one creative (thumbs, ratings, correction), a pair of creatives for the same prompt
    (preference A/B), or one plan version (its explanation and allocation, rated). ``content`` is what the reviewer
    sees, frozen when queued; ``gold`` is the known answer of a gold item (same shape as an answer)."""

    class Kind(models.TextChoices):
        SINGLE = "single", "Single"
        PAIR = "pair", "Pair"
        PLAN = "plan", "Plan"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETE = "complete", "Complete"
        CONFLICT = "conflict", "Conflict"
        RESOLVED = "resolved", "Resolved"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(ReviewTask, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    creative = models.ForeignKey(Creative, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    creative_b = models.ForeignKey(Creative, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(AllocationPlan, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    prompt = models.JSONField(default=list, blank=True, help_text="The prompt the item's text answers.")
    content = models.JSONField(default=dict, blank=True)
    adapter_versions = models.JSONField(default=list, blank=True)
    is_gold = models.BooleanField(default=False)
    gold = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["task", "status", "id"], name="review_item_queue")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} in {self.task.name}"


class Assignment(models.Model):
    """An item given to one reviewer. Until they submit, they see no other reviewer's answer to it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="assignments")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_assignments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    assigned_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assigned_at", "id"]
        constraints = [models.UniqueConstraint(fields=["item", "reviewer"], name="assignment_unique_reviewer")]
        indexes = [models.Index(fields=["reviewer", "status", "id"], name="assignment_reviewer_queue")]

    def __str__(self) -> str:
        return f"item #{self.item_id} to {self.reviewer} ({self.status})"


class Feedback(models.Model):
    """One reviewer's answer to one item, append-only. Any of: a thumb with reason tags, 1-5 ratings per criterion,
    a preference (A, B, tie, both bad) with a reason, a correction (a better completion of the same prompt, as
    fields). Kept with it: the prompt, the adapter versions that made the item, the guideline version shown and the
    seconds the reviewer spent."""

    class Thumb(models.TextChoices):
        UP = "up", "Thumbs up"
        DOWN = "down", "Thumbs down"

    class Preference(models.TextChoices):
        A = "a", "A is better"
        B = "b", "B is better"
        TIE = "tie", "Tie"
        BOTH_BAD = "both_bad", "Both bad"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="feedback")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    thumb = models.CharField(max_length=4, choices=Thumb.choices, blank=True)
    reason_tags = models.JSONField(default=list, blank=True)
    ratings = models.JSONField(default=dict, blank=True, help_text="criterion -> 1..5")
    preference = models.CharField(max_length=10, choices=Preference.choices, blank=True)
    reason = models.TextField(blank=True)
    correction = models.JSONField(null=True, blank=True, help_text="A better completion: {headline, body, ...}.")
    prompt = models.JSONField(default=list, blank=True)
    adapter_versions = models.JSONField(default=list, blank=True)
    guideline = models.ForeignKey(Guideline, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    seconds_spent = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0)])
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "reviewer"], condition=Q(is_current=True), name="feedback_one_current"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "created_at"], name="feedback_tenant_time")]

    def __str__(self) -> str:
        return f"#{self.pk} by {self.reviewer} on item {self.item_id}"


class Adjudication(models.Model):
    """An adjudicator's ruling on an item whose reviewers disagree: the answer that stands (same shape as
    feedback's answer fields), append-only like feedback."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="adjudications")
    adjudicator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.JSONField(help_text="{thumb?, ratings?, preference?}")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"ruling on item #{self.item_id} by {self.adjudicator}"


# --- Plans -----------------------------------------------------------------------------------------------------------


class PlanReview(models.Model):
    """A marketer's decision on one plan version, with a comment: stored as feedback on that version."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"
        REQUEST_CHANGES = "request_changes", "Request changes"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(AllocationPlan, on_delete=models.CASCADE, related_name="reviews")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    comment = models.TextField(blank=True)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} plan #{self.plan_id} by {self.reviewer}"


# --- Closing the loop: datasets from feedback, the promotion gate ---------------------------------------------------


class FeedbackDataset(models.Model):
    """One stored, versioned export of reviewers' feedback as a training set (JSONL files under
    MODEL_STORAGE_DIR), split by prompt into train and held-out so that no prompt is in both. ``provenance`` says which
    feedback and filters made it; ``counts`` how many rows each part has and how many were dropped, and why."""

    class Format(models.TextChoices):
        DPO = "dpo", "DPO pairs (prompt, chosen, rejected)"
        KTO = "kto", "KTO rows (prompt, completion, label)"
        SFT = "sft", "SFT rows (prompt, completion)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="feedback_datasets")
    task = models.CharField(max_length=20, help_text="creative, budgeting, ... (the review task's kind of item).")
    format = models.CharField(max_length=3, choices=Format.choices)
    version = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    options = models.JSONField(default=dict, blank=True, help_text="The filters and split as asked for.")
    provenance = models.JSONField(default=dict, blank=True, help_text="Feedback ids, review tasks, guideline versions.")
    counts = models.JSONField(default=dict, blank=True, help_text='{"train", "heldout", "dropped": {reason: n}}')
    train_path = models.CharField(max_length=500, blank=True, help_text="Relative to MODEL_STORAGE_DIR.")
    heldout_path = models.CharField(max_length=500, blank=True, help_text="Relative to MODEL_STORAGE_DIR.")
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the train file then the held-out file.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "task", "format", "version"], name="feedback_dataset_version")
        ]

    def __str__(self) -> str:
        return f"{self.tenant} {self.task} {self.format} v{self.version}"


class GateDecision(models.Model):
    """The promotion gate's verdict on a candidate adapter version against the version active when it ran:
    (a) held-out human preferences (reward accuracy, win rate, with a confidence interval), (b) the policy-violation
    rate on held-out briefs, (c) the task's own evaluation. ``promoted`` only when better on (a) with an interval
    that excludes no change and no worse on (b) and (c); ``reasons`` say why, in words."""

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey(Adapter, on_delete=models.CASCADE, related_name="gate_decisions")
    baseline = models.ForeignKey(Adapter, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    dataset = models.ForeignKey(FeedbackDataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    training_job = models.ForeignKey(TrainingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    figures = models.JSONField(default=dict, blank=True)
    promoted = models.BooleanField(default=False)
    reasons = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"gate on {self.candidate}: {'promoted' if self.promoted else 'held'}"

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from campaigns.models import MONEY, PlacementType
from core.bounds import validate_money
from governance.currencies import validate_currency
from governance.models import Tenant


class LiftStudy(models.Model):
    """A measured incrementality result for one channel (retailer × placement) over a window.

    ``incremental_sales`` is the causal effect of ``spend`` against a no-ads counterfactual; its standard error
    weights the study when curves are calibrated.
    """

    class Method(models.TextChoices):
        RCT_HOLDOUT = "rct_holdout", "Randomized holdout"
        GEO_MATCHED_MARKETS = "geo_matched_markets", "Geo test (matched markets)"
        SYNTHETIC_CONTROL = "synthetic_control", "Geo test (synthetic control)"
        SWITCHBACK = "switchback", "Switchback"
        GHOST_ADS = "ghost_ads", "Ghost ads / PSA"
        MODEL_BASED = "model_based", "Model-based counterfactual"
        OTHER = "other", "Other"

    class Source(models.TextChoices):
        RETAILER = "retailer", "Retailer-provided"
        IN_HOUSE = "in_house", "In-house experiment"
        THIRD_PARTY = "third_party", "Third party"
        SIMULATOR = "simulator", "Demo simulator"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="lift_studies")
    retailer = models.ForeignKey("campaigns.Retailer", on_delete=models.PROTECT, related_name="+")
    placement_type = models.CharField(max_length=20, choices=PlacementType.choices)
    start_date = models.DateField()
    end_date = models.DateField()
    spend = models.DecimalField(**MONEY, validators=[MinValueValidator(0), validate_money])
    incremental_sales = models.DecimalField(**MONEY, validators=[validate_money])
    incremental_sales_se = models.DecimalField(**MONEY, validators=[MinValueValidator(0), validate_money])
    currency = models.CharField(max_length=3, validators=[validate_currency])
    method = models.CharField(max_length=30, choices=Method.choices)
    source = models.CharField(max_length=20, choices=Source.choices)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "lift studies"
        ordering = ["-end_date", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(end_date__gte=F("start_date")), name="liftstudy_end_after_start"),
            models.CheckConstraint(condition=Q(spend__gte=0), name="liftstudy_spend_non_negative"),
            models.CheckConstraint(condition=Q(incremental_sales_se__gte=0), name="liftstudy_se_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.retailer} {self.placement_type} {self.start_date}–{self.end_date}"

    @property
    def incremental_roas(self):
        return self.incremental_sales / self.spend if self.spend else None


class SimulationTruth(models.Model):
    """The known truth behind simulated data (demo or benchmark), so decisions can be scored against it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100, default="demo")
    seed = models.BigIntegerField()
    simulator_version = models.CharField(max_length=20)
    truth = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="simtruth_unique_tenant_name")]

    def __str__(self) -> str:
        return f"{self.tenant} {self.name} (seed {self.seed})"


class AllocationPlan(models.Model):
    """A budget allocation request for a tenant and its result (optimizer.engine.allocate's OUT.json shape)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Outcome(models.TextChoices):
        """What a finished plan amounts to (optimizer.engine.notices.outcome); blank while pending or running."""

        READY = "ready", "Ready"
        READY_WITH_WARNINGS = "ready_with_warnings", "Ready, with warnings"
        CANNOT_MEET = "cannot_meet", "Does not meet the request"
        FAILED = "failed", "Failed"

    class Review(models.TextChoices):
        """Where a marketer's review of this version stands (feedback.PlanReview holds each decision)."""

        DRAFT = "draft", "Not reviewed"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class Objective(models.TextChoices):
        INCREMENTAL_MARGIN = "incremental_margin", "Incremental margin"
        INCREMENTAL_REVENUE = "incremental_revenue", "Incremental revenue"
        NET_INCREMENTAL_PROFIT = "net_incremental_profit", "Net incremental profit"

    class RoasBasis(models.TextChoices):
        ATTRIBUTED = "attributed", "Attributed (as retailers report)"
        INCREMENTAL = "incremental", "Incremental"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="allocation_plans")
    name = models.CharField(max_length=200, blank=True, help_text="The objective in the marketer's words.")
    budget = models.DecimalField(**MONEY, validators=[MinValueValidator(0), validate_money])
    currency = models.CharField(max_length=3, validators=[validate_currency])
    period_days = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    min_roas = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    roas_basis = models.CharField(max_length=12, choices=RoasBasis.choices, default=RoasBasis.ATTRIBUTED)
    objective = models.CharField(max_length=30, choices=Objective.choices, default=Objective.INCREMENTAL_MARGIN)
    request = models.JSONField(default=dict, blank=True, help_text="Bounds, exclusions, chance constraint, ...")
    result = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    outcome = models.CharField(
        max_length=20, choices=Outcome.choices, blank=True, help_text="What the finished plan amounts to."
    )
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the worker optimizing it.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life from that worker.")
    # Versions: a what-if edit re-optimizes into a new plan whose parent is the version it was edited from; every
    # version of one plan shares ``root`` (the first version points at itself once saved; NULL until then).
    root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="+", help_text="The first version."
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children",
        help_text="The version this one was edited from.",
    )  # fmt: skip
    version = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    review_status = models.CharField(max_length=20, choices=Review.choices, default=Review.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_by_key = models.ForeignKey(
        "governance.APIKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The API key that created it (created_by is then empty).",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(budget__gte=0), name="plan_budget_non_negative")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name or self.objective} ({self.status})"

    @property
    def state(self) -> str:
        """The outcome once finished, else the status (pending, running): what a badge shows."""
        return self.outcome or self.status

    @property
    def state_label(self) -> str:
        return self.get_outcome_display() if self.outcome else self.get_status_display()

    @property
    def creator_label(self) -> str:
        """Who created it: the user's name, or the API key's (and the key's owner)."""
        if self.created_by_id:
            return self.created_by.get_username()
        key = self.created_by_key
        if key is None:
            return ""
        owner = key.created_by.get_username() if key.created_by_id else ""
        return f"API key {key.name}" + (f" ({owner})" if owner else "")


class BanditPolicy(models.Model):
    """In-flight reallocation state: Thompson sampling over curve posteriors with budget pacing.

    ``state`` holds the engine's serialized posterior per arm (channel); it is updated as performance arrives.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        FINISHED = "finished", "Finished"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="bandit_policies")
    name = models.CharField(max_length=200)
    plan = models.ForeignKey(AllocationPlan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    currency = models.CharField(max_length=3, validators=[validate_currency])
    budget = models.DecimalField(**MONEY, validators=[MinValueValidator(0), validate_money])
    start_date = models.DateField()
    end_date = models.DateField()
    spent = models.DecimalField(**MONEY, default=0, validators=[validate_money])
    state = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    last_observed_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "bandit policies"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="bandit_unique_tenant_name"),
            models.CheckConstraint(condition=Q(end_date__gte=F("start_date")), name="bandit_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant} {self.name}"


class BanditDecision(models.Model):
    """One logged allocation of a bandit policy: what it chose, with which propensity, and what it earned.

    The log is what off-policy evaluation (IPS, SNIPS, doubly robust) replays a candidate policy on.
    """

    policy = models.ForeignKey(BanditPolicy, on_delete=models.CASCADE, related_name="decisions")
    date = models.DateField()
    allocation = models.JSONField(help_text="channel key -> daily spend chosen")
    propensities = models.JSONField(help_text="channel key -> probability the logging policy gave its choice")
    context = models.JSONField(default=dict, blank=True)
    reward = models.JSONField(null=True, blank=True, help_text="channel key -> observed outcome, once known")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "id"]
        constraints = [models.UniqueConstraint(fields=["policy", "date"], name="banditdecision_unique_day")]

    def __str__(self) -> str:
        return f"{self.policy} {self.date}"


class Experiment(models.Model):
    """A designed experiment (geo test, switchback, holdout) and, once read out, its result.

    A readout can be saved as a LiftStudy, which recalibrates the response curves (the closed loop).
    """

    class Kind(models.TextChoices):
        GEO = "geo", "Geo test"
        SWITCHBACK = "switchback", "Switchback"
        HOLDOUT = "holdout", "Holdout"

    class Status(models.TextChoices):
        DESIGNED = "designed", "Designed"
        RUNNING = "running", "Running"
        READ_OUT = "read_out", "Read out"
        CANCELLED = "cancelled", "Cancelled"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    retailer = models.ForeignKey("campaigns.Retailer", on_delete=models.PROTECT, related_name="+")
    placement_type = models.CharField(max_length=20, choices=PlacementType.choices)
    start_date = models.DateField()
    end_date = models.DateField()
    design = models.JSONField(default=dict, blank=True, help_text="Assignment, schedule, MDE and power.")
    readout = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DESIGNED)
    lift_study = models.ForeignKey(LiftStudy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(end_date__gte=F("start_date")), name="experiment_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class UpliftStudy(models.Model):
    """An exposure test's unit-level file (U.csv: treatment, outcome, features) and, once fitted, what exposure did
    for whom: optimizer.engine.uplift.uplift_report's JSON (learners against the constant effect, segments to target,
    the uplift curve). ``data`` keeps the file as read (the fit runs on a worker) and is never served back."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Fitting"
        SUCCEEDED = "succeeded", "Fitted"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="uplift_studies")
    name = models.CharField(max_length=200)
    file_name = models.CharField(max_length=255, blank=True)
    rows = models.PositiveIntegerField(default=0)
    treated = models.PositiveIntegerField(default=0)
    features = models.JSONField(default=list, blank=True, help_text="The feature columns, in the file's order.")
    options = models.JSONField(default=dict, blank=True, help_text="learners, randomized, seed.")
    data = models.TextField(blank=True, help_text="The file as read (CSV), for the worker that fits it.")
    result = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "uplift studies"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

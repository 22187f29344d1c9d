from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from campaigns.models import MONEY, PlacementType
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
    spend = models.DecimalField(**MONEY, validators=[MinValueValidator(0)])
    incremental_sales = models.DecimalField(**MONEY)
    incremental_sales_se = models.DecimalField(**MONEY, validators=[MinValueValidator(0)])
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

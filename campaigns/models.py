from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from core.bounds import validate_money
from governance.currencies import validate_currency
from governance.models import Tenant

# Every amount field also takes validate_money: at most core.bounds.MONEY_MAX, what SQLite and PostgreSQL both store
# exactly (SQLite keeps 15 significant digits).
MONEY = {"max_digits": 18, "decimal_places": 4}


class PlacementType(models.TextChoices):
    SPONSORED_PRODUCT = "sponsored_product", "Sponsored product"
    SEARCH = "search", "Search (sponsored brand / keyword)"
    ONSITE_DISPLAY = "onsite_display", "Onsite display"
    OFFSITE_DISPLAY = "offsite_display", "Offsite display"
    CTV = "ctv", "Connected TV"
    AUDIO = "audio", "Audio"
    OTHER = "other", "Other"


class AttributionModel(models.TextChoices):
    LAST_CLICK = "last_click", "Last click"
    LAST_TOUCH = "last_touch", "Last touch (click or view)"
    CLICK_AND_VIEW = "click_and_view", "Click and view-through"
    MULTI_TOUCH = "multi_touch", "Multi-touch"


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (for example America/Los_Angeles).")


def validate_gtin(value: str) -> None:
    """GTIN-8/12/13/14 (UPC and EAN included) with its GS1 check digit."""
    if not value.isdigit() or len(value) not in (8, 12, 13, 14):
        raise ValidationError(f"GTIN {value!r} must be 8, 12, 13 or 14 digits.")
    digits = [int(c) for c in value]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    if (10 - total % 10) % 10 != check:
        raise ValidationError(f"GTIN {value!r} has a wrong check digit.")


class Retailer(models.Model):
    """A retail media network. Shared reference data managed by admins; tenants' data points at it."""

    code = models.SlugField(max_length=40, unique=True, help_text="Stable identifier used in mappings and the API.")
    name = models.CharField(max_length=200)
    reporting_currency = models.CharField(max_length=3, validators=[validate_currency])
    timezone = models.CharField(max_length=64, validators=[validate_timezone], help_text="Time zone of report days.")
    default_attribution_window_days = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    default_attribution_model = models.CharField(max_length=20, choices=AttributionModel.choices)
    policy_specs = models.JSONField(
        default=dict, blank=True, help_text="Creative and data policies as data (lengths, banned claims, ...)."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Brand(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="brands")
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Names are unique per tenant ignoring case, enforced by the database so concurrent creates cannot race.
            models.UniqueConstraint(
                "tenant",
                Lower("name"),
                name="brand_unique_tenant_lower_name",
                violation_error_message="A brand with this name (ignoring case) already exists in this tenant.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class SKU(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="skus")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="skus")
    sku_code = models.CharField(
        max_length=64, validators=[RegexValidator(r"^[\w.\-]+$")], help_text="The tenant's own SKU id."
    )
    name = models.CharField(max_length=300)
    gtin = models.CharField(max_length=14, blank=True, validators=[validate_gtin], help_text="GTIN / UPC / EAN.")
    category = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    price = models.DecimalField(**MONEY, validators=[MinValueValidator(0), validate_money])
    unit_cost = models.DecimalField(**MONEY, validators=[MinValueValidator(0), validate_money])
    stock_units = models.IntegerField(default=0, validators=[MinValueValidator(0)])
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = "SKU"
        ordering = ["sku_code"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sku_code"], name="sku_unique_tenant_code"),
            models.CheckConstraint(condition=Q(price__gte=0) & Q(unit_cost__gte=0), name="sku_money_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku_code} {self.name}"

    @property
    def unit_margin(self):
        return self.price - self.unit_cost


class RetailerItem(models.Model):
    """Crosswalk: how a retailer identifies one of the tenant's SKUs (ASIN, Walmart item id, ...)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    sku = models.ForeignKey(SKU, on_delete=models.CASCADE, related_name="retailer_items")
    retailer = models.ForeignKey(Retailer, on_delete=models.PROTECT, related_name="+")
    item_id = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "retailer", "item_id"], name="retaileritem_unique_id"),
        ]

    def __str__(self) -> str:
        return f"{self.retailer.code}:{self.item_id} -> {self.sku.sku_code}"


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ENDED = "ended", "Ended"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="campaigns")
    retailer = models.ForeignKey(Retailer, on_delete=models.PROTECT, related_name="campaigns")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="campaigns")
    name = models.CharField(max_length=300)
    external_id = models.CharField(max_length=100, help_text="The retailer's campaign id.")
    placement_type = models.CharField(max_length=20, choices=PlacementType.choices)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    budget = models.DecimalField(**MONEY, validators=[MinValueValidator(0), validate_money])
    budget_currency = models.CharField(max_length=3, validators=[validate_currency])
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["retailer__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "retailer", "external_id"], name="campaign_unique_external_id"),
            models.CheckConstraint(condition=Q(budget__gte=0), name="campaign_budget_non_negative"),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="campaign_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PerformanceFact(models.Model):
    """The canonical RMIS daily performance fact (docs/rmis_schema.md).

    One row per UTC day, campaign, optional SKU, placement and attribution (window, model). Amounts are in the
    tenant's reporting currency; the original currency and amounts are kept beside them. The natural key makes a
    reload replace rows instead of adding them.

    The dashboard reads the daily rollup (PerformanceDaily), not this table: whatever adds, replaces or deletes
    facts calls ``campaigns.services.performance_rollup_refresh`` for the tenant and the days it touched.
    """

    date = models.DateField(help_text="UTC day.")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    retailer = models.ForeignKey(Retailer, on_delete=models.PROTECT, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="performance")
    sku = models.ForeignKey(SKU, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    placement_type = models.CharField(max_length=20, choices=PlacementType.choices)
    impressions = models.BigIntegerField(validators=[MinValueValidator(0)])
    clicks = models.BigIntegerField(validators=[MinValueValidator(0)])
    spend = models.DecimalField(**MONEY, validators=[MinValueValidator(0), validate_money])
    attributed_sales = models.DecimalField(**MONEY, validators=[MinValueValidator(0), validate_money])
    attributed_units = models.BigIntegerField(validators=[MinValueValidator(0)])
    attribution_window_days = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    attribution_model = models.CharField(max_length=20, choices=AttributionModel.choices)
    currency = models.CharField(max_length=3, validators=[validate_currency], help_text="Reporting currency.")
    original_currency = models.CharField(max_length=3, validators=[validate_currency])
    original_spend = models.DecimalField(**MONEY, validators=[validate_money])
    original_attributed_sales = models.DecimalField(**MONEY, validators=[validate_money])
    fx_rate = models.DecimalField(max_digits=20, decimal_places=10, default=1, help_text="original × rate = reporting")
    ingest_batch = models.ForeignKey(
        "harmonization.IngestBatch",
        on_delete=models.PROTECT,
        related_name="facts",
        help_text="Where the row came from.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    NATURAL_KEY = (
        "tenant",
        "retailer",
        "campaign",
        "sku",
        "date",
        "placement_type",
        "attribution_window_days",
        "attribution_model",
    )

    class Meta:
        verbose_name = "performance fact"
        ordering = ["date", "id"]
        constraints = [
            # NULL SKUs (campaign-level rows) need their own key: NULLs never collide in a plain UNIQUE index.
            models.UniqueConstraint(
                fields=[
                    "tenant",
                    "retailer",
                    "campaign",
                    "sku",
                    "date",
                    "placement_type",
                    "attribution_window_days",
                    "attribution_model",
                ],
                condition=Q(sku__isnull=False),
                name="fact_natural_key_sku",
            ),
            models.UniqueConstraint(
                fields=[
                    "tenant",
                    "retailer",
                    "campaign",
                    "date",
                    "placement_type",
                    "attribution_window_days",
                    "attribution_model",
                ],
                condition=Q(sku__isnull=True),
                name="fact_natural_key_campaign",
            ),
            models.CheckConstraint(
                condition=Q(impressions__gte=0)
                & Q(clicks__gte=0)
                & Q(attributed_units__gte=0)
                & Q(spend__gte=0)
                & Q(attributed_sales__gte=0),
                name="fact_non_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "date"], name="fact_tenant_date"),
            models.Index(fields=["tenant", "retailer", "placement_type", "date"], name="fact_tenant_channel_date"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.campaign_id} {self.placement_type}"


class PerformanceDaily(models.Model):
    """The daily rollup of PerformanceFact per tenant, UTC day, retailer and placement type: what the dashboard
    (and the performance summary) reads, a few rows a day instead of one per campaign, SKU and attribution key.

    Derived data: written only by ``campaigns.services.performance_rollup_refresh``, which recomputes the rows of a
    tenant's days from the facts. ``week`` is the Monday of ``date``'s week, stored so that weekly figures group
    by a column instead of truncating every row's date.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    date = models.DateField(help_text="UTC day.")
    week = models.DateField(help_text="Monday of the day's week.")
    retailer = models.ForeignKey(Retailer, on_delete=models.CASCADE, related_name="+")
    placement_type = models.CharField(max_length=20, choices=PlacementType.choices)
    impressions = models.BigIntegerField()
    clicks = models.BigIntegerField()
    spend = models.DecimalField(**MONEY)
    attributed_sales = models.DecimalField(**MONEY)
    attributed_units = models.BigIntegerField()
    facts = models.PositiveIntegerField(help_text="How many facts the row sums.")

    class Meta:
        verbose_name = "daily performance rollup"
        ordering = ["date", "retailer_id", "placement_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "date", "retailer", "placement_type"], name="performancedaily_unique_day_channel"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.retailer_id} {self.placement_type}"

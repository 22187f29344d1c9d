from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from governance.currencies import validate_currency


class Role(models.TextChoices):
    MARKETER = "marketer", "Marketer"
    REVIEWER = "reviewer", "Reviewer"
    ADJUDICATOR = "adjudicator", "Adjudicator"
    ADMIN = "admin", "Admin"


class Tenant(models.Model):
    """An advertiser: a brand owner, or an agency's client. Every business object belongs to exactly one."""

    class Kind(models.TextChoices):
        BRAND_OWNER = "brand_owner", "Brand owner"
        AGENCY_CLIENT = "agency_client", "Agency client"

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.BRAND_OWNER)
    reporting_currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique_user_tenant")]
        ordering = ["tenant__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.role})"


class APIKey(models.Model):
    """A partner's credential. Only a SHA-256 of the secret is stored; the key is shown once at creation.

    Keys are 256-bit random strings, so a fast hash is safe here (no dictionary to attack), and lookups stay
    constant-time per request through the public ``prefix``.
    """

    PREFIX_LENGTH = 12

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MARKETER)
    prefix = models.CharField(
        max_length=PREFIX_LENGTH, unique=True, validators=[RegexValidator(r"^[A-Za-z0-9]+$")], editable=False
    )
    key_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["tenant__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def hash_secret(raw_key: str) -> str:
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @classmethod
    def generate_raw_key(cls) -> tuple[str, str]:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        prefix = "".join(secrets.choice(alphabet) for _ in range(cls.PREFIX_LENGTH))
        return prefix, f"rmn_{prefix}_{secrets.token_urlsafe(32)}"


class AuditLog(models.Model):
    """Append-only: rows are never updated or deleted through the application (admin is read-only too)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_api_key = models.ForeignKey(APIKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=200, help_text="Who or what acted, readable after deletions.")
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Audit log entries are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Audit log entries are append-only and cannot be deleted.")


class TenantLimits(models.Model):
    """Per-tenant overrides of the site's limits on shared workers and inputs (settings.TENANT_LIMITS holds the
    defaults; docs/deploy.md). An empty field keeps the default; ``governance.selectors.tenant_limits`` resolves the
    effective values, and the services that start work or take input refuse past them."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, primary_key=True, related_name="limits")
    training_jobs_at_once = models.PositiveIntegerField(
        null=True, blank=True, help_text="Training jobs queued or running at the same time (0: none may start)."
    )
    training_jobs_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="Training jobs started in any 24 hours (0: none may start)."
    )
    generations_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="Generations (Try it, the plans page, the API) asked for in any 24 hours."
    )
    generation_text_chars = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Characters of one text in a prompt."
    )
    upload_bytes = models.PositiveBigIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Bytes of one uploaded file (as sent)."
    )
    import_rows = models.PositiveBigIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Rows of one imported file (decompressed)."
    )
    import_columns = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Columns of one imported file's header."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "tenant limits"
        verbose_name_plural = "tenant limits"
        ordering = ["tenant__name"]

    def __str__(self) -> str:
        return f"Limits of {self.tenant}"


class CleanRoomDataset(models.Model):
    """A retailer's shopper-level data held for one tenant, with the analysis rules every query must pass and the
    privacy budget that answers released with differential privacy spend (docs/governance.md, "Clean rooms")."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="clean_room_datasets")
    slug = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    retailer_code = models.SlugField(max_length=40, help_text="Whose shopper data this is (a retailer's code).")
    rules = models.JSONField(help_text="Analysis rules: tables with dimensions, aggregates, join keys; min_shoppers.")
    epsilon_budget = models.FloatField(
        default=10.0, validators=[MinValueValidator(0)], help_text="Total epsilon that released answers may spend."
    )
    epsilon_per_query = models.FloatField(
        default=0.5, validators=[MinValueValidator(0.001)], help_text="Epsilon one released answer spends by default."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="cleanroom_dataset_unique_slug")]
        ordering = ["tenant__name", "slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.tenant})"

    def clean(self):
        from governance.cleanroom.rules import policy_from_dict

        try:
            policy_from_dict(self.rules)
        except ValueError as exc:
            raise ValidationError({"rules": str(exc)}) from None


class CleanRoomShopper(models.Model):
    """The retailer's shopper table: one row per pseudonymous shopper."""

    dataset = models.ForeignKey(CleanRoomDataset, on_delete=models.CASCADE, related_name="shoppers")
    shopper_id = models.CharField(max_length=64)
    region = models.CharField(max_length=40)
    age_band = models.CharField(max_length=20)
    loyalty_tier = models.CharField(max_length=20)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "shopper_id"], name="cleanroom_shopper_unique")]

    def __str__(self) -> str:
        return self.shopper_id


class CleanRoomExposure(models.Model):
    """One shopper reached by one campaign (``campaign_id`` is the campaign's external id at the retailer)."""

    dataset = models.ForeignKey(CleanRoomDataset, on_delete=models.CASCADE, related_name="exposures")
    shopper_id = models.CharField(max_length=64, db_index=True)
    campaign_id = models.CharField(max_length=100)
    impressions = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.shopper_id} × {self.campaign_id}"


class CleanRoomPurchase(models.Model):
    dataset = models.ForeignKey(CleanRoomDataset, on_delete=models.CASCADE, related_name="purchases")
    shopper_id = models.CharField(max_length=64, db_index=True)
    category = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    units = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.shopper_id} {self.category} {self.amount}"


class PrivacySpend(models.Model):
    """The privacy budget ledger: one row per answer released with differential privacy. Append-only; what a dataset
    has left is its ``epsilon_budget`` minus the sum of its rows."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    dataset = models.ForeignKey(CleanRoomDataset, on_delete=models.CASCADE, related_name="privacy_spends")
    epsilon = models.FloatField(validators=[MinValueValidator(0)])
    query_sha256 = models.CharField(max_length=64)
    actor_label = models.CharField(max_length=200)
    request_key = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="The caller's Idempotency-Key: a retry with the same key gets this answer again, spending nothing.",
    )
    answer = models.JSONField(
        null=True, blank=True, help_text="The released (noisy) answer, kept to answer a retry of the same request."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "request_key"], condition=~Q(request_key=""), name="privacy_spend_unique_request"
            )
        ]

    def __str__(self) -> str:
        return f"{self.dataset.slug}: ε {self.epsilon:g} by {self.actor_label}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Privacy ledger entries are append-only and cannot be changed.")
        super().save(*args, **kwargs)

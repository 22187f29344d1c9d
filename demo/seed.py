"""Demo data: two tenants whose retail media history comes from the simulator, with the truth kept beside it.

The numbers are produced by ``demo.engine.simulator`` (docs/demo_simulator.md); this module only chooses the
catalog, the channels and the people, and writes everything in one transaction, so a failed seed leaves nothing.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
import time
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from campaigns.models import (
    SKU,
    AttributionModel,
    Brand,
    Campaign,
    PerformanceFact,
    PlacementType,
    Retailer,
    RetailerItem,
    validate_gtin,
)
from campaigns.services import performance_rollup_refresh
from core.errors import DomainError
from demo.creatives import demo_creatives_seed
from demo.engine import (
    SIMULATOR_VERSION,
    ChannelPlan,
    SKUSpec,
    build_world,
    simulate,
    simulate_lift_study,
    truth_document,
)
from governance.models import APIKey, AuditLog, Membership, Role, Tenant
from governance.services import api_key_create, audit_record
from harmonization.models import FXRate, IngestBatch
from harmonization.services import fx_rates_upsert
from optimizer.models import LiftStudy, SimulationTruth
from optimizer.services.lift_studies import lift_study_create

DEFAULT_DAYS = 180
MIN_DAYS = 120
DEFAULT_SEED = 42
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i) to misread from a terminal
TRUTH_NAME = "demo"
INGEST_SOURCE = "Demo history (simulated)"  # shown as the import's name on the imports page
SUPERUSER = "superuser"

_SPONSORED = PlacementType.SPONSORED_PRODUCT
_BANNED_HEALTH_CLAIMS = ["cures", "prevents disease", "FDA approved", "clinically proven", "guaranteed results"]


@dataclass(frozen=True)
class RetailerSeed:
    code: str
    name: str
    timezone: str
    window_days: int
    attribution_model: str
    item_id_format: str  # "asin", or the number of digits of a numeric item id; "" when the network has none
    campaign_id_digits: int
    policy_specs: dict


RETAILERS = (
    RetailerSeed(
        "amazon",
        "Amazon Ads",
        "America/Los_Angeles",
        14,
        AttributionModel.LAST_TOUCH,
        "asin",
        15,
        {
            "headline_max_chars": 50,
            "banned_claims": [*_BANNED_HEALTH_CLAIMS, "#1", "best seller", "top rated"],
            "required_disclosures": [],
            "price_claims_allowed": False,
            "custom_image_min_px": [1200, 628],
            "note": "Demo values in the shape of the network's creative policy; check the current policy.",
        },
    ),
    RetailerSeed(
        "walmart",
        "Walmart Connect",
        "America/Chicago",
        14,
        AttributionModel.LAST_CLICK,
        "9",
        7,
        {
            "headline_max_chars": 45,
            "banned_claims": [*_BANNED_HEALTH_CLAIMS, "lowest price", "#1"],
            "required_disclosures": ["Rollback and price claims must match the live item page"],
            "price_claims_allowed": False,
            "note": "Demo values in the shape of the network's creative policy; check the current policy.",
        },
    ),
    RetailerSeed(
        "criteo",
        "Criteo Retail Media",
        "UTC",
        14,
        AttributionModel.CLICK_AND_VIEW,
        "",
        6,
        {
            "headline_max_chars": 60,
            "banned_claims": _BANNED_HEALTH_CLAIMS,
            "required_disclosures": ["Sponsored"],
            "view_attribution_window_days": 1,
            "note": "Demo values in the shape of the network's creative policy; check the current policy.",
        },
    ),
    RetailerSeed(
        "instacart",
        "Instacart Ads",
        "America/Los_Angeles",
        14,
        AttributionModel.LAST_CLICK,
        "8",
        7,
        {
            "headline_max_chars": 40,
            "banned_claims": [*_BANNED_HEALTH_CLAIMS, "free delivery"],
            "required_disclosures": ["Offer terms and end date for any coupon or promotion"],
            "note": "Demo values in the shape of the network's creative policy; check the current policy.",
        },
    ),
    RetailerSeed(
        "target",
        "Roundel (Target)",
        "America/Chicago",
        14,
        AttributionModel.CLICK_AND_VIEW,
        "8",
        8,
        {
            "headline_max_chars": 40,
            "banned_claims": [*_BANNED_HEALTH_CLAIMS, "only at Target"],
            "required_disclosures": ["Sponsored"],
            "note": "Demo values in the shape of the network's creative policy; check the current policy.",
        },
    ),
)

PLACEMENT_LABELS = {
    ("amazon", _SPONSORED): "Sponsored Products",
    ("amazon", PlacementType.SEARCH): "Sponsored Brands",
    ("amazon", PlacementType.OFFSITE_DISPLAY): "DSP Display",
    ("amazon", PlacementType.CTV): "Prime Video Ads",
    ("walmart", _SPONSORED): "Sponsored Search",
    ("walmart", PlacementType.ONSITE_DISPLAY): "Onsite Display",
    ("criteo", PlacementType.OFFSITE_DISPLAY): "Offsite Display",
    ("instacart", _SPONSORED): "Featured Product",
    ("target", PlacementType.ONSITE_DISPLAY): "Onsite Display",
}


@dataclass(frozen=True)
class SkuSeed:
    code: str
    name: str
    price: str
    unit_cost: str
    stock_units: int


@dataclass(frozen=True)
class BrandSeed:
    name: str
    category: str
    skus: tuple[SkuSeed, ...]


@dataclass(frozen=True)
class LiftSeed:
    channel_key: str
    method: str
    days: int
    ends_days_before_end: int


@dataclass(frozen=True)
class TenantSeed:
    slug: str
    name: str
    kind: str
    gtin_company_prefix: str  # UPC-A: number system digit and 5-digit company prefix
    demand_peak_day_of_year: int
    brands: tuple[BrandSeed, ...]
    channels: tuple[tuple[str, str, float, tuple[str, ...]], ...]  # retailer, placement, plan per day, brands
    users: tuple[tuple[str, str], ...]
    lift_studies: tuple[LiftSeed, ...]


_ACME_BRANDS = ("Crunchy Hollow", "Morning Mill")
TENANTS = (
    TenantSeed(
        slug="acme",
        name="Acme Foods",
        kind=Tenant.Kind.BRAND_OWNER,
        gtin_company_prefix="081234",
        demand_peak_day_of_year=340,  # holiday snacking
        brands=(
            BrandSeed(
                "Crunchy Hollow",
                "Snacks > Chips & Pretzels",
                (
                    SkuSeed("CH-SEASALT-7OZ", "Crunchy Hollow Sea Salt Kettle Chips, 7 oz", "3.99", "2.05", 18000),
                    SkuSeed("CH-BBQ-7OZ", "Crunchy Hollow Smoky BBQ Kettle Chips, 7 oz", "3.99", "2.12", 14500),
                    SkuSeed("CH-VARIETY-20CT", "Crunchy Hollow Variety Pack, 20 x 1 oz", "12.99", "7.40", 6200),
                    SkuSeed("CH-PRETZEL-12OZ", "Crunchy Hollow Sourdough Pretzels, 12 oz", "4.49", "2.35", 9800),
                ),
            ),
            BrandSeed(
                "Morning Mill",
                "Breakfast > Cereal & Oatmeal",
                (
                    SkuSeed("MM-OATCRUNCH-14OZ", "Morning Mill Honey Oat Crunch, 14 oz", "4.79", "2.60", 11000),
                    SkuSeed("MM-GRANOLA-16OZ", "Morning Mill Almond Granola, 16 oz", "6.49", "3.45", 7400),
                    SkuSeed("MM-OATMEAL-10CT", "Morning Mill Instant Oatmeal, 10 ct", "5.29", "2.95", 8800),
                ),
            ),
        ),
        channels=(
            ("amazon", _SPONSORED, 900.0, _ACME_BRANDS),
            ("amazon", PlacementType.SEARCH, 350.0, _ACME_BRANDS),
            ("amazon", PlacementType.OFFSITE_DISPLAY, 400.0, _ACME_BRANDS),
            ("amazon", PlacementType.CTV, 600.0, _ACME_BRANDS),
            ("walmart", _SPONSORED, 600.0, _ACME_BRANDS),
            ("walmart", PlacementType.ONSITE_DISPLAY, 250.0, _ACME_BRANDS),
            ("criteo", PlacementType.OFFSITE_DISPLAY, 300.0, _ACME_BRANDS),
            ("instacart", _SPONSORED, 350.0, _ACME_BRANDS),
            ("target", PlacementType.ONSITE_DISPLAY, 200.0, ("Crunchy Hollow",)),
        ),
        users=(
            ("acme-marketer", Role.MARKETER),
            ("acme-reviewer", Role.REVIEWER),
            ("acme-reviewer2", Role.REVIEWER),
            ("acme-adjudicator", Role.ADJUDICATOR),
            ("acme-admin", Role.ADMIN),
        ),
        lift_studies=(
            LiftSeed("amazon:sponsored_product", "rct_holdout", 28, 14),
            LiftSeed("criteo:offsite_display", "ghost_ads", 28, 45),
            LiftSeed("amazon:ctv", "geo_matched_markets", 42, 60),
            LiftSeed("walmart:sponsored_product", "rct_holdout", 28, 80),
        ),
    ),
    TenantSeed(
        slug="globex",
        name="Globex Beverages",
        kind=Tenant.Kind.AGENCY_CLIENT,
        gtin_company_prefix="085678",
        demand_peak_day_of_year=196,  # summer drinks
        brands=(
            BrandSeed(
                "Fizzwell",
                "Beverages > Sparkling Water",
                (
                    SkuSeed("FW-LIME-12PK", "Fizzwell Lime Sparkling Water, 12 x 12 fl oz", "5.99", "3.10", 22000),
                    SkuSeed(
                        "FW-BERRY-12PK", "Fizzwell Wild Berry Sparkling Water, 12 x 12 fl oz", "5.99", "3.15", 16000
                    ),
                    SkuSeed("FW-VARIETY-24PK", "Fizzwell Variety Pack, 24 x 12 fl oz", "10.99", "6.20", 7000),
                    SkuSeed("FW-GINGER-8PK", "Fizzwell Ginger Tonic, 8 x 7.5 fl oz", "4.49", "2.20", 9000),
                ),
            ),
        ),
        channels=(
            ("amazon", _SPONSORED, 500.0, ("Fizzwell",)),
            ("walmart", _SPONSORED, 450.0, ("Fizzwell",)),
            ("instacart", _SPONSORED, 400.0, ("Fizzwell",)),
            ("criteo", PlacementType.OFFSITE_DISPLAY, 250.0, ("Fizzwell",)),
            ("target", PlacementType.ONSITE_DISPLAY, 150.0, ("Fizzwell",)),
        ),
        users=(("globex-marketer", Role.MARKETER),),
        lift_studies=(
            LiftSeed("amazon:sponsored_product", "rct_holdout", 28, 20),
            LiftSeed("instacart:sponsored_product", "rct_holdout", 28, 50),
            LiftSeed("criteo:offsite_display", "ghost_ads", 28, 85),
        ),
    ),
)


@dataclass
class DemoSeedResult:
    created: bool
    seed: int | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    password: str | None = None
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # username, tenant, role
    api_key: str | None = None
    fact_rows: dict[str, int] = field(default_factory=dict)
    creatives: dict[str, int] = field(default_factory=dict)  # {"briefs", "creatives", "queued"} (demo/creatives.py)
    seconds: float = 0.0


def gtin_with_check_digit(body: str) -> str:
    """Append the GS1 check digit to a GTIN body (11 digits for a UPC-A)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def demo_password_new() -> str:
    """A fresh random password for the demo logins, such as ``k7dq-m3xp-9fta-wr2e`` (about 79 bits)."""
    chars = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(16))
    return "-".join(chars[i : i + 4] for i in range(0, 16, 4))


def demo_password_check(password: str) -> None:
    """Refuse a password the site's validators would refuse (too short, too common, only digits)."""
    try:
        validate_password(password)
    except ValidationError as exc:
        raise DomainError(f"password: {' '.join(exc.messages)}", field="password") from None


def demo_logins() -> list[tuple[str, str, str]]:
    logins = [(name, t.name, role) for t in TENANTS for name, role in t.users]
    return [*logins, (SUPERUSER, "(all, Django admin)", "superuser")]


def demo_exists() -> bool:
    """True when both demo tenants carry their truth; raises when their names are taken by other data."""
    tenants = _demo_tenants()
    if not tenants.exists():
        return False
    seeded = SimulationTruth.objects.filter(tenant__in=tenants, name=TRUTH_NAME).count()
    if seeded == len(TENANTS) and tenants.count() == len(TENANTS):
        return True
    raise DomainError(
        "Tenants named like the demo ones exist but hold no complete demo data; run seed_demo --reset to "
        "replace their data with the demo.",
        field="tenants",
    )


def demo_reset() -> None:
    """Delete everything that belongs to the demo tenants. The tenants and their audit trail stay: the audit log
    is append-only, so the next seed writes into the same tenants."""
    tenants = list(_demo_tenants())
    if not tenants:
        return
    known = [PerformanceFact, LiftStudy, SimulationTruth, IngestBatch, Campaign, RetailerItem, SKU, Brand]
    known += [APIKey, Membership]
    # Other apps' tenant data (recommendations, feedback, ...) goes first: it may point at ours.
    others = [
        model
        for model in apps.get_models()
        if model not in known and model not in (AuditLog, Tenant) and _tenant_field(model)
    ]
    with transaction.atomic():
        for model in [*others, *known]:
            model._base_manager.filter(**{f"{_tenant_field(model)}__in": tenants}).delete()


def _demo_tenants() -> models.QuerySet[Tenant]:
    slugs, names = [t.slug for t in TENANTS], [t.name for t in TENANTS]
    return Tenant.objects.filter(models.Q(slug__in=slugs) | models.Q(name__in=names))


def _tenant_field(model) -> str | None:
    for f in model._meta.get_fields():
        if isinstance(f, models.ForeignKey) and f.related_model is Tenant:
            return f.name
    return None


def demo_seed(
    *,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
    reset: bool = False,
    password: str | None = None,
    today: dt.date | None = None,
) -> DemoSeedResult:
    """Write the demo (or report that it exists). ``days`` of facts end yesterday (UTC) unless ``today`` is given.
    Either way the demo logins get ``password``, a new random one when it is None."""
    if days < MIN_DAYS:
        raise DomainError(f"days must be at least {MIN_DAYS} so curves and lift studies fit, got {days}.", field="days")
    password = demo_password_new() if password is None else password
    demo_password_check(password)
    began = time.perf_counter()
    end = (today or timezone.now().astimezone(dt.UTC).date()) - dt.timedelta(days=1)
    start = end - dt.timedelta(days=days - 1)
    with transaction.atomic():
        if reset:
            demo_reset()
        elif demo_exists():
            _users_upsert(password)
            return DemoSeedResult(created=False, password=password, logins=demo_logins())
        retailers = _retailers_upsert()
        _fx_rates_upsert(start=start, end=end, seed=seed)
        users = _users_upsert(password)
        result = DemoSeedResult(created=True, seed=seed, start=start, end=end, password=password)
        result.logins = demo_logins()
        for index, spec in enumerate(TENANTS):
            tenant = _tenant_upsert(spec)
            for username, role in spec.users:
                Membership.objects.create(user=users[username], tenant=tenant, role=role)
            rows = _tenant_seed(spec, tenant, retailers, seed=seed * 10 + index, base_seed=seed, start=start, days=days)
            result.fact_rows[spec.slug] = rows
            if spec.slug == "acme":
                _, result.api_key = api_key_create(tenant=tenant, name="Demo partner key", role=Role.MARKETER)
                result.creatives = demo_creatives_seed(tenant=tenant, retailers=retailers)
    result.seconds = time.perf_counter() - began
    return result


def _retailers_upsert() -> dict[str, Retailer]:
    out = {}
    for r in RETAILERS:
        out[r.code], _ = Retailer.objects.update_or_create(
            code=r.code,
            defaults={
                "name": r.name,
                "reporting_currency": "USD",
                "timezone": r.timezone,
                "default_attribution_window_days": r.window_days,
                "default_attribution_model": r.attribution_model,
                "policy_specs": r.policy_specs,
                "is_active": True,
            },
        )
    # Reference only (no demo campaigns or items): the shipped EU JSONL mapping loads into it.
    Retailer.objects.update_or_create(
        code=EU_RETAILER["code"], defaults={k: v for k, v in EU_RETAILER.items() if k != "code"}
    )
    return out


EU_RETAILER = {
    "code": "eu_retailer",
    "name": "European Retailer Media",
    "reporting_currency": "EUR",
    "timezone": "Europe/Berlin",
    "default_attribution_window_days": 14,
    "default_attribution_model": AttributionModel.LAST_CLICK,
    "policy_specs": {
        "headline_max_chars": 50,
        "banned_claims": _BANNED_HEALTH_CLAIMS,
        "required_disclosures": ["Gesponsert"],
        "note": "Demo values in the shape of the network's creative policy; check the current policy.",
    },
    "is_active": True,
}
# Rough levels of 1 unit in USD; the demo's rates drift from these as a random walk (daily sd 0.4 %).
FX_START = {"EUR": 1.08, "GBP": 1.27, "CAD": 0.73}
FX_SOURCE = "demo simulator"


def _fx_rates_upsert(*, start: dt.date, end: dt.date, seed: int) -> int:
    """Weekday EUR/GBP/CAD -> USD fixings over the demo range (and a week before it, so the first days of a
    file have a rate within the staleness window). Shared reference data: upserted, never deleted by a reset."""
    rng = np.random.default_rng(seed + 7)
    first = start - dt.timedelta(days=7)
    days = [first + dt.timedelta(days=i) for i in range((end - first).days + 1)]
    weekdays = [d for d in days if d.weekday() < 5]
    rows = []
    for currency, level in FX_START.items():
        walk = level * np.exp(np.cumsum(rng.normal(0.00005, 0.004, size=len(weekdays))))
        rows += [
            FXRate(date=d, currency=currency, quote_currency="USD", rate=Decimal(f"{r:.6f}"), source=FX_SOURCE)
            for d, r in zip(weekdays, walk, strict=True)
        ]
    return fx_rates_upsert(rows)


def _users_upsert(password: str) -> dict:
    user_model = get_user_model()
    hashed = make_password(password)  # hashed once: the demo users share it and PBKDF2 is slow on purpose
    users = {}
    for username, _tenant, role in demo_logins():
        superuser = role == "superuser"
        users[username], _ = user_model.objects.update_or_create(
            username=username,
            defaults={
                "password": hashed,
                "email": f"{username}@demo.invalid",
                "is_staff": superuser,
                "is_superuser": superuser,
                "is_active": True,
            },
        )
    return users


def _tenant_upsert(spec: TenantSeed) -> Tenant:
    tenant = Tenant.objects.filter(models.Q(slug=spec.slug) | models.Q(name=spec.name)).first() or Tenant()
    tenant.slug, tenant.name, tenant.kind, tenant.reporting_currency = spec.slug, spec.name, spec.kind, "USD"
    tenant.save()
    return tenant


def _tenant_seed(
    spec: TenantSeed,
    tenant: Tenant,
    retailers: dict[str, Retailer],
    *,
    seed: int,
    base_seed: int,
    start: dt.date,
    days: int,
) -> int:
    ids = np.random.default_rng(seed)
    skus = _catalog_create(spec, tenant, retailers, ids)
    plans = [ChannelPlan(r, str(p), x, brands) for r, p, x, brands in spec.channels]
    world = build_world(
        seed=seed,
        channel_plans=plans,
        skus=[SKUSpec(s.sku_code, s.brand.name, float(s.price), float(s.unit_cost)) for s in skus.values()],
        reference_date=start,
        currency=tenant.reporting_currency,
        peak_day_of_year=spec.demand_peak_day_of_year,
    )
    history = simulate(world, start=start, days=days, seed=seed)

    brands = {b.name: b for b in Brand.objects.filter(tenant=tenant)}
    campaigns: dict[tuple[int, int], Campaign] = {}
    for c, channel in enumerate(world.channels):
        label = PLACEMENT_LABELS.get((channel.retailer, channel.placement_type), channel.placement_type)
        for k, camp in enumerate(channel.campaigns):
            campaigns[c, k] = Campaign(
                tenant=tenant,
                retailer=retailers[channel.retailer],
                brand=brands[camp.brand],
                name=f"{camp.brand} | {label} | Always-on",
                external_id=_digits(ids, _retailer_seed(channel.retailer).campaign_id_digits),
                placement_type=channel.placement_type,
                start_date=start,
                budget=_money(channel.plan_daily_spend * camp.spend_share * days),
                budget_currency=tenant.reporting_currency,
                status=Campaign.Status.ACTIVE,
            )
    Campaign.objects.bulk_create(campaigns.values())

    batch = IngestBatch.objects.create(
        tenant=tenant, source=INGEST_SOURCE, mapping_name="simulator", status=IngestBatch.Status.RUNNING
    )
    currency = tenant.reporting_currency
    facts = []
    for line in history.lines:
        channel = world.channels[line.channel]
        retailer = retailers[channel.retailer]
        campaign = campaigns[line.channel, line.campaign]
        sku = skus[line.sku_code] if line.sku_code else None
        for t, day in enumerate(history.dates):
            if not (line.spend[t] or line.impressions[t] or line.attributed_units[t]):
                continue  # networks leave idle days out of their reports
            spend, sales = _money(line.spend[t]), _money(line.attributed_sales[t])
            facts.append(
                PerformanceFact(
                    date=day,
                    tenant=tenant,
                    retailer=retailer,
                    campaign=campaign,
                    sku=sku,
                    placement_type=channel.placement_type,
                    impressions=int(line.impressions[t]),
                    clicks=int(line.clicks[t]),
                    spend=spend,
                    attributed_sales=sales,
                    attributed_units=int(line.attributed_units[t]),
                    attribution_window_days=retailer.default_attribution_window_days,
                    attribution_model=retailer.default_attribution_model,
                    currency=currency,
                    original_currency=currency,
                    original_spend=spend,
                    original_attributed_sales=sales,
                    fx_rate=Decimal(1),
                    ingest_batch=batch,
                )
            )
    PerformanceFact.objects.bulk_create(facts, batch_size=2000)
    performance_rollup_refresh(tenant=tenant)

    end = history.dates[-1]
    lifts = []
    for lift in spec.lift_studies:
        lift_start = end - dt.timedelta(days=lift.ends_days_before_end + lift.days - 1)
        result = simulate_lift_study(
            world,
            history,
            channel_key=lift.channel_key,
            start=lift_start,
            days=lift.days,
            seed=seed,
            method=lift.method,
        )
        lifts.append(result)
        lift_study_create(
            tenant=tenant,
            retailer_code=result.retailer,
            placement_type=result.placement_type,
            start_date=result.start,
            end_date=result.end,
            spend=_money(result.spend),
            incremental_sales=_money(result.estimate),
            incremental_sales_se=_money(result.standard_error),
            method=result.method,
            source=LiftStudy.Source.SIMULATOR,
            currency=currency,
            notes=f"Simulated {lift.days}-day study from the demo simulator (seed {seed}).",
        )

    truth = truth_document(world, history, lifts)
    truth["tenant"] = tenant.slug
    truth["campaigns"] = {}  # channel key -> brand -> the campaign's external id
    for (c, k), campaign in campaigns.items():
        channel = world.channels[c]
        truth["campaigns"].setdefault(channel.key, {})[channel.campaigns[k].brand] = campaign.external_id
    SimulationTruth.objects.create(
        tenant=tenant, name=TRUTH_NAME, seed=base_seed, simulator_version=SIMULATOR_VERSION, truth=truth
    )
    batch.status = IngestBatch.Status.SUCCEEDED
    batch.rows_read = batch.rows_loaded = len(facts)
    batch.report = {"simulator_version": SIMULATOR_VERSION, "seed": seed, "start": str(start), "days": days}
    batch.finished_at = timezone.now()
    batch.save()
    audit_record(
        action="demo.seed",
        tenant=tenant,
        actor_label="seed_demo",
        obj=batch,
        detail={"seed": base_seed, "days": days, "facts": len(facts)},
    )
    return len(facts)


def _catalog_create(spec: TenantSeed, tenant: Tenant, retailers: dict[str, Retailer], ids) -> dict[str, SKU]:
    skus: dict[str, SKU] = {}
    item = 100
    for brand_spec in spec.brands:
        brand = Brand.objects.create(tenant=tenant, name=brand_spec.name)
        for s in brand_spec.skus:
            item += 7
            gtin = gtin_with_check_digit(f"{spec.gtin_company_prefix}{item:05d}")
            validate_gtin(gtin)
            skus[s.code] = SKU(
                tenant=tenant,
                brand=brand,
                sku_code=s.code,
                name=s.name,
                gtin=gtin,
                category=brand_spec.category,
                currency=tenant.reporting_currency,
                price=Decimal(s.price),
                unit_cost=Decimal(s.unit_cost),
                stock_units=s.stock_units,
            )
    SKU.objects.bulk_create(skus.values())
    sold_at = {r for r, *_ in spec.channels}
    items = [
        RetailerItem(tenant=tenant, sku=sku, retailer=retailers[r.code], item_id=_item_id(ids, r.item_id_format))
        for sku in skus.values()
        for r in RETAILERS
        if r.code in sold_at and r.item_id_format
    ]
    RetailerItem.objects.bulk_create(items)
    return skus


def _retailer_seed(code: str) -> RetailerSeed:
    return next(r for r in RETAILERS if r.code == code)


def _item_id(ids: np.random.Generator, fmt: str) -> str:
    if fmt == "asin":
        alphabet = string.ascii_uppercase + string.digits
        return "B0" + "".join(alphabet[i] for i in ids.integers(0, len(alphabet), 8))
    return _digits(ids, int(fmt))


def _digits(ids: np.random.Generator, n: int) -> str:
    return str(int(ids.integers(1, 10))) + "".join(str(d) for d in ids.integers(0, 10, n - 1))


def _money(value: float) -> Decimal:
    return Decimal(f"{value:.2f}")

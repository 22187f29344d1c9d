"""Personas and a small data set shared by every app's tests.

Personas (as in healthchecks' BaseTestCase): ``owner`` (admin of Acme), ``marketer`` (of Acme), ``reviewer``
(of Acme: may look, may not change), ``stranger`` (marketer of another tenant, Globex), and anonymous.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest


@pytest.fixture
def tenants(db):
    from governance.models import Tenant

    acme = Tenant.objects.create(name="Acme Foods", slug="acme", reporting_currency="USD")
    globex = Tenant.objects.create(name="Globex Beverages", slug="globex", reporting_currency="USD")
    return {"acme": acme, "globex": globex}


@pytest.fixture
def personas(tenants, django_user_model):
    from governance.models import Membership, Role

    def make(username, tenant, role):
        user = django_user_model.objects.create_user(username=username, password="pw-for-tests-123")
        Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return {
        "owner": make("owner", tenants["acme"], Role.ADMIN),
        "marketer": make("marketer", tenants["acme"], Role.MARKETER),
        "reviewer": make("reviewer", tenants["acme"], Role.REVIEWER),
        "stranger": make("stranger", tenants["globex"], Role.MARKETER),
    }


@pytest.fixture
def retailers(db):
    from campaigns.models import AttributionModel, Retailer

    amazon = Retailer.objects.create(
        code="amazon",
        name="Amazon Ads",
        reporting_currency="USD",
        timezone="America/Los_Angeles",
        default_attribution_window_days=14,
        default_attribution_model=AttributionModel.LAST_TOUCH,
    )
    walmart = Retailer.objects.create(
        code="walmart",
        name="Walmart Connect",
        reporting_currency="USD",
        timezone="America/Chicago",
        default_attribution_window_days=14,
        default_attribution_model=AttributionModel.LAST_CLICK,
    )
    return {"amazon": amazon, "walmart": walmart}


@pytest.fixture
def catalog(tenants, retailers):
    """For each tenant: one brand, two SKUs, one campaign per retailer, and 10 days of facts with known sums."""
    from campaigns.models import SKU, AttributionModel, Brand, Campaign, PerformanceFact, PlacementType
    from harmonization.models import IngestBatch

    out = {}
    for slug, tenant in tenants.items():
        brand = Brand.objects.create(tenant=tenant, name=f"{tenant.name} Brand")
        skus = [
            SKU.objects.create(
                tenant=tenant,
                brand=brand,
                sku_code=f"{slug}-sku-{i}",
                name=f"{slug} product {i}",
                category="snacks",
                price=Decimal("5.00") + i,
                unit_cost=Decimal("2.00") + i,
                stock_units=100,
            )
            for i in range(2)
        ]
        batch = IngestBatch.objects.create(tenant=tenant, source="conftest", status=IngestBatch.Status.SUCCEEDED)
        campaigns = {}
        for code, retailer in retailers.items():
            placement = PlacementType.SPONSORED_PRODUCT if code == "amazon" else PlacementType.ONSITE_DISPLAY
            campaigns[code] = Campaign.objects.create(
                tenant=tenant,
                retailer=retailer,
                brand=brand,
                name=f"{slug} {code}",
                external_id=f"{slug}-{code}",
                placement_type=placement,
                start_date=dt.date(2026, 1, 1),
                budget=Decimal("1000"),
                budget_currency="USD",
                status=Campaign.Status.ACTIVE,
            )
            for day in range(10):
                spend = Decimal(10 + day)
                PerformanceFact.objects.create(
                    date=dt.date(2026, 3, 1) + dt.timedelta(days=day),
                    tenant=tenant,
                    retailer=retailer,
                    campaign=campaigns[code],
                    sku=skus[0] if code == "amazon" else None,
                    placement_type=placement,
                    impressions=1000 + day,
                    clicks=10 + day,
                    spend=spend,
                    attributed_sales=spend * 3,
                    attributed_units=day,
                    attribution_window_days=14,
                    attribution_model=AttributionModel.LAST_CLICK,
                    currency="USD",
                    original_currency="USD",
                    original_spend=spend,
                    original_attributed_sales=spend * 3,
                    ingest_batch=batch,
                )
        out[slug] = {"brand": brand, "skus": skus, "campaigns": campaigns, "batch": batch}
    return out

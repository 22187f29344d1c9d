"""Allocation plans: the tenant's data in the optimizer's file contract, request checks, and a plan run through the
real engine (curves fitted to simulated history, then the constrained allocator)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from django.db import transaction

from campaigns.models import SKU, AttributionModel, Brand, Campaign, PerformanceFact
from core.errors import DomainError
from demo.engine.simulator import ChannelPlan, SKUSpec, build_world, simulate, simulate_lift_study
from governance.models import AuditLog
from harmonization.models import IngestBatch
from optimizer.models import AllocationPlan, LiftStudy
from optimizer.selectors import HISTORY_COLUMNS, LIFT_COLUMNS, SKU_COLUMNS, tenant_frames
from optimizer.services.plans import plan_create, plan_run


@pytest.fixture(autouse=True)
def _fewer_posterior_samples(monkeypatch):
    # 60 posterior samples instead of the service's 200 keep each in-process engine run well under a second;
    # the worker tests run the service's own number.
    monkeypatch.setattr("optimizer.services.plans.PLAN_SAMPLES", 60)


SIM_START = dt.date(2026, 1, 5)
SIM_DAYS = 90
SIM_CHANNELS = (
    ("amazon", "sponsored_product", 900.0),
    ("amazon", "search", 350.0),
    ("walmart", "onsite_display", 300.0),
)


def seed_history(tenant, retailers, *, seed: int = 3, days: int = SIM_DAYS, lift_study: bool = True):
    """~90 days of simulated facts (spend varies day to day) on three channels of ``tenant``, its SKUs, and one
    lift study; returns the simulator's world and history so tests can compare against the truth."""
    brand = Brand.objects.create(tenant=tenant, name="Crunchy")
    sku_specs = [
        SKUSpec("crn-1", "Crunchy", 4.99, 2.10),
        SKUSpec("crn-2", "Crunchy", 6.49, 2.90),
        SKUSpec("crn-3", "Crunchy", 3.49, 1.20),
    ]
    skus = {
        s.code: SKU.objects.create(
            tenant=tenant,
            brand=brand,
            sku_code=s.code,
            name=f"Crunchy {s.code}",
            category="snacks",
            price=Decimal(str(s.price)),
            unit_cost=Decimal(str(s.unit_cost)),
            stock_units=1000,
        )
        for s in sku_specs
    }
    world = build_world(
        seed=seed,
        channel_plans=[ChannelPlan(r, p, x, ("Crunchy",)) for r, p, x in SIM_CHANNELS],
        skus=sku_specs,
        reference_date=SIM_START,
    )
    history = simulate(world, start=SIM_START, days=days, seed=seed)
    batch = IngestBatch.objects.create(tenant=tenant, source="simulated", status=IngestBatch.Status.SUCCEEDED)
    campaigns = {}
    for c, channel in enumerate(world.channels):
        for k, _camp in enumerate(channel.campaigns):
            campaigns[c, k] = Campaign.objects.create(
                tenant=tenant, retailer=retailers[channel.retailer], brand=brand,
                name=f"{channel.key} {k}", external_id=f"sim-{c}-{k}", placement_type=channel.placement_type,
                start_date=SIM_START, budget=Decimal("100000"), budget_currency="USD",
                status=Campaign.Status.ACTIVE,
            )  # fmt: skip
    facts = []
    for line in history.lines:
        channel = world.channels[line.channel]
        for t, day in enumerate(history.dates):
            if not (line.spend[t] or line.impressions[t] or line.attributed_units[t]):
                continue
            spend, sales = Decimal(f"{line.spend[t]:.2f}"), Decimal(f"{line.attributed_sales[t]:.2f}")
            facts.append(
                PerformanceFact(
                    date=day,
                    tenant=tenant,
                    retailer=retailers[channel.retailer],
                    campaign=campaigns[line.channel, line.campaign],
                    sku=skus[line.sku_code] if line.sku_code else None,
                    placement_type=channel.placement_type,
                    impressions=int(line.impressions[t]),
                    clicks=int(line.clicks[t]),
                    spend=spend,
                    attributed_sales=sales,
                    attributed_units=int(line.attributed_units[t]),
                    attribution_window_days=14,
                    attribution_model=AttributionModel.LAST_CLICK,
                    currency="USD",
                    original_currency="USD",
                    original_spend=spend,
                    original_attributed_sales=sales,
                    ingest_batch=batch,
                )
            )
    PerformanceFact.objects.bulk_create(facts, batch_size=2000)
    if lift_study:
        lift = simulate_lift_study(
            world, history, channel_key="amazon:sponsored_product", start=SIM_START + dt.timedelta(days=days - 28),
            days=28, seed=seed,
        )  # fmt: skip
        LiftStudy.objects.create(
            tenant=tenant, retailer=retailers["amazon"], placement_type="sponsored_product",
            start_date=lift.start, end_date=lift.end, spend=Decimal(f"{lift.spend:.2f}"),
            incremental_sales=Decimal(f"{lift.estimate:.2f}"),
            incremental_sales_se=Decimal(f"{lift.standard_error:.2f}"),
            currency="USD", method=LiftStudy.Method.RCT_HOLDOUT, source=LiftStudy.Source.SIMULATOR,
        )  # fmt: skip
    return world, history


@pytest.fixture
def simulated(tenants, retailers):
    return seed_history(tenants["acme"], retailers)


# --- tenant_frames -------------------------------------------------------------------------------------------------


def test_tenant_frames_follow_the_file_contract_and_add_up_to_the_facts(catalog, tenants, retailers):
    LiftStudy.objects.create(
        tenant=tenants["acme"], retailer=retailers["walmart"], placement_type="onsite_display",
        start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 3, 7), spend=Decimal("70"),
        incremental_sales=Decimal("90.5"), incremental_sales_se=Decimal("12"), currency="USD",
        method=LiftStudy.Method.RCT_HOLDOUT, source=LiftStudy.Source.RETAILER,
    )  # fmt: skip
    history, skus, lift = tenant_frames(tenants["acme"])
    assert list(history.columns) == HISTORY_COLUMNS
    assert list(skus.columns) == SKU_COLUMNS
    assert list(lift.columns) == LIFT_COLUMNS
    # conftest: per tenant, 10 days x 2 retailers with spend 10..19 and attributed sales 3x spend.
    assert len(history) == 20
    assert history["spend"].sum() == pytest.approx(2 * 145.0)
    assert history["attributed_sales"].sum() == pytest.approx(3 * 2 * 145.0)
    assert history["impressions"].sum() == 2 * sum(1000 + d for d in range(10))
    assert history["attributed_units"].sum() == 2 * 45
    by_channel = history.groupby(["retailer", "placement_type"])["spend"].sum().to_dict()
    assert by_channel == {("amazon", "sponsored_product"): 145.0, ("walmart", "onsite_display"): 145.0}
    assert str(history["date"].dtype) == "datetime64[ns]"
    assert history["date"].min() == np.datetime64("2026-03-01") and history["date"].max() == np.datetime64("2026-03-10")
    # Sponsored products carry their SKU, display rows have none (an empty string, as in H.csv).
    assert set(history.loc[history.retailer == "amazon", "sku_id"]) == {"acme-sku-0"}
    assert set(history.loc[history.retailer == "walmart", "sku_id"]) == {""}
    assert set(history["campaign_id"]) == {"acme-amazon", "acme-walmart"}
    assert set(history["currency"]) == {"USD"} and set(history["attribution_window_days"]) == {14}
    assert skus.to_dict("records") == [
        {"sku_id": "acme-sku-0", "brand": "Acme Foods Brand", "category": "snacks",
         "product_name": "acme product 0", "price": 5.0, "unit_cost": 2.0},
        {"sku_id": "acme-sku-1", "brand": "Acme Foods Brand", "category": "snacks",
         "product_name": "acme product 1", "price": 6.0, "unit_cost": 3.0},
    ]  # fmt: skip
    assert lift.to_dict("records") == [
        {"retailer": "walmart", "placement_type": "onsite_display", "start_date": np.datetime64("2026-03-01"),
         "end_date": np.datetime64("2026-03-07"), "spend": 70.0, "incremental_sales": 90.5,
         "incremental_sales_se": 12.0},
    ]  # fmt: skip


def test_tenant_frames_keep_the_last_days_and_the_tenant_only(catalog, tenants):
    history, skus, lift = tenant_frames(tenants["globex"], days=3)
    assert sorted(history["date"].dt.strftime("%Y-%m-%d").unique()) == ["2026-03-08", "2026-03-09", "2026-03-10"]
    assert history["spend"].sum() == pytest.approx(2 * (17 + 18 + 19))
    assert set(history["campaign_id"]) == {"globex-amazon", "globex-walmart"}
    assert set(skus["sku_id"]) == {"globex-sku-0", "globex-sku-1"} and lift.empty


def test_tenant_frames_leave_out_lift_studies_in_another_currency(catalog, tenants, retailers):
    LiftStudy.objects.create(
        tenant=tenants["acme"], retailer=retailers["amazon"], placement_type="sponsored_product",
        start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 3, 7), spend=Decimal("70"),
        incremental_sales=Decimal("90"), incremental_sales_se=Decimal("12"), currency="EUR",
        method=LiftStudy.Method.RCT_HOLDOUT, source=LiftStudy.Source.RETAILER,
    )  # fmt: skip
    _, _, lift = tenant_frames(tenants["acme"])
    assert lift.empty and lift.attrs["skipped_other_currency"] == 1


def test_tenant_frames_of_an_empty_tenant_are_empty_with_the_columns(tenants):
    history, skus, lift = tenant_frames(tenants["acme"])
    assert history.empty and list(history.columns) == HISTORY_COLUMNS
    assert skus.empty and lift.empty


def test_tenant_frames_match_the_simulated_history(simulated, tenants):
    world, truth = simulated
    history, _, _ = tenant_frames(tenants["acme"])
    for c, channel in enumerate(world.channels):
        rows = history[(history.retailer == channel.retailer) & (history.placement_type == channel.placement_type)]
        assert rows["spend"].sum() == pytest.approx(truth.spend[c].sum(), abs=0.01 * len(rows))
        assert rows["attributed_sales"].sum() == pytest.approx(truth.attributed_sales[c].sum(), abs=0.01 * len(rows))


# --- plan_create ---------------------------------------------------------------------------------------------------

GOOD = {"name": "Spring push", "budget": Decimal("5000"), "period_days": 28, "min_roas": Decimal("2")}


@pytest.mark.parametrize(
    ("change", "field", "mentions"),
    [
        ({"budget": Decimal("-1")}, "budget", "budget must be greater than 0"),
        ({"budget": "lots"}, "budget", "budget must be a number"),
        ({"period_days": 0}, "period_days", "period_days must be between 1 and 366, got 0"),
        ({"period_days": 2.5}, "period_days", "whole number"),
        ({"min_roas": Decimal("-0.5")}, "min_roas", "min_roas must not be negative"),
        ({"roas_basis": "reported"}, "roas_basis", "Unknown roas_basis 'reported'"),
        ({"objective": "clicks"}, "objective", "Unknown objective 'clicks'"),
        ({"chance": 1.5}, "chance", "chance must be between 0 and 1"),
        ({"chance": 0.9, "min_roas": None}, "chance", "chance needs a min_roas"),
        (
            {"bounds": {"target|ctv": [0, 10]}},
            "bounds",
            "unknown channel 'target|ctv'; the tenant's channels are amazon|sponsored_product, walmart|onsite_display",
        ),
        ({"bounds": {"amazon": [0, 10]}}, "bounds", "unknown channel 'amazon'"),
        ({"bounds": {"amazon|sponsored_product": [50, 10]}}, "bounds", "max 10 is below min 50"),
        ({"bounds": {"amazon|sponsored_product": [-5, 10]}}, "bounds", "min -5 must not be negative"),
        ({"bounds": {"amazon|sponsored_product": [1]}}, "bounds", "must be [min, max]"),
        (
            {"bounds": {"amazon|sponsored_product": [3000, 4000], "walmart|onsite_display": [2500, 3000]}},
            "bounds",
            "the channel minimums add up to 5,500.00, more than the budget 5,000.00",
        ),
        ({"retailer_bounds": {"criteo": [0, 10]}}, "retailer_bounds", "unknown retailer 'criteo'"),
        ({"exclude_channels": ["walmart|ctv"]}, "exclude_channels", "unknown channel 'walmart|ctv'"),
        (
            {"exclude_channels": ["walmart|onsite_display", "amazon|sponsored_product"]},
            "exclude_channels",
            "leaves no channel",
        ),
        ({"name": "x" * 201}, "name", "the limit is 200"),
    ],
)
def test_plan_create_refuses_bad_requests_naming_the_field(catalog, tenants, personas, change, field, mentions):
    with pytest.raises(DomainError) as caught:
        plan_create(tenant=tenants["acme"], user=personas["marketer"], **{**GOOD, **change})
    assert caught.value.field == field
    assert mentions in caught.value.message
    assert not AllocationPlan.objects.exists()


def test_plan_create_refuses_a_tenant_without_history(tenants, personas):
    with pytest.raises(DomainError, match="has no performance history yet"):
        plan_create(tenant=tenants["acme"], user=personas["marketer"], **GOOD)


def test_plan_create_saves_a_pending_plan_and_queues_it_after_commit(catalog, tenants, personas, monkeypatch):
    from optimizer import tasks

    sent = []
    monkeypatch.setattr(tasks.plan_run, "apply_async", lambda args, task_id: sent.append((args, task_id)))
    with transaction.atomic():
        plan = plan_create(
            tenant=tenants["acme"], user=personas["marketer"], **GOOD, roas_basis="incremental",
            bounds={"amazon|sponsored_product": [Decimal("100"), Decimal("3000")]},
            retailer_bounds={"walmart": ["0", "2000"]}, exclude_channels=[], chance=0.9,
        )  # fmt: skip
        assert sent == []  # not before the commit: the worker would not find the plan
    plan.refresh_from_db()
    assert (plan.status, plan.budget, plan.currency, plan.period_days, plan.min_roas) == (
        "pending", Decimal("5000"), "USD", 28, Decimal("2"),
    )  # fmt: skip
    assert plan.request == {
        "bounds": {"amazon|sponsored_product": [100.0, 3000.0]},
        "retailer_bounds": {"walmart": [0.0, 2000.0]},
        "exclude_channels": [],
        "chance": 0.9,
        "history_days": None,
    }
    assert plan.created_by == personas["marketer"]
    assert AuditLog.objects.filter(action="allocation_plan.create", object_id=str(plan.pk)).count() == 1


def test_plan_create_on_commit_sends_the_plan(
    catalog, tenants, personas, monkeypatch, django_capture_on_commit_callbacks
):
    from optimizer import tasks

    sent = []
    monkeypatch.setattr(tasks.plan_run, "apply_async", lambda args, task_id: sent.append((args, task_id)))
    with django_capture_on_commit_callbacks(execute=True):
        plan = plan_create(tenant=tenants["acme"], user=personas["marketer"], **GOOD)
    assert sent == [((plan.pk,), plan.task_id)]


# --- plan_run: the real engine on simulated history ----------------------------------------------------------------


def _saved_plan(tenant, **fields) -> AllocationPlan:
    values = {"name": "", "budget": Decimal("40000"), "currency": "USD", "period_days": 28, "request": {}}
    return AllocationPlan.objects.create(tenant=tenant, **{**values, **fields})


def test_plan_run_allocates_the_budget_across_the_tenants_channels(simulated, tenants):
    plan = _saved_plan(tenants["acme"], min_roas=Decimal("2.0"))
    plan_run(plan)
    plan.refresh_from_db()
    assert plan.status == "succeeded", plan.error
    assert plan.error == "" and plan.finished_at is not None
    result = plan.result
    keys = {f"{a['retailer']}|{a['placement_type']}" for a in result["allocations"]}
    assert keys == {f"{r}|{p}" for r, p, _ in SIM_CHANNELS}
    spend = sum(a["spend"] for a in result["allocations"])
    assert 0 < spend <= 40000 * (1 + 1e-6)
    assert result["totals"]["spend"] == pytest.approx(spend)
    assert result["totals"]["budget"] == pytest.approx(40000)
    assert result["objective"] == "incremental_margin"
    for a in result["allocations"]:
        low, high = a["incremental_sales_interval"]
        assert low <= a["expected_incremental_sales"] <= high
    if result["totals"]["expected_attributed_roas"] is not None:
        assert result["totals"]["expected_attributed_roas"] >= 2.0 - 1e-6
    assert AuditLog.objects.filter(action="allocation_plan.finish", object_id=str(plan.pk)).get().detail == {
        "status": "succeeded",
        "outcome": "ready",
        "error": "",
    }


def test_plan_run_keeps_channel_bounds(simulated, tenants):
    plan = _saved_plan(
        tenants["acme"],
        request={"bounds": {"walmart|onsite_display": [5000, 6000]}, "exclude_channels": ["amazon|search"]},
    )
    plan_run(plan)
    assert plan.status == "succeeded", plan.error
    spend = {f"{a['retailer']}|{a['placement_type']}": a["spend"] for a in plan.result["allocations"]}
    assert 5000 - 1e-6 <= spend["walmart|onsite_display"] <= 6000 + 1e-6
    assert spend.get("amazon|search", 0) == 0


def test_plan_run_fails_an_infeasible_floor_with_the_engines_explanation(simulated, tenants):
    # Display must take at least 30,000 of the 40,000, and display never earns 20 attributed sales per dollar.
    plan = _saved_plan(
        tenants["acme"], min_roas=Decimal("20"), request={"bounds": {"walmart|onsite_display": [30000, 40000]}}
    )
    plan_run(plan)
    plan.refresh_from_db()
    assert plan.status == "failed" and plan.result == {}
    assert plan.error.startswith("min_roas 20 is infeasible: the highest attributed ROAS")


def test_plan_run_leaves_a_finished_plan_alone(simulated, tenants):
    plan = _saved_plan(tenants["acme"], status=AllocationPlan.Status.FAILED, error="earlier")
    assert plan_run(plan.pk).error == "earlier"


def test_plan_run_records_an_internal_error_and_raises(catalog, tenants, monkeypatch):
    # A stub engine (only here): a bug in the optimizer fails the plan visibly instead of leaving it running.
    from optimizer.engine import pipeline

    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(pipeline, "optimize_from_frames", broken)
    plan = _saved_plan(tenants["acme"])
    with pytest.raises(ZeroDivisionError):
        plan_run(plan)
    plan.refresh_from_db()
    assert plan.status == "failed"
    assert plan.error == "internal error (ZeroDivisionError): float division by zero"


def test_plan_run_refuses_a_channel_that_mixes_attribution_windows(catalog, tenants):
    PerformanceFact.objects.filter(tenant=tenants["acme"], retailer__code="walmart", date__day__lte=3).update(
        attribution_window_days=7
    )
    plan = _saved_plan(tenants["acme"])
    plan_run(plan)
    assert plan.status == "failed"
    assert plan.error.startswith("Channel walmart|onsite_display mixes attribution windows (7 days, 14 days)")


def test_tenant_frames_refuse_mixed_attribution_windows_like_the_file_reader(catalog, tenants):
    from optimizer.engine.errors import OptimizerInputError

    PerformanceFact.objects.filter(tenant=tenants["acme"], retailer__code="amazon", date__day=1).update(
        attribution_window_days=30
    )
    with pytest.raises(OptimizerInputError, match=r"Channel amazon\|sponsored_product mixes attribution windows"):
        tenant_frames(tenants["acme"])
    tenant_frames(tenants["acme"], days=9)  # the last 9 days have one window


@pytest.mark.parametrize(
    ("given", "stored"),
    [({}, 0.9), ({"chance": 0}, None), ({"chance": None}, None), ({"chance": 0.8}, 0.8), ({"min_roas": None}, None)],
)
def test_a_floor_is_a_90_percent_promise_unless_the_request_says_otherwise(catalog, tenants, personas, given, stored):
    plan = plan_create(tenant=tenants["acme"], user=personas["marketer"], **{**GOOD, **given})
    assert plan.request["chance"] == stored

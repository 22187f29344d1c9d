"""`manage.py seed_demo`: the demo tenants, their simulated history and the truth behind it."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from campaigns.models import SKU, Campaign, PerformanceFact, Retailer, RetailerItem, validate_gtin
from demo import seed as demo_data
from demo.engine import PLACEMENT_PRIORS, World, expected_outcome
from governance.access import Capability, access_for_user
from governance.models import APIKey, Role, Tenant
from harmonization.models import IngestBatch
from optimizer.models import LiftStudy, SimulationTruth

pytestmark = pytest.mark.django_db
DAYS = 120


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", "--days", str(DAYS), "--seed", "7", *args, stdout=out)
    return out.getvalue()


def printed_password(output: str) -> str:
    match = re.search(r"^Password for every demo login \(set by this run\): (\S+)$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def logs_in(client, username: str, password: str, *, url: str = "login") -> bool:
    response = client.post(reverse(url), {"username": username, "password": password})
    client.logout()
    return response.status_code == 302


def counts() -> dict[str, int]:
    models = [Tenant, Retailer, SKU, RetailerItem, Campaign, PerformanceFact, IngestBatch, LiftStudy, SimulationTruth]
    return {m.__name__: m.objects.count() for m in models} | {"APIKey": APIKey.objects.count()}


def test_it_seeds_two_tenants_with_daily_history_and_truth():
    output = seed()
    yesterday = timezone.now().date() - dt.timedelta(days=1)

    assert set(Tenant.objects.values_list("name", "kind")) == {
        ("Acme Foods", Tenant.Kind.BRAND_OWNER),
        ("Globex Beverages", Tenant.Kind.AGENCY_CLIENT),
    }
    assert Retailer.objects.count() >= 4
    assert Retailer.objects.get(code="amazon").timezone == "America/Los_Angeles"
    assert Retailer.objects.get(code="walmart").timezone == "America/Chicago"
    assert Retailer.objects.get(code="criteo").timezone == "UTC"
    assert all(r.policy_specs["headline_max_chars"] > 0 for r in Retailer.objects.all())
    assert Tenant.objects.get(slug="acme").brands.count() == 2

    for tenant in Tenant.objects.all():
        facts = PerformanceFact.objects.filter(tenant=tenant)
        assert facts.values("date").distinct().count() == DAYS
        assert max(facts.values_list("date", flat=True)) == yesterday
        sku_rows = facts.filter(sku__isnull=False)
        assert sku_rows.exists() and set(sku_rows.values_list("placement_type", flat=True)) == {"sponsored_product"}
        assert facts.filter(sku__isnull=True).exclude(placement_type="sponsored_product").exists()
        batches = IngestBatch.objects.filter(tenant=tenant)
        expected = [(demo_data.INGEST_SOURCE, "succeeded", facts.count())]
        assert [(b.source, b.status, b.rows_loaded) for b in batches] == expected
        assert LiftStudy.objects.filter(tenant=tenant, source=LiftStudy.Source.SIMULATOR).count() >= 3
        truth = SimulationTruth.objects.get(tenant=tenant, name="demo")
        assert truth.seed == 7 and truth.truth["period"]["days"] == DAYS
        for sku in SKU.objects.filter(tenant=tenant):
            validate_gtin(sku.gtin)
            assert sku.price > sku.unit_cost > 0

    asins = RetailerItem.objects.filter(retailer__code="amazon").values_list("item_id", flat=True)
    assert asins and all(a.startswith("B0") and len(a) == 10 for a in asins)
    assert all(
        i.isdigit() for i in RetailerItem.objects.filter(retailer__code="walmart").values_list("item_id", flat=True)
    )

    for username in ("acme-marketer", "acme-reviewer", "acme-admin", "globex-marketer", "superuser"):
        assert username in output
    assert len(printed_password(output)) >= 16
    raw_key = output.split("(shown once): ")[1].split()[0]
    key = APIKey.objects.get(tenant__slug="acme")
    assert key.key_hash == APIKey.hash_secret(raw_key)


def test_it_does_not_duplicate_on_a_second_run():
    seed()
    before = counts()
    output = seed()
    assert "already exists" in output
    assert counts() == before


def test_reset_recreates_the_demo_in_the_same_tenants():
    seed()
    before = counts()
    tenant_ids = set(Tenant.objects.values_list("pk", flat=True))
    old_fact_ids = set(PerformanceFact.objects.values_list("pk", flat=True)[:50])

    output = seed("--reset")

    assert "Seeded the demo" in output
    assert counts() == before  # same seed, same data, nothing left over
    assert set(Tenant.objects.values_list("pk", flat=True)) == tenant_ids
    assert not PerformanceFact.objects.filter(pk__in=old_fact_ids).exists()
    assert PerformanceFact.objects.values("ingest_batch").distinct().count() == 2


def test_memberships_give_the_right_roles():
    password = printed_password(seed())
    users = {u.username: u for u in get_user_model().objects.all()}
    acme, globex = Tenant.objects.get(slug="acme").pk, Tenant.objects.get(slug="globex").pk

    assert access_for_user(users["acme-admin"], acme).role == Role.ADMIN
    assert access_for_user(users["acme-admin"], acme).can(Capability.MANAGE_TENANT)
    assert access_for_user(users["acme-marketer"], acme).can(Capability.EDIT_DATA)
    reviewer = access_for_user(users["acme-reviewer"], acme)
    assert reviewer.can(Capability.VIEW_DATA) and not reviewer.can(Capability.EDIT_DATA)
    assert access_for_user(users["globex-marketer"], globex).role == Role.MARKETER
    assert access_for_user(users["globex-marketer"], acme) is None
    assert users["superuser"].is_superuser and users["superuser"].check_password(password)
    assert users["acme-marketer"].check_password(password) and not users["acme-marketer"].is_staff


def test_the_printed_password_logs_in_and_each_run_prints_a_new_one(client):
    first = printed_password(seed())
    assert logs_in(client, "acme-marketer", first)
    assert logs_in(client, "superuser", first, url="admin:login")

    output = seed()  # the demo exists: nothing but the password changes
    second = printed_password(output)

    assert "already exists" in output and second != first
    assert logs_in(client, "globex-marketer", second)
    assert logs_in(client, "superuser", second, url="admin:login")
    assert not logs_in(client, "acme-marketer", first)
    assert printed_password(seed("--reset")) not in {first, second}


def test_a_scripted_run_chooses_the_password(client, monkeypatch):
    monkeypatch.setenv("RMN_DEMO_PASSWORD", "from-the-environment-42")
    assert printed_password(seed()) == "from-the-environment-42"
    assert logs_in(client, "acme-admin", "from-the-environment-42")

    assert printed_password(seed("--password", "given-on-the-command-line")) == "given-on-the-command-line"
    assert logs_in(client, "acme-admin", "given-on-the-command-line")


@pytest.mark.parametrize("weak", ["short", "password123", "12345678901"])
def test_it_refuses_a_weak_password_and_writes_nothing(weak):
    with pytest.raises(CommandError, match=r"^password: This password is"):
        seed("--password", weak)
    assert not Tenant.objects.exists() and not get_user_model().objects.exists()


def test_attributed_sales_overstate_incremental_by_each_channels_factor():
    seed()
    for truth in SimulationTruth.objects.all():
        channels = {c["key"]: c for c in truth.truth["world"]["channels"]}
        reported = (
            PerformanceFact.objects.filter(tenant=truth.tenant)
            .values("retailer__code", "placement_type")
            .annotate(sales=Sum("attributed_sales"), spend=Sum("spend"))
        )
        assert len(reported) == len(channels)
        for row in reported:
            key = f"{row['retailer__code']}:{row['placement_type']}"
            realized = truth.truth["realized"][key]
            incrementality = channels[key]["incrementality"]
            lo, hi = PLACEMENT_PRIORS[row["placement_type"]].incrementality
            assert lo <= incrementality <= hi
            assert float(row["sales"]) / realized["incremental_sales"] == pytest.approx(1 / incrementality, rel=0.03)
            assert float(row["spend"]) == pytest.approx(realized["spend"], abs=0.01 * DAYS * 8)
    acme = {
        c["key"]: c["incrementality"]
        for c in SimulationTruth.objects.get(tenant__slug="acme").truth["world"]["channels"]
    }
    assert acme["amazon:sponsored_product"] < 0.45 and acme["amazon:ctv"] >= 0.75


def test_the_saved_truth_scores_an_allocation_and_matches_the_lift_studies():
    seed()
    truth = SimulationTruth.objects.get(tenant__slug="globex").truth
    world = World.from_dict(truth["world"])
    period_start = dt.date.fromisoformat(truth["period"]["start"])
    plan = {c.key: c.plan_daily_spend for c in world.channels}
    at_plan = expected_outcome(world, daily_spend=plan, start=period_start, days=DAYS)
    doubled = expected_outcome(world, daily_spend={k: 2 * v for k, v in plan.items()}, start=period_start, days=DAYS)
    assert 0 < at_plan.incremental_sales < doubled.incremental_sales < 2 * at_plan.incremental_sales
    assert at_plan.spend == pytest.approx(sum(plan.values()) * DAYS)

    stored = {
        (s.retailer.code, s.placement_type, s.start_date): s for s in LiftStudy.objects.filter(tenant__slug="globex")
    }
    for lift in truth["lift_studies"]:
        study = stored[(lift["retailer"], lift["placement_type"], dt.date.fromisoformat(lift["start"]))]
        assert float(study.incremental_sales) == pytest.approx(lift["estimate"], abs=0.01)
        assert abs(lift["estimate"] - lift["true_incremental_sales"]) < 4 * lift["standard_error"]


def test_a_failed_seed_leaves_nothing_behind(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure after the facts were written")

    monkeypatch.setattr(demo_data, "truth_document", broken)
    with pytest.raises(RuntimeError):
        seed()
    assert PerformanceFact.objects.count() == 0
    assert not Tenant.objects.exists() and not get_user_model().objects.exists()


def test_it_refuses_too_short_a_history():
    with pytest.raises(CommandError, match="at least 120"):
        call_command("seed_demo", "--days", "30", stdout=StringIO())


def test_it_takes_over_a_tenant_with_a_demo_name_only_when_told_to():
    foreign = Tenant.objects.create(name="Acme Foods", slug="acme-foods")
    with pytest.raises(CommandError, match="--reset"):
        seed()
    seed("--reset")
    foreign.refresh_from_db()
    assert foreign.slug == "acme" and PerformanceFact.objects.filter(tenant=foreign).exists()
    assert Tenant.objects.count() == 2

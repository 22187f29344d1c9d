"""Bandit policy services: creation from the tenant's history, idempotent daily decisions, observation of new
facts into the posterior and the log, off-policy evaluation, tenant scoping and the update task."""

import datetime as dt
import re
from decimal import Decimal

import pytest

from campaigns.models import AttributionModel, PerformanceFact, PlacementType
from core.errors import DomainError
from optimizer.models import BanditDecision, BanditPolicy
from optimizer.selectors import policy_get
from optimizer.services.bandits import policy_create, policy_decide, policy_evaluate, policy_observe
from optimizer.tasks import bandit_update

AMAZON = "amazon|sponsored_product"
WALMART = "walmart|onsite_display"
START = dt.date(2026, 3, 5)  # the catalog's facts run 2026-03-01 .. 03-10 at spend 10 + day, sales 3× spend


def _policy(tenants, **kw):
    args = dict(
        tenant=tenants["acme"],
        name="March reallocation",
        channels=[AMAZON, WALMART],
        budget=Decimal("700"),
        start_date=START,
        end_date=START + dt.timedelta(days=13),
    )
    return policy_create(**{**args, **kw})


def test_it_creates_a_policy_with_a_weak_prior_when_history_is_short(tenants, catalog):
    policy = _policy(tenants)
    assert policy.currency == "USD"
    assert policy.state["prior"]["source"] == "weak"
    assert "28" in policy.state["prior"]["reason"]  # 4 days before the start is too short to fit curves
    arms = {a["key"]: a for a in policy.state["arms"]}
    assert set(arms) == {AMAZON, WALMART}
    # Amazon before the start: spend 10..13 (mean 11.5), sales 3×: half saturation at the mean, beta = 2 × mean sales.
    assert arms[AMAZON]["half_saturation"] == pytest.approx(11.5)
    assert arms[AMAZON]["beta"] == pytest.approx(69.0)


def test_it_refuses_unknown_channels_duplicate_names_and_impossible_bounds(tenants, catalog):
    with pytest.raises(DomainError, match=r"Unknown channel target\|ctv; Acme Foods has performance history for"):
        _policy(tenants, channels=[AMAZON, "target|ctv"])
    _policy(tenants)
    with pytest.raises(DomainError, match="already has a bandit policy named"):
        _policy(tenants)
    with pytest.raises(DomainError, match=re.escape("daily minimums add up to 80.00, more than the budget's 50.00")):
        _policy(tenants, name="other", bounds={AMAZON: (40, 100), WALMART: (40, 100)})


def test_deciding_a_day_twice_returns_the_same_logged_decision(tenants, catalog):
    policy = _policy(tenants)
    first = policy_decide(policy, START)
    again = policy_decide(policy, START)
    assert again.pk == first.pk
    assert BanditDecision.objects.filter(policy=policy).count() == 1
    assert sum(first.allocation.values()) == pytest.approx(50.0, abs=0.02)  # 700 over 14 days
    for key in (AMAZON, WALMART):
        assert 0 < first.propensities[key] <= 1
        assert sum(first.context["level_probabilities"][key]) == pytest.approx(1.0)
    policy.refresh_from_db()
    assert list(policy.state["pending"]) == [START.isoformat()]


def test_observe_reads_only_the_tenants_new_facts_once(tenants, catalog):
    policy = _policy(tenants)
    for d in range(3):
        policy_decide(policy, START + dt.timedelta(days=d))
    # Globex has the same channels; a huge Globex fact must not reach Acme's policy.
    globex = catalog["globex"]
    PerformanceFact.objects.create(
        date=START, tenant=tenants["globex"], retailer=globex["campaigns"]["amazon"].retailer,
        campaign=globex["campaigns"]["amazon"], sku=globex["skus"][1], placement_type=PlacementType.SPONSORED_PRODUCT,
        impressions=1, clicks=1, spend=Decimal("99999"), attributed_sales=Decimal("1"), attributed_units=1,
        attribution_window_days=14, attribution_model=AttributionModel.LAST_CLICK, currency="USD",
        original_currency="USD", original_spend=Decimal("99999"), original_attributed_sales=Decimal("1"),
        ingest_batch=globex["batch"],
    )  # fmt: skip
    assert policy_observe(policy) == 6  # 03-05 .. 03-10
    policy.refresh_from_db()
    # Per channel: spend 14 + 15 + ... + 19 = 99 on 03-05 .. 03-10; two channels.
    assert policy.spent == Decimal("198.00")
    assert policy.last_observed_date == dt.date(2026, 3, 10)
    assert policy.state["pending"] == {}
    arms = {a["key"]: a for a in policy.state["arms"]}
    assert arms[AMAZON]["n_obs"] == 6
    decision = BanditDecision.objects.get(policy=policy, date=START)
    assert decision.reward[AMAZON]["spend"] == pytest.approx(14.0)
    assert decision.reward[AMAZON]["attributed_sales"] == pytest.approx(42.0)
    # Nothing new: a second run observes nothing and leaves the totals alone.
    assert policy_observe(policy) == 0
    policy.refresh_from_db()
    assert policy.spent == Decimal("198.00")


def test_evaluate_estimates_a_candidate_from_the_observed_log(tenants, catalog):
    policy = _policy(tenants)
    for d in range(3):
        policy_decide(policy, START + dt.timedelta(days=d))
    policy_observe(policy)
    out = policy_evaluate(policy, {AMAZON: 25.0, WALMART: 25.0}, epsilon=0.2)
    assert out["days"] == 3
    for method in ("ips", "snips", "dr"):
        assert out["estimates"][method]["n"] == 3
    # Rewards are attributed sales × incrementality × margin: sponsored products' prior incrementality 0.375.
    decision = BanditDecision.objects.get(policy=policy, date=START)
    margin = policy.state["arms"][0]["margin_rate"]
    assert decision.reward[AMAZON]["reward"] == pytest.approx(42.0 * 0.375 * margin)
    with pytest.raises(DomainError, match="missing: \\['walmart\\|onsite_display'\\]"):
        policy_evaluate(policy, {AMAZON: 25.0})


def test_another_tenants_policy_is_not_found(tenants, catalog):
    policy = _policy(tenants)
    assert policy_get(tenant=tenants["acme"], pk=policy.pk) == policy
    with pytest.raises(BanditPolicy.DoesNotExist):
        policy_get(tenant=tenants["globex"], pk=policy.pk)


def test_the_update_task_observes_then_decides_the_day(tenants, catalog):
    policy = _policy(tenants)
    out = bandit_update(policy.pk, "2026-03-11")
    assert out["observed_days"] == 6
    assert out["last_observed_date"] == "2026-03-10"
    decision = BanditDecision.objects.get(policy=policy, date=dt.date(2026, 3, 11))
    assert out["decision"]["allocation"] == decision.allocation
    # Days 03-05..03-10 spent 198 of 700: 502 left over 8 days, spent faster than the even 62.75 (behind plan).
    assert decision.context["remaining_budget"] == pytest.approx(502.0)
    assert sum(decision.allocation.values()) > 502.0 / 8


def test_it_starts_from_the_fitted_curves_when_the_history_is_long_enough(tenants, catalog):
    import math

    acme = catalog["acme"]
    facts = []
    for code, campaign in acme["campaigns"].items():
        for day in range(40):  # 2026-01-20 .. 2026-02-28, spend swinging 20..180 a day on a concave curve
            spend = 100 + 80 * math.sin(day * (0.9 if code == "amazon" else 0.6))
            sales = 600 * spend / (spend + 120) * (1 + 0.03 * math.cos(day * 2.1))
            facts.append(PerformanceFact(
                date=dt.date(2026, 1, 20) + dt.timedelta(days=day), tenant=tenants["acme"],
                retailer=campaign.retailer, campaign=campaign, sku=acme["skus"][0] if code == "amazon" else None,
                placement_type=campaign.placement_type, impressions=1000, clicks=10,
                spend=Decimal(f"{spend:.2f}"), attributed_sales=Decimal(f"{sales:.2f}"), attributed_units=1,
                attribution_window_days=14, attribution_model=AttributionModel.LAST_CLICK, currency="USD",
                original_currency="USD", original_spend=Decimal(f"{spend:.2f}"),
                original_attributed_sales=Decimal(f"{sales:.2f}"), ingest_batch=acme["batch"],
            ))  # fmt: skip
    PerformanceFact.objects.bulk_create(facts)
    policy = _policy(tenants, budget=Decimal("1400"))
    assert policy.state["prior"] == {"source": "curves", "history_days": 44}
    arms = {a["key"]: a for a in policy.state["arms"]}
    # Sponsored products' calibrated incrementality stays near its placement prior (no lift study).
    assert arms[AMAZON]["incrementality_mean"] == pytest.approx(0.375, abs=0.05)
    decision = policy_decide(policy, START)
    assert sum(decision.allocation.values()) == pytest.approx(100.0, abs=0.02)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_daily_beat_task_updates_every_active_policy_through_a_real_worker(celery_worker_process, tenants, catalog):
    import time

    from optimizer.tasks import bandit_update_all

    today = dt.date.today()  # the beat task decides "today" for each policy running today
    period = {"start_date": today, "end_date": today + dt.timedelta(days=13)}
    active = _policy(tenants, **period)
    paused = _policy(tenants, name="Paused one", **period)
    BanditPolicy.objects.filter(pk=paused.pk).update(status=BanditPolicy.Status.PAUSED)
    assert bandit_update_all.delay().get(timeout=60) == {"queued": [active.pk]}
    deadline = time.monotonic() + 60
    while not BanditDecision.objects.filter(policy=active).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert BanditDecision.objects.filter(policy=active).exists()
    assert not BanditDecision.objects.filter(policy=paused).exists()

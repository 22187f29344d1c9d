"""Experiment services: design from the tenant's data, read out, save as a lift study (tenant-scoped)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from campaigns.models import PerformanceFact
from core.errors import DomainError
from optimizer.engine.geo import simulate_geo_panels
from optimizer.models import Experiment, LiftStudy
from optimizer.services.experiments import experiment_design, experiment_readout, experiment_save_lift_study

GEO_START = dt.date(2025, 1, 6)
HISTORY_DAYS, TEST_DAYS = 120, 14


def _panel_csv(outcome: np.ndarray, *, spend: np.ndarray | None = None) -> str:
    geos, days = outcome.shape
    rows = {
        "date": np.tile([(GEO_START + dt.timedelta(days=i)).isoformat() for i in range(days)], geos),
        "geo": np.repeat([f"geo{g:02d}" for g in range(geos)], days),
        "outcome": outcome.ravel().round(4),
    }
    if spend is not None:
        rows["spend"] = spend.ravel()
    return pd.DataFrame(rows).to_csv(index=False)


@pytest.fixture
def geo_panel():
    sim = simulate_geo_panels(n_panels=1, n_geos=16, days=HISTORY_DAYS + TEST_DAYS, seed=21)
    return sim.outcome[0]


def test_it_designs_reads_out_and_saves_a_geo_test_as_a_lift_study(tenants, catalog, personas, geo_panel):
    start = GEO_START + dt.timedelta(days=HISTORY_DAYS)
    end = start + dt.timedelta(days=TEST_DAYS - 1)
    experiment = experiment_design(
        tenant=tenants["acme"],
        kind="geo",
        retailer="amazon",
        placement_type="sponsored_product",
        start_date=start,
        end_date=end,
        params={"panel": _panel_csv(geo_panel[:, :HISTORY_DAYS]), "seed": 7, "name": "Amazon SP geo test"},
        user=personas["marketer"],
    )
    design = experiment.design
    assert experiment.status == Experiment.Status.DESIGNED and experiment.name == "Amazon SP geo test"
    assert len(design["treated"]) == len(design["control"]) == 8 and design["mde"] > 0
    assert design["history_end"] == (start - dt.timedelta(days=1)).isoformat()

    # Inject a known effect of 120 a day into each treated geo during the test; spend 50 a day there.
    y = geo_panel.copy()
    spend = np.zeros_like(y)
    treated = [int(g[3:]) for g in design["treated"]]
    y[treated, HISTORY_DAYS:] += 120.0
    spend[treated, HISTORY_DAYS:] = 50.0
    readout = experiment_readout(experiment, _panel_csv(y, spend=spend), user=personas["marketer"])
    assert readout["effect_per_geo_day"] == pytest.approx(120.0, abs=4 * readout["se_per_geo_day"])
    assert readout["spend"] == pytest.approx(50.0 * 8 * TEST_DAYS)
    assert readout["incremental_sales"] == pytest.approx(readout["effect_per_geo_day"] * 8 * TEST_DAYS)

    study = experiment_save_lift_study(experiment, personas["marketer"])
    study.refresh_from_db()
    experiment.refresh_from_db()
    assert experiment.lift_study_id == study.pk and experiment.status == Experiment.Status.READ_OUT
    assert study.tenant == tenants["acme"] and study.retailer.code == "amazon"
    assert study.placement_type == "sponsored_product"
    assert (study.start_date, study.end_date) == (start, end)
    assert study.method == LiftStudy.Method.GEO_MATCHED_MARKETS and study.source == LiftStudy.Source.IN_HOUSE
    assert study.spend == Decimal("5600.00")
    assert study.incremental_sales == Decimal(str(round(readout["incremental_sales"], 2)))
    assert study.incremental_sales_se == Decimal(str(round(readout["incremental_sales_se"], 2)))
    assert LiftStudy.objects.filter(tenant=tenants["globex"]).count() == 0
    with pytest.raises(DomainError, match="already saved as lift study"):
        experiment_save_lift_study(experiment, personas["marketer"])
    with pytest.raises(DomainError, match="a new readout would not update it"):
        experiment_readout(experiment, _panel_csv(y, spend=spend))


def test_it_designs_a_switchback_from_the_channels_performance_facts(tenants, catalog):
    # The catalog has 10 days of facts (2026-03-01..10); 1-day blocks without washout fit that history.
    experiment = experiment_design(
        tenant=tenants["acme"],
        kind="switchback",
        retailer="walmart",
        placement_type="onsite_display",
        start_date=dt.date(2026, 3, 11),
        end_date=dt.date(2026, 3, 17),
        params={"block_days": 1, "washout_days": 0, "seed": 1},
    )
    design = experiment.design
    assert design["history_days"] == 10 and "PerformanceFact" in design["outcome_source"]
    assert experiment.end_date == dt.date(2026, 3, 16)  # 7 days hold 3 block pairs; the last day is dropped
    assert design["dropped_days"] == 1 and design["arms"].count("on") == 3 and design["mde"] > 0

    arms = design["arms"]
    days = [dt.date(2026, 3, 11) + dt.timedelta(days=i) for i in range(6)]
    data = pd.DataFrame(
        {"date": days, "outcome": [100.0 + (25.0 if a == "on" else 0.0) for a in arms], "spend": [10.0] * 6}
    )
    readout = experiment_readout(experiment, data)
    assert readout["effect_per_day"] == pytest.approx(25.0)
    assert readout["incremental_sales"] == pytest.approx(75.0) and readout["spend"] == pytest.approx(30.0)
    study = experiment_save_lift_study(experiment)
    assert study.method == LiftStudy.Method.SWITCHBACK and study.incremental_sales == Decimal("75.00")


def test_holdout_spend_comes_from_the_tenants_own_facts_only(tenants, catalog):
    # Globex has the same channel with ten times the spend: none of it may reach Acme's lift study.
    PerformanceFact.objects.filter(tenant=tenants["globex"]).update(spend=Decimal("1000"))
    experiment = experiment_design(
        tenant=tenants["acme"],
        kind="holdout",
        retailer="amazon",
        placement_type="sponsored_product",
        start_date=dt.date(2026, 3, 1),
        end_date=dt.date(2026, 3, 10),
        params={"audience_size": 50_000, "holdout_share": 0.2, "outcome_sd": 4.0, "rho": 0.5, "mde": 0.1},
    )
    assert experiment.design["mde_per_user"] > 0 and experiment.design["audience_needed"] > 0
    rng = np.random.default_rng(0)
    n = 4000
    group = np.where(rng.random(n) < 0.2, "holdout", "exposed")
    pre = rng.gamma(2.0, 2.0, n)
    outcome = pre + rng.normal(0, 1, n) + np.where(group == "exposed", 0.5, 0.0)
    data = pd.DataFrame({"user_id": np.arange(n), "group": group, "outcome": outcome, "pre_outcome": pre})
    readout = experiment_readout(experiment, data)
    assert readout["spend"] == pytest.approx(sum(10 + d for d in range(10)))  # Acme's amazon facts: 145
    assert readout["effect_per_user"] == pytest.approx(0.5, abs=4 * readout["se_per_user"])
    assert readout["variance_reduction"] > 0.5
    study = experiment_save_lift_study(experiment)
    assert study.tenant == tenants["acme"] and study.spend == Decimal("145.00")
    assert study.method == LiftStudy.Method.RCT_HOLDOUT


def test_bad_requests_are_named_errors(tenants, catalog, geo_panel):
    common = {
        "tenant": tenants["acme"],
        "retailer": "amazon",
        "placement_type": "sponsored_product",
        "start_date": dt.date(2026, 4, 1),
        "end_date": dt.date(2026, 4, 28),
    }
    with pytest.raises(DomainError, match="panel is required") as err:
        experiment_design(kind="geo", params={}, **common)
    assert err.value.field == "panel"
    with pytest.raises(DomainError, match="Unknown experiment kind"):
        experiment_design(kind="bandit", params={}, **common)
    with pytest.raises(DomainError, match="audience_size is required"):
        experiment_design(kind="holdout", params={"outcome_sd": 1.0}, **common)
    with pytest.raises(DomainError, match="at least 3 \\(at least 42 days\\)"):
        experiment_design(kind="switchback", params={}, **common)  # 28 days hold 2 pairs of 7-day blocks
    with pytest.raises(DomainError, match="10 days of history; placebo power for a 28-day switchback"):
        experiment_design(kind="switchback", params={"block_days": 2, "washout_days": 1}, **common)
    with pytest.raises(DomainError, match="missing column"):
        experiment_design(kind="geo", params={"panel": "date,region,sales\n2026-01-01,a,1\n"}, **common)
    start = GEO_START + dt.timedelta(days=HISTORY_DAYS)
    exp = experiment_design(
        **{**common, "start_date": start, "end_date": start + dt.timedelta(days=TEST_DAYS - 1)},
        kind="geo",
        params={"panel": _panel_csv(geo_panel[:, :HISTORY_DAYS])},
    )
    with pytest.raises(DomainError, match="Read the experiment out"):
        experiment_save_lift_study(exp)
    with pytest.raises(DomainError, match="must cover the pre-period and the test"):
        experiment_readout(exp, _panel_csv(geo_panel[:, :HISTORY_DAYS]))
    assert Experiment.objects.filter(tenant=tenants["acme"]).count() == 1

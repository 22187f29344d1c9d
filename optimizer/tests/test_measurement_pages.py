"""Experiment and bandit pages: design -> readout -> save as lift study (the closed loop through the pages), errors
beside the field they name, who may see and do what, and the bandit policy's state, log and daily update."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from optimizer.models import AllocationPlan, BanditDecision, BanditPolicy, Experiment, LiftStudy
from optimizer.services.bandits import policy_create, policy_decide
from optimizer.services.experiments import experiment_design

AMAZON = "amazon|sponsored_product"
WALMART = "walmart|onsite_display"


def visible(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def metric(html: str, name: str, scope: str = "") -> str:
    return unescape(
        re.search(rf'{re.escape(scope)}.*?data-metric="{name}">([^<]+)<', html, flags=re.S).group(1)
    ).strip()


def csv_file(text: str, name: str = "data.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


# The catalog has 10 days of facts (2026-03-01..10); 1-day blocks without washout fit that history.
SWITCHBACK = {
    "kind": "switchback",
    "channel": WALMART,
    "name": "Walmart display switchback",
    "start_date": "2026-03-11",
    "end_date": "2026-03-17",
    "block_days": "1",
    "washout_days": "0",
    "seed": "1",
}


def _switchback(tenant) -> Experiment:
    return experiment_design(
        tenant=tenant, kind="switchback", retailer="walmart", placement_type="onsite_display",
        start_date=dt.date(2026, 3, 11), end_date=dt.date(2026, 3, 17),
        params={"block_days": 1, "washout_days": 0, "seed": 1, "name": "Acme secret switchback"},
    )  # fmt: skip


def _readout_csv(arms: list[str]) -> str:
    lines = ["date,outcome,spend"]
    for i, arm in enumerate(arms):
        day = dt.date(2026, 3, 11) + dt.timedelta(days=i)
        lines.append(f"{day},{100 + (25 if arm == 'on' else 0)},10")
    return "\n".join(lines) + "\n"


def test_it_sends_anonymous_visitors_to_login(client, db):
    for url in (reverse("experiment_list"), reverse("experiment_detail", args=[1]), reverse("bandit_detail", args=[1])):
        assert client.get(url)["Location"].startswith(reverse("login"))


def test_design_readout_and_save_as_lift_study_through_the_pages(client, personas, catalog, tenants):
    client.force_login(personas["marketer"])
    html = client.get(reverse("experiment_list")).content.decode()
    assert 'href="/experiments/"' in html and "Design an experiment" in html
    assert f'value="{WALMART}"' in html and f'value="{AMAZON}"' in html  # the tenant's channels

    response = client.post(reverse("experiment_list"), SWITCHBACK)
    experiment = Experiment.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("experiment_detail", args=[experiment.pk])
    assert (experiment.tenant, experiment.kind, experiment.retailer.code) == (tenants["acme"], "switchback", "walmart")
    assert experiment.end_date == dt.date(2026, 3, 16) and experiment.created_by == personas["marketer"]
    html = client.get(response["Location"]).content.decode()
    text = visible(html)
    assert "Design" in text and "10 days of daily attributed sales (PerformanceFact)" in text
    assert metric(html, "mde").startswith(f"{experiment.design['mde']:,.2f} per day")
    assert "80%, with a 10% risk of a false alarm" in text
    assert html.count("<tr><td>2026-03-1") == 6  # the schedule, one row a day
    assert "Read out" in text and "Save as lift study" not in text

    arms = experiment.design["arms"]
    response = client.post(reverse("experiment_readout", args=[experiment.pk]), {"data": csv_file(_readout_csv(arms))})
    assert response.status_code == 302
    experiment.refresh_from_db()
    readout = experiment.readout
    assert readout["incremental_sales"] == pytest.approx(75.0) and readout["spend"] == pytest.approx(30.0)
    html = client.get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    assert metric(html, "incremental_sales") == "75.00"
    assert metric(html, "incremental_sales_se") == f"{readout['incremental_sales_se']:.2f}"
    low, high = (x * readout["on_days"] for x in readout["interval_per_day"])
    assert metric(html, "interval") == f"{low:.2f} – {high:.2f}"
    assert metric(html, "incremental_roas") == "2.50×" and metric(html, "method") == "Switchback"
    assert "Save as lift study" in visible(html)

    response = client.post(reverse("experiment_save_lift_study", args=[experiment.pk]))
    assert response.status_code == 302
    study = LiftStudy.objects.get()
    assert (study.tenant, study.retailer.code, study.placement_type) == (tenants["acme"], "walmart", "onsite_display")
    assert study.method == LiftStudy.Method.SWITCHBACK
    assert (study.start_date, study.end_date) == (dt.date(2026, 3, 11), dt.date(2026, 3, 16))
    assert study.incremental_sales == Decimal("75.00") and study.spend == Decimal("30.00")
    assert study.incremental_sales_se == Decimal(str(round(readout["incremental_sales_se"], 2)))
    html = client.get(response["Location"]).content.decode()
    assert f"lift study #{study.pk}" in visible(html) and 'href="/lift-studies/"' in html
    assert "Save as lift study" not in visible(html) and "Read out again" not in visible(html)
    # Saving twice is refused with the reason, and creates nothing.
    response = client.post(reverse("experiment_save_lift_study", args=[experiment.pk]), follow=True)
    assert f"already saved as lift study #{study.pk}" in visible(response.content.decode())
    assert LiftStudy.objects.count() == 1


def test_service_errors_come_back_beside_the_field_they_name(client, personas, catalog):
    client.force_login(personas["marketer"])
    response = client.post(reverse("experiment_list"), {**SWITCHBACK, "block_days": "7", "washout_days": "2"})
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'id="id_end_date_error">[^<]*at least 3 \(at least 42 days\)', html)
    response = client.post(reverse("experiment_list"), {**SWITCHBACK, "kind": "geo"})
    assert response.status_code == 400
    assert re.search(
        r'id="id_panel_error">panel is required: a CSV with columns date,geo,outcome', response.content.decode()
    )
    bad_panel = csv_file("date,region,sales\n2026-01-01,a,1\n")
    response = client.post(reverse("experiment_list"), {**SWITCHBACK, "kind": "geo", "panel": bad_panel})
    assert re.search(r'id="id_panel_error">panel is missing column\(s\) geo, outcome', response.content.decode())
    response = client.post(reverse("experiment_list"), {**SWITCHBACK, "kind": "holdout", "outcome_sd": "2"})
    assert re.search(r'id="id_audience_size_error">audience_size is required', response.content.decode())
    assert not Experiment.objects.exists()

    experiment = _switchback(personas["marketer"].memberships.get().tenant)
    response = client.post(
        reverse("experiment_readout", args=[experiment.pk]), {"data": csv_file("date,outcome\n2026-03-11,1\n")}
    )
    assert response.status_code == 400
    assert re.search(
        r'id="id_data_error">The switchback readout needs an outcome for every day', response.content.decode()
    )
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.DESIGNED and experiment.readout == {}


def test_a_reviewer_sees_experiments_but_may_not_design_read_out_or_save(client, personas, catalog, tenants):
    experiment = _switchback(tenants["acme"])
    client.force_login(personas["reviewer"])
    html = client.get(reverse("experiment_list")).content.decode()
    assert "Design an experiment" not in html and reverse("experiment_detail", args=[experiment.pk]) in html
    detail = client.get(reverse("experiment_detail", args=[experiment.pk]))
    assert detail.status_code == 200 and "Read out" not in visible(detail.content.decode())
    assert client.post(reverse("experiment_list"), SWITCHBACK).status_code == 403
    readout = {"data": csv_file(_readout_csv(experiment.design["arms"]))}
    assert client.post(reverse("experiment_readout", args=[experiment.pk]), readout).status_code == 403
    assert client.post(reverse("experiment_save_lift_study", args=[experiment.pk])).status_code == 403
    assert Experiment.objects.count() == 1 and not LiftStudy.objects.exists()
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.DESIGNED


def test_another_tenants_experiment_and_policy_do_not_exist_for_a_stranger(client, personas, catalog, tenants):
    experiment = _switchback(tenants["acme"])
    policy = _policy(tenants["acme"])
    client.force_login(personas["stranger"])
    assert client.get(reverse("experiment_detail", args=[experiment.pk])).status_code == 404
    assert client.get(reverse("bandit_detail", args=[policy.pk])).status_code == 404
    readout = {"data": csv_file(_readout_csv(experiment.design["arms"]))}
    assert client.post(reverse("experiment_readout", args=[experiment.pk]), readout).status_code == 404
    assert client.post(reverse("experiment_save_lift_study", args=[experiment.pk])).status_code == 404
    assert client.post(reverse("bandit_update", args=[policy.pk]), {"date": "2026-03-11"}).status_code == 404
    html = client.get(reverse("experiment_list")).content.decode()
    assert "Acme secret switchback" not in html and "March reallocation" not in html
    assert not BanditDecision.objects.exists()


def _policy(tenant, **kw) -> BanditPolicy:
    args = dict(
        tenant=tenant, name="March reallocation", channels=[AMAZON, WALMART], budget=Decimal("700"),
        start_date=dt.date(2026, 3, 5), end_date=dt.date(2026, 3, 18),
    )  # fmt: skip
    return policy_create(**{**args, **kw})


def _succeeded_plan(tenant) -> AllocationPlan:
    return AllocationPlan.objects.create(
        tenant=tenant, name="Q1", budget=Decimal("700"), currency="USD", period_days=14, request={},
        status=AllocationPlan.Status.SUCCEEDED,
        result={"allocations": [
            {"retailer": "amazon", "placement_type": "sponsored_product", "spend": 400.0},
            {"retailer": "walmart", "placement_type": "onsite_display", "spend": 300.0},
        ]},
    )  # fmt: skip


def test_a_marketer_starts_a_policy_from_a_succeeded_plan(client, personas, catalog, tenants):
    plan = _succeeded_plan(tenants["acme"])
    AllocationPlan.objects.create(
        tenant=tenants["acme"], name="Still running", budget=Decimal("1"), currency="USD", period_days=1,
        request={}, status=AllocationPlan.Status.RUNNING,
    )  # fmt: skip
    client.force_login(personas["marketer"])
    html = client.get(reverse("experiment_list")).content.decode()
    assert f'<option value="{plan.pk}">#{plan.pk} Q1</option>' in html and "Still running" not in html
    form = {"plan": plan.pk, "name": "From Q1", "start_date": "2026-03-05", "end_date": "2026-03-18"}
    response = client.post(reverse("bandit_create"), {**form, "end_date": "2026-03-01"})
    assert response.status_code == 400
    assert re.search(r'id="id_end_date_error">end_date 2026-03-01 is before start_date', response.content.decode())
    response = client.post(reverse("bandit_create"), form)
    policy = BanditPolicy.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("bandit_detail", args=[policy.pk])
    assert (policy.plan, policy.budget, policy.tenant) == (plan, Decimal("700.00"), tenants["acme"])
    assert {a["key"] for a in policy.state["arms"]} == {AMAZON, WALMART}
    client.force_login(personas["reviewer"])
    assert client.post(reverse("bandit_create"), {**form, "name": "Other"}).status_code == 403


def test_the_policy_page_shows_state_and_log_and_runs_the_update(client, personas, catalog, tenants):
    policy = _policy(tenants["acme"])
    policy_decide(policy, dt.date(2026, 3, 5))
    client.force_login(personas["marketer"])
    html = client.get(reverse("bandit_detail", args=[policy.pk])).content.decode()
    assert "Run today's update" in html and html.count('data-channel="') == 2
    assert metric(html, "n_obs", f'data-channel="{AMAZON}"') == "0"
    assert len(re.findall(r'<tr data-date="', html)) == 1

    response = client.post(reverse("bandit_update", args=[policy.pk]), {"date": "2026-03-11"}, follow=True)
    text = visible(response.content.decode())
    assert "Observed 6 new day(s); decided 2026-03-11." in text
    policy.refresh_from_db()
    assert policy.last_observed_date == dt.date(2026, 3, 10) and policy.spent == Decimal("198.00")
    html = response.content.decode()
    assert re.findall(r'<tr data-date="([^"]+)"', html) == ["2026-03-11", "2026-03-05"]
    decision = BanditDecision.objects.get(policy=policy, date=dt.date(2026, 3, 5))
    row = re.search(r'<tr data-date="2026-03-05">(.*?)</tr>', html, flags=re.S).group(1)
    assert f"{decision.reward[AMAZON]['reward']:.2f}" in row and f"{decision.allocation[AMAZON]:.2f}" in row
    arm = next(a for a in policy.state["arms"] if a["key"] == AMAZON)
    assert metric(html, "n_obs", f'data-channel="{AMAZON}"') == str(arm["n_obs"]) == "6"
    from optimizer.services.bandits import _state

    mean = next(a for a in _state(policy).arms if a.key == AMAZON).multiplier_mean
    assert metric(html, "multiplier_mean", f'data-channel="{AMAZON}"') == f"{mean:.3f}"
    low, high = (float(x) for x in metric(html, "interval", f'data-channel="{AMAZON}"').split(" – "))
    assert low < mean < high

    client.force_login(personas["reviewer"])
    html = client.get(reverse("bandit_detail", args=[policy.pk])).content.decode()
    assert "Run today's update" not in html
    assert client.post(reverse("bandit_update", args=[policy.pk]), {"date": "2026-03-12"}).status_code == 403
    assert BanditDecision.objects.filter(policy=policy).count() == 2


def test_a_geo_test_is_designed_from_an_uploaded_panel_and_read_out(client, personas, catalog, tenants):
    import numpy as np

    from optimizer.engine.geo import simulate_geo_panels
    from optimizer.tests.test_experiments_service import GEO_START, HISTORY_DAYS, TEST_DAYS, _panel_csv

    outcome = simulate_geo_panels(n_panels=1, n_geos=16, days=HISTORY_DAYS + TEST_DAYS, seed=21).outcome[0]
    start = GEO_START + dt.timedelta(days=HISTORY_DAYS)
    client.force_login(personas["marketer"])
    form = {
        **SWITCHBACK,
        "kind": "geo",
        "channel": AMAZON,
        "name": "Amazon geo",
        "start_date": start.isoformat(),
        "end_date": (start + dt.timedelta(days=TEST_DAYS - 1)).isoformat(),
        "seed": "7",
        "panel": csv_file(_panel_csv(outcome[:, :HISTORY_DAYS]), "panel.csv"),
    }
    response = client.post(reverse("experiment_list"), form)
    assert response.status_code == 302, visible(response.content.decode())
    experiment = Experiment.objects.get()
    design = experiment.design
    html = client.get(response["Location"]).content.decode()
    assert "8 treated, 8 control of 16" in visible(html)
    assert all(f"<td>{g}</td>" in html for g in design["treated"])

    y, spend = outcome.copy(), np.zeros_like(outcome)
    treated = [int(g[3:]) for g in design["treated"]]
    y[treated, HISTORY_DAYS:] += 120.0
    spend[treated, HISTORY_DAYS:] = 50.0
    data = csv_file(_panel_csv(y, spend=spend))
    assert client.post(reverse("experiment_readout", args=[experiment.pk]), {"data": data}).status_code == 302
    experiment.refresh_from_db()
    readout = experiment.readout
    assert readout["incremental_sales"] == pytest.approx(120.0 * 8 * TEST_DAYS, abs=4 * readout["incremental_sales_se"])
    html = client.get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    assert metric(html, "interval") == f"{readout['interval'][0]:.2f} – {readout['interval'][1]:.2f}"
    assert metric(html, "spend") == f"USD {50.0 * 8 * TEST_DAYS:.2f}"
    assert metric(html, "method") == f"Geo test ({readout['method']})"
    client.post(reverse("experiment_save_lift_study", args=[experiment.pk]))
    study = LiftStudy.objects.get()
    assert study.method == LiftStudy.Method.GEO_MATCHED_MARKETS and study.spend == Decimal("5600.00")
    assert study.incremental_sales == Decimal(str(round(readout["incremental_sales"], 2)))


def test_a_holdout_is_designed_from_uploaded_users_and_read_out(client, personas, catalog, tenants):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 4000
    pre = rng.gamma(2.0, 2.0, n)
    history = pd.DataFrame({"user_id": np.arange(n), "outcome": pre + rng.normal(0, 1, n), "pre_outcome": pre})
    client.force_login(personas["marketer"])
    form = {
        **SWITCHBACK,
        "kind": "holdout",
        "channel": AMAZON,
        "start_date": "2026-03-01",
        "end_date": "2026-03-10",
        "audience_size": "50000",
        "holdout_share": "0.2",
        "mde": "0.1",
        "users": csv_file(history.to_csv(index=False), "users.csv"),
    }
    response = client.post(reverse("experiment_list"), form)
    assert response.status_code == 302, visible(response.content.decode())
    experiment = Experiment.objects.get()
    design = experiment.design
    assert design["variance_source"] == "per-user history" and design["outcome_sd"] == pytest.approx(
        history["outcome"].std(ddof=1)
    )
    text = visible(client.get(response["Location"]).content.decode())
    assert f"{design['mde_per_user']:.4f} per user" in text and "50000 users, 20% held out" in text
    assert f"Users needed for a lift of 0.1 {design['audience_needed']}" in text

    group = np.where(rng.random(n) < 0.2, "holdout", "exposed")
    outcome = pre + rng.normal(0, 1, n) + np.where(group == "exposed", 0.5, 0.0)
    data = pd.DataFrame({"user_id": np.arange(n), "group": group, "outcome": outcome, "pre_outcome": pre})
    response = client.post(
        reverse("experiment_readout", args=[experiment.pk]), {"data": csv_file(data.to_csv(index=False))}
    )
    assert response.status_code == 302
    experiment.refresh_from_db()
    readout = experiment.readout
    html = client.get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    low, high = (x * readout["n_exposed"] for x in readout["interval_per_user"])
    assert metric(html, "interval") == f"{low:.2f} – {high:.2f}" and low < 0.5 * readout["n_exposed"] < high
    assert metric(html, "spend").startswith("USD 145.00")  # Acme's amazon facts over the test
    assert metric(html, "method") == "Holdout"

"""The independent worlds keep their promises: files per the contract, a true optimum, requests of each kind."""

import csv
import datetime as dt
import re

import numpy as np
import pytest

from bench.independent.worlds import H_COLUMNS, L_COLUMNS, RETAILERS, S_COLUMNS, make_worlds

PLAIN = re.compile(r"^\d+(\.\d+)?$")
SIGNED = re.compile(r"^-?\d+(\.\d+)?$")


@pytest.fixture(scope="module")
def worlds():
    return make_worlds(n=6, seed=11)


def _rows(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, list(reader)


def _random_allocations(world, rng, count):
    n = len(world.channels())
    shares = rng.dirichlet(np.full(n, 0.6), size=count)
    totals = world.budget * rng.uniform(0.05, 1.0, size=count) ** 0.3
    return [dict(zip(world.channels(), s * t, strict=True)) for s, t in zip(shares, totals, strict=True)]


def test_it_builds_the_same_worlds_from_the_same_seed(worlds):
    again = make_worlds(n=2, seed=11)
    for a, b in zip(worlds[:2], again, strict=True):
        assert (a.name, a.budget, a.period_days, a.min_roas) == (b.name, b.budget, b.period_days, b.min_roas)
        spend = {k: a.budget / len(a.channels()) for k in a.channels()}
        assert a.incremental_margin(spend) == pytest.approx(b.incremental_margin(spend), rel=1e-12)


def test_it_makes_realistic_requests(worlds):
    kinds = {w.floor_kind for w in worlds}
    assert kinds == {"loose", "binding", "infeasible"}
    for w in worlds:
        assert 3 <= len(w.channels()) <= 7
        assert all(k.split("|")[0] in RETAILERS for k in w.channels())
        run = sum(w.history_mix().values())
        assert w.budget >= 0.85 * run
        assert w.min_roas > 0
        assert 180 <= w.days <= 540


def test_it_writes_files_that_follow_the_contract(worlds, tmp_path):
    for w in worlds[:3]:
        paths = w.write_files(tmp_path / w.name)
        header, skus = _rows(paths["skus"])
        assert tuple(header) == S_COLUMNS
        ids = [r[0] for r in skus]
        assert len(ids) == len(set(ids))
        assert all(float(r[4]) > 0 and PLAIN.match(r[4]) and PLAIN.match(r[5]) for r in skus)

        header, rows = _rows(paths["history"])
        assert tuple(header) == H_COLUMNS
        dates, windows, keys, currencies = set(), {}, set(), set()
        for r in rows:
            row = dict(zip(H_COLUMNS, r, strict=True))
            assert dt.date.fromisoformat(row["date"]).isoformat() == row["date"]
            dates.add(row["date"])
            for col in ("impressions", "clicks", "spend", "attributed_sales", "attributed_units"):
                assert PLAIN.match(row[col]), (col, row[col])
            assert row["attribution_window_days"].isdigit()
            channel = f"{row['retailer']}|{row['placement_type']}"
            windows.setdefault(channel, set()).add(row["attribution_window_days"])
            currencies.add(row["currency"])
            assert row["sku_id"] == "" or row["sku_id"] in ids
            key = (row["date"], channel, row["campaign_id"], row["sku_id"])
            assert key not in keys
            keys.add(key)
        assert currencies == {"USD"}
        assert all(len(v) == 1 for v in windows.values())
        assert set(windows) == set(w.channels())
        assert 180 <= len(dates) <= 540
        spends = {}
        for r in rows:
            spends[f"{r[1]}|{r[2]}"] = spends.get(f"{r[1]}|{r[2]}", 0.0) + float(r[7])
        assert all(v > 0 for v in spends.values())

        if paths["lift_studies"] is not None:
            header, studies = _rows(paths["lift_studies"])
            assert tuple(header) == L_COLUMNS
            for r in studies:
                assert f"{r[0]}|{r[1]}" in w.channels()
                assert dt.date.fromisoformat(r[3]) >= dt.date.fromisoformat(r[2])
                assert PLAIN.match(r[4]) and SIGNED.match(r[5]) and PLAIN.match(r[6]) and float(r[6]) > 0


def test_the_oracle_is_feasible_and_beats_random_and_nearby_feasible_plans(worlds):
    rng = np.random.default_rng(5)
    for w in worlds:
        plan, best = w.oracle()
        assert sum(plan.values()) <= w.budget * (1 + 1e-6)
        assert w.attributed_roas(plan) >= w.min_roas * (1 - 1e-6)
        assert w.incremental_margin(plan) == pytest.approx(best, rel=1e-9)
        candidates = _random_allocations(w, rng, 1500)
        for _ in range(400):  # small moves around the optimum, then scaled back inside the budget
            near = {k: max(v * rng.normal(1, 0.05) + rng.normal(0, 0.01 * w.budget), 0.0) for k, v in plan.items()}
            total = sum(near.values())
            candidates.append({k: v * min(1.0, w.budget / total) for k, v in near.items()})
        feasible = 0
        for spend in candidates:
            if sum(spend.values()) <= w.budget and w.attributed_roas(spend) >= w.min_roas:
                feasible += 1
                assert w.incremental_margin(spend) <= best * (1 + 1e-6) + 1e-6, (w.name, spend)
        assert feasible >= 50, w.name


def test_each_floor_is_of_the_kind_it_claims(worlds):
    rng = np.random.default_rng(9)
    for w in worlds:
        plan, _ = w.oracle()
        spent = sum(plan.values())
        roas = w.attributed_roas(plan)
        if w.floor_kind == "loose":
            assert roas > w.min_roas * 1.01 and spent == pytest.approx(w.budget, rel=1e-4)
        elif w.floor_kind == "binding":  # the floor binds, yet the whole budget could meet it
            assert roas == pytest.approx(w.min_roas, rel=1e-4)
            assert w.request_facts["max_attributed_roas_full_budget"] > w.min_roas
        else:
            assert spent < 0.98 * w.budget
            full = [{k: v * w.budget / sum(s.values()) for k, v in s.items()}
                    for s in _random_allocations(w, rng, 2000)]
            assert max(w.attributed_roas(s) for s in full) < w.min_roas


def test_it_scores_a_plan_against_the_truth(worlds):
    w = worlds[0]
    plan, _ = w.oracle()
    assert w.score(plan)["share_of_oracle"] == pytest.approx(1.0)
    assert w.score(plan)["floor_held"] and w.score(plan)["within_budget"]
    half = {k: v / 2 for k, v in plan.items()}
    assert w.score(half)["spent_share"] == pytest.approx(w.score(plan)["spent_share"] / 2)
    assert w.score(half)["share_of_oracle"] < 1.0


def test_attributed_sales_are_not_a_fixed_multiple_of_incremental_sales(worlds):
    for w in worlds:
        ratios = []
        for key, rate in w.history_mix().items():
            low, high = {key: 0.3 * rate}, {key: 3.0 * rate}
            ratios.append((w.attributed_sales(low) / w.incremental_sales(low))
                          / (w.attributed_sales(high) / w.incremental_sales(high)))
        assert max(abs(np.log(r)) for r in ratios) > np.log(1.2), w.name


def test_it_refuses_unknown_channels_and_negative_spend(worlds):
    w = worlds[0]
    with pytest.raises(ValueError, match="unknown channel"):
        w.incremental_margin({"nowhere|banner": 10.0})
    with pytest.raises(ValueError, match="at least 0"):
        w.incremental_margin({w.channels()[0]: -5.0})

"""`python manage.py optimize` end to end on files the simulated scenario writes."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from demo.engine import scenario as sc


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("scenario")
    world = sc.build_scenario(9, days=60, channel_plans=sc.DEFAULT_CHANNELS[:3], lift_channels=2)
    return world, sc.write_files(world, directory)


def _run(paths, out, *extra, lift=True):
    args = ["--history", str(paths["history"]), "--skus", str(paths["skus"])]
    if lift:
        args += ["--lift-studies", str(paths["lift_studies"])]
    stderr = io.StringIO()
    call_command(
        "optimize",
        *args,
        "--budget",
        "30000",
        "--period-days",
        "28",
        "--json",
        str(out),
        "--samples",
        "60",
        *extra,
        stdout=io.StringIO(),
        stderr=stderr,
    )
    return stderr.getvalue()


def test_it_writes_the_out_json_contract(files, tmp_path):
    scenario, paths = files
    bounds = tmp_path / "BOUNDS.json"
    bounds.write_text(json.dumps({"walmart|search": [2000, 6000]}))
    out = tmp_path / "OUT.json"
    table = _run(paths, out, "--min-roas", "2.5", "--bounds", str(bounds))
    doc = json.loads(out.read_text())
    assert set(doc) >= {"allocations", "totals", "constraints", "objective"}
    assert doc["objective"] == "incremental_margin"
    assert sorted(f"{a['retailer']}|{a['placement_type']}" for a in doc["allocations"]) == sorted(scenario.keys)
    for a in doc["allocations"]:
        for key in ("spend", "expected_incremental_sales", "expected_incremental_margin", "expected_attributed_roas"):
            assert isinstance(a[key], float)
    walmart = next(a for a in doc["allocations"] if (a["retailer"], a["placement_type"]) == ("walmart", "search"))
    assert 2000 - 0.01 <= walmart["spend"] <= 6000 + 0.01
    total = sum(a["spend"] for a in doc["allocations"])
    assert total == pytest.approx(doc["totals"]["spend"]) and total <= 30000 + 0.01
    assert doc["constraints"]["min_roas"]["limit"] == 2.5
    assert doc["totals"]["expected_attributed_roas"] >= 2.5 * (1 - 1e-6)
    assert doc["constraints"]["bounds"]["walmart|search"]["min"] == 2000
    assert "amazon|sponsored_product" in table and "budget 30,000.00" in table


@pytest.mark.parametrize(
    ("extra", "text"),
    [
        (["--min-roas", "60", "--spend-everything"], "min_roas 60 is infeasible: the highest attributed ROAS"),
        (["--min-roas", "2", "--budget", "-5"], "budget -5.00 is negative"),
        (["--min-roas", "2", "--period-days", "0"], "period_days must be a whole number of days, at least 1"),
    ],
)
def test_bad_requests_fail_with_the_reason_and_write_nothing(files, tmp_path, extra, text):
    _, paths = files
    out = tmp_path / "OUT.json"
    with pytest.raises(CommandError, match=text):
        _run(paths, out, *extra)
    assert not out.exists()


def test_an_infeasible_floor_with_minimums_names_the_best_reachable_roas(files, tmp_path):
    _, paths = files
    bounds = tmp_path / "B.json"
    bounds.write_text(json.dumps({"amazon|sponsored_product": [25000, None]}))
    out = tmp_path / "OUT.json"
    with pytest.raises(CommandError, match=r"given the minimum spends reaches is \d+\.\d\d \(at "):
        _run(paths, out, "--min-roas", "30", "--bounds", str(bounds))
    assert not out.exists()


def test_an_unknown_channel_in_bounds_is_named(files, tmp_path):
    _, paths = files
    bounds = tmp_path / "B.json"
    bounds.write_text(json.dumps({"kroger|ctv": [0, 100]}))
    out = tmp_path / "OUT.json"
    with pytest.raises(CommandError, match=r"unknown channel 'kroger\|ctv'; the history has amazon\|sponsored_product"):
        _run(paths, out, "--min-roas", "2", "--bounds", str(bounds))
    assert not out.exists()


def test_a_broken_history_file_is_named_with_its_line(files, tmp_path):
    _, paths = files
    lines = paths["history"].read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[7], "12,34", 1)  # a decimal comma shifts the columns
    broken = tmp_path / "H.csv"
    broken.write_text("\n".join(lines) + "\n")
    out = tmp_path / "OUT.json"
    with pytest.raises(CommandError, match=r"H\.csv"):
        _run({**paths, "history": broken}, out, "--min-roas", "2")
    assert not out.exists()


def test_history_without_spend_variation_is_refused(files, tmp_path):
    import pandas as pd

    _, paths = files
    frame = pd.read_csv(paths["history"], dtype=str, keep_default_na=False)
    walmart = frame["retailer"] == "walmart"
    frame.loc[walmart, "spend"] = "100.00"
    flat = tmp_path / "H.csv"
    frame.to_csv(flat, index=False)
    with pytest.raises(CommandError, match="walmart"):
        _run({**paths, "history": flat}, tmp_path / "OUT.json", "--min-roas", "2")
    assert not (tmp_path / "OUT.json").exists()


@pytest.mark.django_db
def test_an_unknown_tenant_is_named(tmp_path):
    out = tmp_path / "OUT.json"
    with pytest.raises(CommandError, match="No tenant 'nobody'"):
        call_command(
            "optimize",
            "--tenant",
            "nobody",
            "--budget",
            "100",
            "--period-days",
            "7",
            "--min-roas",
            "1",
            "--json",
            str(out),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert not out.exists()


def test_history_or_tenant_is_required(tmp_path):
    with pytest.raises(CommandError, match="Give --history and --skus"):
        call_command(
            "optimize", "--budget", "1", "--period-days", "7", "--min-roas", "1", "--json", str(tmp_path / "o.json")
        )


def test_tenant_data_go_through_the_same_pipeline(catalog, tenants, tmp_path):
    # The conftest catalog has 10 days of facts: the command reads them from the database and the curve fit refuses
    # them with the same explanation a 10-day H.csv would get.
    out = tmp_path / "OUT.json"
    with pytest.raises(CommandError, match="covers only 10 days"):
        call_command(
            "optimize",
            "--tenant",
            "acme",
            "--budget",
            "1000",
            "--period-days",
            "7",
            "--min-roas",
            "1",
            "--json",
            str(out),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert not out.exists()


def test_the_floor_is_a_90_percent_promise_by_default_and_chance_0_is_the_floor_on_the_mean(files, tmp_path):
    _, paths = files
    promised, plain = tmp_path / "P.json", tmp_path / "M.json"
    _run(paths, promised, "--min-roas", "2.5")
    _run(paths, plain, "--min-roas", "2.5", "--chance", "0")
    doc, mean_only = json.loads(promised.read_text()), json.loads(plain.read_text())
    assert doc["constraints"]["chance"]["chance"] == 0.9 and doc["promise"]["chance"] == 0.9
    assert doc["totals"]["p_roas_floor"] >= 0.9
    assert doc["promise"]["largest_promised_spend"]["spend"] == pytest.approx(doc["totals"]["spend"])
    assert mean_only["constraints"]["chance"] is None and "promise" not in mean_only
    assert mean_only["totals"]["expected_attributed_roas"] >= 2.5 * (1 - 1e-6)
    with pytest.raises(CommandError, match=r"--chance must be 0 or more and below 1, got 1\.5"):
        _run(paths, tmp_path / "X.json", "--min-roas", "2.5", "--chance", "1.5")

"""Forecast adjustments reach the allocator: excluded and stocked-out SKUs shrink what a channel can sell."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from demo.engine import scenario as sc


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    world = sc.build_scenario(9, days=60, channel_plans=sc.DEFAULT_CHANNELS[:3], lift_channels=1)
    return sc.write_files(world, tmp_path_factory.mktemp("stock"))


def _optimize(paths, out, *extra):
    call_command(
        "optimize",
        "--history", str(paths["history"]),
        "--skus", str(paths["skus"]),
        "--budget", "30000",
        "--period-days", "28",
        "--min-roas", "0",
        "--samples", "40",
        "--json", str(out),
        *extra,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )  # fmt: skip
    return json.loads(out.read_text())


def _spend(plan, key):
    return next(a["spend"] for a in plan["allocations"] if f"{a['retailer']}|{a['placement_type']}" == key)


def test_excluding_every_sku_a_channel_sells_leaves_it_nothing(files, tmp_path):
    base = _optimize(files, tmp_path / "base.json")
    assert _spend(base, "amazon|sponsored_product") > 0
    everything = "CH-001,CH-002,CH-003,MM-001,MM-002"
    plan = _optimize(files, tmp_path / "out.json", "--exclude-skus", everything)
    assert _spend(plan, "amazon|sponsored_product") == pytest.approx(0, abs=1e-6)
    # Campaign-level channels still sell (H.csv does not say which SKUs they carry) and take the budget.
    assert sum(a["spend"] for a in plan["allocations"]) == pytest.approx(30000, rel=1e-6)
    assert any(w.startswith("amazon|sponsored_product:") for w in plan["warnings"])
    assert any("CH-001: excluded by request" in w for w in plan["warnings"])


def test_a_sku_with_no_stock_stops_counting_as_sellable(files, tmp_path):
    stock = tmp_path / "stock.csv"
    stock.write_text("sku_id,stock_units\nCH-001,0\nCH-002,1000000\nCH-003,1000000\nMM-001,1000000\nMM-002,1000000\n")
    plan = _optimize(files, tmp_path / "out.json", "--stock", str(stock))
    assert any("CH-001" in w for w in plan["warnings"])
    assert not any("CH-002" in w for w in plan["warnings"])


def test_bad_stock_and_unknown_skus_are_named(files, tmp_path):
    stock = tmp_path / "stock.csv"
    stock.write_text("sku_id,stock_units\nCH-001,lots\n")
    with pytest.raises(CommandError, match=r"line 2, column stock_units: 'lots' is not a number"):
        _optimize(files, tmp_path / "out.json", "--stock", str(stock))
    with pytest.raises(CommandError, match="NOPE"):
        _optimize(files, tmp_path / "out.json", "--exclude-skus", "NOPE")
    assert not (tmp_path / "out.json").exists()

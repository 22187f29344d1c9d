"""The benchmark's reliability check of the stated P(floor) (bench/optimize_bench.py --reliability, issue 17):
where the truth falls in a plan's stated distribution, and the table binned by stated probability."""

import math

import pytest

from bench.optimize_bench import _stated_z, reliability


def _plan(p, held, *, spend=100.0, roas=3.0, interval=(250.0, 350.0)):
    return {
        "p_floor": p,
        "floor_holds": held,
        "spend": spend,
        "roas": roas,
        "attributed_sales_interval": list(interval),
    }


def test_stated_z_reads_the_90_percent_interval_as_a_lognormal():
    lo, hi = 200.0, 450.0
    median = math.sqrt(lo * hi)
    assert _stated_z(_plan(0.9, True, spend=100.0, roas=median / 100.0, interval=(lo, hi))) == pytest.approx(0.0)
    assert _stated_z(_plan(0.9, True, spend=100.0, roas=hi / 100.0, interval=(lo, hi))) == pytest.approx(1.6449)
    assert _stated_z(_plan(0.9, True, spend=50.0, roas=lo / 50.0, interval=(lo, hi))) == pytest.approx(-1.6449)
    assert _stated_z({"p_floor": 0.9, "roas": None, "spend": 0.0, "attributed_sales_interval": [1, 2]}) is None


def test_reliability_bins_by_stated_probability_and_counts_a_repeated_plan_once():
    rows = [
        {  # the promise and --chance 0 gave the same plan: one plan
            "budget": 100.0,
            "methods": {"optimizer": _plan(1.0, True), "chance_0": _plan(1.0, True), "oracle": _plan(None, True)},
        },
        {  # the promise cut spend and held; the plan on the mean spent the budget and missed
            "budget": 100.0,
            "methods": {
                "optimizer": _plan(0.9, True, spend=70.0, roas=4.4, interval=(260.0, 300.0)),
                "chance_0": _plan(0.55, False, spend=100.0, roas=2.5),
            },
        },
        {"budget": 100.0, "methods": {"optimizer": _plan(0.92, False), "chance_0": {"refused": True}}},
    ]
    text = "\n".join(reliability(rows))
    assert "(4 plans of the command, 3 worlds)" in text
    assert "| 0.9-0.95 | 2 | 0.910 | 1 (50%) | 1.8 |" in text
    assert "| 0.5-0.7 | 1 | 0.550 | 0 (0%) | 0.6 |" in text
    assert "| 1 | 1 | 1.000 | 1 (100%) | 1.0 |" in text and "| 0.95-0.995 |" not in text
    # the cut plan's truth (308) lies above its interval's top (300): beyond the highest tenth
    cut = next(line for line in text.splitlines() if line.startswith("| spend cut"))
    assert cut.split("|")[2].strip() == "1" and cut.split("|")[6].strip() == "1"

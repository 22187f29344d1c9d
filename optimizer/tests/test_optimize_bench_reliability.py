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


def test_level_study_bound_is_the_oracle_without_level_error_and_falls_as_the_error_grows():
    # bench/optimize_bench.py --level-study (issue 17): a planner that knows the true curves and keeps the 90%
    # promise against no level error is the world's own oracle (100%); against a level error it must hold a
    # higher floor in truth, so it can only lose margin, and more as the error grows. One independent world whose
    # floor binds, so the higher floor costs something.
    from bench.independent.worlds import make_worlds
    from bench.optimize_bench import level_study

    seed = next(s for s in range(40) if make_worlds(1, s)[0].floor_kind == "binding")
    lines = level_study([seed], 1, [0.0, 0.05, 0.2], samples=50)
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| 0")}
    medians = [float(rows[sd].split("|")[2]) for sd in ("0", "0.05", "0.2")]
    assert medians[0] == pytest.approx(100.0, abs=0.1)
    assert medians[2] < medians[1] <= medians[0] + 0.1
    assert medians[2] < 99.0
    error_rms = next(line for line in lines if line.startswith("| realized log error, root mean square"))
    assert 0.0 <= float(error_rms.split("|")[2]) < 1.0

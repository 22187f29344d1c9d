"""The Laplace mechanism: the noise drawn has the spread the answer states, and OpenDP's accounting agrees."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from governance.cleanroom import check_query, policy_from_dict, run_query
from governance.cleanroom.privacy import laplace_mechanism, laplace_release


def test_the_empirical_noise_matches_the_mechanisms_scale():
    draws, info = laplace_release(np.zeros(40_000), sensitivity=3.0, epsilon=0.6)
    assert info.scale == pytest.approx(5.0, rel=1e-6)
    # Laplace(b): E|X| = b, sd = b·√2, P(|X| > b) = 1/e.
    assert np.mean(np.abs(draws)) == pytest.approx(info.scale, rel=0.03)
    assert np.std(draws) == pytest.approx(info.std, rel=0.03)
    assert np.mean(np.abs(draws) > info.scale) == pytest.approx(math.exp(-1), abs=0.01)
    assert abs(np.mean(draws)) < 0.1


def test_opendp_charges_what_the_answer_states():
    measurement, scale = laplace_mechanism(sensitivity=2.0, epsilon=0.25)
    assert scale == pytest.approx(8.0, rel=1e-6)
    assert measurement.map(2.0) <= 0.25
    assert measurement.map(2.0) == pytest.approx(0.25, rel=1e-6)


def test_released_counts_carry_noise_of_the_stated_scale():
    """200 groups of exactly 60 shoppers each: every released count's error is one draw of the stated noise."""
    shoppers = pd.DataFrame(
        {"shopper_id": [f"s{i}" for i in range(12_000)], "region": [f"r{i % 200}" for i in range(12_000)]}
    )
    policy = policy_from_dict(
        {"tables": {"shoppers": {"subject": "shopper_id", "one_row_per_shopper": True, "dimensions": ["region"]}}}
    )
    checked = check_query(
        "SELECT region, COUNT(DISTINCT shopper_id) AS n FROM shoppers GROUP BY region",
        policy=policy,
        schemas={"shoppers": ["shopper_id", "region"]},
    )
    errors, scales = [], set()
    for _ in range(5):
        result = run_query(checked, policy=policy, frames={"shoppers": shoppers}, epsilon=0.5)
        errors += [row["n"] - 60 for row in result.rows]
        scales.add(result.noise["n"].scale)
    assert len(scales) == 1 and scales.pop() == pytest.approx(
        2.0
    )  # sensitivity 1 (one region per shopper) / epsilon 0.5
    assert np.std(errors) == pytest.approx(2.0 * math.sqrt(2), rel=0.15)
    assert np.mean(np.abs(errors)) == pytest.approx(2.0, rel=0.15)

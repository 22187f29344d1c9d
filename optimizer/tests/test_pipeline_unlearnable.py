"""A channel whose curve cannot be learned: the file contract refuses it; tenant plans leave it out and say so."""

from __future__ import annotations

import pandas as pd
import pytest

from demo.engine import scenario as sc
from optimizer.engine.allocate import AllocationRequest
from optimizer.engine.errors import OptimizerInputError
from optimizer.engine.files import read_history, read_lift_studies, read_skus
from optimizer.engine.pipeline import optimize_from_frames


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    world = sc.build_scenario(9, days=60, channel_plans=sc.DEFAULT_CHANNELS[:3], lift_channels=1)
    paths = sc.write_files(world, tmp_path_factory.mktemp("unlearnable"))
    history = read_history(paths["history"])
    # A new channel with only the last 8 days of history.
    last = history["date"].max()
    young = history[
        (history["retailer"] == history["retailer"].iloc[0]) & (history["date"] > last - pd.Timedelta(days=8))
    ]
    young = young.assign(retailer="newshop", campaign_id="newshop-1")
    history = pd.concat([history, young], ignore_index=True)
    return history, read_skus(paths["skus"]), read_lift_studies(paths["lift_studies"])


REQUEST = AllocationRequest(budget=30000, period_days=28)


def test_the_file_contract_refuses_a_channel_with_too_little_history(frames):
    history, skus, lift = frames
    with pytest.raises(OptimizerInputError, match=r"newshop\|.*only 8 days of history") as exc:
        optimize_from_frames(history, skus, lift, REQUEST, samples=40)
    assert exc.value.field.startswith("newshop|")


def test_skip_unlearnable_leaves_the_channel_out_and_says_why(frames):
    history, skus, lift = frames
    result = optimize_from_frames(history, skus, lift, REQUEST, samples=40, skip_unlearnable=True)
    assert {a.retailer for a in result.allocations} == set(history["retailer"]) - {"newshop"}
    assert sum(a.spend for a in result.allocations) == pytest.approx(30000, rel=1e-6)
    assert any(w.startswith("newshop|") and "left out of this plan" in w for w in result.warnings)
    assert "newshop" not in {a["retailer"] for a in result.to_dict()["allocations"]}
    # The same as a notice (a warning: the plan lacks a channel the tenant has), which OUT.json does not carry.
    (left_out,) = [n for n in result.notices if n.kind == "left_out"]
    assert left_out.severity == "warning" and left_out.channels[0].startswith("newshop|")
    assert "notices" not in result.to_dict()


def test_an_excluded_channel_is_not_fitted_at_all(frames):
    history, skus, lift = frames
    key = f"newshop|{history[history['retailer'] == 'newshop']['placement_type'].iloc[0]}"
    result = optimize_from_frames(
        history,
        skus,
        lift,
        AllocationRequest(budget=30000, period_days=28, exclude_channels=frozenset({key})),
        samples=40,
    )
    assert "newshop" not in {a.retailer for a in result.allocations}
    assert not any("newshop" in w for w in result.warnings)


def test_a_minimum_spend_on_an_unlearnable_channel_is_still_an_error(frames):
    history, skus, lift = frames
    key = f"newshop|{history[history['retailer'] == 'newshop']['placement_type'].iloc[0]}"
    request = AllocationRequest(budget=30000, period_days=28, bounds={key: (1000.0, 5000.0)})
    with pytest.raises(OptimizerInputError, match="only 8 days of history"):
        optimize_from_frames(history, skus, lift, request, samples=40, skip_unlearnable=True)

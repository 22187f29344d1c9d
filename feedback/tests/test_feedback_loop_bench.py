"""bench/feedback_loop.py runs end to end on the tiny model: reviewers answer every pair through the console
(overlap 3), a DPO dataset is exported, a job trains in-process and the gate judges it; the control promotes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_it_runs_a_control_round_on_the_tiny_model_and_the_gate_holds(tmp_path):
    env = {**os.environ, "SECRET_KEY": "bench-test"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "bench/feedback_loop.py", "--quick", "--rounds", "1", "--briefs", "8", "--heldout-briefs",
         "4", "--control", "--work", str(tmp_path / "bench")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "bench" / "results.json").read_text())
    (round_,) = result["rounds"]
    assert round_["items"] == 8 and round_["answers"] == 8 * 3  # every pair answered by three reviewers
    assert round_["train_rows"] + round_["heldout_rows"] + sum(round_["dropped"].values()) >= 1
    assert round_["promoted"] is False and result["promoted_any"] is False
    assert "Control: the gate promoted nothing." in done.stdout
    assert 0 <= round_["win_rate_over_sft"] <= 1 and round_["train_s"] > 0


def _bench():
    sys.path.insert(0, str(ROOT))
    from bench import feedback_loop

    return feedback_loop


@pytest.mark.parametrize(
    "copy",
    [
        {"headline": "Crunchy Oat Granola", "body": "Granola with high fiber. Add it to your cart.", "disclosure": ""},
        {"headline": "Crunchy Oat Granola", "body": "A crunchy morning treat. Shop now.", "disclosure": ""},
        {"headline": "Granola", "body": "Fiber for the morning. Try it.", "disclosure": ""},
    ],
)
def test_every_offered_edit_moves_the_taste_the_way_its_direction_says(copy):
    bench = _bench()
    import random

    b = bench.brief(1, heldout=False)  # Crunchy Oat Granola, key "fiber"
    before = bench.taste(copy, b)
    offered = bench.applicable_edits(copy, b)
    assert offered["break"], "a copy can always be broken"
    seen = set()
    for seed in range(60):
        variant, edit = bench.perturb(copy, b, random.Random(seed))
        seen.add(edit)
        after = bench.taste(variant, b)
        if edit in offered["improve"]:
            assert after > before, (edit, variant)
        else:
            assert edit in offered["break"] and after < before, (edit, variant)
    # both directions come up when both are offered: a panel learns what to add and what to avoid
    assert seen & set(offered["improve"]) or not offered["improve"]
    assert seen & set(offered["break"])


def test_a_price_claim_can_be_added_to_clean_copy_and_taken_out_of_copy_it_breaks():
    bench = _bench()
    b = bench.brief(0, heldout=False)  # Crunchy Oat Granola, key "fiber"; the policy forbids price claims
    body = "High in fiber for a fuller morning. Now just $2.99. Shop today."
    priced = {"headline": "Granola, now just $2.99", "body": body, "disclosure": ""}
    offered = bench.applicable_edits(priced, b)
    assert "drop_price" in offered["improve"] and "add_price" not in offered["break"]  # it already breaks the policy
    fixed = bench.edit_copy(priced, b, "drop_price")
    assert fixed == {"headline": "Granola", "body": "High in fiber for a fuller morning. Shop today.", "disclosure": ""}
    assert bench.taste_parts(fixed, b)["policy"] and not bench.taste_parts(priced, b)["policy"]

    clean = {"headline": "Crunchy Oat Granola", "body": "High in fiber. Shop today.", "disclosure": ""}
    offered = bench.applicable_edits(clean, b)
    assert "add_price" in offered["break"] and "drop_price" not in offered["improve"]  # nothing to take out
    broken = bench.edit_copy(clean, b, "add_price")
    assert broken["body"] == "High in fiber. Shop today. Now just $2.99."
    assert bench.taste(broken, b) == bench.taste(clean, b) - 1

"""Agreement figures equal values computed by hand on small tables (the working is in each test's comments)."""

from __future__ import annotations

import numpy as np
import pytest

from feedback.engine.agreement import alpha, disagreements, kappa, matches_gold, pairwise_kappa


def test_it_computes_nominal_alpha_as_by_hand():
    # Two coders, four units: (a,a) (a,b) (b,b) (b,b). Coincidences: o_aa=2, o_ab=o_ba=1, o_bb=4; n=8, n_a=3, n_b=5.
    # alpha = 1 - (n-1) * (o_ab+o_ba) / (2 n_a n_b) = 1 - 7*2/30 = 16/30 = 0.5333...
    units = {1: {"x": "a", "y": "a"}, 2: {"x": "a", "y": "b"}, 3: {"x": "b", "y": "b"}, 4: {"x": "b", "y": "b"}}
    assert alpha(units, level="nominal") == pytest.approx(16 / 30)


def test_it_computes_ordinal_alpha_as_by_hand():
    # Two coders, three units: (1,1) (2,3) (3,3). n_1=2, n_2=1, n_3=3, n=6.
    # Ordinal distance d(c,k) = (sum of n_g for g from c to k - (n_c+n_k)/2)^2:
    #   d(1,2) = (3 - 1.5)^2 = 2.25, d(2,3) = (4 - 2)^2 = 4, d(1,3) = (6 - 2.5)^2 = 12.25.
    # Observed: only the pair (2,3) disagrees, o_23 = o_32 = 1 -> sum o*d = 8.
    # Expected: 2 * (2*1*2.25 + 2*3*12.25 + 1*3*4) = 180. alpha = 1 - (n-1) * 8 / 180 = 1 - 40/180 = 7/9.
    units = {1: {"x": 1, "y": 1}, 2: {"x": 2, "y": 3}, 3: {"x": 3, "y": 3}}
    assert alpha(units, level="ordinal") == pytest.approx(7 / 9)


def test_it_matches_krippendorffs_classic_example_with_missing_values():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", three observers, 15 units, some missing:
    # nominal alpha = 0.691 as published.
    rows = {
        "A": [None, None, None, None, None, 3, 4, 1, 2, 1, 1, 3, 3, None, 3],
        "B": [1, None, 2, 1, 3, 3, 4, 3, None, None, None, None, None, None, None],
        "C": [None, None, 2, 1, 3, 4, 4, None, 2, 1, 1, 3, 3, None, 4],
    }
    units = {u: {c: rows[c][u] for c in rows if rows[c][u] is not None} for u in range(15)}
    assert alpha(units, level="nominal") == pytest.approx(0.691, abs=0.0005)


def test_it_says_alpha_is_undefined_when_everyone_gave_the_same_answer():
    assert alpha({1: {"x": "up", "y": "up"}, 2: {"x": "up", "y": "up"}}, level="nominal") is None
    assert alpha({1: {"x": "up"}, 2: {"y": "down"}}, level="nominal") is None  # no unit with two answers


def test_it_computes_kappa_on_a_two_by_two_table_as_by_hand():
    #            B yes  B no
    #   A yes      20     5
    #   A no       10    15      n = 50
    # p_o = 35/50 = 0.7; p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert kappa(a, b) == pytest.approx(0.4)


def test_it_agrees_with_scikit_learn_on_a_three_category_table():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(7)
    a = rng.choice(["a", "b", "tie"], size=60).tolist()
    b = [x if rng.random() < 0.6 else "tie" for x in a]
    assert kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))


def test_it_computes_kappa_per_reviewer_pair_over_shared_items_only():
    units = {1: {"ann": "up", "bob": "up", "cy": "down"}, 2: {"ann": "down", "bob": "down"}, 3: {"ann": "up"}}
    pairs = pairwise_kappa(units)
    assert pairs[("ann", "bob")] == (pytest.approx(1.0), 2)
    # One shared unit, answered up vs down: p_o = 0, p_e = 0 -> kappa 0.
    assert pairs[("ann", "cy")] == (pytest.approx(0.0), 1)
    # Both always said the same single answer: p_e = 1, kappa undefined.
    assert kappa(["up", "up"], ["up", "up"]) is None


def test_it_flags_disagreement_per_question():
    assert disagreements([{"thumb": "up"}, {"thumb": "down"}]) == ["thumb"]
    assert disagreements([{"preference": "tie"}, {"preference": "both_bad"}]) == ["preference"]
    one_step = [{"ratings": {"clear": 3, "on_brand": 5}}, {"ratings": {"clear": 4, "on_brand": 4}}]
    assert disagreements(one_step) == []
    two_steps = [{"ratings": {"clear": 2}}, {"ratings": {"clear": 3}}, {"ratings": {"clear": 4}}]
    assert disagreements(two_steps) == ["ratings.clear"]


def test_it_checks_an_answer_against_gold():
    gold = {"thumb": "down", "ratings": {"compliant": 1}}
    assert matches_gold({"thumb": "down", "ratings": {"compliant": 2, "clear": 5}}, gold)
    assert not matches_gold({"thumb": "up", "ratings": {"compliant": 1}}, gold)
    assert not matches_gold({"thumb": "down", "ratings": {"compliant": 3}}, gold)

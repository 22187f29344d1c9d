"""Uplift (CATE): Qini/AUUC against hand-computed values, model choice against a constant effect, input errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from demo.engine.uplift_data import ihdp_surface, nie_wager_setup, retail_media_experiment
from optimizer.engine.errors import OptimizerInputError
from optimizer.engine.uplift import auuc, fit_uplift, pehe, qini_coefficient, uplift_curves

# Six units ranked by score, alternating treated / control; outcomes 1, 0, 1, 1, 0, 0. With k the number targeted,
# N = 6, and (n_t, n_c, Y_t, Y_c) counted among the top k:
#   k=1: (1, 0, 1, 0) -> no control yet: both curves 0
#   k=2: (1, 1, 1, 0) -> qini (1 - 0)/6 = 1/6,          uplift (1 - 0)·2/6 = 1/3
#   k=3: (2, 1, 2, 0) -> qini 2/6 = 1/3,                uplift (1 - 0)·3/6 = 1/2
#   k=4: (2, 2, 2, 1) -> qini (2 - 1)/6 = 1/6,          uplift (1 - 1/2)·4/6 = 1/3
#   k=5: (3, 2, 2, 1) -> qini (2 - 1·3/2)/6 = 1/12,     uplift (2/3 - 1/2)·5/6 = 5/36
#   k=6: (3, 3, 2, 1) -> qini (2 - 1)/6 = 1/6,          uplift (2/3 - 1/3)·6/6 = 1/3
# Qini coefficient: trapezoid (step 1/6) of qini - x·qini(1) = [0, -1, 4, 9, 2, -2, 0]/36 -> (1/6)(12/36) = 1/18.
# AUUC: trapezoid of [0, 0, 1/3, 1/2, 1/3, 5/36, 1/3] -> (1/6)(0 + 1/3 + 1/2 + 1/3 + 5/36 + 1/6) = 53/216.
SCORE = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
TREATED = np.array([1, 0, 1, 0, 1, 0])
OUTCOME = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])


def test_it_computes_qini_and_auuc_by_hand():
    curves = uplift_curves(SCORE, TREATED, OUTCOME)
    np.testing.assert_allclose(curves.qini, [0, 0, 1 / 6, 1 / 3, 1 / 6, 1 / 12, 1 / 6])
    np.testing.assert_allclose(curves.uplift, [0, 0, 1 / 3, 1 / 2, 1 / 3, 5 / 36, 1 / 3])
    assert qini_coefficient(SCORE, TREATED, OUTCOME) == pytest.approx(1 / 18)
    assert auuc(SCORE, TREATED, OUTCOME) == pytest.approx(53 / 216)
    assert curves.auuc_random == pytest.approx(1 / 6)


def test_it_scores_a_ranking_the_same_whatever_the_order_of_the_rows():
    shuffle = np.array([3, 0, 5, 1, 4, 2])
    assert qini_coefficient(SCORE[shuffle], TREATED[shuffle], OUTCOME[shuffle]) == pytest.approx(1 / 18)


def test_it_gives_a_constant_score_no_qini_because_tied_units_enter_together():
    curves = uplift_curves(np.ones(6), TREATED, OUTCOME)
    np.testing.assert_allclose(curves.fraction, [0, 1])
    assert curves.qini_coefficient == 0.0
    assert curves.auuc == pytest.approx(curves.auuc_random)  # a straight line to the difference in means (1/3)


def test_it_ranks_the_true_effect_above_its_reverse():
    data = nie_wager_setup(2, 2000, 5, 0.5, rng=np.random.default_rng(1))
    good = qini_coefficient(data.true_cate, data.treatment, data.outcome)
    bad = qini_coefficient(-data.true_cate, data.treatment, data.outcome)
    assert good > 0.1 > -0.1 > bad


def test_it_measures_pehe_as_root_mean_squared_error():
    assert pehe([1.0, 2.0, 3.0], [1.0, 0.0, 3.0]) == pytest.approx(np.sqrt(4 / 3))


def test_it_chooses_a_cate_model_when_the_effect_is_strongly_heterogeneous():
    data = nie_wager_setup(2, 1000, 5, 1.0, rng=np.random.RandomState(0))  # Nie & Wager setup B: a randomized trial
    result = fit_uplift(data.X, data.treatment, data.outcome, learners=("x", "dr"), seed=0, true_cate=data.true_cate)
    chosen = result.metrics[result.chosen]
    assert result.chosen in ("x", "dr"), result.reason
    assert chosen.beats_baseline and chosen.risk_improvement_interval[0] > 0
    assert chosen.pehe < 0.7 * result.metrics["baseline"].pehe
    assert chosen.qini_interval[0] > 0
    np.testing.assert_allclose(result.predict(data.X[:5]), result.models[result.chosen].effect(data.X[:5]))


def test_it_keeps_the_constant_effect_when_there_is_no_heterogeneity():
    data = retail_media_experiment(3000, seed=3, effect="constant")
    result = fit_uplift(data.X, data.treatment, data.outcome, seed=3, randomized=True, true_cate=data.true_cate)
    assert result.chosen == "baseline", result.reason
    assert not any(m.beats_baseline for m in result.metrics.values())
    # The constant-effect rows predict the AIPW ATE, which is within 3 standard errors of the true effect.
    assert abs(result.ate - data.true_ate) < 3 * result.ate_se
    np.testing.assert_allclose(result.predict(data.X.head(4)), result.ate)
    assert result.metrics["baseline"].pehe < min(result.metrics[k].pehe for k in ("t", "x", "dr"))


def test_it_one_hot_encodes_audience_sku_and_placement():
    data = retail_media_experiment(1200, seed=1)
    result = fit_uplift(data.X, data.treatment, data.outcome, learners=("t",), seed=1, randomized=True)
    assert "audience=new_to_brand" in result.feature_names and "placement=ctv" in result.feature_names
    assert "past_purchases" in result.feature_names
    assert result.predict_learner("t", data.X.head(3)).shape == (3,)
    unseen = data.X.head(2).assign(placement="billboard")
    with pytest.raises(OptimizerInputError, match="'placement' has value\\(s\\) billboard not seen"):
        result.predict_learner("t", unseen)
    summary = json.loads(json.dumps(result.to_dict()))  # plain JSON for services and pages
    assert set(summary["metrics"]) == {"baseline", "t"} and summary["chosen"] == result.chosen


def test_it_reads_ihdp_offline_with_its_true_effects():
    a, b = ihdp_surface("A", 0), ihdp_surface("B", 0)
    assert a.X.shape == (747, 25) and np.all(a.true_cate == 4.0)
    # Surface B sets its offset so that the effect on the treated averages 4 (Hill 2011), and varies by child.
    assert b.true_cate[b.treatment == 1].mean() == pytest.approx(4.0) and b.true_cate.std() > 0.5
    assert set(np.unique(a.treatment)) == {0, 1}


def _frame(n=200):
    return pd.DataFrame({"audience": ["loyal", "lapsed"] * (n // 2), "spend": np.arange(n, dtype=float)})


@pytest.mark.parametrize(
    ("treatment", "outcome", "message", "field"),
    [
        (
            [0, 1, 2, 1] * 50,
            np.zeros(200),
            "treatment must be 0 \\(control\\) or 1 \\(exposed\\).*found 2",
            "treatment",
        ),
        ([0, 1] * 50, np.zeros(200), "treatment has 100 rows but X has 200", "treatment"),
        ([0, 1] * 100, np.zeros(150), "outcome has 150 rows but X has 200", "outcome"),
        ([1] * 10 + [0] * 190, np.zeros(200), "too few treated \\(exposed\\) rows: 10; .*at least 40", "treatment"),
        ([1] * 190 + [0] * 10, np.zeros(200), "too few control rows: 10", "treatment"),
        ([0, 1] * 100, [np.nan] + [0.0] * 199, "outcome is missing or not finite on row\\(s\\) \\[0\\]", "outcome"),
    ],
)
def test_it_rejects_bad_experiment_data_with_a_clear_message(treatment, outcome, message, field):
    with pytest.raises(OptimizerInputError, match=message) as caught:
        fit_uplift(_frame(), np.asarray(treatment), np.asarray(outcome))
    assert caught.value.field == field


def test_it_rejects_an_unknown_learner():
    with pytest.raises(OptimizerInputError, match="unknown learner\\(s\\) 'causal_forest'; choose from t, x, dr"):
        fit_uplift(_frame(), np.array([0, 1] * 100), np.zeros(200), learners=("t", "causal_forest"))

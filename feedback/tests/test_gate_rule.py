"""The gate's decision rule (feedback.engine.gate) on known figures: no database, no model."""

from __future__ import annotations

import pytest

from feedback.engine.gate import (
    GateFigures,
    GateRule,
    RateFigures,
    decide,
    paired_bootstrap_diff,
    preference_figures,
    sign_flip_p_value,
    wilson_interval,
)


def results(wins: int, losses: int, both_right: int, both_wrong: int) -> tuple[list[bool], list[bool]]:
    candidate = [True] * wins + [False] * losses + [True] * both_right + [False] * both_wrong
    baseline = [False] * wins + [True] * losses + [True] * both_right + [False] * both_wrong
    return candidate, baseline


def figures(wins, losses, both_right=10, both_wrong=5, *, violations=(0.10, 0.10), task=(0.5, 0.5)) -> GateFigures:
    rule = GateRule()
    return GateFigures(
        preference=preference_figures(*results(wins, losses, both_right, both_wrong), rule=rule),
        violations=RateFigures("violation_rate", *violations, n=20),
        task=RateFigures("exact_match", *task, n=20, higher_is_better=True),
        rule=rule,
    )


def test_it_computes_the_wilson_interval_of_a_known_proportion():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_it_counts_wins_losses_and_ties_per_pair():
    pref = preference_figures(*results(wins=6, losses=2, both_right=3, both_wrong=1))
    assert (pref.wins, pref.losses, pref.ties, pref.n_pairs) == (6, 2, 4, 12)
    assert pref.win_rate == pytest.approx(0.75)
    assert pref.candidate_accuracy == pytest.approx(9 / 12) and pref.baseline_accuracy == pytest.approx(5 / 12)
    assert pref.accuracy_diff == pytest.approx(4 / 12)


def test_it_gives_the_same_bootstrap_interval_for_the_same_seed_and_a_narrower_one_with_more_pairs():
    small = results(wins=6, losses=2, both_right=4, both_wrong=0)
    big = results(wins=60, losses=20, both_right=40, both_wrong=0)
    a = paired_bootstrap_diff(*small, draws=1000, seed=3, confidence=0.95)
    assert a == paired_bootstrap_diff(*small, draws=1000, seed=3, confidence=0.95)
    b = paired_bootstrap_diff(*big, draws=1000, seed=3, confidence=0.95)
    assert a[0] <= 4 / 12 <= a[1] and b[0] <= 40 / 120 <= b[1]
    assert b[1] - b[0] < a[1] - a[0]


def test_it_promotes_a_clear_winner_that_is_no_worse_elsewhere():
    promoted, reasons = decide(figures(wins=20, losses=2))
    assert promoted
    assert reasons[-1].startswith("Promoted")
    assert "20 wins, 2 losses" in reasons[0] and "better." in reasons[0]


def test_it_does_not_promote_a_winner_on_preference_that_is_worse_on_violations():
    promoted, reasons = decide(figures(wins=20, losses=2, violations=(0.30, 0.10)))
    assert not promoted
    assert "worse by 0.200" in reasons[1]
    assert reasons[-1] == "Not promoted: fails on violations."


def test_it_does_not_promote_a_winner_that_is_worse_on_the_task_beyond_the_tolerance():
    promoted, reasons = decide(figures(wins=20, losses=2, task=(0.40, 0.50)))
    assert not promoted and reasons[-1] == "Not promoted: fails on task."
    assert decide(figures(wins=20, losses=2, task=(0.49, 0.50)))[0]  # within the 0.02 tolerance


def test_it_does_not_promote_a_candidate_within_noise():
    promoted, reasons = decide(figures(wins=9, losses=6))  # a 60% win rate on 15 decisive pairs
    assert not promoted
    assert "within noise" in reasons[0] and reasons[-1] == "Not promoted: fails on held-out preferences."


def test_it_does_not_promote_on_too_few_decisive_pairs_even_if_all_are_wins():
    promoted, reasons = decide(figures(wins=4, losses=0))
    assert not promoted and "only 4 pairs tell the versions apart" in reasons[0]


def test_it_lets_an_unmeasured_part_pass_and_says_so():
    fig = figures(wins=20, losses=2, violations=(None, None), task=(None, None))
    fig.violations = RateFigures("violation_rate", None, None, n=0)
    promoted, reasons = decide(fig)
    assert promoted and "not measured (no rows)" in reasons[1] and "not measured" in reasons[2]
    # Each line names its part of the gate, even where both measure a violation rate (the creative task).
    assert reasons[1].startswith("Policy violations on held-out briefs") and reasons[2].startswith("The task's own")
    assert fig.as_dict()["violations"]["measured"] is False


# --- the margin measure: how far each held-out pair moved, not only whether it crossed zero ------------------------


def test_the_sign_flip_p_value_counts_sign_assignments_exactly():
    assert sign_flip_p_value([1, 1, 1], draws=100, seed=0) == pytest.approx(1 / 8)  # only all-plus reaches 3
    assert sign_flip_p_value([1, -1], draws=100, seed=0) == pytest.approx(3 / 4)  # sums 0, 0, 2 of 4 reach 0
    assert sign_flip_p_value([3, -1, -1], draws=100, seed=0) == pytest.approx(1 / 2)  # every "+3" assignment
    # Past 16 values it samples: 20 equal positive changes leave about 1 in a million assignments as extreme.
    assert sign_flip_p_value([0.1] * 20, draws=2000, seed=0) == pytest.approx(1 / 2001)


def margin_figures(changes, *, wins, losses, violations=(0.10, 0.10)) -> GateFigures:
    """Figures where the baseline's margins are 0 and the candidate's are ``changes``; right/wrong as given."""
    n = len(changes)
    candidate = [True] * wins + [False] * losses + [False] * (n - wins - losses)
    baseline = [False] * wins + [True] * losses + [False] * (n - wins - losses)
    rule = GateRule()
    pref = preference_figures(candidate, baseline, rule=rule, candidate_margins=changes, baseline_margins=[0.0] * n)
    return GateFigures(
        preference=pref,
        violations=RateFigures("violation_rate", *violations, n=20),
        task=RateFigures("exact_match", 0.5, 0.5, n=20, higher_is_better=True),
        rule=rule,
    )


def test_it_promotes_a_candidate_that_moved_most_pairs_the_reviewers_way_though_few_crossed_zero():
    changes = [0.05, 0.04, 0.06, 0.03, 0.05, 0.02, 0.04, 0.05, 0.06, 0.03, 0.04, -0.01, 0.05, 0.02]
    fig = margin_figures(changes, wins=2, losses=0)
    assert fig.preference.moved_toward == 13 and fig.preference.moved_away == 1
    assert fig.preference.margin_change == pytest.approx(sum(changes) / 14)
    promoted, reasons = decide(fig)
    assert promoted, reasons
    assert "rose on 13 pairs and fell on 1" in reasons[0] and reasons[0].endswith("better.")
    # The older right/wrong rule cannot see it: 2 decisive pairs.
    old = GateFigures(fig.preference, fig.violations, fig.task, rule=GateRule(measure="accuracy"))
    assert not decide(old)[0]
    # Still no worse on violations: the same margins with more violating copy are held.
    assert not decide(margin_figures(changes, wins=2, losses=0, violations=(0.3, 0.1)))[0]


def test_it_holds_margin_changes_whose_signs_are_coins():
    # Reviewers answering at random: each held-out pair's change is as likely against their choice as for it.
    # Over 300 such panels the gate may promote at most about 2.5% (one-sided 95%), never a sizeable share.
    import random

    rng = random.Random(11)
    promoted = 0
    for _ in range(300):
        n = rng.randint(8, 24)
        changes = [rng.choice((-1, 1)) * rng.expovariate(20) for _ in range(n)]
        toward = sum(c > 0 for c in changes)
        wins = min(toward, 2)
        losses = min(n - toward, 2)
        promoted += decide(margin_figures(changes, wins=wins, losses=losses))[0]
    assert promoted / 300 <= 0.05


def test_it_holds_a_margin_gain_with_more_pairs_turned_wrong_than_right_or_too_few_pairs():
    changes = [0.05] * 12
    promoted, reasons = decide(margin_figures(changes, wins=1, losses=3))
    assert not promoted and "more pairs turned wrong than right" in reasons[0]
    promoted, reasons = decide(margin_figures([0.05] * 4, wins=0, losses=0))
    assert not promoted and "only 4 pairs" in reasons[0]


def test_a_rule_names_its_measure():
    with pytest.raises(ValueError, match="measure"):
        GateRule(measure="vibes")


def test_one_row_of_a_small_set_is_within_the_tolerance_two_rows_are_not():
    def task_figures(candidate, baseline, n):
        fig = figures(wins=20, losses=2)
        fig.task = RateFigures("violation_rate", candidate, baseline, n=n)
        return fig

    # 40 rows: one more violating answer (0.025) passes, though finer than the 0.02 tolerance; two (0.05) do not.
    promoted, reasons = decide(task_figures(0.45, 0.425, 40))
    assert promoted and "at least 1 row of 40: 0.025" in reasons[2]
    promoted, reasons = decide(task_figures(0.475, 0.425, 40))
    assert not promoted and "worse by 0.050, more than allowed" in reasons[2]
    # 200 rows: the tolerance (4 rows) is coarser than one row and governs: 4 rows pass, 5 do not.
    assert decide(task_figures(0.12, 0.10, 200))[0]
    assert not decide(task_figures(0.125, 0.10, 200))[0]
    # The rule may ask for none: then 0.02 means what it says.
    fig = task_figures(0.45, 0.425, 40)
    fig.rule = GateRule(rows_tolerated=0)
    assert not decide(fig)[0]

"""The promotion gate's decision rule and its statistics. Django-free: the service (feedback.services.gate) measures,
this module decides.

A candidate adapter version is compared with the baseline (the active version of the same adapter) on three things:

(a) held-out human preferences. On each held-out pair a model is *right* when it gives the reviewers' chosen answer a
    higher log-probability per token than the rejected one (``ml.engine.evaluation.pair_logprobs`` with
    ``per_token``, ``length_normalized`` in the rule; a tie is wrong). Per token, as SimPO's implicit reward, because
    a summed log-probability falls with every token added: it prefers the shorter answer of a pair whatever the
    answers say, so where the chosen answer is the rejected one plus a sentence (a call to action) or minus one (a
    price claim), every version ranks the pair alike and no candidate can ever show it learned what reviewers asked.
    Reward accuracy is the share of pairs a model gets right. Pairs are compared *paired*: candidate right and
    baseline wrong is a win, the reverse a loss, both right or both wrong a tie (excluded). The win rate is
    wins / (wins + losses) with a Wilson score interval; the accuracy difference (candidate - baseline) has a paired
    bootstrap interval (pairs resampled with replacement, ``bootstrap`` draws, seeded, percentile interval).
    Those right/wrong figures are reported; the decision (``measure``, "margin" by default) reads more than right or
    wrong. On each pair a model's *margin* is the chosen answer's score minus the rejected one's; the candidate's
    margin minus the baseline's on the same pair is how far training moved that pair towards the reviewers' choice
    (positive) or away from it. Better on (a) means: the mean change's paired bootstrap interval excludes no change
    (lower bound above 0), a sign-flip test agrees (one-sided p at most half of 1 - ``confidence``: under "reviewers'
    labels tell nothing about what training changed", as with reviewers answering at random, each change is as likely
    positive as negative), at least ``min_decisive`` pairs, and no more losses than wins. Why: right/wrong throws away
    how much a pair moved, so a candidate that moved most held-out pairs the reviewers' way but flipped only one or
    two across zero scored as a tie on the rest; on 10-20 held-out pairs such a gate almost never passes.
    ``measure="accuracy"`` is the older rule: **both** the win rate's lower bound above 0.5 and the accuracy
    difference's lower bound above 0, with at least ``min_decisive`` decisive pairs (also the rule when no margins
    were measured).
(b) the policy-violation rate on held-out briefs (lower is better): the candidate may be at most
    ``violation_tolerance`` (absolute) worse than the baseline.
(c) the task's own evaluation on its held-out set (the task's headline metric): at most ``task_tolerance``
    (absolute) worse. In (b) and (c) a difference of ``rows_tolerated`` rows (1) is always tolerated: on a set of
    40 rows one answer is 0.025, so a 0.02 tolerance alone would hold a candidate on a single answer's noise.
    A part not measured (no briefs with a policy, no held-out task set) does not block, and the
    reasons say it was not measured.

Promoted only when better on (a) and no worse on (b) and (c).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from statistics import NormalDist

MEASURES = ("margin", "accuracy")


@dataclass(frozen=True)
class GateRule:
    confidence: float = 0.95
    violation_tolerance: float = 0.02
    task_tolerance: float = 0.02
    bootstrap: int = 2000
    seed: int = 0
    min_decisive: int = 5
    length_normalized: bool = True
    measure: str = "margin"  # "margin": the paired change of each pair's margin; "accuracy": right/wrong only
    # (b) and (c) tolerate at least this many rows' difference: on 40 rows one row is 0.025, coarser than a 0.02
    # tolerance, which would otherwise mean "not one row worse" and hold candidates on a single answer's noise.
    rows_tolerated: int = 1

    def __post_init__(self):
        if self.measure not in MEASURES:
            raise ValueError(f"GateRule.measure must be one of {', '.join(MEASURES)}, not {self.measure!r}.")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PreferenceFigures:
    n_pairs: int
    candidate_accuracy: float
    baseline_accuracy: float
    wins: int
    losses: int
    ties: int
    win_rate: float | None
    win_rate_ci: tuple[float, float]
    accuracy_diff: float
    accuracy_diff_ci: tuple[float, float]
    # Per-pair margin changes (candidate - baseline); None: margins were not given.
    margin_change: float | None = None
    margin_change_ci: tuple[float, float] | None = None
    margin_p_value: float | None = None
    moved_toward: int = 0
    moved_away: int = 0


@dataclass(frozen=True)
class RateFigures:
    """A metric of candidate and baseline; ``None`` values: not measured."""

    metric: str
    candidate: float | None
    baseline: float | None
    n: int = 0
    higher_is_better: bool = False

    @property
    def measured(self) -> bool:
        return self.candidate is not None and self.baseline is not None


@dataclass
class GateFigures:
    preference: PreferenceFigures
    violations: RateFigures
    task: RateFigures
    rule: GateRule = field(default_factory=GateRule)

    def as_dict(self) -> dict:
        return {
            "preference": asdict(self.preference),
            "violations": {**asdict(self.violations), "measured": self.violations.measured},
            "task": {**asdict(self.task), "measured": self.task.measured},
            "rule": self.rule.as_dict(),
        }


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 1) when ``n`` is 0 (nothing is known)."""
    if n == 0:
        return (0.0, 1.0)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_bootstrap_diff(
    candidate_right: Sequence[bool], baseline_right: Sequence[bool], *, draws: int, seed: int, confidence: float
) -> tuple[float, float]:
    """Percentile interval of accuracy(candidate) - accuracy(baseline), resampling pairs (seeded)."""
    if not candidate_right:
        return (-1.0, 1.0)
    deltas = [int(c) - int(b) for c, b in zip(candidate_right, baseline_right, strict=True)]
    return bootstrap_mean_interval(deltas, draws=draws, seed=seed, confidence=confidence)


def sign_flip_p_value(deltas: Sequence[float], *, draws: int, seed: int) -> float:
    """One-sided p-value of "the mean of ``deltas`` is above 0" against the null that each delta's sign is a fair coin
    (the deltas' sizes fixed): the share of sign assignments whose mean is at least the observed one. Exact (all 2^n
    assignments) up to 16 values, else ``draws`` random assignments, seeded, counted as (hits + 1) / (draws + 1)."""
    values = [float(d) for d in deltas]
    n = len(values)
    if n == 0:
        return 1.0
    observed = sum(values) - 1e-12 * max(1.0, sum(map(abs, values)))  # float noise must not turn a tie into a miss
    if n <= 16:
        hits = 0
        for mask in range(2**n):
            total = sum(-v if mask >> i & 1 else v for i, v in enumerate(values))
            hits += total >= observed
        return hits / 2**n
    rng = random.Random(seed)
    hits = sum(sum(v if rng.random() < 0.5 else -v for v in values) >= observed for _ in range(draws))
    return (hits + 1) / (draws + 1)


def bootstrap_mean_interval(
    deltas: Sequence[float], *, draws: int, seed: int, confidence: float
) -> tuple[float, float]:
    """Percentile interval of the mean of ``deltas``, resampled with replacement (seeded)."""
    n = len(deltas)
    if n == 0:
        return (-1.0, 1.0)
    rng = random.Random(seed)
    means = sorted(sum(deltas[rng.randrange(n)] for _ in range(n)) / n for _ in range(draws))
    alpha = (1 - confidence) / 2
    low = means[min(draws - 1, max(0, math.floor(alpha * draws)))]
    high = means[min(draws - 1, max(0, math.ceil((1 - alpha) * draws) - 1))]
    return (low, high)


def preference_figures(
    candidate_right: Sequence[bool],
    baseline_right: Sequence[bool],
    *,
    rule: GateRule = GateRule(),
    candidate_margins: Sequence[float] | None = None,
    baseline_margins: Sequence[float] | None = None,
) -> PreferenceFigures:
    """Paired figures of (a) from each model's right/wrong on the same held-out pairs, in the same order, and, when
    given, each model's margin (chosen score - rejected score) on those pairs."""
    if len(candidate_right) != len(baseline_right):
        raise ValueError(f"{len(candidate_right)} candidate results for {len(baseline_right)} baseline results.")
    n = len(candidate_right)
    if n == 0:  # nothing to judge on: no interval excludes anything, so the candidate cannot pass (a)
        return PreferenceFigures(0, 0.0, 0.0, 0, 0, 0, None, (0.0, 1.0), 0.0, (-1.0, 1.0))
    margins: dict = {}
    if candidate_margins is not None and baseline_margins is not None:
        if not len(candidate_margins) == len(baseline_margins) == n:
            raise ValueError(f"Margins of {len(candidate_margins)} and {len(baseline_margins)} pairs for {n} pairs.")
        changes = [float(c) - float(b) for c, b in zip(candidate_margins, baseline_margins, strict=True)]
        margins = {
            "margin_change": sum(changes) / n,
            "margin_change_ci": bootstrap_mean_interval(
                changes, draws=rule.bootstrap, seed=rule.seed, confidence=rule.confidence
            ),
            "margin_p_value": sign_flip_p_value(changes, draws=rule.bootstrap, seed=rule.seed),
            "moved_toward": sum(c > 0 for c in changes),
            "moved_away": sum(c < 0 for c in changes),
        }
    wins = sum(c and not b for c, b in zip(candidate_right, baseline_right, strict=True))
    losses = sum(b and not c for c, b in zip(candidate_right, baseline_right, strict=True))
    decisive = wins + losses
    candidate_accuracy = sum(map(bool, candidate_right)) / n
    baseline_accuracy = sum(map(bool, baseline_right)) / n
    return PreferenceFigures(
        n_pairs=n,
        candidate_accuracy=candidate_accuracy,
        baseline_accuracy=baseline_accuracy,
        wins=wins,
        losses=losses,
        ties=n - decisive,
        win_rate=wins / decisive if decisive else None,
        win_rate_ci=wilson_interval(wins, decisive, confidence=rule.confidence),
        accuracy_diff=candidate_accuracy - baseline_accuracy,
        accuracy_diff_ci=paired_bootstrap_diff(
            candidate_right, baseline_right, draws=rule.bootstrap, seed=rule.seed, confidence=rule.confidence
        ),
        **margins,
    )


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _no_worse(figures: RateFigures, tolerance: float, *, part: str, rows: int = 0) -> tuple[bool, str]:
    """Whether the candidate is no worse than the baseline within ``tolerance`` (or ``rows`` rows of the set, where
    that is more), and the sentence saying so, led by the part of the gate it is ("Policy violations on held-out
    briefs", "The task's own evaluation")."""
    what = f"{part} ({figures.metric.replace('_', ' ')})"
    if not figures.measured:
        why = "no rows" if not figures.n else "no figures"
        return True, f"{what}: not measured ({why}), so it does not block."
    cand, base = float(figures.candidate), float(figures.baseline)
    worse_by = (base - cand) if figures.higher_is_better else (cand - base)
    line = f"{what}: {cand:.3f} vs {base:.3f} for the active version on {figures.n} rows"
    allowed, why = tolerance, f"tolerance {tolerance:.3f}"
    if figures.n and rows / figures.n > tolerance:
        allowed = rows / figures.n
        why = f"tolerance {tolerance:.3f}, at least {rows} row{'s' if rows != 1 else ''} of {figures.n}: {allowed:.3f}"
    if worse_by > allowed + 1e-12:
        return False, f"{line}: worse by {worse_by:.3f}, more than allowed ({why})."
    return True, f"{line}: no worse ({why})."


def _margin_verdict(pref: PreferenceFigures, rule: GateRule, *, summary: str, level: str) -> tuple[bool, str]:
    """Part (a) by the paired change of each pair's margin (see the module docstring)."""
    low, high = pref.margin_change_ci
    alpha = (1 - rule.confidence) / 2
    line = (
        f"{summary}; the chosen answer's margin over the rejected one rose on {pref.moved_toward} pairs and fell on "
        f"{pref.moved_away}, by {pref.margin_change:+.4f} on average ({level} interval {low:+.4f} to {high:+.4f}; "
        f"sign-flip p = {pref.margin_p_value:.3f})"
    )
    if pref.n_pairs < rule.min_decisive:
        return False, f"{line}: only {pref.n_pairs} pairs, fewer than {rule.min_decisive}; not better (within noise)."
    if pref.losses > pref.wins:
        return False, f"{line}: more pairs turned wrong than right; not better."
    if low > 0 and pref.margin_p_value <= alpha:
        return True, f"{line}: better."
    return False, f"{line}: not better: the change is within noise."


def decide(figures: GateFigures) -> tuple[bool, list[str]]:
    """(promote?, reasons in words): better on (a) with both intervals excluding no change, no worse on (b), (c)."""
    rule, pref = figures.rule, figures.preference
    level = f"{100 * rule.confidence:g}%"
    decisive = pref.wins + pref.losses
    reasons = []
    low, high = pref.win_rate_ci
    dlow, dhigh = pref.accuracy_diff_ci
    summary = (
        f"Held-out preferences ({pref.n_pairs} pairs): reward accuracy {_pct(pref.candidate_accuracy)} vs "
        f"{_pct(pref.baseline_accuracy)}; {pref.wins} wins, {pref.losses} losses, {pref.ties} ties"
    )
    if rule.measure == "margin" and pref.margin_change is not None:
        better, line = _margin_verdict(pref, rule, summary=summary, level=level)
        reasons.append(line)
    elif decisive < rule.min_decisive:
        better = False
        reasons.append(
            f"{summary}: only {decisive} pairs tell the versions apart, fewer than {rule.min_decisive}; "
            "not better on held-out preferences (within noise)."
        )
    else:
        better = low > 0.5 and dlow > 0
        verdict = "better" if better else "not better: the interval includes no change (within noise)"
        reasons.append(
            f"{summary}; win rate {_pct(pref.win_rate or 0)} ({level} interval {_pct(low)}-{_pct(high)}), accuracy "
            f"difference {pref.accuracy_diff:+.3f} ({level} interval {dlow:+.3f} to {dhigh:+.3f}): {verdict}."
        )
    violations_ok, line = _no_worse(
        figures.violations, rule.violation_tolerance, part="Policy violations on held-out briefs",
        rows=rule.rows_tolerated,
    )  # fmt: skip
    reasons.append(line)
    task_ok, line = _no_worse(
        figures.task, rule.task_tolerance, part="The task's own evaluation", rows=rule.rows_tolerated
    )
    reasons.append(line)
    promoted = better and violations_ok and task_ok
    if promoted:
        reasons.append("Promoted: better on held-out preferences and no worse on violations or the task evaluation.")
    else:
        failed = [
            name
            for name, ok in (("held-out preferences", better), ("violations", violations_ok), ("task", task_ok))
            if not ok
        ]
        reasons.append(f"Not promoted: fails on {', '.join(failed)}.")
    return promoted, reasons

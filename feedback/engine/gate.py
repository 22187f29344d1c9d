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
    Better on (a) means **both** intervals exclude "no change": the win rate's lower bound above 0.5 and the accuracy
    difference's lower bound above 0. With few decisive pairs neither can happen: ``min_decisive`` states the floor.
(b) the policy-violation rate on held-out briefs (lower is better): the candidate may be at most
    ``violation_tolerance`` (absolute) worse than the baseline.
(c) the task's own evaluation on its held-out set (the task's headline metric): at most ``task_tolerance``
    (absolute) worse. A part not measured (no briefs with a policy, no held-out task set) does not block, and the
    reasons say it was not measured.

Promoted only when better on (a) and no worse on (b) and (c).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from statistics import NormalDist


@dataclass(frozen=True)
class GateRule:
    confidence: float = 0.95
    violation_tolerance: float = 0.02
    task_tolerance: float = 0.02
    bootstrap: int = 2000
    seed: int = 0
    min_decisive: int = 5
    length_normalized: bool = True

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
    n = len(candidate_right)
    if n == 0:
        return (-1.0, 1.0)
    deltas = [int(c) - int(b) for c, b in zip(candidate_right, baseline_right, strict=True)]
    rng = random.Random(seed)
    means = sorted(sum(deltas[rng.randrange(n)] for _ in range(n)) / n for _ in range(draws))
    alpha = (1 - confidence) / 2
    low = means[min(draws - 1, max(0, math.floor(alpha * draws)))]
    high = means[min(draws - 1, max(0, math.ceil((1 - alpha) * draws) - 1))]
    return (low, high)


def preference_figures(
    candidate_right: Sequence[bool], baseline_right: Sequence[bool], *, rule: GateRule = GateRule()
) -> PreferenceFigures:
    """Paired figures of (a) from each model's right/wrong on the same held-out pairs, in the same order."""
    if len(candidate_right) != len(baseline_right):
        raise ValueError(f"{len(candidate_right)} candidate results for {len(baseline_right)} baseline results.")
    n = len(candidate_right)
    if n == 0:  # nothing to judge on: no interval excludes anything, so the candidate cannot pass (a)
        return PreferenceFigures(0, 0.0, 0.0, 0, 0, 0, None, (0.0, 1.0), 0.0, (-1.0, 1.0))
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
    )


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _no_worse(figures: RateFigures, tolerance: float, *, part: str) -> tuple[bool, str]:
    """Whether the candidate is no worse than the baseline within ``tolerance``, and the sentence saying so, led by
    the part of the gate it is ("Policy violations on held-out briefs", "The task's own evaluation")."""
    what = f"{part} ({figures.metric.replace('_', ' ')})"
    if not figures.measured:
        why = "no rows" if not figures.n else "no figures"
        return True, f"{what}: not measured ({why}), so it does not block."
    cand, base = float(figures.candidate), float(figures.baseline)
    worse_by = (base - cand) if figures.higher_is_better else (cand - base)
    line = f"{what}: {cand:.3f} vs {base:.3f} for the active version on {figures.n} rows"
    if worse_by > tolerance + 1e-12:
        return False, f"{line}: worse by {worse_by:.3f}, more than the tolerance of {tolerance:.3f}."
    return True, f"{line}: no worse (tolerance {tolerance:.3f})."


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
    if decisive < rule.min_decisive:
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
        figures.violations, rule.violation_tolerance, part="Policy violations on held-out briefs"
    )
    reasons.append(line)
    task_ok, line = _no_worse(figures.task, rule.task_tolerance, part="The task's own evaluation")
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

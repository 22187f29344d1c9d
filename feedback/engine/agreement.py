"""Agreement between reviewers, in plain Python (no Django): Krippendorff's alpha per question, Cohen's kappa per
reviewer pair, whether the answers to one item disagree, and whether an answer matches a gold item's known answer.

An *answer* here is a mapping with any of ``thumb`` ("up"/"down"), ``preference`` ("a"/"b"/"tie"/"both_bad") and
``ratings`` ({criterion: 1..5}); a missing or empty value means the question was not answered.

Disagreement on one item (it then goes to an adjudicator), per question:
* thumbs: two reviewers gave different thumbs;
* preference: two reviewers gave different preferences (a tie and "both bad" are different answers too);
* ratings: on any one criterion, the highest and lowest rating differ by ``RATING_SPREAD`` (2) or more; a one-step
  difference (a 3 and a 4) is ordinary noise on a 1-5 scale, not a conflict.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from itertools import combinations

import krippendorff
import numpy as np

RATING_SPREAD = 2
GOLD_RATING_TOLERANCE = 1  # a rating within one step of the gold rating counts as right

Answer = Mapping[str, object]


def alpha(units: Mapping[Hashable, Mapping[Hashable, object]], *, level: str) -> float | None:
    """Krippendorff's alpha over ``units`` ({unit: {coder: value}}), ``level`` "nominal" or "ordinal".

    None when it is undefined: fewer than two values in a unit that two coders answered, or every value the same
    (no variation to agree on)."""
    coders = sorted({c for answers in units.values() for c in answers}, key=str)
    if not coders or not units:
        return None
    values = sorted({v for answers in units.values() for v in answers.values() if v not in (None, "")}, key=str)
    if len(values) < 2 or not any(sum(v not in (None, "") for v in a.values()) >= 2 for a in units.values()):
        return None
    # Ordinal values are numbers and keep their order; nominal values are codes whose order does not matter.
    code = {v: float(v) for v in values} if level == "ordinal" else {v: float(i) for i, v in enumerate(values)}
    matrix = np.full((len(coders), len(units)), np.nan)
    row = {c: i for i, c in enumerate(coders)}
    for j, answers in enumerate(units.values()):
        for coder, value in answers.items():
            if value not in (None, ""):
                matrix[row[coder], j] = code[value]
    result = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    return None if math.isnan(result) else float(result)


def kappa(a: Sequence[object], b: Sequence[object]) -> float | None:
    """Cohen's kappa of two coders' answers to the same units (same order). None when undefined (no units, or both
    coders always gave one and the same answer: chance agreement is 1)."""
    if len(a) != len(b):
        raise ValueError("both coders must answer the same units")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[c] * count_b[c] for c in set(count_a) | set(count_b)) / (n * n)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def pairwise_kappa(units: Mapping[Hashable, Mapping[Hashable, object]]) -> dict[tuple, tuple[float | None, int]]:
    """Cohen's kappa for every pair of coders over the units both answered: {(coder1, coder2): (kappa, n_units)}."""
    coders = sorted({c for answers in units.values() for c in answers}, key=str)
    out = {}
    for one, two in combinations(coders, 2):
        pairs = [
            (answers[one], answers[two])
            for answers in units.values()
            if answers.get(one) not in (None, "") and answers.get(two) not in (None, "")
        ]
        if pairs:
            out[(one, two)] = (kappa([p[0] for p in pairs], [p[1] for p in pairs]), len(pairs))
    return out


def disagreements(answers: Sequence[Answer]) -> list[str]:
    """The questions on which ``answers`` (one per reviewer) disagree, e.g. ["thumb", "ratings.clear"]; empty when
    they agree (see the module docstring for the rule)."""
    out = []
    for question in ("thumb", "preference"):
        given = {a.get(question) for a in answers if a.get(question)}
        if len(given) > 1:
            out.append(question)
    criteria = sorted({c for a in answers for c in (a.get("ratings") or {})})
    for criterion in criteria:
        given = [a["ratings"][criterion] for a in answers if (a.get("ratings") or {}).get(criterion) is not None]
        if given and max(given) - min(given) >= RATING_SPREAD:
            out.append(f"ratings.{criterion}")
    return out


def matches_gold(answer: Answer, gold: Answer) -> bool:
    """Whether ``answer`` gives the gold item's known answer on every question the gold answer has: the same thumb
    and preference, each rating within ``GOLD_RATING_TOLERANCE`` of the gold rating."""
    for question in ("thumb", "preference"):
        if gold.get(question) and answer.get(question) != gold[question]:
            return False
    ratings = answer.get("ratings") or {}
    for criterion, value in (gold.get("ratings") or {}).items():
        given = ratings.get(criterion)
        if given is None or abs(int(given) - int(value)) > GOLD_RATING_TOLERANCE:
            return False
    return True

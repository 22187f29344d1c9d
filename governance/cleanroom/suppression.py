"""Complementary (secondary) cell suppression over the lattice of a query's grouping and filter columns.

Suppressing a small output row is not enough on its own: the row is also a part of every coarser grouping of the same
data, so a coarser answer minus the visible rows of a finer one gives the suppressed row back (sales by tier minus the
shown tier x region rows = the one shopper alone in a region). Statistical agencies answer this with complementary
suppression; this module does the same for each query, on exact counts of distinct shoppers:

* The query's cell columns ``D`` are its GROUP BY columns and its filter columns. For every subset ``S`` of ``D`` (the
  empty one, the total, included) the unfiltered data is grouped by ``S``: these groups are the entries of level
  ``S``. An entry covering between 1 and ``min_shoppers - 1`` shoppers is suppressed (primary).
* A *line* is one entry ``P`` of level ``S - {c}`` with its children, the entries of level ``S`` inside it (``P``
  split by column ``c``). In every line, when ``P`` is shown the suppressed children are none, or at least two that
  together cover at least ``min_shoppers`` shoppers; when ``P`` is suppressed at least one child is too (else ``P``
  would be the sum of shown children). A line that breaks this gets its smallest shown child suppressed (fewest
  shoppers, ties broken by the values), until no line breaks it.
* Levels are settled from the total down to ``D`` (fewest columns first); the entries of level ``S`` depend only on
  the levels inside ``S``, so two queries that share columns suppress the same entries of the levels they share,
  whatever else they group or filter by.

The engine then leaves out an unfiltered output row whose entry of level ``G`` (its GROUP BY columns) is suppressed,
and a filtered row any of whose entries of level ``D`` that pass the filter is suppressed: a shown filtered row is a
sum of shown entries.

What this does not promise: the line rules are the usual heuristic (as in tau-Argus' hypercube method, they are not an
exact audit of every linear combination of every answer), counts of distinct shoppers are added as if the cells did
not share shoppers (true when the columns describe the shopper, approximate for purchase categories or campaigns), and
queries over different joins are separate lattices. Answers released outside the tenant carry DP noise as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd


@dataclass
class SuppressionPattern:
    """Per level (a tuple of column positions in ``D``, sorted): the entries and the suppressed ones."""

    counts: dict[tuple[int, ...], dict[tuple, int]]  # level -> entry key (values, None for NULL) -> shoppers
    suppressed: dict[tuple[int, ...], set[tuple]]
    primary: dict[tuple[int, ...], set[tuple]]

    def is_suppressed(self, level: tuple[int, ...], key: tuple) -> bool:
        return key in self.suppressed.get(level, set())

    def complementary(self) -> int:
        """How many entries were suppressed only to protect others."""
        return sum(len(self.suppressed[s] - self.primary[s]) for s in self.suppressed)


def _plain_key(values) -> tuple:
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        elif isinstance(v, np.generic):
            out.append(v.item())
        else:
            out.append(v)
    return tuple(out)


def _order(item: tuple[tuple, int]) -> tuple:
    key, n = item
    return (n, tuple((v is None, type(v).__name__, str(v)) for v in key))


def suppression_pattern(
    pairs: pd.DataFrame, columns: list[str], subject: str, threshold: int, *, complement: bool = True
) -> SuppressionPattern:
    """``pairs``: one row per distinct (cell columns..., subject) of the unfiltered data (no null subjects).

    With ``complement=False`` only the primary entries (under the threshold) are suppressed."""
    d = len(columns)
    codes = []
    uniques = []
    for col in columns:
        c, u = pd.factorize(pairs[col], use_na_sentinel=False)
        codes.append(c)
        uniques.append([_plain_key([v])[0] for v in u])
    subject_codes, _ = pd.factorize(pairs[subject])
    frame = pd.DataFrame({f"k{i}": codes[i] for i in range(d)} | {"s": subject_codes})

    counts: dict[tuple[int, ...], dict[tuple, int]] = {}
    levels = [lv for size in range(d + 1) for lv in combinations(range(d), size)]
    for level in levels:
        if not level:
            counts[level] = {(): int(frame["s"].nunique())} if len(frame) else {}
            continue
        sizes = frame.groupby([f"k{i}" for i in level], sort=False)["s"].nunique()
        entries = {}
        for idx, n in sizes.items():
            idx = idx if isinstance(idx, tuple) else (idx,)
            entries[tuple(uniques[i][code] for i, code in zip(level, idx, strict=True))] = int(n)
        counts[level] = entries

    primary = {lv: {k for k, n in counts[lv].items() if 0 < n < threshold} for lv in levels}
    suppressed = {lv: set(primary[lv]) for lv in levels}
    for level in levels:
        if not level or not complement:
            continue
        lines = []  # (parent level, parent key, children sorted smallest first)
        for c in level:
            parent_level = tuple(i for i in level if i != c)
            pos = [level.index(i) for i in parent_level]
            children: dict[tuple, list[tuple[tuple, int]]] = {}
            for key, n in counts[level].items():
                children.setdefault(tuple(key[p] for p in pos), []).append((key, n))
            for parent_key, kids in children.items():
                lines.append((parent_level, parent_key, sorted(kids, key=_order)))
        mine = suppressed[level]
        changed = True
        while changed:
            changed = False
            for parent_level, parent_key, kids in lines:
                hidden = [n for key, n in kids if key in mine]
                if parent_key in suppressed[parent_level]:
                    ok = len(hidden) >= 1
                else:
                    ok = not hidden or (len(hidden) >= 2 and sum(hidden) >= threshold)
                if ok:
                    continue
                shown = [key for key, _ in kids if key not in mine]
                if shown:
                    mine.add(shown[0])
                    changed = True
    return SuppressionPattern(counts=counts, suppressed=suppressed, primary=primary)

"""The quality report of one run, accumulated chunk by chunk."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from .keys import duplicated
from .transform import EPOCH, ChunkStats

UNKNOWN_VALUES_KEPT = 20
# the first offending rows a report names (duplicate keys, quarantined lines), and how many of them a failure quotes
EXAMPLES_KEPT = 5
EXAMPLES_QUOTED = 3


class KeySet:
    """Distinct row keys seen so far, as 64-bit hashes in sorted numpy arrays, one per value of the top 8 bits.

    Per chunk, the chunk's distinct keys (sorted) are cut at the partition boundaries; in each partition one
    ``searchsorted`` finds both the keys an earlier chunk had and the places where the new ones go, and
    ``np.insert`` writes them there. A partition is 1/256 of the set (160 KB at 5M keys), so the searches run in
    cache and the copy made by an insert is one partition, not the whole set. (One sorted array needed a second
    search inside the merge and a copy of every earlier key per chunk; a numpy hash table and a log-structured list
    of sorted runs were both measured slower: numpy's random gathers cost more than sequential copies, and the runs
    multiply the searches.)

    Memory: 8 bytes per distinct key (40 MB for 5M distinct keys). Rows are never kept. Two different keys share a
    hash with probability ~ n²/2^65 (about 1e-6 for 5M keys), which would count one false duplicate.
    """

    BITS = 8

    def __init__(self) -> None:
        self.parts = [np.zeros(0, dtype=np.uint64) for _ in range(1 << self.BITS)]
        self._fences = np.arange(1, 1 << self.BITS, dtype=np.uint64) << np.uint64(64 - self.BITS)

    @property
    def seen(self) -> np.ndarray:
        """Every key, sorted (the partitions are in order of their top bits)."""
        return np.concatenate(self.parts)

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def add(self, hashes: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
        """Add one chunk's key hashes -> (duplicates within the chunk, per distinct key of the chunk its row count,
        the distinct keys that an earlier chunk already had)."""
        if not len(hashes):
            return 0, np.zeros(0, np.int64), np.zeros(0, np.uint64)
        s = np.sort(np.asarray(hashes, dtype=np.uint64))
        starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
        uniq = s[starts]
        counts = np.diff(np.append(starts, len(s)))
        within = int(len(hashes) - len(uniq))
        earlier = np.zeros(len(uniq), bool)
        bounds = np.concatenate(([0], np.searchsorted(uniq, self._fences), [len(uniq)]))
        parts = self.parts
        for p in np.flatnonzero(np.diff(bounds)):
            lo, hi = bounds[p], bounds[p + 1]
            keys, part = uniq[lo:hi], parts[p]
            if not len(part):
                parts[p] = keys.copy()
                continue
            pos = np.searchsorted(part, keys)
            again = part[np.minimum(pos, len(part) - 1)] == keys
            earlier[lo:hi] = again
            if not again.all():
                parts[p] = np.insert(part, pos[~again], keys[~again])
        return within, counts[earlier], uniq[earlier]


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.0001")))


def _iso(day: int | None) -> str | None:
    return (EPOCH + timedelta(days=day)).isoformat() if day is not None else None


@dataclass
class QualityReport:
    mapping: str
    source: str
    thresholds_spec: dict[str, float] = field(default_factory=dict)
    sku_mapped: bool = False
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    facts: int = 0
    quarantine_reasons: Counter = field(default_factory=Counter)
    enum: dict[str, list] = field(default_factory=dict)
    sku_matched: int = 0
    sku_unmatched: int = 0
    clicks_over_impressions: int = 0
    duplicate_keys: int = 0
    unmapped_columns: list[str] = field(default_factory=list)
    first_day: int | None = None
    last_day: int | None = None
    money: dict[str, list[Decimal]] = field(default_factory=dict)
    thresholds: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # Set when the run stopped before the end of the file because a threshold could no longer be met.
    stopped_early: bool = False
    # the first duplicate keys: lines, the key's source values and the likely cause; the first quarantined lines
    duplicate_examples: list[dict] = field(default_factory=list)
    quarantine_examples: list[dict] = field(default_factory=list)
    # local timestamps around clock changes (None when the file's dates are days or UTC): how they were read
    dst: dict | None = None
    _keys: KeySet = field(default_factory=KeySet, repr=False)
    _merge_keys: list[np.ndarray] = field(default_factory=list, repr=False)
    # When a row's duplicate key is finer than the summing key (timestamps, grain columns), the summing keys of each
    # chunk, sorted and distinct: keys in two of them are merge keys. Found by one sort when asked (and every
    # AGG_RUNS chunks, to bound the list), which costs far less than inserting every chunk into a second KeySet.
    _agg_runs: list[np.ndarray] = field(default_factory=list, repr=False)

    AGG_RUNS = 8

    def _fold_agg_runs(self) -> None:
        if len(self._agg_runs) < 2:
            return
        s = np.sort(np.concatenate(self._agg_runs))
        again = s[1:] == s[:-1]
        if again.any():
            repeated = s[1:][again]
            self._merge_keys.append(repeated[np.concatenate(([True], repeated[1:] != repeated[:-1]))])
        self._agg_runs = [s[np.concatenate(([True], ~again))]]

    @property
    def merge_keys(self) -> np.ndarray:
        """Natural-key hashes (``transform.key_hash``) that more than one chunk wrote: a sink sums these rows."""
        self._fold_agg_runs()
        if not self._merge_keys:
            return np.zeros(0, np.uint64)
        if len(self._merge_keys) > 1:
            self._merge_keys = [np.unique(np.concatenate(self._merge_keys))]
        return self._merge_keys[0]

    def add(self, stats: ChunkStats, facts: int) -> None:
        self.rows_read += stats.rows_read
        self.rows_loaded += stats.rows_loaded
        self.rows_quarantined += stats.rows_quarantined
        self.facts += facts
        self.quarantine_reasons.update(stats.reasons)
        for name, (mapped, unknown, values) in stats.enum.items():
            entry = self.enum.setdefault(name, [0, 0, Counter()])
            entry[0] += mapped
            entry[1] += unknown
            entry[2].update(values)
        self.sku_matched += stats.sku_matched
        self.sku_unmatched += stats.sku_unmatched
        self.clicks_over_impressions += stats.clicks_over_impressions
        again = np.zeros(0, np.uint64)
        if stats.key_hashes is not None:
            within, across, again = self._keys.add(stats.key_hashes)
            found = within + int(across.sum())
            self.duplicate_keys += found
            if found and len(self.duplicate_examples) < EXAMPLES_KEPT:
                self._note_duplicates(stats, again)
        if self.dst is not None:
            self.dst["ambiguous_rows"] += stats.dst_ambiguous
            self.dst["read_as_standard_time"] += stats.dst_later
            self.dst["nonexistent_rows"] += stats.dst_nonexistent
        if stats.agg_hashes is not None and stats.agg_hashes is not stats.key_hashes:
            again = np.zeros(0, np.uint64)
            if len(stats.agg_hashes):
                run = np.sort(stats.agg_hashes)  # np.unique hashes first (numpy 2), several times slower here
                self._agg_runs.append(run[np.concatenate(([True], run[1:] != run[:-1]))])
                if len(self._agg_runs) >= self.AGG_RUNS:
                    self._fold_agg_runs()
        if len(again):
            self._merge_keys.append(again)
            if len(self._merge_keys) > 8:
                self._merge_keys = [np.unique(np.concatenate(self._merge_keys))]
        if stats.first_day is not None:
            self.first_day = stats.first_day if self.first_day is None else min(self.first_day, stats.first_day)
            self.last_day = stats.last_day if self.last_day is None else max(self.last_day, stats.last_day)
        for cur, values in stats.money.items():
            entry = self.money.setdefault(cur, [Decimal(0)] * 6)
            for i, v in enumerate(values):
                entry[i] += v

    def _note_duplicates(self, stats: ChunkStats, earlier: np.ndarray) -> None:
        """Keep the first few duplicate keys of a chunk: their lines, key values and a likely cause."""
        h = stats.key_hashes
        offending = duplicated(h) | np.isin(h, earlier)
        idx = np.flatnonzero(offending)
        keys, first = np.unique(h[idx], return_index=True)
        for key in keys[np.argsort(first)][: EXAMPLES_KEPT - len(self.duplicate_examples)]:
            members = idx[h[idx] == key][:EXAMPLES_KEPT]
            rows = stats.describe(members) if stats.describe is not None else []
            lines = stats.key_lines(members).tolist() if stats.key_lines is not None else []
            before = bool(np.isin(key, earlier))
            shown = {c: rows[0].get(c) for c in stats.key_columns if rows and c in rows[0]}
            if before and len(rows) == 1:
                cause = "repeats the key of a row in an earlier part of the file"
            else:
                differ = sorted({c for r in rows[1:] for c in r if r.get(c) != rows[0].get(c)})
                if not differ:
                    cause = "the same source row twice (the file, or a part of it, was exported or joined twice?)"
                else:
                    cause = (
                        f"rows of one key that differ in {', '.join(differ)}: rows finer than the mapping's key (an "
                        "ad group, ad or line item the mapping does not read: name its column under grain:), or a "
                        "corrected row sent beside the old one"
                    )
            self.duplicate_examples.append({"lines": lines, "key": shown, "cause": cause})

    def note_quarantine(self, lines: list[int], reasons: list[str]) -> None:
        for line, reason in sorted(zip(lines, reasons, strict=True))[: EXAMPLES_KEPT - len(self.quarantine_examples)]:
            self.quarantine_examples.append({"line": line, "reason": reason})
        self.quarantine_examples.sort(key=lambda e: e["line"])
        del self.quarantine_examples[EXAMPLES_KEPT:]

    def add_loaded(self, currency: str, spend: Decimal, sales: Decimal) -> None:
        entry = self.money.setdefault(currency, [Decimal(0)] * 6)
        entry[1] += spend
        entry[4] += sales

    @property
    def sku_join_rate(self) -> float | None:
        total = self.sku_matched + self.sku_unmatched
        return self.sku_matched / total if self.sku_mapped and total else None

    @property
    def keys_across_chunks(self) -> int:
        """Natural keys (UTC day) that more than one chunk wrote: the sink must sum their rows."""
        return len(self.merge_keys)

    @property
    def needs_merge(self) -> bool:
        return bool(len(self.merge_keys))

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def reconciliation(self) -> dict[str, dict]:
        out = {}
        for cur, (s_in, s_loaded, s_q, a_in, a_loaded, a_q) in sorted(self.money.items()):
            out[cur] = {
                "spend_in": _money(s_in),
                "spend_loaded": _money(s_loaded),
                "spend_quarantined": _money(s_q),
                "sales_in": _money(a_in),
                "sales_loaded": _money(a_loaded),
                "sales_quarantined": _money(a_q),
                "balanced": s_in == s_loaded + s_q and a_in == a_loaded + a_q,
            }
        return out

    def unreachable(self, rows_bound: int) -> list[str]:
        """The thresholds this run fails whatever the rows still to come hold, when the file has at most
        ``rows_bound`` rows in all. Quarantined rows, duplicate keys, rows with more clicks than impressions and SKU
        references without a match are never taken back; so once they are more than a threshold allows even of the
        most rows the file can have (every later row clean), the batch cannot pass. One sentence per threshold."""
        if rows_bound <= 0:
            return []
        ahead = max(0, rows_bound - self.rows_read)
        # per "max_" threshold: what only grows, its name, and the most the rate can be divided by in the end
        growing = {
            "max_quarantine_rate": (self.rows_quarantined, "rows quarantined", rows_bound),
            "max_duplicate_key_rate": (self.duplicate_keys, "duplicate keys", rows_bound),
            "max_clicks_over_impressions_rate": (
                self.clicks_over_impressions,
                "rows with more clicks than impressions",
                self.rows_loaded + ahead,
            ),
        }
        out = []
        for name, limit in self.thresholds_spec.items():
            if name in growing:
                count, what, most = growing[name]
                if most and count / most > limit:
                    out.append(
                        f"{name} cannot end at or below {limit} whatever the remaining rows hold ({count:,} {what} "
                        f"already: at least {count / most:.4f})"
                    )
            elif name == "min_sku_join_rate" and self.sku_mapped and self.sku_unmatched:
                best = (self.sku_matched + ahead) / (self.sku_matched + ahead + self.sku_unmatched)
                if best < limit:
                    out.append(
                        f"{name} cannot end at or above {limit} whatever the remaining rows hold "
                        f"({self.sku_unmatched:,} SKU references without a match already: at most {best:.4f})"
                    )
        return out

    def evaluate(self) -> None:
        """Fill ``thresholds`` and ``failures`` from the mapping's quality block and the reconciliation."""
        read = self.rows_read or 1
        values = {
            "max_quarantine_rate": self.rows_quarantined / read,
            "max_clicks_over_impressions_rate": self.clicks_over_impressions / (self.rows_loaded or 1),
            "min_sku_join_rate": self.sku_join_rate,
            "max_duplicate_key_rate": self.duplicate_keys / read,
        }
        self.thresholds = []
        self.failures = []
        for name, limit in self.thresholds_spec.items():
            value = values[name]
            if value is None:
                continue
            ok = value >= limit if name.startswith("min_") else value <= limit
            self.thresholds.append({"name": name, "limit": limit, "value": round(value, 6), "passed": ok})
            if not ok:
                word = "below" if name.startswith("min_") else "above"
                self.failures.append(f"{name}: {value:.4f} is {word} the limit {limit}{self._examples(name)}")
        for cur, rec in self.reconciliation.items():
            if not rec["balanced"]:
                self.failures.append(
                    f"reconciliation {cur}: spend in {rec['spend_in']} != loaded {rec['spend_loaded']} + quarantined "
                    f"{rec['spend_quarantined']}"
                )
        if self.rows_read and not self.rows_loaded:
            self.failures.append("no row could be loaded")

    def _examples(self, threshold: str) -> str:
        """The offending lines a failed threshold names."""
        if threshold == "max_duplicate_key_rate" and self.duplicate_examples:
            parts = []
            for e in self.duplicate_examples[:EXAMPLES_QUOTED]:
                lines = e["lines"]
                where = f"line {lines[0]}"
                if len(lines) > 1:
                    earlier = ", ".join(str(x) for x in lines[:-1])
                    where = f"line {lines[-1]} repeats line{'s' if len(lines) > 2 else ''} {earlier}"
                key = ", ".join(f"{k}={v}" for k, v in e["key"].items())
                parts.append(f"{where} ({key}): {e['cause']}")
            return f" ({self.duplicate_keys:,} duplicate keys; " + "; ".join(parts) + ")"
        if threshold == "max_quarantine_rate" and self.quarantine_examples:
            quoted = "; ".join(f"line {e['line']}: {e['reason']}" for e in self.quarantine_examples[:EXAMPLES_QUOTED])
            return f" (first quarantined: {quoted})"
        return ""

    def to_dict(self) -> dict:
        first, last = _iso(self.first_day), _iso(self.last_day)
        return {
            "mapping": self.mapping,
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "facts": self.facts,
            "quarantine_reasons": dict(self.quarantine_reasons.most_common()),
            "enum_coverage": {
                name: {
                    "mapped": mapped,
                    "unknown": unknown,
                    "unknown_values": dict(values.most_common(UNKNOWN_VALUES_KEPT)),
                }
                for name, (mapped, unknown, values) in self.enum.items()
            },
            "sku_join_rate": self.sku_join_rate,
            "sku_unmatched": self.sku_unmatched,
            "clicks_over_impressions": self.clicks_over_impressions,
            "duplicate_keys": self.duplicate_keys,
            "duplicate_examples": list(self.duplicate_examples),
            "quarantine_examples": list(self.quarantine_examples),
            "unmapped_columns": list(self.unmapped_columns),
            "date_range": [first, last] if first else None,
            "reconciliation": self.reconciliation,
            "thresholds": self.thresholds,
            "passed": self.passed,
            "failures": list(self.failures),
            "stopped_early": self.stopped_early,
            **({"dst": dict(self.dst)} if self.dst is not None else {}),
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_read / self.seconds, 1) if self.seconds else None,
        }

    @property
    def date_range(self) -> tuple[date, date] | None:
        if self.first_day is None:
            return None
        return EPOCH + timedelta(days=self.first_day), EPOCH + timedelta(days=self.last_day)

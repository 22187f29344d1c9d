"""The seam: what a mapping suggester takes (ExportSample), what it returns (Suggestion), and how several combine.

Any object with ``name`` and ``suggest(sample) -> Suggestion`` is a suggester. The rule-based one is the default;
the harmonization LoRA adapter of the ML work plugs in by registering a second one in ``suggesters`` and callers
that want both use ``ensemble([a.suggest(s), b.suggest(s)])``, which returns the same Suggestion type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from harmonization.suggest.lexicon import AUX_FIELDS, FIELDS


@dataclass(frozen=True)
class ExportSample:
    """The head of an export: enough to suggest a mapping, never the whole file."""

    file_name: str
    format: str  # csv | tsv | jsonl | json | parquet
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # raw text of up to N rows, aligned with headers ("" when missing)
    delimiter: str | None = None  # csv/tsv
    encoding: str = "utf-8"
    decimal: str = "."
    thousands: str | None = None
    compression: str = "auto"
    records_path: str | None = None  # json: dotted path to the row array
    header_row: int = 1

    def column(self, header: str) -> list[str]:
        i = self.headers.index(header)
        return [row[i] if i < len(row) else "" for row in self.rows]


@dataclass
class FieldSuggestion:
    field: str
    source: str | None  # the chosen source column, or None
    confidence: float  # 0..1
    reasons: list[str] = field(default_factory=list)
    alternatives: list[tuple[str, float]] = field(default_factory=list)  # other columns with their confidence
    constant: str | None = None  # a constant when no column fits (placement_type, currency)
    expr: str | None = None  # a derived value (docs/mapping_guide.md expression language) when no one column fits
    unit: str | None = None  # micros | cents | percent
    enum_map: dict[str, str] | None = None  # source value -> RMIS enum (placement_type)


@dataclass
class SourceGuess:
    format: str
    encoding: str = "utf-8"
    compression: str = "auto"
    delimiter: str | None = None
    decimal: str = "."
    thousands: str | None = None
    records_path: str | None = None
    header_row: int = 1
    date_format: str | None = None
    date_confidence: float = 0.0
    reasons: list[str] = field(default_factory=list)


@dataclass
class AttributionGuess:
    window_days: int | None = None
    window_source: str | None = None  # a per-row column instead of a constant
    model: str = "last_click"
    model_source: str | None = None
    confidence: float = 0.0
    reasons: list[str] = field(default_factory=list)


@dataclass
class Suggestion:
    sample_name: str
    suggester: str
    source: SourceGuess
    fields: dict[str, FieldSuggestion]
    attribution: AttributionGuess = field(default_factory=AttributionGuess)
    headers: tuple[str, ...] = ()

    def chosen(self) -> dict[str, str]:
        """RMIS field -> source column for the fields mapped to a column."""
        return {f: s.source for f, s in self.fields.items() if s.source is not None}


class MappingSuggester(Protocol):
    name: str

    def suggest(self, sample: ExportSample) -> Suggestion: ...


def assign_one_to_one(
    candidates: dict[str, list[tuple[str, float]]], threshold: float
) -> dict[str, tuple[str, float] | None]:
    """Greedy global assignment: the most confident (field, column) pair first, no column used twice.

    With a dozen fields and columns, greedy by confidence equals the Hungarian optimum in all but contrived cases
    and keeps the reason for each choice readable.
    """
    pairs = sorted(
        ((conf, f, col) for f, cands in candidates.items() for col, conf in cands if conf >= threshold),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    out: dict[str, tuple[str, float] | None] = {f: None for f in candidates}
    used: set[str] = set()
    for conf, f, col in pairs:
        if out[f] is None and col not in used:
            out[f] = (col, conf)
            used.add(col)
    return out


def ensemble(suggestions: Sequence[Suggestion], weights: Sequence[float] | None = None) -> Suggestion:
    """Merge suggestions of several suggesters for the same sample by confidence-weighted votes per field.

    A column's score for a field is the weighted sum of the confidences the suggesters give it (as choice or
    alternative) divided by the total weight, so agreement raises confidence and a lone vote is discounted. Columns
    are then assigned one-to-one again. Source guesses come from the suggester with the most weight.
    """
    if not suggestions:
        raise ValueError("ensemble needs at least one suggestion")
    if len(suggestions) == 1:
        return suggestions[0]
    weights = list(weights or [1.0] * len(suggestions))
    total = sum(weights)
    lead = suggestions[max(range(len(suggestions)), key=lambda i: weights[i])]
    votes: dict[str, dict[str, float]] = {}
    for s, w in zip(suggestions, weights, strict=False):
        for f, fs in s.fields.items():
            bucket = votes.setdefault(f, {})
            if fs.source is not None:
                bucket[fs.source] = bucket.get(fs.source, 0.0) + w * fs.confidence
            for col, conf in fs.alternatives:
                bucket[col] = bucket.get(col, 0.0) + w * conf * 0.5
    candidates = {f: sorted(((c, v / total) for c, v in b.items()), key=lambda t: -t[1]) for f, b in votes.items()}
    assigned = assign_one_to_one(candidates, threshold=0.3)
    fields: dict[str, FieldSuggestion] = {}
    for f in [*FIELDS, *AUX_FIELDS]:
        if f not in candidates:
            continue
        base = lead.fields.get(f) or next(s.fields[f] for s in suggestions if f in s.fields)
        pick = assigned.get(f)
        names = ", ".join(f"{s.suggester}: {s.fields[f].source}" for s in suggestions if f in s.fields)
        alternatives = [(c, round(v, 3)) for c, v in candidates[f] if not pick or c != pick[0]][:3]
        donor = next(
            (s.fields[f] for s in suggestions if f in s.fields and pick and s.fields[f].source == pick[0]), base
        )
        fields[f] = replace(
            donor,
            source=pick[0] if pick else None,
            confidence=round(pick[1], 3) if pick else (base.confidence if base.source is None else 0.0),
            reasons=[f"ensemble of {names}", *donor.reasons],
            alternatives=alternatives,
        )
    return replace(lead, suggester="+".join(s.suggester for s in suggestions), fields=fields)

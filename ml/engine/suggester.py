"""The harmonization task adapter as a mapping suggester, behind harmonization.suggest's seam (Django-free).

``AdapterMappingSuggester`` asks the adapter, one prompt per export column (header and up to three sample values,
the prompt it was trained on), which RMIS field the column fills, then assigns fields to columns one to one. What a
column-by-column answer cannot say comes from the rule-based suggester it wraps: the file's format, decimal and date
style, units (micros, cents), constants for fields no column fills, fields derived from several columns (an
expression) and the attribution window.

Registered as ``lora`` (the adapter's choices) and ``rules+lora`` (``ensemble`` of both, rules weighted 2 : 1) in
``ml.apps`` when Django runs; docs/mapping_guide.md has both measured against the rules, which stay the default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from harmonization.suggest.base import (
    ExportSample,
    FieldSuggestion,
    MappingSuggester,
    Suggestion,
    assign_one_to_one,
    ensemble,
)
from ml.engine.prompts import parse_answer, task_messages

# A generated answer carries no calibrated probability; this is the weight the adapter's choice has when it is
# merged with the rules' (``ensemble`` sums confidences per column), chosen so that the adapter and the rules agreeing
# beats either alone and the adapter alone beats a weak lexical match of the rules (below 0.8).
ADAPTER_CONFIDENCE = 0.8
MAX_SAMPLES = 3
TIE_BREAK = 1e-3


def _rule_rating(ruled: FieldSuggestion, header: str) -> float:
    if ruled.source == header:
        return ruled.confidence
    return dict(ruled.alternatives).get(header, 0.0)


class AdapterMappingSuggester:
    """``generate`` takes a list of conversations and returns one answer text each (greedy)."""

    name = "lora"

    def __init__(
        self,
        generate: Callable[[list[list[dict]]], Sequence[str]],
        *,
        fallback: MappingSuggester | None = None,
        retailer: str = "unknown",
        confidence: float = ADAPTER_CONFIDENCE,
    ) -> None:
        if fallback is None:
            from harmonization.suggest.rules import RuleBasedSuggester

            fallback = RuleBasedSuggester()
        self.generate = generate
        self.fallback = fallback
        self.retailer = retailer
        self.confidence = confidence

    def prompts(self, sample: ExportSample) -> list[list[dict]]:
        out = []
        for header in sample.headers:
            values = [v for v in sample.column(header) if str(v).strip()][:MAX_SAMPLES]
            out.append(task_messages("harmonization", {"retailer": self.retailer, "column": header, "samples": values}))
        return out

    def answers(self, sample: ExportSample) -> dict[str, str | None]:
        """Column -> the field the adapter names (None: no field, or an answer that is not valid JSON of the task)."""
        if not sample.headers:
            return {}
        texts = list(self.generate(self.prompts(sample)))
        if len(texts) != len(sample.headers):
            raise ValueError(f"The generator returned {len(texts)} answers for {len(sample.headers)} columns.")
        out: dict[str, str | None] = {}
        for header, text in zip(sample.headers, texts, strict=True):
            parsed = parse_answer("harmonization", text)
            out[header] = parsed["field"] if parsed else None
        return out

    def suggest(self, sample: ExportSample) -> Suggestion:
        rules = self.fallback.suggest(sample)
        answers = self.answers(sample)
        votes: dict[str, list[tuple[str, float]]] = {f: [] for f in rules.fields}
        for header, named in answers.items():
            if named in votes:
                votes[named].append((header, self.confidence))
        # Two columns named for one field: the one the rules rate higher for it wins (then the earlier column).
        ranked = {f: [(h, c + TIE_BREAK * _rule_rating(rules.fields[f], h)) for h, c in v] for f, v in votes.items()}
        picks = assign_one_to_one(ranked, threshold=0.0)
        fields: dict[str, FieldSuggestion] = {}
        for f, ruled in rules.fields.items():
            pick = picks.get(f)
            if ruled.source is None and ruled.expr is not None:
                # The rules derive this field from several columns (direct + halo sales, say): an answer per column
                # cannot say that, so the expression stays and the adapter's columns are alternatives.
                fields[f] = replace(ruled, alternatives=[*votes[f], *ruled.alternatives])
                continue
            others = [(h, c) for h, c in votes[f] if pick is None or h != pick[0]]
            if pick is None:
                # The adapter names no column: keep what the rules fill without one (a constant or an expression).
                fields[f] = FieldSuggestion(
                    field=f, source=None, confidence=0.0 if ruled.constant is None and ruled.expr is None else
                    ruled.confidence, reasons=["the harmonization adapter names no column for this field"],
                    alternatives=others, constant=ruled.constant, expr=ruled.expr, unit=ruled.unit,
                    enum_map=ruled.enum_map,
                )  # fmt: skip
                continue
            column = pick[0]
            reason = f"the harmonization adapter maps {column!r} to {f}"
            if column == ruled.source:  # the rules chose it too: their unit and enum map describe this column
                fields[f] = replace(ruled, confidence=self.confidence, reasons=[reason], alternatives=others)
            else:
                fields[f] = FieldSuggestion(
                    field=f, source=column, confidence=self.confidence, reasons=[reason], alternatives=others
                )
        return replace(rules, suggester=self.name, fields=fields)


class EnsembleSuggester:
    """Several suggesters merged by ``harmonization.suggest.ensemble`` (the first leads the source guesses)."""

    def __init__(self, members: Sequence[MappingSuggester], weights: Sequence[float] | None = None) -> None:
        if not members:
            raise ValueError("An ensemble needs at least one suggester.")
        self.members = list(members)
        self.weights = list(weights) if weights is not None else None
        self.name = "+".join(m.name for m in self.members)

    def suggest(self, sample: ExportSample) -> Suggestion:
        return ensemble([m.suggest(sample) for m in self.members], self.weights)

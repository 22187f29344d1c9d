"""Mapping suggestions for exports nobody has mapped yet (Django-free). See docs/mapping_guide.md."""

from harmonization.suggest.base import (
    AttributionGuess,
    ExportSample,
    FieldSuggestion,
    MappingSuggester,
    SourceGuess,
    Suggestion,
    assign_one_to_one,
    ensemble,
)
from harmonization.suggest.lexicon import FIELDS
from harmonization.suggest.reading import SampleError, read_sample, sample_from_bytes
from harmonization.suggest.registry import DEFAULT_SUGGESTER, get_suggester, suggesters
from harmonization.suggest.rules import RuleBasedSuggester
from harmonization.suggest.yaml_writer import suggestion_to_yaml

__all__ = [
    "DEFAULT_SUGGESTER",
    "FIELDS",
    "AttributionGuess",
    "ExportSample",
    "FieldSuggestion",
    "MappingSuggester",
    "RuleBasedSuggester",
    "SampleError",
    "SourceGuess",
    "Suggestion",
    "assign_one_to_one",
    "ensemble",
    "get_suggester",
    "read_sample",
    "sample_from_bytes",
    "suggesters",
    "suggestion_to_yaml",
]

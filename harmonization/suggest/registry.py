"""The mapping suggesters by name: "rules" here, more registered by apps above (ml adds "lora" and "rules+lora")."""

from __future__ import annotations

from collections.abc import Callable

from harmonization.suggest.base import MappingSuggester
from harmonization.suggest.rules import RuleBasedSuggester


def _rule_based() -> MappingSuggester:
    return RuleBasedSuggester()


# name -> factory. The default is "rules". A second suggester (for example the harmonization LoRA adapter serving
# behind ml/) registers a factory here; callers choose by name or merge several with `ensemble`.
suggesters: dict[str, Callable[[], MappingSuggester]] = {"rules": _rule_based}
DEFAULT_SUGGESTER = "rules"


def get_suggester(name: str = DEFAULT_SUGGESTER) -> MappingSuggester:
    try:
        return suggesters[name]()
    except KeyError:
        raise ValueError(f"unknown mapping suggester {name!r} (known: {', '.join(sorted(suggesters))})") from None

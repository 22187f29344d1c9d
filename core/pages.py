"""Page slots: an app in a higher layer puts a panel on a lower layer's page without that page importing it.

A page names its slot and merges what fills it into its context (``slot_context``); the app above fills the slot
when Django starts (``AppConfig.ready``): ml fills the plans page's "describe the plan in words" box, demo the imports
page's sample files. A slot nobody fills adds nothing, and the template leaves its panel out.
"""

from __future__ import annotations

from collections.abc import Callable

Filler = Callable[..., dict]

_fillers: dict[str, list[Filler]] = {}


def slot_fill(slot: str, filler: Filler) -> None:
    """Register ``filler(**page_arguments) -> dict`` for ``slot`` (once: ready() may run again in tests)."""
    fillers = _fillers.setdefault(slot, [])
    if filler not in fillers:
        fillers.append(filler)


def slot_context(slot: str, **page_arguments) -> dict:
    """The context every filler of ``slot`` gives for this page, merged in registration order."""
    context: dict = {}
    for filler in _fillers.get(slot, ()):
        context.update(filler(**page_arguments))
    return context

"""A parsed budgeting objective (the budgeting adapter's JSON, ml.engine.prompts) -> the plan form's initial values.

Django-free. The marketer reviews the filled form before anything runs, so what cannot be put into the form as it
is (a cap on a retailer with several placements, a retailer without history) becomes a note beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_PERIOD_DAYS = 28


def _money(value) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _plain(value):
    """2500000.0 -> 2500000, so the form shows the amount as the marketer wrote it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def plan_initial(
    parsed: dict, channels: Sequence[tuple[str, str, str]], *, text: str = "", period_days: int = DEFAULT_PERIOD_DAYS
) -> tuple[dict, list[str]]:
    """``channels``: (retailer code, retailer name, placement) in the form's order (field ``ch{i}_min/max``)."""
    initial: dict = {"name": " ".join(text.split())[:200], "budget": _plain(parsed["budget"])}
    notes: list[str] = []
    if parsed.get("period_days"):
        initial["period_days"] = int(parsed["period_days"])
    else:
        initial["period_days"] = period_days
        notes.append(f"The text gives no period: {period_days} days assumed.")
    initial["objective"] = parsed["objective"]
    initial["min_roas"] = _plain(parsed.get("min_roas"))
    initial["roas_basis"] = parsed["roas_basis"]
    by_retailer: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    for i, (code, name, _placement) in enumerate(channels):
        by_retailer.setdefault(code, []).append(i)
        names[code] = name
    for code in parsed.get("exclude_retailers") or []:
        if code not in by_retailer:
            notes.append(f"“{code}” is excluded, but this tenant has no history there: nothing to exclude.")
            continue
        for i in by_retailer[code]:
            initial[f"ch{i}_max"] = 0
    excluded = set(parsed.get("exclude_retailers") or [])
    for code, cap in (parsed.get("retailer_caps") or {}).items():
        rows = by_retailer.get(code)
        if code in excluded:
            continue
        if not rows:
            notes.append(f"A cap of {_money(cap)} on “{code}”, but this tenant has no history there: not applied.")
        elif len(rows) == 1:
            initial[f"ch{rows[0]}_max"] = _plain(cap)
        else:
            notes.append(
                f"A cap of {_money(cap)} on {names[code]} covers its {len(rows)} placements: split it across them "
                "below."
            )
    return initial, notes

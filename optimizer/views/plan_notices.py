"""A plan's notices in plain words: one lead sentence a marketer reads, in retailers' and placements' names, and
the optimizer's technical text folded beneath it (optimizer.engine.notices holds the notices as data)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from optimizer.engine.notices import CRITICAL, Notice, legacy_notices, ranked


def _plural(n: int, one: str, many: str | None = None) -> str:
    return one if n == 1 else (many or f"{one}s")


def _listed(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    if len(items) > 3:
        return f"{', '.join(items[:3])} and {len(items) - 3} more"
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _roas(value) -> str:
    return f"{float(value):.2f}" if value is not None else "the floor"


def _share(value: float) -> str:
    """A share as a whole percentage that never rounds to all or nothing when it is neither."""
    if 0.99 < value < 1:
        return "over 99%"
    if 0 < value < 0.01:
        return "under 1%"
    return f"{value:.0%}"


def _unspent(n: Notice, ctx: dict) -> str:
    f = n.figures
    amount = f"{ctx['currency']} {float(f.get('unspent') or 0):,.2f}"
    share = _share(float(f.get("share") or 0))
    cause = f.get("cause")
    if n.severity == CRITICAL:
        return (
            f"Holding a ROAS of at least {_roas(f.get('min_roas'))} leaves {share} of the budget ({amount}) unspent: "
            "this plan cannot spend the budget as asked. Lower the floor to spend more."
        )
    why = {
        "floor": f"spending more would take the ROAS below {_roas(f.get('min_roas'))}",
        "promise": f"spending more would not keep the ROAS above {_roas(f.get('min_roas'))} as surely as asked",
        "max_bounds": "every channel is at its maximum",
    }.get(str(cause), "more spend would cost more than the margin it brings")
    return f"{amount} ({share} of the budget) is left unspent: {why}."


def _period(n: Notice, ctx: dict) -> str:
    f = n.figures
    asked, planned = int(f.get("objective_days") or 0), int(f.get("plan_days") or 0)
    return (
        f"Your objective says {asked} {_plural(asked, 'day')}, but this plan covers {planned} "
        f"{_plural(planned, 'day')}: check the period and make a new version."
    )


def _promise(n: Notice, ctx: dict) -> str:
    f = n.figures
    full = f.get("full_spend_probability")
    full_text = f"only {float(full):.0%} of the time" if full is not None else "less often"
    return (
        f"Spending the whole budget keeps the ROAS at or above {_roas(f.get('min_roas'))} {full_text}, not the "
        f"{float(f.get('chance') or 0):.0%} you asked for; this plan spends less to keep it. Compare both below."
    )


def _left_out(n: Notice, ctx: dict) -> str:
    channels = [ctx["channel"](k) for k in n.channels]
    verb = "is" if len(channels) == 1 else "are"
    return f"{_listed(channels)} {verb} left out of this plan: its history is too thin to learn how it responds."


def _extrapolated(n: Notice, ctx: dict) -> str:
    channel = _listed([ctx["channel"](k) for k in n.channels])
    times = float(n.figures.get("times") or 0)
    return (
        f"{channel} would spend {times:.1f}× its highest day so far; how it responds there is a guess, so "
        "consider a maximum for it."
    )


def _sku_group(skus: tuple[str, ...], groups: Mapping[str, Mapping[str, str]]) -> str:
    """ "3 Morning Mill SKUs" (one brand), "3 granola SKUs" (one category), else "3 SKUs (of A and B)"."""
    count = len(skus)
    noun = _plural(count, "SKU")
    brands = sorted({(groups.get(s) or {}).get("brand", "") for s in skus})
    categories = sorted({(groups.get(s) or {}).get("category", "") for s in skus})
    if len(brands) == 1 and brands[0]:
        return f"{count} {brands[0]} {noun}"
    if len(categories) == 1 and categories[0]:
        return f"{count} {categories[0].lower()} {noun}"
    named = [b for b in brands if b]
    return f"{count} {noun} (of {_listed(named)})" if named else f"{count} {noun}"


def _skus(n: Notice, ctx: dict) -> str:
    what = _sku_group(n.skus, ctx["groups"])
    channels = [ctx["channel"](k) for k in n.channels]
    zero = [ctx["channel"](k) for k in n.channels if float(n.figures.get(f"capacity:{k}", 1.0)) <= 0]
    gets = f"; {'its' if len(n.skus) == 1 else 'their'} channels get less" if channels else ""
    if zero:
        gets += f" ({_listed(zero)} {'gets' if len(zero) == 1 else 'get'} nothing)"
    count = len(n.skus)
    if n.kind == "stock_out":
        return f"{what} will likely sell out before the period ends{gets}."
    return f"{what} you excluded {'is' if count == 1 else 'are'} not advertised{gets}."


def _lift_currency(n: Notice, ctx: dict) -> str:
    return "A lift study in another currency than your sales was not used to calibrate the curves."


LEADS: dict[str, Callable[[Notice, dict], str]] = {
    "unspent": _unspent,
    "period_mismatch": _period,
    "promise_split": _promise,
    "left_out": _left_out,
    "extrapolated": _extrapolated,
    "stock_out": _skus,
    "skus_excluded": _skus,
    "lift_other_currency": _lift_currency,
}


def plan_notice_views(
    result: Mapping,
    *,
    currency: str,
    channel_label: Callable[[str], str],
    sku_groups: Mapping[str, Mapping[str, str]],
) -> list[dict]:
    """The result's notices, ranked by severity, as {kind, severity, lead, details} for the plan page. A result
    stored before notices existed gets them from its totals and warnings (each warning an informational note)."""
    stored = result.get("notices")
    notices = [Notice.from_dict(n) for n in stored] if stored is not None else legacy_notices(result)
    ctx = {"currency": currency, "channel": channel_label, "groups": sku_groups}
    views = []
    for n in ranked(notices):
        lead = LEADS[n.kind](n, ctx) if n.kind in LEADS else n.text
        details = [n.text, *n.details] if lead != n.text else list(n.details)
        views.append({"kind": n.kind, "severity": n.severity, "lead": lead, "details": details})
    return views

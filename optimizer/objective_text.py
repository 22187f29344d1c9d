"""A parsed budgeting objective (the budgeting adapter's JSON, ml.engine.prompts) -> the plan form's initial values.

Django-free. The marketer reviews the filled form before anything runs, so what cannot be put into the form as it
is (a cap on a retailer with several placements, a retailer without history) becomes a note beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from optimizer.engine.objective_reader import Reading

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


# --- the reader's cross-check: fill where the adapter and the rules agree, else ask one question --------------------

OBJECTIVE_LABELS = {
    "incremental_margin": "Incremental margin",
    "incremental_revenue": "Incremental revenue",
    "net_incremental_profit": "Net incremental profit",
}
BASIS_LABELS = {"attributed": "attributed sales (as retailers report them)", "incremental": "incremental sales"}
DEFAULT_OBJECTIVE = "incremental_margin"  # the plan form's first choice: what an unstated objective becomes
DEFAULT_BASIS = "attributed"
MAX_PERIOD_DAYS = 3650


@dataclass(frozen=True)
class Question:
    """The one thing the page asks. ``choices``: (value, label) offered; ``entry``: a typed answer is allowed too."""

    field: str
    text: str
    choices: tuple[tuple[str, str], ...] = ()
    entry: bool = True
    error: str = ""


@dataclass
class CrossCheck:
    values: dict | None  # budgeting-answer-shaped fields for plan_initial, or None while a question is open
    question: Question | None = None
    notes: list[str] = field(default_factory=list)


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def _retailers_text(caps: dict, excluded: list, names: dict[str, str]) -> str:
    parts = [f"{names.get(code, code)} at most {_money(cap)}" for code, cap in sorted(caps.items())]
    parts += [f"nothing on {names.get(code, code)}" for code in sorted(excluded)]
    return "; ".join(parts) or "no retailer limits"


def _days_text(days) -> str:
    days = int(days)
    for unit, size in (("year", 365), ("quarter", 92), ("quarter", 91), ("month", 30), ("week", 7)):
        if days % size == 0 and days >= size:
            n = days // size
            return f"{days} days ({n} {unit}{'s' if n > 1 else ''})"
    return f"{days} day{'s' if days != 1 else ''}"


def _positive(raw, *, what: str, integer: bool = False, upper: float | None = None) -> tuple[float | None, str]:
    text = str(raw).strip().replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return None, f"Give the {what} as a number, not “{raw}”."
    if not value > 0 or (upper is not None and value > upper) or value != value:
        return None, f"The {what} must be above 0{f' and at most {upper:g}' if upper else ''}."
    if integer and not value.is_integer():
        return None, f"Give the {what} as a whole number of days."
    return (int(value) if integer else value), ""


QUESTIONS = {
    "currency": "What is the budget in {currency}?",
    "budget": "What is the total budget in {currency}?",
    "period_days": "Over how many days should the budget be spent?",
    "min_roas": "What ROAS must the plan hold at least? Leave it empty for no floor.",
}
ANSWERED_FIELDS = ("currency", "budget", "period_days", "objective", "min_roas", "roas_basis", "retailers")


def cross_check(
    reading: Reading,
    adapter: dict | None,
    *,
    currency: str,
    answers: dict | None = None,
    retailer_names: dict[str, str] | None = None,
) -> CrossCheck:
    """Compare the reader's ``reading`` with the adapter's fields (``adapter``: its parsed answer, or the fields of it
    that are valid; a field it lacks is no vote) and the marketer's ``answers`` so far (field -> submitted text).

    A field fills where the two agree, or where the adapter is silent and the reader is sure; a field that is missing
    (budget, period), in another currency than ``currency``, read two ways by the reader, or read differently by the
    two is asked, one at a time in the form's order. A bad answer asks the same question again with the error."""
    adapter = adapter or {}
    answers = answers or {}
    names = retailer_names or {}
    notes: list[str] = []
    values: dict = {}

    def ask(name: str, text: str, choices=(), entry: bool = True, error: str = "") -> CrossCheck:
        return CrossCheck(None, Question(name, text, tuple(choices), entry, error), notes)

    # Currency first: an amount in another currency answers the budget question too.
    if "currency" in answers:
        budget, error = _positive(answers["currency"], what=f"budget in {currency}")
        if error:
            return ask("currency", QUESTIONS["currency"].format(currency=currency), error=error)
        values["budget"] = budget
    elif reading.currency not in (None, currency) or "currency" in reading.ambiguous:
        said = f"“{reading.budget_text}”" if reading.budget_text else "an amount"
        given = reading.currency if reading.currency else "more than one currency"
        return ask("currency", f"Your text gives the budget as {said} in {given}, but this tenant plans in "
                   f"{currency}. What is the budget in {currency}?")  # fmt: skip
    elif "budget" in answers:
        budget, error = _positive(answers["budget"], what="budget")
        if error:
            return ask("budget", QUESTIONS["budget"].format(currency=currency), error=error)
        values["budget"] = budget
    else:
        mine, theirs = reading.budget, adapter.get("budget")
        if mine is not None and (theirs is None or _close(mine, theirs)):
            values["budget"] = mine
        elif mine is None and theirs is None:
            return ask("budget", f"What is the total budget in {currency}? Your text gives no amount.")
        else:
            offered = list(dict.fromkeys(float(v) for v in (mine, theirs) if v is not None))
            return ask("budget", f"What is the total budget in {currency}? Your text could be read as "
                       f"{' or '.join(_money(v) for v in offered)}.",
                       [(str(_plain(v)), _money(v)) for v in offered])  # fmt: skip
    rate = 1.0
    if reading.currency not in (None, currency) and reading.budget:
        rate = values["budget"] / reading.budget
        if reading.retailer_caps or adapter.get("retailer_caps"):
            notes.append(f"The text's amounts are in {reading.currency}: its retailer limits are converted at the "
                         f"budget's rate ({rate:.4g} {currency} per {reading.currency}); check them.")  # fmt: skip

    # The period: missing is a question (no silent 28 days), and so is any disagreement.
    if "period_days" in answers:
        days, error = _positive(answers["period_days"], what="period", integer=True, upper=MAX_PERIOD_DAYS)
        if error:
            return ask("period_days", QUESTIONS["period_days"], error=error)
        values["period_days"] = days
    else:
        mine, theirs = reading.period_days, adapter.get("period_days")
        # The adapter's null period is "the text gives none": no vote against a period the reader found.
        if mine is not None and (theirs is None or _close(mine, theirs)):
            values["period_days"] = mine
        else:
            offered = list(dict.fromkeys(int(v) for v in (mine, theirs) if v))
            why = "Your text gives no period."
            if len(offered) == 1:
                why = f"Is it {_days_text(offered[0])}? Your text does not say it plainly."
            elif offered:
                why = f"Your text could be read as {' or '.join(_days_text(v) for v in offered)}."
            return ask("period_days", f"{QUESTIONS['period_days']} {why}", [(str(v), _days_text(v)) for v in offered])

    # The objective: unstated is the form's default; a disagreement is a question.
    if "objective" in answers:
        if answers["objective"] not in OBJECTIVE_LABELS:
            return ask("objective", "What should the plan maximize?", list(OBJECTIVE_LABELS.items()), entry=False,
                       error="Choose one of the objectives.")  # fmt: skip
        values["objective"] = answers["objective"]
    else:
        mine, theirs = reading.objective, adapter.get("objective")
        unsure = "objective" in reading.ambiguous
        if mine is not None and theirs in (None, mine):
            values["objective"] = mine
        elif mine is None and not unsure and theirs in (None, DEFAULT_OBJECTIVE):
            values["objective"] = DEFAULT_OBJECTIVE
        else:
            return ask("objective", "What should the plan maximize?", list(OBJECTIVE_LABELS.items()), entry=False)

    # The ROAS floor (None: no floor).
    if "min_roas" in answers:
        raw = str(answers["min_roas"]).strip()
        if raw.lower() in ("", "none", "no"):
            values["min_roas"] = None
        else:
            floor, error = _positive(raw.rstrip("xX×"), what="minimum ROAS", upper=100)
            if error:
                return ask("min_roas", QUESTIONS["min_roas"], error=error)
            values["min_roas"] = floor
    else:
        mine, theirs = reading.min_roas, adapter.get("min_roas")
        if "min_roas" not in reading.ambiguous and ("min_roas" not in adapter or _close(mine, theirs)):
            values["min_roas"] = mine
        else:
            offered = list(dict.fromkeys(float(v) for v in (mine, theirs) if v is not None))
            choices = [(f"{v:g}", f"{v:g}") for v in offered] + [("none", "No floor")]
            return ask("min_roas", QUESTIONS["min_roas"], choices)

    # The basis only matters under a floor.
    basis_question = ("roas_basis", "Is the ROAS floor of {floor:g} on attributed sales (as retailers report them) "
                      "or on incremental sales?")  # fmt: skip
    if "roas_basis" in answers:
        if answers["roas_basis"] not in BASIS_LABELS:
            return ask(basis_question[0], basis_question[1].format(floor=values["min_roas"] or 0),
                       list(BASIS_LABELS.items()), entry=False, error="Choose one of the two.")  # fmt: skip
        values["roas_basis"] = answers["roas_basis"]
    elif values["min_roas"] is None:
        values["roas_basis"] = reading.roas_basis or adapter.get("roas_basis") or DEFAULT_BASIS
    else:
        mine = reading.roas_basis or DEFAULT_BASIS
        theirs = adapter.get("roas_basis", mine)
        if "roas_basis" not in reading.ambiguous and theirs == mine:
            values["roas_basis"] = mine
        else:
            return ask(basis_question[0], basis_question[1].format(floor=values["min_roas"]),
                       list(BASIS_LABELS.items()), entry=False)  # fmt: skip

    # Retailer limits: both readings the same, else the marketer picks one (or none, to set them in the form).
    mine = ({k: round(v * rate, 2) for k, v in reading.retailer_caps.items()}, sorted(reading.exclude_retailers))
    theirs = mine
    if "retailer_caps" in adapter:
        theirs = (
            {k: round(float(v) * rate, 2) for k, v in adapter["retailer_caps"].items()},
            sorted(adapter.get("exclude_retailers") or []),
        )
    options = {"reader": mine, "adapter": theirs, "none": ({}, [])}
    choice = answers.get("retailers")
    if choice is not None and choice not in options:
        return ask("retailers", "Which retailer limits did you mean?",
                   [(k, _retailers_text(*v, names)) for k, v in options.items()], entry=False,
                   error="Choose one of the readings.")  # fmt: skip
    if choice is None:
        same = (
            mine[1] == theirs[1]
            and mine[0].keys() == theirs[0].keys()
            and all(_close(mine[0][k], theirs[0][k]) for k in mine[0])
        )
        if not same or "retailers" in reading.ambiguous:
            offered = [("reader", _retailers_text(*mine, names))]
            if not same:
                offered.append(("adapter", _retailers_text(*theirs, names)))
            offered.append(("none", "None of these: I will set the limits in the form"))
            return ask("retailers", "Which retailer limits did you mean?", offered, entry=False)
        choice = "reader"
    values["retailer_caps"], values["exclude_retailers"] = options[choice]
    return CrossCheck(values, None, notes)


def reading_answer(reading: Reading, *, currency: str = "USD") -> dict | None:
    """The reader's ``reading`` as a budgeting answer (ml.engine.prompts.ANSWER_KEYS), with the form's defaults for
    what the text leaves out (objective, basis); None where the page would ask (a field read two ways, no budget, a
    budget in another currency than ``currency``)."""
    if reading.ambiguous or reading.budget is None or reading.currency not in (None, currency):
        return None
    return {
        "budget": reading.budget,
        "period_days": reading.period_days,
        "objective": reading.objective or DEFAULT_OBJECTIVE,
        "min_roas": reading.min_roas,
        "roas_basis": reading.roas_basis or DEFAULT_BASIS,
        "retailer_caps": dict(reading.retailer_caps),
        "exclude_retailers": list(reading.exclude_retailers),
    }


def adapter_retailers(adapter: dict, names: dict[str, str]) -> dict:
    """``adapter`` with its retailer codes written as the tenant's (``names``: lower-case names -> code, as
    objective_reader.retailer_names gives): the adapter spells "Walmart Connect" walmart_connect, the tenant says
    walmart."""

    def code(raw: str) -> str:
        return names.get(raw) or names.get(raw.replace("_", " ")) or raw

    out = dict(adapter)
    if isinstance(out.get("retailer_caps"), dict):
        out["retailer_caps"] = {code(k): v for k, v in out["retailer_caps"].items()}
    if isinstance(out.get("exclude_retailers"), list):
        out["exclude_retailers"] = list(dict.fromkeys(code(r) for r in out["exclude_retailers"]))
    return out

"""Budget requests in words -> the structured objective the optimizer takes.

A request is built from clauses (amount, period, objective, ROAS floor, retailer caps, exclusions), each written in
one of many phrasings ("$2.5M", "2.5 million dollars", "$400k"; "ROAS of at least 3", "3x return"; "over 4 weeks",
"in Q3" ...), then set into a sentence template. The held-out split uses sentence templates and retailers that the
training split never contains; clause phrasings are shared (they are the vocabulary the adapter has to learn).
"""

from __future__ import annotations

import random

from ml.engine.datasets.common import rng_for, sft_row, split_retailers
from ml.engine.prompts import retailer_code

TASK = "budgeting"

MILLIONS = (0.5, 0.75, 1.0, 1.2, 1.5, 1.8, 2.0, 2.5, 3.0, 3.2, 4.0, 4.5, 5.0, 6.0, 7.5, 10.0, 12.0)
THOUSANDS = (60, 75, 80, 90, 120, 150, 200, 250, 300, 350, 400, 450, 600, 750, 800, 900)


def _num(x: float) -> str:
    return f"{x:g}"


def money(value: float, rng: random.Random) -> str:
    """``value`` dollars in one of the ways people write it."""
    if value >= 1_000_000:
        m = value / 1_000_000
        styles = [f"${_num(m)}M", f"${_num(m)} million", f"{_num(m)} million dollars", f"${value:,.0f}",
                  f"USD {_num(m)}M", f"{_num(m)}M USD", f"${_num(m)}m", f"{_num(m)}mm dollars"]  # fmt: skip
        if m < 10:
            styles.append(f"${_num(value / 1000)}k")
    else:
        k = value / 1000
        styles = [f"${_num(k)}k", f"${_num(k)}K", f"{_num(k)} thousand dollars", f"${value:,.0f}", f"USD {_num(k)}k",
                  f"{_num(k)}k dollars", f"${_num(k)} thousand"]  # fmt: skip
    return rng.choice(styles)


_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 8: "eight", 10: "ten", 12: "twelve"}


def period(rng: random.Random) -> tuple[str, int | None]:
    kind = rng.choice(["weeks", "weeks", "days", "quarter", "month", "none", "none"])
    if kind == "weeks":
        n = rng.choice([1, 2, 3, 4, 5, 6, 8, 10, 12])
        count = _WORDS[n] if n in _WORDS and rng.random() < 0.4 else str(n)
        unit = "week" if n == 1 else "weeks"
        text = rng.choice([f"over {count} {unit}", f"for {count} {unit}", f"across {count} {unit}",
                           f"over the next {count} {unit}", f"within {count} {unit}"])  # fmt: skip
        return text, 7 * n
    if kind == "days":
        n = rng.choice([7, 10, 14, 21, 30, 45, 60, 90])
        return rng.choice([f"over {n} days", f"for the next {n} days", f"in {n} days", f"across {n} days"]), n
    if kind == "quarter":
        # A named quarter is 92 days (Q3, Q4), the unnamed "next quarter" a quarter of a year, 91 (the plan reader's
        # conventions, optimizer/engine/objective_reader.py): "Q3" read as 91 would disagree with it and ask.
        q = rng.choice(["Q1", "Q2", "Q3", "Q4"])
        if rng.random() < 0.6:
            return rng.choice([f"in {q}", f"for {q}", f"during {q}"]), 92
        return rng.choice(["next quarter", "this quarter"]), 91
    if kind == "month":
        return rng.choice(["next month", "this month", "for a month", "over the coming month"]), 30
    return "", None


OBJECTIVE_PHRASES = {
    "incremental_margin": ("maximize incremental margin", "maximise incremental gross margin",
                           "get the most incremental margin", "grow incremental margin", "maximize margin"),
    "incremental_revenue": ("maximize incremental revenue", "maximize incremental sales", "drive incremental revenue",
                            "grow incremental sales", "maximise incremental revenue"),
    "net_incremental_profit": ("maximize net incremental profit", "maximize profit after ad spend",
                               "maximize net profit", "get the best net incremental profit",
                               "grow net incremental profit"),
}  # fmt: skip

ROAS_VALUES = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)


def roas(rng: random.Random) -> tuple[str, float | None, str]:
    if rng.random() < 0.3:
        return "", None, "attributed"
    r = rng.choice(ROAS_VALUES)
    v = _num(r)
    if rng.random() < 0.3:
        text = rng.choice([f"with iROAS >= {v}", f"keeping incremental ROAS at least {v}",
                           f"with an incremental return of at least {v}x", f"at an iROAS of {v} or better",
                           f"with incremental ROAS no lower than {v}"])  # fmt: skip
        return text, r, "incremental"
    text = rng.choice([f"with ROAS >= {v}", f"keeping ROAS at least {v}", f"with a ROAS of at least {v}",
                       f"with a {v}x return", f"at a minimum ROAS of {v}", f"with ROAS no lower than {v}",
                       f"while holding a {v}x return on ad spend",
                       f"with return on ad spend of at least {v}"])  # fmt: skip
    return text, r, "attributed"


def _cap_text(name: str, amount: str, rng: random.Random) -> str:
    return rng.choice([f"Cap {name} at {amount}.", f"No more than {amount} on {name}.", f"{name} at most {amount}.",
                       f"Limit {name} to {amount}.", f"Put at most {amount} into {name}."])  # fmt: skip


def _exclude_text(names: list[str], rng: random.Random) -> str:
    joined = " and ".join(names)
    return rng.choice([f"Skip {joined}.", f"Exclude {joined}.", f"Nothing on {joined}.", f"Leave out {joined}.",
                       f"No spend on {joined}."])  # fmt: skip


# Sentence templates. {B} amount, {P} " period" or "", {O} objective phrase, {R} " roas clause" or "".
TRAIN_TEMPLATES = (
    "Allocate {B}{P} to {O}{R}.",
    "Spend {B}{P} and {O}{R}.",
    "We have {B}{P}. Goal: {O}{R}.",
    "Plan a {B} budget{P} to {O}{R}.",
    "Budget {B}{P}; {O}{R}.",
    "Split {B} across retailers{P} to {O}{R}.",
    "Please invest {B}{P} to {O}{R}.",
    "{Ocap} with {B}{P}{R}.",
)
HELDOUT_TEMPLATES = (
    "I need to place {B} in retail media{P} and {O}{R}.",
    "Give me a plan for {B}{P} that will {O}{R}.",
    "Deploy {B}{P}: {O}{R}.",
    "How should we divide {B}{P}? We want to {O}{R}.",
)


def example(rng: random.Random, template: str, retailers: list[dict]) -> tuple[dict, dict, dict]:
    budget = 1_000_000 * rng.choice(MILLIONS) if rng.random() < 0.65 else 1000.0 * rng.choice(THOUSANDS)
    ptext, days = period(rng)
    objective = rng.choice(list(OBJECTIVE_PHRASES))
    otext = rng.choice(OBJECTIVE_PHRASES[objective])
    rtext, min_roas, basis = roas(rng)
    text = template.format(
        B=money(budget, rng), P=f" {ptext}" if ptext else "", O=otext, Ocap=otext[:1].upper() + otext[1:],
        R=f" {rtext}" if rtext else "",
    )  # fmt: skip
    chosen = rng.sample(retailers, k=min(len(retailers), rng.choice([0, 0, 1, 1, 2, 3])))
    n_caps = rng.randint(0, len(chosen))
    caps: dict[str, float] = {}
    extra = []
    for r in chosen[:n_caps]:
        cap = round(budget * rng.choice([0.1, 0.15, 0.2, 0.25, 0.3, 0.4]) / 10_000) * 10_000.0 or 10_000.0
        caps[r["code"]] = cap
        extra.append(_cap_text(r["name"], money(cap, rng), rng))
    excluded = chosen[n_caps:]
    if excluded:
        extra.append(_exclude_text([r["name"] for r in excluded], rng))
    rng.shuffle(extra)
    if extra:
        text = text + " " + " ".join(extra)
    answer = {
        "budget": float(budget),
        "period_days": days,
        "objective": objective,
        "min_roas": min_roas,
        "roas_basis": basis,
        "retailer_caps": caps,
        "exclude_retailers": [r["code"] for r in excluded],
    }
    return {"text": text}, answer, {"template": template}


# More retailer names for training requests only. With a dozen names the adapter learned those names instead of the
# rule that turns a name into a code, and misspelt retailers it had not seen ("Wayfair" -> "waysfair"); many names,
# one and two words, teach it to copy. A name whose code is held out is never used.
EXTRA_TRAIN_NAMES = (
    "Meijer", "Publix", "Wegmans", "Safeway", "Petco", "PetSmart", "Macys", "Nordstrom", "Kohls", "Sephora",
    "Staples", "Gopuff", "Shipt", "DoorDash", "Rite Aid", "Giant Eagle", "Food Lion", "Hy Vee", "Big Lots",
    "Five Below", "Family Dollar", "Tractor Supply", "Office Depot", "Ace Hardware", "Vitamin Shoppe", "Uber Eats",
    "Thrive Market", "Fresh Direct", "Whole Foods", "Harris Teeter", "Stop and Shop", "Bed Bath", "Dicks Sporting",
    "Academy Sports", "Belk", "Boxed", "Newegg", "eBay", "Etsy", "Overstock", "Zulily", "HEB", "BJs", "QVC",
    "Winn Dixie", "Piggly Wiggly", "Sprouts", "Aldi", "Lidl", "Hannaford",
)  # fmt: skip


def _training_pool(train_retailers: list[dict], held_retailers: list[dict]) -> list[dict]:
    held = {r["code"] for r in held_retailers}
    known = {r["code"] for r in train_retailers}
    extra = [{"code": retailer_code(n), "name": n} for n in EXTRA_TRAIN_NAMES]
    return train_retailers + [r for r in extra if r["code"] not in held and r["code"] not in known]


def build(*, seed: int = 0, n_train: int | None = None, n_heldout: int | None = None, source: dict | None = None):
    train_retailers, held_retailers = split_retailers(source)
    out = []
    for split, n, templates, pool in (
        ("train", n_train or 480, TRAIN_TEMPLATES, _training_pool(train_retailers, held_retailers)),
        ("heldout", n_heldout or 100, HELDOUT_TEMPLATES, held_retailers),
    ):
        rng = rng_for(TASK, split, seed)
        rows = []
        for i in range(n):
            payload, answer, meta = example(rng, templates[i % len(templates)], pool)
            rows.append(sft_row(TASK, payload, answer, {**meta, "split": split}))
        out.append(rows)
    return out[0], out[1]

"""Write the amounts and counts in a budget request the one way the budgeting adapter reads them. Django-free.

People write the same budget as "$2.5M", "2.5 million dollars", "USD 2,500k" or "$2,500,000", and a period as "ten
weeks" or "10 weeks". Turning those into numbers is arithmetic, which a small language model does badly: the embedded
135M base, trained on the raw text, got one held-out request in three wrong, mostly by a power of ten ("$500
thousand" read as 5000000) or on spelled-out counts. So the budgeting prompt rewrites every money amount as plain
dollars ("$2500000") and small number words before a time unit as digits ("10 weeks") before the model sees it; the
model then copies numbers instead of computing them, and only the language (which number is the budget, which a
cap, what the objective and the ROAS floor are) is left to it.

Only amounts that are clearly money are touched: a currency sign or code, or a magnitude word (k, M, million,
thousand) on a number. "ROAS >= 3", "3x", "Q3" and "45 days" are left as they are.
"""

from __future__ import annotations

import re

_SCALE = {
    "k": 1_000,
    "thousand": 1_000,
    "m": 1_000_000,
    "mm": 1_000_000,
    "mn": 1_000_000,
    "mil": 1_000_000,
    "million": 1_000_000,
    "b": 1_000_000_000,
    "bn": 1_000_000_000,
    "billion": 1_000_000_000,
}
_WORDS = {
    "a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90,
}  # fmt: skip
_FRACTIONS = {"half a": 0.5, "a half": 0.5, "quarter of a": 0.25, "a quarter": 0.25, "a": 1.0}

# A number: 2,500,000 / 2.5 / 2,5 is not taken (a decimal comma would be ambiguous with thousands).
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALE_WORD = r"thousand|million|billion|mil|mm|mn|bn|[kmb]"
_MONEY = re.compile(
    rf"(?<![\w.$])(?P<pre>\$|(?:USD|US\$)\s?)?(?P<num>{_NUMBER})\s?(?P<scale>{_SCALE_WORD})?(?!\w|\.\d)"
    rf"(?P<post>\s?(?:dollars|USD|usd|bucks))?",
    re.IGNORECASE,
)
_WORD_MONEY = re.compile(
    r"\b(?P<frac>half a|a half|quarter of a|a quarter|a)\s(?P<scale>million|thousand|billion)"
    r"(?P<post>\s(?:dollars|USD|usd))?\b",
    re.IGNORECASE,
)
_COUNT = re.compile(
    rf"\b(?P<word>{'|'.join(w for w in _WORDS if w != 'a')})(?P<unit>\s(?:weeks?|days?|months?))\b", re.IGNORECASE
)


def _dollars(value: float) -> str:
    rounded = round(value, 2)
    text = f"{rounded:.2f}".rstrip("0").rstrip(".")
    return f"${text}"


def _money(match: re.Match) -> str:
    pre, scale, post = match["pre"], match["scale"], match["post"]
    if not (pre or scale or post):
        return match[0]  # a bare number: a ROAS, a count of days, a quarter
    if scale and scale.lower() == "m" and not (pre or post) and match["num"].isdigit() and len(match["num"]) <= 2:
        # "3m" with no currency could be months or metres; amounts in a request come with "$" or a word.
        return match[0]
    value = float(match["num"].replace(",", "")) * _SCALE.get((scale or "").lower(), 1)
    return _dollars(value)


def normalize_amounts(text: str) -> str:
    """``text`` with money as plain dollars and number words before weeks, days or months as digits.

    >>> normalize_amounts("Allocate $2.5M over ten weeks; cap Kroger at 400 thousand dollars.")
    'Allocate $2500000 over 10 weeks; cap Kroger at $400000.'
    """
    text = _WORD_MONEY.sub(lambda m: _dollars(_FRACTIONS[m["frac"].lower()] * _SCALE[m["scale"].lower()]), text)
    text = _MONEY.sub(_money, text)
    return _COUNT.sub(lambda m: f"{_WORDS[m['word'].lower()]}{m['unit']}", text)

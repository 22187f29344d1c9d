"""Evidence from a column's values: numbers (with the file's separators), dates, ids, GTINs, ASINs, currencies."""

from __future__ import annotations

import datetime as dt
import re
import statistics
from dataclasses import dataclass, field

ASIN_RE = re.compile(r"^B0[A-Z0-9]{8}$")
ISO_CURRENCIES = frozenset(
    [
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "CNY",
        "CAD",
        "AUD",
        "CHF",
        "SEK",
        "NOK",
        "DKK",
        "PLN",
        "CZK",
        "HUF",
        "RON",
        "BGN",
        "TRY",
        "MXN",
        "BRL",
        "ARS",
        "CLP",
        "COP",
        "PEN",
        "INR",
        "IDR",
        "KRW",
        "SGD",
        "HKD",
        "TWD",
        "THB",
        "MYR",
        "PHP",
        "VND",
        "NZD",
        "ZAR",
        "AED",
        "SAR",
        "ILS",
        "EGP",
        "NGN",
        "KES",
        "RUB",
        "UAH",
        "ISK",
    ]
)
# Tried in order; the first format that parses every sampled value wins (ambiguous day/month orders are settled by
# the value that only one order can read, else by the decimal separator: comma-decimal files are day-first).
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y%m%d",
    "%d.%m.%Y",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%Y/%m/%d",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%b %d, %Y",  # Mar 10, 2025: the Amazon Ads console's downloads
    "%d.%m.%y",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S%z",
)
_NUM_DOT = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_NUM_COMMA = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")
_NUM_SPACE = re.compile(r"^[+-]?\d{1,3}([ \u00a0\u202f]\d{3})+([.,]\d+)?$")
_CURRENCY_SYMBOLS = "$€£¥"


def gtin_valid(text: str) -> bool:
    """GTIN-8/12/13/14 with a correct GS1 check digit."""
    if not text.isdigit() or len(text) not in (8, 12, 13, 14):
        return False
    digits = [int(c) for c in text]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def guess_number_format(values: list[str]) -> tuple[str, str | None]:
    """(decimal, thousands) separators most consistent with the numeric-looking values of a file."""
    comma_dec = dot_dec = comma_thou = dot_thou = space_thou = 0
    for raw in values:
        v = raw.strip().rstrip("%").strip().strip(_CURRENCY_SYMBOLS).strip()
        if not v or not any(c.isdigit() for c in v):
            continue
        if _NUM_SPACE.match(v):
            space_thou += 1
        if re.match(r"^[+-]?\d{1,3}(\.\d{3})+,\d+$", v):
            comma_dec, dot_thou = comma_dec + 1, dot_thou + 1
        elif re.match(r"^[+-]?\d{1,3}(,\d{3})+\.\d+$", v):
            dot_dec, comma_thou = dot_dec + 1, comma_thou + 1
        elif re.match(r"^[+-]?\d+,\d{1,2}$", v) or re.match(r"^[+-]?\d+,\d{4,}$", v):
            comma_dec += 1
        elif re.match(r"^[+-]?\d+\.\d{1,2}$", v) or re.match(r"^[+-]?\d+\.\d{4,}$", v):
            dot_dec += 1
        elif re.match(r"^[+-]?\d{1,3}(\.\d{3})+$", v):
            dot_thou += 1
        elif re.match(r"^[+-]?\d{1,3}(,\d{3})+$", v):
            comma_thou += 1
    if comma_dec > dot_dec:
        thousands = "." if dot_thou else (" " if space_thou else None)
        return ",", thousands
    thousands = "," if comma_thou and not comma_dec else (" " if space_thou else None)
    return ".", thousands


def parse_number(raw: str, decimal: str = ".", thousands: str | None = None) -> float | None:
    v = raw.strip()
    if not v:
        return None
    v = v.rstrip("%").strip().strip(_CURRENCY_SYMBOLS).strip()
    pattern = _NUM_COMMA if decimal == "," else _NUM_DOT
    if thousands in (" ", "\u00a0", "\u202f") or _NUM_SPACE.match(v):
        v = re.sub(r"[ \u00a0\u202f]", "", v)
    if not pattern.match(v) and not re.match(r"^[+-]?\d+([.,]\d+)?([eE][+-]?\d+)?$", v):
        return None
    v = v.replace(".", "").replace(",", ".") if decimal == "," else v.replace(",", "")
    try:
        return float(v)
    except ValueError:
        return None


def _parses(value: str, fmt: str) -> bool:
    try:
        dt.datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def date_formats(values: list[str]) -> list[str]:
    """Every candidate format that reads all the values (empty when none does)."""
    vals = [v.strip() for v in values if v.strip()]
    if not vals:
        return []
    out = []
    for fmt in DATE_FORMATS:
        # Bare digit strings (20250310) are dates only when they look like this century's days, not ids.
        if fmt == "%Y%m%d" and not all(re.match(r"^(19|20)\d{6}$", v) for v in vals):
            continue
        if all(_parses(v, fmt) for v in vals):
            out.append(fmt)
    return out


@dataclass
class ColumnProfile:
    name: str
    values: list[str]
    non_empty: int = 0
    distinct: int = 0
    numbers: list[float] = field(default_factory=list)
    numeric: bool = False  # every non-empty value is a number
    integer: bool = False  # ... and a whole number
    percent: bool = False  # values carry a % sign
    date_formats: list[str] = field(default_factory=list)
    asin: bool = False
    gtin: bool = False
    currency_codes: bool = False
    id_like: bool = False  # codes without spaces: digits of equal length or letter/digit mixes
    text: bool = False  # words with letters (names, labels)
    max_len: int = 0

    @property
    def is_date(self) -> bool:
        return bool(self.date_formats)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.numbers) if self.numbers else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.numbers) if self.numbers else 0.0

    @property
    def count_like(self) -> bool:
        """Non-negative whole numbers that are not dates or fixed-width ids: impressions, clicks, units."""
        return self.integer and not self.is_date and not self.id_like and all(n >= 0 for n in self.numbers)

    @property
    def amount_like(self) -> bool:
        return self.numeric and not self.percent and not self.is_date and not self.id_like


def profile_column(name: str, values: list[str], decimal: str, thousands: str | None) -> ColumnProfile:
    vals = [v.strip() for v in values if v is not None and v.strip() != ""]
    p = ColumnProfile(name=name, values=vals, non_empty=len(vals), distinct=len(set(vals)))
    if not vals:
        return p
    p.max_len = max(len(v) for v in vals)
    p.date_formats = date_formats(vals)
    nums = [parse_number(v, decimal, thousands) for v in vals]
    if all(n is not None for n in nums):
        p.numeric = True
        p.numbers = [float(n) for n in nums]  # type: ignore[arg-type]
        # "500.00" is an amount even though it is whole: counts are written without a decimal separator.
        p.integer = all(
            n == int(n) and decimal not in v and re.match(r"^[+-]?[\d.,  ]+$", v)
            for n, v in zip(p.numbers, vals, strict=True)
        )
        p.percent = all(v.endswith("%") for v in vals)
    p.asin = all(ASIN_RE.match(v) for v in vals)
    p.gtin = all(gtin_valid(v) for v in vals)
    p.currency_codes = all(v.upper() in ISO_CURRENCIES and len(v) == 3 for v in vals)
    digit_ids = all(v.isdigit() for v in vals) and len({len(v) for v in vals}) == 1 and p.max_len >= 6
    mixed_ids = all(re.match(r"^[A-Za-z0-9][A-Za-z0-9_\-:.]*$", v) for v in vals) and any(
        re.search(r"\d", v) and re.search(r"[A-Za-z]", v) for v in vals
    )
    p.id_like = (digit_ids or mixed_ids or p.asin or p.gtin) and not p.is_date
    p.text = (
        not p.numeric
        and not p.is_date
        and not p.currency_codes
        and any(re.search(r"[^\W\d_]{2,}", v) for v in vals)
        and (any(" " in v for v in vals) or not p.id_like)
    )
    return p

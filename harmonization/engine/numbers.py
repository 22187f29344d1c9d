"""Text -> numbers as a mapping reads them (decimal and thousands separators, units), column-wise."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .keys import as_array, np_mask
from .schema import MONEY

_INT_RE = r"^[+-]?\d+(\.0*)?$"
_NUM_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_DEC_WORK = pa.decimal128(38, 10)
_DEC_SHIFT = pa.decimal128(24, 10)  # times 10**9 (a compact suffix) still fits decimal128(38, 10)

# Number formats a column may declare (`format:` in the mapping) beyond plain digits.
NUMBER_FORMATS = ("money", "compact")
# Currency marks money may carry before or after the number, and the ISO codes each may stand for. "$" alone is
# several currencies; a three-letter code is itself (checked against ISO 4217 by the currency column's check).
CURRENCY_MARKS: dict[str, frozenset[str]] = {
    "$": frozenset({"USD", "CAD", "AUD", "NZD", "MXN", "SGD", "HKD", "ARS", "CLP", "COP"}),
    "US$": frozenset({"USD"}),
    "C$": frozenset({"CAD"}),
    "CA$": frozenset({"CAD"}),
    "A$": frozenset({"AUD"}),
    "AU$": frozenset({"AUD"}),
    "NZ$": frozenset({"NZD"}),
    "MX$": frozenset({"MXN"}),
    "R$": frozenset({"BRL"}),
    "S$": frozenset({"SGD"}),
    "HK$": frozenset({"HKD"}),
    "€": frozenset({"EUR"}),
    "£": frozenset({"GBP"}),
    "¥": frozenset({"JPY", "CNY"}),
    "₹": frozenset({"INR"}),
    "₩": frozenset({"KRW"}),
    "zł": frozenset({"PLN"}),
    "kr": frozenset({"SEK", "NOK", "DKK", "ISK"}),
    "Kč": frozenset({"CZK"}),
}
_MARK_RE = "|".join(re.escape(m) for m in sorted(CURRENCY_MARKS, key=len, reverse=True)) + "|[A-Z]{3}"
COMPACT_SUFFIXES = {"K": 3, "k": 3, "M": 6, "B": 9}


def currency_mark_fits(mark: str, currency: str | None) -> bool:
    """Whether money written with ``mark`` (a symbol or an ISO code) can be in ``currency``."""
    if not mark or currency is None:
        return True
    return currency in CURRENCY_MARKS.get(mark, frozenset({mark}))


@dataclass
class NumberFormat:
    """How a column writes numbers: the source's separators, and (``money``) a currency mark before or after the
    number and negatives in parentheses, (``compact``) a K/M/B suffix. Anything else is "not a number": a value is
    never read in a way the format does not name (``1,234.5`` under a decimal comma is refused, not 1.2345)."""

    decimal: str = "."
    thousands: str | None = None
    money: bool = False
    compact: bool = False

    @property
    def formatted(self) -> bool:
        """Values need the pattern below (marks, suffixes or thousands groups), not a plain cast."""
        return self.money or self.compact or bool(self.thousands)

    @functools.cached_property
    def pattern(self) -> str:
        d = re.escape(self.decimal)
        if self.thousands:
            t = re.escape(self.thousands)
            whole = rf"\d{{1,3}}(?:{t}\d{{3}})+|\d+"
        else:
            whole = r"\d+"
        number = rf"(?P<num>(?:{whole})(?:{d}\d+)?|{d}\d+)"
        sign = "[-+\u2212]"  # U+2212 is the minus sign some tools write
        mark = rf"(?P<pre>{_MARK_RE})?\s*" if self.money else "(?P<pre>)"
        post = rf"\s*(?P<post>{_MARK_RE})?" if self.money else "(?P<post>)"
        suffix = "(?P<suf>[KkMB])?" if self.compact else "(?P<suf>)"
        open_, close = (r"(?P<open>\()?", r"(?P<close>\))?") if self.money else ("(?P<open>)", "(?P<close>)")
        return rf"^{open_}(?P<s1>{sign})?{mark}(?P<s2>{sign})?{number}{suffix}{post}{close}$"

    def normalize(self, s: pa.Array, percent: bool = False) -> pa.Array:
        s = pc.utf8_trim_whitespace(s)
        if self.thousands:
            s = pc.replace_substring(s, self.thousands, "")
        if self.decimal != ".":
            s = pc.replace_substring(s, self.decimal, ".")
        if percent:
            s = pc.replace_substring_regex(s, r"\s*%$", "")
        return s

    def parse(self, arr: pa.Array, kind: str, percent: bool = False) -> tuple[pa.Array, np.ndarray]:
        """Text or numbers -> int64 / float64 / decimal128(38,10) ('int' | 'float' | 'decimal'), and a bad-row mask.

        A value is bad when it is present but not a number (null stays null and is not bad).
        """
        arr = as_array(arr)
        target = {"int": pa.int64(), "float": pa.float64(), "decimal": _DEC_WORK}[kind]
        n = len(arr)
        t = arr.type
        if pa.types.is_null(t):
            return pa.nulls(n, target), np.zeros(n, bool)
        if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
            if pa.types.is_boolean(t):
                arr = arr.cast(pa.int64())
            if kind == "int" and pa.types.is_floating(arr.type):
                whole = pc.equal(pc.round(arr), arr)
                bad = ~np_mask(whole) & np_mask(arr.is_valid())
                return pc.cast(pc.if_else(whole, arr, None), pa.int64(), safe=False), bad
            if kind == "decimal" and not pa.types.is_decimal(arr.type):
                arr = arr.cast(pa.float64())
                return arr, np.zeros(n, bool)  # the caller rounds floats into money
            try:
                return arr.cast(target), np.zeros(n, bool)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return arr.cast(pa.float64()), np.zeros(n, bool)
        if self.formatted:
            return self._parse_formatted(arr, target, kind, percent)
        plain = self.decimal == "." and not self.thousands and not percent
        s = arr if plain else self.normalize(arr, percent)
        # fast paths: the money scale itself (no rounding needed), then the working type; a failure of either
        # (a value with more decimals, a stray space, a word) falls through to the slower paths
        for attempt in (MONEY, target) if kind == "decimal" else (target,):
            try:
                return self._cast(s, attempt), np.zeros(n, bool)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        if plain:
            s = self.normalize(arr, percent)
            try:
                return self._cast(s, target), np.zeros(n, bool)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        # some value broke the cast: find which, null them, cast the rest
        valid = pc.match_substring_regex(s, _INT_RE if kind == "int" else _NUM_RE)
        bad = ~np_mask(valid) & np_mask(s.is_valid())
        s = pc.if_else(valid, s, pa.scalar(None, pa.string()))
        if kind == "int":
            s = pc.replace_substring_regex(s, r"\.0*$", "")
        try:
            return self._cast(s, target), bad
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # e.g. more than 10 decimals: go through float, the caller rounds to the money scale
            return self._cast(s, pa.float64()), bad

    def _groups(self, arr: pa.Array, percent: bool = False) -> tuple[pa.StructArray, np.ndarray]:
        """The pattern's groups per row (null where a value does not match) and the rows that are present but bad."""
        s = pc.utf8_trim_whitespace(arr)
        if percent:
            s = pc.replace_substring_regex(s, r"\s*%$", "")
        groups = pc.extract_regex(s, self.pattern)
        ok = groups.is_valid()
        if self.money:
            given = {name: pc.not_equal(pc.struct_field(groups, name), "") for name in ("open", "close", "s1", "s2",
                                                                                         "pre", "post")}  # fmt: skip
            # one sign at most, a mark on one side at most, parentheses in pairs and never beside a sign
            conflicts = [
                pc.and_(given["s1"], given["s2"]),
                pc.and_(given["pre"], given["post"]),
                pc.not_equal(given["open"], given["close"]),
                pc.and_(given["open"], pc.or_(given["s1"], given["s2"])),
            ]
            for conflict in conflicts:
                ok = pc.and_(ok, pc.invert(conflict.fill_null(False)))
        bad = ~np_mask(ok) & np_mask(s.is_valid())
        return groups, bad

    def _parse_formatted(
        self, arr: pa.Array, target: pa.DataType, kind: str, percent: bool
    ) -> tuple[pa.Array, np.ndarray]:
        groups, bad = self._groups(arr, percent)
        keep = pa.array(~bad)
        text = pc.if_else(keep, pc.struct_field(groups, "num"), pa.scalar(None, pa.string()))
        if self.thousands:
            text = pc.replace_substring(text, self.thousands, "")
        if self.decimal != ".":
            text = pc.replace_substring(text, self.decimal, ".")
        signs = [pc.struct_field(groups, "s1"), pc.struct_field(groups, "s2")]
        negative = pc.equal(pc.struct_field(groups, "open"), "(")
        for sign in signs:
            negative = pc.or_(negative, pc.is_in(sign, pa.array(["-", "\u2212"])))
        negative = negative.fill_null(False)
        text = pc.if_else(negative, pc.binary_join_element_wise("-", text, ""), text)
        if not self.compact:
            try:
                return self._cast(text, target), bad
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return self._cast(text, pa.float64()), bad  # the caller rounds floats into money
        # K/M/B: scaled exactly in decimal, then to the target (a whole-number check for integers)
        try:
            values = text.cast(_DEC_SHIFT)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = None
        suffix = pc.struct_field(groups, "suf")
        if values is None:
            out = self._cast(text, pa.float64())
            for mark, digits in COMPACT_SUFFIXES.items():
                out = pc.if_else(pc.equal(suffix, mark), pc.multiply(out, 10.0**digits), out)
            return out, bad
        scaled = values.cast(pa.decimal128(35, 10))
        for mark, digits in COMPACT_SUFFIXES.items():
            times = pc.multiply(values, pa.scalar(Decimal(10**digits), pa.decimal128(10, 0)))
            scaled = pc.if_else(pc.equal(suffix, mark), times, scaled)
        if kind == "int":
            whole = pc.equal(pc.round(scaled), scaled)
            bad |= ~np_mask(whole) & np_mask(scaled.is_valid())
            return pc.if_else(whole, scaled, None).cast(pa.decimal128(35, 0), safe=False).cast(pa.int64()), bad
        return scaled.cast(target), bad

    def currency_marks(self, arr: pa.Array) -> pa.Array:
        """The currency mark each value carries (``""`` for none, null where the value is not money)."""
        arr = as_array(arr)
        if not self.money or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            return pa.nulls(len(arr), pa.string())
        groups, _ = self._groups(arr)
        return pc.binary_join_element_wise(pc.struct_field(groups, "pre"), pc.struct_field(groups, "post"), "")

    @staticmethod
    def _cast(s: pa.Array, target: pa.DataType) -> pa.Array:
        out = s.cast(target)
        if pa.types.is_floating(target):
            finite = pc.is_finite(out)
            if not pc.all(finite).as_py():
                raise pa.ArrowInvalid("not finite")
        return out


def not_a_number(field: str, value: object, integer: bool) -> str:
    text = str(value).strip().replace(",", "").replace(" ", "")
    if integer and re.fullmatch(_NUM_RE, text):
        return f"{field}: {value!r} is not a whole number"
    return f"{field}: {value!r} is not a number"


def to_money(values: pa.Array, scale: float | None = None) -> pa.Array:
    """int/float/decimal -> decimal128(18,4), rounding half away from zero; ``scale`` divides first (units)."""
    t = values.type
    if scale is not None or not pa.types.is_decimal(t):
        f = values.cast(pa.float64())
        if scale is not None:
            f = pc.divide(f, scale)
        return pc.round(f, 4, round_mode="half_towards_infinity").cast(MONEY)
    if t == MONEY:
        return values
    return pc.round(values, 4, round_mode="half_towards_infinity").cast(MONEY)


UNIT_SCALE = {"micros": 1e6, "cents": 100.0, "percent": 100.0, "none": None}

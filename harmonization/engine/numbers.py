"""Text -> numbers as a mapping reads them (decimal and thousands separators, units), column-wise."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .keys import as_array, np_mask
from .schema import MONEY

_INT_RE = r"^[+-]?\d+(\.0*)?$"
_NUM_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_DEC_WORK = pa.decimal128(38, 10)


@dataclass
class NumberFormat:
    decimal: str = "."
    thousands: str | None = None

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

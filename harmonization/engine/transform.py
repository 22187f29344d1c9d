"""One chunk of source columns -> harmonized rows (summed by natural key) and quarantined rows.

Everything is column-wise: numbers are parsed with pyarrow casts (a regex only runs on a chunk where a cast failed,
to find the rows that broke it); dates, enums, currencies and SKU references are resolved once per *distinct* value
of the chunk (``dictionary_encode``) and spread back with ``take``, so Python code runs per distinct value, never
per row. A row that fails a check is quarantined with the first failure's reason; the rest of the chunk loads.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import expr as expr_lang
from .keys import Uniques, _mix, as_array, duplicated, hash_rows, hash_strings, key_base_hash, key_hash, np_mask
from .numbers import UNIT_SCALE, NumberFormat, currency_mark_fits, not_a_number, to_money
from .readers import Chunk
from .schema import HARMONIZED_SCHEMA, MONEY, NATURAL_KEY, QUARANTINE_SCHEMA, RATE, SUMMED, Lookups
from .spec import ENUM_VALUES, METRICS, ColumnSpec, MappingSpec

EPOCH = date(1970, 1, 1)
BAD_DAY = np.iinfo(np.int32).min
_RATE_MUL = pa.decimal128(19, 10)  # 18 + 19 + 1 digits still fit decimal128 when multiplied by MONEY
_AMBIGUOUS, _NONEXISTENT = 1, 2  # a local time in the repeated hour of an autumn clock change, in the spring gap


@dataclass
class _Times:
    days: np.ndarray  # UTC day per row (BAD_DAY when unreadable)
    secs: np.ndarray  # the key instant: the UTC second of a timestamp, or the day
    days1: np.ndarray  # the same two read as the later pass of a repeated local hour
    secs1: np.ndarray
    ambiguous: np.ndarray  # in a repeated local hour
    nonexistent: np.ndarray  # in the hour skipped when the clocks went forward
    wall: np.ndarray  # local wall-clock second (the text's own reading), to pair the two passes of one hour


def _utc_seconds(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    secs = pc.cast(col, pa.timestamp("s", tz="UTC"), safe=False).cast(pa.int64()).fill_null(BAD_DAY * 86400)
    secs = secs.to_numpy(zero_copy_only=False).astype(np.int64)
    days = np.floor_divide(secs, 86400).astype(np.int64)
    days[secs == BAD_DAY * 86400] = BAD_DAY
    return secs, days


# --- failures ---------------------------------------------------------------------------------------------------


@dataclass
class _Check:
    field: str | None
    code: str
    message: Callable[[np.ndarray], list[str]]


class Failures:
    """Keeps the first failing check per row; reasons are only built for the rows that failed."""

    def __init__(self, n: int):
        self.first = np.full(n, -1, dtype=np.int32)
        self.checks: list[_Check] = []

    def add(self, mask: np.ndarray, fld: str | None, code: str, message: Callable[[np.ndarray], list[str]]) -> None:
        new = mask & (self.first < 0)
        if new.any():
            self.first[new] = len(self.checks)
        self.checks.append(_Check(fld, code, message))

    @property
    def bad(self) -> np.ndarray:
        return self.first >= 0

    def reasons(self) -> tuple[np.ndarray, list[str | None], list[str], Counter]:
        idx_all, fields, reasons = [], [], []
        codes: Counter = Counter()
        for k, check in enumerate(self.checks):
            idx = np.flatnonzero(self.first == k)
            if not len(idx):
                continue
            msgs = check.message(idx)
            idx_all.append(idx)
            fields.extend([check.field] * len(idx))
            reasons.extend(msgs)
            codes[check.code] += len(idx)
        order = np.concatenate(idx_all) if idx_all else np.zeros(0, np.int64)
        return order, fields, reasons, codes


def _values(arr: pa.Array, idx: np.ndarray) -> list:
    return as_array(arr).take(pa.array(idx)).to_pylist()


# --- chunk results ----------------------------------------------------------------------------------------------


@dataclass
class ChunkStats:
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reasons: Counter = field(default_factory=Counter)
    enum: dict[str, list] = field(default_factory=dict)  # field -> [mapped, unknown, Counter(unknown values)]
    sku_matched: int = 0
    sku_unmatched: int = 0
    clicks_over_impressions: int = 0
    key_hashes: np.ndarray | None = None  # per loaded row: natural key with the source instant (duplicates)
    agg_hashes: np.ndarray | None = None  # per loaded row: natural key with the UTC day (summing across chunks)
    first_day: int | None = None
    last_day: int | None = None
    # functions of loaded rows (by position): their source lines, and their source values for a report
    key_lines: Callable[[np.ndarray], np.ndarray] | None = None
    describe: Callable[[np.ndarray], list[dict]] | None = None
    key_columns: tuple[str, ...] = ()  # the source columns of a row's key, as a report names them
    # local times of a clock change: rows in the repeated hour, of them read as the second (standard time) pass,
    # and rows in the hour that does not exist (quarantined)
    dst_ambiguous: int = 0
    dst_later: int = 0
    dst_nonexistent: int = 0
    # currency -> [spend_in, spend_loaded, spend_quarantined, sales_in, sales_loaded, sales_quarantined]
    money: dict[str, list[Decimal]] = field(default_factory=dict)


@dataclass
class ChunkResult:
    facts: pa.Table
    quarantine: pa.Table
    stats: ChunkStats


def raw_json(
    table: pa.Table,
    idx: np.ndarray,
    lines: list[int] | None = None,
    full_rows: Callable[[list[int]], dict[int, dict]] | None = None,
) -> list[str]:
    """The quarantined rows as JSON objects of source column -> text.

    When the chunk holds only the mapped columns, the full source row is read back by its line number; it is used
    only if it agrees with the parsed values (a blank line earlier in the file would shift the numbering).
    """
    rows = table.take(pa.array(idx, pa.int64())).to_pylist() if len(idx) else []
    full = full_rows(lines) if full_rows is not None and lines else {}
    out = []
    for i, row in enumerate(rows):
        values = {k: _as_text(v) for k, v in row.items()}
        whole = full.get(lines[i]) if full else None
        if whole is not None and all(_same(v, whole.get(k)) for k, v in values.items()):
            values = whole
        out.append(json.dumps(values, ensure_ascii=False))
    return out


def _same(parsed: str | None, text: str | None) -> bool:
    return (parsed or "").strip() == (text or "").strip()


def _as_text(v: object) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, datetime | date):
        return v.isoformat()
    return str(v)


class Transformer:
    def __init__(self, spec: MappingSpec, lookups: Lookups):
        cols = spec.columns
        self.spec = spec
        self.lookups = lookups
        self._formats: dict[tuple[str, ...], NumberFormat] = {}  # a column's number formats -> its reader
        zone = spec.source.timezone or lookups.default_timezone or "UTC"
        self.zone = ZoneInfo(zone)
        self.reporting = lookups.reporting_currency
        self.retailer_const = None
        if "retailer" not in spec.columns:
            self.retailer_const = spec.retailer or lookups.default_retailer
        self._rates = self._fx_tables(lookups)
        self._date_cache: dict[str, tuple[int, int, int, int, int] | None] = {}
        key_specs = [cols.get(f) for f in ("retailer", "campaign_id", "placement_type")]
        key_specs += [cols.get(spec.sku.match) if spec.sku else None, spec.attribution.window_days,
                      spec.attribution.model]  # fmt: skip
        names = [spec.date.column, *([spec.date.time_column] if spec.date.time_column else [])]
        names += [c for k in key_specs if k is not None for c in sorted(k.columns)]
        self.key_columns = tuple(dict.fromkeys([*names, *spec.grain]))
        # (row key without its time, local wall time) of the repeated hour of an autumn clock change -> rows seen
        self._ambiguous_seen: dict[int, int] = {}
        self._sku_keys: pa.Array | None = None
        self._sku_ids = np.zeros(0, np.int64)
        self._sku_table: pd.Index | None = None

    @staticmethod
    def _fx_tables(lookups: Lookups) -> dict[str, tuple[np.ndarray, np.ndarray, pa.Array]]:
        by_cur: dict[str, dict[int, float]] = {}
        for day, cur, rate in lookups.fx_rates:
            by_cur.setdefault(cur, {})[(day - EPOCH).days] = rate
        out = {}
        for cur, rates in by_cur.items():
            days = np.array(sorted(rates), dtype=np.int64)
            vals = [rates[int(d)] for d in days]
            dec = pa.array([Decimal(str(v)).quantize(Decimal("1e-10")) for v in vals], _RATE_MUL)
            out[cur] = (days, np.array(vals, dtype=np.float64), dec)
        return out

    # -- fields --

    def _number_format(self, spec: ColumnSpec) -> NumberFormat:
        found = self._formats.get(spec.number_format)
        if found is None:
            wanted = spec.number_format
            source = self.spec.source
            found = NumberFormat(source.decimal, source.thousands, money="money" in wanted, compact="compact" in wanted)
            self._formats[spec.number_format] = found
        return found

    def _currency_marks(self, table: pa.Table, currency: pa.Array, fails: Failures) -> None:
        """Quarantine a row whose money carries a currency mark that is not the row's currency (``€`` in a USD
        row): the amount would be read right but counted in the wrong currency."""
        for name in METRICS:
            spec = self.spec.columns[name]
            if "money" not in spec.number_format:
                continue
            fmt = self._number_format(spec)
            for column in sorted(spec.columns):
                values = self._source(table, column)
                marks = fmt.currency_marks(values).fill_null("")
                pairs = Uniques.of(pc.binary_join_element_wise(marks, currency.fill_null(""), "|"))
                fits = np.array([currency_mark_fits(*v.split("|", 1)) for v in pairs.values], dtype=bool)
                wrong = ~pairs.spread_np(fits, True)
                fails.add(
                    wrong,
                    name,
                    f"{name}:currency_mark",
                    lambda idx, a=values, c=currency, col=column, f=name: [
                        f"{f}: {col} {v!r} is not in the row's currency {cur}"
                        for v, cur in zip(_values(a, idx), _values(c, idx), strict=True)
                    ],
                )

    def _source(self, table: pa.Table, name: str) -> pa.Array:
        if name in table.column_names:
            return as_array(table.column(name))
        return pa.nulls(table.num_rows, pa.string())

    def _raw(self, spec: ColumnSpec, table: pa.Table, fails: Failures) -> pa.Array:
        n = table.num_rows
        if spec.source is not None:
            return self._source(table, spec.source)
        if spec.expr is not None:
            bad_cols: list[tuple[str, pa.Array, np.ndarray]] = []

            def to_number(arr: pa.Array, name: str) -> pa.Array:
                values, bad = self._number_format(spec).parse(arr, "float")
                if bad.any():
                    bad_cols.append((name, arr, bad))
                return values

            ctx = expr_lang.EvalContext(n, lambda name: self._source(table, name), to_number)
            out = expr_lang.evaluate(spec.expr, ctx)
            for name, arr, bad in bad_cols:
                fails.add(
                    bad,
                    spec.field,
                    f"{spec.field}:not_a_number",
                    lambda idx, a=arr, c=name, f=spec.field: [
                        f"{f}: {c} {v!r} is not a number" for v in _values(a, idx)
                    ],
                )
            return out
        value = spec.constant
        if isinstance(value, bool):
            value = str(value).lower()
        return pa.repeat(pa.scalar(value), n) if n else pa.array([], pa.scalar(value).type)

    def _string(self, spec: ColumnSpec, table: pa.Table, fails: Failures, stats: ChunkStats) -> pa.Array:
        raw = self._raw(spec, table, fails)
        if not (pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type)):
            raw = expr_lang._text(raw) if not pa.types.is_null(raw.type) else raw.cast(pa.string())
        if spec.kind != "constant":
            raw = pc.utf8_trim_whitespace(raw)
            raw = pc.if_else(pc.equal(raw, ""), pa.scalar(None, pa.string()), raw)
        allowed = ENUM_VALUES.get(spec.field)
        if spec.field == "currency":
            raw = pc.utf8_upper(raw)
        if spec.enum is not None or (allowed and spec.kind != "constant"):
            raw = self._enum(spec, raw, fails, stats, allowed)
        if spec.default is not None:
            raw = raw.fill_null(str(spec.default))
        if spec.field == "currency":
            u = Uniques.of(raw)
            ok = np.array([bool(re.fullmatch(r"[A-Z]{3}", v)) for v in u.values], dtype=bool)
            bad = ~u.spread_np(ok, True)
            fails.add(
                bad,
                "currency",
                "currency:not_iso",
                lambda idx, a=raw: [f"currency: {v!r} is not an ISO 4217 code" for v in _values(a, idx)],
            )
        return raw

    def _enum(
        self, spec: ColumnSpec, raw: pa.Array, fails: Failures, stats: ChunkStats, allowed: tuple[str, ...] | None
    ) -> pa.Array:
        u = Uniques.of(raw)
        mapping = spec.enum.map if spec.enum else {}
        mapped: list = []
        known = np.zeros(len(u.values), dtype=bool)
        for i, v in enumerate(u.values):
            if v in mapping:
                mapped.append(str(mapping[v]))
                known[i] = True
            elif allowed and v in allowed:
                mapped.append(v)
                known[i] = True
            elif spec.enum is not None and spec.enum.unknown == "default":
                mapped.append(str(spec.enum.default))
            else:
                mapped.append(None)
        entry = stats.enum.setdefault(spec.field, [0, 0, Counter()])
        entry[0] += int(u.counts[known].sum())
        entry[1] += int(u.counts[~known].sum())
        for i in np.flatnonzero(~known):
            entry[2][u.values[i]] += int(u.counts[i])
        out = u.spread(mapped, pa.string())
        unknown_rows = ~u.spread_np(known, True)
        if spec.enum is None or spec.enum.unknown == "quarantine":
            fails.add(
                unknown_rows,
                spec.field,
                f"{spec.field}:unknown_value",
                lambda idx, a=raw, f=spec.field: [f"{f}: unknown value {v!r}" for v in _values(a, idx)],
            )
        return out

    def _number(self, spec: ColumnSpec, table: pa.Table, fails: Failures) -> tuple[pa.Array, np.ndarray]:
        """-> (int64 or MONEY array, rows whose value parsed)."""
        raw = self._raw(spec, table, fails)
        f = spec.field
        if spec.enum is not None:
            u = Uniques.of(raw if pa.types.is_string(raw.type) else raw.cast(pa.string()))
            mapped = [spec.enum.map.get(v) for v in u.values]
            if spec.enum.unknown == "default":
                mapped = [spec.enum.default if m is None else m for m in mapped]
            known = np.array([m is not None for m in mapped], dtype=bool)
            fails.add(
                ~u.spread_np(known, True),
                f,
                f"{f}:unknown_value",
                lambda idx, a=raw: [f"{f}: unknown value {v!r}" for v in _values(a, idx)],
            )
            raw = u.spread([None if m is None else str(m) for m in mapped], pa.string())
        unit = spec.unit
        kind = "int" if spec.type == "integer" and unit == "none" else "decimal" if unit == "none" else "float"
        values, bad = self._number_format(spec).parse(raw, kind, percent=unit == "percent")
        if bad.any() and pa.types.is_string(raw.type):
            # a cell of spaces is blank, not a bad number (parse left it null)
            bad &= ~np_mask(pc.equal(pc.utf8_trim_whitespace(raw), "").fill_null(False))
        if bad.any():
            fails.add(
                bad,
                f,
                f"{f}:not_a_number",
                lambda idx, a=raw: [not_a_number(f, v, kind == "int") for v in _values(a, idx)],
            )
        if spec.type == "integer":
            if kind != "int" or not pa.types.is_integer(values.type):
                fl = values.cast(pa.float64())
                if UNIT_SCALE[unit]:
                    fl = pc.divide(fl, UNIT_SCALE[unit])
                whole = np_mask(pc.equal(pc.round(fl), fl)) | ~np_mask(fl.is_valid())
                fails.add(
                    ~whole,
                    f,
                    f"{f}:not_an_integer",
                    lambda idx, a=raw: [f"{f}: {v!r} is not a whole number" for v in _values(a, idx)],
                )
                values = pc.cast(pc.if_else(pa.array(whole), fl, None), pa.int64(), safe=False)
        else:
            values = to_money(values, UNIT_SCALE[unit])
        parsed = np_mask(values.is_valid())
        if values.null_count:
            if spec.default is not None:
                fill = spec.default
            elif not spec.required or spec.blank == "zero":
                fill = 0
            else:
                fill = None
            if fill is not None:
                fill_value = int(fill) if spec.type == "integer" else Decimal(str(fill))
                values = values.fill_null(pa.scalar(fill_value, values.type))
            else:
                missing = ~parsed & ~bad
                fails.add(missing, f, f"{f}:missing", lambda idx: [f"{f}: missing value"] * len(idx))
        if f in METRICS or f == "attribution_window_days":
            floor = 1 if f == "attribution_window_days" else 0
            zero = pa.scalar(Decimal(floor), values.type) if pa.types.is_decimal(values.type) else pa.scalar(floor)
            below = np_mask(pc.less(values, zero))
            word = "must be at least 1 day" if floor else "negative"
            fails.add(
                below,
                f,
                f"{f}:{'too_small' if floor else 'negative'}",
                lambda idx, a=values, w=word: [f"{f}: {w} ({v})" for v in _values(a, idx)],
            )
        return values, parsed

    def _dates(self, table: pa.Table, fails: Failures) -> _Times:
        """The UTC day and the key instant (the day, or the UTC second of a timestamp) per row, read as the first
        pass of a repeated local hour, with the alternative reading for the rows in such an hour."""
        spec = self.spec.date
        col = self._source(table, spec.column)
        if spec.time_column:
            when = [c if pa.types.is_string(c.type) else c.cast(pa.string())
                    for c in (col, self._source(table, spec.time_column))]  # fmt: skip
            col = pc.binary_join_element_wise(*when, " ")
        t = col.type
        n = len(col)
        status = np.zeros(n, np.int8)
        if pa.types.is_timestamp(t):
            if t.tz is None:
                zone = str(self.zone)
                first = pc.assume_timezone(col, zone, ambiguous="earliest", nonexistent="earliest")
                later = pc.assume_timezone(col, zone, ambiguous="latest", nonexistent="earliest")
                after_gap = pc.assume_timezone(col, zone, ambiguous="earliest", nonexistent="latest")
                status[np_mask(pc.not_equal(first, later))] = _AMBIGUOUS
                status[np_mask(pc.not_equal(first, after_gap))] = _NONEXISTENT
            else:
                first = later = col
            secs, days = _utc_seconds(first)
            secs1, days1 = _utc_seconds(later)
            wall = col.cast(pa.timestamp("s"), safe=False).cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        elif pa.types.is_date(t):
            days = col.cast(pa.date32()).cast(pa.int32()).fill_null(BAD_DAY).to_numpy(zero_copy_only=False)
            days = days.astype(np.int64)
            secs = days1 = secs1 = wall = days
        else:
            if not pa.types.is_string(t):
                col = col.cast(pa.string())
            u = Uniques.of(col)
            parsed = np.array(
                [self._parse_date(v) or (BAD_DAY, BAD_DAY, BAD_DAY, BAD_DAY, 0, 0) for v in u.values], dtype=np.int64
            ).reshape(-1, 6)
            days = u.spread_np(parsed[:, 0], BAD_DAY)
            if spec.is_timestamp:
                secs, days1, secs1 = (u.spread_np(parsed[:, k], BAD_DAY) for k in (1, 2, 3))
                status = u.spread_np(parsed[:, 4].astype(np.int8), 0)
                wall = u.spread_np(parsed[:, 5], 0)
            else:  # whole days: one reading, no clock change
                secs = days1 = secs1 = wall = days
        bad = days == BAD_DAY
        if bad.any():
            missing = ~np_mask(col.is_valid())
            fails.add(missing & bad, "date", "date:missing", lambda idx: ["date: missing value"] * len(idx))
            fails.add(
                bad & ~missing,
                "date",
                "date:bad_format",
                lambda idx, a=col: [f"date: {v!r} does not match {spec.format}" for v in _values(a, idx)],
            )
        gap = status == _NONEXISTENT
        if gap.any():
            fails.add(
                gap,
                "date",
                "date:nonexistent",
                lambda idx, a=col: [
                    f"date: {_as_text(v)!r} does not exist in {self.zone.key} (the clocks went forward over it)"
                    for v in _values(a, idx)
                ],
            )
        if not spec.is_timestamp:
            secs = days
        return _Times(days, secs, days1, secs1 if spec.is_timestamp else days1, status == _AMBIGUOUS, gap, wall)

    def _parse_date(self, text: str) -> tuple[int, int, int, int, int, int] | None:
        """-> (UTC day, UTC second, the same two for the later pass of a repeated hour, status, local wall second)
        or None when the text does not match the format."""
        hit = self._date_cache.get(text, False)
        if hit is not False:
            return hit
        out = None
        try:
            value = datetime.strptime(text.strip(), self.spec.date.format)
        except ValueError:
            value = None
        if value is not None:
            if self.spec.date.is_timestamp:
                wall = int(value.replace(tzinfo=UTC).timestamp())
                status = 0
                if value.tzinfo is None:  # local time of the mapping's zone; an offset in the text says itself
                    local = value.replace(tzinfo=self.zone)
                    other = value.replace(tzinfo=self.zone, fold=1)
                    back = local.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None)
                    if back != value:
                        status = _NONEXISTENT
                    elif other.utcoffset() != local.utcoffset():
                        status = _AMBIGUOUS
                    value, later = local, other
                else:
                    later = value
                utc, utc1 = value.astimezone(UTC), later.astimezone(UTC)
                out = ((utc.date() - EPOCH).days, int(utc.timestamp()), (utc1.date() - EPOCH).days,
                       int(utc1.timestamp()), status, wall)  # fmt: skip
            else:
                day = (value.date() - EPOCH).days
                out = (day, day, day, day, 0, day)
        if len(self._date_cache) < 100_000:
            self._date_cache[text] = out
        return out

    def _resolve_repeated_hour(self, times: _Times, key_parts: list[pa.Array], stats: ChunkStats) -> None:
        """Order in the file: of the rows of one key at one local time of a repeated hour, the first is read in
        daylight time and the second in standard time (a third is a duplicate of the second)."""
        idx = np.flatnonzero(times.ambiguous)
        if not len(idx):
            return
        taken = pa.array(idx)
        h = hash_rows([as_array(a).take(taken) for a in key_parts])
        with np.errstate(over="ignore"):
            h = h ^ (times.wall[idx].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        seen = self._ambiguous_seen
        later = np.zeros(len(idx), bool)
        for i, key in enumerate(h.tolist()):
            count = seen.get(key, 0)
            seen[key] = count + 1
            later[i] = count >= 1
        rows = idx[later]
        times.days[rows] = times.days1[rows]
        times.secs[rows] = times.secs1[rows]
        stats.dst_ambiguous += len(idx)
        stats.dst_later += len(rows)

    # -- SKU and FX --

    def _sku(self, ref: pa.Array, retailer: pa.Array, fails: Failures, stats: ChunkStats) -> tuple[pa.Array, pa.Array]:
        sku = self.spec.sku
        n = len(ref)
        if sku is None:
            return pa.nulls(n, pa.string()), pa.nulls(n, pa.int64())
        if not self.lookups.resolve_skus:
            return ref, pa.nulls(n, pa.int64())
        if sku.match == "retailer_item_id":
            key = pc.binary_join_element_wise(retailer, ref, "|")
        elif sku.match == "gtin":
            digits = pc.match_substring_regex(ref, r"^\d{8,14}$")
            key = pc.if_else(digits, pc.utf8_lpad(ref, 14, "0"), ref)
        else:
            key = ref
        row_ids, found = self._sku_lookup(sku.match, key)
        # Only rows that carry a reference take part in the join (and its rate). An empty reference from a column
        # declared `required: false` is a campaign-level row (layouts that mix SKU and campaign rows, like the
        # native RMIS file); from a required column it is a missing value.
        has_ref = np_mask(ref.is_valid())
        found &= has_ref
        unmatched = has_ref & ~found
        stats.sku_matched += int(found.sum())
        stats.sku_unmatched += int(unmatched.sum())
        sku_id = pa.array(row_ids, pa.int64(), mask=~found)
        label = {"retailer_item_id": "retailer item", "gtin": "GTIN", "sku_code": "SKU code"}[sku.match]
        if sku.unknown == "quarantine":
            if self.spec.columns[sku.match].required:
                fails.add(~has_ref, "sku", "sku:missing", lambda idx: [f"sku: no {sku.match} given"] * len(idx))
            fails.add(
                unmatched,
                "sku",
                "sku:no_match",
                lambda idx, a=ref: [f"sku: no SKU for {label} {v}" for v in _values(a, idx)],
            )
            return ref, sku_id
        # campaign_level: an unmatched row is kept as a campaign-level row
        return pc.if_else(pa.array(found), ref, pa.scalar(None, pa.string())), sku_id

    def _sku_lookup(self, match: str, key: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """SKU id per row (-1 when unknown) through a hash table of the index's key hashes, built once per run.

        A hash hit is confirmed by comparing the key text, so a hash collision can never attach a wrong SKU.
        """
        if self._sku_keys is None:
            index = self.lookups.sku_index.get(match, {})
            self._sku_keys = pa.array(list(index), pa.string())
            self._sku_ids = np.fromiter(index.values(), dtype=np.int64, count=len(index))
            table = pd.Index(hash_strings(self._sku_keys))
            if not table.is_unique:  # two keys with one hash, never seen in practice: the first one wins
                first = ~table.duplicated()
                self._sku_keys = self._sku_keys.filter(pa.array(first))
                self._sku_ids = self._sku_ids[first]
                table = table[first]
            self._sku_table = table
        n = len(key)
        row_ids = np.full(n, -1, dtype=np.int64)
        if not len(self._sku_ids):
            return row_ids, np.zeros(n, bool)
        pos = self._sku_table.get_indexer(hash_strings(key))
        rows = np.flatnonzero(pos >= 0)
        if len(rows):
            at = pos[rows]
            same = np_mask(pc.equal(key.take(pa.array(rows)), self._sku_keys.take(pa.array(at))))
            row_ids[rows[same]] = self._sku_ids[at[same]]
        return row_ids, row_ids >= 0

    def _fx(self, currency: pa.Array, days: np.ndarray, fails: Failures) -> tuple[pa.Array, np.ndarray]:
        """-> (rate per row as decimal128(19,10), rows with a usable rate)."""
        n = len(currency)
        u = Uniques.of(currency)
        rate = pa.repeat(pa.scalar(Decimal(1), _RATE_MUL), n) if n else pa.array([], _RATE_MUL)
        ok = np.ones(n, dtype=bool)
        if self.lookups.keep_currency:
            return rate, ok
        staleness = self.lookups.fx_max_staleness_days
        for i, cur in enumerate(u.values):
            if cur == self.reporting:
                continue
            rows = np.flatnonzero(u.indices == i)
            table = self._rates.get(cur)
            if table is None:
                pos = np.full(len(rows), -1)
            else:
                fx_days, _, _ = table
                d = days[rows]
                pos = np.searchsorted(fx_days, d, side="right") - 1
                stale = (pos < 0) | (d - fx_days[np.maximum(pos, 0)] > staleness)
                pos = np.where(stale, -1, pos)
            missing = pos < 0
            ok[rows[missing]] = False
            if table is not None and (~missing).any():
                taken = table[2].take(pa.array(np.maximum(pos, 0)))
                full = np.full(n, -1, dtype=np.int64)
                full[rows] = np.where(missing, -1, np.arange(len(rows)))
                mask = full >= 0
                gathered = taken.take(pa.array(np.maximum(full, 0)))
                rate = pc.if_else(pa.array(mask), gathered, rate)
        if not ok.all():
            fails.add(
                ~ok,
                "currency",
                "currency:no_fx_rate",
                lambda idx, c=currency: [
                    f"currency: no {cur}→{self.reporting} rate on or before {EPOCH + timedelta(days=int(d))}"
                    for cur, d in zip(_values(c, idx), days[idx], strict=True)
                ],
            )
        return rate, ok

    # -- the chunk --

    def run(self, chunk: Chunk) -> ChunkResult:
        table = chunk.table
        n = table.num_rows
        stats = ChunkStats(rows_read=n + len(chunk.broken), key_columns=self.key_columns)
        fails = Failures(n)
        cols = self.spec.columns

        if self.retailer_const is not None:
            retailer = pa.repeat(pa.scalar(self.retailer_const), n) if n else pa.array([], pa.string())
        else:
            retailer = self._string(cols["retailer"], table, fails, stats)
            fails.add(
                ~np_mask(retailer.is_valid()),
                "retailer",
                "retailer:missing",
                lambda idx: ["retailer: missing value"] * len(idx),
            )
        times = self._dates(table, fails)
        campaign_id = self._string(cols["campaign_id"], table, fails, stats)
        fails.add(
            ~np_mask(campaign_id.is_valid()),
            "campaign_id",
            "campaign_id:missing",
            lambda idx: ["campaign_id: missing value"] * len(idx),
        )
        campaign_name = (
            self._string(cols["campaign_name"], table, fails, stats)
            if "campaign_name" in cols
            else pa.nulls(n, pa.string())
        )
        placement = self._string(cols["placement_type"], table, fails, stats)
        fails.add(
            ~np_mask(placement.is_valid()),
            "placement_type",
            "placement_type:missing",
            lambda idx: ["placement_type: missing value"] * len(idx),
        )
        metrics = {}
        parsed = {}
        for name in METRICS:
            metrics[name], parsed[name] = self._number(cols[name], table, fails)
        window, _ = self._number(self.spec.attribution.window_days, table, fails)
        model = self._string(self.spec.attribution.model, table, fails, stats)
        fails.add(
            ~np_mask(model.is_valid()),
            "attribution_model",
            "attribution_model:missing",
            lambda idx: ["attribution_model: missing value"] * len(idx),
        )
        currency = self._string(cols["currency"], table, fails, stats)
        fails.add(
            ~np_mask(currency.is_valid()),
            "currency",
            "currency:missing",
            lambda idx: ["currency: missing value"] * len(idx),
        )
        self._currency_marks(table, currency, fails)
        if self.spec.sku is not None:
            ref = self._string(cols[self.spec.sku.match], table, fails, stats)
        else:
            ref = pa.nulls(n, pa.string())
        grain = [self._source(table, c) for c in self.spec.grain]
        if times.ambiguous.any():
            self._resolve_repeated_hour(times, [retailer, campaign_id, ref, placement, window, model, *grain], stats)
        stats.dst_nonexistent = int(times.nonexistent.sum())
        days, instant = times.days, times.secs
        safe_days = np.where(days == BAD_DAY, 0, days)
        rate, _ = self._fx(currency, safe_days, fails)
        sku_ref, sku_id = self._sku(ref, retailer, fails, stats)

        bad = fails.bad
        good = ~bad
        n_good = int(good.sum())
        stats.rows_loaded = n_good
        stats.rows_quarantined = int(bad.sum()) + len(chunk.broken)

        # reconciliation: every amount that parsed is either loaded or quarantined
        self._reconcile(currency, bad, metrics, parsed, stats)

        # quarantine
        order, q_fields, q_reasons, codes = fails.reasons()
        stats.reasons.update(codes)
        q_lines = chunk.lines[order].tolist() if len(order) else []
        q_raw = raw_json(table, order, q_lines, chunk.full_rows)
        for line, reason, raw in chunk.broken:
            q_lines.append(line)
            q_fields.append(None)
            q_reasons.append(reason)
            q_raw.append(json.dumps(raw, ensure_ascii=False))
            stats.reasons["row:columns"] += 1
        quarantine = pa.table(
            {"line": pa.array(q_lines, pa.int64()), "field": pa.array(q_fields, pa.string()),
             "reason": pa.array(q_reasons, pa.string()), "raw": pa.array(q_raw, pa.string())},
            schema=QUARANTINE_SCHEMA,
        )  # fmt: skip

        # the loaded rows
        keep = pa.array(good)
        day_arr = pa.array(safe_days.astype(np.int32)).cast(pa.date32())
        original_spend = metrics["spend"]
        original_sales = metrics["attributed_sales"]
        single = pc.all(pc.equal(currency.fill_null(self.reporting), self.reporting)).as_py() if n else True
        if single or self.lookups.keep_currency:
            spend, sales = original_spend, original_sales
        else:
            spend = pc.round(pc.multiply(original_spend, rate), 4, round_mode="half_towards_infinity").cast(MONEY)
            sales = pc.round(pc.multiply(original_sales, rate), 4, round_mode="half_towards_infinity").cast(MONEY)
        rows = pa.table(
            {
                "date": day_arr,
                "retailer": retailer,
                "campaign_id": campaign_id,
                "campaign_name": campaign_name,
                "placement_type": placement,
                "sku_ref": sku_ref,
                "sku_id": sku_id,
                "impressions": metrics["impressions"],
                "clicks": metrics["clicks"],
                "spend": spend,
                "attributed_sales": sales,
                "attributed_units": metrics["attributed_units"],
                "attribution_window_days": window.cast(pa.int16()),
                "attribution_model": model,
                "original_currency": currency,
                "original_spend": original_spend,
                "original_attributed_sales": original_sales,
                "fx_rate": rate.cast(RATE),
                "source_rows": pa.repeat(pa.scalar(1, pa.int64()), n) if n else pa.array([], pa.int64()),
            }
        )
        src_rows = np.flatnonzero(good)
        if self.lookups.keep_currency:
            rows = rows.append_column("currency", currency)
        if n_good < n:
            rows = rows.filter(keep)
            instant = instant[good]
            grain = [as_array(g).filter(keep) for g in grain]
        stats.clicks_over_impressions = int(pc.sum(pc.greater(rows["clicks"], rows["impressions"])).as_py() or 0)
        if n_good:
            good_days = rows["date"].cast(pa.int32())
            stats.first_day = int(pc.min(good_days).as_py())
            stats.last_day = int(pc.max(good_days).as_py())
        base = key_base_hash(rows)
        stats.agg_hashes = key_hash(rows, base)
        if grain:
            with np.errstate(over="ignore"):
                row_base = _mix(base ^ hash_rows(grain))
            stats.key_hashes = key_hash(rows, row_base, instant)
        else:
            stats.key_hashes = key_hash(rows, base, instant) if self.spec.date.is_timestamp else stats.agg_hashes
        lines = chunk.lines if len(chunk.lines) == n else None
        stats.key_lines = None if lines is None else (lambda idx, src=src_rows: lines[src[idx]])
        stats.describe = lambda idx, t=table, src=src_rows: t.take(pa.array(src[idx], pa.int64())).to_pylist()
        facts, mixed = aggregate(rows, self.reporting, stats.agg_hashes)
        if mixed is not None and len(mixed):
            facts, quarantine = self._quarantine_mixed(rows, mixed, quarantine, stats, chunk, table, good)
        return ChunkResult(facts, quarantine, stats)

    def _reconcile(self, currency: pa.Array, bad: np.ndarray, metrics: dict, parsed: dict, stats: ChunkStats) -> None:
        u = Uniques.of(currency)
        bad_arr = pa.array(bad)
        for i, cur in enumerate([*u.values, None]):
            rows = u.indices == (i if cur is not None else -1)
            if not rows.any():
                continue
            entry = stats.money.setdefault(cur or "(none)", [Decimal(0)] * 6)
            for slot, name in ((0, "spend"), (3, "attributed_sales")):
                ok = pa.array(rows & parsed[name])
                entry[slot] += pc.sum(metrics[name].filter(ok)).as_py() or Decimal(0)
                entry[slot + 2] += pc.sum(metrics[name].filter(pc.and_(ok, bad_arr))).as_py() or Decimal(0)

    def _quarantine_mixed(self, rows, mixed, quarantine, stats, chunk, table, good):
        """Rows whose natural key carries more than one currency in this chunk cannot be summed: quarantine them."""
        bad = np.isin(stats.agg_hashes, mixed)
        src_idx = np.flatnonzero(good)[bad]
        extra = pa.table(
            {
                "line": pa.array(chunk.lines[src_idx], pa.int64()),
                "field": pa.array(["currency"] * len(src_idx), pa.string()),
                "reason": pa.array(["currency: rows of one key in different currencies"] * len(src_idx), pa.string()),
                "raw": pa.array(raw_json(table, src_idx), pa.string()),
            },
            schema=QUARANTINE_SCHEMA,
        )
        stats.reasons["currency:mixed"] += len(src_idx)
        stats.rows_loaded -= len(src_idx)
        stats.rows_quarantined += len(src_idx)
        bad_arr = pa.array(bad)
        for cur, spend, sales in zip(
            rows["original_currency"].filter(bad_arr).to_pylist(),
            rows["original_spend"].filter(bad_arr).to_pylist(),
            rows["original_attributed_sales"].filter(bad_arr).to_pylist(),
            strict=True,
        ):
            stats.money[cur][2] += spend
            stats.money[cur][5] += sales
        same = stats.key_hashes is stats.agg_hashes
        stats.agg_hashes = stats.agg_hashes[~bad]
        stats.key_hashes = stats.agg_hashes if same else stats.key_hashes[~bad]
        kept = np.flatnonzero(good)[~bad]
        if stats.key_lines is not None:
            stats.key_lines = lambda idx, src=kept: chunk.lines[src[idx]]
        stats.describe = lambda idx, t=table, src=kept: t.take(pa.array(src[idx])).to_pylist()
        facts, _ = aggregate(rows.filter(pa.array(~bad)), self.reporting, stats.agg_hashes)
        return facts, pa.concat_tables([quarantine, extra])


# the currency is one per group: the reporting currency, or the original currency (a group key) when it is kept
_AGGS = [(c, "sum") for c in SUMMED] + [(c, "max") for c in ("campaign_name", "sku_id", "fx_rate", "currency")]
_RENAMED = {f"{c}_sum": c for c in SUMMED} | {f"{c}_max": c for c in ("campaign_name", "sku_id", "fx_rate", "currency")}


def aggregate(rows: pa.Table, reporting: str, hashes: np.ndarray | None = None) -> tuple[pa.Table, np.ndarray | None]:
    """Sum rows of one natural key (and original currency) -> HARMONIZED_SCHEMA.

    Only rows whose key hash repeats go through a group-by; the others pass as they are. Also returns the key
    hashes that carry more than one original currency (None when the table has a single currency).
    """
    if rows.num_rows == 0:
        return HARMONIZED_SCHEMA.empty_table(), None
    if "currency" not in rows.column_names:
        rows = rows.append_column("currency", pa.repeat(pa.scalar(reporting), rows.num_rows))
    rows = rows.select(HARMONIZED_SCHEMA.names).cast(HARMONIZED_SCHEMA)
    if hashes is None:
        hashes = key_hash(rows)
    dup = duplicated(hashes)
    if not dup.any():
        return rows, None
    dup_arr = pa.array(dup)
    single = rows.filter(pc.invert(dup_arr))
    multi = rows.filter(dup_arr)
    grouped = multi.group_by([*NATURAL_KEY, "original_currency"], use_threads=False).aggregate(_AGGS)
    grouped = grouped.rename_columns([_RENAMED.get(c, c) for c in grouped.column_names])
    grouped = grouped.select(HARMONIZED_SCHEMA.names).cast(HARMONIZED_SCHEMA)
    mixed = None
    if pc.count_distinct(grouped["original_currency"]).as_py() > 1:
        h = key_hash(grouped)
        uniq, counts = np.unique(h, return_counts=True)
        mixed = uniq[counts > 1]
    return pa.concat_tables([single, grouped]), mixed

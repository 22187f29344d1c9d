"""Mapping YAML (docs/mapping_guide.md) -> validated, frozen ``MappingSpec``.

Every error names the line and the dotted key: the document is composed to a node tree first (``yaml.compose``) so
each key keeps its ``start_mark``; the plain Python values are then read with the line of every key beside them.
"""

from __future__ import annotations

import codecs
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from . import expr as expr_lang
from .numbers import NUMBER_FORMATS

PLACEMENT_TYPES = ("sponsored_product", "search", "onsite_display", "offsite_display", "ctv", "audio", "other")
ATTRIBUTION_MODELS = ("last_click", "last_touch", "click_and_view", "multi_touch")
SKU_MATCHES = ("retailer_item_id", "gtin", "sku_code")
FORMATS = ("csv", "tsv", "jsonl", "json", "parquet")

# RMIS field -> default type
FIELD_TYPES: dict[str, str] = {
    "retailer": "string",
    "campaign_id": "string",
    "campaign_name": "string",
    "placement_type": "string",
    "retailer_item_id": "string",
    "gtin": "string",
    "sku_code": "string",
    "impressions": "integer",
    "clicks": "integer",
    "spend": "decimal",
    "attributed_sales": "decimal",
    "attributed_units": "integer",
    "currency": "string",
}
REQUIRED_FIELDS = (
    "campaign_id",
    "placement_type",
    "impressions",
    "clicks",
    "spend",
    "attributed_sales",
    "attributed_units",
    "currency",
)
METRICS = ("impressions", "clicks", "spend", "attributed_sales", "attributed_units")
# Canonical values an enum field must end up in.
ENUM_VALUES = {"placement_type": PLACEMENT_TYPES, "attribution_model": ATTRIBUTION_MODELS}

TOP_KEYS = (
    "version",
    "name",
    "retailer",
    "description",
    "source",
    "date",
    "columns",
    "attribution",
    "sku",
    "grain",
    "ignore",
    "quality",
    "pii",
)
SOURCE_KEYS = (
    "format",
    "compression",
    "encoding",
    "delimiter",
    "quote",
    "decimal",
    "thousands",
    "records_path",
    "header_row",
    "timezone",
)
DATE_KEYS = ("column", "time_column", "format")
COLUMN_KEYS = ("source", "constant", "expr", "type", "unit", "enum", "required", "default", "blank", "format")
# What an empty cell means: a metric left blank by the export is 0 (no impressions, no spend); a blank key or date
# is a missing value and quarantines the row.
BLANK_MEANINGS = ("zero", "missing")
ENUM_KEYS = ("map", "unknown")
ATTRIBUTION_KEYS = ("window_days", "model", "metrics")
SKU_KEYS = ("match", "unknown")
PII_KEYS = ("columns",)
# What the upload path does with personal data found in a source column (governance.pii.ACTIONS): replace it with a
# placeholder, with a keyed hash, refuse the whole file, or keep it.
PII_ACTIONS = ("redact", "hash", "refuse", "keep")
# RMIS fields that hold free text: their source columns are redacted unless the mapping's ``pii`` says otherwise.
# Codes and ids (campaign_id, gtin, sku_code, ...) are kept: a barcode can pass a card's checksum.
PII_TEXT_FIELDS = ("campaign_name",)
QUALITY_KEYS = (
    "max_quarantine_rate",
    "max_clicks_over_impressions_rate",
    "min_sku_join_rate",
    "max_duplicate_key_rate",
)
STRPTIME_DIRECTIVES = set("aAbBdHIjmMpSfyYzTeZ%")
TIME_DIRECTIVES = set("HIMSpfzTZ")


class MappingError(ValueError):
    def __init__(self, origin: str, line: int, key: str, message: str):
        self.origin = origin
        self.line = line
        self.key = key
        self.message = message
        super().__init__(f"{origin}:{line}: {key}: {message}")


@dataclass(frozen=True)
class EnumSpec:
    map: dict[str, Any]
    unknown: str  # "quarantine" or "default"
    default: Any = None


@dataclass(frozen=True)
class ColumnSpec:
    field: str
    source: str | None = None
    constant: Any = None
    expr: expr_lang.Expr | None = None
    type: str = "string"
    unit: str = "none"
    enum: EnumSpec | None = None
    required: bool = True
    default: Any = None
    blank: str = "missing"  # "zero" | "missing": what an empty cell means (BLANK_MEANINGS)
    number_format: tuple[str, ...] = ()  # NUMBER_FORMATS the values may be written in (money, compact)

    @property
    def kind(self) -> str:
        return "source" if self.source is not None else "expr" if self.expr is not None else "constant"

    @property
    def columns(self) -> frozenset[str]:
        if self.source is not None:
            return frozenset([self.source])
        return self.expr.columns if self.expr is not None else frozenset()


@dataclass(frozen=True)
class SourceSpec:
    format: str  # the first of ``formats``
    compression: str = "auto"
    encoding: str = "utf-8"
    delimiter: str = ","
    quote: str = '"'
    decimal: str = "."
    thousands: str | None = None
    records_path: str | None = None
    header_row: int = 1
    timezone: str | None = None
    # Every format the file may come in (``format: [json, csv]``): the reader tells them apart by content.
    formats: tuple[str, ...] = ()

    @property
    def accepted(self) -> tuple[str, ...]:
        return self.formats or (self.format,)


@dataclass(frozen=True)
class DateSpec:
    column: str
    format: str
    # a layout that writes the local hour in a column of its own (date "2026-11-01", hour "01"): its text is read
    # after the date's, separated by a space, with one format for both ("%Y-%m-%d %H")
    time_column: str | None = None

    @property
    def is_timestamp(self) -> bool:
        return bool({m for m in re.findall(r"%(.)", self.format)} & TIME_DIRECTIVES)


@dataclass(frozen=True)
class AttributionSpec:
    window_days: ColumnSpec
    model: ColumnSpec
    metrics: tuple[str, ...] = ("attributed_sales", "attributed_units")


@dataclass(frozen=True)
class SkuSpec:
    match: str
    unknown: str = "quarantine"


@dataclass(frozen=True)
class MappingSpec:
    version: int
    name: str
    retailer: str | None
    description: str
    source: SourceSpec
    date: DateSpec
    columns: dict[str, ColumnSpec]
    attribution: AttributionSpec
    sku: SkuSpec | None
    ignore: tuple[str, ...]
    quality: dict[str, float]
    # Source columns that, with the RMIS natural key, identify one row of the export (an ad group, ad or line item
    # id): rows that differ only in them are summed to the RMIS grain; rows that agree in them too are duplicates.
    grain: tuple[str, ...] = ()
    raw: dict = field(repr=False, compare=False, default_factory=dict)
    text: str = field(repr=False, compare=False, default="")
    origin: str = "<mapping>"
    # source column -> PII action, as the mapping's ``pii.columns`` says (pii_action applies the defaults)
    pii: dict[str, str] = field(default_factory=dict)

    def pii_action(self, column: str) -> str:
        """What the upload path does with personal data in source ``column``: the mapping's ``pii.columns`` entry,
        else ``redact`` for a column that feeds a free-text field (PII_TEXT_FIELDS), else ``keep``."""
        if column in self.pii:
            return self.pii[column]
        text_sources = {c for f in PII_TEXT_FIELDS if f in self.columns for c in self.columns[f].columns}
        return "redact" if column in text_sources else "keep"

    def column_specs(self) -> list[ColumnSpec]:
        """Every column-like spec, the attribution ones included."""
        return [*self.columns.values(), self.attribution.window_days, self.attribution.model]

    @property
    def used_columns(self) -> frozenset[str]:
        """Source columns the mapping reads (by source, expr or the date block)."""
        cols: set[str] = {self.date.column, *self.grain}
        if self.date.time_column:
            cols.add(self.date.time_column)
        for spec in self.column_specs():
            cols |= spec.columns
        return frozenset(cols)

    @property
    def required_columns(self) -> list[str]:
        """Source columns that must be present in the header, in mapping order."""
        out = [self.date.column, *([self.date.time_column] if self.date.time_column else [])]
        for spec in self.column_specs():
            if spec.required:
                out.extend(c for c in sorted(spec.columns) if c not in out)
        return out


class _Doc:
    """Plain values plus the line of each dotted key."""

    def __init__(self, origin: str):
        self.origin = origin
        self.lines: dict[str, int] = {}

    def to_python(self, node: yaml.Node, path: str, loader: yaml.SafeLoader) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) or key is None:
                    self.fail(path, "keys must be plain names", node=key_node)
                key = str(key)
                sub = f"{path}.{key}" if path else key
                if key in out:
                    self.fail(sub, "appears twice", node=key_node)
                self.lines[sub] = key_node.start_mark.line + 1
                out[key] = self.to_python(value_node, sub, loader)
                self.lines[sub] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                items.append(self.to_python(item, f"{path}[{i}]", loader))
            return items
        return loader.construct_object(node, deep=True)

    def line(self, path: str) -> int:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rsplit(".", 1)[0] if "." in path else ""
        return self.lines.get("", 1)

    def fail(self, path: str, message: str, node: yaml.Node | None = None) -> None:
        line = node.start_mark.line + 1 if node is not None else self.line(path)
        raise MappingError(self.origin, line, path or "(document)", message)


# Attribution windows retailers use run from 1 day to a few months; a year is the most a fact may claim.
MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 1, 365
_WINDOW_RANGE = f"{MIN_WINDOW_DAYS} to {MAX_WINDOW_DAYS}"


def _window_days_ok(value: Any, *, plain: bool = False) -> bool:
    """A whole number of days in range: an int, or (inside {constant | default | enum}) its text, as a file gives."""
    if isinstance(value, bool):
        return False
    if not isinstance(value, int):
        if plain or not isinstance(value, str | float):
            return False
        try:
            number = float(str(value).strip())
        except ValueError:
            return False
        if not number.is_integer():
            return False
        value = int(number)
    return MIN_WINDOW_DAYS <= value <= MAX_WINDOW_DAYS


def _encoding_problem(encoding: str) -> str | None:
    """Why ``encoding`` cannot decode a text file, or None. Python's codec registry also holds codecs that are not
    text encodings: bytes-to-bytes (zlib_codec, base64_codec, hex_codec, bz2_codec, uu_codec, quopri_codec) and
    str-to-str (rot13, which looks like text but cannot decode bytes); ``bytes.decode`` refuses all of them, so a
    mapping naming one would fail at every ingest. They are refused here, at save. So are ``undefined`` (decodes
    nothing) and the host-name codecs idna and punycode (text encodings for domain names, not for files)."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        return f"unknown encoding {encoding!r}"
    if info.name in ("idna", "punycode"):
        return f"{encoding!r} encodes host names, not files"
    sample = "date,spend\r\n2025-01-01,1.5\n"
    try:
        if sample.encode(encoding).decode(encoding) != sample:
            return f"{encoding!r} does not read text back as written"
    except LookupError:
        return f"{encoding!r} is not a text encoding: it transforms bytes or text, it does not decode a file"
    except (UnicodeError, ValueError):
        return f"{encoding!r} cannot decode plain text"
    return None


def _did_you_mean(key: str, allowed: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean {close[0]!r}?)"
    return f"unknown key (allowed: {', '.join(allowed)})"


def load_mapping_file(path: str | Path) -> MappingSpec:
    path = Path(path)
    return load_mapping(path.read_text(encoding="utf-8"), origin=str(path))


# A mapping is a page of YAML; these bounds refuse a document built to exhaust memory or the stack before it is
# composed (an alias expands to a copy of its anchor: nested aliases grow exponentially, "billion laughs").
MAX_MAPPING_CHARS = 256 * 1024
MAX_MAPPING_NODES = 20_000
MAX_MAPPING_DEPTH = 32


def _check_size_and_shape(text: str, origin: str) -> None:
    """Refuse aliases, and more nodes or nesting than a mapping needs, from the event stream (nothing is built)."""
    if len(text) > MAX_MAPPING_CHARS:
        raise MappingError(
            origin, 1, "(document)", f"the mapping is {len(text):,} characters; at most {MAX_MAPPING_CHARS:,}"
        )
    nodes = depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark else 1
        if isinstance(event, yaml.AliasEvent):
            message = f"aliases (*{event.anchor}) are not allowed: write the value out"
            raise MappingError(origin, line, "(yaml)", message)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_MAPPING_DEPTH:
                raise MappingError(origin, line, "(yaml)", f"nested deeper than {MAX_MAPPING_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_MAPPING_NODES:
                raise MappingError(origin, line, "(yaml)", f"more than {MAX_MAPPING_NODES:,} values")


def load_mapping(text: str, origin: str = "<mapping>") -> MappingSpec:
    doc = _Doc(origin)
    try:
        _check_size_and_shape(text, origin)
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise MappingError(origin, 1, "(document)", "empty mapping")
            data = doc.to_python(node, "", loader)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise MappingError(origin, line, "(yaml)", f"{exc.problem or exc}") from None
    except yaml.YAMLError as exc:  # pragma: no cover - YAMLError without a mark
        raise MappingError(origin, 1, "(yaml)", str(exc)) from None
    if not isinstance(data, dict):
        doc.fail("", "a mapping document must be a YAML mapping of keys")
    return _Builder(doc, data, text).build()


class _Builder:
    def __init__(self, doc: _Doc, data: dict, text: str):
        self.doc = doc
        self.data = data
        self.text = text

    def fail(self, path: str, message: str) -> None:
        self.doc.fail(path, message)

    def keys(self, value: Any, path: str, allowed: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            self.fail(path, "must be a mapping of keys")
        for key in value:
            if key not in allowed:
                self.fail(f"{path}.{key}" if path else key, _did_you_mean(key, allowed))
        return value

    def str_(self, value: Any, path: str, *, choices: tuple[str, ...] | None = None, nullable: bool = False) -> Any:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value:
            self.fail(path, f"must be a non-empty string, not {value!r}")
        if choices and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.fail(path, f"{value!r} is not one of {', '.join(choices)}{hint}")
        return value

    def build(self) -> MappingSpec:
        d = self.keys(self.data, "", TOP_KEYS)
        for key in ("version", "name", "source", "date", "columns", "attribution"):
            if key not in d:
                self.fail(key, "required")
        if d["version"] != 1:
            self.fail("version", f"must be 1, not {d['version']!r}")
        name = self.str_(d["name"], "name")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
            self.fail("name", f"{name!r} must be a slug (lower-case letters, digits, _ and -)")
        retailer = self.str_(d.get("retailer"), "retailer", nullable=True)
        description = d.get("description") or ""
        if not isinstance(description, str):
            self.fail("description", "must be a string")
        source = self.source(d["source"])
        date = self.date(d["date"])
        columns = self.columns(d["columns"], source)
        attribution = self.attribution(d["attribution"], source)
        sku = self.sku(d.get("sku"), columns)
        ignore = d.get("ignore") or []
        if not isinstance(ignore, list) or not all(isinstance(x, str) for x in ignore):
            self.fail("ignore", "must be a list of source column names")
        quality = self.quality(d.get("quality") or {})
        pii = self.pii(d.get("pii") or {})
        grain = d.get("grain") or []
        if not isinstance(grain, list) or not all(isinstance(x, str) and x for x in grain):
            self.fail("grain", "must be a list of source column names (the ad group, ad or line item ids of a row)")
        if len(set(grain)) < len(grain):
            self.fail("grain", "names a column twice")
        return MappingSpec(
            version=1,
            name=name,
            retailer=retailer,
            description=description,
            source=source,
            date=date,
            columns=columns,
            attribution=attribution,
            sku=sku,
            ignore=tuple(ignore),
            quality=quality,
            grain=tuple(grain),
            raw=self.data,
            text=self.text,
            origin=self.doc.origin,
            pii=pii,
        )

    def source(self, value: Any) -> SourceSpec:
        s = self.keys(value, "source", SOURCE_KEYS)
        if "format" not in s:
            self.fail("source.format", f"required ({' | '.join(FORMATS)})")
        formats = s["format"] if isinstance(s["format"], list) else [s["format"]]
        if not formats:
            self.fail("source.format", f"name at least one format ({' | '.join(FORMATS)})")
        for i, one in enumerate(formats):
            self.str_(one, f"source.format[{i}]" if isinstance(s["format"], list) else "source.format", choices=FORMATS)
        if len(set(formats)) < len(formats):
            self.fail("source.format", "names a format twice")
        # csv and tsv differ only by their delimiter and parquet has no text to tell apart: a list offers one text
        # layout beside json / jsonl
        if len(formats) > 1 and (len({"csv", "tsv"} & set(formats)) > 1 or "parquet" in formats):
            self.fail("source.format", "a list may hold json, jsonl and one of csv or tsv (the file is told apart by "
                      "its content)")  # fmt: skip
        fmt = formats[0]
        text_format = next((f for f in formats if f in ("csv", "tsv")), fmt)
        compression = self.str_(s.get("compression", "auto"), "source.compression", choices=("auto", "gzip", "none"))
        encoding = self.str_(s.get("encoding", "utf-8"), "source.encoding")
        problem = _encoding_problem(encoding)
        if problem:
            self.fail("source.encoding", problem)
        delimiter = s.get("delimiter", "\t" if text_format == "tsv" else ",")
        if "delimiter" in s and text_format not in ("csv", "tsv"):
            self.fail("source.delimiter", f"only for csv (format is {fmt})")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            self.fail("source.delimiter", f"must be one character, not {delimiter!r}")
        quote = s.get("quote", '"')
        if not isinstance(quote, str) or len(quote) != 1:
            self.fail("source.quote", f"must be one character, not {quote!r}")
        decimal = s.get("decimal", ".")
        if decimal not in (".", ","):
            self.fail("source.decimal", f'must be "." or ",", not {decimal!r}')
        thousands = s.get("thousands")
        if thousands is not None:
            if thousands not in (",", ".", " ", "'", "\u00a0", "\u202f", "_"):
                self.fail("source.thousands", f"{thousands!r} is not a thousands separator")
            if thousands == decimal:
                self.fail("source.thousands", "must differ from source.decimal")
        records_path = s.get("records_path")
        if records_path is not None:
            if "json" not in formats:
                self.fail("source.records_path", f"only for json (format is {fmt})")
            self.str_(records_path, "source.records_path")
        header_row = s.get("header_row", 1)
        if not isinstance(header_row, int) or isinstance(header_row, bool) or header_row < 1:
            self.fail("source.header_row", f"must be a line number >= 1, not {header_row!r}")
        timezone = self.str_(s.get("timezone"), "source.timezone", nullable=True)
        if timezone is not None:
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                self.fail("source.timezone", f"unknown time zone {timezone!r} (use an IANA name like Europe/Berlin)")
        return SourceSpec(
            format=fmt,
            compression=compression,
            encoding=encoding,
            delimiter=delimiter,
            quote=quote,
            decimal=decimal,
            thousands=thousands,
            records_path=records_path,
            header_row=header_row,
            timezone=timezone,
            formats=tuple(formats) if len(formats) > 1 else (),
        )

    def date(self, value: Any) -> DateSpec:
        d = self.keys(value, "date", DATE_KEYS)
        if "column" not in d:
            self.fail("date.column", "required")
        column = self.str_(d["column"], "date.column")
        time_column = self.str_(d.get("time_column"), "date.time_column", nullable=True)
        fmt = self.str_(d.get("format", "%Y-%m-%d"), "date.format")
        if time_column and not set(re.findall(r"%(.)", fmt)) & TIME_DIRECTIVES:
            self.fail("date.format", f"{fmt!r} reads no time, but date.time_column gives one (e.g. '%Y-%m-%d %H')")
        directives = re.findall(r"%(.?)", fmt)
        for directive in directives:
            if directive not in STRPTIME_DIRECTIVES:
                self.fail("date.format", f"%{directive} is not a strptime directive this engine reads in {fmt!r}")
        if not {"Y", "y"} & set(directives) or not {"d", "j", "e"} & set(directives):
            self.fail("date.format", f"{fmt!r} must contain a year (%Y) and a day (%d)")
        return DateSpec(column=column, format=fmt, time_column=time_column)

    def column(self, value: Any, path: str, fld: str, source: SourceSpec) -> ColumnSpec:
        if not isinstance(value, dict):
            self.fail(path, "must be a mapping like {source: columnName} or {constant: value} or {expr: '...'}")
        c = self.keys(value, path, COLUMN_KEYS)
        given = [k for k in ("source", "constant", "expr") if k in c]
        if not given:
            self.fail(f"{path}.source", "required (or give constant or expr)")
        if len(given) > 1:
            self.fail(f"{path}.{given[1]}", f"give exactly one of source, constant, expr (found {', '.join(given)})")
        type_ = c.get("type", FIELD_TYPES.get(fld, "string"))
        self.str_(type_, f"{path}.type", choices=("string", "integer", "decimal"))
        if fld in FIELD_TYPES and FIELD_TYPES[fld] != "string" and type_ == "string":
            self.fail(f"{path}.type", f"{fld} is a number (integer or decimal)")
        unit = c.get("unit", "none")
        self.str_(unit, f"{path}.unit", choices=("micros", "cents", "percent", "none"))
        if unit != "none" and type_ == "string":
            self.fail(f"{path}.unit", f"unit {unit} needs a number type (integer or decimal)")
        number_format = c.get("format", [])
        number_format = number_format if isinstance(number_format, list) else [number_format]
        for one in number_format:
            self.str_(one, f"{path}.format", choices=NUMBER_FORMATS)
        if number_format and type_ == "string":
            self.fail(f"{path}.format", "a number format needs a number type (integer or decimal)")
        required = c.get("required", True)
        if not isinstance(required, bool):
            self.fail(f"{path}.required", f"must be true or false, not {required!r}")
        blank = c.get("blank", "zero" if fld in METRICS else "missing")
        self.str_(blank, f"{path}.blank", choices=BLANK_MEANINGS)
        if blank == "zero" and fld not in METRICS:
            self.fail(f"{path}.blank", f"only a metric ({', '.join(METRICS)}) may read a blank cell as zero; a blank "
                      f"{fld} is a missing value")  # fmt: skip
        if "blank" in c and blank == "zero" and c.get("default") is not None:
            self.fail(f"{path}.blank", "give blank: zero or a default, not both")
        src = self.str_(c["source"], f"{path}.source") if "source" in c else None
        parsed = None
        if "expr" in c:
            try:
                parsed = expr_lang.parse(c["expr"])
            except expr_lang.ExprError as exc:
                self.fail(f"{path}.expr", str(exc))
        constant = c.get("constant")
        if "constant" in c and (constant is None or isinstance(constant, dict | list)):
            self.fail(f"{path}.constant", f"must be a plain value, not {constant!r}")
        enum = None
        if "enum" in c:
            enum = self.enum(c["enum"], f"{path}.enum", fld)
        elif fld in ENUM_VALUES and "constant" in c and constant not in ENUM_VALUES[fld]:
            self.fail(f"{path}.constant", f"{constant!r} is not one of {', '.join(ENUM_VALUES[fld])}")
        if fld == "currency" and "constant" in c:
            self._currency(constant, f"{path}.constant")
        return ColumnSpec(
            field=fld,
            source=src,
            constant=constant,
            expr=parsed,
            type=type_,
            unit=unit,
            enum=enum,
            required=required,
            default=c.get("default"),
            blank=blank,
            number_format=tuple(dict.fromkeys(number_format)),
        )

    def _currency(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{3}", value):
            self.fail(path, f"{value!r} is not an ISO 4217 currency code (three upper-case letters)")

    def enum(self, value: Any, path: str, fld: str) -> EnumSpec:
        e = self.keys(value, path, ENUM_KEYS)
        if "map" not in e or not isinstance(e["map"], dict) or not e["map"]:
            self.fail(f"{path}.map", "required: a mapping of source value -> RMIS value")
        allowed = ENUM_VALUES.get(fld)
        for key, target in e["map"].items():
            if allowed and target not in allowed:
                self.fail(f"{path}.map.{key}", f"{target!r} is not one of {', '.join(allowed)}")
        unknown = e.get("unknown", "quarantine")
        if not isinstance(unknown, str) or not (unknown == "quarantine" or unknown.startswith("default:")):
            self.fail(f"{path}.unknown", f"must be quarantine or default:<value>, not {unknown!r}")
        default = None
        if unknown.startswith("default:"):
            default = unknown.split(":", 1)[1].strip()
            if allowed and default not in allowed:
                self.fail(f"{path}.unknown", f"default {default!r} is not one of {', '.join(allowed)}")
            unknown = "default"
        return EnumSpec(map={str(k): v for k, v in e["map"].items()}, unknown=unknown, default=default)

    def columns(self, value: Any, source: SourceSpec) -> dict[str, ColumnSpec]:
        if not isinstance(value, dict):
            self.fail("columns", "must be a mapping of RMIS field -> {source | constant | expr}")
        out = {}
        for fld, spec in value.items():
            path = f"columns.{fld}"
            if fld == "date":
                self.fail(path, "the date comes from the top-level date block")
            if fld in ("attribution_window_days", "attribution_model"):
                self.fail(path, "comes from the attribution block")
            if fld not in FIELD_TYPES:
                self.fail(path, f"unknown RMIS field{_did_you_mean(fld, tuple(FIELD_TYPES))[11:]}")
            out[fld] = self.column(spec, path, fld, source)
        for fld in REQUIRED_FIELDS:
            if fld not in out:
                self.fail(f"columns.{fld}", "required (give source, constant or expr)")
        return out

    def attribution(self, value: Any, source: SourceSpec) -> AttributionSpec:
        a = self.keys(value, "attribution", ATTRIBUTION_KEYS)
        for key in ("window_days", "model"):
            if key not in a:
                self.fail(f"attribution.{key}", "required")
        window = a["window_days"]
        if isinstance(window, dict):
            wspec = self.column(
                {"type": "integer", **window}, "attribution.window_days", "attribution_window_days", source
            )
            if wspec.type != "integer":
                self.fail("attribution.window_days.type", "must be integer")
            given = [("constant", wspec.constant), ("default", wspec.default)]
            given += [(f"enum.map.{key}", days) for key, days in (wspec.enum.map.items() if wspec.enum else ())]
            for key, days in given:
                if days is not None and not _window_days_ok(days):
                    self.fail(f"attribution.window_days.{key}", f"must be {_WINDOW_RANGE} days, not {days!r}")
        else:
            if not _window_days_ok(window, plain=True):
                self.fail(
                    "attribution.window_days",
                    f"must be a number of days from {_WINDOW_RANGE} or {{source: ...}}, not {window!r}",
                )
            wspec = ColumnSpec(field="attribution_window_days", constant=window, type="integer")
        model = a["model"]
        if isinstance(model, dict):
            mspec = self.column(model, "attribution.model", "attribution_model", source)
        else:
            self.str_(model, "attribution.model", choices=ATTRIBUTION_MODELS)
            mspec = ColumnSpec(field="attribution_model", constant=model)
        metrics = a.get("metrics", ["attributed_sales", "attributed_units"])
        if not isinstance(metrics, list):
            self.fail("attribution.metrics", "must be a list")
        for i, m in enumerate(metrics):
            if m not in ("attributed_sales", "attributed_units"):
                self.fail(f"attribution.metrics[{i}]", f"{m!r} is not an attributed metric")
        return AttributionSpec(window_days=wspec, model=mspec, metrics=tuple(metrics))

    def sku(self, value: Any, columns: dict[str, ColumnSpec]) -> SkuSpec | None:
        if value is None:
            return None
        s = self.keys(value, "sku", SKU_KEYS)
        if "match" not in s:
            self.fail("sku.match", f"required ({' | '.join(SKU_MATCHES)})")
        match = self.str_(s["match"], "sku.match", choices=SKU_MATCHES)
        unknown = self.str_(s.get("unknown", "quarantine"), "sku.unknown", choices=("quarantine", "campaign_level"))
        if match not in columns:
            self.fail("sku.match", f"columns.{match} must be mapped to match SKUs by it")
        return SkuSpec(match=match, unknown=unknown)

    def pii(self, value: Any) -> dict[str, str]:
        p = self.keys(value, "pii", PII_KEYS)
        columns = p.get("columns") or {}
        if not isinstance(columns, dict):
            self.fail("pii.columns", "must map source column names to " + " | ".join(PII_ACTIONS))
        for column, action in columns.items():
            self.str_(action, f"pii.columns.{column}", choices=PII_ACTIONS)
        return {str(k): v for k, v in columns.items()}

    def quality(self, value: Any) -> dict[str, float]:
        q = self.keys(value, "quality", QUALITY_KEYS)
        out = {}
        for key, limit in q.items():
            if not isinstance(limit, int | float) or isinstance(limit, bool) or not 0 <= limit <= 1:
                self.fail(f"quality.{key}", f"must be a share between 0 and 1, not {limit!r}")
            out[key] = float(limit)
        return out

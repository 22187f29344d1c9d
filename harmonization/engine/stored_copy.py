"""The uploaded file kept on disk for a re-run, rewritten without personal data, in its own format.

After an upload has run, its stored file is replaced by a copy in which every source column is handled as the run
handled it: a column the mapping loads gets its PII action (``MappingSpec.pii_action``: ``redact`` for free-text
fields, ``hash``, or ``keep`` for codes, ids and numbers, exactly as the loaded rows were); a column it does not load
(and its ``pii:`` block does not name) is not kept at all, each value becoming ``<REDACTED>`` (a re-run does not read
it, and a wide export's unloaded columns are too many values to analyze one by one); lines before the header and JSON
outside the records are redacted. A re-run of the copy therefore loads the same rows (redacting a placeholder or
hashing a token changes nothing) and keeps no more personal data than the database does.

CSV and TSV (written back with the mapping's delimiter, quote and encoding; fields re-quoted only where the csv module
must), JSON lines, JSON (the records at ``records_path`` and anything around them) and Parquet (every column that holds
text); gzip stays gzip. A file this cannot read raises: the caller deletes it instead (fail closed).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .readers import _format_for, _is_gzip
from .spec import MappingSpec

Scrub = Callable[[str, str], str]  # (text, action) -> text without personal data
DROPPED = "<REDACTED>"
DROP = "drop"


class _Columns:
    """Each source column's action, and each distinct value scrubbed once."""

    def __init__(self, spec: MappingSpec, scrub: Scrub):
        self.spec, self.scrub, self.used = spec, scrub, spec.used_columns
        self.memo: dict[tuple[str, str], str] = {}

    def action(self, column: str | None) -> str:
        if column is None:
            return "redact"  # around the rows: a preamble line, JSON outside the records
        if column not in self.used and column not in self.spec.pii:
            return DROP  # never loaded; in quarantined rows of a re-run it reads <REDACTED>
        action = self.spec.pii_action(column)
        return "redact" if action == "refuse" else action  # a refused file is deleted, not copied

    def text(self, value: str, column: str | None) -> str:
        action = self.action(column)
        if action == "keep" or not value:
            return value
        if action == DROP:
            return DROPPED
        key = (action, value)
        if key not in self.memo:
            self.memo[key] = self.scrub(value, action)
        return self.memo[key]

    def json(self, node: Any, column: str | None, *, record: bool = False) -> Any:
        """Strings inside ``node`` by ``column``'s action. Inside a record, nested objects name the flattened
        columns the JSON readers make (``a.b``); outside one (``record`` false) every string is redacted."""
        if isinstance(node, str):
            return self.text(node, column)
        if isinstance(node, dict):
            if not record:
                return {k: self.json(v, None) for k, v in node.items()}
            return {k: self.json(v, f"{column}.{k}" if column else k, record=True) for k, v in node.items()}
        if isinstance(node, list):
            return [self.json(v, column, record=record) for v in node]
        return node

    def record(self, node: Any) -> Any:
        return self.json(node, None, record=isinstance(node, dict))


def redact_stored_file(path: str | os.PathLike, spec: MappingSpec, scrub: Scrub) -> None:
    """Replace ``path`` by its copy without personal data (written next to it, then moved over it). CSV, TSV and
    JSON lines are streamed; JSON and Parquet are read whole, as their readers read them."""
    path = Path(path)
    source = _format_for(path, spec.source)
    gz = _is_gzip(path, source)
    columns = _Columns(spec, scrub)
    opener = gzip.open if gz else open
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".redacting-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as raw:
            out = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if gz else raw
            try:
                if source.format in ("csv", "tsv", "jsonl"):
                    dst = io.TextIOWrapper(out, encoding=source.encoding, newline="")
                    with opener(path, "rt", encoding=source.encoding, newline="") as src:
                        (_csv if source.format != "jsonl" else _jsonl)(src, dst, source, columns)
                    dst.flush()
                    dst.detach()  # the binary file is closed below, not by the text layer
                else:
                    with opener(path, "rb") as src:
                        data = src.read()
                    if source.format == "json":
                        out.write(_json(data, source, columns))
                    elif source.format == "parquet":
                        out.write(_parquet(data, columns))
                    else:  # pragma: no cover - the spec refuses other formats
                        raise ValueError(f"unsupported format {source.format!r}")
            finally:
                if gz:
                    out.close()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _csv(src, dst, source, columns: _Columns) -> None:
    delimiter = "\t" if source.format == "tsv" else source.delimiter
    reader = csv.reader(src, delimiter=delimiter, quotechar=source.quote)
    writer = csv.writer(dst, delimiter=delimiter, quotechar=source.quote, lineterminator="\n")
    header: list[str] = []
    for number, row in enumerate(reader, start=1):
        if number < source.header_row:
            writer.writerow([columns.text(cell, None) for cell in row])
        elif number == source.header_row:
            header = [c.lstrip("\ufeff") for c in row]
            writer.writerow([cell if name in columns.used else columns.text(cell, None)
                             for cell, name in zip(row, header, strict=True)])  # fmt: skip
        else:
            writer.writerow([columns.text(cell, header[i] if i < len(header) else None) for i, cell in enumerate(row)])


def _jsonl(src, dst, source, columns: _Columns) -> None:
    for line in src:
        body = line.rstrip("\r\n")
        if not body.strip():
            dst.write(line)
            continue
        dst.write(json.dumps(columns.record(json.loads(body.lstrip("\ufeff"))), ensure_ascii=False) + "\n")


def _json(data: bytes, source, columns: _Columns) -> bytes:
    doc = json.loads(data.decode(source.encoding).lstrip("\ufeff"))
    parts = source.records_path.split(".") if source.records_path else []

    def walk(node: Any, depth: int) -> Any:
        if depth == len(parts):
            if isinstance(node, list):
                return [columns.record(r) for r in node]
            return columns.json(node, None)
        if isinstance(node, dict):
            return {k: walk(v, depth + 1) if k == parts[depth] else columns.json(v, None) for k, v in node.items()}
        return columns.json(node, None)

    return json.dumps(walk(doc, 0), ensure_ascii=False).encode(source.encoding)


def _parquet(data: bytes, columns: _Columns) -> bytes:
    table = pq.read_table(pa.BufferReader(data))
    for i, name in enumerate(table.column_names):
        column = table.column(i)
        kind = column.type
        if pa.types.is_dictionary(kind):
            column, kind = column.cast(kind.value_type), kind.value_type
        plain = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
        if plain or pa.types.is_temporal(kind) or pa.types.is_decimal(kind) or pa.types.is_binary(kind):
            continue
        values = [columns.json(v, name, record=True) for v in column.to_pylist()]
        table = table.set_column(i, name, pa.array(values, kind))
    out = pa.BufferOutputStream()
    pq.write_table(table, out)
    return out.getvalue().to_pybytes()

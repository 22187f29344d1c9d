"""The uploaded file kept on disk for a re-run, rewritten without personal data, in its own format.

After an upload has run, its stored file is replaced by a copy in which every source column is handled as the run
handled it: a column the mapping loads gets its PII action (``MappingSpec.pii_action``: ``redact`` for free-text
fields, ``hash``, or ``keep`` for codes, ids and numbers, exactly as the loaded rows were), and every other text
(columns the mapping does not load, lines before the header, JSON outside the records) is redacted, as quarantined
rows are. A re-run of the copy therefore loads the same rows (redacting a placeholder or hashing a token changes
nothing) and keeps no more personal data than the database does.

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


class _Columns:
    """Each source column's action, and each distinct value scrubbed once."""

    def __init__(self, spec: MappingSpec, scrub: Scrub):
        self.spec, self.scrub, self.used = spec, scrub, spec.used_columns
        self.memo: dict[tuple[str, str], str] = {}

    def action(self, column: str | None) -> str:
        if column is None or (column not in self.used and column not in self.spec.pii):
            return "redact"  # never loaded: it only ever appears in quarantined rows, which are redacted
        action = self.spec.pii_action(column)
        return "redact" if action == "refuse" else action  # a refused file is deleted, not copied

    def text(self, value: str, column: str | None) -> str:
        action = self.action(column)
        if action == "keep" or not value:
            return value
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
    """Replace ``path`` by its copy without personal data (written next to it, then moved over it)."""
    path = Path(path)
    source = _format_for(path, spec.source)
    gz = _is_gzip(path, source)
    columns = _Columns(spec, scrub)
    opener = gzip.open if gz else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if source.format in ("csv", "tsv"):
        out = _csv(data, source, columns)
    elif source.format == "jsonl":
        out = _jsonl(data, source.encoding, columns)
    elif source.format == "json":
        out = _json(data, source, columns)
    elif source.format == "parquet":
        out = _parquet(data, columns)
    else:  # pragma: no cover - the spec refuses other formats
        raise ValueError(f"unsupported format {source.format!r}")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".redacting-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as raw:
            if gz:
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped:
                    zipped.write(out)
            else:
                raw.write(out)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _csv(data: bytes, source, columns: _Columns) -> bytes:
    text = data.decode(source.encoding)
    delimiter = "\t" if source.format == "tsv" else source.delimiter
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=source.quote)
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, quotechar=source.quote, lineterminator="\n")
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
    return out.getvalue().encode(source.encoding)


def _jsonl(data: bytes, encoding: str, columns: _Columns) -> bytes:
    lines = []
    for line in data.decode(encoding).splitlines():
        if not line.strip():
            lines.append(line)
            continue
        lines.append(json.dumps(columns.record(json.loads(line.lstrip("\ufeff"))), ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode(encoding)


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

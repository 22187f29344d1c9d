"""Read the head of an export into an ExportSample: format, compression, encoding and delimiter sniffed."""

from __future__ import annotations

import csv
import io
import json
import zlib
from pathlib import Path

from harmonization.suggest.base import ExportSample
from harmonization.suggest.values import guess_number_format

HEAD_BYTES = 256 * 1024  # of text: a sample never reads past it, however long a line is
GZIP_RATIO = 8  # compressed bytes read per byte of HEAD_BYTES: plenty for text, bounded for anything else
MAX_ROWS = 200


class SampleError(ValueError):
    """The file cannot be read as any supported export."""


def head_size(first_bytes: bytes) -> int:
    """How many bytes of a file to read for its sample: HEAD_BYTES of text, or GZIP_RATIO times that of gzip."""
    return HEAD_BYTES * GZIP_RATIO if first_bytes[:2] == b"\x1f\x8b" else HEAD_BYTES


def read_sample(path: str | Path, *, max_rows: int = MAX_ROWS, name: str | None = None) -> ExportSample:
    """A sample from the head of the file at ``path``; ``name`` (default: the file's name) is the one errors show."""
    path = Path(path)
    name = name or path.name
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return _parquet_sample(path, max_rows, name)
    with open(path, "rb") as fh:
        data = fh.read(head_size(head))
    return sample_from_bytes(data, name, max_rows=max_rows, truncated=path.stat().st_size > len(data))


def sample_from_bytes(
    data: bytes, file_name: str, *, max_rows: int = MAX_ROWS, truncated: bool = True,
    max_columns: int | None = None, limit_note: str = "",
) -> ExportSample:  # fmt: skip
    """A sample from the first bytes of a file (a partial gzip stream is fine; a partial last line is dropped).
    With ``max_columns``, a wider header is refused (SampleError) before it is split or suggested for."""
    compression = "none"
    if data[:2] == b"\x1f\x8b":
        compression = "gzip"
        try:
            # At most HEAD_BYTES out, whatever the input: a gzip bomb or a one-line file stops there.
            data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, HEAD_BYTES)
        except zlib.error:
            raise SampleError(f"{file_name}: starts like gzip but is not a valid gzip file") from None
        truncated = True
    if data[:4] == b"PAR1":
        return _parquet_sample(io.BytesIO(data), max_rows, file_name)
    encoding, text = _decode(data)
    if truncated and "\n" in text:
        text = text[: text.rstrip("\n").rfind("\n") + 1] or text
    name = file_name.lower().removesuffix(".gz")
    stripped = text.lstrip()
    if not stripped:
        raise SampleError(f"{file_name}: the file is empty")
    if max_columns is not None and stripped[0] not in "[{":
        _check_header_width(stripped, file_name, max_columns, limit_note)
    if stripped[0] in "[{":
        sample = _json_sample(stripped, file_name, name, max_rows, encoding)
        if sample is not None:
            if max_columns is not None and len(sample.headers) > max_columns:
                _refuse_width(file_name, len(sample.headers), max_columns, limit_note, more=False)
            return _with(sample, compression)
    if truncated and "\n" not in text:
        raise SampleError(
            f"{file_name}: no line break in the first {HEAD_BYTES // 1024:,} KiB; a line that long is not a header "
            "this page can read (is it one line of JSON, or a binary file?)"
        )
    try:
        return _with(_csv_sample(text, file_name, name, max_rows, encoding), compression)
    except csv.Error as exc:
        raise SampleError(f"{file_name}: not readable as CSV: {exc}") from None


def _check_header_width(text: str, file_name: str, max_columns: int, note: str) -> None:
    """The first line's columns counted by its most frequent delimiter (as ``_csv_sample`` picks it), on the bounded
    head only: a header of a million columns is refused in microseconds instead of being split and suggested for."""
    end = text.find("\n")
    line = text if end < 0 else text[:end]
    columns = max(line.count(d) for d in (",", ";", "|", "\t")) + 1
    if columns > max_columns:
        _refuse_width(file_name, columns, max_columns, note, more=end < 0)


def _refuse_width(file_name: str, columns: int, max_columns: int, note: str, *, more: bool) -> None:
    raise SampleError(
        f"{file_name}: the header has {'more than ' if more else ''}{columns:,} columns; at most {max_columns:,}"
        + (f" ({note})" if note else "")
    )


def _with(sample: ExportSample, compression: str) -> ExportSample:
    from dataclasses import replace

    return replace(sample, compression="gzip" if compression == "gzip" else "auto")


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", data[3:].decode("utf-8", errors="ignore")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", data.decode("utf-16", errors="ignore")
    try:
        return "utf-8", data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start > len(data) - 4:  # a multi-byte character cut by the head limit
            return "utf-8", data[: exc.start].decode("utf-8")
    # Latin-1 reads any byte; cp1252 is what Excel on Windows writes, and agrees with Latin-1 on letters.
    try:
        return "cp1252", data.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1", data.decode("latin-1")


def _csv_sample(text: str, file_name: str, name: str, max_rows: int, encoding: str) -> ExportSample:
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    header_line = lines[first]
    if name.endswith(".tsv") or header_line.count("\t") > max(header_line.count(","), header_line.count(";")):
        delimiter = "\t"
    else:
        counts = {d: header_line.count(d) for d in (",", ";", "|", "\t")}
        delimiter = max(counts, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            delimiter = ","
    reader = csv.reader(io.StringIO("\n".join(lines[first:])), delimiter=delimiter)
    rows = []
    headers: list[str] = []
    for i, row in enumerate(reader):
        if i == 0:
            headers = [h.strip() for h in row]
            continue
        if len(rows) >= max_rows:
            break
        if any(c.strip() for c in row):
            rows.append(tuple(row[: len(headers)]) + ("",) * (len(headers) - len(row)))
    if not headers:
        raise SampleError(f"{file_name}: no header row")
    fmt = "tsv" if delimiter == "\t" else "csv"
    decimal, thousands = guess_number_format([v for row in rows for v in row])
    return ExportSample(
        file_name=file_name,
        format=fmt,
        headers=tuple(headers),
        rows=tuple(rows),
        delimiter=delimiter if fmt == "csv" else None,
        encoding=encoding,
        decimal=decimal,
        thousands=thousands,
        header_row=first + 1,
    )


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _records_to_sample(records: list[dict], file_name: str, fmt: str, encoding: str, records_path=None):
    headers: list[str] = []
    for r in records:
        for k in r:
            if k not in headers:
                headers.append(k)
    rows = tuple(tuple(_cell(r.get(h)) for h in headers) for r in records)
    decimal, thousands = guess_number_format([v for row in rows for v in row])
    return ExportSample(
        file_name=file_name,
        format=fmt,
        headers=tuple(headers),
        rows=rows,
        encoding=encoding,
        decimal=decimal,
        thousands=thousands,
        records_path=records_path,
    )


def _find_records(obj, path: str = "") -> tuple[str | None, list[dict]] | None:
    if isinstance(obj, list) and obj and all(isinstance(r, dict) for r in obj[:20]):
        return (path or None), obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            found = _find_records(v, f"{path}.{k}" if path else k)
            if found is not None:
                return found
    return None


def _json_sample(text: str, file_name: str, name: str, max_rows: int, encoding: str) -> ExportSample | None:
    first_line = text.split("\n", 1)[0].strip()
    if first_line.startswith("{") and first_line.endswith("}") and "\n" in text.strip():
        records = []
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                break
            except RecursionError:
                raise SampleError(f"{file_name}: a JSON line is nested too deeply to be a row") from None
            if isinstance(obj, dict):
                records.append(obj)
            if len(records) >= max_rows:
                break
        if records:
            return _records_to_sample(records, file_name, "jsonl", encoding)
    try:
        obj = json.loads(text)
    except RecursionError:
        raise SampleError(f"{file_name}: the JSON is nested too deeply to hold rows") from None
    except json.JSONDecodeError:
        if name.endswith(".json"):
            raise SampleError(f"{file_name}: not complete JSON in the first {HEAD_BYTES // 1024} KiB") from None
        return None
    found = _find_records(obj)
    if found is None:
        raise SampleError(f"{file_name}: no array of row objects in the JSON")
    path, records = found
    return _records_to_sample(records[:max_rows], file_name, "json", encoding, path)


def _parquet_sample(source, max_rows: int, file_name: str) -> ExportSample:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(source)
        batch = next(pf.iter_batches(batch_size=max_rows), None)
    except (pa.ArrowException, OSError, ValueError) as exc:
        # The reason names no path: it may be shown to whoever uploaded the file.
        reason = str(exc).replace(str(source), file_name).split(". ")[0]
        raise SampleError(f"{file_name}: starts like Parquet but is not a readable Parquet file ({reason})") from None
    records = batch.to_pylist() if batch is not None else []
    name = file_name
    sample = _records_to_sample(records, name, "parquet", "utf-8")
    headers = tuple(pf.schema_arrow.names)
    if sample.headers != headers:
        rows = tuple(tuple(_cell(r.get(h)) for h in headers) for r in records)
        from dataclasses import replace

        sample = replace(sample, headers=headers, rows=rows)
    return sample

"""Chunked readers: a source file -> ``Chunk``s of source columns, each row with its line number.

Text formats are read with every column as a string, so number and date formats are parsed by the transform (the
mapping says what a decimal separator is, not pyarrow's guess). Parquet and JSON keep their native numbers.
The reader opens the file and reads the first chunk on construction, so a file that cannot be read at all (bad
encoding in the first block, not JSON, an unusable header) raises ``SourceError`` before anything is written.
"""

from __future__ import annotations

import codecs
import csv
import functools
import gzip
import io
import json
import os
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from .limits import NO_LIMITS, InputLimits
from .spec import SourceSpec

HEADER_PEEK_BYTES = 1 << 16
# A header line must end within this many (decompressed) bytes: the header is never read further, nor split whole.
HEADER_MAX_BYTES = 1 << 20


class SourceError(ValueError):
    """The input cannot be read at all; the message names the problem."""


@dataclass
class Chunk:
    table: pa.Table  # source columns
    lines: np.ndarray  # int64, 1-based source line (csv/tsv/jsonl) or record index (json/parquet) per row
    bytes_read: int
    # rows the reader could not split into columns: (line, reason, raw {column: text})
    broken: list[tuple[int, str, dict]] = field(default_factory=list)
    # the full source rows of some lines, {line: {column: text}}, when the table holds only the mapped columns
    full_rows: Callable[[list[int]], dict[int, dict]] | None = None


class LineFetcher:
    """Reads whole source lines by number on a second handle, for the raw values of quarantined rows.

    Quarantined lines come in increasing order, so the file is scanned forward at most once per run (and only when
    something is quarantined); whole blocks are skipped by counting newlines.
    """

    BLOCK = 1 << 22

    def __init__(self, path: Path, gz: bool, encoding: str, delimiter: str, quote: str, columns: list[str]):
        self.path, self.gz, self.encoding = path, gz, encoding
        self.delimiter, self.quote, self.columns = delimiter, quote, columns
        self.file = None
        self.line = 1  # number of the line that starts at buf[0]
        self.buf = b""

    def _reset(self) -> None:
        self.close()
        self.file = gzip.open(self.path, "rb") if self.gz else open(self.path, "rb")  # noqa: SIM115 - close()
        self.line, self.buf = 1, b""

    def _text(self, number: int) -> bytes | None:
        if self.file is None or number < self.line:
            self._reset()
        while True:
            skip = number - self.line
            newlines = self.buf.count(b"\n")
            if newlines > skip:
                parts = self.buf.split(b"\n", skip + 1)
                self.buf = parts[-1] if len(parts) > skip + 1 else b""
                self.line = number + 1
                return parts[skip].rstrip(b"\r")
            block = self.file.read(self.BLOCK)
            if not block:
                if skip == newlines and self.buf:  # the last line, without a final newline
                    text, self.buf, self.line = self.buf, b"", number + 1
                    return text.rstrip(b"\r")
                return None
            if newlines:
                cut = self.buf.rfind(b"\n") + 1
                self.line += newlines
                self.buf = self.buf[cut:]
            self.buf += block

    def __call__(self, numbers: list[int]) -> dict[int, dict]:
        out = {}
        for number in sorted(set(numbers)):
            text = self._text(number)
            if text is None:
                continue
            try:
                values = next(csv.reader([text.decode(self.encoding)], delimiter=self.delimiter, quotechar=self.quote))
            except (UnicodeDecodeError, StopIteration, csv.Error):
                continue
            out[number] = dict(zip(self.columns, values, strict=False))
        return out

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _is_gzip(path: Path, spec: SourceSpec) -> bool:
    if spec.compression == "gzip":
        return True
    if spec.compression == "none":
        return False
    if path.suffix.lower() == ".gz":
        return True
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _first_bad_byte(path: Path, encoding: str, gz: bool) -> tuple[int, str] | None:
    """Offset (in the decompressed text) and the bytes of the first sequence that does not decode."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    opener = gzip.open if gz else open
    with opener(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                return offset + exc.start, exc.object[exc.start : exc.start + 4].hex(" ")
            if not block:
                return None
            offset += len(block)


def _encoding_error(path: Path, spec: SourceSpec, gz: bool) -> SourceError:
    found = _first_bad_byte(path, spec.encoding, gz)
    where = f" at byte {found[0]} (bytes {found[1]})" if found else ""
    return SourceError(f"{path.name}: not valid {spec.encoding}{where} (declared encoding {spec.encoding})")


def _guess_delimiter(line: str, declared: str) -> str | None:
    counts = {d: line.count(d) for d in (",", ";", "\t", "|") if d != declared}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else None


def header_width(text: str, *, delimiter: str, quote: str, header_row: int = 1) -> tuple[int, bool] | None:
    """Columns of line ``header_row`` of ``text``, counted (delimiters outside quotes, plus one) without splitting
    the line, and whether the line ends within ``text``; None when ``text`` does not reach that line."""
    start = 0
    for _ in range(header_row - 1):
        newline = text.find("\n", start)
        if newline < 0:
            return None
        start = newline + 1
    end = text.find("\n", start)
    line = text[start : len(text) if end < 0 else end]
    if quote and quote in line:
        # outside quotes are the even pieces between quote characters (a doubled quote inside a field is an empty
        # odd piece, so it counts right too)
        count = sum(piece.count(delimiter) for piece in line.split(quote)[::2])
    else:
        count = line.count(delimiter)
    return count + 1, end >= 0


def check_header_width(stream, spec: SourceSpec, *, name: str, limits: InputLimits) -> None:
    """Refuse a CSV/TSV whose header has more than ``limits.max_columns`` columns, reading at most
    HEADER_MAX_BYTES of ``stream`` (a binary file object at its start; gzip is decompressed, to that many bytes at
    most), counting without splitting. Other formats, or no column limit: nothing to check here (the run checks
    their columns when it opens them). The caller rewinds the stream."""
    if spec.format not in ("csv", "tsv") or limits.max_columns is None:
        return
    head = stream.read(2)
    gz = spec.compression == "gzip" or (spec.compression == "auto" and (head == b"\x1f\x8b" or
                                                                          name.lower().endswith(".gz")))  # fmt: skip
    if gz:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data, raw = b"", head
        try:
            while len(data) < HEADER_MAX_BYTES:
                data += decompressor.decompress(raw, HEADER_MAX_BYTES - len(data))
                raw = decompressor.unconsumed_tail or stream.read(1 << 16)
                if not raw or decompressor.eof:
                    break
        except zlib.error as exc:
            raise SourceError(f"{name}: not a readable gzip file ({exc})") from None
    else:
        data = head + stream.read(HEADER_MAX_BYTES - len(head))
    text = data.decode(spec.encoding, errors="replace").lstrip("\ufeff")
    delimiter = "\t" if spec.format == "tsv" else spec.delimiter
    found = header_width(text, delimiter=delimiter, quote=spec.quote, header_row=spec.header_row)
    if found is not None:
        _refuse_wide_header(name, *found, limits=limits, complete_text=len(data) < HEADER_MAX_BYTES)


def _refuse_wide_header(name: str, columns: int, ended: bool, *, limits: InputLimits, complete_text: bool) -> None:
    if limits.max_columns is not None and columns > limits.max_columns:
        more = "" if ended or complete_text else "more than "
        raise SourceError(
            f"{name}: the header has {more}{columns:,} columns; at most {limits.max_columns:,}{limits.why_columns()}"
        )
    if not ended and not complete_text:
        raise SourceError(
            f"{name}: the header line does not end within the first {HEADER_MAX_BYTES // 1024:,} KiB; is this a "
            "text export with one header line?"
        )


@functools.cache
def _csv_memory_pool() -> pa.MemoryPool | None:
    """jemalloc for the CSV reader's blocks where pyarrow has it (None: the default pool).

    The default pool (mimalloc) hands the freed blocks back to the system and faults them in again for the next
    ones: on a 1M-row Amazon file that cost 0.4-0.7 s of system time against 0.2-0.3 s with jemalloc, and 0.1-0.2 s
    of wall time on two cores.
    """
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:  # pragma: no cover - a pyarrow built without jemalloc
        return None


class _Throttle(io.RawIOBase):
    """A read-only stream that lets pyarrow's CSV reader run at most a few blocks ahead of the consumer.

    The streaming reader prefetches blocks on its I/O threads as fast as the disk allows; with a slower consumer it
    would buffer most of the file. Reads past ``(batches consumed + AHEAD) * block`` wait until ``advance``.
    """

    AHEAD = 3

    def __init__(self, inner: pa.NativeFile, block: int):
        super().__init__()
        self.inner = inner
        self.block = block
        self.done = 0
        self.position = 0
        self.stopped = False
        self.cond = threading.Condition()
        # Line breaks seen, the physical numbers of blank lines (the CSV parser skips them and numbers rows without
        # them), and the last bytes read (a blank line may straddle two reads; a file cut short ends without a break)
        self.newlines = 0
        self.blank_lines: list[int] = []
        self.tail = b""
        self.last_break = -10  # offset of the last line break read

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.position

    def read(self, size: int = -1) -> bytes:
        with self.cond:
            while not self.stopped and self.position >= (self.done + self.AHEAD) * self.block:
                self.cond.wait(1.0)
        data = self.inner.read(size) if size is not None and size >= 0 else self.inner.read()
        self.position += len(data)
        if data:
            self._note_lines(data)
        return data

    def _note_lines(self, data: bytes) -> None:
        """Count line breaks and note blank lines ("\\n\\n" or "\\n\\r\\n", also across two reads), in numpy: a
        few milliseconds per 4 MB block where bytes.find and count took tens."""
        buf = np.frombuffer(data, np.uint8)
        at = np.flatnonzero(buf == 10) + self.position - len(data)  # absolute offsets of the line breaks
        if len(at):
            gaps = np.diff(np.concatenate(([self.last_break], at)))
            blank = gaps == 1
            two = np.flatnonzero(gaps == 2)
            if len(two):
                between = at[two] - 1 - (self.position - len(data))
                cr = np.where(between >= 0, buf[np.maximum(between, 0)], self.tail[-1] if self.tail else 0) == 13
                blank[two[cr]] = True
            hits = np.flatnonzero(blank)
            if len(hits):
                self.blank_lines.extend((self.newlines + hits + 1).tolist())
            self.newlines += len(at)
            self.last_break = int(at[-1])
        self.tail = (self.tail + data[-2:])[-2:]

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def advance(self) -> None:
        with self.cond:
            self.done += 1
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


class Reader:
    columns: list[str]
    bytes_total: int
    # The rows the file holds, when known before reading them (Parquet metadata, a loaded JSON document), else None.
    rows_total: int | None = None

    @property
    def rows_bound(self) -> int | None:
        """At most this many rows can come (None: no bound known, e.g. a gzip stream)."""
        return self.rows_total

    def close(self) -> None:
        """Release what the reader holds beyond its chunk iterator (called once the run is over)."""

    def __iter__(self) -> Iterator[Chunk]:  # pragma: no cover - interface
        raise NotImplementedError

    def delimiter_hint(self) -> str:
        return ""


class CsvReader(Reader):
    """CSV/TSV through pyarrow's streaming reader.

    Only the columns the mapping reads are converted (``columns``; all when None): converting the others costs about
    a third of the parse. A quarantined row gets its full source row back through ``LineFetcher``. Blank lines are
    skipped (pyarrow's default); the stream notes where they are as it passes, so every row and broken row carries its
    physical line number (a quoted value spanning several lines still counts as one).
    """

    BLOCK_MIN = 1 << 20
    BLOCK_MAX = 4 << 20
    # set once the file is read: why it looks cut short (the run then refuses it), else None
    truncated: str | None = None
    _last_columns = 0

    def __init__(self, path: Path, spec: SourceSpec, chunk_rows: int, columns: Collection[str] | None = None,
                 limits: InputLimits = NO_LIMITS):  # fmt: skip
        self.path = path
        self.spec = spec
        self.chunk_rows = chunk_rows
        self.limits = limits
        self.gz = _is_gzip(path, spec)
        self.bytes_total = path.stat().st_size
        self.delimiter = "\t" if spec.format == "tsv" else spec.delimiter
        self.columns, self._header_text, avg_row = self._read_header()
        # broken rows found by the parser; pyarrow may call the handler on its own thread, ahead of the batch we read
        self._broken: list[tuple[int, str, dict]] = []
        self._broken_lock = threading.Lock()
        wanted = [c for c in self.columns if columns is None or c in columns]
        self.include = wanted or self.columns[:1]
        # quarantined rows get their full source row back by line number; not for encodings where a newline is not
        # the byte 0x0a (UTF-16/32)
        single_byte_newline = "\n".encode(spec.encoding) == b"\n"
        self.fetcher = (
            LineFetcher(path, self.gz, spec.encoding, self.delimiter, spec.quote, self.columns)
            if len(self.include) < len(self.columns) and single_byte_newline
            else None
        )
        # pyarrow parses block by block; a chunk is assembled from consecutive blocks (see _chunks). Small blocks
        # parse faster (they stay in cache) and the first chunk is ready after one block, not after chunk_rows rows
        self.block_size = int(min(self.BLOCK_MAX, max(self.BLOCK_MIN, chunk_rows * avg_row * 1.05)))
        self._iter = self._chunks()
        self._first = next(self._iter, None)

    @property
    def rows_bound(self) -> int | None:
        # Each row is a non-empty line: at least one byte and its line break (blank lines are skipped), so a plain
        # file holds at most half its size in rows; a gzip stream's size says nothing.
        return None if self.gz else self.bytes_total // 2 + 1

    def _read_header(self) -> tuple[list[str], str, float]:
        opener = gzip.open if self.gz else open
        wanted = HEADER_PEEK_BYTES
        try:
            with opener(self.path, "rb") as f:
                head = f.read(wanted)
                if len(head) == wanted and head.count(b"\n") < self.spec.header_row:
                    wanted = HEADER_MAX_BYTES  # a wide header: read on to its end, within the bound
                    head += f.read(wanted - len(head))
        except (OSError, EOFError) as exc:
            raise SourceError(f"{self.path.name}: cannot read the file ({exc})") from None
        complete = len(head) < wanted
        decoder = codecs.getincrementaldecoder(self.spec.encoding)("strict")
        try:
            text = decoder.decode(head, final=complete)
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{self.path.name}: not valid {self.spec.encoding} at byte {exc.start} "
                f"(bytes {head[exc.start : exc.start + 4].hex(' ')}) (declared encoding {self.spec.encoding})"
            ) from None
        text = text.lstrip("\ufeff")
        if "\x00" in text:
            raise SourceError(
                f"{self.path.name}: the text contains NUL characters; is the encoding utf-16 "
                f"(declared encoding {self.spec.encoding})?"
            )
        # counted before anything splits the header: a million-column line is refused here, not parsed
        found = header_width(text, delimiter=self.delimiter, quote=self.spec.quote, header_row=self.spec.header_row)
        if found is not None:
            _refuse_wide_header(self.path.name, *found, limits=self.limits, complete_text=complete)
        rows = csv.reader(io.StringIO(text), delimiter=self.delimiter, quotechar=self.spec.quote)
        header = None
        for i, row in enumerate(rows, start=1):
            if i == self.spec.header_row:
                header = row
                break
        if not header or not any(h.strip() for h in header):
            raise SourceError(f"{self.path.name}: no header on line {self.spec.header_row}")
        header = [h.strip() for h in header]
        dupes = sorted(h for h, n in Counter(header).items() if n > 1)
        if dupes:
            raise SourceError(f"{self.path.name}: column(s) {', '.join(dupes)} appear more than once in the header")
        lines = text.splitlines()
        sample = lines[self.spec.header_row : self.spec.header_row + 200]
        avg = (sum(len(s) for s in sample) / len(sample) + 1) if sample else 100.0
        header_line = lines[self.spec.header_row - 1] if len(lines) >= self.spec.header_row else ""
        return header, header_line, avg

    def close(self) -> None:
        if self.fetcher is not None:
            self.fetcher.close()

    def delimiter_hint(self) -> str:
        if len(self.columns) > 1:
            return ""
        guess = _guess_delimiter(self._header_text, self.delimiter)
        return f": is the delimiter {guess!r}?" if guess else ""

    def _handler(self, row: pacsv.InvalidRow) -> str:
        if row.number is None:  # pragma: no cover - only with threaded parsing
            return "error"
        values = next(csv.reader([row.text], delimiter=self.delimiter, quotechar=self.spec.quote), [])
        raw = dict(zip(self.columns, values, strict=False))
        if len(values) > len(self.columns):
            raw["_extra"] = self.delimiter.join(values[len(self.columns) :])
        reason = f"row has {row.actual_columns} columns, the header has {row.expected_columns}"
        self._last_columns = row.actual_columns
        with self._broken_lock:
            self._broken.append((row.number, reason, raw))
        return "skip"

    def _open(self) -> tuple[pa.NativeFile, _Throttle]:
        raw = pa.OSFile(str(self.path), "rb")
        stream = pa.CompressedInputStream(raw, "gzip") if self.gz else raw
        return raw, _Throttle(stream, self.block_size)

    def _chunks(self) -> Iterator[Chunk]:
        raw, throttle = self._open()
        spec = self.spec
        try:
            reader = pacsv.open_csv(
                pa.PythonFile(throttle, mode="r"),
                read_options=pacsv.ReadOptions(
                    column_names=self.columns,
                    skip_rows=spec.header_row,
                    encoding=spec.encoding,
                    block_size=self.block_size,
                    # serial parsing gives each broken row its line number
                    use_threads=False,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter,
                    quote_char=spec.quote,
                    ignore_empty_lines=True,
                    invalid_row_handler=self._handler,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in self.include},
                    include_columns=self.include,
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                    null_values=[""],
                ),
                memory_pool=_csv_memory_pool(),
            )
        except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as exc:
            raw.close()
            raise self._translate(exc) from None
        row_index = 0  # rows the reader produced so far
        skipped: list[int] = []  # physical lines of broken rows, sorted

        def emit(table: pa.Table) -> Chunk:
            nonlocal row_index
            n = table.num_rows
            idx = np.arange(row_index, row_index + n, dtype=np.int64)
            row_index += n
            lines = spec.header_row + 1 + idx
            if skipped:
                # the j-th broken line falls before row index (line_j - header_row - 1 - j)
                pos = np.asarray(skipped, dtype=np.int64) - spec.header_row - 1 - np.arange(len(skipped))
                lines = lines + np.searchsorted(pos, idx, side="right")
            lines = physical(lines)
            broken = [(int(physical(np.array([line]))[0]), reason, values) for line, reason, values in found]
            found.clear()
            return Chunk(table, lines, raw.tell(), broken, self.fetcher)

        def physical(numbers: np.ndarray) -> np.ndarray:
            """Line numbers that skip blank lines (the parser's) -> lines of the file: the j-th blank line (0-based)
            at line b_j comes before every non-blank line numbered b_j - j or more."""
            blank = throttle.blank_lines
            if not blank:
                return numbers
            b = np.asarray(blank, dtype=np.int64)
            return numbers + np.searchsorted(b - np.arange(len(b)), numbers, side="right")

        # Chunks are cut from consecutive blocks: up to chunk_rows rows, zero copy (a column then holds one Arrow chunk
        # per block). The first chunk is one block and each next one twice the last, up to chunk_rows, so the
        # transform starts after one block instead of waiting for chunk_rows rows to be parsed.
        found: list[tuple[int, str, dict]] = []  # broken rows taken from the handler, not yet handed out

        def take_broken() -> None:
            # every broken row before the end of the batch just read has been reported by now (later ones may be
            # too); their lines go into ``skipped`` before any row after them is numbered
            with self._broken_lock:
                new, self._broken = self._broken, []
            skipped.extend(line for line, _, _ in new if not skipped or line > skipped[-1])
            found.extend(new)

        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        target = 0

        def cut(final: bool) -> Iterator[Chunk]:
            nonlocal pending, pending_rows, target
            while pending_rows and (final or pending_rows >= target):
                table = pa.Table.from_batches(pending)
                size = min(pending_rows, target or self.chunk_rows)
                yield emit(table.slice(0, size))
                rest = table.slice(size)
                pending, pending_rows = rest.to_batches(), rest.num_rows
                target = min(self.chunk_rows, 2 * target)
            if found and (final or not pending_rows):
                yield emit(reader.schema.empty_table())

        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as exc:
                    raise self._translate(exc) from None
                finally:
                    throttle.advance()
                take_broken()
                if batch.num_rows:
                    pending.append(batch)
                    pending_rows += batch.num_rows
                    if not target:
                        target = min(self.chunk_rows, batch.num_rows)
                yield from cut(final=False)
            take_broken()
            self._check_end(throttle, skipped, physical)
            yield from cut(final=True)
        finally:
            throttle.stop()
            raw.close()

    def _check_end(self, throttle: _Throttle, skipped: list[int], physical: Callable) -> None:
        """A file cut mid-row: its last line has too few columns and no line break after it."""
        if not skipped or throttle.tail.endswith((b"\n", b"\r")) or not throttle.position:
            return
        last = int(physical(np.array([skipped[-1]]))[0])
        if last == throttle.newlines + 1:
            self.truncated = (
                f"the last line ({last:,}) stops after {self._last_columns} of {len(self.columns)} columns with no "
                "line break: the download or copy was cut short. Nothing was loaded; fetch the file again."
            )

    def _translate(self, exc: Exception) -> SourceError:
        text = str(exc)
        if "truncated compressed" in text.lower():
            return SourceError(
                f"{self.path.name} looks truncated: the gzip stream ends early ({text}): the download or copy was "
                "cut short. Nothing was loaded; fetch the file again."
            )
        if isinstance(exc, OSError) and not isinstance(exc, pa.ArrowInvalid):
            return SourceError(f"{self.path.name}: cannot read the file ({text})")
        if isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "decode" in text.lower():
            return _encoding_error(self.path, self.spec, self.gz)
        return SourceError(f"{self.path.name}: cannot parse as {self.spec.format}: {text.splitlines()[0]}")

    def __iter__(self) -> Iterator[Chunk]:
        if self._first is not None:
            yield self._first
            yield from self._iter


def _flatten(record: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _records_table(records: list[dict], columns: list[str]) -> pa.Table:
    arrays = []
    for name in columns:
        values = [r.get(name) for r in records]
        kinds = {type(v) for v in values if v is not None}
        if kinds <= {str}:
            arrays.append(pa.array(values, pa.string()))
        elif kinds <= {int, float} and bool not in kinds:
            try:
                arrays.append(pa.array(values))
            except (pa.ArrowInvalid, OverflowError):
                arrays.append(pa.array([_text(v) for v in values], pa.string()))
        else:
            arrays.append(pa.array([_text(v) for v in values], pa.string()))
    return pa.Table.from_arrays(arrays, names=columns) if columns else pa.table({})


class JsonLinesReader(Reader):
    """JSON Lines in blocks of whole lines.

    A UTF-8 block goes through pyarrow's JSON reader (nested objects flattened to ``a.b`` columns, the date column
    kept as text). A block it refuses (a broken line, a value that changes type, a blank line that would shift the
    line numbers, a text column it would read as a timestamp) is parsed line by line in Python instead, which
    quarantines just the broken lines.
    """

    def __init__(self, path: Path, spec: SourceSpec, chunk_rows: int, columns: Collection[str] | None = None,
                 date_column: str | None = None):  # fmt: skip
        self.path = path
        self.spec = spec
        self.chunk_rows = chunk_rows
        self.gz = _is_gzip(path, spec)
        self.bytes_total = path.stat().st_size
        self.columns: list[str] = []
        self._seen: set[str] = set()
        self.used = set(columns) if columns is not None else None
        self.date_column = date_column
        self.fast = codecs.lookup(spec.encoding).name in ("utf-8", "utf-8-sig")
        self._iter = self._chunks()
        self._first = next(self._iter, None)
        if self._first is not None and self._first.table.num_rows == 0 and self._first.broken:
            line, reason, _ = self._first.broken[0]
            raise SourceError(f"{self.path.name}: not JSON lines: line {line}: {reason}")

    @property
    def rows_bound(self) -> int | None:
        return None if self.gz else self.bytes_total // 2 + 1  # as CsvReader: a row is a non-empty line

    def _note(self, names: Iterable[str]) -> None:
        for key in names:
            if key not in self._seen:
                self._seen.add(key)
                self.columns.append(key)

    def _blocks(self, f) -> Iterator[bytes]:
        head = f.read(1 << 16)
        if not head:
            return
        lines = max(1, head.count(b"\n"))
        size = int(min(64 << 20, max(1 << 16, len(head) / lines * self.chunk_rows)))
        pending = head
        while True:
            more = f.read(size)
            if not more:
                if pending:
                    yield pending
                return
            pending += more
            cut = pending.rfind(b"\n")
            if cut >= 0:
                block, pending = pending[: cut + 1], pending[cut + 1 :]
                yield block

    def _fast(self, block: bytes) -> pa.Table | None:
        # a blank line would be skipped by pyarrow and shift the line numbers: the row count check below sees it
        if not self.fast or block.startswith(b"\xef\xbb\xbf"):
            return None
        schema = pa.schema([(self.date_column, pa.string())]) if self.date_column else None
        try:
            table = pajson.read_json(
                io.BytesIO(block),
                read_options=pajson.ReadOptions(block_size=max(1 << 20, len(block) + 1)),
                parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        while any(pa.types.is_struct(t) for t in table.schema.types):
            table = table.flatten()
        expected = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        if table.num_rows != expected:
            return None
        for name, type_ in zip(table.column_names, table.schema.types, strict=True):
            if (self.used is None or name in self.used) and (pa.types.is_timestamp(type_) or pa.types.is_date(type_)):
                return None  # keep the text: the mapping's date format, not pyarrow's guess, reads it
            if pa.types.is_large_string(type_):
                table = table.set_column(table.column_names.index(name), name, table[name].cast(pa.string()))
        return table

    def _slow(self, block: bytes, first: int) -> tuple[list[dict], list[int], list[tuple[int, str, dict]]]:
        decode = codecs.getdecoder(self.spec.encoding)
        records: list[dict] = []
        lines: list[int] = []
        broken: list[tuple[int, str, dict]] = []
        parts = block.split(b"\n")
        if parts and parts[-1] == b"":
            parts.pop()
        for number, line in enumerate(parts, start=first):
            try:
                text = decode(line)[0]
            except UnicodeDecodeError as exc:
                if number == 1:
                    raise SourceError(
                        f"{self.path.name}: not valid {self.spec.encoding} on line 1 at byte {exc.start} "
                        f"(declared encoding {self.spec.encoding})"
                    ) from None
                broken.append((number, f"not valid {self.spec.encoding}", {"_text": repr(line[:200])}))
                continue
            text = text.strip().lstrip("\ufeff")
            if not text:
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                broken.append((number, f"not valid JSON ({exc.msg} at column {exc.colno})", {"_text": text[:500]}))
                continue
            if not isinstance(record, dict):
                broken.append((number, "not a JSON object", {"_text": text[:500]}))
                continue
            record = _flatten(record)
            self._note(record)
            records.append(record)
            lines.append(number)
        return records, lines, broken

    def _chunks(self) -> Iterator[Chunk]:
        raw = open(self.path, "rb")  # noqa: SIM115 - closed in finally, the generator owns it
        f = gzip.GzipFile(fileobj=raw) if self.gz else raw
        try:
            first = 1
            for block in self._blocks(f):
                count = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
                table = self._fast(block)
                if table is not None:
                    self._note(table.column_names)
                    for start in range(0, table.num_rows, self.chunk_rows):
                        part = table.slice(start, self.chunk_rows)
                        lines = np.arange(first + start, first + start + part.num_rows, dtype=np.int64)
                        yield Chunk(part, lines, raw.tell())
                else:
                    records, lines, broken = self._slow(block, first)
                    for start in range(0, max(len(records), 1), self.chunk_rows):
                        part = records[start : start + self.chunk_rows]
                        if part or broken:
                            yield Chunk(
                                _records_table(part, self.columns),
                                np.array(lines[start : start + self.chunk_rows], np.int64),
                                raw.tell(),
                                broken,
                            )
                            broken = []
                first += count
        except (OSError, EOFError) as exc:
            raise SourceError(f"{self.path.name}: cannot read the file ({exc})") from None
        finally:
            raw.close()

    def __iter__(self) -> Iterator[Chunk]:
        if self._first is not None:
            yield self._first
            yield from self._iter


class JsonReader(Reader):
    """A JSON document holding an array of row objects (at ``records_path``); the document is loaded whole."""

    def __init__(self, path: Path, spec: SourceSpec, chunk_rows: int):
        self.path = path
        self.chunk_rows = chunk_rows
        self.bytes_total = path.stat().st_size
        opener = gzip.open if _is_gzip(path, spec) else open
        try:
            with opener(path, "rb") as f:
                data = f.read()
        except (OSError, EOFError) as exc:
            raise SourceError(f"{path.name}: cannot read the file ({exc})") from None
        try:
            text = data.decode(spec.encoding)
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{path.name}: not valid {spec.encoding} at byte {exc.start} (declared encoding {spec.encoding})"
            ) from None
        try:
            doc = json.loads(text.lstrip("\ufeff"))
        except json.JSONDecodeError as exc:
            raise SourceError(f"{path.name}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        node = doc
        if spec.records_path:
            for part in spec.records_path.split("."):
                if not isinstance(node, dict) or part not in node:
                    raise SourceError(f"{path.name}: records_path {spec.records_path!r}: no key {part!r}")
                node = node[part]
        if not isinstance(node, list):
            where = f"at {spec.records_path!r}" if spec.records_path else "at the top (set source.records_path)"
            raise SourceError(f"{path.name}: expected an array of row objects {where}, found {type(node).__name__}")
        self.records = node
        self.rows_total = len(node)
        self.columns = []
        seen: set[str] = set()
        for record in node[:1000]:
            if isinstance(record, dict):
                for key in _flatten(record):
                    if key not in seen:
                        seen.add(key)
                        self.columns.append(key)

    def __iter__(self) -> Iterator[Chunk]:
        total = len(self.records)
        for start in range(0, total, self.chunk_rows):
            part = self.records[start : start + self.chunk_rows]
            records, lines, broken = [], [], []
            for i, record in enumerate(part, start=start + 1):
                if not isinstance(record, dict):
                    broken.append((i, "not a JSON object", {"_text": json.dumps(record)[:500]}))
                    continue
                flat = _flatten(record)
                for key in flat:
                    if key not in self.columns:
                        self.columns.append(key)
                records.append(flat)
                lines.append(i)
            done = min(total, start + self.chunk_rows)
            yield Chunk(
                _records_table(records, self.columns),
                np.array(lines, np.int64),
                int(self.bytes_total * done / total) if total else self.bytes_total,
                broken,
            )


class ParquetReader(Reader):
    """Parquet in row batches; only the columns the mapping reads are decoded (``columns``; all when None)."""

    def __init__(self, path: Path, spec: SourceSpec, chunk_rows: int, columns: Collection[str] | None = None):
        self.path = path
        self.chunk_rows = chunk_rows
        self.bytes_total = path.stat().st_size
        try:
            self.file = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(f"{path.name}: not a Parquet file ({exc})") from None
        self.columns = list(self.file.schema_arrow.names)
        self.rows_total = self.file.metadata.num_rows
        self.include = [c for c in self.columns if columns is None or c in columns] or None

    def __iter__(self) -> Iterator[Chunk]:
        total = self.file.metadata.num_rows
        done = 0
        for batch in self.file.iter_batches(batch_size=self.chunk_rows, columns=self.include):
            table = pa.Table.from_batches([batch])
            cols = []
            for col in table.columns:
                t = col.type
                if pa.types.is_dictionary(t):
                    col = col.cast(t.value_type)
                if pa.types.is_large_string(col.type):
                    col = col.cast(pa.string())
                cols.append(col)
            table = pa.Table.from_arrays(cols, names=table.column_names)
            lines = np.arange(done + 1, done + 1 + table.num_rows, dtype=np.int64)
            done += table.num_rows
            yield Chunk(table, lines, int(self.bytes_total * done / total) if total else self.bytes_total)


FORMAT_NAMES = {"csv": "CSV", "tsv": "TSV", "json": "JSON", "jsonl": "JSON lines", "parquet": "Parquet"}


def sniff_format(path: Path, spec: SourceSpec) -> str | None:
    """What the file's first bytes say it is (decompressed when gzipped): parquet, json (an array, or an object
    spanning lines), jsonl (one object per line), text (csv or tsv); None when they say nothing sure (unreadable,
    empty, one line holding one object)."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic == b"PAR1":
            return "parquet"
        opener = gzip.open if _is_gzip(path, spec) else open
        with opener(path, "rb") as f:
            head = f.read(HEADER_PEEK_BYTES)
    except (OSError, EOFError, zlib.error):
        return None
    for bom in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if head.startswith(bom):
            return None if bom != codecs.BOM_UTF8 else _sniff_text(head[len(bom) :])
    return _sniff_text(head)


def _sniff_text(head: bytes) -> str | None:
    text = head.lstrip()
    if not text or b"\x00" in text[:256]:
        return None
    if text[:1] == b"[" and text[1:].lstrip()[:1] in (b"{", b"]"):
        return "json"
    if text[:1] == b"{" and text[1:].lstrip()[:1] in (b'"', b"}"):
        lines = [line.strip() for line in text.split(b"\n")[:3] if line.strip()]
        complete = text.endswith(b"\n") or len(head) < HEADER_PEEK_BYTES
        whole = lines if complete else lines[:-1]
        if lines[0] == b"{":
            return "json"  # a document printed over several lines
        parsed = 0
        for line in whole[:2]:
            try:
                parsed += isinstance(json.loads(line), dict)
            except (json.JSONDecodeError, UnicodeDecodeError):
                return None
        return "jsonl" if parsed >= 2 else None
    first = text.split(b"\n", 1)[0]
    return "text" if any(d in first for d in (b",", b";", b"\t", b"|")) else None


def _format_for(path: Path, spec: SourceSpec) -> SourceSpec:
    """The spec to read ``path`` with: the declared format that fits what the file looks like. A file that looks
    like something the mapping does not read is one short error, not a parse of JSON as CSV columns."""
    found = sniff_format(path, spec)
    if found == "text":
        pick = next((f for f in spec.accepted if f in ("csv", "tsv")), None)
    else:
        pick = found if found in spec.accepted else None
    if found is None:
        pick = spec.format  # nothing sure: the first declared reader reads it and says what is wrong
    if pick is None:
        looks = "CSV or TSV text" if found == "text" else FORMAT_NAMES[found]
        reads = " or ".join(FORMAT_NAMES[f] for f in spec.accepted)
        raise SourceError(f"{path.name}: this file looks like {looks}; the mapping reads {reads}")
    return spec if pick == spec.format and not spec.formats else replace(spec, format=pick, formats=())


def open_source(
    path: str | os.PathLike,
    spec: SourceSpec,
    chunk_rows: int,
    columns: Collection[str] | None = None,
    date_column: str | None = None,
    limits: InputLimits = NO_LIMITS,
) -> Reader:
    """Open a reader; ``columns`` (the ones the mapping reads) lets a text reader skip converting the others.
    ``limits.max_columns`` bounds a CSV/TSV header before it is split (the run checks the other formats)."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    spec = _format_for(path, spec)
    if spec.format in ("csv", "tsv"):
        return CsvReader(path, spec, chunk_rows, columns, limits)
    if spec.format == "jsonl":
        return JsonLinesReader(path, spec, chunk_rows, columns, date_column)
    if spec.format == "json":
        return JsonReader(path, spec, chunk_rows)
    if spec.format == "parquet":
        return ParquetReader(path, spec, chunk_rows, columns)
    raise SourceError(f"unsupported format {spec.format!r}")  # pragma: no cover - the spec refuses others

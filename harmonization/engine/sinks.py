"""Where harmonized chunks go: the Sink protocol, a Parquet file sink and a streaming quarantine CSV writer."""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import queue
import threading
import uuid
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .keys import key_hash
from .schema import HARMONIZED_SCHEMA, QUARANTINE_SCHEMA
from .transform import aggregate

# rows of harmonized output aggregated in memory at once when a run has to be summed again on commit
MERGE_BUCKET_ROWS = 1_000_000
COMPRESSION = "snappy"
# low-cardinality columns worth dictionary pages; per-row ids (sku_ref) only slow the writer down
DICTIONARY_COLUMNS = ["date", "retailer", "campaign_id", "campaign_name", "placement_type", "attribution_window_days",
                      "attribution_model", "currency", "original_currency", "fx_rate"]  # fmt: skip


@runtime_checkable
class Sink(Protocol):
    def write(self, table: pa.Table) -> None: ...

    def quarantine(self, table: pa.Table) -> None: ...

    def commit(self, report) -> None: ...

    def abort(self) -> None: ...

    # Optional: ``refuse(report)``, called instead of ``abort`` when the batch fails its quality thresholds, for a
    # sink that keeps the quarantined rows of a refused batch (ParquetSink).


class QuarantineCsvWriter:
    """Quarantined rows as CSV: line, field, reason, then the raw source columns (from the row's JSON).

    The raw columns are fixed by ``source_columns`` or, if not given, by the first quarantined row; a later row's
    unknown columns go, as JSON, into a last ``_other`` column so nothing is dropped. The file is created with the
    first row: a run that quarantines nothing (or cannot read its input) leaves no file behind.
    """

    def __init__(self, path: str | os.PathLike, source_columns: list[str] | None = None):
        self.path = Path(path)
        self._file = None
        self._writer = None
        self._source_columns = list(source_columns) if source_columns is not None else None
        self.columns: list[str] | None = None
        self.rows = 0

    def _header(self) -> None:
        self._writer.writerow(["line", "field", "reason", *self.columns, "_other"])

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._writer = csv.writer(self._file)
        self.columns = self._source_columns
        if self.columns is not None:
            self._header()

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._file is None:
            self._open()
        for row in table.select(QUARANTINE_SCHEMA.names).to_pylist():
            raw = json.loads(row["raw"]) if row["raw"] else {}
            if self.columns is None:
                self.columns = list(raw)
                self._header()
            other = {k: v for k, v in raw.items() if k not in self.columns}
            self._writer.writerow(
                [row["line"], row["field"] or "", row["reason"], *(raw.get(c) or "" for c in self.columns),
                 json.dumps(other, ensure_ascii=False) if other else ""]
            )  # fmt: skip
            self.rows += 1

    def close(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()

    def abort(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class ParquetSink:
    """Harmonized rows into one Parquet file, written to a temporary file beside it and renamed on commit. A batch
    refused by its thresholds (``refuse``) writes no output but keeps its quarantine file; ``abort`` keeps nothing.

    A chunk's rows are already summed by natural key. When a key was written by several chunks (hours of one day
    that straddle chunks, duplicate rows far apart) the report's ``merge_keys`` lists their hashes and the commit
    sums them: it streams the temporary file in batches, copies rows of other keys as they are, and spills rows of
    those keys to a side file that is aggregated in ``ceil(rows / MERGE_BUCKET_ROWS)`` hash buckets (every row of a
    key lands in one bucket). Memory stays at one batch plus one bucket (about 1M harmonized rows, a few hundred MB
    of Arrow at most), at the cost of writing the file once more when any key repeats.
    """

    def __init__(self, output_path: str | os.PathLike, quarantine_path: str | os.PathLike | None = None):
        self.output_path = Path(output_path)
        self.output_path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp_path = self.output_path.with_name(f".{self.output_path.name}.{uuid.uuid4().hex[:8]}.tmp")
        self._writer: pq.ParquetWriter | None = None
        self._quarantine = QuarantineCsvWriter(quarantine_path) if quarantine_path else None
        self._extra: list[Path] = []
        self.rows_written = 0
        self.committed = False
        # Parquet encoding runs in one background thread (pyarrow releases the GIL) so the next chunk is
        # transformed meanwhile; at most two tables wait, which bounds memory.
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _work(self) -> None:
        while True:
            table = self._queue.get()
            if table is None:
                return
            if self._error is None:
                try:
                    self._open().write_table(table)
                except BaseException as exc:  # re-raised in the caller's thread
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _drain(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._raise()

    def _open(self) -> pq.ParquetWriter:
        if self._writer is None:
            self._writer = pq.ParquetWriter(
                self.tmp_path, HARMONIZED_SCHEMA, compression=COMPRESSION, use_dictionary=DICTIONARY_COLUMNS
            )
        return self._writer

    def write(self, table: pa.Table) -> None:
        self._raise()
        if table.num_rows:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="parquet-sink", daemon=True)
                self._thread.start()
            self._queue.put(table.cast(HARMONIZED_SCHEMA))
            self.rows_written += table.num_rows

    def quarantine(self, table: pa.Table) -> None:
        if self._quarantine is not None:
            self._quarantine.write(table)

    def commit(self, report=None) -> None:
        self._drain()
        writer = self._open()  # an empty run still leaves a valid (empty) file
        writer.close()
        self._writer = None
        keys = getattr(report, "merge_keys", None)
        if keys is not None and len(keys) and self.rows_written:
            self._merge(keys)
        os.replace(self.tmp_path, self.output_path)
        if self._quarantine is not None:
            self._quarantine.close()
        self.committed = True
        if report is not None and keys is not None and len(keys):
            report.facts = pq.read_metadata(self.output_path).num_rows

    def _merge(self, keys: np.ndarray) -> None:
        """Sum the rows of keys that several chunks wrote; every other row is copied as it is."""
        source = pq.ParquetFile(self.tmp_path)
        merged = self._scratch("merged")
        spill = self._scratch("spill")
        out = pq.ParquetWriter(merged, HARMONIZED_SCHEMA, compression=COMPRESSION)
        spill_writer = None
        reporting = None
        try:
            for batch in source.iter_batches(batch_size=200_000):
                table = pa.Table.from_batches([batch], schema=HARMONIZED_SCHEMA)
                reporting = reporting or table["currency"][0].as_py()
                again = np.isin(key_hash(table), keys)
                if again.any():
                    if spill_writer is None:
                        spill_writer = pq.ParquetWriter(spill, HARMONIZED_SCHEMA)
                    spill_writer.write_table(table.filter(pa.array(again)))
                    table = table.filter(pa.array(~again))
                if table.num_rows:
                    out.write_table(table)
            if spill_writer is not None:
                spill_writer.close()
                spill_writer = None
                self._aggregate_file(spill, out, reporting)
        finally:
            if spill_writer is not None:
                spill_writer.close()
            out.close()
        os.replace(merged, self.tmp_path)
        with contextlib.suppress(FileNotFoundError):
            spill.unlink()

    def _scratch(self, label: str) -> Path:
        path = self.tmp_path.with_name(f"{self.tmp_path.name}.{label}")
        self._extra.append(path)
        return path

    def _aggregate_file(self, path: Path, out: pq.ParquetWriter, reporting: str) -> None:
        """Sum a file of harmonized rows by natural key into ``out``, one hash bucket at a time."""
        source = pq.ParquetFile(path)
        buckets = max(1, math.ceil(source.metadata.num_rows / MERGE_BUCKET_ROWS))
        if buckets == 1:
            facts, _ = aggregate(_for_aggregate(source.read()), reporting)
            out.write_table(facts)
            return
        paths = [self._scratch(f"b{i}") for i in range(buckets)]
        writers = [pq.ParquetWriter(p, HARMONIZED_SCHEMA) for p in paths]
        try:
            for batch in source.iter_batches(batch_size=200_000):
                table = pa.Table.from_batches([batch], schema=HARMONIZED_SCHEMA)
                bucket = key_hash(table) % np.uint64(buckets)
                for i in range(buckets):
                    part = table.filter(pa.array(bucket == i))
                    if part.num_rows:
                        writers[i].write_table(part)
        finally:
            for w in writers:
                w.close()
        for p in paths:
            facts, _ = aggregate(_for_aggregate(pq.read_table(p)), reporting)
            out.write_table(facts)
            p.unlink()

    def abort(self) -> None:
        self._discard_output()
        if self._quarantine is not None:
            self._quarantine.abort()

    def refuse(self, report=None) -> None:
        """The batch failed its quality thresholds: no output, but the quarantined rows (and their reasons) stay."""
        self._discard_output()
        if self._quarantine is not None:
            self._quarantine.close()

    def _discard_output(self) -> None:
        with contextlib.suppress(BaseException):
            self._drain()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        for path in [self.tmp_path, *self._extra]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _for_aggregate(table: pa.Table) -> pa.Table:
    """Harmonized rows in the shape ``aggregate`` sums: the currency column rides along (the reporting currency, or
    each row's own when a run keeps the original currencies)."""
    return table


class MemorySink:
    """Keeps everything in memory (tests, small previews); ``calls`` records the order of sink calls."""

    def __init__(self) -> None:
        self.tables: list[pa.Table] = []
        self.quarantined: list[pa.Table] = []
        self.calls: list[str] = []
        self.report = None

    def write(self, table: pa.Table) -> None:
        self.calls.append("write")
        self.tables.append(table)

    def quarantine(self, table: pa.Table) -> None:
        self.calls.append("quarantine")
        self.quarantined.append(table)

    def commit(self, report=None) -> None:
        self.calls.append("commit")
        self.report = report

    def abort(self) -> None:
        self.calls.append("abort")

    def result(self) -> pa.Table:
        """The written rows summed across chunks."""
        if not self.tables:
            return HARMONIZED_SCHEMA.empty_table()
        table = pa.concat_tables(self.tables)
        facts, _ = aggregate(_for_aggregate(table), table["currency"][0].as_py())
        return facts

    def quarantine_table(self) -> pa.Table:
        return pa.concat_tables(self.quarantined) if self.quarantined else QUARANTINE_SCHEMA.empty_table()

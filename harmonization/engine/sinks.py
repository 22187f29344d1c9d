"""Where harmonized chunks go: the Sink protocol, a Parquet file sink and a streaming quarantine CSV writer."""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import uuid
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .schema import HARMONIZED_SCHEMA, NATURAL_KEY, QUARANTINE_SCHEMA
from .transform import aggregate, hash_rows

# rows of harmonized output aggregated in memory at once when a run has to be summed again on commit
MERGE_BUCKET_ROWS = 1_000_000


@runtime_checkable
class Sink(Protocol):
    def write(self, table: pa.Table) -> None: ...

    def quarantine(self, table: pa.Table) -> None: ...

    def commit(self, report) -> None: ...

    def abort(self) -> None: ...


class QuarantineCsvWriter:
    """Quarantined rows as CSV: line, field, reason, then the raw source columns (from the row's JSON).

    The raw columns are fixed by ``source_columns`` or, if not given, by the first quarantined row; a later row's
    unknown columns go, as JSON, into a last ``_other`` column so nothing is dropped.
    """

    def __init__(self, path: str | os.PathLike, source_columns: list[str] | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._writer = csv.writer(self._file)
        self.columns = list(source_columns) if source_columns is not None else None
        self.rows = 0
        if self.columns is not None:
            self._header()

    def _header(self) -> None:
        self._writer.writerow(["line", "field", "reason", *self.columns, "_other"])

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
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
        if not self._file.closed:
            if self.columns is None:
                self.columns = []
                self._header()
            self._file.close()

    def abort(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class ParquetSink:
    """Harmonized rows into one Parquet file, written to a temporary file beside it and renamed on commit.

    A chunk's rows are already summed by natural key. When keys can repeat across chunks (a timestamp layout whose
    hours straddle chunks, or a file with duplicate keys) the commit sums the temporary file again. To keep memory
    bounded it streams the file's row groups into ``ceil(rows / MERGE_BUCKET_ROWS)`` bucket files by a hash of the
    key (every row of a key lands in one bucket), then aggregates one bucket at a time: memory ~ one bucket of
    harmonized rows (about 1M rows, a few hundred MB of Arrow at most), at the cost of writing the data twice more.
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

    def _open(self) -> pq.ParquetWriter:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.tmp_path, HARMONIZED_SCHEMA, compression="zstd")
        return self._writer

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._open().write_table(table.cast(HARMONIZED_SCHEMA))
            self.rows_written += table.num_rows

    def quarantine(self, table: pa.Table) -> None:
        if self._quarantine is not None:
            self._quarantine.write(table)

    def commit(self, report=None) -> None:
        writer = self._open()  # an empty run still leaves a valid (empty) file
        writer.close()
        self._writer = None
        needs_merge = bool(getattr(report, "needs_merge", False))
        if needs_merge and self.rows_written:
            self._merge(self._reporting_currency())
        os.replace(self.tmp_path, self.output_path)
        if self._quarantine is not None:
            self._quarantine.close()
        self.committed = True
        if report is not None and needs_merge:
            report.facts = pq.read_metadata(self.output_path).num_rows

    def _reporting_currency(self) -> str:
        first = pq.ParquetFile(self.tmp_path).read_row_group(0, columns=["currency"])
        return first["currency"][0].as_py()

    def _merge(self, reporting: str) -> None:
        source = pq.ParquetFile(self.tmp_path)
        total = source.metadata.num_rows
        buckets = max(1, math.ceil(total / MERGE_BUCKET_ROWS))
        merged = self.tmp_path.with_name(self.tmp_path.name + ".merged")
        self._extra.append(merged)
        out = pq.ParquetWriter(merged, HARMONIZED_SCHEMA, compression="zstd")
        try:
            if buckets == 1:
                facts, _ = aggregate(_for_aggregate(source.read()), reporting)
                out.write_table(facts)
            else:
                paths = [self.tmp_path.with_name(f"{self.tmp_path.name}.b{i}") for i in range(buckets)]
                self._extra.extend(paths)
                writers = [pq.ParquetWriter(p, HARMONIZED_SCHEMA) for p in paths]
                try:
                    for batch in source.iter_batches(batch_size=200_000):
                        table = pa.Table.from_batches([batch])
                        bucket = hash_rows([table[c] for c in NATURAL_KEY]) % np.uint64(buckets)
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
        finally:
            out.close()
        os.replace(merged, self.tmp_path)

    def abort(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        for path in [self.tmp_path, *self._extra]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if self._quarantine is not None:
            self._quarantine.abort()


def _for_aggregate(table: pa.Table) -> pa.Table:
    """Harmonized rows in the shape ``aggregate`` sums (it adds the reporting currency back)."""
    return table.drop_columns(["currency"])


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

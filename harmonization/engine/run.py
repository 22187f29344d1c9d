"""``Harmonizer``: read a file in chunks, transform each, hand the results to a sink, judge the batch."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .limits import NO_LIMITS, InputLimits
from .pii import Scrub, scrub_quarantine, scrub_table
from .quality import EXAMPLES_KEPT, QualityReport
from .readers import Chunk, Reader, SourceError, open_source
from .schema import Lookups, Progress
from .sinks import Sink
from .spec import MappingError, MappingSpec
from .transform import Transformer


class Harmonizer:
    """``limits`` bound the input (rows, header columns; none by default). With a bound on the rows a file can hold
    (``limits.max_rows``, a Parquet or JSON file's own count, a plain text file's size) the run stops reading as soon
    as a quality threshold can no longer be met (``QualityReport.unreachable``) and fails with that reason."""

    def __init__(
        self,
        spec: MappingSpec,
        lookups: Lookups,
        chunk_rows: int = 200_000,
        limits: InputLimits = NO_LIMITS,
        scrub: Scrub | None = None,
    ):
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        if "retailer" not in spec.columns and not spec.retailer and not lookups.default_retailer:
            raise MappingError(
                spec.origin, 1, "retailer", "name the retailer (top-level retailer:) or map columns.retailer"
            )
        if not re.fullmatch(r"[A-Z]{3}", lookups.reporting_currency or ""):
            raise ValueError(f"reporting currency {lookups.reporting_currency!r} is not an ISO 4217 code")
        self.spec = spec
        self.lookups = lookups
        self.chunk_rows = chunk_rows
        self.limits = limits
        # personal data in the source rows, per the mapping's pii actions (harmonization.engine.pii); None: none
        self.scrub = scrub

    def _check_size(self, reader: Reader, path: Path) -> tuple[int, str] | None:
        """Refuse what the reader knows is too big before reading rows; return the most rows the file can hold and
        what says so, or None when nothing bounds them."""
        limits = self.limits
        if limits.max_columns is not None and len(reader.columns) > limits.max_columns:
            raise SourceError(
                f"{path.name}: {len(reader.columns):,} columns; at most {limits.max_columns:,}{limits.why_columns()}"
            )
        total = reader.rows_total
        if limits.max_rows is not None and total is not None and total > limits.max_rows:
            raise SourceError(f"{path.name}: {total:,} rows; at most {limits.max_rows:,}{limits.why_rows()}")
        bounds = []
        if total is not None:
            bounds.append((total, f"the file holds {total:,} rows"))
        elif reader.rows_bound is not None:
            bounds.append((reader.rows_bound, f"the file's size allows at most {reader.rows_bound:,} rows"))
        if limits.max_rows is not None:
            bounds.append((limits.max_rows, f"at most {limits.max_rows:,} rows may come, the row limit"))
        return min(bounds) if bounds else None

    def _check_chunk(self, chunk: Chunk, reader: Reader, report: QualityReport, path: Path) -> None:
        limits = self.limits
        rows = chunk.table.num_rows + len(chunk.broken)
        if limits.max_rows is not None and report.rows_read + rows > limits.max_rows:
            raise SourceError(
                f"{path.name}: more than {limits.max_rows:,} rows (counted decompressed); at most "
                f"{limits.max_rows:,}{limits.why_rows()}. Stopped reading after row {report.rows_read:,}; nothing was "
                "loaded."
            )
        if limits.max_columns is not None and len(reader.columns) > limits.max_columns:  # JSON Lines find more
            raise SourceError(
                f"{path.name}: more than {limits.max_columns:,} columns; at most {limits.max_columns:,}"
                f"{limits.why_columns()}"
            )

    def _check_header(self, reader: Reader, path: Path) -> None:
        found = reader.columns
        missing = [c for c in self.spec.required_columns if c not in found]
        # A JSON report of a day without activity is an empty array ("[]", Amazon v3): no rows, so no columns
        if not missing or reader.rows_total == 0:
            return
        shown = ", ".join(repr(c) for c in found[:12]) + (", ..." if len(found) > 12 else "")
        noun = "column" if len(found) == 1 else "columns"
        raise SourceError(
            f"{path.name}: missing required column(s) {', '.join(missing)} "
            f"(found {len(found)} {noun} {shown}{reader.delimiter_hint()})"
        )

    def run(
        self, path: str | os.PathLike, sink: Sink, progress: Callable[[Progress], None] | None = None
    ) -> QualityReport:
        started = time.perf_counter()
        path = Path(path)
        spec = self.spec
        report = QualityReport(
            mapping=spec.name,
            source=path.name,
            thresholds_spec=dict(spec.quality),
            sku_mapped=spec.sku is not None and self.lookups.resolve_skus,
        )
        # both raise SourceError before the sink sees anything
        reader = open_source(path, spec.source, self.chunk_rows, spec.used_columns, spec.date.column, self.limits)
        try:
            self._check_header(reader, path)
            bound = self._check_size(reader, path)
        except BaseException:
            reader.close()
            raise
        transformer = Transformer(spec, self.lookups)
        report.dst = _dst_entry(spec, transformer.zone)
        chunks, early = _prefetch(reader), ""
        seen: dict = {}  # values already scrubbed, by column
        try:
            for chunk in chunks:
                self._check_chunk(chunk, reader, report, path)
                if self.scrub is not None:
                    chunk.table = scrub_table(chunk.table, chunk.lines, spec, self.scrub, path.name, seen)
                result = transformer.run(chunk)
                if self.scrub is not None:
                    result.quarantine = scrub_quarantine(result.quarantine, spec, self.scrub, path.name)
                report.add(result.stats, result.facts.num_rows)
                facts = result.facts
                if facts.num_rows:
                    _add_loaded(report, facts)
                    sink.write(facts)
                if result.quarantine.num_rows:
                    sink.quarantine(result.quarantine)
                    if len(report.quarantine_examples) < EXAMPLES_KEPT:
                        q = result.quarantine
                        first = np.argsort(q["line"].to_numpy(), kind="stable")[:EXAMPLES_KEPT]
                        report.note_quarantine(q["line"].take(first).to_pylist(), q["reason"].take(first).to_pylist())
                if progress is not None:
                    progress(
                        Progress(
                            bytes_read=chunk.bytes_read,
                            bytes_total=reader.bytes_total,
                            rows_read=report.rows_read,
                            rows_loaded=report.rows_loaded,
                            rows_quarantined=report.rows_quarantined,
                        )
                    )
                lost = report.unreachable(bound[0]) if bound is not None and report.rows_read < bound[0] else []
                if lost and next(chunks, None) is not None:  # more is coming, and cannot save the batch: stop
                    report.stopped_early = True
                    early = f"stopped reading after row {report.rows_read:,} ({bound[1]}): " + "; ".join(lost)
                    break
            used = spec.used_columns | set(spec.ignore)
            report.unmapped_columns = [c for c in reader.columns if c not in used]
            report.evaluate()
            if report.stopped_early:
                report.failures.insert(0, early)
            truncated = getattr(reader, "truncated", None)
            if truncated:
                report.failures.insert(0, f"{path.name} looks truncated: {truncated}")
            report.seconds = time.perf_counter() - started
            if report.passed:
                sink.commit(report)
            else:
                # refused by its thresholds: nothing is loaded, but a sink that can keeps the quarantined rows, the
                # reasons the user needs now
                refuse = getattr(sink, "refuse", None)
                refuse(report) if refuse is not None else sink.abort()
        except BaseException:
            sink.abort()
            raise
        finally:
            chunks.close()  # stops the reader thread now, also when the run stopped early or failed
            reader.close()
        report.seconds = time.perf_counter() - started
        return report


def _dst_entry(spec: MappingSpec, zone: ZoneInfo) -> dict | None:
    """The report's account of local clock changes, for timestamps read in a zone with daylight saving time."""
    if not spec.date.is_timestamp:
        return None
    if {"z", "Z"} & set(re.findall(r"%(.)", spec.date.format)):
        rule = "the UTC offset written in each timestamp"
    else:
        year = datetime.now(UTC).year
        if zone.utcoffset(datetime(year, 1, 15)) == zone.utcoffset(datetime(year, 7, 15)):
            return None
        rule = (
            f"local time in {zone.key}; in the hour repeated when the clocks go back, rows of one key at one time are "
            "taken in file order, the first as daylight time and the second as standard time; a time in the hour "
            "skipped when the clocks go forward is quarantined"
        )
    return {"time_zone": zone.key, "rule": rule, "ambiguous_rows": 0, "read_as_standard_time": 0,
            "nonexistent_rows": 0}  # fmt: skip


def _prefetch(chunks: Iterable[Chunk]) -> Iterator[Chunk]:
    """Read the next chunk in a thread while this one is transformed (pyarrow parses without the GIL).

    At most one chunk waits in the queue, so memory stays at about three chunks.
    """
    box: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        it = iter(chunks)
        try:
            for chunk in it:
                if not offer(chunk):
                    return
            offer(done)
        except BaseException as exc:  # handed to the consumer, raised there
            offer(exc)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # the reader's own cleanup (file, read-ahead throttle) runs in this thread

    thread = threading.Thread(target=produce, name="harmonize-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = box.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            box.get_nowait()
        thread.join(timeout=5)


def _add_loaded(report: QualityReport, facts: pa.Table) -> None:
    currencies = pc.unique(facts["original_currency"]).to_pylist()
    for cur in currencies:
        part = facts if len(currencies) == 1 else facts.filter(pc.equal(facts["original_currency"], cur))
        spend = pc.sum(part["original_spend"]).as_py() or Decimal(0)
        sales = pc.sum(part["original_attributed_sales"]).as_py() or Decimal(0)
        report.add_loaded(cur, spend, sales)


def harmonize_table(spec: MappingSpec, lookups: Lookups, path: str | os.PathLike) -> tuple[pa.Table, QualityReport]:
    """Whole result in memory (small files, tests): the facts summed across chunks and the report."""
    from .sinks import MemorySink

    sink = MemorySink()
    report = Harmonizer(spec, lookups).run(path, sink)
    return sink.result(), report

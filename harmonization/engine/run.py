"""``Harmonizer``: read a file in chunks, transform each, hand the results to a sink, judge the batch."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from .quality import QualityReport
from .readers import Reader, SourceError, open_source
from .schema import Lookups, Progress
from .sinks import Sink
from .spec import MappingError, MappingSpec
from .transform import Transformer


class Harmonizer:
    def __init__(self, spec: MappingSpec, lookups: Lookups, chunk_rows: int = 200_000):
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

    def _check_header(self, reader: Reader, path: Path) -> None:
        found = reader.columns
        missing = [c for c in self.spec.required_columns if c not in found]
        if not missing:
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
        reader = open_source(path, spec.source, self.chunk_rows)
        self._check_header(reader, path)
        transformer = Transformer(spec, self.lookups)
        try:
            for chunk in reader:
                result = transformer.run(chunk)
                report.add(result.stats, result.facts.num_rows)
                facts = result.facts
                if facts.num_rows:
                    sums = facts.group_by("original_currency").aggregate(
                        [("original_spend", "sum"), ("original_attributed_sales", "sum")]
                    )
                    for row in sums.to_pylist():
                        report.add_loaded(
                            row["original_currency"],
                            row["original_spend_sum"] or Decimal(0),
                            row["original_attributed_sales_sum"] or Decimal(0),
                        )
                    sink.write(facts)
                if result.quarantine.num_rows:
                    sink.quarantine(result.quarantine)
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
            used = spec.used_columns | set(spec.ignore)
            report.unmapped_columns = [c for c in reader.columns if c not in used]
            report.needs_merge = spec.date.is_timestamp or report.keys_across_chunks > 0
            report.evaluate()
            report.seconds = time.perf_counter() - started
            if report.passed:
                sink.commit(report)
            else:
                sink.abort()
        except BaseException:
            sink.abort()
            raise
        report.seconds = time.perf_counter() - started
        return report


def harmonize_table(spec: MappingSpec, lookups: Lookups, path: str | os.PathLike) -> tuple[pa.Table, QualityReport]:
    """Whole result in memory (small files, tests): the facts summed across chunks and the report."""
    from .sinks import MemorySink

    sink = MemorySink()
    report = Harmonizer(spec, lookups).run(path, sink)
    return sink.result(), report

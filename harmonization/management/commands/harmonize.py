"""python manage.py harmonize --retailer-mapping config/mappings/<retailer>.yaml --input FILE [--output out.parquet]
[--tenant T]"""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from governance.models import Tenant
from harmonization.engine import NO_LIMITS, Harmonizer, Lookups, MappingError, ParquetSink, Progress, SourceError
from harmonization.models import IngestBatch
from harmonization.services import mapping_resolve

BAR_WIDTH = 30


class ProgressBar:
    """A one-line text bar on stderr, redrawn after each chunk."""

    def __init__(self, stream, total: int):
        self.stream = stream
        self.total = total
        self.started = time.monotonic()

    def __call__(self, p: Progress) -> None:
        total = p.bytes_total or self.total
        share = min(1.0, p.bytes_read / total) if total else 0.0
        filled = int(share * BAR_WIDTH)
        elapsed = time.monotonic() - self.started
        rate = p.rows_read / elapsed if elapsed > 0 else 0.0
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:6.1%}  {p.rows_read:,} rows read, "
            f"{p.rows_quarantined:,} quarantined, {rate:,.0f} rows/s",
            style_func=str,
            ending="",
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("", style_func=str)
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "Harmonize a retailer export into RMIS facts and print the JSON quality report on stdout (progress on "
        "stderr). With --tenant and no --output the rows are loaded into that tenant's database facts (an ingest "
        "batch records the run); with --output they are written to a Parquet file instead. --output without "
        "--tenant converts amounts into USD and leaves SKUs unresolved (sku_ref kept, sku_id empty), since there "
        "is no tenant catalog to match against; quarantined rows then go to <output stem>.quarantine.csv beside it. "
        "With --tenant the tenant's import limits apply (rows, header columns) unless --ignore-limits."
    )

    def add_arguments(self, parser):
        parser.add_argument("--retailer-mapping", required=True, help="Mapping YAML file, or a shipped/saved name.")
        parser.add_argument("--input", required=True, help="The export to harmonize (csv, tsv, jsonl, json, parquet).")
        parser.add_argument("--output", help="Write harmonized rows to this Parquet file instead of the database.")
        parser.add_argument("--tenant", help="Tenant slug: load into its facts, or resolve SKUs/FX for --output.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw the progress bar.")
        parser.add_argument("--ignore-limits", action="store_true", help="With --tenant: do not apply the "
                            "tenant's import limits (rows, header columns; docs/deploy.md, Limits).")  # fmt: skip

    def handle(self, *args, **options):
        input_path = Path(options["input"])
        if not input_path.is_file():
            raise CommandError(f"input file {input_path} does not exist")
        tenant = None
        if options["tenant"]:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"no tenant with slug {options['tenant']!r}")
        elif not options["output"]:
            raise CommandError("give --tenant to load into the database, or --output to write Parquet")
        try:
            spec = mapping_resolve(options["retailer_mapping"], tenant)
        except (MappingError, DomainError) as exc:
            raise CommandError(_one_line(exc)) from None
        bar = None if options["no_progress"] else ProgressBar(self.stderr, input_path.stat().st_size)
        try:
            if tenant is not None:
                limits = NO_LIMITS if options["ignore_limits"] else None  # None: the tenant's
                report = self._into_tenant(tenant, spec, input_path, options["output"], bar, limits)
            else:
                report = self._to_parquet(spec, input_path, options["output"], bar)
        finally:
            if bar is not None:
                bar.close()
        if report["report"]:
            self.stdout.write(json.dumps(report["report"], indent=2, sort_keys=True))
        if report["error"]:
            raise CommandError(report["error"])

    def _into_tenant(self, tenant, spec, path, output, bar, limits) -> dict:
        from harmonization.services import ingest_file

        batch = ingest_file(tenant=tenant, spec=spec, path=path, output=output, progress=bar, limits=limits)
        if batch.status != IngestBatch.Status.SUCCEEDED:
            return {"report": batch.report, "error": f"batch #{batch.pk} failed: {_one_line(batch.error)}"}
        return {"report": batch.report, "error": ""}

    def _to_parquet(self, spec, path, output, bar) -> dict:
        lookups = Lookups(reporting_currency="USD", resolve_skus=False)
        quarantine = quarantine_path(output)
        try:
            report = Harmonizer(spec, lookups).run(path, ParquetSink(output, quarantine_path=quarantine), progress=bar)
        except (MappingError, SourceError) as exc:
            return {"report": {}, "error": _one_line(exc)}
        data = report.to_dict()
        error = "" if report.passed else "quality thresholds failed: " + "; ".join(report.failures)
        if report.rows_quarantined and quarantine.is_file():
            data["quarantine_file"] = str(quarantine)
            if error:  # refused: nothing was written but the quarantined rows, which say why
                error += f"; quarantined rows with their reasons: {quarantine}"
        return {"report": data, "error": error}


def quarantine_path(output: str) -> Path:
    out = Path(output)
    return out.with_name(f"{out.stem}.quarantine.csv")


def _one_line(value) -> str:
    return " ".join(str(value).split())

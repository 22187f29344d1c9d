"""python manage.py harmonize --retailer-mapping config/mappings/<retailer>.yaml --input FILE [--output out.parquet]
[--tenant T] [--fx-rates rates.csv [--reporting-currency USD]]"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from governance.models import Tenant
from harmonization.engine import NO_LIMITS, Harmonizer, Lookups, MappingError, ParquetSink, Progress, SourceError
from harmonization.management.commands.load_fx_rates import parse_rates
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
        "--tenant leaves SKUs unresolved (sku_ref kept, sku_id empty), since there is no tenant catalog to match "
        "against, and keeps every amount in its row's own currency, unless --fx-rates gives rates (the columns "
        "load_fx_rates reads) to convert into --reporting-currency (USD by default); the report says which. "
        "Quarantined rows then go to <output stem>.quarantine.csv beside it. "
        "With --tenant the tenant's import limits apply (rows, header columns) unless --ignore-limits."
    )

    def add_arguments(self, parser):
        parser.add_argument("--retailer-mapping", required=True, help="Mapping YAML file, or a shipped/saved name.")
        parser.add_argument("--input", required=True, help="The export to harmonize (csv, tsv, jsonl, json, parquet).")
        parser.add_argument("--output", help="Write harmonized rows to this Parquet file instead of the database.")
        parser.add_argument("--tenant", help="Tenant slug: load into its facts, or resolve SKUs/FX for --output.")
        parser.add_argument("--fx-rates", help="With --output and no --tenant: a CSV of dated rates "
                            "(date,currency,quote_currency,rate[,source], as load_fx_rates reads) to convert amounts "
                            "into --reporting-currency. Without it amounts keep their own currency.")  # fmt: skip
        parser.add_argument("--reporting-currency", default="USD", help="With --fx-rates: the currency to convert "
                            "into (default USD).")  # fmt: skip
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
        if options["fx_rates"] and tenant is not None:
            raise CommandError("--fx-rates is for --output without --tenant; a tenant's rates come from load_fx_rates")
        lookups = None if tenant is not None else _file_lookups(options["fx_rates"], options["reporting_currency"])
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
                report = self._to_parquet(spec, input_path, options["output"], bar, lookups)
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

    def _to_parquet(self, spec, path, output, bar, lookups: tuple[Lookups, dict]) -> dict:
        lookups, currency_note = lookups
        quarantine = quarantine_path(output)
        try:
            report = Harmonizer(spec, lookups).run(path, ParquetSink(output, quarantine_path=quarantine), progress=bar)
        except (MappingError, SourceError) as exc:
            return {"report": {}, "error": _one_line(exc)}
        data = report.to_dict()
        data["currency"] = currency_note
        error = "" if report.passed else "quality thresholds failed: " + "; ".join(report.failures)
        if report.rows_quarantined and quarantine.is_file():
            data["quarantine_file"] = str(quarantine)
            if error:  # refused: nothing was written but the quarantined rows, which say why
                error += f"; quarantined rows with their reasons: {quarantine}"
        return {"report": data, "error": error}


def _file_lookups(rates_path: str | None, reporting: str) -> tuple[Lookups, dict]:
    """Lookups for a run without a tenant, and what the report says about currencies: the rates of ``rates_path``
    into ``reporting``, or none (amounts keep their own currency)."""
    if rates_path is None:
        note = {"converted": False, "note": "no --fx-rates: amounts are kept in each row's own currency"}
        return Lookups(reporting_currency="USD", resolve_skus=False, keep_currency=True), note
    reporting = (reporting or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", reporting):
        raise CommandError(f"--reporting-currency {reporting!r} is not an ISO 4217 code")
    try:
        rows = parse_rates(rates_path)
    except OSError as exc:
        raise CommandError(f"--fx-rates {rates_path}: {exc.strerror}") from None
    rates: dict[tuple, float] = {}
    # inverse quotes first, so a direct quote of the same day wins (as for a tenant's rates)
    for r in rows:
        if r.currency == reporting:
            rates[(r.date, r.quote_currency)] = 1 / float(r.rate)
    for r in rows:
        if r.quote_currency == reporting:
            rates[(r.date, r.currency)] = float(r.rate)
    if not rates:
        raise CommandError(f"--fx-rates {rates_path}: no rate into or out of {reporting} (--reporting-currency)")
    fx = [(day, cur, rate) for (day, cur), rate in sorted(rates.items())]
    note = {
        "converted": True,
        "reporting_currency": reporting,
        "fx_rates": str(rates_path),
        "rates_for": sorted({cur for _, cur, _ in fx}),
    }
    return Lookups(reporting_currency=reporting, fx_rates=fx, resolve_skus=False), note


def quarantine_path(output: str) -> Path:
    out = Path(output)
    return out.with_name(f"{out.stem}.quarantine.csv")


def _one_line(value) -> str:
    return " ".join(str(value).split())

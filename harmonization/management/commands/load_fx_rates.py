"""python manage.py load_fx_rates --file rates.csv  (date,currency,quote_currency,rate[,source]; upsert)"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from governance.currencies import validate_currency
from harmonization.models import FXRate
from harmonization.services import fx_rates_upsert

REQUIRED = ["date", "currency", "quote_currency", "rate"]


def parse_rates(path: str) -> list[FXRate]:
    """Every row checked before anything is written: the first bad one is an error naming its line and column."""
    rates: dict[tuple, FXRate] = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise CommandError(
                f"{path}:1: missing column(s) {', '.join(missing)} (found {', '.join(reader.fieldnames or [])})"
            )
        for row in reader:
            line = reader.line_num
            try:
                day = dt.date.fromisoformat((row["date"] or "").strip())
            except ValueError:
                raise CommandError(f"{path}:{line}: date: {row['date']!r} is not YYYY-MM-DD") from None
            codes = []
            for column in ("currency", "quote_currency"):
                code = (row[column] or "").strip().upper()
                try:
                    validate_currency(code)
                except Exception:
                    raise CommandError(f"{path}:{line}: {column}: {row[column]!r} is not an ISO 4217 code") from None
                codes.append(code)
            if codes[0] == codes[1]:
                raise CommandError(f"{path}:{line}: currency and quote_currency are both {codes[0]}")
            try:
                rate = Decimal((row["rate"] or "").strip())
            except InvalidOperation:
                raise CommandError(f"{path}:{line}: rate: {row['rate']!r} is not a number") from None
            if not rate.is_finite() or rate <= 0:
                raise CommandError(f"{path}:{line}: rate: {row['rate']!r} must be a positive number")
            if rate.as_tuple().exponent < -10 or rate.adjusted() >= 10:
                raise CommandError(f"{path}:{line}: rate: {row['rate']!r} needs at most 10 digits either side of '.'")
            source = (row.get("source") or "").strip()[:100]
            rates[(day, *codes)] = FXRate(
                date=day, currency=codes[0], quote_currency=codes[1], rate=rate, source=source
            )
    return list(rates.values())


class Command(BaseCommand):
    help = "Load dated FX rates from a CSV (date,currency,quote_currency,rate[,source]); existing days are updated."

    def add_arguments(self, parser):
        parser.add_argument("--file", required=True, help="CSV with a header row.")

    def handle(self, *args, **options):
        try:
            rates = parse_rates(options["file"])
        except OSError as exc:
            raise CommandError(f"{options['file']}: {exc.strerror}") from None
        with transaction.atomic():
            fx_rates_upsert(rates)
        self.stdout.write(f"Loaded {len(rates)} FX rate(s) from {options['file']}.")

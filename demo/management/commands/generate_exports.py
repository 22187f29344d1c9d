"""python manage.py generate_exports --layout <name> --rows N --output FILE [--seed S]"""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from core.bounds import seed_argument
from demo.engine.exports import DEFAULT_DAYS, DEFAULT_START, LAYOUTS, CatalogItem, generate_export


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--start: {value!r} is not a date like 2025-03-10") from None


def tenant_catalog(slug: str) -> tuple[CatalogItem, ...]:
    """The tenant's active SKUs with the references the layouts print (demo.selectors.tenant_catalog)."""
    from demo.selectors import tenant_catalog as catalog_of
    from governance.models import Tenant

    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise CommandError(f"--tenant: no tenant with slug {slug!r}")
    items = catalog_of(tenant=tenant)
    if not items:
        raise CommandError(f"--tenant: {slug!r} has no active SKUs")
    return items


class Command(BaseCommand):
    requires_system_checks = []  # writes a file, touches no database or URL: runs while the site is half set up
    help = (
        "Write a synthetic retailer export of one layout of config/mappings/ from the demo simulator, streamed to "
        "disk (a .gz name is gzipped), and print its truth as JSON: rows and totals per currency and per UTC day, "
        "computed from the values written. The same arguments write the same bytes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--layout", required=True, choices=sorted(LAYOUTS))
        parser.add_argument("--rows", required=True, type=int, help="Number of data rows to write.")
        parser.add_argument("--output", required=True, help="File to write (gzip when it ends in .gz).")
        parser.add_argument("--seed", type=seed_argument, default=0)
        parser.add_argument("--start", type=_date, default=DEFAULT_START, help="First (local) day, YYYY-MM-DD.")
        parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="Days the rows cover.")
        parser.add_argument("--skus-per-brand", type=int, default=10, help="Catalog size: 20 brands × this.")
        parser.add_argument(
            "--tenant",
            help="Use this tenant's SKUs and their ASINs, item ids and GTINs instead of the synthetic catalog.",
        )
        parser.add_argument("--no-daily", action="store_true", help="Leave the per-day totals out of the JSON.")

    def handle(self, *args, **options):
        items = tenant_catalog(options["tenant"]) if options["tenant"] else None
        try:
            truth = generate_export(
                options["layout"],
                options["output"],
                rows=options["rows"],
                seed=options["seed"],
                start=options["start"],
                days=options["days"],
                skus_per_brand=options["skus_per_brand"],
                items=items,
            )
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from None
        report = truth.to_dict()
        if options["no_daily"]:
            report.pop("per_day")
        self.stdout.write(json.dumps(report, indent=2))

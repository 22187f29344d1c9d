import os

from django.core.management.base import BaseCommand, CommandError

from core.bounds import seed_argument
from core.errors import DomainError
from demo.seed import DEFAULT_DAYS, DEFAULT_SEED, MIN_DAYS, demo_seed

PASSWORD_ENV = "RMN_DEMO_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create two demo tenants (Acme Foods, Globex Beverages) with simulated retail media history, lift studies "
        "and the known truth behind them (docs/demo_simulator.md). Does nothing if the demo already exists, except "
        "give the demo logins this run's password, which it prints."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"Days of history (>= {MIN_DAYS}).")
        parser.add_argument("--seed", type=seed_argument, default=DEFAULT_SEED, help="Random seed of the simulation.")
        parser.add_argument("--reset", action="store_true", help="Delete the demo tenants' data and recreate it.")
        parser.add_argument(
            "--password",
            default=None,
            help=f"Password of every demo login (default: ${PASSWORD_ENV} if set, else a new random one each run).",
        )

    def handle(self, *args, days, seed, reset, password, **options):
        if password is None:
            password = os.environ.get(PASSWORD_ENV) or None
        try:
            result = demo_seed(days=days, seed=seed, reset=reset, password=password)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        write = self.stdout.write
        if result.created:
            rows = ", ".join(f"{slug}: {n}" for slug, n in result.fact_rows.items())
            write(
                self.style.SUCCESS(
                    f"Seeded the demo: {result.start} to {result.end} (seed {result.seed}), fact rows {rows}, "
                    f"in {result.seconds:.1f} s."
                )
            )
        else:
            write("The demo data already exists; only the logins' password changed (use --reset to recreate it).")
        if result.creatives:
            c = result.creatives
            write(
                f"Creatives: {c['briefs']} briefs, {c['creatives']} variants written from sample copy and checked, "
                f"{c['queued']} queued for review in Acme's Ad copy task; the inference worker writes the rest "
                "with the model (docs/creatives.md)."
            )
        write("Demo logins:")
        for username, tenant, role in result.logins:
            write(f"  {username:<18} {role:<10} {tenant}")
        write(self.style.WARNING(f"Password for every demo login (set by this run): {result.password}"))
        if result.created:
            write(f"Demo API key for Acme Foods (shown once): {result.api_key}")
        else:
            write("The demo API key was shown when the demo was created; --reset issues a new one.")

from django.core.management.base import BaseCommand, CommandError

from core.bounds import seed_argument
from core.errors import DomainError
from demo.seed import DEFAULT_DAYS, DEFAULT_SEED, DEMO_PASSWORD, MIN_DAYS, demo_seed


class Command(BaseCommand):
    help = (
        "Create two demo tenants (Acme Foods, Globex Beverages) with simulated retail media history, lift studies "
        "and the known truth behind them (docs/demo_simulator.md). Does nothing if the demo already exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"Days of history (>= {MIN_DAYS}).")
        parser.add_argument("--seed", type=seed_argument, default=DEFAULT_SEED, help="Random seed of the simulation.")
        parser.add_argument("--reset", action="store_true", help="Delete the demo tenants' data and recreate it.")
        parser.add_argument("--password", default=DEMO_PASSWORD, help="Password of every demo login.")

    def handle(self, *args, days, seed, reset, password, **options):
        try:
            result = demo_seed(days=days, seed=seed, reset=reset, password=password)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        write = self.stdout.write
        if not result.created:
            write("The demo data already exists; nothing was changed (use --reset to recreate it).")
            write("Demo logins (password as set when the demo was seeded):")
            for username, tenant, role in result.logins:
                write(f"  {username:<18} {role:<10} {tenant}")
            write("The demo API key was shown when the demo was created; --reset issues a new one.")
            return
        rows = ", ".join(f"{slug}: {n}" for slug, n in result.fact_rows.items())
        write(
            self.style.SUCCESS(
                f"Seeded the demo: {result.start} to {result.end} (seed {result.seed}), fact rows {rows}, "
                f"in {result.seconds:.1f} s."
            )
        )
        write(f"Demo logins (password: {result.password}):")
        for username, tenant, role in result.logins:
            write(f"  {username:<18} {role:<10} {tenant}")
        write(f"Demo API key for Acme Foods (shown once): {result.api_key}")

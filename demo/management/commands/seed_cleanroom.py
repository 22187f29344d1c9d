from django.core.management.base import BaseCommand, CommandError

from demo.clean_room import demo_clean_room_seed
from demo.seed import TENANTS
from governance.models import Tenant


class Command(BaseCommand):
    help = (
        "Seed a retailer's synthetic shopper-level tables (shoppers, exposures, purchases) into a clean-room dataset "
        "for each demo tenant (or --tenant), with the default analysis rules, and write the tenant's gateway key to "
        "CLEANROOM_KEYS_FILE. Existing datasets are kept unless --reset."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", action="append", help="Tenant slug (repeatable; default: the demo tenants).")
        parser.add_argument("--shoppers", type=int, default=20000, help="Shoppers per dataset (default 20,000).")
        parser.add_argument("--seed", type=int, default=7, help="Random seed of the synthetic shoppers.")
        parser.add_argument("--reset", action="store_true", help="Replace the shopper tables (the ledger stays).")

    def handle(self, *args, tenant, shoppers, seed, reset, **options):
        if shoppers < 1:
            raise CommandError("--shoppers must be at least 1.")
        slugs = tenant or [t.slug for t in TENANTS]
        tenants = list(Tenant.objects.filter(slug__in=slugs))
        missing = set(slugs) - {t.slug for t in tenants}
        if missing:
            raise CommandError(f"No tenant with the slug {', '.join(sorted(missing))}.")
        for result in demo_clean_room_seed(tenants=tenants, shoppers=shoppers, seed=seed, reset=reset):
            verb = "Seeded" if result.created else "Kept"
            self.stdout.write(f"{verb} clean-room dataset {result.dataset} of {result.tenant}.")

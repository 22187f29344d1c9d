"""python manage.py build_dataset --task T --out DIR [--tenant SLUG] [--seed N] [--n-train N] [--n-heldout N]

Writes DIR/train.jsonl and DIR/heldout.jsonl (creative also DIR/pairs-train.jsonl and DIR/pairs-heldout.jsonl for
DPO) from generated data and the database: retailers and their policies, the tenant's brands and SKUs, stored
mappings' source columns (ml/dataset_sources.py).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.bounds import seed_argument
from governance.models import Tenant
from ml.dataset_sources import dataset_source
from ml.engine.datasets import build, build_preference_pairs, write_jsonl
from ml.engine.prompts import TASKS


class Command(BaseCommand):
    help = "Build a task adapter's training and held-out datasets (JSONL) from generated data and the database."

    def add_arguments(self, parser):
        parser.add_argument("--task", required=True, choices=TASKS)
        parser.add_argument("--out", required=True, type=Path, help="folder to write the JSONL files into")
        parser.add_argument("--tenant", help="tenant slug whose brands and SKUs the creative data uses")
        parser.add_argument("--seed", type=seed_argument, default=0)
        parser.add_argument("--n-train", type=int, default=None)
        parser.add_argument("--n-heldout", type=int, default=None)

    def handle(self, *args, task, out: Path, tenant, seed, n_train, n_heldout, **options):
        tenant_obj = None
        if tenant:
            tenant_obj = Tenant.objects.filter(slug=tenant).first()
            if tenant_obj is None:
                raise CommandError(f"--tenant: no tenant with slug {tenant!r}.")
        source = dataset_source(tenant=tenant_obj)
        try:
            train, heldout = build(task, seed=seed, n_train=n_train, n_heldout=n_heldout, source=source)
            files = {"train.jsonl": train, "heldout.jsonl": heldout}
            if task == "creative":
                pairs_train, pairs_heldout = build_preference_pairs(
                    seed=seed, n_train=n_train, n_heldout=n_heldout, source=source
                )
                files.update({"pairs-train.jsonl": pairs_train, "pairs-heldout.jsonl": pairs_heldout})
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for name, rows in files.items():
            path = write_jsonl(rows, Path(out) / name)
            self.stdout.write(f"{path}: {len(rows)} rows")

"""python manage.py eval_adapter --adapter NAME [--version N] [--tenant SLUG] --task T --dataset F.jsonl [--promote]
[--limit N] [--base]

Scores an adapter version (default: its newest) on a held-out dataset and stores the figures on it; with --promote
it becomes the active version only when it beats the active one on the task's headline metric. --base scores the
untuned base model on the same rows instead (nothing is stored).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from governance.models import Tenant
from ml.engine.prompts import TASKS
from ml.eval_services import adapter_evaluate, base_evaluate
from ml.models import Adapter


class Command(BaseCommand):
    help = "Evaluate an adapter (or the untuned base model) on a held-out dataset; optionally promote it if better."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version is the adapter version here (the pinned flag); it replaces Django's --version (program version).
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--adapter", help="adapter name")
        parser.add_argument("--version", type=int, help="adapter version (default: the newest)")
        parser.add_argument("--tenant", help="owning tenant's slug (brand adapters)")
        parser.add_argument("--task", required=True, choices=TASKS)
        parser.add_argument("--dataset", required=True, help="held-out JSONL (SFT rows; creative also pairs)")
        parser.add_argument("--promote", action="store_true", help="promote when better than the active version")
        parser.add_argument("--limit", type=int, help="score only the first N rows")
        parser.add_argument("--base", action="store_true", help="score the untuned base model instead")
        parser.add_argument("--base-model", help="with --base: model folder or id (default: settings.BASE_MODEL)")

    def handle(self, *args, adapter, version, tenant, task, dataset, promote, limit, base, base_model, **options):
        try:
            if base:
                if adapter or promote:
                    raise CommandError("--base scores the base model alone: leave out --adapter and --promote.")
                result = base_evaluate(
                    base_model=base_model or str(settings.BASE_MODEL), task=task, dataset_path=dataset, limit=limit
                )
            else:
                if not adapter:
                    raise CommandError("--adapter is required (or --base to score the untuned base model).")
                result = adapter_evaluate(
                    adapter=self._adapter(adapter, version, tenant), task=task, dataset_path=dataset,
                    promote=promote, limit=limit,
                )  # fmt: skip
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc
        self.stdout.write(json.dumps(result, indent=2))
        if promote:
            if result["promoted"]:
                self.stdout.write(self.style.SUCCESS(f"Promoted {adapter} (better {result['metric']})."))
            else:
                self.stdout.write(self.style.WARNING(f"Not promoted: {result['promotion_error']}"))

    def _adapter(self, name: str, version: int | None, tenant: str | None) -> Adapter:
        tenant_obj = None
        if tenant:
            tenant_obj = Tenant.objects.filter(slug=tenant).first()
            if tenant_obj is None:
                raise CommandError(f"--tenant: no tenant with slug {tenant!r}.")
        versions = Adapter.objects.filter(name=name, tenant=tenant_obj).select_related("tenant")
        found = versions.filter(version=version).first() if version else versions.order_by("-version").first()
        if found is None:
            owner = f"tenant {tenant!r}" if tenant else "shared adapters"
            raise CommandError(f"--adapter: no {name!r}{f' v{version}' if version else ''} among {owner}.")
        return found

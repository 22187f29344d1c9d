"""python manage.py train_lora --base-model ... --adapter-type retailer|brand|task --method sft|dpo|qlora
--dataset X.jsonl --output models/adapters/NAME

Trains in this process by default, printing each step. An --output inside MODEL_STORAGE_DIR becomes a TrainingJob
(progress on the pages) and, unless --no-register, a candidate Adapter named after the folder (or --name). An
--output elsewhere is a plain run: the files are written there and nothing is stored in the database. --queue sends
the job to the gpu worker instead and returns at once. A brand adapter's job counts against its tenant's training job
limits (at once, a day) unless --ignore-limits says otherwise.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.bounds import seed_argument
from core.errors import DomainError
from governance.models import Tenant
from ml.models import Adapter, AdapterKind, TrainingJob


def describe(entry: dict) -> str:
    line = f"step {entry['step']}/{entry['total_steps']}  loss {entry['loss']:.4f}"
    if "reward_margin" in entry:
        line += f"  reward margin {entry['reward_margin']:+.4f}  accuracy {entry.get('reward_accuracy', 0):.2f}"
    return line


def inside(path: Path, folder: Path) -> str | None:
    """``path`` relative to ``folder`` when it lies inside it, else None."""
    try:
        return path.relative_to(folder.resolve()).as_posix()
    except ValueError:
        return None


class Command(BaseCommand):
    help = "Train a LoRA adapter (SFT, DPO or QLoRA) on the base model, in this process or on the gpu worker."

    def add_arguments(self, parser):
        parser.add_argument("--base-model", help="Hugging Face id or local folder (default: settings.BASE_MODEL)")
        parser.add_argument("--adapter-type", required=True, choices=AdapterKind.values, help="retailer, brand or task")
        parser.add_argument("--method", required=True, choices=TrainingJob.Method.values, help="sft, dpo or qlora")
        parser.add_argument("--dataset", required=True, type=Path, help="JSONL: prompt/completion (SFT, QLoRA) or "
                            "prompt/chosen/rejected (DPO) chat messages")  # fmt: skip
        parser.add_argument("--output", required=True, type=Path, help="new adapter folder (relative to the current "
                            "folder); inside MODEL_STORAGE_DIR it is registered as a candidate")  # fmt: skip
        parser.add_argument("--name", help="adapter name in the registry (default: the output folder's name)")
        parser.add_argument("--tenant", help="slug of the tenant that owns a brand adapter (brand only, required)")
        parser.add_argument("--reference-adapter", help="DPO: the SFT adapter to start from and keep as frozen "
                            "reference: a folder, or a registered NAME / NAME@VERSION (default: the active, else "
                            "newest, version of --name)")  # fmt: skip
        parser.add_argument("--max-steps", type=int, default=60)
        parser.add_argument("--batch-size", type=int, default=8)
        parser.add_argument("--learning-rate", type=float, help="default 1e-3 for sft/qlora, 5e-5 for dpo")
        parser.add_argument("--lora-r", type=int, default=16)
        parser.add_argument("--lora-alpha", type=int, default=32)
        parser.add_argument("--beta", type=float, default=0.1, help="DPO's beta")
        parser.add_argument("--seed", type=seed_argument, default=0)
        parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
        parser.add_argument("--queue", action="store_true", help="send the job to the gpu worker and return")
        parser.add_argument("--no-register", action="store_true", help="keep the files, register no adapter")
        parser.add_argument("--ignore-limits", action="store_true", help="a brand adapter's job does not count "
                            "against its tenant's training job limits (docs/deploy.md, Limits)")  # fmt: skip

    def handle(self, *args, **opts):
        kind, method = opts["adapter_type"], opts["method"]
        output = (Path.cwd() / opts["output"].expanduser()).resolve()
        name = opts["name"] or output.name
        tenant = self._tenant(opts["tenant"], kind)
        base_model = opts["base_model"] or str(settings.BASE_MODEL)
        params = {
            "max_steps": opts["max_steps"],
            "batch_size": opts["batch_size"],
            "lora_r": opts["lora_r"],
            "lora_alpha": opts["lora_alpha"],
            "seed": opts["seed"],
            **({"learning_rate": opts["learning_rate"]} if opts["learning_rate"] is not None else {}),
            **({"beta": opts["beta"]} if method == "dpo" else {}),
            **({"threads": opts["threads"]} if opts["threads"] else {}),
        }
        if opts["reference_adapter"] is not None:
            if method != "dpo":
                raise CommandError(f"--reference-adapter is for --method dpo only, not {method}.")
            params["reference_adapter"] = self._reference(opts["reference_adapter"], tenant)
        relative = inside(output, Path(settings.MODEL_STORAGE_DIR))
        if relative is None:
            if opts["queue"]:
                raise CommandError(
                    f"--queue needs an --output inside MODEL_STORAGE_DIR ({settings.MODEL_STORAGE_DIR}): the worker "
                    "writes adapters there."
                )
            return self._plain_run(output, method=method, name=name, tenant=tenant, base_model=base_model,
                                   dataset=opts["dataset"], params=params)  # fmt: skip
        if opts["no_register"]:
            params["register"] = False
        from ml.jobs import run_training_job, training_job_create

        try:
            job = training_job_create(
                user=None,
                tenant=tenant,
                adapter_name=name,
                adapter_kind=kind,
                method=method,
                dataset_path=str(opts["dataset"]),
                base_model=base_model,
                params=params,
                enqueue=opts["queue"],
                output_dir=relative,
                operator=True,  # an operator's shell: shared adapters need no staff user
                ignore_limits=opts["ignore_limits"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc
        if opts["queue"]:
            self.stdout.write(f"Queued training job #{job.pk} (task {job.task_id}) on the gpu queue: {job}")
            return
        self.stdout.write(f"Training job #{job.pk}: {method} {name} on {base_model} -> {output}")
        job = run_training_job(job.pk, on_progress=lambda entry: self.stdout.write(describe(entry)))
        if job.status != TrainingJob.Status.SUCCEEDED:
            raise CommandError(f"Training job #{job.pk} {job.status}: {job.error or 'no adapter was written.'}")
        adapter = job.adapters.first()
        if adapter is None:
            self.stdout.write(f"Wrote {output} (not registered: --no-register).")
        else:
            self.stdout.write(
                self.style.SUCCESS(f"Registered {adapter.name} v{adapter.version} ({adapter.status}) at {output}")
            )

    def _tenant(self, slug: str | None, kind: str) -> Tenant | None:
        if kind == AdapterKind.BRAND and not slug:
            raise CommandError("A brand adapter belongs to one tenant: add --tenant SLUG.")
        if kind != AdapterKind.BRAND and slug:
            raise CommandError(f"A {kind} adapter is shared by all tenants: leave out --tenant.")
        if slug is None:
            return None
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {slug!r}.")
        return tenant

    def _reference(self, value: str, tenant: Tenant | None):
        """A folder (absolute path string) or the id of a registered adapter named NAME or NAME@VERSION."""
        folder = (Path.cwd() / Path(value).expanduser()).resolve()
        if folder.is_dir():
            return str(folder)
        name, _, version = value.partition("@")
        scope = Adapter.objects.filter(name=name, tenant=tenant) | Adapter.objects.filter(name=name, tenant=None)
        if version:
            adapter = scope.filter(version=int(version.lstrip("v"))).first() if version.lstrip("v").isdigit() else None
        else:
            adapter = scope.filter(status=Adapter.Status.ACTIVE).first() or scope.order_by("-version").first()
        if adapter is None:
            raise CommandError(f"--reference-adapter {value!r} is neither a folder nor a registered adapter.")
        return adapter.pk

    def _plain_run(self, output: Path, *, method, name, tenant, base_model, dataset, params) -> None:
        from ml.engine import training

        self.stdout.write(
            f"{output} lies outside MODEL_STORAGE_DIR ({settings.MODEL_STORAGE_DIR}): training without a job record "
            "and registering nothing (use an --output inside it to register a candidate)."
        )
        reference = params.pop("reference_adapter", None)
        params.pop("register", None)
        if method == "dpo":
            from ml.jobs import resolve_reference_adapter

            try:
                found = resolve_reference_adapter(reference=reference, name=name, tenant=tenant, base_model=base_model)
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            reference = Path(settings.MODEL_STORAGE_DIR) / found["reference_adapter"]
        cfg = training.TrainConfig(
            base_model=base_model,
            method=method,
            dataset=dataset.expanduser().resolve(),
            output=output,
            reference_adapter=reference,
            **params,
        )
        try:
            result = training.train(cfg, on_progress=lambda entry: self.stdout.write(describe(entry)))
        except training.TrainingInputError as exc:
            raise CommandError(f"{exc.field}: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Wrote {result.output} ({result.steps} steps, {result.seconds:.1f} s)."))

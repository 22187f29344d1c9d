"""python manage.py demo_train_adapters [--wait]: train the task adapters the demo uses, on the gpu worker.

Idempotent: an adapter name that already has an active or candidate version, or a queued or running job, is left
alone, so a restarted demo does not train twice. With ``--wait`` it stays until the jobs finish, then scores each new
adapter on its held-out split (ml.eval_services.adapter_evaluate) and promotes it when it beats the active version
(the first version does) and, for task_budgeting, the plan reader on the same rows; one that loses is retired with its
figures and not trained again at the next start (the plans page then reads plans with the plan reader alone).
bin/demo runs it in the background after the workers start, so the first page never waits for a model.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from ml.eval_services import behind_reader
from ml.jobs import heldout_path, training_job_start
from ml.models import Adapter, AdapterKind, TrainingJob

EMBEDDED_NAME = "SmolLM2-135M-Instruct"
ACTIVE_JOB = (TrainingJob.Status.QUEUED, TrainingJob.Status.RUNNING)
LIVE_ADAPTER = (Adapter.Status.ACTIVE, Adapter.Status.CANDIDATE)


@dataclass(frozen=True)
class DemoAdapter:
    task: str
    method: str = TrainingJob.Method.SFT

    @property
    def name(self) -> str:
        return f"task_{self.task}"


# In the order the worker trains them: budgeting turns objectives into plans, creative writes copy for the policy
# checks, harmonization maps unknown export columns.
DEMO_ADAPTERS = (DemoAdapter("budgeting"), DemoAdapter("creative"), DemoAdapter("harmonization"))


class Command(BaseCommand):
    help = (
        "Queue training of the demo's task adapters (task_budgeting, task_creative, task_harmonization) on the gpu "
        "worker unless they exist or are being trained; with --wait, evaluate and promote them when done."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--tasks",
            default=",".join(a.task for a in DEMO_ADAPTERS),
            help="Comma-separated tasks to train (default: %(default)s).",
        )
        parser.add_argument("--max-steps", type=int, default=40, help="Training steps per adapter (default 40).")
        parser.add_argument("--wait", action="store_true", help="Stay until the jobs finish, then evaluate/promote.")
        parser.add_argument("--timeout", type=float, default=3 * 3600, help="Seconds --wait waits at most.")
        parser.add_argument("--poll", type=float, default=5.0, help="Seconds between checks while waiting.")
        parser.add_argument(
            "--eval-limit", type=int, default=30, help="Held-out rows scored before promoting (default 30)."
        )
        parser.add_argument(
            "--no-evaluate", action="store_true", help="Promote a finished adapter without scoring it first."
        )
        parser.add_argument(
            "--retries", type=int, default=1, help="While waiting, re-queue a failed demo job this many times."
        )

    def handle(self, *args, tasks, max_steps, wait, timeout, poll, eval_limit, no_evaluate, retries, **options):
        by_task = {a.task: a for a in DEMO_ADAPTERS}
        chosen = [t.strip() for t in tasks.split(",") if t.strip()]
        unknown = [t for t in chosen if t not in by_task]
        if unknown or not chosen:
            raise CommandError(f"--tasks: unknown {', '.join(unknown) or '(none given)'}; use {', '.join(by_task)}.")
        if max_steps < 1:
            raise CommandError(f"--max-steps must be at least 1, not {max_steps}.")
        specs = [by_task[t] for t in chosen]
        self._prepare_base()
        from ml.jobs import reap_dead_jobs

        reaped = reap_dead_jobs()
        if reaped:
            self.stdout.write(f"Marked {reaped} training job(s) of a stopped worker as failed.")
        queued = {spec.name: 0 for spec in specs}  # jobs this run queued, per adapter
        for spec in specs:
            self._ensure(spec, max_steps=max_steps, queued=queued, allowed=1)
        self.stdout.write("Watch the training on the Models page: /models/jobs/ (adapters: /models/).")
        if wait:
            self._wait(specs, max_steps=max_steps, queued=queued, allowed=1 + retries, timeout=timeout, poll=poll,
                       evaluate=not no_evaluate, eval_limit=eval_limit)  # fmt: skip

    # --- steps ------------------------------------------------------------------------------------------------------

    def _prepare_base(self) -> None:
        """Convert the embedded base model once when the settings use it (tens of seconds, here, not in a page)."""
        from ml.engine.base import BaseModelError, is_ready, prepare_base_model

        base = Path(str(settings.BASE_MODEL))
        embedded = Path(settings.MODEL_STORAGE_DIR) / "base" / EMBEDDED_NAME
        if base == embedded and not is_ready(base):
            self.stdout.write("Preparing the embedded base model (once) ...")
            try:
                prepare_base_model(base, progress=lambda line: self.stdout.write(f"  {line}"))
            except BaseModelError as exc:
                raise CommandError(str(exc)) from exc
        elif base.is_absolute() and not base.is_dir():
            raise CommandError(f"Base model folder {base} does not exist (RMN_BASE_MODEL).")

    def _ensure(self, spec: DemoAdapter, *, max_steps: int, queued: dict, allowed: int) -> TrainingJob | None:
        """Queue a job for ``spec`` unless its adapter exists, a job is on its way, or this run already queued
        ``allowed`` jobs of it; say which. None when nothing is on its way."""
        live = Adapter.objects.filter(name=spec.name, tenant=None, status__in=LIVE_ADAPTER).order_by("-version").first()
        if live is not None:
            self.stdout.write(f"{spec.name}: v{live.version} is {live.status}; not training it again.")
            return None
        latest = Adapter.objects.filter(name=spec.name, tenant=None).order_by("-version").first()
        if latest is not None and latest.status == Adapter.Status.RETIRED and "n_eval" in (latest.metrics or {}):
            # Scored and kept out (it lost to the plan reader or to an earlier version): training the same recipe
            # again would score the same, at minutes of CPU per start.
            why = behind_reader(latest.metrics) or "it was scored and retired"
            self.stdout.write(f"{spec.name}: v{latest.version} was not promoted ({why}); not training it again.")
            return None
        job = _jobs(spec).filter(status__in=ACTIVE_JOB).first()
        if job is not None:
            self.stdout.write(f"{spec.name}: job #{job.pk} is {job.status}.")
            return job
        if queued[spec.name] >= allowed:
            self.stdout.write(
                self.style.WARNING(f"{spec.name}: {queued[spec.name]} job(s) did not succeed; giving up.")
            )
            return None
        queued[spec.name] += 1
        try:
            job = training_job_start(
                user=None, tenant=None, kind=AdapterKind.TASK, task=spec.task, method=spec.method, max_steps=max_steps,
                operator=True,  # run by whoever runs the demo: shared task adapters need no staff user here
            )  # fmt: skip
        except DomainError as exc:
            raise CommandError(f"{spec.name}: {exc.message}") from None
        self.stdout.write(f"{spec.name}: queued job #{job.pk} ({max_steps} {spec.method.upper()} steps).")
        return job

    def _wait(self, specs, *, max_steps, queued, allowed, timeout, poll, evaluate, eval_limit) -> None:
        deadline = time.monotonic() + timeout
        reported: set[int] = set()
        pending = {spec.name: spec for spec in specs}
        while pending:
            for name, spec in list(pending.items()):
                job = _jobs(spec).first()
                if job is not None and job.status in ACTIVE_JOB:
                    continue
                if job is not None and job.pk not in reported and job.status != TrainingJob.Status.SUCCEEDED:
                    reported.add(job.pk)
                    self.stdout.write(f"{name}: job #{job.pk} {job.status}. {job.error}".rstrip())
                candidate = (
                    Adapter.objects.filter(name=name, tenant=None, status=Adapter.Status.CANDIDATE)
                    .order_by("-version")
                    .first()
                )
                if candidate is not None:
                    # Promoted, or scored and kept out: either way decided, not a failure to train again.
                    self._promote(candidate, spec, evaluate=evaluate, eval_limit=eval_limit)
                    del pending[name]
                    continue
                active = Adapter.objects.filter(name=name, tenant=None, status=Adapter.Status.ACTIVE).exists()
                if active or self._ensure(spec, max_steps=max_steps, queued=queued, allowed=allowed) is None:
                    del pending[name]  # ready, or given up
            if pending and time.monotonic() > deadline:
                raise CommandError(f"Timed out waiting for {', '.join(pending)}.")
            if pending:
                time.sleep(poll)
        ready = [s.name for s in specs if Adapter.objects.filter(name=s.name, tenant=None, status="active").exists()]
        self.stdout.write(self.style.SUCCESS(f"Active demo adapters: {', '.join(ready) or 'none'} (/models/)."))

    def _promote(self, adapter: Adapter, spec: DemoAdapter, *, evaluate: bool, eval_limit: int) -> None:
        from ml.services import adapter_promote

        job = adapter.training_job
        dataset = heldout_path(job.dataset_path) if job is not None else None
        if evaluate and dataset is not None and dataset.is_file():
            from ml.eval_services import adapter_evaluate

            self.stdout.write(f"{adapter.name} v{adapter.version}: scoring {eval_limit} held-out rows ...")
            try:
                result = adapter_evaluate(
                    adapter=adapter, task=spec.task, dataset_path=str(dataset), promote=True, limit=eval_limit
                )
            except Exception as exc:  # the demo still gets its adapter; the registry shows it has no metrics
                self.stdout.write(self.style.WARNING(f"{adapter.name}: evaluation failed ({exc}); promoting it."))
            else:
                self._report(adapter, result)
                return
        adapter_promote(adapter=adapter, user=None)
        self.stdout.write(f"{adapter.name} v{adapter.version}: promoted without evaluation.")

    def _report(self, adapter: Adapter, result: dict) -> None:
        figures = ", ".join(f"{k} {v:.3g}" for k, v in sorted(result["metrics"].items()) if isinstance(v, float))
        outcome = "promoted" if result["promoted"] else f"kept as candidate: {result['promotion_error']}"
        self.stdout.write(f"{adapter.name} v{adapter.version}: {figures}; {outcome}.")
        if not result["promoted"]:
            _retire_quietly(adapter)


def _jobs(spec: DemoAdapter):
    return TrainingJob.objects.filter(adapter_name=spec.name, tenant=None).order_by("-created_at", "-id")


def _retire_quietly(adapter: Adapter) -> None:
    """A demo candidate that lost to the active version is retired, so the wait loop does not score it again."""
    from ml.services import adapter_retire

    with contextlib.suppress(DomainError):  # retired meanwhile
        adapter_retire(adapter=adapter, user=None)

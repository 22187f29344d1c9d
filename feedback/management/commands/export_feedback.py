"""python manage.py export_feedback --tenant T --task creative|budgeting --format dpo|kto|sft --out FILE.jsonl
[--heldout-out FILE] [--min-rating-gap N] [--min-gold-accuracy X] [--min-gold-answers N] [--heldout-share X]
[--seed N] [--keep-policy-violations]

Exports the tenant's current review feedback as a new stored version of its dataset (feedback.services.datasets),
copies the train rows to FILE.jsonl and the held-out rows to --heldout-out (default FILE.heldout.jsonl), and prints
the counts and why rows were dropped. Bad input is an error before anything is written. Rows whose chosen answer breaks
the item's policy are dropped (``chosen_breaks_policy``) unless --keep-policy-violations is given.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from core.bounds import seed_argument
from core.errors import DomainError
from feedback.engine.datasets import FORMATS
from feedback.services.datasets import TASK_KINDS, feedback_dataset_export, feedback_dataset_path
from governance.models import Tenant


def _writable(path: Path, flag: str) -> Path:
    path = path.expanduser().absolute()
    if path.is_dir():
        raise CommandError(f"{flag}: {path} is a folder; name a file.")
    if not path.parent.is_dir():
        raise CommandError(f"{flag}: the folder {path.parent} does not exist.")
    try:  # a real probe: permission bits say nothing to root, nor about read-only mounts
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".probe"):
            pass
        if path.exists() and not os.access(path, os.W_OK):
            raise OSError
    except OSError:
        raise CommandError(f"{flag}: cannot write {path}.") from None
    return path


class Command(BaseCommand):
    help = "Export reviewers' feedback as a versioned DPO, KTO or SFT dataset (train and held-out JSONL)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug (or id)")
        parser.add_argument("--task", required=True, help=f"one of {', '.join(TASK_KINDS)}")
        parser.add_argument("--format", required=True, dest="fmt", help=f"one of {', '.join(FORMATS)}")
        parser.add_argument("--out", required=True, type=Path, help="where to write the train rows (JSONL)")
        parser.add_argument("--heldout-out", type=Path, help="held-out rows (default: FILE.heldout.jsonl)")
        parser.add_argument("--min-rating-gap", type=float, help="DPO from ratings: least gap of mean ratings (2)")
        parser.add_argument("--min-gold-accuracy", type=float, help="drop reviewers below this gold accuracy (0.6)")
        parser.add_argument("--min-gold-answers", type=int, help="gold answers before accuracy counts (3)")
        parser.add_argument("--heldout-share", type=float, help="share of prompts held out (0.2)")
        parser.add_argument("--seed", type=seed_argument, help="seed of the split by prompt (0)")
        parser.add_argument(
            "--keep-policy-violations",
            action="store_true",
            help="keep rows whose chosen answer breaks the item's policy (dropped by default)",
        )

    def handle(self, *args, tenant, task, fmt, out: Path, heldout_out: Path | None, keep_policy_violations, **opts):
        tenant_obj = Tenant.objects.filter(Q(slug=tenant) | Q(pk=int(tenant) if tenant.isdigit() else None)).first()
        if tenant_obj is None:
            raise CommandError(f"--tenant: no tenant {tenant!r}.")
        if task not in TASK_KINDS:
            raise CommandError(f"--task: no review feedback for {task!r}; use one of {', '.join(TASK_KINDS)}.")
        if fmt not in FORMATS:
            raise CommandError(f"--format: {fmt!r} is not a format; use one of {', '.join(FORMATS)}.")
        out = _writable(out, "--out")
        heldout_default = out.with_name(out.name.removesuffix(".jsonl") + ".heldout.jsonl")
        heldout_out = _writable(heldout_out or heldout_default, "--heldout-out")
        if heldout_out == out:
            raise CommandError("--heldout-out: must differ from --out.")
        names = ("min_rating_gap", "min_gold_accuracy", "min_gold_answers", "heldout_share", "seed")
        options = {name: opts[name] for name in names if opts.get(name) is not None}
        if keep_policy_violations:
            options["drop_policy_violations"] = False
        try:
            dataset = feedback_dataset_export(tenant=tenant_obj, task=task, fmt=fmt, options=options)
        except DomainError as exc:
            flag = "--" + (exc.field or "").removeprefix("options.").replace("_", "-")
            raise CommandError(f"{flag}: {exc.message}" if exc.field else exc.message) from exc
        shutil.copyfile(feedback_dataset_path(dataset=dataset, part="train"), out)
        shutil.copyfile(feedback_dataset_path(dataset=dataset, part="heldout"), heldout_out)
        counts = dataset.counts
        self.stdout.write(f"Dataset {task} {fmt} v{dataset.version} for {tenant_obj.slug} (id {dataset.pk}).")
        self.stdout.write(f"train: {counts['train']} rows -> {out}")
        self.stdout.write(f"held-out: {counts['heldout']} rows -> {heldout_out}")
        dropped = counts.get("dropped") or {}
        if dropped:
            self.stdout.write("dropped: " + ", ".join(f"{reason} {n}" for reason, n in dropped.items()))
        else:
            self.stdout.write("dropped: nothing")

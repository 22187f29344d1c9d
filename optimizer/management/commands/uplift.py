import json
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.bounds import seed_argument
from core.errors import DomainError
from optimizer.engine.errors import OptimizerInputError
from optimizer.engine.jsonsafe import json_safe
from optimizer.engine.uplift import LEARNERS


class Command(BaseCommand):
    help = (
        "Fit uplift models (econml T/X/DR learners against a constant effect) to an exposure test's unit-level file "
        "(U.csv: treatment, outcome, features; docs/measurement.md) and print who to target."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", required=True, help="U.csv: treatment (1/0), outcome, [unit_id], features.")
        parser.add_argument("--json", dest="out", help="Write the full report (JSON) here.")
        parser.add_argument("--learners", default=",".join(LEARNERS), help="Comma list of t, x, dr (default: all).")
        parser.add_argument("--randomized", action="store_true", help="Exposure was assigned at random.")
        parser.add_argument("--seed", type=seed_argument, default=0)
        parser.add_argument("--tenant", help="Tenant slug: also save the result as an uplift study of this tenant.")
        parser.add_argument("--name", default="", help="The saved study's name (with --tenant).")

    def handle(self, *args, **opts):
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        learners = [name.strip() for name in opts["learners"].split(",") if name.strip()]
        try:
            fit = self._fit_and_save if opts["tenant"] else self._fit
            report = fit(path, learners, opts)
        except (OptimizerInputError, DomainError) as exc:
            raise CommandError(exc.message) from None
        if opts["out"]:
            _write_json(Path(opts["out"]), report)
        self._summary(report)

    def _fit(self, path: Path, learners, opts) -> dict:
        from optimizer.engine.files import exposure_parts, read_exposure_test
        from optimizer.engine.uplift import uplift_report

        unknown = sorted(set(learners) - set(LEARNERS))
        if unknown or not learners:
            raise CommandError(f"--learners: unknown {', '.join(unknown) or '(none)'}; choose from t, x, dr.")
        frame = read_exposure_test(path)
        return json_safe(
            uplift_report(
                *exposure_parts(frame),
                learners=learners,
                randomized=opts["randomized"],
                seed=opts["seed"],
            )
        )

    def _fit_and_save(self, path: Path, learners, opts) -> dict:
        from governance.models import Tenant
        from optimizer.services.uplift import uplift_study_create, uplift_study_fit

        tenant = Tenant.objects.filter(slug=opts["tenant"]).first()
        if tenant is None:
            known = ", ".join(Tenant.objects.order_by("slug").values_list("slug", flat=True)) or "none"
            raise CommandError(f"No tenant {opts['tenant']!r} (known: {known}).")
        study = uplift_study_create(
            tenant=tenant, upload=path, file_name=path.name, name=opts["name"], learners=learners,
            randomized=opts["randomized"], seed=opts["seed"], queue=False,
        )  # fmt: skip
        study = uplift_study_fit(study.pk)
        if study.status != study.Status.SUCCEEDED:
            raise CommandError(f"Uplift study #{study.pk} failed: {study.error}")
        self.stdout.write(f"Saved uplift study #{study.pk} for {tenant.slug}.")
        return study.result

    def _summary(self, report: dict) -> None:
        write = self.stdout.write
        low, high = report["ate_interval"]
        write(f"Average effect of exposure: {report['ate']:.4g} per unit (90% interval {low:.4g} to {high:.4g}).")
        write(f"Chosen: {report['chosen']}. {report['reason']}.")
        write(f"{'model':<10}{'qini':>10}{'auuc':>10}{'random':>10}  beats constant")
        for name, m in report["metrics"].items():
            beats = "-" if name == "baseline" else ("yes" if m["beats_baseline"] else "no")
            write(f"{name:<10}{m['qini']:>10.4f}{m['auuc']:>10.4f}{m['auuc_random']:>10.4f}  {beats}")
        write("Segments, best measured effect first (validation rows):")
        for s in report["segments"]:
            effect = "-" if s["effect"] is None else f"{s['effect']:.4g}"
            interval = "" if s["interval"] is None else f" [{s['interval'][0]:.4g}, {s['interval'][1]:.4g}]"
            write(f"  {s['verdict']:<8} {s['label']}: {effect}{interval} ({s['rows']} units)")


def _write_json(path: Path, document: dict) -> None:
    # Written to a temporary file first, so a failure never leaves a half-written report.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

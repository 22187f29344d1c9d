"""How long rewriting a stored upload without personal data takes (harmonization.engine.stored_copy), per format.

A synthetic export of ``--rows`` rows in the layout of harmonization/tests/files.py plus free-text columns the
mapping does not load (a note per row, three in four with an e-mail, a phone or a card number; a search term per
row): 500 distinct campaign names, one in ten holding an e-mail and a phone number. The copy is made with the real
detector (governance.pii, redact); the time is one run, the detector already built. Checks that no e-mail, phone
or card number is left in the copy.

Usage: .venv/bin/python bench/stored_copy_bench.py [--rows 200000] [--write-docs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import commit, machine, write_section
from governance.pii import detect, redact
from harmonization.engine import load_mapping
from harmonization.engine.stored_copy import redact_stored_file
from harmonization.tests import files

HEADER = "date,campaignId,campaignName,sku,impressions,clicks,cost,sales14d,units14d,currency,notes,searchTerm"


def _rows(n: int):
    rng = random.Random(7)
    names = [
        f"Spring push {i} jane.doe{i}@example.com +44 7911 {123000 + i}" if i % 10 == 0 else f"Always on {i}"
        for i in range(500)
    ]
    yield HEADER + "\n"
    for i in range(n):
        note = rng.choice([f"call +1 415 555 {1000 + i % 9000:04d}", f"paid with 4111 1111 1111 1111 ref {i}",
                           f"ok {i}", f"mail ann{i}@example.org"])  # fmt: skip
        yield (
            f"2026-04-{1 + i % 28:02d},c{i % 500},{names[i % 500]},acme-sku-{i % 2},{100 + i % 900},{i % 50},"
            f"{(i % 300) / 10:.2f},{(i % 700) / 10:.2f},{i % 5},USD,{note},term {i}\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    spec = load_mapping(files.MAPPING.replace("{max_quarantine_rate}", "0.5"), origin="bench")
    detect("warm up jane@example.com")
    lines = [
        "| format | rows | file MB | rewrite s | rows/s | left in the copy |",
        "|---|---:|---:|---:|---:|---|",
    ]
    work = Path(tempfile.mkdtemp(prefix="stored-copy-bench-"))
    try:
        plain = work / "export.csv"
        with plain.open("w") as f:
            f.writelines(_rows(args.rows))
        zipped = work / "export.csv.gz"
        with plain.open("rb") as src, gzip.open(zipped, "wb") as dst:
            shutil.copyfileobj(src, dst)
        for label, path in (("CSV", plain), ("CSV, gzip", zipped)):
            size = path.stat().st_size / 1e6
            started = time.perf_counter()
            redact_stored_file(path, spec, lambda text, action: redact(text, action=action).text)
            seconds = time.perf_counter() - started
            text = (gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()).decode()
            left = [v for v in ("@example.", "+44 7911", "+1 415 555", "4111 1111") if v in text]
            lines.append(
                f"| {label} | {args.rows:,} | {size:.1f} | {seconds:.1f} | {args.rows / seconds:,.0f} | "
                f"{', '.join(left) or 'none'} |"
            )
            print(lines[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.write_docs:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        write_section(
            "stored_copy",
            "\n".join(
                [
                    "## Stored uploads rewritten without personal data (harmonization.engine.stored_copy)",
                    "",
                    "What it measures: after an upload has run, its stored file is rewritten without personal data "
                    '(docs/governance.md, "The stored upload"). A synthetic export in the test layout plus two '
                    "free-text columns the mapping does not load (a note per row, three in four with an e-mail, a "
                    "phone or a card number; a search term per row), 500 distinct campaign names, one in ten with an "
                    "e-mail and a phone number. One run, the detector already built.",
                    "",
                    f"Measured {now} on {machine()}, at commit {commit()}, by "
                    f"`.venv/bin/python bench/stored_copy_bench.py --rows {args.rows} --write-docs` (the machine was "
                    "shared with other sessions' work, so times are upper bounds).",
                    "",
                    *lines,
                    "",
                    "Own data only: the layout and the values are made up here. The loaded campaign-name column is "
                    "analyzed once per distinct value (500 here); the columns the mapping does not load are not "
                    "analyzed at all (each value becomes `<REDACTED>`), which is what keeps a wide export with "
                    "high-cardinality free text from taking one detector call per cell.",
                ]
            ),
            heading=None,
        )


if __name__ == "__main__":
    main()

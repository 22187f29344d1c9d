"""What every benchmark script shares: the machine and commit it ran on, and writing its own section of
docs/benchmarks.md between `<!-- name:start -->` and `<!-- name:end -->` without touching the others."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


def commit() -> str:
    """Short hash of the checked-out commit, or "unknown" outside a git checkout."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine(*extras: str) -> str:
    """For example "Intel(R) Xeon(R) Processor, 2 cores, Python 3.11.7, numpy 2.4.6"."""
    return ", ".join([cpu_model(), f"{os.cpu_count()} cores", f"Python {platform.python_version()}", *extras])


def write_section(name: str, text: str, *, heading: str | None = None) -> None:
    """Replace this benchmark's section of docs/benchmarks.md (re-read just before writing: other scripts write
    theirs). ``text`` may already carry the markers. A new section goes at the end, under ``heading`` if given."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    body = text.strip()
    if body.startswith(start):
        body = body[len(start) :]
    if body.endswith(end):
        body = body[: -len(end)]
    block = f"{start}\n{body.strip()}\n{end}"
    doc = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if start in doc and end in doc:
        head, rest = doc.split(start, 1)
        doc = head + block + rest.split(end, 1)[1]
    else:
        doc = doc.rstrip("\n") + "\n\n" + (f"{heading}\n\n" if heading else "") + block + "\n"
    DOC.write_text(doc)

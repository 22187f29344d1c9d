"""The quarantined rows of an import as a CSV download (the page and the API share it)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

# CSV injection (OWASP): a spreadsheet runs a cell that starts with one of these as a formula. Quarantined rows
# hold the retailer file's raw values, so the download prefixes such a cell with a single quote, which spreadsheets
# show as text. A plain number ("-5", "+1.5", "-1,234.50", "-2e3") cannot be a formula and is left as it is.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # and full-width =+-@
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d[\d,.]*|[.,]\d[\d,.]*)(?:[eE][+-]?\d+)?")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` as a spreadsheet will show it, never run it: a formula-looking cell gets a leading single quote."""
    if cell.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def safe_csv_lines(handle) -> Iterator[bytes]:
    with handle, io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline="") as text:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in csv.reader(text):
            writer.writerow([spreadsheet_safe(cell) for cell in row])
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()

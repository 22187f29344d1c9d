"""Personal data in uploaded rows, before anything is stored or quarantined: each source column gets the mapping's
PII action (MappingSpec.pii_action), applied by a ``Scrub`` the caller supplies (governance.pii through
harmonization.services; the engine itself knows no detector)."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from .readers import SourceError
from .spec import MappingSpec

# (text, action) -> the text to keep; raises ValueError (its message says what was found) to refuse the file.
Scrub = Callable[[str, str], str]


def _is_text(array) -> bool:
    return pa.types.is_string(array.type) or pa.types.is_large_string(array.type)


MEMO_VALUES = 100_000


def scrub_table(
    table: pa.Table, lines: np.ndarray, spec: MappingSpec, scrub: Scrub, source: str, memo: dict | None = None
) -> pa.Table:
    """The chunk's source columns with personal data handled per column; each distinct value is looked at once per
    run (``memo``, {column: {value: kept}}, carried from chunk to chunk; up to MEMO_VALUES values a column)."""
    memo = {} if memo is None else memo
    for i, name in enumerate(table.column_names):
        action = spec.pii_action(name)
        column = table.column(i)
        if action == "keep" or not _is_text(column):
            continue
        values = column.to_pylist()
        done: dict[str, str] = memo.setdefault(name, {})
        if len(done) > MEMO_VALUES:
            done.clear()
        for row, value in enumerate(values):
            if not value or value in done:
                continue
            try:
                done[value] = scrub(value, action)
            except ValueError as exc:
                raise SourceError(f"{source}, line {int(lines[row])}, column {name!r}: {exc}") from None
        if any(done[v] != v for v in done):
            table = table.set_column(i, name, pa.array([done.get(v, v) if v else v for v in values], column.type))
    return table


def scrub_quarantine(quarantine: pa.Table, spec: MappingSpec, scrub: Scrub, source: str) -> pa.Table:
    """Quarantined rows keep their raw source values (every column of the line, mapped or not) and a reason that may
    quote one: both are handled, a column of the raw row by its action and anything else redacted."""
    if not quarantine.num_rows:
        return quarantine
    lines = quarantine.column("line").to_pylist()
    raws, reasons = [], []
    for line, raw, reason in zip(lines, quarantine.column("raw").to_pylist(), quarantine.column("reason").to_pylist(),
                                 strict=True):  # fmt: skip
        try:
            row = json.loads(raw) if raw else {}
            if isinstance(row, dict):
                for key, value in row.items():
                    if isinstance(value, str) and value:  # only an explicit keep keeps a quarantined value
                        row[key] = scrub(value, spec.pii.get(key, "redact"))
                raw = json.dumps(row, ensure_ascii=False)
            reasons.append(scrub(reason, "redact") if reason else reason)
        except ValueError as exc:
            raise SourceError(f"{source}, line {line}: {exc}") from None
        raws.append(raw)
    quarantine = quarantine.set_column(quarantine.schema.get_field_index("raw"), "raw", pa.array(raws, pa.string()))
    return quarantine.set_column(
        quarantine.schema.get_field_index("reason"), "reason", pa.array(reasons, quarantine.schema.field("reason").type)
    )

"""Bounds on one run's input, set by the caller (a tenant's limits, docs/deploy.md): rows (counted decompressed, while
streaming) and header columns (counted on a bounded head of the file, before any header is split)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputLimits:
    max_rows: int | None = None
    max_columns: int | None = None
    # Where each limit comes from, in words, for the messages: "the site's default limit", ...
    rows_note: str = ""
    columns_note: str = ""

    def why_rows(self) -> str:
        return f" ({self.rows_note})" if self.rows_note else ""

    def why_columns(self) -> str:
        return f" ({self.columns_note})" if self.columns_note else ""


NO_LIMITS = InputLimits()

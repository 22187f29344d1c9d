"""Errors the optimizer engine raises for bad requests: the message says what is wrong and what to do."""

from __future__ import annotations


class OptimizerInputError(ValueError):
    """A bad request (input file, bounds, budget, infeasible constraint).

    ``message`` is shown to the user as is; ``field`` names the input at fault (a file, an option, a channel key) and
    ``details`` carries the numbers behind the message (which constraint, by how much).
    """

    def __init__(self, message: str, *, field: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = dict(details or {})

    def __str__(self) -> str:
        return self.message

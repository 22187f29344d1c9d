"""Analysis rules in the style of AWS Clean Rooms' aggregation rules, one set per dataset.

A dataset's rules are stored as a dict (``CleanRoomDataset.rules``, admin-editable) and read through
``policy_from_dict``, which refuses a malformed dict with the key it could not read. docs/governance.md describes each
key, its default and how to change it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

AGGREGATE_FUNCTIONS = frozenset({"COUNT", "COUNT_DISTINCT", "SUM", "AVG"})
DEFAULT_MIN_SHOPPERS = 50
DEFAULT_MAX_ROWS_PER_SHOPPER = 50


class RuleViolation(Exception):
    """A query broke a rule; ``rule`` is the rule's stable name (docs/governance.md lists them)."""

    def __init__(self, rule: str, message: str):
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class TableRule:
    """What a query may do with one table.

    ``dimensions`` may be grouped by, filtered on and shown; ``aggregates`` maps a column to the functions that may
    summarize it (COUNT, COUNT_DISTINCT, SUM, AVG); ``join_keys`` may appear in join conditions only; every other
    column is row-level and may not appear anywhere. ``subject`` names the column that identifies a shopper (None for a
    table without shoppers, such as harmonized campaigns); ``bounds`` clamp one shopper's contribution to a SUM or AVG
    when differential privacy is on; ``one_row_per_shopper`` marks a table whose dimensions describe the shopper (so
    grouping by them puts each shopper in one group only, which keeps the DP sensitivity at one group).
    """

    dimensions: frozenset[str] = frozenset()
    aggregates: dict[str, frozenset[str]] = field(default_factory=dict)
    join_keys: frozenset[str] = frozenset()
    subject: str | None = None
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    one_row_per_shopper: bool = False


@dataclass(frozen=True)
class CleanRoomPolicy:
    tables: dict[str, TableRule]
    min_shoppers: int = DEFAULT_MIN_SHOPPERS
    max_rows_per_shopper: int = DEFAULT_MAX_ROWS_PER_SHOPPER
    # Suppress further rows so that no coarser grouping minus the shown rows isolates a small one (docs/governance.md).
    complementary_suppression: bool = True


def _names(value, where: str) -> frozenset[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{where} must be a list of column names")
    return frozenset(value)


def policy_from_dict(data: dict) -> CleanRoomPolicy:
    """Read a stored rules dict; a ValueError names the key it could not read."""
    if not isinstance(data, dict) or not isinstance(data.get("tables"), dict) or not data["tables"]:
        raise ValueError("rules.tables must be an object with one entry per table")
    tables: dict[str, TableRule] = {}
    for name, spec in data["tables"].items():
        where = f"rules.tables.{name}"
        if not isinstance(spec, dict):
            raise ValueError(f"{where} must be an object")
        unknown = set(spec) - {"dimensions", "aggregates", "join_keys", "subject", "bounds", "one_row_per_shopper"}
        if unknown:
            raise ValueError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
        aggregates: dict[str, frozenset[str]] = {}
        for column, functions in (spec.get("aggregates") or {}).items():
            funcs = frozenset(f.upper() for f in _names(functions, f"{where}.aggregates.{column}"))
            bad = funcs - AGGREGATE_FUNCTIONS
            if bad:
                raise ValueError(
                    f"{where}.aggregates.{column}: {', '.join(sorted(bad))} not one of "
                    f"{', '.join(sorted(AGGREGATE_FUNCTIONS))}"
                )
            aggregates[column] = funcs
        bounds: dict[str, tuple[float, float]] = {}
        for column, pair in (spec.get("bounds") or {}).items():
            try:
                lo, hi = (float(v) for v in pair)
            except (TypeError, ValueError):
                raise ValueError(f"{where}.bounds.{column} must be [low, high]") from None
            if not lo <= hi:
                raise ValueError(f"{where}.bounds.{column}: low must not exceed high")
            bounds[column] = (lo, hi)
        subject = spec.get("subject")
        if subject is not None and not isinstance(subject, str):
            raise ValueError(f"{where}.subject must be a column name or null")
        dimensions = _names(spec.get("dimensions", []), f"{where}.dimensions")
        if subject in dimensions or subject in aggregates:
            raise ValueError(f"{where}: the subject column {subject} is row-level; it cannot be a dimension")
        tables[name] = TableRule(
            dimensions=dimensions,
            aggregates=aggregates,
            join_keys=_names(spec.get("join_keys", []), f"{where}.join_keys"),
            subject=subject,
            bounds=bounds,
            one_row_per_shopper=bool(spec.get("one_row_per_shopper", False)),
        )
    min_shoppers = data.get("min_shoppers", DEFAULT_MIN_SHOPPERS)
    max_rows = data.get("max_rows_per_shopper", DEFAULT_MAX_ROWS_PER_SHOPPER)
    for key, value in (("min_shoppers", min_shoppers), ("max_rows_per_shopper", max_rows)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"rules.{key} must be a whole number of at least 1")
    complementary = data.get("complementary_suppression", True)
    if not isinstance(complementary, bool):
        raise ValueError("rules.complementary_suppression must be true or false")
    return CleanRoomPolicy(
        tables=tables,
        min_shoppers=min_shoppers,
        max_rows_per_shopper=max_rows,
        complementary_suppression=complementary,
    )

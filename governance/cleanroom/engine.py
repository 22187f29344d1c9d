"""Run a checked query on an in-memory SQLite copy of the dataset's tables, then suppress and (optionally) noise.

The query never touches the application's database: the tables it may read are copied into a private in-memory
database per call, so a query can read nothing else, whatever the parser let through.

Suppression (all on exact counts of distinct shoppers; ``QueryResult.suppressed`` counts the rows by rule):
* ``min_shoppers``: an output row that covers fewer than ``policy.min_shoppers`` distinct shoppers is dropped.
* ``filter_cell_threshold`` (differencing through a filter): with a WHERE, the unfiltered data of each output group is
  split into cells by every column the query groups or filters on; if any cell of the group holds between 1 and
  ``min_shoppers - 1`` shoppers, the row is dropped. Any filtered answer differs from the same query without (or
  with another) filter on those columns by whole cells, so the difference of two answers covers either no shopper
  or at least ``min_shoppers``.
* ``complementary_suppression`` (differencing through a coarser grouping; ``governance.cleanroom.suppression``):
  rows whose entry is suppressed to protect a small one, so that a coarser answer minus the shown rows of a finer
  one never isolates fewer than ``min_shoppers`` shoppers. On unless the rules say ``"complementary_suppression":
  false``.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlglot import exp

from governance.cleanroom.checker import CheckedQuery, ColumnRef
from governance.cleanroom.privacy import NoiseInfo, laplace_release
from governance.cleanroom.rules import CleanRoomPolicy, RuleViolation
from governance.cleanroom.suppression import SuppressionPattern, suppression_pattern

_SHOPPERS = "__shoppers"
_SUBJECT = "__subject"


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[dict]
    suppressed: dict[str, int] = field(default_factory=dict)
    noise: dict[str, NoiseInfo] | None = None  # per output column, when released with differential privacy
    epsilon: float | None = None


def run_query(
    checked: CheckedQuery,
    *,
    policy: CleanRoomPolicy,
    frames: dict[str, pd.DataFrame],
    epsilon: float | None = None,
) -> QueryResult:
    """Exact answers when ``epsilon`` is None (inside the tenant), else Laplace-noised answers spending ``epsilon``."""
    with closing(sqlite3.connect(":memory:")) as conn:
        for table in set(checked.tables.values()):
            frames[table].to_sql(table, conn, index=False)
        dims = [f"__d{i}" for i in range(len(checked.group_by))]
        exact = _exact(conn, checked, dims)
        keep = exact[_SHOPPERS] >= policy.min_shoppers
        suppressed = {"min_shoppers": int((~keep).sum())}
        cell_refs: list[ColumnRef] = list(dict.fromkeys([*checked.group_by, *checked.filter_columns]))
        if checked.filter_columns or policy.complementary_suppression:
            pattern = _pattern(conn, checked, cell_refs, policy)
            row_keys = [_row_key(key) for key in _keys(exact, dims)]
            # A row's entry in the lattice: its GROUP BY values in the order of the columns' positions in cell_refs.
            first = {}
            for d, ref in zip(dims, checked.group_by, strict=True):
                first.setdefault(cell_refs.index(ref), dims.index(d))
            level = tuple(sorted(first))
            entry = [tuple(key[first[p]] for p in level) for key in row_keys]
            full = tuple(range(len(cell_refs)))
            if checked.filter_columns:
                small_by_group = {_project(key, full, level) for key in pattern.primary[full]}
                hit = keep & pd.Series([e in small_by_group for e in entry], index=exact.index, dtype=bool)
                suppressed["filter_cell_threshold"] = int(hit.sum())
                keep &= ~hit
            if policy.complementary_suppression:
                if checked.filter_columns:
                    shown_cells = _filtered_cells(conn, checked, cell_refs)
                    hidden = {_project(k, full, level) for k in shown_cells if pattern.is_suppressed(full, k)}
                else:
                    hidden = pattern.suppressed[level]
                hit = keep & pd.Series([e in hidden for e in entry], index=exact.index, dtype=bool)
                suppressed["complementary_suppression"] = int(hit.sum())
                keep &= ~hit
        exact = exact[keep].reset_index(drop=True)
        noise = None
        if epsilon is not None and len(exact):
            exact, noise = _noised(conn, checked, dims, exact, policy=policy, epsilon=epsilon)
    names = [o.name for o in checked.outputs]
    out = exact.rename(columns={f"__o{i}": name for i, name in enumerate(names)})
    for o in checked.outputs:
        if o.function is None:
            out[o.name] = out[dims[checked.group_by.index(o.column)]]
    for name, descending in reversed(checked.order_by):
        out = out.sort_values(name, ascending=not descending, kind="stable")
    if checked.limit is not None:
        out = out.head(checked.limit)
    rows = [{name: _plain(row[name]) for name in names} for _, row in out.iterrows()]
    return QueryResult(
        columns=names, rows=rows, suppressed={k: v for k, v in suppressed.items() if v}, noise=noise, epsilon=epsilon
    )


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _base(checked: CheckedQuery, expressions: list[exp.Expression], group: list[exp.Expression], *, where: bool):
    """The user's FROM and JOINs (and WHERE, if asked) with our own SELECT list and GROUP BY."""
    select = checked.select.copy()
    for key in ("order", "limit", "offset", "group", "having"):
        select.set(key, None)
    if not where:
        select.set("where", None)
    select.set("expressions", expressions)
    if group:
        select.set("group", exp.Group(expressions=group))
    return select.sql(dialect="sqlite")


def _dimension_outputs(checked: CheckedQuery, dims: list[str]) -> list[exp.Expression]:
    return [exp.alias_(ref.sql(), d) for ref, d in zip(checked.group_by, dims, strict=True)]


def _exact(conn, checked: CheckedQuery, dims: list[str]) -> pd.DataFrame:
    expressions = _dimension_outputs(checked, dims)
    for i, out in enumerate(checked.outputs):
        if out.function is None:
            continue
        column = out.column.sql() if out.column else exp.Star()
        value = {
            "COUNT": lambda c: exp.Count(this=c),
            "COUNT_DISTINCT": lambda c: exp.Count(this=exp.Distinct(expressions=[c])),
            "SUM": lambda c: exp.Sum(this=c),
            "AVG": lambda c: exp.Avg(this=c),
        }[out.function](column)
        expressions.append(exp.alias_(value, f"__o{i}"))
    expressions.append(exp.alias_(exp.Count(this=exp.Distinct(expressions=[checked.subject.sql()])), _SHOPPERS))
    sql = _base(checked, expressions, [r.sql() for r in checked.group_by], where=True)
    frame = pd.read_sql_query(sql, conn)
    if not checked.group_by and len(frame) and frame[_SHOPPERS].iloc[0] == 0:
        frame = frame.iloc[0:0]  # an ungrouped aggregate over nothing still returns one row: nobody to show
    return frame


def _cells_sql(checked: CheckedQuery, cell_refs: list[ColumnRef], *, where: bool, subject: bool) -> str:
    names = [f"c{i}" for i in range(len(cell_refs))]
    expressions = [exp.alias_(ref.sql(), n) for ref, n in zip(cell_refs, names, strict=True)]
    group = [r.sql() for r in cell_refs]
    if subject:
        expressions.append(exp.alias_(checked.subject.sql(), _SUBJECT))
        group.append(checked.subject.sql())
    if not expressions:  # an ungrouped, unfiltered query: one cell, the total
        expressions = [exp.alias_(exp.Literal.number(1), "one")]
    return _base(checked, expressions, group, where=where)


def _pattern(conn, checked: CheckedQuery, cell_refs: list[ColumnRef], policy: CleanRoomPolicy) -> SuppressionPattern:
    """The suppression pattern over the unfiltered data, from its distinct (cell, shopper) pairs."""
    pairs = pd.read_sql_query(_cells_sql(checked, cell_refs, where=False, subject=True), conn)
    pairs = pairs[pairs[_SUBJECT].notna()]
    return suppression_pattern(
        pairs,
        [f"c{i}" for i in range(len(cell_refs))],
        _SUBJECT,
        policy.min_shoppers,
        complement=policy.complementary_suppression,
    )


def _filtered_cells(conn, checked: CheckedQuery, cell_refs: list[ColumnRef]) -> list[tuple]:
    """The cells (values of every grouping and filter column) that pass the query's filter."""
    frame = pd.read_sql_query(_cells_sql(checked, cell_refs, where=True, subject=False), conn)
    return [_row_key(k) for k in _keys(frame, [f"c{i}" for i in range(len(cell_refs))])]


def _project(key: tuple, level: tuple[int, ...], onto: tuple[int, ...]) -> tuple:
    return tuple(key[level.index(p)] for p in onto)


def _row_key(key: tuple) -> tuple:
    return tuple(v.item() if isinstance(v, np.generic) else v for v in key)


def _noised(conn, checked, dims, exact, *, policy: CleanRoomPolicy, epsilon: float):
    """Recompute each aggregate from per-shopper contributions clamped to the rules' bounds, then add Laplace noise.

    One shopper's contribution to a group is at most 1 (COUNT DISTINCT), ``max_rows_per_shopper`` (COUNT) or the
    column's largest absolute bound (SUM); a shopper can reach every released group unless all grouping columns come
    from tables with one row per shopper, so the L1 sensitivity is that bound times the number of groups a shopper
    may touch. ``epsilon`` is split evenly over the statistics released (AVG releases a sum and a count).
    """
    aggregates = [(i, o) for i, o in enumerate(checked.outputs) if o.function]
    for _, out in aggregates:
        if out.function == "COUNT_DISTINCT" and out.column.column != policy.tables[out.column.table].subject:
            raise RuleViolation("dp_aggregates", "with differential privacy, COUNT(DISTINCT ...) counts shoppers only")
        if out.function in ("SUM", "AVG") and out.column.column not in policy.tables[out.column.table].bounds:
            raise RuleViolation(
                "dp_bounds", f"{out.column.table}.{out.column.column} has no clamping bounds in the rules"
            )
    expressions = _dimension_outputs(checked, dims)
    expressions.append(exp.alias_(checked.subject.sql(), _SUBJECT))
    expressions.append(exp.alias_(exp.Count(this=exp.Star()), "n_rows"))
    for i, out in aggregates:
        if out.column is not None:
            expressions.append(exp.alias_(exp.Count(this=out.column.sql()), f"n{i}"))
            expressions.append(exp.alias_(exp.Sum(this=out.column.sql()), f"s{i}"))
    group = [r.sql() for r in checked.group_by] + [checked.subject.sql()]
    per_shopper = pd.read_sql_query(_base(checked, expressions, group, where=True), conn)
    per_shopper = per_shopper[per_shopper[_SUBJECT].notna()]
    keys = _keys(exact, dims)
    per_shopper["__key"] = _keys(per_shopper, dims)
    parts = dict(iter(per_shopper.groupby("__key", sort=False)))
    empty = per_shopper.iloc[0:0]
    one_group_each = all(policy.tables[ref.table].one_row_per_shopper for ref in checked.group_by)
    groups_per_shopper = 1 if one_group_each else len(keys)
    statistics = sum(2 if o.function == "AVG" else 1 for _, o in aggregates)
    share = epsilon / statistics
    noise: dict[str, NoiseInfo] = {}
    result = exact.copy()
    for i, out in aggregates:
        true_counts, true_sums = [], []
        lo, hi = policy.tables[out.column.table].bounds.get(out.column.column, (0.0, 0.0)) if out.column else (0, 0)
        for key in keys:
            part = parts.get(key, empty)
            if out.function == "COUNT_DISTINCT":  # another table's shopper column: shoppers with a match
                true_counts.append(float(len(part) if out.column == checked.subject else (part[f"n{i}"] > 0).sum()))
            elif out.function == "COUNT":
                rows = part["n_rows"] if out.column is None else part[f"n{i}"]
                true_counts.append(float(np.minimum(rows, policy.max_rows_per_shopper).sum()))
            else:
                true_sums.append(float(np.clip(part[f"s{i}"].fillna(0.0), lo, hi).sum()))
                true_counts.append(float(np.minimum(part[f"n{i}"], policy.max_rows_per_shopper).sum()))
        bound = max(abs(lo), abs(hi))
        if out.function in ("COUNT_DISTINCT", "COUNT"):
            unit = 1.0 if out.function == "COUNT_DISTINCT" else float(policy.max_rows_per_shopper)
            values, info = laplace_release(np.array(true_counts), sensitivity=unit * groups_per_shopper, epsilon=share)
        elif out.function == "SUM":
            values, info = laplace_release(np.array(true_sums), sensitivity=bound * groups_per_shopper, epsilon=share)
        else:
            sums, sum_info = laplace_release(np.array(true_sums), sensitivity=bound * groups_per_shopper, epsilon=share)
            counts, count_info = laplace_release(
                np.array(true_counts),
                sensitivity=float(policy.max_rows_per_shopper) * groups_per_shopper,
                epsilon=share,
            )
            values = sums / np.maximum(counts, 1.0)
            info = sum_info.with_parts(sum=sum_info, count=count_info)
        result[f"__o{i}"] = values
        noise[out.name] = info
    return result, noise


def _keys(frame: pd.DataFrame, dims: list[str]) -> list[tuple]:
    """Group keys as tuples, with None for a missing value, so the same group matches across two frames."""
    if not dims:
        return [()] * len(frame) if len(frame) else []
    values = frame[dims].astype(object).where(frame[dims].notna(), None)
    return [tuple(row) for row in values.itertuples(index=False, name=None)]

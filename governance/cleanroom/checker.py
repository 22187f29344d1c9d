"""Parse a query with sqlglot and check it against a dataset's rules before anything runs.

Only one shape is accepted: a single SELECT of dimension columns and aggregates over joined tables, grouped by those
dimensions, with a WHERE made of comparisons between dimension columns and literals. Everything else is refused with
the name of the rule it broke (docs/governance.md, "Clean rooms").
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from governance.cleanroom.rules import CleanRoomPolicy, RuleViolation

_FILTER_LOGIC = (exp.And, exp.Or, exp.Not, exp.Paren)
_FILTER_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between, exp.Is)
_LITERALS = (exp.Literal, exp.Boolean, exp.Null, exp.Neg)


@dataclass(frozen=True)
class ColumnRef:
    alias: str  # the table's alias in the query (its name when it has none)
    table: str
    column: str

    def sql(self) -> exp.Column:
        return exp.column(self.column, table=self.alias, quoted=True)


@dataclass(frozen=True)
class Output:
    name: str
    function: str | None  # None for a dimension, else COUNT, COUNT_DISTINCT, SUM or AVG
    column: ColumnRef | None  # None only for COUNT(*)


@dataclass(frozen=True)
class CheckedQuery:
    select: exp.Select  # the parsed query (its FROM, JOINs and WHERE are reused by the executor)
    outputs: tuple[Output, ...]
    group_by: tuple[ColumnRef, ...]
    filter_columns: tuple[ColumnRef, ...]
    subject: ColumnRef
    tables: dict[str, str]  # alias -> table
    order_by: tuple[tuple[str, bool], ...]  # (output name, descending)
    limit: int | None


def _refuse(rule: str, message: str):
    raise RuleViolation(rule, message)


def check_query(sql: str, *, policy: CleanRoomPolicy, schemas: dict[str, list[str]]) -> CheckedQuery:
    """Return the checked query, or raise RuleViolation naming the first rule the query breaks."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="sqlite") if s is not None]
    except ParseError as exc:
        raise RuleViolation("syntax", f"the query could not be parsed: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Select):
        _refuse("single_select", "send exactly one SELECT statement (no UNION, no writes, no several statements)")
    select: exp.Select = statements[0]
    if (
        select.args.get("with_")
        or select.args.get("with")
        or any(node is not select for node in select.find_all(exp.Select))
    ):
        _refuse("single_select", "subqueries and WITH are not allowed")
    if select.args.get("distinct"):
        _refuse("output_form", "SELECT DISTINCT is not allowed; use GROUP BY")
    if select.args.get("having"):
        _refuse("no_having", "HAVING is not allowed; rows under the threshold are suppressed for you")
    if select.find(exp.Star) is not None and not _only_count_star(select):
        _refuse("no_select_star", "SELECT * (or t.*) would return row-level data; name dimensions and aggregates")

    tables = _tables(select, policy, schemas)
    resolve = _resolver(tables, schemas)
    _check_joins(select, tables, policy, resolve)

    group_by: list[ColumnRef] = []
    group = select.args.get("group")
    for node in group.expressions if group else []:
        if not isinstance(node, exp.Column):
            _refuse("group_by_columns", f"GROUP BY takes dimension columns only, not {node.sql()}")
        ref = resolve(node)
        if ref.column not in policy.tables[ref.table].dimensions:
            _refuse("group_by_columns", f"{ref.table}.{ref.column} is not a dimension column; it cannot be grouped by")
        group_by.append(ref)

    outputs = [_output(node, policy, resolve, group_by) for node in select.expressions]
    if not any(o.function for o in outputs):
        _refuse("aggregate_required", "select at least one aggregate (COUNT, COUNT(DISTINCT ...), SUM or AVG)")
    names = [o.name for o in outputs]
    if len(set(names)) != len(names):
        _refuse("output_form", "two outputs have the same name; give each an alias")
    if any(name.startswith("__") for name in names):
        _refuse("output_form", "output names may not start with two underscores (they are the clean room's own)")

    filter_columns = _check_filter(select.args.get("where"), policy, resolve)
    subject = _subject(tables, policy)
    order_by = _order(select, names)
    limit = _limit(select)
    return CheckedQuery(
        select=select,
        outputs=tuple(outputs),
        group_by=tuple(group_by),
        filter_columns=tuple(dict.fromkeys(filter_columns)),
        subject=subject,
        tables=tables,
        order_by=order_by,
        limit=limit,
    )


def _only_count_star(select: exp.Select) -> bool:
    return all(isinstance(star.parent, exp.Count) for star in select.find_all(exp.Star))


def _tables(select: exp.Select, policy: CleanRoomPolicy, schemas: dict[str, list[str]]) -> dict[str, str]:
    from_ = select.args.get("from_") or select.args.get("from")
    sources = [from_.this] if from_ else []
    sources += [join.this for join in select.args.get("joins") or []]
    if not sources:
        _refuse("unknown_table", "the query reads no table")
    tables: dict[str, str] = {}
    for source in sources:
        if not isinstance(source, exp.Table) or source.args.get("db") or source.args.get("catalog"):
            _refuse("single_select", f"only plain table names may be read, not {source.sql()}")
        name = source.name
        if name not in policy.tables or name not in schemas:
            _refuse("unknown_table", f"{name} is not a table of this clean room ({', '.join(sorted(policy.tables))})")
        alias = source.alias_or_name
        if alias in tables or name in tables.values():
            _refuse("allowed_joins", f"the table or alias {alias} appears twice (self-joins are not allowed)")
        tables[alias] = name
    return tables


def _resolver(tables: dict[str, str], schemas: dict[str, list[str]]):
    def resolve(node: exp.Column) -> ColumnRef:
        column = node.name
        if node.table:
            if node.table not in tables:
                _refuse("unknown_column", f"{node.table}.{column}: no table or alias {node.table} in the query")
            table = tables[node.table]
            if column not in schemas[table]:
                _refuse("unknown_column", f"{table} has no column {column}")
            return ColumnRef(node.table, table, column)
        owners = [alias for alias, table in tables.items() if column in schemas[table]]
        if not owners:
            _refuse("unknown_column", f"no table in the query has a column {column}")
        if len(owners) > 1:
            _refuse("unknown_column", f"{column} is in several tables ({', '.join(owners)}); qualify it")
        return ColumnRef(owners[0], tables[owners[0]], column)

    return resolve


def _check_joins(select: exp.Select, tables: dict[str, str], policy: CleanRoomPolicy, resolve) -> None:
    for join in select.args.get("joins") or []:
        kind = (join.args.get("kind") or "").upper()
        side = (join.args.get("side") or "").upper()
        if kind not in ("", "INNER") or side not in ("", "LEFT") or join.args.get("using"):
            _refuse("allowed_joins", f"only INNER and LEFT joins with ON are allowed, not {join.sql()}")
        condition = join.args.get("on")
        if condition is None:
            _refuse("allowed_joins", f"a join needs an ON condition on join keys: {join.sql()}")
        pairs = list(condition.flatten()) if isinstance(condition, exp.And) else [condition]
        for pair in pairs:
            if not (
                isinstance(pair, exp.EQ)
                and isinstance(pair.this, exp.Column)
                and isinstance(pair.expression, exp.Column)
            ):
                _refuse("allowed_joins", f"a join condition must equate two join keys, not {pair.sql()}")
            left, right = resolve(pair.this), resolve(pair.expression)
            for ref in (left, right):
                if ref.column not in policy.tables[ref.table].join_keys:
                    _refuse("allowed_joins", f"{ref.table}.{ref.column} is not an allowed join key")
            if left.alias == right.alias:
                _refuse("allowed_joins", f"a join condition must relate two tables: {pair.sql()}")


def _output(node: exp.Expression, policy: CleanRoomPolicy, resolve, group_by: list[ColumnRef]) -> Output:
    alias = node.alias if isinstance(node, exp.Alias) else None
    value = node.this if isinstance(node, exp.Alias) else node
    if isinstance(value, exp.Column):
        ref = resolve(value)
        rule = policy.tables[ref.table]
        if ref.column not in rule.dimensions:
            _refuse(
                "row_level_column",
                f"{ref.table}.{ref.column} is not a dimension; it may only be aggregated"
                if ref.column in rule.aggregates
                else f"{ref.table}.{ref.column} is row-level and cannot be shown",
            )
        if ref not in group_by:
            _refuse("group_by_columns", f"{ref.table}.{ref.column} is shown but not grouped by")
        return Output(alias or ref.column, None, ref)
    if isinstance(value, exp.Count | exp.Sum | exp.Avg):
        argument = value.this
        if isinstance(value, exp.Count) and isinstance(argument, exp.Star):
            return Output(alias or "count", "COUNT", None)
        function = {exp.Count: "COUNT", exp.Sum: "SUM", exp.Avg: "AVG"}[type(value)]
        if isinstance(argument, exp.Distinct):
            if function != "COUNT" or len(argument.expressions) != 1:
                _refuse("aggregate_functions", f"only COUNT(DISTINCT column) is allowed, not {value.sql()}")
            function, argument = "COUNT_DISTINCT", argument.expressions[0]
        if not isinstance(argument, exp.Column):
            _refuse("aggregate_functions", f"an aggregate takes a plain column, not {argument.sql()}")
        ref = resolve(argument)
        rule = policy.tables[ref.table]
        allowed = rule.aggregates.get(ref.column, frozenset())
        if ref.column == rule.subject and function == "COUNT_DISTINCT":
            allowed = allowed | {"COUNT_DISTINCT"}
        if function not in allowed:
            what = ", ".join(sorted(allowed)) or "no aggregate"
            _refuse("aggregate_functions", f"{function} of {ref.table}.{ref.column} is not allowed (allowed: {what})")
        return Output(alias or f"{function.lower()}_{ref.column}", function, ref)
    if isinstance(value, exp.AggFunc):
        _refuse("aggregate_functions", f"{value.key.upper()} is not an allowed aggregate (COUNT, SUM, AVG)")
    _refuse("output_form", f"each output is a dimension column or one aggregate, not {value.sql()}")
    raise AssertionError  # unreachable


def _check_filter(where: exp.Where | None, policy: CleanRoomPolicy, resolve) -> list[ColumnRef]:
    """WHERE may compare dimension columns with literals only: a filter on any other column could single out a
    shopper (``shopper_id <> 'S1'``) and then be differenced against the unfiltered answer."""
    if where is None:
        return []
    used: list[ColumnRef] = []

    def visit(node: exp.Expression) -> None:
        if isinstance(node, _FILTER_LOGIC):
            for child in (node.this, node.args.get("expression")):
                if child is not None:
                    visit(child)
            return
        if isinstance(node, _FILTER_COMPARISONS):
            column, others = node.this, [v for k, v in node.args.items() if k != "this" and v is not None]
            values = [x for v in others for x in (v if isinstance(v, list) else [v])]
            if not isinstance(column, exp.Column) or not all(isinstance(v, _LITERALS) for v in values):
                _refuse("filter_form", f"a filter compares one column with literals, not {node.sql()}")
            ref = resolve(column)
            if ref.column not in policy.tables[ref.table].dimensions:
                _refuse("filter_columns", f"{ref.table}.{ref.column} is not a dimension; only dimensions may filter")
            used.append(ref)
            return
        _refuse("filter_form", f"this filter is not allowed: {node.sql()}")

    visit(where.this)
    return used


def _subject(tables: dict[str, str], policy: CleanRoomPolicy) -> ColumnRef:
    for alias, table in tables.items():
        subject = policy.tables[table].subject
        if subject:
            return ColumnRef(alias, table, subject)
    _refuse("shopper_table_required", "read at least one shopper-level table; its shoppers set the threshold")
    raise AssertionError  # unreachable


def _order(select: exp.Select, names: list[str]) -> tuple[tuple[str, bool], ...]:
    order = select.args.get("order")
    out = []
    for item in order.expressions if order else []:
        target = item.this
        if not isinstance(target, exp.Column) or target.table or target.name not in names:
            _refuse("output_form", f"ORDER BY takes output names only ({', '.join(names)}), not {target.sql()}")
        out.append((target.name, bool(item.args.get("desc"))))
    return tuple(out)


def _limit(select: exp.Select) -> int | None:
    limit = select.args.get("limit")
    if limit is None:
        return None
    value = limit.expression
    if not (isinstance(value, exp.Literal) and value.is_int and int(value.this) >= 0) or select.args.get("offset"):
        _refuse("output_form", "LIMIT takes a whole number (and no OFFSET)")
    return int(value.this)

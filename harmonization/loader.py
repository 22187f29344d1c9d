"""Loads harmonized tables into campaigns_performancefact for one tenant and ingest batch.

The engine hands over chunks (``write``); they go to a session-local staging table and nothing touches the fact
table until ``commit``. ``commit`` first sums the staged rows by the database's natural key when a key came more than
once (rows of the same key from different chunks, such as hourly rows of one UTC day, add up; the sink hashes each
chunk's keys, so a file whose keys are all distinct is not summed again), in temporary tables, which takes no lock
other writers wait for; then one transaction finds or creates the campaigns and writes the facts. When the tenant
has no fact yet on the batch's campaigns and days (a first load, or a new period) the rows are simply inserted;
otherwise the facts of the batch's keys that its rows no longer have are deleted (each looked up in an index) and
the new ones written, updating in place the facts that exist already (insert ... on conflict update). Re-loading a
file, or a file whose dates overlap an earlier one, therefore replaces rows and never duplicates them; ``abort``
drops the staging table and the database stays as it was.

What a batch replaces: for each (campaign, UTC day, attribution window, attribution model) in the batch, every
existing fact of the tenant. A corrected file that drops a SKU row removes that row; a second mapping that loads the
7-day window of a report does not wipe the 14-day rows loaded by the first.

Foreign keys on PostgreSQL: the fact table's five foreign keys are checked by PostgreSQL once per row and key, at
commit, which cost as much as the insert itself (one million lookups for 200k rows). Where the database role may set
``session_replication_role`` (a superuser, or ``GRANT SET ON PARAMETER session_replication_role`` on PostgreSQL 15+),
the loader checks them once per batch instead: it locks the referenced rows (``FOR KEY SHARE``, as PostgreSQL's own
check does) and refuses the batch if one is missing, then writes the facts with the per-row checks off for those
statements only. Without that privilege the per-row checks run as before; the result is the same.
"""

from __future__ import annotations

import datetime as dt
import io
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import UniqueConstraint
from django.utils import timezone

from campaigns.models import SKU, Brand, Campaign, PerformanceFact, Retailer
from campaigns.services import performance_rollup_refresh
from core.bounds import DATE_MAX, DATE_MIN, MONEY_MAX
from governance.models import Tenant
from harmonization.engine.keys import hash_rows
from harmonization.models import IngestBatch

# Columns of the engine's HARMONIZED_SCHEMA that are staged, in staging-table order, with their SQL types.
STAGE_COLUMNS: list[tuple[str, str]] = [
    ("date", "date"),
    ("retailer", "varchar(40)"),
    ("campaign_id", "varchar(200)"),
    ("campaign_name", "varchar(300)"),
    ("placement_type", "varchar(20)"),
    ("sku_id", "bigint"),
    ("impressions", "bigint"),
    ("clicks", "bigint"),
    ("spend", "numeric(18,4)"),
    ("attributed_sales", "numeric(18,4)"),
    ("attributed_units", "bigint"),
    ("attribution_window_days", "smallint"),
    ("attribution_model", "varchar(20)"),
    ("currency", "varchar(3)"),
    ("original_currency", "varchar(3)"),
    ("original_spend", "numeric(18,4)"),
    ("original_attributed_sales", "numeric(18,4)"),
    ("fx_rate", "numeric(20,10)"),
    ("source_rows", "bigint"),
]
STAGE_NAMES = [name for name, _ in STAGE_COLUMNS]
_TEXT_COLUMNS = {"date", "retailer", "campaign_id", "campaign_name", "placement_type", "attribution_model"}
_TEXT_COLUMNS |= {"currency", "original_currency"}
_DECIMAL_COLUMNS = {"spend", "attributed_sales", "original_spend", "original_attributed_sales", "fx_rate"}
_MONEY_COLUMNS = ("spend", "attributed_sales", "original_spend", "original_attributed_sales")
_NEAR_MONEY_MAX = MONEY_MAX * Decimal("0.999999")  # the SQL check compares with a float: leave it the edge
# Fact columns a load writes besides the natural key, the tenant, the batch and the time.
_VALUE_COLUMNS = ["impressions", "clicks", "spend", "attributed_sales", "attributed_units", "currency",
                  "original_currency", "original_spend", "original_attributed_sales", "fx_rate"]  # fmt: skip
# The natural key's fields staged under another name and resolved to primary keys at commit: (staged column, column
# of the commit's joined rows). Every other field of PerformanceFact.NATURAL_KEY but the tenant is staged as its
# database column.
_RESOLVED_KEY = {"retailer": ("retailer", "retailer_pk"), "campaign": ("campaign_id", "campaign_pk")}
# What a batch replaces (see the module's docstring): fields of the natural key.
_REPLACE_SCOPE = ("campaign", "date", "attribution_window_days", "attribution_model")
# The foreign keys a load checks itself when it may skip PostgreSQL's per-row checks: the fact table must have
# exactly these, or a new one would go unchecked.
_CHECKED_REFERENCES = {"tenant", "retailer", "campaign", "sku", "ingest_batch"}


class FactKey:
    """The fact table's natural key as the loader uses it, read from PerformanceFact (NATURAL_KEY and its unique
    constraints) so that a wider key needs no change here, only the staged column."""

    def __init__(self) -> None:
        meta = PerformanceFact._meta
        self.fields = [name for name in PerformanceFact.NATURAL_KEY if name != "tenant"]
        self.staged: list[str] = []  # the key as staged columns (retailer code, external campaign id, the rest)
        self.fact_columns: list[str] = []  # the key's columns in the fact table
        self.joined: list[str] = []  # the key's columns in the commit's joined rows (primary keys resolved)
        self.nullable: set[str] = set()  # fact columns of the key that may be NULL (compared NULL-safe)
        for name in self.fields:
            field = meta.get_field(name)
            staged, joined = _RESOLVED_KEY.get(name, (field.column, field.column))
            if staged not in STAGE_NAMES:
                raise ImproperlyConfigured(f"natural-key field {name} of PerformanceFact is not staged by the loader")
            self.staged.append(staged)
            self.fact_columns.append(field.column)
            self.joined.append(joined)
            if field.null:
                self.nullable.add(field.column)
        self.upsert_targets = self._upsert_targets()
        references = {f.name for f in meta.concrete_fields if f.is_relation and f.db_constraint}
        if references != _CHECKED_REFERENCES:
            raise ImproperlyConfigured(
                f"PerformanceFact's foreign keys are {sorted(references)}; harmonization.loader checks "
                f"{sorted(_CHECKED_REFERENCES)}: check the new ones in DbSink._lock_references"
            )

    def column(self, name: str) -> str:
        return PerformanceFact._meta.get_field(name).column

    def _upsert_targets(self) -> list[tuple[str, str]]:
        """(columns, predicate) of each unique constraint on the natural key, as ON CONFLICT names its index."""
        targets = []
        for constraint in PerformanceFact._meta.constraints:
            if not isinstance(constraint, UniqueConstraint) or not set(constraint.fields) <= {*self.fields, "tenant"}:
                continue
            predicate = []
            for lookup, value in constraint.condition.children if constraint.condition is not None else []:
                name, _, operator = lookup.partition("__")
                if operator != "isnull" or not isinstance(value, bool):
                    raise ImproperlyConfigured(f"{constraint.name}: the loader reads only field__isnull conditions")
                predicate.append(f"{self.column(name)} IS {'' if value else 'NOT '}NULL")
            columns = ", ".join(self.column(name) for name in constraint.fields)
            targets.append((columns, " AND ".join(predicate) or "TRUE"))
        if not targets:
            raise ImproperlyConfigured("PerformanceFact has no unique constraint on its natural key")
        return targets

    def same(self, row: str, fact: str, columns: list[str] | None = None) -> str:
        """SQL: the joined row ``row`` and the fact ``fact`` have the same key (or the same ``columns`` of it)."""
        parts = []
        for joined, column in zip(self.joined, self.fact_columns, strict=True):
            if columns is not None and column not in columns:
                continue
            equal = f"{row}.{joined} = {fact}.{column}"
            if column in self.nullable:
                equal = f"({equal} OR ({row}.{joined} IS NULL AND {fact}.{column} IS NULL))"
            parts.append(equal)
        return " AND ".join(parts)


@cache
def fact_key() -> FactKey:
    return FactKey()


class LoadError(ValueError):
    """The harmonized rows cannot be loaded into this tenant (unknown retailer, a new campaign without a brand, ...).
    Raised before anything is written; the batch fails with this message."""


class DbSink:
    """The engine's Sink for the database. One instance per load; not thread-safe (it keeps a connection's temp
    tables)."""

    def __init__(
        self,
        *,
        tenant: Tenant,
        batch: IngestBatch,
        quarantine: Callable[[pa.Table], None] | None = None,
        finalize: Callable[[Any], None] | None = None,
    ):
        self.tenant = tenant
        self.batch = batch
        self._on_quarantine = quarantine
        # Runs inside the commit's transaction, so the batch's "succeeded" lands with its facts or not at all.
        self._finalize = finalize
        self._suffix = uuid.uuid4().hex[:12]
        self.stage = f"harm_stage_{self._suffix}"
        self._created = False
        self._retailers: dict[str, Retailer] = {}
        self.rows_staged = 0
        # Per chunk: a 64-bit hash of each row's natural key (rows of one key must be summed at commit only when a
        # hash repeats), and the SKUs and days the rows reference.
        self._key_hashes: list[np.ndarray] = []
        self._sku_ids: set[int] = set()
        self._days: tuple[Any, Any] | None = None
        # (retailer code, external id) -> [first day, greatest name, least placement, least SKU]: what a campaign the
        # tenant lacks is created with.
        self._campaigns: dict[tuple[str, str], list] = {}
        self._near_bounds = False  # an amount of a row is at or near the largest one stored exactly
        self.summed = False
        self.facts_deleted = 0
        self.facts_inserted = 0
        self.campaigns_created: list[str] = []
        self.replace_seconds: float | None = None
        self.report: Any = None
        self.is_postgres = connection.vendor == "postgresql"

    # --- the Sink protocol --------------------------------------------------------------------------------------

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._check_retailers(table)
        if not self._created:
            self._create_stage()
        table = table.select(STAGE_NAMES)
        key = fact_key()
        self._key_hashes.append(hash_rows([table[column] for column in key.staged]))
        self._sku_ids.update(pc.unique(table["sku_id"]).drop_null().to_pylist())
        days = pc.min_max(table["date"]).as_py()
        if self._days is not None:
            days = {"min": min(days["min"], self._days[0]), "max": max(days["max"], self._days[1])}
        self._days = (days["min"], days["max"])
        self._note_campaigns(table)
        for column in _MONEY_COLUMNS:
            low, high = pc.min_max(table[column]).as_py().values()
            if low is not None and max(-low, high) >= _NEAR_MONEY_MAX:
                self._near_bounds = True
        if self.is_postgres:
            self._copy_postgres(table)
        else:
            self._insert_sqlite(table)
        self.rows_staged += table.num_rows

    def quarantine(self, table: pa.Table) -> None:
        if self._on_quarantine is not None and table.num_rows:
            self._on_quarantine(table)

    def commit(self, report: Any) -> None:
        self.report = report  # kept so a failure here can still be reported with the run's figures
        try:
            if self._created:
                # Summing the staged rows reads and writes temporary tables only, so it runs before the transaction:
                # on SQLite the write lock is then held for the replace alone, not for the aggregation too.
                wanted = self._aggregate()
            began = time.monotonic()
            with transaction.atomic():
                # One load per tenant commits at a time: two overlapping loads would otherwise both delete the
                # same keys and the second insert would break the natural-key constraint. (The lock is also the
                # tenant's reference check: the row cannot go before this transaction ends.)
                Tenant.objects.select_for_update().filter(pk=self.tenant.pk).first()
                if self._created:
                    first, last = self._replace_facts(wanted)
                    if first is not None:
                        # The dashboard reads a daily rollup of the facts: the batch's days are summed again here, so
                        # the rollup changes with the facts or not at all.
                        performance_rollup_refresh(
                            tenant=self.tenant, date_from=_as_date(first), date_to=_as_date(last)
                        )
                if report is not None and hasattr(report, "facts"):
                    # Rows of one key from different chunks were summed here: the table holds this many facts.
                    report.facts = self.facts_inserted
                if self._finalize is not None:
                    self._finalize(report)
            self.replace_seconds = time.monotonic() - began
        finally:
            self._drop_all()

    def abort(self) -> None:
        self._drop_all()

    # --- staging ------------------------------------------------------------------------------------------------

    def _check_retailers(self, table: pa.Table) -> None:
        present = set(pc.unique(table["retailer"]).to_pylist())
        if None in present:
            raise LoadError("rows without a retailer: name one in the mapping (retailer: <code>) or map the column")
        codes = present - set(self._retailers)
        if not codes:
            return
        found = {r.code: r for r in Retailer.objects.filter(code__in=codes)}
        unknown = sorted(codes - set(found))
        if unknown:
            known = ", ".join(Retailer.objects.order_by("code").values_list("code", flat=True)) or "none"
            raise LoadError(f"unknown retailer code(s) {', '.join(map(repr, unknown))} (known: {known})")
        self._retailers.update(found)

    def _note_campaigns(self, table: pa.Table) -> None:
        groups = table.group_by(["retailer", "campaign_id"]).aggregate(
            [("date", "min"), ("campaign_name", "max"), ("placement_type", "min"), ("sku_id", "min")]
        )
        for row in groups.to_pylist():
            new = [row["date_min"], row["campaign_name_max"], row["placement_type_min"], row["sku_id_min"]]
            known = self._campaigns.setdefault((row["retailer"], row["campaign_id"]), new)
            if known is not new:
                for i, pick in enumerate((min, max, min, min)):
                    values = [v for v in (known[i], new[i]) if v is not None]
                    known[i] = pick(values) if values else None

    def _create_stage(self) -> None:
        columns = ", ".join(f"{name} {sql_type}" for name, sql_type in STAGE_COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMP TABLE {self.stage} ({columns})")
        self._created = True

    def _copy_postgres(self, table: pa.Table) -> None:
        # pyarrow writes CSV in C: strings quoted, NULL as an unquoted empty field, which is what COPY ... CSV reads.
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
            with raw.copy(f"COPY {self.stage} ({', '.join(STAGE_NAMES)}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buffer.getbuffer())

    def _insert_sqlite(self, table: pa.Table) -> None:
        columns = []
        for name in STAGE_NAMES:
            column = table[name]
            if name in _DECIMAL_COLUMNS or name == "date":
                column = column.cast(pa.string())
            columns.append(column.to_pylist())
        placeholders = ", ".join(["%s"] * len(STAGE_NAMES))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.stage} ({', '.join(STAGE_NAMES)}) VALUES ({placeholders})",
                list(zip(*columns, strict=True)),
            )

    def _drop_all(self) -> None:
        if not self._created:
            return
        with connection.cursor() as cursor:
            for name in (self.stage, *self._work_tables()):
                cursor.execute(f"DROP TABLE IF EXISTS {name}")
        self._created = False

    # --- commit -------------------------------------------------------------------------------------------------

    def _work_tables(self) -> tuple[str, str, str]:
        """The commit's temporary tables: staged rows summed by key, the campaign map, the summed rows by campaign."""
        return f"harm_sum_{self._suffix}", f"harm_map_{self._suffix}", f"harm_agg_{self._suffix}"

    def _keys_repeat(self) -> bool:
        """Whether two staged rows may share a natural key (equal hashes; distinct hashes are distinct keys)."""
        hashes = np.sort(np.concatenate(self._key_hashes)) if self._key_hashes else np.zeros(0, np.uint64)
        return bool((hashes[1:] == hashes[:-1]).any())

    def _rows(self) -> str:
        """The table of the rows to write, one per natural key: the staged rows, or their sums by key."""
        return self._work_tables()[0] if self.summed else self.stage

    def _aggregate(self) -> list[tuple]:
        """Sum the staged rows by natural key (retailer and external campaign id still as text) when a key came
        more than once, refuse a fact whose rows carry two currencies or an amount or day the database cannot
        store, and return each campaign's first day, name, placement and a SKU (for campaigns the tenant lacks).
        Temporary tables only: nothing here locks the database for other writers."""
        summed, _, _ = self._work_tables()
        key = ", ".join(f"s.{column}" for column in fact_key().staged)
        with connection.cursor() as cursor:
            self.summed = self._keys_repeat()
            if self.summed:
                cursor.execute(
                    f"""
                    CREATE TEMP TABLE {summed} AS
                    SELECT {key},
                           SUM(s.impressions) AS impressions, SUM(s.clicks) AS clicks, SUM(s.spend) AS spend,
                           SUM(s.attributed_sales) AS attributed_sales, SUM(s.attributed_units) AS attributed_units,
                           MAX(s.currency) AS currency, MIN(s.original_currency) AS original_currency,
                           MAX(s.original_currency) AS original_currency_max,
                           SUM(s.original_spend) AS original_spend,
                           SUM(s.original_attributed_sales) AS original_attributed_sales,
                           MAX(s.fx_rate) AS fx_rate, SUM(s.source_rows) AS source_rows
                    FROM {self.stage} s
                    GROUP BY {key}
                    """
                )
                cursor.execute(
                    f"SELECT campaign_id, date, original_currency, original_currency_max FROM {summed} "
                    f"WHERE original_currency <> original_currency_max LIMIT 1"
                )
                clash = cursor.fetchone()
                if clash:
                    raise LoadError(
                        f"campaign {clash[0]} on {clash[1]}: rows of one fact carry two currencies "
                        f"({clash[2]} and {clash[3]}); they cannot be summed"
                    )
            # What the database could not store exactly, or the optimizer could not read, is refused here, before
            # anything is written (core.bounds: an amount SQLite rounds breaks every page showing it). Rows written
            # as staged were measured chunk by chunk: the table is searched only for sums, or a row near the bound.
            first, last = self._days
            if self.summed or self._near_bounds or not DATE_MIN <= first <= last <= DATE_MAX:
                too_large = " OR ".join(f"ABS({column}) > %s" for column in _MONEY_COLUMNS)
                cursor.execute(
                    f"SELECT retailer, campaign_id, date, {', '.join(_MONEY_COLUMNS)} FROM {self._rows()} "
                    f"WHERE {too_large} OR date < %s OR date > %s LIMIT 1",
                    # a float: SQLite ranks text above numbers
                    [float(MONEY_MAX)] * len(_MONEY_COLUMNS) + [DATE_MIN, DATE_MAX],
                )
                bad = cursor.fetchone()
                if bad:
                    day = _as_date(bad[2])
                    if not DATE_MIN <= day <= DATE_MAX:
                        raise LoadError(f"{bad[0]} campaign {bad[1]}: date {day} is outside {DATE_MIN}..{DATE_MAX}")
                    raise LoadError(
                        f"{bad[0]} campaign {bad[1]} on {day}: an amount of the day's rows sums past {MONEY_MAX:,}, "
                        f"the largest amount stored exactly (spend, sales: {', '.join(map(str, bad[3:]))})"
                    )
        return [(code, external_id, *picked) for (code, external_id), picked in self._campaigns.items()]

    def _replace_facts(self, wanted: list[tuple]) -> tuple:
        """Replace the tenant's facts on the batch's keys; return the first and last day written."""
        _, mapping, agg = self._work_tables()
        facts = PerformanceFact._meta.db_table
        key = fact_key()
        first, last = self._days
        with connection.cursor() as cursor:
            self._resolve_campaigns(cursor, mapping, wanted)
            joined = (
                f"SELECT m.campaign_pk, m.retailer_pk, s.* FROM {self._rows()} s "
                f"JOIN {mapping} m ON m.retailer = s.retailer AND m.external_id = s.campaign_id"
            )
            # A first load, or one of days the tenant has no facts of on these campaigns, replaces nothing: its rows
            # are inserted as they are, with no key to look up (one index probe here).
            cursor.execute(
                f"SELECT 1 FROM {facts} WHERE tenant_id = %s AND date BETWEEN %s AND %s "
                f"AND campaign_id IN (SELECT campaign_pk FROM {mapping}) LIMIT 1",
                [self.tenant.pk, first, last],
            )
            replaces = cursor.fetchone() is not None
            columns = ["tenant_id", *key.fact_columns, *_VALUE_COLUMNS, "ingest_batch_id", "updated_at"]
            values = ["%s", *(f"a.{c}" for c in key.joined), *(f"a.{c}" for c in _VALUE_COLUMNS), "%s", "%s"]
            now = connection.ops.adapt_datetimefield_value(timezone.now())
            insert = f"INSERT INTO {facts} ({', '.join(columns)}) SELECT {', '.join(values)}"
            params = [self.tenant.pk, self.batch.pk, now]
            with self._references_checked_once(cursor, mapping):
                if not replaces:
                    self.facts_deleted = 0
                    cursor.execute(f"{insert} FROM ({joined}) a", params)
                    self.facts_inserted = max(cursor.rowcount, 0)
                else:
                    self._upsert(cursor, agg, joined, insert, params)
        return first, last

    def _upsert(self, cursor, agg: str, joined: str, insert: str, params: list) -> None:
        """Delete the facts of the batch's (campaign, day, window, model) keys that its rows no longer have, and
        write the rows, updating the facts of the same natural key in place."""
        facts = PerformanceFact._meta.db_table
        key = fact_key()
        first, last = self._days
        cursor.execute(f"CREATE TEMP TABLE {agg} AS {joined}")
        # The delete looks each fact of the tenant's date range up in this index (a scan of the summed rows per
        # fact made a re-import quadratic: 18 minutes for 500k rows on SQLite, with the write lock held).
        scope = [key.column(name) for name in _REPLACE_SCOPE]
        scope_joined = [key.joined[key.fact_columns.index(column)] for column in scope]
        cursor.execute(f"CREATE INDEX {agg}_key ON {agg} ({', '.join(scope_joined)})")
        if self.is_postgres:
            cursor.execute(f"ANALYZE {agg}")  # temp tables are never auto-analyzed; the DELETE's plan needs it
        same_scope = key.same("a", facts, scope)
        same_fact = key.same("a", facts)
        # Facts of the batch's (campaign, day, window, model) keys that the new rows do not have any more (a
        # corrected file that drops a SKU row) go; the rest are updated in place below, which rewrites no index
        # (a delete and re-insert of every row rewrote all five): the write lock is held about half as long.
        cursor.execute(
            f"""
            DELETE FROM {facts}
            WHERE tenant_id = %s AND date BETWEEN %s AND %s
              AND EXISTS (SELECT 1 FROM {agg} a WHERE {same_scope})
              AND NOT EXISTS (SELECT 1 FROM {agg} a WHERE {same_fact})
            """,
            [self.tenant.pk, first, last],
        )
        removed = max(cursor.rowcount, 0)
        # The facts updated in place below are replaced too: count them (one index lookup per new row).
        cursor.execute(
            f"SELECT COUNT(*) FROM {agg} a WHERE EXISTS ("
            f"SELECT 1 FROM {facts} WHERE {facts}.tenant_id = %s AND {same_fact})",
            [self.tenant.pk],
        )
        self.facts_deleted = removed + cursor.fetchone()[0]
        updates = ", ".join(f"{c} = excluded.{c}" for c in [*_VALUE_COLUMNS, "ingest_batch_id", "updated_at"])
        self.facts_inserted = 0
        for target, predicate in key.upsert_targets:
            # One statement per unique index of the natural key (partial: SKU rows, campaign-level rows): the
            # conflict target names the index's columns and predicate. "WHERE" before ON CONFLICT keeps SQLite's
            # parser unambiguous.
            cursor.execute(
                f"{insert} FROM {agg} a WHERE {predicate} "
                f"ON CONFLICT ({target}) WHERE {predicate} DO UPDATE SET {updates}",
                params,
            )
            self.facts_inserted += max(cursor.rowcount, 0)

    @contextmanager
    def _references_checked_once(self, cursor, mapping: str) -> Iterator[None]:
        """Where the role may, check the facts' foreign keys once for the batch and write without PostgreSQL's
        per-row checks (see the module's docstring); elsewhere do nothing."""
        if not (self.is_postgres and _may_skip_row_triggers(cursor)):
            yield
            return
        self._lock_references(cursor, mapping)
        cursor.execute("SET LOCAL session_replication_role = replica")
        yield
        # Back for the rest of the transaction (the rollup, the batch's record). On an error the transaction, or
        # its savepoint, rolls back and takes the setting with it.
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")

    def _lock_references(self, cursor, mapping: str) -> None:
        """Lock every row the batch's facts reference against deletion until the transaction ends, as PostgreSQL's
        foreign-key check does per row, and refuse the batch if one is gone. The tenant is locked already."""

        def lock(model, ids: str, params: list, what: str) -> None:
            table = model._meta.db_table
            cursor.execute(f"SELECT COUNT(*) FROM (SELECT DISTINCT v FROM ({ids}) i (v)) d", params)
            wanted = cursor.fetchone()[0]
            cursor.execute(f"SELECT r.id FROM {table} r WHERE r.id IN ({ids}) FOR KEY SHARE OF r", params)
            found = {row[0] for row in cursor.fetchall()}
            if len(found) != wanted:
                cursor.execute(f"SELECT DISTINCT v FROM ({ids}) i (v)", params)
                gone = sorted({row[0] for row in cursor.fetchall()} - found)
                raise LoadError(f"{what} {', '.join(map(str, gone[:5]))} no longer exist(s): run the import again")

        lock(IngestBatch, "SELECT %s", [self.batch.pk], "ingest batch")
        lock(Retailer, f"SELECT retailer_pk FROM {mapping}", [], "retailer id(s)")
        lock(Campaign, f"SELECT campaign_pk FROM {mapping}", [], "campaign id(s)")
        if self._sku_ids:
            lock(SKU, "SELECT unnest(%s::bigint[])", [sorted(self._sku_ids)], "SKU id(s)")

    def _resolve_campaigns(self, cursor, mapping: str, wanted: list[tuple]) -> None:
        """Fill the mapping table (retailer code, external id) -> campaign, creating campaigns the tenant lacks."""
        keys = {(row[0], row[1]) for row in wanted}
        existing = {
            (c.retailer.code, c.external_id): c.pk
            for c in Campaign.objects.filter(
                tenant=self.tenant,
                retailer__code__in={row[0] for row in wanted},
                external_id__in={row[1] for row in wanted},
            ).select_related("retailer")
            if (c.retailer.code, c.external_id) in keys
        }
        missing = [row for row in wanted if (row[0], row[1]) not in existing]
        if missing:
            existing.update(self._create_campaigns(missing))
        cursor.execute(
            f"CREATE TEMP TABLE {mapping} (retailer varchar(40), external_id varchar(200), campaign_pk bigint, "
            f"retailer_pk bigint, PRIMARY KEY (retailer, external_id))"
        )
        cursor.executemany(
            f"INSERT INTO {mapping} (retailer, external_id, campaign_pk, retailer_pk) VALUES (%s, %s, %s, %s)",
            [(code, ext, pk, self._retailers[code].pk) for (code, ext), pk in existing.items()],
        )

    def _create_campaigns(self, rows: list[tuple]) -> dict[tuple[str, str], int]:
        sku_brands = dict(
            self.tenant.skus.filter(pk__in={row[5] for row in rows if row[5] is not None}).values_list("pk", "brand_id")
        )
        brands = list(Brand.objects.filter(tenant=self.tenant).values_list("pk", flat=True)[:2])
        campaigns = []
        for code, external_id, first_day, name, placement, sku_id in rows:
            brand_id = sku_brands.get(sku_id) or (brands[0] if len(brands) == 1 else None)
            if brand_id is None:
                raise LoadError(
                    f"new {code} campaign {external_id!r} has no SKU rows to take a brand from and "
                    f"{self.tenant.name} has {'no' if not brands else 'several'} brands: create the campaign "
                    f"first (external_id {external_id!r}) or map a SKU reference"
                )
            if len(external_id) > Campaign._meta.get_field("external_id").max_length:
                raise LoadError(f"{code} campaign id {external_id[:40]!r}... is longer than 100 characters")
            campaigns.append(
                Campaign(
                    tenant=self.tenant,
                    retailer=self._retailers[code],
                    brand_id=brand_id,
                    name=(name or external_id)[:300],
                    external_id=external_id,
                    placement_type=placement,
                    start_date=_as_date(first_day),
                    budget=0,
                    budget_currency=self.tenant.reporting_currency,
                    status=Campaign.Status.ACTIVE,
                )
            )
        Campaign.objects.bulk_create(campaigns)
        self.campaigns_created = [f"{c.retailer.code}:{c.external_id}" for c in campaigns]
        # bulk_create sets pks on PostgreSQL and SQLite; look them up anyway so the map never relies on it.
        created = Campaign.objects.filter(
            tenant=self.tenant, external_id__in={c.external_id for c in campaigns}
        ).select_related("retailer")
        keys = {(c.retailer.code, c.external_id) for c in campaigns}
        return {(c.retailer.code, c.external_id): c.pk for c in created if (c.retailer.code, c.external_id) in keys}


def _may_skip_row_triggers(cursor) -> bool:
    """Whether this role may set session_replication_role (and so write without per-row foreign-key checks)."""
    if connection.pg_version >= 150000:
        cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
    else:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    return bool(cursor.fetchone()[0])


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])

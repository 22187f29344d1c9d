"""Loads harmonized tables into campaigns_performancefact for one tenant and ingest batch.

The engine hands over chunks (``write``); they go to a session-local staging table and nothing touches the fact
table until ``commit``. ``commit`` first sums the staged rows by the database's natural key (rows of the same key
from different chunks, such as hourly rows of one UTC day, add up) in temporary tables, which takes no lock other
writers wait for; then one short transaction finds or creates the campaigns, deletes the facts of the batch's keys
that its rows no longer have (each looked up in an index) and writes the new ones, updating in place the facts that
exist already (insert ... on conflict update). Re-loading a file, or a file whose dates
overlap an earlier one, therefore replaces rows and never duplicates them; ``abort`` drops the staging table and the
database stays as it was.

What a batch replaces: for each (campaign, UTC day, attribution window, attribution model) in the batch, every
existing fact of the tenant. A corrected file that drops a SKU row removes that row; a second mapping that loads the
7-day window of a report does not wipe the 14-day rows loaded by the first.
"""

from __future__ import annotations

import datetime as dt
import io
import time
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Brand, Campaign, PerformanceFact, Retailer
from campaigns.services import performance_rollup_refresh
from core.bounds import DATE_MAX, DATE_MIN, MONEY_MAX
from governance.models import Tenant
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
                # same keys and the second insert would break the natural-key constraint.
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

    def _aggregate(self) -> list[tuple]:
        """Sum the staged rows by natural key (retailer and external campaign id still as text), refuse a fact whose
        rows carry two currencies, and return each campaign's first day, name, placement and a SKU (for campaigns
        the tenant lacks). Temporary tables only: nothing here locks the database for other writers."""
        summed, _, _ = self._work_tables()
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                CREATE TEMP TABLE {summed} AS
                SELECT s.retailer, s.campaign_id, s.sku_id, s.date, s.placement_type,
                       s.attribution_window_days, s.attribution_model,
                       SUM(s.impressions) AS impressions, SUM(s.clicks) AS clicks, SUM(s.spend) AS spend,
                       SUM(s.attributed_sales) AS attributed_sales, SUM(s.attributed_units) AS attributed_units,
                       MAX(s.currency) AS currency, MIN(s.original_currency) AS original_currency,
                       MAX(s.original_currency) AS original_currency_max,
                       SUM(s.original_spend) AS original_spend,
                       SUM(s.original_attributed_sales) AS original_attributed_sales,
                       MAX(s.fx_rate) AS fx_rate, SUM(s.source_rows) AS source_rows
                FROM {self.stage} s
                GROUP BY s.retailer, s.campaign_id, s.sku_id, s.date, s.placement_type,
                         s.attribution_window_days, s.attribution_model
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
            # anything is written (core.bounds: an amount SQLite rounds breaks every page showing it).
            money = ("spend", "attributed_sales", "original_spend", "original_attributed_sales")
            too_large = " OR ".join(f"ABS({column}) > %s" for column in money)
            cursor.execute(
                f"SELECT retailer, campaign_id, date, {', '.join(money)} FROM {summed} "
                f"WHERE {too_large} OR date < %s OR date > %s LIMIT 1",
                [float(MONEY_MAX)] * len(money) + [DATE_MIN, DATE_MAX],  # a float: SQLite ranks text above numbers
            )
            bad = cursor.fetchone()
            if bad:
                day = _as_date(bad[2])
                if not DATE_MIN <= day <= DATE_MAX:
                    raise LoadError(f"{bad[0]} campaign {bad[1]}: date {day} is outside {DATE_MIN}..{DATE_MAX}")
                raise LoadError(
                    f"{bad[0]} campaign {bad[1]} on {day}: an amount of the day's rows sums past "
                    f"{MONEY_MAX:,}, the largest amount stored exactly (spend, sales: {', '.join(map(str, bad[3:]))})"
                )
            cursor.execute(
                f"""
                SELECT retailer, campaign_id, MIN(date), MAX(campaign_name), MIN(placement_type), MIN(sku_id)
                FROM {self.stage} GROUP BY retailer, campaign_id
                """
            )
            return cursor.fetchall()

    def _replace_facts(self, wanted: list[tuple]) -> tuple:
        """Replace the tenant's facts on the batch's keys; return the first and last day written."""
        summed, mapping, agg = self._work_tables()
        facts = PerformanceFact._meta.db_table
        with connection.cursor() as cursor:
            self._resolve_campaigns(cursor, mapping, wanted)
            cursor.execute(
                f"""
                CREATE TEMP TABLE {agg} AS
                SELECT m.campaign_pk, m.retailer_pk, s.*
                FROM {summed} s JOIN {mapping} m ON m.retailer = s.retailer AND m.external_id = s.campaign_id
                """
            )
            # The delete looks each fact of the tenant's date range up in this index (a scan of the summed rows per
            # fact made a re-import quadratic: 18 minutes for 500k rows on SQLite, with the write lock held).
            cursor.execute(
                f"CREATE INDEX {agg}_key ON {agg} (campaign_pk, date, attribution_window_days, attribution_model)"
            )
            if self.is_postgres:
                cursor.execute(f"ANALYZE {agg}")  # temp tables are never auto-analyzed; the DELETE's plan needs it
            cursor.execute(f"SELECT MIN(date), MAX(date) FROM {agg}")
            first, last = cursor.fetchone()
            same_key = (
                f"a.campaign_pk = {facts}.campaign_id AND a.date = {facts}.date "
                f"AND a.attribution_window_days = {facts}.attribution_window_days "
                f"AND a.attribution_model = {facts}.attribution_model"
            )
            # Facts of the batch's (campaign, day, window, model) keys that the new rows do not have any more (a
            # corrected file that drops a SKU row) go; the rest are updated in place below, which rewrites no index
            # (a delete and re-insert of every row rewrote all five): the write lock is held about half as long.
            cursor.execute(
                f"""
                DELETE FROM {facts}
                WHERE tenant_id = %s AND date BETWEEN %s AND %s
                  AND EXISTS (SELECT 1 FROM {agg} a WHERE {same_key})
                  AND NOT EXISTS (
                    SELECT 1 FROM {agg} a WHERE {same_key} AND a.retailer_pk = {facts}.retailer_id
                      AND a.placement_type = {facts}.placement_type
                      AND (a.sku_id = {facts}.sku_id OR (a.sku_id IS NULL AND {facts}.sku_id IS NULL)))
                """,
                [self.tenant.pk, first, last],
            )
            removed = max(cursor.rowcount, 0)
            # The facts updated in place below are replaced too: count them (one index lookup per new row).
            cursor.execute(
                f"""
                SELECT COUNT(*) FROM {agg} a WHERE EXISTS (
                    SELECT 1 FROM {facts} WHERE {facts}.tenant_id = %s AND {same_key}
                      AND a.retailer_pk = {facts}.retailer_id AND a.placement_type = {facts}.placement_type
                      AND (a.sku_id = {facts}.sku_id OR (a.sku_id IS NULL AND {facts}.sku_id IS NULL)))
                """,
                [self.tenant.pk],
            )
            self.facts_deleted = removed + cursor.fetchone()[0]
            now = connection.ops.adapt_datetimefield_value(timezone.now())
            values = (
                "impressions, clicks, spend, attributed_sales, attributed_units, currency, original_currency, "
                "original_spend, original_attributed_sales, fx_rate, ingest_batch_id, updated_at"
            )
            updates = ", ".join(f"{column} = excluded.{column}" for column in values.split(", "))
            self.facts_inserted = 0
            for sku_rows, key in (
                ("sku_id IS NOT NULL", "tenant_id, retailer_id, campaign_id, sku_id"),
                ("sku_id IS NULL", "tenant_id, retailer_id, campaign_id"),
            ):
                # One statement per partial unique index (SKU rows, campaign-level rows): the conflict target names
                # the index's columns and predicate. "WHERE" before ON CONFLICT keeps SQLite's parser unambiguous.
                cursor.execute(
                    f"""
                    INSERT INTO {facts} (date, tenant_id, retailer_id, campaign_id, sku_id, placement_type,
                        impressions, clicks, spend, attributed_sales, attributed_units, attribution_window_days,
                        attribution_model, currency, original_currency, original_spend, original_attributed_sales,
                        fx_rate, ingest_batch_id, updated_at)
                    SELECT date, %s, retailer_pk, campaign_pk, sku_id, placement_type, impressions, clicks, spend,
                        attributed_sales, attributed_units, attribution_window_days, attribution_model, currency,
                        original_currency, original_spend, original_attributed_sales, fx_rate, %s, %s
                    FROM {agg} WHERE {sku_rows}
                    ON CONFLICT ({key}, date, placement_type, attribution_window_days, attribution_model)
                        WHERE {sku_rows}
                    DO UPDATE SET {updates}
                    """,
                    [self.tenant.pk, self.batch.pk, now],
                )
                self.facts_inserted += max(cursor.rowcount, 0)
        return first, last

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


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])

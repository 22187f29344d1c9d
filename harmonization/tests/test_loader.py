"""DbSink: staged chunks become facts in one transaction; reloads replace, aborts leave the table as it was."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Sum

from campaigns.models import Brand, Campaign, PerformanceFact
from harmonization.loader import DbSink, LoadError
from harmonization.models import IngestBatch
from harmonization.tests.harmonized import row, table

FOUR = Decimal("0.0001")
D1 = dt.date(2026, 4, 1)


def day(n: int) -> dt.date:
    return D1 + dt.timedelta(days=n)


def new_batch(tenant, source="test.csv") -> IngestBatch:
    return IngestBatch.objects.create(tenant=tenant, source=source, status=IngestBatch.Status.RUNNING)


def load(tenant, *chunks, batch=None) -> DbSink:
    sink = DbSink(tenant=tenant, batch=batch or new_batch(tenant))
    for chunk in chunks:
        sink.write(table(chunk))
    sink.commit(report=None)
    return sink


def totals(tenant, **filters) -> tuple[int, Decimal, Decimal, int]:
    agg = PerformanceFact.objects.filter(tenant=tenant, **filters).aggregate(
        n=Count("id"), spend=Sum("spend"), sales=Sum("attributed_sales"), clicks=Sum("clicks")
    )
    money = [Decimal(str(agg[k] or 0)).quantize(FOUR) for k in ("spend", "sales")]
    return agg["n"], money[0], money[1], agg["clicks"] or 0


def all_facts_fingerprint() -> tuple:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), SUM(spend), SUM(attributed_sales), SUM(clicks) FROM campaigns_performancefact")
        n, spend, sales, clicks = cursor.fetchone()
    return n, Decimal(str(spend or 0)).quantize(FOUR), Decimal(str(sales or 0)).quantize(FOUR), clicks


@pytest.fixture
def acme(catalog, tenants):
    return tenants["acme"]


def sku_rows(catalog, days, campaign="acme-amazon", spend="10.5"):
    sku = catalog["acme"]["skus"][1]
    return [row(day(d), campaign, spend, sku_ref=sku.sku_code, sku_id=sku.pk, clicks=5 + d) for d in days]


def test_it_loads_rows_and_a_reload_replaces_them(catalog, acme):
    rows = sku_rows(catalog, range(5)) + [
        row(day(d), "acme-walmart", "20", placement_type="onsite_display", retailer="walmart") for d in range(5)
    ]
    first = load(acme, rows)
    assert first.facts_inserted == 10
    after_first = totals(acme, date__gte=D1)
    assert after_first == (10, Decimal("152.5000"), Decimal("457.5000"), 5 * 10 + sum(5 + d for d in range(5)))

    second_batch = new_batch(acme, "again.csv")
    second = load(acme, rows, batch=second_batch)
    assert second.facts_deleted == 10 and second.facts_inserted == 10
    assert totals(acme, date__gte=D1) == after_first
    assert set(PerformanceFact.objects.filter(tenant=acme, date__gte=D1).values_list("ingest_batch", flat=True)) == {
        second_batch.pk
    }
    assert not second.campaigns_created  # both campaign ids are the catalog's


def test_it_sums_rows_of_one_key_across_chunks(catalog, acme):
    # Hourly rows of one UTC day arrive in different chunks; the fact is their sum.
    sku = catalog["acme"]["skus"][0]
    hour = {"sku_ref": sku.sku_code, "sku_id": sku.pk, "impressions": 100, "clicks": 3, "source_rows": 1}
    load(acme, [row(D1, "acme-amazon", "1.25", **hour)], [row(D1, "acme-amazon", "2.50", **hour)] * 2)
    fact = PerformanceFact.objects.get(tenant=acme, date=D1)
    assert (fact.impressions, fact.clicks) == (300, 9)
    assert fact.spend.quantize(FOUR) == Decimal("6.2500")
    assert fact.original_spend.quantize(FOUR) == Decimal("6.2500")


def test_it_replaces_an_overlapping_date_range(catalog, acme):
    load(acme, sku_rows(catalog, range(0, 5), spend="10"))
    load(acme, sku_rows(catalog, range(3, 8), spend="99"))
    facts = dict(PerformanceFact.objects.filter(tenant=acme, date__gte=D1).values_list("date", "spend"))
    assert len(facts) == 8
    assert [facts[day(d)].quantize(FOUR) for d in range(8)] == [Decimal("10.0000")] * 3 + [Decimal("99.0000")] * 5


def test_it_replaces_the_catalogs_facts_of_the_same_attribution_only(catalog, acme):
    campaign = catalog["acme"]["campaigns"]["walmart"]
    march_1 = dt.date(2026, 3, 1)
    other_window = PerformanceFact.objects.filter(campaign=campaign, date=march_1).get()
    other_window.pk = None
    other_window.attribution_window_days = 7
    other_window.save()
    load(acme, [row(march_1, "acme-walmart", "1", placement_type="onsite_display", retailer="walmart")])
    kept = PerformanceFact.objects.filter(campaign=campaign, date=march_1).order_by("attribution_window_days")
    assert [(f.attribution_window_days, f.spend.quantize(FOUR)) for f in kept] == [
        (7, Decimal("10.0000")),  # the 7-day row of another load survives
        (14, Decimal("1.0000")),  # the 14-day row is replaced
    ]
    assert totals(acme, campaign=campaign)[0] == 11


def test_abort_leaves_the_facts_table_as_it_was(catalog, acme):
    before = all_facts_fingerprint()
    sink = DbSink(tenant=acme, batch=new_batch(acme))
    sink.write(
        table([*sku_rows(catalog, range(3)), row(day(0), "brand-new", "5", sku_id=catalog["acme"]["skus"][0].pk)])
    )
    sink.abort()
    assert all_facts_fingerprint() == before
    assert not Campaign.objects.filter(external_id="brand-new").exists()


def test_a_failed_commit_writes_nothing(catalog, acme):
    Brand.objects.create(tenant=acme, name="Second brand")
    before = all_facts_fingerprint()
    campaigns_before = Campaign.objects.count()
    sink = DbSink(tenant=acme, batch=new_batch(acme))
    # Known campaign rows, then a new campaign-level campaign: no SKU to take a brand from and two brands.
    sink.write(table([*sku_rows(catalog, range(3)), row(day(0), "display-9", "5", placement_type="onsite_display")]))
    with pytest.raises(LoadError, match=r"new amazon campaign 'display-9' has no SKU rows .* several brands"):
        sink.commit(report=None)
    assert all_facts_fingerprint() == before
    assert Campaign.objects.count() == campaigns_before


def test_it_creates_an_unknown_campaign_under_the_skus_brand(catalog, acme):
    other_brand = Brand.objects.create(tenant=acme, name="Other brand")
    sku = catalog["acme"]["skus"][1]
    sku.brand = other_brand
    sku.save()
    sink = load(
        acme,
        [
            row(day(2), "SP-777", "4", sku_ref=sku.sku_code, sku_id=sku.pk, campaign_name="Spring push"),
            row(day(1), "SP-777", "6", sku_ref=sku.sku_code, sku_id=sku.pk, campaign_name="Spring push"),
        ],
    )
    campaign = Campaign.objects.get(tenant=acme, external_id="SP-777")
    assert sink.campaigns_created == ["amazon:SP-777"]
    assert campaign.brand == other_brand
    assert (campaign.name, campaign.start_date, campaign.placement_type) == ("Spring push", day(1), "sponsored_product")
    assert (campaign.budget, campaign.budget_currency, campaign.status) == (0, "USD", Campaign.Status.ACTIVE)
    assert totals(acme, campaign=campaign)[:2] == (2, Decimal("10.0000"))


def test_a_new_campaign_level_campaign_takes_the_tenants_only_brand(catalog, acme):
    load(acme, [row(day(0), "ctv-1", "7", placement_type="ctv", retailer="walmart")])
    campaign = Campaign.objects.get(tenant=acme, external_id="ctv-1")
    assert campaign.brand == catalog["acme"]["brand"]
    assert campaign.retailer.code == "walmart"
    assert campaign.name == "ctv-1"


def test_an_unknown_retailer_is_refused_before_anything_is_staged(catalog, acme):
    sink = DbSink(tenant=acme, batch=new_batch(acme))
    with pytest.raises(LoadError, match=r"unknown retailer code\(s\) 'target' \(known: amazon, walmart\)"):
        sink.write(table([row(day(0), "c1", "1", retailer="target")]))
    sink.abort()


def test_it_converts_nothing_and_keeps_original_amounts(catalog, acme):
    load(
        acme, [row(day(0), "eu-1", "100", "250", original_currency="EUR", fx_rate=Decimal("1.085"), retailer="walmart")]
    )
    fact = PerformanceFact.objects.get(tenant=acme, campaign__external_id="eu-1")
    assert fact.spend.quantize(FOUR) == Decimal("108.5000")
    assert fact.attributed_sales.quantize(FOUR) == Decimal("271.2500")
    assert (fact.original_currency, fact.original_spend.quantize(FOUR)) == ("EUR", Decimal("100.0000"))
    assert fact.fx_rate == Decimal("1.085")


def test_two_currencies_in_one_fact_are_an_error(catalog, acme):
    before = all_facts_fingerprint()
    sku = catalog["acme"]["skus"][0]
    same_key = {"sku_id": sku.pk, "retailer": "walmart", "placement_type": "onsite_display"}
    sink = DbSink(tenant=acme, batch=new_batch(acme))
    sink.write(table([row(day(0), "acme-walmart", "1", original_currency="EUR", sku_ref="a", **same_key)]))
    sink.write(table([row(day(0), "acme-walmart", "1", original_currency="GBP", sku_ref="b", **same_key)]))
    with pytest.raises(LoadError, match="two currencies"):
        sink.commit(report=None)
    assert all_facts_fingerprint() == before


def test_other_tenants_facts_are_untouched(catalog, tenants, acme):
    globex = tenants["globex"]
    before = totals(globex)
    load(
        acme,
        [
            row(dt.date(2026, 3, d), "acme-walmart", "1", placement_type="onsite_display", retailer="walmart")
            for d in range(1, 11)
        ],
    )
    assert totals(globex) == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY path: runs when the suite runs on PostgreSQL")
def test_copy_keeps_quotes_commas_and_nulls_on_postgresql(catalog, acme):
    sink = load(acme, [row(day(0), 'X,"1"', "3", campaign_name='Big, "bold" sale', placement_type="search")])
    campaign = Campaign.objects.get(tenant=acme, external_id='X,"1"')
    assert campaign.name == 'Big, "bold" sale'
    fact = PerformanceFact.objects.get(campaign=campaign)
    assert fact.sku_id is None and fact.spend == Decimal("3.0000")
    assert sink.is_postgres


def test_an_amount_the_database_cannot_store_exactly_is_refused_before_anything_is_written(catalog, acme):
    # 999,999,999,999.5 fits numeric(18,4), but SQLite keeps it as a double (15 digits) and a larger one breaks every
    # page of the tenant (core.bounds); two rows of one key may also sum past the bound.
    before = all_facts_fingerprint()
    for rows in (sku_rows(catalog, [0], spend="999999999999.5"), sku_rows(catalog, [0, 0], spend="60000000000")):
        sink = DbSink(tenant=acme, batch=new_batch(acme))
        sink.write(table(rows))
        with pytest.raises(LoadError, match=r"amazon campaign acme-amazon on .*the largest amount stored exactly"):
            sink.commit(report=None)
    assert all_facts_fingerprint() == before
    assert load(acme, sku_rows(catalog, [0], spend="30000000000")).facts_inserted == 1  # sales 3x: 9e10, in bounds


def test_the_dashboards_daily_rollup_follows_every_load(catalog, acme):
    from campaigns.models import PerformanceDaily

    def rollup(day_):
        rows = PerformanceDaily.objects.filter(tenant=acme, date=day_)
        agg = rows.aggregate(spend=Sum("spend"), clicks=Sum("clicks"))
        return Decimal(str(agg["spend"] or 0)).quantize(FOUR), agg["clicks"] or 0

    load(acme, sku_rows(catalog, range(3), spend="10.5"))
    assert rollup(day(1)) == (Decimal("10.5000"), 6)
    load(acme, sku_rows(catalog, range(3), spend="7.25"), batch=new_batch(acme, "corrected.csv"))  # a re-import
    assert rollup(day(1)) == (Decimal("7.2500"), 6)
    facts = PerformanceFact.objects.filter(tenant=acme, date=day(1)).aggregate(spend=Sum("spend"))["spend"]
    assert Decimal(str(facts)).quantize(FOUR) == Decimal("7.2500")


def test_a_load_of_new_days_keeps_the_facts_of_earlier_days(catalog, acme):
    load(acme, sku_rows(catalog, range(0, 3), spend="10"))
    later = load(acme, sku_rows(catalog, range(5, 8), spend="20"))
    assert (later.facts_deleted, later.facts_inserted) == (0, 3)
    facts = dict(PerformanceFact.objects.filter(tenant=acme, date__gte=D1).values_list("date", "spend"))
    assert {d: s.quantize(FOUR) for d, s in facts.items()} == {
        **{day(d): Decimal("10.0000") for d in range(3)},
        **{day(d): Decimal("20.0000") for d in range(5, 8)},
    }


def test_two_source_references_of_one_sku_make_one_summed_fact(catalog, acme):
    # The engine keys rows by the file's SKU reference; a UPC and a GTIN of one SKU are one key in the database.
    sku = catalog["acme"]["skus"][0]
    distinct = load(acme, sku_rows(catalog, range(3)))
    assert not distinct.summed  # every key once: written as staged
    same = load(
        acme,
        [
            row(day(9), "acme-amazon", "1.5", sku_ref="012345678905", sku_id=sku.pk, clicks=4),
            row(day(9), "acme-amazon", "2.25", sku_ref="00012345678905", sku_id=sku.pk, clicks=6),
        ],
    )
    assert same.summed and same.facts_inserted == 1
    fact = PerformanceFact.objects.get(tenant=acme, date=day(9))
    assert (fact.spend.quantize(FOUR), fact.clicks) == (Decimal("3.7500"), 10)


def _checks_foreign_keys_once() -> bool:
    from harmonization.loader import _may_skip_row_triggers

    with connection.cursor() as cursor:
        return _may_skip_row_triggers(cursor)


def _replication_role() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="foreign keys checked once per batch on PostgreSQL")
def test_a_sku_gone_before_the_commit_refuses_the_batch_and_writes_nothing(catalog, acme):
    if not _checks_foreign_keys_once():
        pytest.skip("this role may not set session_replication_role: PostgreSQL checks each row itself")
    from campaigns.models import SKU

    before = all_facts_fingerprint()
    gone = SKU.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    sink = DbSink(tenant=acme, batch=new_batch(acme))
    sink.write(table([*sku_rows(catalog, range(2)), row(day(3), "acme-amazon", "5", sku_ref="x", sku_id=gone)]))
    with pytest.raises(LoadError, match=rf"SKU id\(s\) {gone} no longer exist"):
        sink.commit(report=None)
    assert all_facts_fingerprint() == before
    assert _replication_role() == "origin"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="foreign keys checked once per batch on PostgreSQL")
def test_rows_written_after_a_load_are_checked_row_by_row_again(catalog, acme):
    from django.db import IntegrityError

    load(acme, sku_rows(catalog, range(2)))
    assert _replication_role() == "origin"
    # A write that fails inside the replace (a negative amount breaks a check constraint) rolls the setting back too.
    before = all_facts_fingerprint()
    sink = DbSink(tenant=acme, batch=new_batch(acme))
    sink.write(table(sku_rows(catalog, [4], spend="-1")))
    with pytest.raises(IntegrityError, match="fact_non_negative"):
        sink.commit(report=None)
    assert all_facts_fingerprint() == before
    assert _replication_role() == "origin"

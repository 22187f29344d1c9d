from datetime import date
from decimal import Decimal

from harmonization.engine import Lookups, harmonize_table

from .conftest import make_spec, write

HOURLY = "ts,campaignId,asin,impressions,clicks,cost,sales14d,units14d,currency\n"


def hourly_spec(tz: str, **changes):
    return make_spec(
        source={"timezone": tz},
        date={"column": "ts", "format": "%Y-%m-%d %H:%M"},
        columns={"currency": {"source": "currency"}},
        **changes,
    )


def by_day(facts) -> dict:
    return {
        d.isoformat(): (i, s)
        for d, i, s in zip(*(facts[c].to_pylist() for c in ("date", "impressions", "spend")), strict=True)
    }


def test_a_late_evening_in_los_angeles_lands_on_the_next_utc_day(tmp_path):
    text = HOURLY + "\n".join(
        [
            "2025-03-10 23:30,C1,B001,100,1,1.00,0,0,USD",  # 2025-03-11 06:30 UTC (PDT, UTC-7)
            "2025-03-11 01:15,C1,B001,50,1,2.00,0,0,USD",  # 2025-03-11 08:15 UTC
            "2025-03-10 10:00,C1,B001,7,0,0.50,0,0,USD",  # 2025-03-10 17:00 UTC
        ]
    )
    facts, report = harmonize_table(
        hourly_spec("America/Los_Angeles"), Lookups("USD", resolve_skus=False), write(tmp_path, "h.csv", text)
    )
    assert by_day(facts) == {"2025-03-11": (150, Decimal("3.0000")), "2025-03-10": (7, Decimal("0.5000"))}
    assert dict(
        zip((d.isoformat() for d in facts["date"].to_pylist()), facts["source_rows"].to_pylist(), strict=True)
    ) == {
        "2025-03-11": 2,
        "2025-03-10": 1,
    }
    assert report.duplicate_keys == 0  # different hours are not duplicates


def test_just_after_midnight_in_berlin_is_the_previous_utc_day(tmp_path):
    text = HOURLY + "\n".join(
        [
            "2025-03-11 00:30,C1,B001,10,0,1.00,0,0,USD",  # 2025-03-10 23:30 UTC (CET, UTC+1)
            "2025-03-10 22:00,C1,B001,5,0,1.00,0,0,USD",  # 2025-03-10 21:00 UTC
            "2025-03-11 01:30,C1,B001,1,0,1.00,0,0,USD",  # 2025-03-11 00:30 UTC
        ]
    )
    facts, _ = harmonize_table(
        hourly_spec("Europe/Berlin"), Lookups("USD", resolve_skus=False), write(tmp_path, "b.csv", text)
    )
    assert by_day(facts) == {"2025-03-10": (15, Decimal("2.0000")), "2025-03-11": (1, Decimal("1.0000"))}


def test_a_date_without_time_keeps_its_calendar_date(tmp_path):
    text = "date,campaignId,asin,impressions,clicks,cost,sales14d,units14d\n2025-03-10,C1,B001,1,0,1,0,0\n"
    spec = make_spec(source={"timezone": "Pacific/Auckland"})
    facts, _ = harmonize_table(spec, Lookups("USD", resolve_skus=False), write(tmp_path, "d.csv", text))
    assert facts["date"].to_pylist() == [date(2025, 3, 10)]


FX_TEXT = "date,campaignId,asin,impressions,clicks,cost,sales14d,units14d,currency\n" + "\n".join(
    [
        "2025-03-10,C1,B001,10,1,100.00,200.00,1,EUR",  # Monday: its own rate
        "2025-03-09,C1,B001,10,1,100.00,0,0,EUR",  # Sunday: Friday's rate
        "2025-03-09,C2,B001,10,1,40.00,0,0,USD",  # reporting currency: rate 1
        "2025-02-20,C1,B001,10,1,5.00,0,0,EUR",  # no rate within 4 days before
    ]
)
RATES = [(date(2025, 3, 7), "EUR", 1.0512), (date(2025, 3, 10), "EUR", 1.0853), (date(2025, 2, 10), "EUR", 1.03)]


def test_eur_amounts_use_the_rate_of_their_date_or_the_last_earlier_one(tmp_path):
    spec = make_spec(columns={"currency": {"source": "currency"}})
    facts, _ = harmonize_table(
        spec, Lookups("USD", fx_rates=RATES, resolve_skus=False), write(tmp_path, "fx.csv", FX_TEXT)
    )
    rows = {(r["date"].isoformat(), r["campaign_id"]): r for r in facts.to_pylist()}
    monday = rows[("2025-03-10", "C1")]
    assert monday["fx_rate"] == Decimal("1.0853")
    assert monday["spend"] == Decimal("108.5300")
    assert monday["attributed_sales"] == Decimal("217.0600")
    assert monday["original_spend"] == Decimal("100.0000")
    assert monday["original_currency"] == "EUR"
    assert monday["currency"] == "USD"
    sunday = rows[("2025-03-09", "C1")]
    assert sunday["fx_rate"] == Decimal("1.0512")
    assert sunday["spend"] == Decimal("105.1200")
    usd = rows[("2025-03-09", "C2")]
    assert (usd["fx_rate"], usd["spend"]) == (Decimal(1), Decimal("40.0000"))


def test_a_missing_rate_quarantines_the_row_with_the_reason(tmp_path):
    from harmonization.engine import Harmonizer, MemorySink

    spec = make_spec(columns={"currency": {"source": "currency"}})
    sink = MemorySink()
    report = Harmonizer(spec, Lookups("USD", fx_rates=RATES, resolve_skus=False)).run(
        write(tmp_path, "fx.csv", FX_TEXT), sink
    )
    q = sink.quarantine_table().to_pylist()
    assert [(r["line"], r["field"], r["reason"]) for r in q] == [
        (5, "currency", "currency: no EUR→USD rate on or before 2025-02-20")
    ]
    assert report.to_dict()["quarantine_reasons"] == {"currency:no_fx_rate": 1}
    rec = report.to_dict()["reconciliation"]["EUR"]
    assert rec == {
        "spend_in": "205.0000",
        "spend_loaded": "200.0000",
        "spend_quarantined": "5.0000",
        "sales_in": "200.0000",
        "sales_loaded": "200.0000",
        "sales_quarantined": "0.0000",
        "balanced": True,
    }

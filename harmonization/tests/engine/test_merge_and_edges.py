import gzip
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harmonization.engine import Harmonizer, Lookups, MemorySink, ParquetSink, SourceError, sinks

from .conftest import HEADER, make_spec, write

HOURLY_HEADER = "ts,campaignId,asin,impressions,clicks,cost,sales14d,units14d\n"
# 8 hours of one Los Angeles day for two items, interleaved so that every chunk of 3 rows holds both keys
HOURS = [f"2025-03-10 {h:02d}:00,C1,{item},10,1,0.10,1.00,1" for h in range(8, 16) for item in ("B001", "B002")]


def hourly_spec(**changes):
    return make_spec(
        source={"timezone": "America/Los_Angeles"}, date={"column": "ts", "format": "%Y-%m-%d %H:%M"}, **changes
    )


@pytest.mark.parametrize("bucket_rows", [1_000_000, 2])
def test_hours_that_straddle_chunks_are_summed_into_one_row_per_day_in_parquet(tmp_path, monkeypatch, bucket_rows):
    monkeypatch.setattr(sinks, "MERGE_BUCKET_ROWS", bucket_rows)
    out = tmp_path / "facts.parquet"
    sink = ParquetSink(out)
    path = write(tmp_path, "h.csv", HOURLY_HEADER + "\n".join(HOURS))
    report = Harmonizer(hourly_spec(), Lookups("USD", resolve_skus=False), chunk_rows=3).run(path, sink)
    rows = sorted(pq.read_table(out).to_pylist(), key=lambda r: r["sku_ref"])
    assert [(r["sku_ref"], r["date"].isoformat(), r["impressions"], r["spend"], r["source_rows"]) for r in rows] == [
        ("B001", "2025-03-10", 80, Decimal("0.8000"), 8),
        ("B002", "2025-03-10", 80, Decimal("0.8000"), 8),
    ]
    assert report.facts == 2
    assert report.duplicate_keys == 0
    assert report.keys_across_chunks == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["facts.parquet", "h.csv"]


def test_rows_of_one_key_in_two_currencies_are_quarantined(tmp_path):
    text = "\n".join(
        [HEADER + ",cur", "2025-03-10,C1,B001,10,1,1.00,0,0,USD", "2025-03-10,C1,B001,10,1,2.00,0,0,EUR",
         "2025-03-10,C1,B002,10,1,3.00,0,0,EUR"]
    )  # fmt: skip
    spec = make_spec(columns={"currency": {"source": "cur"}})
    lookups = Lookups("USD", fx_rates=[(pa.scalar(20157, pa.date32()).as_py(), "EUR", 1.1)], resolve_skus=False)
    sink = MemorySink()
    report = Harmonizer(spec, lookups).run(write(tmp_path, "m.csv", text), sink)
    reasons = sorted((r["line"], r["reason"]) for r in sink.quarantine_table().to_pylist())
    assert reasons == [
        (2, "currency: rows of one key in different currencies"),
        (3, "currency: rows of one key in different currencies"),
    ]
    assert sink.result()["sku_ref"].to_pylist() == ["B002"]
    assert report.rows_loaded == 1
    assert all(r["balanced"] for r in report.to_dict()["reconciliation"].values())


def test_jsonl_lines_that_are_not_json_are_quarantined_with_their_line(tmp_path):
    good = json.dumps(
        {"date": "2025-03-10", "campaignId": "C1", "asin": "B001", "impressions": 5, "clicks": 1, "cost": "1.5",
         "sales14d": 0, "units14d": 0}
    )  # fmt: skip
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join([good, "{oops", good.replace("B001", "B002")]).encode()))
    sink = MemorySink()
    report = Harmonizer(make_spec(source={"format": "jsonl"}), Lookups("USD", resolve_skus=False)).run(path, sink)
    q = sink.quarantine_table().to_pylist()
    assert [(r["line"], r["reason"].split(" (")[0]) for r in q] == [(2, "not valid JSON")]
    assert report.rows_read == 3
    assert report.rows_loaded == 2


def test_a_jsonl_file_that_is_not_json_at_all_is_a_source_error(tmp_path):
    sink = MemorySink()
    with pytest.raises(SourceError, match=r"a\.jsonl: this file looks like CSV or TSV text; the mapping reads JSON"):
        Harmonizer(make_spec(source={"format": "jsonl"}), Lookups("USD")).run(write(tmp_path, "a.jsonl", HEADER), sink)
    assert sink.calls == []


def test_an_error_in_the_sink_aborts_and_is_raised(tmp_path):
    class Failing(MemorySink):
        def write(self, table):
            super().write(table)
            raise OSError("disk full")

    sink = Failing()
    with pytest.raises(OSError, match="disk full"):
        Harmonizer(make_spec(), Lookups("USD", resolve_skus=False)).run(
            write(tmp_path, "a.csv", HEADER + "\n2025-03-10,C1,B001,1,0,0,0,0"), sink
        )
    assert sink.calls == ["write", "abort"]


def test_expression_fields_quarantine_values_that_are_not_numbers(tmp_path):
    text = "date,campaignId,asin,impressions,clicks,cost_micros,sales14d,units14d\n" + "\n".join(
        ["2025-03-10,C1,B001,1,0,2500000,0,0", "2025-03-10,C1,B002,1,0,n/a,0,0"]
    )
    spec = make_spec(columns={"spend": {"expr": "cost_micros / 1000000"}})
    sink = MemorySink()
    Harmonizer(spec, Lookups("USD", resolve_skus=False)).run(write(tmp_path, "e.csv", text), sink)
    assert [r["reason"] for r in sink.quarantine_table().to_pylist()] == ["spend: cost_micros 'n/a' is not a number"]
    assert sink.result()["spend"].to_pylist() == [Decimal("2.5")]


def test_whole_numbers_written_with_decimals_are_accepted_and_fractions_are_not(tmp_path):
    text = HEADER + "\n2025-03-10,C1,B001,12.0,1,0,0,0\n2025-03-10,C1,B002,1.5,1,0,0,0"
    sink = MemorySink()
    Harmonizer(make_spec(), Lookups("USD", resolve_skus=False)).run(write(tmp_path, "i.csv", text), sink)
    assert sink.result()["impressions"].to_pylist() == [12]
    assert [r["reason"] for r in sink.quarantine_table().to_pylist()] == ["impressions: '1.5' is not a whole number"]


def test_unknown_skus_become_campaign_level_rows_when_the_mapping_says_so(tmp_path):
    text = HEADER + "\n2025-03-10,C1,B001,1,0,1,0,0\n2025-03-10,C1,B404,2,0,1,0,0\n2025-03-10,C1,B405,3,0,1,0,0"
    lookups = Lookups("USD", sku_index={"retailer_item_id": {"amazon|B001": 7}})
    sink = MemorySink()
    report = Harmonizer(make_spec(), lookups).run(write(tmp_path, "s.csv", text), sink)
    rows = sorted(sink.result().to_pylist(), key=lambda r: r["impressions"])
    assert [(r["sku_ref"], r["sku_id"], r["impressions"]) for r in rows] == [("B001", 7, 1), (None, None, 5)]
    assert report.sku_unmatched == 2
    assert report.duplicate_keys == 1  # the two unmatched rows share the campaign-level key


def test_gtins_are_matched_zero_padded_to_14_digits(tmp_path):
    text = "date,campaignId,gtin,impressions,clicks,cost,sales14d,units14d\n2025-03-10,C1,4006381333931,1,0,1,0,0"
    from .conftest import BASE

    columns = {k: v for k, v in BASE["columns"].items() if k != "retailer_item_id"} | {"gtin": {"source": "gtin"}}
    spec = make_spec(columns=columns, sku={"match": "gtin", "unknown": "quarantine"})
    lookups = Lookups("USD", sku_index={"gtin": {"04006381333931": 99}})
    sink = MemorySink()
    Harmonizer(spec, lookups).run(write(tmp_path, "g.csv", text), sink)
    assert sink.result()["sku_id"].to_pylist() == [99]


def test_attribution_window_and_model_can_come_from_columns_and_are_never_summed(tmp_path):
    text = "\n".join(
        [HEADER + ",window,model", "2025-03-10,C1,B001,10,1,1.00,5.00,1,7D,LastClick",
         "2025-03-10,C1,B001,10,1,1.00,9.00,2,14D,LastClick", "2025-03-10,C1,B002,10,1,1.00,5.00,1,30D,LastClick",
         "2025-03-10,C1,B003,10,1,1.00,5.00,1,7D,Other"]
    )  # fmt: skip
    attribution = {
        "window_days": {"source": "window", "enum": {"map": {"7D": 7, "14D": 14}, "unknown": "quarantine"}},
        "model": {"source": "model", "enum": {"map": {"LastClick": "last_click"}, "unknown": "default:multi_touch"}},
    }
    sink = MemorySink()
    report = Harmonizer(make_spec(attribution=attribution), Lookups("USD", resolve_skus=False)).run(
        write(tmp_path, "w.csv", text), sink
    )
    rows = sorted(sink.result().to_pylist(), key=lambda r: (r["sku_ref"], r["attribution_window_days"]))
    assert [
        (r["sku_ref"], r["attribution_window_days"], r["attribution_model"], r["attributed_sales"]) for r in rows
    ] == [
        ("B001", 7, "last_click", Decimal("5.0000")),
        ("B001", 14, "last_click", Decimal("9.0000")),
        ("B003", 7, "multi_touch", Decimal("5.0000")),
    ]
    assert [r["reason"] for r in sink.quarantine_table().to_pylist()] == [
        "attribution_window_days: unknown value '30D'"
    ]
    assert report.duplicate_keys == 0


def test_timestamps_default_to_the_lookups_zone_when_the_mapping_names_none(tmp_path):
    text = HOURLY_HEADER + "2025-03-10 23:30,C1,B001,1,0,0,0,0"
    spec = make_spec(date={"column": "ts", "format": "%Y-%m-%d %H:%M"})
    for zone, day in ((None, "2025-03-10"), ("America/New_York", "2025-03-11")):
        sink = MemorySink()
        Harmonizer(spec, Lookups("USD", resolve_skus=False, default_timezone=zone)).run(
            write(tmp_path, "t.csv", text), sink
        )
        assert [d.isoformat() for d in sink.result()["date"].to_pylist()] == [day]


OPTIONAL_SKU = {"retailer_item_id": {"source": "asin", "required": False}}
SKU_ROWS = "\n2025-03-10,C1,B001,1,0,1,0,0\n2025-03-10,C2,,2,0,1,0,0\n2025-03-10,C1,B404,3,0,1,0,0"


def test_an_empty_optional_sku_reference_is_a_campaign_level_row_outside_the_join_rate(tmp_path):
    spec = make_spec(columns=OPTIONAL_SKU, sku={"match": "retailer_item_id", "unknown": "quarantine"})
    lookups = Lookups("USD", sku_index={"retailer_item_id": {"amazon|B001": 7}})
    sink = MemorySink()
    report = Harmonizer(spec, lookups).run(write(tmp_path, "s.csv", HEADER + SKU_ROWS), sink)
    rows = sorted(sink.result().to_pylist(), key=lambda r: r["impressions"])
    assert [(r["campaign_id"], r["sku_ref"], r["sku_id"]) for r in rows] == [("C1", "B001", 7), ("C2", None, None)]
    assert [(r["line"], r["reason"]) for r in sink.quarantine_table().to_pylist()] == [
        (4, "sku: no SKU for retailer item B404")
    ]
    assert (report.sku_matched, report.sku_unmatched) == (1, 1)
    assert report.sku_join_rate == pytest.approx(0.5)  # 1 of the 2 rows that carry a reference


def test_a_missing_optional_sku_column_makes_every_row_campaign_level(tmp_path):
    spec = make_spec(columns=OPTIONAL_SKU, sku={"match": "retailer_item_id", "unknown": "quarantine"},
                     quality={"min_sku_join_rate": 0.9})  # fmt: skip
    text = "date,campaignId,impressions,clicks,cost,sales14d,units14d\n2025-03-10,C1,1,0,1,0,0"
    sink = MemorySink()
    lookups = Lookups("USD", sku_index={"retailer_item_id": {"amazon|B001": 7}})
    report = Harmonizer(spec, lookups).run(write(tmp_path, "s.csv", text), sink)
    assert report.passed, report.failures
    assert sink.result()["sku_ref"].to_pylist() == [None]
    assert report.sku_join_rate is None  # no row carried a reference: the threshold is not judged
    assert report.thresholds == []


def test_an_empty_required_sku_reference_is_still_quarantined(tmp_path):
    spec = make_spec(sku={"match": "retailer_item_id", "unknown": "quarantine"})
    lookups = Lookups("USD", sku_index={"retailer_item_id": {"amazon|B001": 7}})
    sink = MemorySink()
    report = Harmonizer(spec, lookups).run(write(tmp_path, "s.csv", HEADER + SKU_ROWS), sink)
    assert sorted(r["reason"] for r in sink.quarantine_table().to_pylist()) == [
        "sku: no SKU for retailer item B404",
        "sku: no retailer_item_id given",
    ]
    assert report.sku_join_rate == pytest.approx(0.5)

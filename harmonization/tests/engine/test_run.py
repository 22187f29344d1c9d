from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from harmonization.engine import (
    HARMONIZED_SCHEMA,
    Harmonizer,
    Lookups,
    MemorySink,
    ParquetSink,
    Progress,
    QuarantineCsvWriter,
    SourceError,
)

from .conftest import HEADER, make_spec, write

GOOD = [
    "2025-03-10,C1,B001,1000,10,12.50,100.00,3",
    "2025-03-10,C1,B002,500,5,2.25,0,0",
    "2025-03-11,C2,B001,300,1,0.75,20.00,1",
    "2025-03-11,C2,B002,200,2,1.00,5.00,1",
    "2025-03-12,C2,B003,100,0,0.10,0,0",
]


def run(spec, path, lookups=None, chunk_rows=3):
    sink = MemorySink()
    report = Harmonizer(spec, lookups or Lookups("USD", resolve_skus=False), chunk_rows=chunk_rows).run(path, sink)
    return sink, report


def test_one_broken_row_is_quarantined_with_its_line_and_the_rest_loads(tmp_path):
    rows = [*GOOD[:2], "2025-03-10,C1,B009,100,abc,1.00,0,0", *GOOD[2:]]
    sink, report = run(make_spec(), write(tmp_path, "a.csv", "\n".join([HEADER, *rows])))
    q = sink.quarantine_table().to_pylist()
    assert len(q) == 1
    assert q[0]["line"] == 4
    assert q[0]["field"] == "clicks"
    assert q[0]["reason"] == "clicks: 'abc' is not a number"
    assert '"clicks": "abc"' in q[0]["raw"]
    assert report.rows_read == 6
    assert report.rows_loaded == 5
    assert report.rows_quarantined == 1
    assert sum(sink.result()["impressions"].to_pylist()) == 2100
    assert sink.calls[-1] == "commit"


def test_a_row_with_missing_cells_is_quarantined_and_later_lines_keep_their_numbers(tmp_path):
    rows = [GOOD[0], "2025-03-10,C1,B002,500", GOOD[1], "2025-03-11,C2,B001,300,-1,0.75,20.00,1", *GOOD[2:]]
    sink, report = run(make_spec(), write(tmp_path, "a.csv", "\n".join([HEADER, *rows]) + "\n"))
    q = sorted(sink.quarantine_table().to_pylist(), key=lambda r: r["line"])
    assert [(r["line"], r["reason"]) for r in q] == [
        (3, "row has 4 columns, the header has 8"),
        (5, "clicks: negative (-1)"),
    ]
    assert report.rows_read == 7
    assert report.rows_loaded == 5


def test_the_wrong_delimiter_is_named_before_any_sink_call(tmp_path):
    text = "\n".join([HEADER.replace(",", ";"), *(r.replace(",", ";") for r in GOOD)])
    sink = MemorySink()
    with pytest.raises(SourceError) as info:
        Harmonizer(make_spec(), Lookups("USD", resolve_skus=False)).run(write(tmp_path, "a.csv", text), sink)
    message = str(info.value)
    assert "missing required column(s) date, campaignId, asin" in message
    assert "found 1 column 'date;campaignId;asin;" in message
    assert "is the delimiter ';'?" in message
    assert sink.calls == []


def test_a_missing_column_is_named(tmp_path):
    text = "\n".join([HEADER.replace(",clicks", ""), *(",".join(r.split(",")[:4] + r.split(",")[5:]) for r in GOOD)])
    sink = MemorySink()
    with pytest.raises(SourceError, match=r"missing required column\(s\) clicks \(found 7 columns"):
        Harmonizer(make_spec(), Lookups("USD", resolve_skus=False)).run(write(tmp_path, "a.csv", text), sink)
    assert sink.calls == []


def test_bad_encoding_is_named_with_its_byte_offset(tmp_path):
    text = "\n".join([HEADER, GOOD[0].replace("C1", "Caf\xe9"), *GOOD[1:]])
    path = write(tmp_path, "a.csv", text, encoding="latin-1")
    sink = MemorySink()
    with pytest.raises(SourceError) as info:
        Harmonizer(make_spec(), Lookups("USD", resolve_skus=False)).run(path, sink)
    offset = len(HEADER) + 1 + len("2025-03-10,Caf")
    assert str(info.value) == f"a.csv: not valid utf-8 at byte {offset} (bytes e9 2c 42 30) (declared encoding utf-8)"
    assert sink.calls == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,x\n", "a.json: this file looks like CSV or TSV text; the mapping reads JSON"),
        ('[{"date": "2025-03-10", ', "a.json: not JSON"),
    ],
)
def test_not_json_is_a_source_error(tmp_path, text, message):
    sink = MemorySink()
    with pytest.raises(SourceError, match=message):
        Harmonizer(make_spec(source={"format": "json"}), Lookups("USD")).run(write(tmp_path, "a.json", text), sink)
    assert sink.calls == []


def test_a_threshold_that_fails_aborts_instead_of_committing(tmp_path):
    rows = [*GOOD, "2025-03-10,C1,B009,100,abc,1.00,0,0"]
    spec = make_spec(quality={"max_quarantine_rate": 0.1})
    sink, report = run(spec, write(tmp_path, "a.csv", "\n".join([HEADER, *rows])))
    assert sink.calls[-1] == "abort"
    assert "commit" not in sink.calls
    assert report.passed is False
    assert report.failures == [
        "max_quarantine_rate: 0.1667 is above the limit 0.1 (first quarantined: line 7: clicks: 'abc' is not a number)"
    ]
    assert report.to_dict()["thresholds"] == [
        {"name": "max_quarantine_rate", "limit": 0.1, "value": 0.166667, "passed": False}
    ]


def test_reconciliation_balances_per_currency(tmp_path):
    rows = [*GOOD, "2025-03-10,C1,B009,100,abc,1.00,2.00,0"]
    _, report = run(make_spec(), write(tmp_path, "a.csv", "\n".join([HEADER, *rows])))
    assert report.to_dict()["reconciliation"] == {
        "USD": {
            "spend_in": "17.6000",
            "spend_loaded": "16.6000",
            "spend_quarantined": "1.0000",
            "sales_in": "127.0000",
            "sales_loaded": "125.0000",
            "sales_quarantined": "2.0000",
            "balanced": True,
        }
    }


def test_duplicate_keys_are_counted_across_chunks_and_summed(tmp_path):
    rows = [*GOOD, GOOD[0], GOOD[4]]  # lines 7 and 8 repeat keys of lines 2 and 6, in later chunks
    spec = make_spec(quality={"max_duplicate_key_rate": 0.5})
    sink, report = run(spec, write(tmp_path, "a.csv", "\n".join([HEADER, *rows])), chunk_rows=3)
    assert report.duplicate_keys == 2
    assert report.keys_across_chunks == 2
    facts = sink.result()
    assert facts.num_rows == 5
    assert sum(facts["impressions"].to_pylist()) == 2100 + 1000 + 100
    assert max(facts["source_rows"].to_pylist()) == 2


def test_parquet_output_round_trips_with_the_schema_and_sums_keys_across_chunks(tmp_path):
    rows = [*GOOD, GOOD[0]]
    out = tmp_path / "out" / "facts.parquet"
    qpath = tmp_path / "out" / "quarantine.csv"
    seen: list[Progress] = []
    sink = ParquetSink(out, quarantine_path=qpath)
    path = write(tmp_path, "a.csv", "\n".join([HEADER, *rows, "2025-03-10,C1,B009,100,abc,1.00,0,0"]))
    report = Harmonizer(make_spec(), Lookups("USD", resolve_skus=False), chunk_rows=2).run(
        path, sink, progress=seen.append
    )
    table = pq.read_table(out)
    assert table.schema.equals(HARMONIZED_SCHEMA, check_metadata=False)
    assert table.num_rows == 5
    assert report.facts == 5
    first = next(r for r in table.to_pylist() if r["sku_ref"] == "B001" and r["campaign_id"] == "C1")
    assert first["impressions"] == 2000
    assert first["spend"] == Decimal("25.0000")
    assert first["source_rows"] == 2
    assert [p.rows_read for p in seen] == [2, 4, 6, 7]
    assert seen[-1].bytes_read == seen[-1].bytes_total == path.stat().st_size
    assert list(out.parent.iterdir()) == [out, qpath] or sorted(out.parent.iterdir()) == sorted([out, qpath])
    lines = qpath.read_text().splitlines()
    assert lines[0] == "line,field,reason,date,campaignId,asin,impressions,clicks,cost,sales14d,units14d,_other"
    assert lines[1] == "8,clicks,clicks: 'abc' is not a number,2025-03-10,C1,B009,100,abc,1.00,0,0,"


def test_parquet_sink_abort_leaves_nothing(tmp_path):
    out = tmp_path / "facts.parquet"
    sink = ParquetSink(out)
    spec = make_spec(quality={"max_quarantine_rate": 0.0})
    path = write(tmp_path, "a.csv", "\n".join([HEADER, *GOOD, "2025-03-10,C1,B009,100,abc,1.00,0,0"]))
    report = Harmonizer(spec, Lookups("USD", resolve_skus=False), chunk_rows=2).run(path, sink)
    assert not report.passed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]


def test_skus_resolve_through_the_crosswalk_and_unknown_ones_are_quarantined(tmp_path):
    spec = make_spec(sku={"match": "retailer_item_id", "unknown": "quarantine"})
    lookups = Lookups("USD", sku_index={"retailer_item_id": {"amazon|B001": 11, "amazon|B002": 12}})
    sink, report = run(spec, write(tmp_path, "a.csv", "\n".join([HEADER, *GOOD])), lookups)
    facts = sink.result()
    assert sorted(zip(facts["sku_ref"].to_pylist(), facts["sku_id"].to_pylist(), strict=True)) == [
        ("B001", 11),
        ("B001", 11),
        ("B002", 12),
        ("B002", 12),
    ]
    assert [r["reason"] for r in sink.quarantine_table().to_pylist()] == ["sku: no SKU for retailer item B003"]
    assert report.sku_join_rate == pytest.approx(0.8)
    assert report.to_dict()["sku_unmatched"] == 1


def test_enum_maps_and_coverage(tmp_path):
    text = "\n".join(
        ["date,campaignId,asin,impressions,clicks,cost,sales14d,units14d,adType"]
        + [f"{r},{t}" for r, t in zip(GOOD, ["SP", "SP", "Display", "Banner XL", "SP"], strict=True)]
    )
    spec = make_spec(
        columns={
            "placement_type": {
                "source": "adType",
                "enum": {"map": {"SP": "sponsored_product", "Display": "onsite_display"}, "unknown": "quarantine"},
            }
        }
    )
    sink, report = run(spec, write(tmp_path, "a.csv", text))
    assert [r["reason"] for r in sink.quarantine_table().to_pylist()] == ["placement_type: unknown value 'Banner XL'"]
    assert report.to_dict()["enum_coverage"] == {
        "placement_type": {"mapped": 4, "unknown": 1, "unknown_values": {"Banner XL": 1}}
    }
    assert sorted(set(sink.result()["placement_type"].to_pylist())) == ["onsite_display", "sponsored_product"]


def test_clicks_over_impressions_and_unmapped_columns_are_reported(tmp_path):
    text = "\n".join([HEADER + ",adGroupId,extra", *(r + ",G,x" for r in GOOD), "2025-03-13,C3,B001,1,5,0,0,0,G,x"])
    spec = make_spec(ignore=["adGroupId"], quality={"max_clicks_over_impressions_rate": 0.5})
    _, report = run(spec, write(tmp_path, "a.csv", text))
    d = report.to_dict()
    assert d["clicks_over_impressions"] == 1
    assert d["unmapped_columns"] == ["extra"]
    assert d["date_range"] == ["2025-03-10", "2025-03-13"]
    assert d["passed"] is True


def test_quarantine_csv_writer_streams_rows(tmp_path):
    import pyarrow as pa

    from harmonization.engine import QUARANTINE_SCHEMA

    writer = QuarantineCsvWriter(tmp_path / "q.csv", source_columns=["a", "b"])
    raw = '{"a": "x", "b": null, "c": "1"}'
    writer.write(pa.table({"line": [3], "field": ["a"], "reason": ["a: bad"], "raw": [raw]}, schema=QUARANTINE_SCHEMA))
    writer.close()
    assert (tmp_path / "q.csv").read_text().splitlines() == [
        "line,field,reason,a,b,_other",
        '3,a,a: bad,x,,"{""c"": ""1""}"',
    ]


@pytest.mark.parametrize("gz", [False, True])
def test_a_quarantined_csv_row_keeps_every_source_column(tmp_path, gz):
    import gzip
    import json

    rows = [f"{r},AG{i},note {i}" for i, r in enumerate(GOOD)]
    rows[1] = rows[1].replace(",5,2.25", ",x,2.25")  # line 3
    rows[4] = rows[4].replace(",0.10,", ",-1,")  # line 6, in a later chunk
    text = "\n".join([HEADER + ",adGroupName,note", *rows]) + "\n"
    path = tmp_path / ("a.csv.gz" if gz else "a.csv")
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    sink, _ = run(make_spec(ignore=["adGroupName"]), path, chunk_rows=2)
    q = sorted(sink.quarantine_table().to_pylist(), key=lambda r: r["line"])
    assert [(r["line"], json.loads(r["raw"])["adGroupName"], json.loads(r["raw"])["note"]) for r in q] == [
        (3, "AG1", "note 1"),
        (6, "AG4", "note 4"),
    ]
    assert json.loads(q[0]["raw"])["clicks"] == "x"


def test_a_blank_line_never_attaches_another_rows_values(tmp_path):
    import json

    rows = [f"{r},AG{i}" for i, r in enumerate(GOOD)]
    rows[3] = rows[3].replace(",200,", ",y,")
    text = "\n".join([HEADER + ",adGroupName", rows[0], "", *rows[1:]])
    sink, _ = run(make_spec(), write(tmp_path, "a.csv", text))
    raw = json.loads(sink.quarantine_table()["raw"][0].as_py())
    assert raw["impressions"] == "y"
    assert raw.get("adGroupName") in (None, "AG3")

import gzip
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harmonization.engine import Harmonizer, MemorySink, harmonize_table

from .conftest import HEADER, make_spec, write

ROWS = [
    "2025-03-10,C1,B001,1000,10,12.50,100.00,3",
    "2025-03-10,C1,B002,500,5,2.25,0,0",
    "2025-03-11,C2,B001,300,1,0.75,20.00,1",
]


def totals(table: pa.Table) -> dict:
    return {
        "impressions": sum(table["impressions"].to_pylist()),
        "clicks": sum(table["clicks"].to_pylist()),
        "spend": sum(table["spend"].to_pylist()),
        "sales": sum(table["attributed_sales"].to_pylist()),
        "units": sum(table["attributed_units"].to_pylist()),
    }


EXPECTED = {"impressions": 1800, "clicks": 16, "spend": Decimal("15.5"), "sales": Decimal("120"), "units": 4}


def test_it_reads_csv(tmp_path, lookups):
    facts, report = harmonize_table(make_spec(), lookups, write(tmp_path, "a.csv", "\n".join([HEADER, *ROWS])))
    assert totals(facts) == EXPECTED
    assert report.rows_read == 3
    assert report.rows_loaded == 3
    assert facts.num_rows == 3


def test_it_reads_tsv_gzip_and_header_below_a_title(tmp_path, lookups):
    text = "\n".join(["Report: daily", HEADER.replace(",", "\t"), *(r.replace(",", "\t") for r in ROWS)])
    path = tmp_path / "a.tsv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    spec = make_spec(source={"format": "tsv", "header_row": 2})
    facts, report = harmonize_table(spec, lookups, path)
    assert totals(facts) == EXPECTED
    assert report.rows_read == 3


@pytest.mark.parametrize("encoding", ["utf-16", "latin-1", "utf-8-sig"])
def test_it_reads_declared_encodings(tmp_path, lookups, encoding):
    rows = [r.replace("C1", "Café") for r in ROWS]
    spec = make_spec(source={"encoding": encoding}, columns={"campaign_name": {"source": "campaignId"}})
    facts, _ = harmonize_table(spec, lookups, write(tmp_path, "a.csv", "\n".join([HEADER, *rows]), encoding))
    assert totals(facts) == EXPECTED
    assert "Café" in facts["campaign_id"].to_pylist()


def test_it_reads_jsonl_with_nested_objects(tmp_path, lookups):
    lines = []
    for row in ROWS:
        d, c, a, i, k, s, sales, u = row.split(",")
        lines.append(json.dumps({"date": d, "campaignId": c, "asin": a, "m": {"impressions": int(i), "clicks": int(k)},
                                 "cost": float(s), "sales14d": sales, "units14d": int(u)}))  # fmt: skip
    spec = make_spec(
        source={"format": "jsonl"},
        columns={"impressions": {"source": "m.impressions"}, "clicks": {"source": "m.clicks"}},
    )
    facts, report = harmonize_table(spec, lookups, write(tmp_path, "a.jsonl", "\n".join(lines) + "\n"))
    assert totals(facts) == EXPECTED
    assert report.rows_read == 3


def test_it_reads_a_json_report_array(tmp_path, lookups):
    keys = HEADER.split(",")
    records = [dict(zip(keys, row.split(","), strict=True)) for row in ROWS]
    doc = {"report": {"meta": {"n": 3}, "rows": records}}
    spec = make_spec(source={"format": "json", "records_path": "report.rows"})
    facts, _ = harmonize_table(spec, lookups, write(tmp_path, "a.json", json.dumps(doc)))
    assert totals(facts) == EXPECTED


def test_it_reads_parquet_with_native_types(tmp_path, lookups):
    keys = HEADER.split(",")
    cols = list(zip(*(row.split(",") for row in ROWS), strict=True))
    table = pa.table(
        {
            "date": pa.array(cols[0]).cast(pa.date32()),
            "campaignId": pa.array(cols[1]),
            "asin": pa.array(cols[2]),
            "impressions": pa.array([int(x) for x in cols[3]]),
            "clicks": pa.array([int(x) for x in cols[4]]),
            "cost": pa.array([float(x) for x in cols[5]]),
            "sales14d": pa.array([Decimal(x) for x in cols[6]], pa.decimal128(10, 2)),
            "units14d": pa.array([int(x) for x in cols[7]]),
        }
    )
    assert table.column_names == keys
    path = tmp_path / "a.parquet"
    pq.write_table(table, path)
    facts, _ = harmonize_table(make_spec(source={"format": "parquet"}), lookups, path)
    assert totals(facts) == EXPECTED


def test_it_reads_comma_decimals_with_dot_thousands(tmp_path, lookups):
    text = "date;campaignId;asin;impressions;clicks;cost;sales14d;units14d\n" + "\n".join(
        [
            '10.03.2025;C1;B001;"1.234";10;"1.234,56";"2.000,05";3',
            "10.03.2025;C1;B002;5;1;0,5;0;0",
        ]
    )
    spec = make_spec(source={"delimiter": ";", "decimal": ",", "thousands": "."}, date={"format": "%d.%m.%Y"})
    facts, report = harmonize_table(spec, lookups, write(tmp_path, "eu.csv", text))
    assert report.rows_quarantined == 0, report.to_dict()["quarantine_reasons"]
    assert sorted(facts["impressions"].to_pylist()) == [5, 1234]
    assert sum(facts["spend"].to_pylist()) == Decimal("1235.06")
    assert sum(facts["attributed_sales"].to_pylist()) == Decimal("2000.05")
    assert set(facts["date"].to_pylist()) == {pa.scalar(20157, pa.date32()).as_py()}


def test_it_applies_micros_cents_and_percent_units(tmp_path, lookups):
    text = "date,campaignId,asin,impressions,clicks,cost_micros,sales_cents,units14d,share\n" + "\n".join(
        ["2025-03-10,C1,B001,100,4,1234567,12345,1,12.5%", "2025-03-10,C1,B002,100,4,500000,5,1,50"]
    )
    spec_pct = make_spec(
        columns={
            "spend": {"source": "share", "unit": "percent"},
            "attributed_sales": {"source": "sales_cents", "unit": "cents"},
        }
    )
    path = write(tmp_path, "units.csv", text)
    facts, report = harmonize_table(spec_pct, lookups, path)
    assert report.rows_quarantined == 0, report.to_dict()["quarantine_reasons"]
    assert sorted(facts["spend"].to_pylist()) == [Decimal("0.125"), Decimal("0.5")]
    assert sorted(facts["attributed_sales"].to_pylist()) == [Decimal("0.05"), Decimal("123.45")]
    spec = make_spec(
        columns={
            "spend": {"source": "cost_micros", "unit": "micros"},
            "attributed_sales": {"expr": "sales_cents / 100"},
        },
    )
    facts, report = harmonize_table(spec, lookups, path)
    assert sorted(facts["spend"].to_pylist()) == [Decimal("0.5"), Decimal("1.2346")]
    assert sorted(facts["attributed_sales"].to_pylist()) == [Decimal("0.05"), Decimal("123.45")]
    assert report.unmapped_columns == ["share"]


def _jsonl_rows() -> list[str]:
    keys = HEADER.split(",")
    return [json.dumps(dict(zip(keys, row.split(","), strict=True))) for row in ROWS]


def test_jsonl_dates_stay_text_so_a_plain_date_keeps_its_day(tmp_path, lookups):
    spec = make_spec(source={"format": "jsonl", "timezone": "Europe/Berlin"})
    facts, _ = harmonize_table(spec, lookups, write(tmp_path, "d.jsonl", "\n".join(_jsonl_rows())))
    assert sorted({d.isoformat() for d in facts["date"].to_pylist()}) == ["2025-03-10", "2025-03-11"]
    assert totals(facts) == EXPECTED


def test_jsonl_blank_lines_and_changing_types_keep_line_numbers(tmp_path, lookups):
    rows = _jsonl_rows()
    rows[1] = rows[1].replace('"clicks": "5"', '"clicks": 5')  # a number where the other rows have text
    text = "\n".join([rows[0], "", rows[1], "   ", rows[2].replace('"impressions": "300"', '"impressions": "x"')])
    sink = MemorySink()
    Harmonizer(make_spec(source={"format": "jsonl"}), lookups).run(write(tmp_path, "b.jsonl", text), sink)
    assert [(r["line"], r["reason"]) for r in sink.quarantine_table().to_pylist()] == [
        (5, "impressions: 'x' is not a number")
    ]
    assert sum(sink.result()["clicks"].to_pylist()) == 15

"""Money as people see it (issue 16, point 5): `$1,234.56`, `€1.234,56`, `(12.50)`, `1.2K`, each read only where the
mapping names its format, and never read as another form."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from harmonization.engine import Lookups, MappingError, harmonize_table
from harmonization.engine.numbers import NumberFormat

from .conftest import make_spec, write

US_MONEY = NumberFormat(".", ",", money=True)
EU_MONEY = NumberFormat(",", ".", money=True)
COMPACT = NumberFormat(".", None, compact=True)


def parse(fmt: NumberFormat, values: list[str | None], kind: str = "decimal") -> list:
    """Each value -> its Decimal (or int), or "bad" when the format refuses it."""
    out, bad = fmt.parse(pa.array(values, pa.string()), kind)
    return ["bad" if b else (None if v is None else v if kind == "int" else Decimal(v).normalize())
            for v, b in zip(out.to_pylist(), bad, strict=True)]  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "text", "value"),
    [
        (US_MONEY, "$1,234.56", Decimal("1234.56")),
        (US_MONEY, "$ 1,234.56", Decimal("1234.56")),
        (US_MONEY, "1,234.56 USD", Decimal("1234.56")),
        (US_MONEY, "USD 1,234,567.5", Decimal("1234567.5")),
        (US_MONEY, "US$7", Decimal(7)),
        (US_MONEY, "(12.50)", Decimal("-12.5")),
        (US_MONEY, "($12.50)", Decimal("-12.5")),
        (US_MONEY, "-$3.00", Decimal(-3)),
        (US_MONEY, "$-3.00", Decimal(-3)),
        (US_MONEY, "\u22122.5", Decimal("-2.5")),
        (US_MONEY, "1234.5", Decimal("1234.5")),
        (US_MONEY, "0", Decimal(0)),
        (EU_MONEY, "€1.234,56", Decimal("1234.56")),
        (EU_MONEY, "1.234,56 €", Decimal("1234.56")),
        (EU_MONEY, "12,5", Decimal("12.5")),
        (COMPACT, "1.2K", Decimal(1200)),
        (COMPACT, "7k", Decimal(7000)),
        (COMPACT, "3.4M", Decimal(3400000)),
        (COMPACT, "2B", Decimal(2000000000)),
        (COMPACT, "815", Decimal(815)),
    ],
)
def test_it_reads_each_form_its_format_names(fmt, text, value):
    assert parse(fmt, [text]) == [value]


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        (US_MONEY, "€1.234,56"),  # a decimal comma under a decimal point: refused, never 1.23456
        (US_MONEY, "1.234,56"),
        (US_MONEY, "1,2,3"),  # thousands groups of three digits only
        (US_MONEY, "12,34"),
        (US_MONEY, "(-1)"),  # a sign inside parentheses
        (US_MONEY, "((1)"),
        (US_MONEY, "(1"),
        (US_MONEY, "$5€"),  # two currency marks
        (US_MONEY, "--5"),
        (US_MONEY, "1.2K"),  # compact is not money
        (US_MONEY, "abc"),
        (EU_MONEY, "$1,234.56"),  # a decimal point under a decimal comma
        (EU_MONEY, "12.50"),
        (COMPACT, "$1.2K"),  # money is not compact
        (COMPACT, "1.2KK"),
        (COMPACT, "1.2 K"),
        (COMPACT, "1,200"),  # the mapping names no thousands separator
        (COMPACT, "(12)"),
    ],
)
def test_it_refuses_forms_its_format_does_not_name(fmt, text):
    assert parse(fmt, [text]) == ["bad"]


def test_a_plain_column_still_refuses_money_and_suffixes():
    plain = NumberFormat(".", None)
    assert parse(plain, ["$1.50", "(1.50)", "1.2K", "1.50", None]) == ["bad", "bad", "bad", Decimal("1.5"), None]


def test_a_thousands_separator_must_group_by_three():
    # before, the separator was only removed: "1.5" under thousands "." became 15
    eu = NumberFormat(",", ".")
    assert parse(eu, ["1.234.567,89", "1234,5", "1.5", "1.23.456"]) == [
        Decimal("1234567.89"),
        Decimal("1234.5"),
        "bad",
        "bad",
    ]


def test_compact_integers_must_come_out_whole():
    assert parse(COMPACT, ["1.2K", "1.2345K", "3M"], kind="int") == [1200, "bad", 3_000_000]


COLUMNS = {
    "impressions": {"source": "impressions", "format": "compact"},
    "clicks": {"source": "clicks"},
    "spend": {"source": "cost", "format": "money"},
    "attributed_sales": {"source": "sales14d", "format": ["money", "compact"]},
    "attributed_units": {"source": "units14d"},
    "currency": {"source": "currency"},
}
HEADER = "date,campaignId,asin,impressions,clicks,cost,sales14d,units14d,currency"


def test_a_console_file_loads_with_totals_equal_to_the_truth(tmp_path):
    rows = [
        # written as a console writes them; the truth beside each row, computed by hand
        ('2025-03-10,C1,B000000001,1.2K,40,"$1,234.56",$2.5K,12,USD', 1200, Decimal("1234.56"), Decimal(2500)),
        ("2025-03-10,C2,B000000002,815,9,($12.50),$0.00,0,USD", 815, Decimal("-12.50"), Decimal(0)),
        ('2025-03-10,C3,B000000003,3.4M,100,"1,000.00 USD",USD 99.99,3,USD', 3400000, Decimal(1000), Decimal("99.99")),
    ]
    path = write(tmp_path, "console.csv", HEADER + "\n" + "\n".join(r[0] for r in rows) + "\n")
    spec = make_spec(columns=COLUMNS, source={"thousands": ","})
    facts, report = harmonize_table(spec, Lookups("USD", resolve_skus=False), path)
    # a negative spend is quarantined (metrics are never negative); the other two rows load
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (3, 2, 1)
    assert report.quarantine_reasons == {"spend:negative": 1}
    loaded = [r for r in rows if r[2] >= 0]
    assert sum(facts["impressions"].to_pylist()) == sum(r[1] for r in loaded)
    assert sum(facts["spend"].to_pylist()) == sum(r[2] for r in loaded)
    assert sum(facts["attributed_sales"].to_pylist()) == sum(r[3] for r in loaded)


def test_money_marked_in_another_currency_than_the_row_is_quarantined(tmp_path):
    text = (
        HEADER
        + "\n"
        + "\n".join(
            [
                "2025-03-10,C1,B000000001,100,4,$10.00,$20.00,1,USD",
                "2025-03-10,C2,B000000002,100,4,€10.00,$20.00,1,USD",  # the euro amount in a dollar row
                "2025-03-10,C3,B000000003,100,4,EUR 10.00,EUR 20.00,1,USD",
            ]
        )
    )
    spec = make_spec(columns=COLUMNS, source={"thousands": ","})
    facts, report = harmonize_table(spec, Lookups("USD", resolve_skus=False), write(tmp_path, "a.csv", text + "\n"))
    assert report.rows_loaded == 1 and facts["campaign_id"].to_pylist() == ["C1"]
    assert report.quarantine_reasons == {"spend:currency_mark": 2}


def test_an_expression_reads_its_columns_in_the_columns_format(tmp_path):
    header = HEADER.replace("sales14d", "direct,related")
    text = header + '\n2025-03-10,C1,B000000001,100,4,$10.00,"$1,000.50",$0.25,1,USD\n'
    spec = make_spec(
        columns={
            **COLUMNS,
            "attributed_sales": {"expr": "coalesce(direct, 0) + coalesce(related, 0)", "format": "money"},
        },
        source={"thousands": ","},
    )
    facts, report = harmonize_table(spec, Lookups("USD", resolve_skus=False), write(tmp_path, "a.csv", text))
    assert report.rows_loaded == 1
    assert facts["attributed_sales"].to_pylist() == [Decimal("1000.75")]


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ({"source": "cost", "format": "dollars"}, r"columns.spend.format: 'dollars' is not one of money, compact"),
        ({"source": "cost", "format": ["money", "euros"]}, r"columns.spend.format: 'euros' is not one of"),
    ],
)
def test_an_unknown_number_format_is_a_mapping_error(column, message):
    with pytest.raises(MappingError, match=message):
        make_spec(columns={"spend": column})


def test_a_number_format_on_a_text_field_is_a_mapping_error():
    with pytest.raises(MappingError, match=r"columns.campaign_name.format: a number format needs a number type"):
        make_spec(columns={"campaign_name": {"source": "name", "format": "money"}})


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"format": []}, r"source.format: name at least one format"),
        ({"format": ["json", "xml"]}, r"source.format\[1\]: 'xml' is not one of"),
        ({"format": ["csv", "tsv"]}, r"source.format: a list may hold json, jsonl and one of csv or tsv"),
        ({"format": ["json", "parquet"]}, r"source.format: a list may hold"),
        ({"format": ["json", "json"]}, r"source.format: names a format twice"),
        ({"format": ["csv", "jsonl"], "records_path": "data"}, r"source.records_path: only for json"),
    ],
)
def test_a_bad_list_of_formats_is_a_mapping_error(source, message):
    with pytest.raises(MappingError, match=message):
        make_spec(source=source)


def test_a_list_of_formats_reads_each_by_its_content(tmp_path):
    import gzip
    import json

    spec = make_spec(source={"format": ["json", "csv"]})
    rows = [{"date": "2025-03-10", "campaignId": "C1", "asin": "B000000001", "impressions": 10, "clicks": 1,
             "cost": 1.25, "sales14d": 3.5, "units14d": 1}]  # fmt: skip
    as_json = tmp_path / "report"
    as_json.write_bytes(gzip.compress(json.dumps(rows).encode()))
    as_csv = write(tmp_path, "report.csv", "date,campaignId,asin,impressions,clicks,cost,sales14d,units14d\n"
                   "2025-03-10,C1,B000000001,10,1,1.25,3.50,1\n")  # fmt: skip
    for path in (as_json, as_csv):
        facts, report = harmonize_table(spec, Lookups("USD", resolve_skus=False), path)
        assert report.passed and facts["spend"].to_pylist() == [Decimal("1.25")]

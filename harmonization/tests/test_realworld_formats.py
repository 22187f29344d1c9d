"""Issue 16 points 3, 5, 6 and 8 against part D's independent files (harmonization/tests/realworld/: written from the
public layouts without reading this code, with truth computed from its own records).

The console and line-item cases also need the row grain and blank metric cells read as zero (points 1 and 4).
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.core.management import call_command

from harmonization.engine import Harmonizer, Lookups, MemorySink, load_mapping, load_mapping_file
from harmonization.engine.numbers import NumberFormat
from harmonization.tests.realworld.generate import write_case

MAPPINGS = Path(__file__).resolve().parents[2] / "config" / "mappings"


def case(name: str, folder: Path) -> tuple[Path, dict]:
    truth = write_case(name, folder)
    return folder / truth["files"][0], truth


def money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def loaded_totals(facts: pa.Table) -> dict:
    return {
        "rows": sum(facts["source_rows"].to_pylist()),
        "impressions": sum(facts["impressions"].to_pylist()),
        "clicks": sum(facts["clicks"].to_pylist()),
        "spend": sum(facts["original_spend"].to_pylist(), Decimal(0)).quantize(Decimal("0.01")),
        "attributed_sales": sum(facts["original_attributed_sales"].to_pylist(), Decimal(0)).quantize(Decimal("0.01")),
        "attributed_units": sum(facts["attributed_units"].to_pylist()),
    }


def truth_totals(truth: dict) -> dict:
    t = truth["totals"]
    return {**t, "spend": money(t["spend"]), "attributed_sales": money(t["attributed_sales"])}


def run_shipped(mapping: str, path: Path, lookups: Lookups | None = None):
    sink = MemorySink()
    spec = load_mapping_file(MAPPINGS / f"{mapping}.yaml")
    report = Harmonizer(spec, lookups or Lookups("USD", resolve_skus=False)).run(path, sink)
    return sink, report


# --- point 3: Amazon v3 GZIP_JSON ----------------------------------------------------------------------------------


def test_an_empty_v3_report_loads_as_zero_rows(tmp_path):
    path, truth = case("amazon_sp_v3_empty", tmp_path)
    sink, report = run_shipped("amazon_sp_advertised_product", path)
    assert report.passed and report.rows_read == 0 == truth["totals"]["rows"]
    assert sink.calls == ["commit"]


def test_the_v3_gzip_json_as_delivered_loads_to_the_truth(tmp_path):
    path, truth = case("amazon_sp_v3_gzip_json", tmp_path)
    sink, report = run_shipped("amazon_sp_advertised_product", path)
    assert report.passed, report.failures
    assert report.unmapped_columns == []  # every documented v3 column is mapped or ignored by name
    assert loaded_totals(sink.result()) == truth_totals(truth)


def test_the_amazon_console_download_loads_to_the_truth(tmp_path):
    path, truth = case("amazon_sp_console_csv", tmp_path)
    sink, report = run_shipped("amazon_sp_console_advertised_product", path)
    assert report.passed, report.failures
    assert report.unmapped_columns == []
    assert loaded_totals(sink.result()) == truth_totals(truth)


# --- point 6: a non-USD file without a tenant ---------------------------------------------------------------------


def test_a_gbp_v3_report_keeps_pounds_without_rates(tmp_path):
    path, truth = case("amazon_sp_v3_gbp", tmp_path)
    sink, report = run_shipped("amazon_sp_advertised_product", path, Lookups("USD", resolve_skus=False,
                                                                               keep_currency=True))  # fmt: skip
    facts = sink.result()
    assert report.passed and set(facts["currency"].to_pylist()) == {"GBP"} == {truth["currency"]}
    assert loaded_totals(facts) == truth_totals(truth)


EUR_MAPPING = """\
version: 1
name: eu_console_money
retailer: criteo
source: {format: csv, delimiter: ";", decimal: ",", thousands: "."}
date: {column: Day, format: "%d.%m.%Y"}
columns:
  campaign_id: {expr: 'concat(Campaign, " | ", col("Line item"))'}  # a line item per campaign row
  placement_type: {constant: sponsored_product}
  gtin: {source: Product ID}
  impressions: {source: Impressions}
  clicks: {source: Clicks}
  spend: {source: Spend, format: money}
  attributed_sales: {source: Attributed sales, format: money}
  attributed_units: {source: Attributed units}
  currency: {constant: EUR}
attribution: {window_days: 14, model: last_click}
sku: {match: gtin}
ignore: [Product name, ROAS]
quality: {max_quarantine_rate: 0.0, max_duplicate_key_rate: 0.0}
"""


def test_euro_console_money_loads_to_the_truth(tmp_path):
    path, truth = case("eur_retailer_money", tmp_path)
    sink = MemorySink()
    report = Harmonizer(load_mapping(EUR_MAPPING), Lookups("EUR", resolve_skus=False)).run(path, sink)
    assert report.passed, report.failures
    assert report.unmapped_columns == []
    assert loaded_totals(sink.result()) == truth_totals(truth)


def test_euro_money_read_as_dollars_is_refused_not_misread(tmp_path):
    path, _ = case("eur_retailer_money", tmp_path)
    # the same file under a mapping that says "decimal point, thousands comma, dollars"
    wrong = EUR_MAPPING.replace('decimal: ",", thousands: "."', 'decimal: ".", thousands: ","')
    wrong = wrong.replace("max_quarantine_rate: 0.0", "max_quarantine_rate: 1.0")
    sink = MemorySink()
    report = Harmonizer(load_mapping(wrong), Lookups("EUR", resolve_skus=False)).run(path, sink)
    # "€36,82" is not a number under a decimal point, nor "1.719" impressions a whole number: no row loads with a
    # misread amount or count
    assert report.rows_loaded == 0 and not report.passed
    assert set(report.quarantine_reasons) <= {"impressions:not_an_integer", "spend:not_a_number"}


def test_the_command_keeps_euros_without_rates_and_says_so(tmp_path, db):
    path, truth = case("eur_retailer_money", tmp_path / "in")
    mapping = tmp_path / "eu_console_money.yaml"
    mapping.write_text(EUR_MAPPING)
    out = tmp_path / "out.parquet"
    stdout = io.StringIO()
    call_command("harmonize", "--retailer-mapping", str(mapping), "--input", str(path), "--output", str(out),
                 "--no-progress", stdout=stdout)  # fmt: skip
    report = json.loads(stdout.getvalue())
    assert report["currency"]["converted"] is False
    facts = pq.read_table(out)
    assert set(facts["currency"].to_pylist()) == {"EUR"}
    assert loaded_totals(facts) == truth_totals(truth)


# --- point 5: accounting negatives and K suffixes -------------------------------------------------------------------


def test_accounting_negatives_and_suffixes_read_to_the_truth(tmp_path):
    import csv

    path, truth = case("accounting_negatives_and_suffix", tmp_path)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    columns = {name: pa.array([r[name] for r in rows], pa.string()) for name in rows[0]}
    compact, accounting = NumberFormat(".", None, compact=True), NumberFormat(".", None, money=True)
    found = {}
    for field, column, fmt, kind in [
        ("impressions", "Impressions", compact, "int"),
        ("spend", "Spend", accounting, "decimal"),
        ("attributed_sales", "Attributed Sales (14d)", accounting, "decimal"),
        ("attributed_units", "Units (14d)", accounting, "int"),
    ]:
        values, bad = fmt.parse(columns[column], kind)
        assert not bad.any(), (column, [r[column] for r, b in zip(rows, bad, strict=True) if b])
        found[field] = sum(values.to_pylist())
    want = truth_totals(truth)
    assert found["impressions"] == want["impressions"]
    assert found["attributed_units"] == want["attributed_units"]
    assert Decimal(found["spend"]).quantize(Decimal("0.01")) == want["spend"]
    assert Decimal(found["attributed_sales"]).quantize(Decimal("0.01")) == want["attributed_sales"]


# --- point 8: Walmart console item report ----------------------------------------------------------------------------


def test_the_walmart_console_item_download_loads_to_the_truth(tmp_path):
    path, truth = case("walmart_console_item", tmp_path)
    sink, report = run_shipped("walmart_console_item", path)
    assert report.passed, report.failures
    assert report.unmapped_columns == []
    assert loaded_totals(sink.result()) == truth_totals(truth)


def test_a_console_total_line_is_quarantined_not_added(tmp_path):
    path, truth = case("console_total_row", tmp_path)
    sink, report = run_shipped("walmart_console_item", path)
    assert report.passed, report.failures
    lines = sink.quarantine_table()["line"].to_pylist()
    assert lines == truth["bad_lines"]
    assert loaded_totals(sink.result()) == truth_totals(truth)


def test_a_criteo_line_item_report_loads_to_the_truth(tmp_path):
    path, truth = case("criteo_line_items", tmp_path)
    sink, report = run_shipped("criteo_retail_media_line_item", path, Lookups("EUR", resolve_skus=False))
    assert report.passed, report.failures
    assert report.unmapped_columns == []
    assert loaded_totals(sink.result()) == truth_totals(truth)

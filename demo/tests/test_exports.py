"""The export generator: same seed, same bytes; its truth equals what the file says, read independently."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from demo.engine.exports import LAYOUTS, CatalogItem, catalog, generate_export
from harmonization.engine import Lookups
from harmonization.tests.test_samples import (
    assert_sums_equal,
    harmonize,
    parquet_sums,
    read_layout,
    sums_by,
)

# Small files that still cross the US (2025-03-09) and, for the EU layout, the Berlin (2025-03-30) clock change.
SMALL = {
    "amazon_sp_advertised_product": {"rows": 500, "skus_per_brand": 2},
    "walmart_sponsored_search_item": {"rows": 500, "skus_per_brand": 2},
    "amazon_sp_console_advertised_product": {"rows": 500, "skus_per_brand": 2},
    "walmart_console_item": {"rows": 500, "skus_per_brand": 2},
    "criteo_retail_media_campaign": {"rows": 400},
    "criteo_retail_media_line_item": {"rows": 400, "skus_per_brand": 2},
    "dsp_line_items_micros": {"rows": 700},
    "eu_retailer_jsonl": {"rows": 300, "skus_per_brand": 1},
    "rmis_native": {"rows": 600, "skus_per_brand": 1},
}
START = dt.date(2025, 3, 4)
DAYS = 30


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write(layout, path, **kwargs):
    options = {"start": START, "days": DAYS, "seed": 3, **SMALL[layout], **kwargs}
    return generate_export(layout, path, **options)


# Shipped mappings whose files the demo generator does not write: their samples and tests come from the independent
# real-layout generator (harmonization/tests/realworld); the sample page lists only layouts with a generator.
WITHOUT_GENERATOR = {"amazon_dsp_line_item_hourly", "walmart_sponsored_search_item_total"}


def test_every_shipped_mapping_has_a_layout():
    from harmonization.tests.test_samples import MAPPINGS

    assert {p.stem for p in MAPPINGS.glob("*.yaml")} == set(LAYOUTS) | WITHOUT_GENERATOR


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_it_writes_the_same_bytes_for_the_same_seed(layout, tmp_path):
    suffix = LAYOUTS[layout].suffix
    a, b, c = (tmp_path / f"{n}{suffix}" for n in "abc")

    _write(layout, a)
    _write(layout, b, chunk_rows=37)  # streaming in other chunk sizes changes nothing
    _write(layout, c, seed=4)

    assert _sha(a) == _sha(b)
    assert _sha(a) != _sha(c)


def test_gzip_output_is_deterministic_and_holds_the_plain_bytes(tmp_path):
    plain, gz1, gz2 = tmp_path / "a.csv", tmp_path / "a.csv.gz", tmp_path / "b.csv.gz"

    truth_plain = _write("walmart_sponsored_search_item", plain)
    truth_gz = _write("walmart_sponsored_search_item", gz1)
    _write("walmart_sponsored_search_item", gz2)

    assert gz1.read_bytes()[:2] == b"\x1f\x8b"
    assert _sha(gz1) == _sha(gz2)
    assert gzip.decompress(gz1.read_bytes()) == plain.read_bytes()
    assert truth_gz.to_dict()["per_currency"] == truth_plain.to_dict()["per_currency"]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_its_truth_equals_the_file_read_independently(layout, tmp_path):
    path = tmp_path / f"export{LAYOUTS[layout].suffix}"

    truth = _write(layout, path)

    rows = read_layout(layout, path)
    assert truth.rows == len(rows) == SMALL[layout]["rows"]
    for currency, want in sums_by(rows, lambda r: r.currency).items():
        got = truth.per_currency[currency]
        assert (got.rows, got.impressions, got.clicks, got.attributed_units) == (
            want.rows,
            want.impressions,
            want.clicks,
            want.units,
        )
        assert (got.spend, got.attributed_sales) == (want.spend, want.sales)  # exact: integers all the way
    by_day = sums_by(rows, lambda r: (r.day, r.currency))
    assert set(truth.per_day) == set(by_day)
    for key, want in by_day.items():
        got = truth.per_day[key]
        assert (got.rows, got.impressions, got.spend, got.attributed_sales) == (
            want.rows,
            want.impressions,
            want.spend,
            want.sales,
        )
    assert truth.bytes_written == path.stat().st_size


def test_clicks_never_exceed_impressions_in_any_row(tmp_path):
    for layout in ("dsp_line_items_micros", "eu_retailer_jsonl"):  # the layouts that split days into slots
        path = tmp_path / f"x{LAYOUTS[layout].suffix}"
        _write(layout, path)
        assert all(r.clicks <= r.impressions for r in read_layout(layout, path))


def test_sub_daily_layouts_put_local_slots_on_their_utc_day(tmp_path):
    path = tmp_path / "dsp.csv"

    truth = _write("dsp_line_items_micros", path, rows=48, start=dt.date(2025, 3, 10), days=1)

    # one local day in PDT (UTC-7): hours 17-23 are the next UTC day
    days = sorted(d for d, _ in truth.per_day)
    assert days == [dt.date(2025, 3, 10), dt.date(2025, 3, 11)]
    late = [line for line in path.read_text().splitlines()[1:] if int(line[11:13]) >= 17]
    assert truth.per_day[dt.date(2025, 3, 11), "USD"].rows == len(late)


@pytest.mark.parametrize(
    "layout", ["amazon_sp_advertised_product", "dsp_line_items_micros", "amazon_sp_console_advertised_product"]
)
def test_the_engine_harmonizes_a_generated_file_to_its_truth(layout, tmp_path):
    path, out = tmp_path / f"export{LAYOUTS[layout].suffix}", tmp_path / "out.parquet"
    truth = _write(layout, path, rows=3000)

    # small engine chunks: facts of one key are spread over several chunks and merged by the sink
    report = harmonize(layout, path, out, Lookups(reporting_currency="USD", resolve_skus=False), chunk_rows=700)

    assert report.passed, report.failures
    got = parquet_sums(out, ("original_currency",))["USD"]
    want = truth.per_currency["USD"]
    # the DSP's micros are rounded to 4 decimals per source row by the engine
    tolerance = Decimal("0.00005") * want.rows if layout == "dsp_line_items_micros" else Decimal("0.0001")
    assert_sums_equal(
        got,
        type(got)(want.rows, want.impressions, want.clicks, want.spend, want.attributed_sales, want.attributed_units),
        money_tolerance=tolerance,
    )


def test_the_catalog_is_deterministic_with_valid_unique_references():
    items = catalog(5, skus_per_brand=10)

    assert items == catalog(5, skus_per_brand=10)
    assert len(items) == 200
    for field in ("sku_code", "asin", "item_id", "gtin"):
        assert len({getattr(i, field) for i in items}) == len(items), field
    for item in items:
        digits = [int(c) for c in item.gtin]
        total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
        assert len(item.gtin) == 13 and (10 - total % 10) % 10 == digits[-1]
        assert item.asin.startswith("B0") and len(item.asin) == 10
        assert 0 < item.unit_cost_cents < item.price_cents


def test_it_refuses_unknown_layouts_and_empty_files(tmp_path):
    with pytest.raises(ValueError, match="Unknown layout 'tiktok'; known: amazon_sp_advertised_product"):
        generate_export("tiktok", tmp_path / "x", rows=10)
    with pytest.raises(ValueError, match="rows must be at least 1, got 0"):
        generate_export("rmis_native", tmp_path / "x", rows=0)


def test_the_command_writes_the_file_and_prints_its_truth(tmp_path):
    out = io.StringIO()
    path = tmp_path / "walmart.csv"

    call_command(
        "generate_exports",
        "--layout=walmart_sponsored_search_item",
        "--rows=40",
        "--skus-per-brand=2",  # 4 brands x 2 SKUs: 8 rows a day
        f"--output={path}",
        "--seed=9",
        "--start=2025-03-10",
        "--days=5",
        stdout=out,
    )

    report = json.loads(out.getvalue())
    rows = read_layout("walmart_sponsored_search_item", path)
    assert report["rows"] == len(rows) == 40
    assert Decimal(report["per_currency"]["USD"]["spend"]) == sum(r.spend for r in rows)
    assert len(report["per_day"]) == 5


def test_the_command_names_a_bad_start_date(tmp_path):
    with pytest.raises(CommandError, match=re.escape("--start: '10.03.2025' is not a date like 2025-03-10")):
        call_command(
            "generate_exports",
            "--layout=rmis_native",
            "--rows=5",
            f"--output={tmp_path / 'x.csv'}",
            "--start=10.03.2025",
        )


def test_a_custom_catalog_prints_its_own_references(tmp_path):
    items = tuple(
        CatalogItem(f"SKU-{i}", "Solo Brand", f"Solo item {i}", 499 + i, 250, f"B0SOLO000{i}", f"12345678{i}", "")
        for i in range(3)
    )
    path = tmp_path / "amazon.csv"

    truth = generate_export("amazon_sp_advertised_product", path, rows=30, start=START, days=DAYS, items=items)

    rows = read_layout("amazon_sp_advertised_product", path)
    assert truth.rows == len(rows) == 30
    assert {r.sku_ref for r in rows} == {i.asin for i in items}
    assert all("Solo Brand" in line for line in path.read_text().splitlines()[1:])


def test_the_command_uses_a_tenants_crosswalk(catalog, retailers, tmp_path):
    from campaigns.models import RetailerItem

    acme = catalog["acme"]
    for i, sku in enumerate(acme["skus"]):
        RetailerItem.objects.create(tenant=sku.tenant, sku=sku, retailer=retailers["amazon"], item_id=f"B0ACME000{i}")
    path = tmp_path / "acme.csv"

    call_command(
        "generate_exports",
        "--layout=amazon_sp_advertised_product",
        "--rows=20",
        f"--output={path}",
        "--tenant=acme",
        stdout=io.StringIO(),
    )

    rows = read_layout("amazon_sp_advertised_product", path)
    assert {r.sku_ref for r in rows} == {"B0ACME0000", "B0ACME0001"}
    with pytest.raises(CommandError, match="--tenant: no tenant with slug 'nobody'"):
        call_command(
            "generate_exports", "--layout=rmis_native", "--rows=5", f"--output={tmp_path / 'x.csv'}", "--tenant=nobody"
        )

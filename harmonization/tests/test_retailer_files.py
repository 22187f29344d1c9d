"""Files as the retailers deliver them (issue 16, points 3, 5 and 8), written here from the public layouts
(docs/mapping_guide.md), read by the shipped mappings, and checked against totals this test computes itself with
json/csv and Decimal (never with the engine's code)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harmonization.engine import Harmonizer, Lookups, MemorySink, SourceError, load_mapping_file

MAPPINGS = Path(__file__).resolve().parents[2] / "config" / "mappings"
CENT = Decimal("0.01")

# Amazon Ads reporting v3, spAdvertisedProduct: every documented column of the report type (retail_reports.md)
V3_DIMENSIONS = ["date", "startDate", "endDate", "campaignName", "campaignId", "campaignStatus",
                 "campaignBudgetAmount", "campaignBudgetType", "campaignBudgetCurrencyCode", "adGroupName", "adGroupId",
                 "adId", "portfolioId", "advertisedAsin", "advertisedSku"]  # fmt: skip
V3_WINDOWED = ["purchases{}d", "purchasesSameSku{}d", "sales{}d", "attributedSalesSameSku{}d", "unitsSoldClicks{}d",
               "unitsSoldSameSku{}d"]  # fmt: skip


def amazon_v3_rows(seed: int, days: int = 3, campaigns: int = 3, asins: int = 4) -> list[dict]:
    """Rows as the v3 API writes them: JSON numbers (money as floats with cents), one row per ad and day."""
    rnd = random.Random(seed)
    rows = []
    for day in range(days):
        for c in range(campaigns):
            for a in range(asins):
                impressions = rnd.randint(0, 5000)
                clicks = rnd.randint(0, max(0, impressions // 20))
                cost = round(clicks * rnd.uniform(0.2, 2.5), 2)
                row = {
                    "date": f"2026-03-{10 + day:02d}", "startDate": "2026-03-10", "endDate": "2026-03-12",
                    "campaignName": f"Campaign {c}", "campaignId": 3000 + c, "campaignStatus": "ENABLED",
                    "campaignBudgetAmount": 50.0, "campaignBudgetType": "DAILY", "campaignBudgetCurrencyCode": "USD",
                    "adGroupName": f"Ad group {c}", "adGroupId": 4000 + c, "adId": 5000 + 10 * c + a,
                    "portfolioId": 77, "advertisedAsin": f"B0{c:02d}{a:06d}", "advertisedSku": f"SKU-{a}",
                    "impressions": impressions, "clicks": clicks, "cost": cost, "spend": cost,
                    "costPerClick": round(cost / clicks, 2) if clicks else 0.0,
                    "clickThroughRate": round(clicks / impressions, 4) if impressions else 0.0,
                }  # fmt: skip
                for window in (1, 7, 14, 30):
                    units = rnd.randint(0, clicks // 3 + 1) if clicks else 0
                    sales = round(units * rnd.uniform(5, 40), 2)
                    for name, value in zip(V3_WINDOWED, [units, units, sales, sales, units, units], strict=True):
                        row[name.format(window)] = value
                row |= {"salesOtherSku7d": 0.0, "unitsSoldOtherSku7d": 0, "acosClicks7d": 0.0, "acosClicks14d": 0.0,
                        "roasClicks7d": 0.0, "roasClicks14d": 0.0}  # fmt: skip
                rows.append(row)
    return rows


def write_gzip_json(path: Path, rows: list[dict]) -> Path:
    """The v3 delivery: format GZIP_JSON, a gzipped JSON array of row objects on one line."""
    path.write_bytes(gzip.compress(json.dumps(rows, separators=(",", ":")).encode()))
    return path


def amazon_truth(raw: bytes) -> dict[str, Decimal | int]:
    rows = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw, parse_float=Decimal)
    return {
        "rows": len(rows),
        "impressions": sum(r["impressions"] for r in rows),
        "clicks": sum(r["clicks"] for r in rows),
        "spend": sum(Decimal(r["cost"]) for r in rows),
        "sales": sum(Decimal(r["sales14d"]) for r in rows),
        "units": sum(r["unitsSoldClicks14d"] for r in rows),
    }


def totals(facts: pa.Table) -> dict[str, Decimal | int]:
    return {
        "rows": sum(facts["source_rows"].to_pylist()),
        "impressions": sum(facts["impressions"].to_pylist()),
        "clicks": sum(facts["clicks"].to_pylist()),
        "spend": sum(facts["original_spend"].to_pylist()),
        "sales": sum(facts["original_attributed_sales"].to_pylist()),
        "units": sum(facts["attributed_units"].to_pylist()),
    }


def run(mapping: str, path: Path) -> tuple[pa.Table, object, MemorySink]:
    sink = MemorySink()
    spec = load_mapping_file(MAPPINGS / f"{mapping}.yaml")
    report = Harmonizer(spec, Lookups("USD", resolve_skus=False)).run(path, sink)
    return sink.result(), report, sink


# --- point 3: Amazon v3 as delivered --------------------------------------------------------------------------


def test_the_amazon_mapping_reads_the_v3_gzip_json_as_delivered(tmp_path):
    path = write_gzip_json(tmp_path / "report-8c1e.json.gz", amazon_v3_rows(seed=3))
    facts, report, _ = run("amazon_sp_advertised_product", path)
    assert report.passed, report.failures
    assert report.rows_quarantined == 0
    assert totals(facts) == amazon_truth(path.read_bytes())
    # every documented v3 column is either mapped or ignored by name
    assert report.unmapped_columns == []


def test_a_gzip_json_without_the_gz_suffix_reads_the_same(tmp_path):
    path = write_gzip_json(tmp_path / "report", amazon_v3_rows(seed=4))
    facts, report, _ = run("amazon_sp_advertised_product", path)
    assert report.passed and totals(facts) == amazon_truth(path.read_bytes())


def test_the_amazon_mapping_reads_the_same_rows_saved_as_csv(tmp_path):
    rows = amazon_v3_rows(seed=5)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "spAdvertisedProduct.csv"
    path.write_text(text.getvalue())
    facts, report, _ = run("amazon_sp_advertised_product", path)
    assert report.passed and totals(facts) == amazon_truth(json.dumps(rows).encode())


@pytest.mark.parametrize(
    ("mapping", "write_file", "message"),
    [
        (
            "walmart_sponsored_search_item",
            lambda p: write_gzip_json(p / "snapshot.csv.gz", amazon_v3_rows(seed=1)),
            "snapshot.csv.gz: this file looks like JSON; the mapping reads CSV",
        ),
        (
            "criteo_retail_media_campaign",
            lambda p: pq.write_table(pa.table({"date": ["2026-03-10"]}), p / "report.json") or p / "report.json",
            "report.json: this file looks like Parquet; the mapping reads JSON",
        ),
        (
            "criteo_retail_media_campaign",
            lambda p: (p / "r.json").write_text("date,campaignId\n2026-03-10,1\n") and p / "r.json",
            "r.json: this file looks like CSV or TSV text; the mapping reads JSON",
        ),
    ],
)
def test_a_file_in_another_format_than_the_mapping_reads_is_one_short_error(tmp_path, mapping, write_file, message):
    path = write_file(tmp_path)
    with pytest.raises(SourceError) as caught:
        run(mapping, path)
    assert str(caught.value) == message
    # nothing was handed to the sink
    sink = MemorySink()
    with pytest.raises(SourceError):
        Harmonizer(load_mapping_file(MAPPINGS / f"{mapping}.yaml"), Lookups("USD", resolve_skus=False)).run(path, sink)
    assert sink.calls == []

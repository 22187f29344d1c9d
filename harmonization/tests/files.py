"""A tiny retailer export and its mapping, written to tmp files by the tests that need them."""

from __future__ import annotations

from pathlib import Path

MAPPING = """\
version: 1
name: tiny_amazon
retailer: amazon
source:
  format: csv
date:
  column: date
  format: "%Y-%m-%d"
columns:
  campaign_id: {source: campaignId}
  campaign_name: {source: campaignName, required: false}
  placement_type: {constant: sponsored_product}
  sku_code: {source: sku}
  impressions: {source: impressions, type: integer}
  clicks: {source: clicks, type: integer}
  spend: {source: cost, type: decimal}
  attributed_sales: {source: sales14d, type: decimal}
  attributed_units: {source: units14d, type: integer}
  currency: {source: currency}
attribution:
  window_days: 14
  model: last_click
  metrics: [attributed_sales, attributed_units]
sku:
  match: sku_code
  unknown: quarantine
quality:
  max_quarantine_rate: {max_quarantine_rate}
"""

# Five rows: three good USD rows (two SKUs, one new campaign), one EUR row, one row whose cost is not a number.
CSV = """\
date,campaignId,campaignName,sku,impressions,clicks,cost,sales14d,units14d,currency
2026-04-01,acme-amazon,Acme Amazon,acme-sku-0,1000,10,12.50,40.00,2,USD
2026-04-01,acme-amazon,Acme Amazon,acme-sku-1,500,5,7.50,15.00,1,USD
2026-04-02,SP-NEW-1,Spring push,acme-sku-1,800,8,20.00,60.00,3,USD
2026-04-02,EU-1,Euro push,acme-sku-0,100,1,10.00,30.00,1,EUR
2026-04-03,acme-amazon,Acme Amazon,acme-sku-0,900,9,abc,10.00,1,USD
"""
# Totals the file should load, computed by hand: USD spend 12.50 + 7.50 + 20.00; EUR 10.00 at 1.10 = 11.00.
LOADED_SPEND_USD = "51.0000"
LOADED_SALES_USD = "148.0000"  # 40 + 15 + 60 + 30 x 1.10
EUR_RATE = "1.10"


def write(tmp_path: Path, *, csv: str = CSV, max_quarantine_rate: float = 0.5) -> tuple[Path, Path]:
    mapping = tmp_path / "tiny_amazon.yaml"
    mapping.write_text(MAPPING.replace("{max_quarantine_rate}", str(max_quarantine_rate)))
    data = tmp_path / "export.csv"
    data.write_text(csv)
    return mapping, data

"""Builds tables in the engine's HARMONIZED_SCHEMA for loader tests, so the sink is tested without the engine."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from harmonization.engine import HARMONIZED_SCHEMA

DEFAULTS = {
    "retailer": "amazon",
    "campaign_name": None,
    "placement_type": "sponsored_product",
    "sku_ref": None,
    "sku_id": None,
    "impressions": 1000,
    "clicks": 10,
    "attributed_units": 2,
    "attribution_window_days": 14,
    "attribution_model": "last_click",
    "currency": "USD",
    "original_currency": "USD",
    "fx_rate": Decimal("1"),
    "source_rows": 1,
}


def row(day: dt.date | str, campaign_id: str, spend: str, sales: str | None = None, **fields) -> dict:
    spend_d = Decimal(spend)
    sales_d = Decimal(sales) if sales is not None else spend_d * 3
    out = {**DEFAULTS, **fields}
    rate = Decimal(out["fx_rate"])
    out.update(
        date=dt.date.fromisoformat(day) if isinstance(day, str) else day,
        campaign_id=campaign_id,
        spend=(spend_d * rate).quantize(Decimal("0.0001")),
        attributed_sales=(sales_d * rate).quantize(Decimal("0.0001")),
        original_spend=spend_d,
        original_attributed_sales=sales_d,
        fx_rate=rate,
    )
    return out


def table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=HARMONIZED_SCHEMA)

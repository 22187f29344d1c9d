"""Builds tables in the engine's HARMONIZED_SCHEMA for loader tests, so the sink is tested without the engine."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

try:
    from harmonization.engine import HARMONIZED_SCHEMA
except ImportError:  # TODO(django helper): remove once the engine has landed
    _money = pa.decimal128(18, 4)
    HARMONIZED_SCHEMA = pa.schema(
        [
            ("date", pa.date32()),
            ("retailer", pa.string()),
            ("campaign_id", pa.string()),
            ("campaign_name", pa.string()),
            ("placement_type", pa.string()),
            ("sku_ref", pa.string()),
            ("sku_id", pa.int64()),
            ("impressions", pa.int64()),
            ("clicks", pa.int64()),
            ("spend", _money),
            ("attributed_sales", _money),
            ("attributed_units", pa.int64()),
            ("attribution_window_days", pa.int16()),
            ("attribution_model", pa.string()),
            ("currency", pa.string()),
            ("original_currency", pa.string()),
            ("original_spend", _money),
            ("original_attributed_sales", _money),
            ("fx_rate", pa.decimal128(20, 10)),
            ("source_rows", pa.int64()),
        ]
    )

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

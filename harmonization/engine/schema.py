"""Arrow schemas and plain value types shared by the engine's modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa

MONEY = pa.decimal128(18, 4)
RATE = pa.decimal128(20, 10)

HARMONIZED_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("retailer", pa.string(), nullable=False),
        pa.field("campaign_id", pa.string(), nullable=False),
        pa.field("campaign_name", pa.string()),
        pa.field("placement_type", pa.string(), nullable=False),
        pa.field("sku_ref", pa.string()),
        pa.field("sku_id", pa.int64()),
        pa.field("impressions", pa.int64(), nullable=False),
        pa.field("clicks", pa.int64(), nullable=False),
        pa.field("spend", MONEY, nullable=False),
        pa.field("attributed_sales", MONEY, nullable=False),
        pa.field("attributed_units", pa.int64(), nullable=False),
        pa.field("attribution_window_days", pa.int16(), nullable=False),
        pa.field("attribution_model", pa.string(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("original_currency", pa.string(), nullable=False),
        pa.field("original_spend", MONEY, nullable=False),
        pa.field("original_attributed_sales", MONEY, nullable=False),
        pa.field("fx_rate", RATE, nullable=False),
        pa.field("source_rows", pa.int64(), nullable=False),
    ]
)

NATURAL_KEY = (
    "retailer",
    "campaign_id",
    "sku_ref",
    "date",
    "placement_type",
    "attribution_window_days",
    "attribution_model",
)
SUMMED = ("impressions", "clicks", "spend", "attributed_sales", "attributed_units", "original_spend",
          "original_attributed_sales", "source_rows")  # fmt: skip

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("line", pa.int64(), nullable=False),
        pa.field("field", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string(), nullable=False),
    ]
)


@dataclass
class Lookups:
    """What a run needs from the database, passed in as plain values."""

    reporting_currency: str
    # (date, currency, rate): 1 currency = rate reporting_currency on that date
    fx_rates: list[tuple[date, str, float]] = field(default_factory=list)
    fx_max_staleness_days: int = 4
    # match kind -> {key: sku_id}; "retailer_item_id" keys are f"{retailer_code}|{item_id}", "gtin" keys are the
    # 14-digit zero-padded GTIN, "sku_code" keys the tenant's sku_code
    sku_index: dict[str, dict[str, int]] = field(default_factory=dict)
    default_retailer: str | None = None
    resolve_skus: bool = True
    # zone of timestamps when the mapping gives no source.timezone (the retailer's zone); UTC when None
    default_timezone: str | None = None
    # no exchange rates at hand (harmonize --output without rates): amounts stay in each row's own currency, which
    # the `currency` column then names (fx_rate 1), instead of being converted into reporting_currency
    keep_currency: bool = False


@dataclass
class Progress:
    bytes_read: int
    bytes_total: int
    rows_read: int
    rows_loaded: int
    rows_quarantined: int

    @property
    def fraction(self) -> float:
        return min(1.0, self.bytes_read / self.bytes_total) if self.bytes_total else 0.0

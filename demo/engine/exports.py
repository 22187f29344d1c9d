"""Synthetic retailer exports, written from the demo simulator in the layouts of ``config/mappings/`` (no Django).

``generate_export(layout, path, rows=N)`` writes N data rows of one layout and returns the truth: totals computed
from the integers that were written, never by reading the file back, so a test or benchmark can check the engine
against them. Rows come from independent *blocks*: one small simulator world (a few brands' campaigns) over the
whole date range per block, so memory stays flat however many rows are asked for, and a seed gives the same bytes.

Amounts are kept as integers (micro-units) from the simulator to the file: cents for the layouts that print two
decimals, raw micros for the DSP export. Sub-daily layouts (DSP hours, the EU retailer's six-hour slots) split
each simulated day over local time slots; their truth is kept per UTC day, which is where a slot's local time
falls once converted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import string
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from demo.engine.simulator import ChannelPlan, SKUSpec, build_world, simulate

DEFAULT_START = dt.date(2025, 1, 6)
DEFAULT_DAYS = 90
MICROS = 1_000_000
CENT = 10_000  # micros in a cent

BRANDS = (
    ("Crunchy Hollow", "CH", "Kettle Chips"),
    ("Morning Mill", "MM", "Granola"),
    ("Fizzwell", "FW", "Sparkling Water"),
    ("Harbor Bay", "HB", "Tuna Fillets"),
    ("Golden Orchard", "GO", "Apple Sauce"),
    ("Prairie Sun", "PS", "Sunflower Seeds"),
    ("Little Sprout", "LS", "Baby Puffs"),
    ("Alpine Crest", "AC", "Spring Water"),
    ("Maple Ridge", "MR", "Pancake Mix"),
    ("Copper Kettle", "CK", "Popcorn"),
    ("Blue Heron", "BH", "Cold Brew Coffee"),
    ("Sunny Acres", "SA", "Peanut Butter"),
    ("River Stone", "RS", "Pasta Sauce"),
    ("Northwind", "NW", "Oat Milk"),
    ("Velvet Leaf", "VL", "Herbal Tea"),
    ("Red Canyon", "RC", "Salsa"),
    ("Oak & Ember", "OE", "BBQ Sauce"),
    ("Silver Birch", "SB", "Dish Soap"),
    ("Cloud Nine", "CN", "Paper Towels"),
    ("Bright Paw", "BP", "Dog Treats"),
)
_VARIANTS = ("Original", "Sea Salt", "Honey", "Lime", "Berry", "Vanilla", "Spicy", "Classic", "Lite", "Family")
_SIZES = ("7 oz", "12 oz", "16 oz", "12 ct", "24 ct", "32 fl oz", "6 pk", "10 ct", "20 oz", "2 lb")
_THEMES = ("Always-on", "Brand defense", "Category conquest", "Seasonal push")
_AUDIENCES = ("In-market", "Lapsed buyers", "Lookalike", "Retargeting")


@dataclass(frozen=True)
class CatalogItem:
    """A SKU of the synthetic catalog with the references each layout prints for it."""

    sku_code: str
    brand: str
    name: str
    price_cents: int
    unit_cost_cents: int
    asin: str  # Amazon
    item_id: str  # Walmart item id
    gtin: str  # EAN-13 (the European retailer prints it)


def _gtin_check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def catalog(seed: int = 0, skus_per_brand: int = 10) -> tuple[CatalogItem, ...]:
    """The deterministic catalog of the exports of ``seed``: len(BRANDS) brands × ``skus_per_brand`` SKUs."""
    if not 1 <= skus_per_brand <= len(_VARIANTS) * len(_SIZES):
        raise ValueError(f"skus_per_brand must be 1..{len(_VARIANTS) * len(_SIZES)}, got {skus_per_brand}.")
    rng = np.random.default_rng([seed, 7])
    alphabet = np.array(list(string.ascii_uppercase + string.digits))
    asins: set[str] = set()
    item_ids: set[str] = set()
    prefixes = rng.choice(np.arange(10_000, 99_999), size=len(BRANDS), replace=False)
    items = []
    for b, (brand, abbrev, noun) in enumerate(BRANDS):
        base_price = int(rng.integers(199, 1299))
        for i in range(skus_per_brand):
            variant, size = _VARIANTS[i % len(_VARIANTS)], _SIZES[(i // len(_VARIANTS) + i) % len(_SIZES)]
            price = base_price + int(rng.integers(0, 400)) // 10 * 10 + 9  # ends in 9: x.x9
            cost = int(price * rng.uniform(0.45, 0.65))
            asin = "B0" + "".join(rng.choice(alphabet, 8))
            item_id = str(int(rng.integers(100_000_000, 999_999_999)))
            while asin in asins or item_id in item_ids:
                asin = "B0" + "".join(rng.choice(alphabet, 8))
                item_id = str(int(rng.integers(100_000_000, 999_999_999)))
            asins.add(asin)
            item_ids.add(item_id)
            body = f"40{prefixes[b]}{i:05d}"
            items.append(
                CatalogItem(
                    sku_code=f"{abbrev}-{variant.upper().replace(' ', '')}-{size.upper().replace(' ', '')}-{i:02d}",
                    brand=brand,
                    name=f"{brand} {variant} {noun}, {size}",
                    price_cents=price,
                    unit_cost_cents=cost,
                    asin=asin,
                    item_id=item_id,
                    gtin=body + _gtin_check_digit(body),
                )
            )
    return tuple(items)


# --- Truth ------------------------------------------------------------------------------------------------------


@dataclass
class Totals:
    rows: int = 0
    impressions: int = 0
    clicks: int = 0
    spend_micros: int = 0
    sales_micros: int = 0
    attributed_units: int = 0

    @property
    def spend(self) -> Decimal:
        return Decimal(self.spend_micros).scaleb(-6)

    @property
    def attributed_sales(self) -> Decimal:
        return Decimal(self.sales_micros).scaleb(-6)

    def to_dict(self) -> dict:
        return {
            "rows": self.rows,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "spend": str(self.spend.normalize()),
            "attributed_sales": str(self.attributed_sales.normalize()),
            "attributed_units": self.attributed_units,
        }


@dataclass
class ExportTruth:
    """What a generated file contains, by original currency and by (UTC day, original currency)."""

    layout: str
    path: str
    seed: int
    rows: int = 0
    bytes_written: int = 0
    per_currency: dict[str, Totals] = field(default_factory=dict)
    per_day: dict[tuple[dt.date, str], Totals] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "layout": self.layout,
            "path": self.path,
            "seed": self.seed,
            "rows": self.rows,
            "bytes": self.bytes_written,
            "per_currency": {cur: t.to_dict() for cur, t in sorted(self.per_currency.items())},
            "per_day": [
                {"date": d.isoformat(), "currency": cur, **t.to_dict()} for (d, cur), t in sorted(self.per_day.items())
            ],
        }


# --- Layouts ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Channel:
    retailer: str
    placement_type: str
    plan_daily_spend: float  # for a block of four brands; scaled to the block's brand count
    label: str
    id_digits: int  # campaign ids are this many random digits followed by a 6-digit sequence


@dataclass(frozen=True)
class _Layout:
    name: str
    suffix: str
    channels: tuple[_Channel, ...]
    brands_per_block: int
    currency: str
    header: Callable[[], str]
    lines: Callable[[dict, _Context, bool], pa.Array]  # chunk of rows -> one string per row, newline included
    footer: str = ""
    timezone: str | None = None  # sub-daily layouts: local time zone of the slots
    slot_minutes: tuple[int, ...] = ()  # local start of each slot of the day (minutes after midnight)
    slot_weights: tuple[float, ...] = ()
    quantum_micros: int = CENT  # the smallest amount the file prints


@dataclass
class _Context:
    layout: _Layout
    dates: pa.Array  # text of each day index, in the layout's date format
    campaign_prefix: list[str]  # per channel
    line_item_prefix: str
    advertiser_id: str
    brands: pa.Array  # brand names (raw)
    brand_json: pa.Array  # json-quoted brand names
    skus: dict[str, pa.Array]  # catalog columns as text, raw and escaped
    slot_text: pa.Array  # text of each slot start ("23:00:00", "00:30")
    external_ids: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))  # see campaign_ids


def _text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values, type=pa.int64()), pa.string())


def _fixed(values: np.ndarray, places: int, *, point: str = ".", thousands: str = "") -> pa.Array:
    """Integers in units of 10**-places as decimal text: 123456, 2 -> "1234.56" (or "1.234,56")."""
    values = np.asarray(values, dtype=np.int64)
    if (values < 0).any():
        raise ValueError("negative amount in an export")  # the simulator never makes one; guard the formatting
    scale = 10**places
    whole = _grouped(values // scale, thousands)
    if places == 0:
        return whole
    frac = pc.utf8_lpad(_text(values % scale), width=places, padding="0")
    return pc.binary_join_element_wise(whole, frac, point)


def _grouped(values: np.ndarray, thousands: str) -> pa.Array:
    if not thousands or values.max(initial=0) < 1000:
        return _text(values)
    out = _text(values % 1000)
    rest = values // 1000
    level = 1
    while rest.max(initial=0) > 0:
        padded = pc.utf8_lpad(out, width=3 * level + len(thousands) * (level - 1), padding="0")
        joined = pc.binary_join_element_wise(_text(rest % 1000), padded, thousands)
        out = pc.if_else(pa.array(rest > 0), joined, out)
        rest = rest // 1000
        level += 1
    return out


def _join(*parts, sep: str = "") -> pa.Array:
    return pc.binary_join_element_wise(*parts, sep)


def _line(*parts, sep: str = ",") -> pa.Array:
    """One CSV line per row, newline included."""
    return _join(_join(*parts, sep=sep), "\n")


def _csv_field(text: str, delimiter: str = ",") -> str:
    if any(ch in text for ch in (delimiter, '"', "\n", "\r")):
        return '"' + text.replace('"', '""') + '"'
    return text


def _ids(prefixes: list[str], channel: np.ndarray, index: np.ndarray) -> pa.Array:
    """Campaign ids: the channel's random prefix, then the campaign index scrambled by a bijection of 0..10**6-1
    (ids look random, never collide; indexes past a million add leading digits)."""
    low = pc.utf8_lpad(_text((index % 10**6 * 741_457 + 382_117) % 10**6), width=6, padding="0")
    high = pc.if_else(pa.array(index >= 10**6), _text(index // 10**6), "")
    return _join(pa.array(prefixes).take(pa.array(channel)), high, low)


def _campaign_id(t: dict, ctx: _Context) -> pa.Array:
    """Generated campaign ids, or the existing ids the rows were given (``generate_export(campaign_ids=...)``)."""
    ids = _ids(ctx.campaign_prefix, t["channel"], t["campaign"])
    ext = t["ext"]
    if not (ext >= 0).any():
        return ids
    return pc.if_else(pa.array(ext >= 0), ctx.external_ids.take(pa.array(np.maximum(ext, 0))), ids)


def _campaign_names(t: dict, ctx: _Context, *, json_quoted: bool = False) -> pa.Array:
    labels = [c.label for c in ctx.layout.channels]
    brands = ctx.brand_json if json_quoted else ctx.brands
    parts = [
        brands.take(pa.array(t["brand"])),
        pa.array(labels).take(pa.array(t["channel"])),
        pa.array(_THEMES).take(pa.array(t["campaign"] % len(_THEMES))),
    ]
    if json_quoted:  # the brand text carries its quotes: put the rest inside them
        parts[0] = pc.utf8_slice_codeunits(parts[0], 0, -1)
        return _join(parts[0], " | ", parts[1], " | ", parts[2], '"')
    return _join(*parts, sep=" | ")


def _ratio(num: np.ndarray, den: np.ndarray, places: int) -> pa.Array:
    scaled = np.where(den > 0, np.rint(num * 10.0**places / np.maximum(den, 1)), 0).astype(np.int64)
    return _fixed(scaled, places)


# --- Amazon Ads v3 spAdvertisedProduct (daily, CSV) --------------------------------------------------------------

_AMAZON_COLUMNS = (
    "date,campaignName,campaignId,adGroupName,adGroupId,adId,advertisedAsin,advertisedSku,impressions,clicks,cost,"
    "spend,costPerClick,clickThroughRate,purchases7d,purchases14d,sales7d,sales14d,unitsSoldClicks7d,"
    "unitsSoldClicks14d,attributedSalesSameSku14d,campaignBudgetCurrencyCode"
)


def _amazon_lines(t: dict, ctx: _Context, first: bool) -> pa.Array:
    cents = t["spend"] // CENT
    clicks = t["clicks"]
    cpc = pc.if_else(
        pa.array(clicks > 0), _fixed(np.where(clicks > 0, np.rint(cents / np.maximum(clicks, 1)), 0), 2), ""
    )
    cost = _fixed(cents, 2)
    campaign_id = _campaign_id(t, ctx)
    sku = pa.array(t["sku"])
    return _line(
        ctx.dates.take(pa.array(t["day"])),
        _csv_quote(_campaign_names(t, ctx)),
        campaign_id,
        _csv_quote(_join(ctx.brands.take(pa.array(t["brand"])), " | Ad group 1")),
        _join(campaign_id, "01"),
        _join(ctx.line_item_prefix, pc.utf8_lpad(_text(t["campaign"] * 100 + t["sku_slot"]), width=8, padding="0")),
        ctx.skus["asin"].take(sku),
        ctx.skus["sku_code"].take(sku),
        _text(t["impressions"]),
        _text(clicks),
        cost,
        cost,
        cpc,
        _ratio(clicks, t["impressions"], 4),
        _text(t["orders7"]),
        _text(t["orders"]),
        _fixed(t["sales7"] // CENT, 2),
        _fixed(t["sales"] // CENT, 2),
        _text(t["units7"]),
        _text(t["units"]),
        _fixed(t["same_sku_sales"] // CENT, 2),
        pa.scalar(ctx.layout.currency),
        sep=",",
    )


def _csv_quote(values: pa.Array, delimiter: str = ",") -> pa.Array:
    needs = pc.or_(pc.match_substring(values, delimiter), pc.match_substring(values, '"'))
    if not pc.any(needs).as_py():
        return values
    quoted = _join('"', pc.replace_substring(values, '"', '""'), '"')
    return pc.if_else(needs, quoted, values)


# --- Walmart Connect Sponsored Search adItem (daily, CSV) --------------------------------------------------------

_WALMART_COLUMNS = (
    "date,campaignId,campaignName,adGroupId,adGroupName,itemId,itemName,numAdsShown,numAdsClicks,adSpend,"
    "attributedOrders14days,attributedUnits14days,directAttributedSales14days,relatedAttributedSales14days,"
    "brandAttributedSales14days,advertisedSkuSales14days,ntbOrders14days,ntbUnits14days,ntbRevenue14days"
)


def _walmart_lines(t: dict, ctx: _Context, first: bool) -> pa.Array:
    sku = pa.array(t["sku"])
    campaign_id = _campaign_id(t, ctx)
    return _line(
        ctx.dates.take(pa.array(t["day"])),
        campaign_id,
        _csv_quote(_campaign_names(t, ctx)),
        _join(campaign_id, "1"),
        _csv_quote(_join(ctx.brands.take(pa.array(t["brand"])), " | Ad group 1")),
        ctx.skus["item_id"].take(sku),
        ctx.skus["name_csv"].take(sku),
        _text(t["impressions"]),
        _text(t["clicks"]),
        _fixed(t["spend"] // CENT, 2),
        _text(t["orders"]),
        _text(t["units"]),
        _fixed(t["direct_sales"] // CENT, 2),
        _fixed((t["sales"] - t["direct_sales"]) // CENT, 2),
        _fixed(t["brand_sales"] // CENT, 2),
        _fixed(t["same_sku_sales"] // CENT, 2),
        _text(t["ntb_orders"]),
        _text(t["ntb_units"]),
        _fixed(t["ntb_sales"] // CENT, 2),
        sep=",",
    )


# --- Amazon Ads console, Sponsored Products advertised product report (daily, CSV as a person downloads it) -------

_AMAZON_CONSOLE_COLUMNS = (
    "Date,Portfolio name,Currency,Campaign Name,Ad Group Name,Advertised SKU,Advertised ASIN,Impressions,Clicks,"
    "Click-Thru Rate (CTR),Cost Per Click (CPC),Spend,14 Day Total Sales ,Total Advertising Cost of Sales (ACOS) ,"
    "Total Return on Advertising Spend (ROAS),14 Day Total Orders (#),14 Day Total Units (#),14 Day Conversion Rate,"
    "14 Day Advertised SKU Units (#),14 Day Other SKU Units (#),14 Day Advertised SKU Sales ,14 Day Other SKU Sales "
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _amazon_console_lines(t: dict, ctx: _Context, first: bool) -> pa.Array:
    sku = pa.array(t["sku"])
    cents, sales = t["spend"] // CENT, t["sales"] // CENT
    same_sales = t["same_sku_sales"] // CENT
    # "Mar 10, 2025", in English whatever the locale, as the US console writes it
    days = [dt.date.fromisoformat(d) for d in ctx.dates.to_pylist()]
    console_dates = pa.array([f'"{_MONTHS[d.month - 1]} {d.day:02d}, {d.year}"' for d in days])
    cpc_cents = np.where(t["clicks"] > 0, np.rint(cents / np.maximum(t["clicks"], 1)), 0).astype(np.int64)
    same_units = np.minimum(t["units"], np.rint(t["units"] * 0.8).astype(np.int64))
    # Amazon keeps campaign names unique in an account (the console's only campaign key): the generated names repeat
    # their themes, so the campaign's number is part of the name
    names = _join(_campaign_names(t, ctx), " #", _text(t["campaign"]))
    return _line(
        console_dates.take(pa.array(t["day"])),
        pa.scalar("Not grouped"),
        pa.scalar(ctx.layout.currency),
        _csv_quote(names),
        _csv_quote(_join(ctx.brands.take(pa.array(t["brand"])), " | Ad group 1")),
        ctx.skus["sku_code"].take(sku),
        ctx.skus["asin"].take(sku),
        _csv_quote(_grouped(t["impressions"], ",")),
        _csv_quote(_grouped(t["clicks"], ",")),
        _join(_ratio(t["clicks"] * 100, t["impressions"], 2), "%"),
        _join("$", _fixed(cpc_cents, 2)),
        _dollars(cents),
        _dollars(sales),
        _join(_ratio(cents * 100, sales, 2), "%"),
        _ratio(sales, cents, 2),
        _text(t["orders"]),
        _text(t["units"]),
        _join(_ratio(t["orders"] * 100, t["clicks"], 2), "%"),
        _text(same_units),
        _text(t["units"] - same_units),
        _dollars(same_sales),
        _dollars(sales - same_sales),
        sep=",",
    )


# --- Walmart Connect advertiser console item report (daily, CSV as a person downloads it) ------------------------

_WALMART_CONSOLE_COLUMNS = (
    "Date,Campaign Name,Campaign ID,Ad Group Name,Ad Group ID,Item Name,Item ID,Impressions,Clicks,CTR,Ad Spend,"
    "Avg CPC,Orders (14 Day),Units Sold (14 Day),Total Attributed Sales (14 Day),Advertised SKU Sales (14 Day),"
    "Other SKU Sales (14 Day),RoAS (14 Day)"
)


def _dollars(cents: np.ndarray) -> pa.Array:
    """$1,234.56, quoted where the thousands separator needs it."""
    return _csv_quote(_join("$", _fixed(cents, 2, thousands=",")))


def _walmart_console_lines(t: dict, ctx: _Context, first: bool) -> pa.Array:
    sku = pa.array(t["sku"])
    campaign_id = _campaign_id(t, ctx)
    cents = t["spend"] // CENT
    sales = t["sales"] // CENT
    iso = ctx.dates.take(pa.array(t["day"]))
    us_date = _join(*(pc.utf8_slice_codeunits(iso, a, b) for a, b in ((5, 7), (8, 10), (0, 4))), sep="/")
    cpc_cents = np.where(t["clicks"] > 0, np.rint(cents / np.maximum(t["clicks"], 1)), 0).astype(np.int64)
    return _line(
        us_date,
        _csv_quote(_campaign_names(t, ctx)),
        campaign_id,
        _csv_quote(_join(ctx.brands.take(pa.array(t["brand"])), " | Ad group 1")),
        _join(campaign_id, "1"),
        ctx.skus["name_csv"].take(sku),
        ctx.skus["item_id"].take(sku),
        _csv_quote(_grouped(t["impressions"], ",")),
        _text(t["clicks"]),
        _join(_ratio(t["clicks"] * 100, t["impressions"], 2), "%"),
        _dollars(cents),
        _join("$", _fixed(cpc_cents, 2)),
        _text(t["orders"]),
        _text(t["units"]),
        _dollars(sales),
        _dollars(t["same_sku_sales"] // CENT),
        _dollars(sales - t["same_sku_sales"] // CENT),
        _ratio(sales, cents, 2),
        sep=",",
    )


# --- Criteo Retail Media campaign report (daily, JSON {"data": [...]}) ------------------------------------------


def _criteo_lines(t: dict, ctx: _Context, first: bool) -> pa.Array:
    n = len(t["day"])
    sep = np.ones(n, dtype=bool)
    sep[0] = not first
    labels = [c.label for c in ctx.layout.channels]
    objects = _join(
        '{"date": "',
        ctx.dates.take(pa.array(t["day"])),
        '", "campaignId": "',
        _campaign_id(t, ctx),
        '", "campaignName": ',
        _campaign_names(t, ctx, json_quoted=True),
        ', "campaignTypeName": "',
        pa.array(labels).take(pa.array(t["channel"])),
        '", "impressions": ',
        _text(t["impressions"]),
        ', "clicks": ',
        _text(t["clicks"]),
        ', "spend": ',
        _fixed(t["spend"] // CENT, 2),
        ', "attributedSales": ',
        _fixed(t["sales"] // CENT, 2),
        ', "attributedUnits": ',
        _text(t["units"]),
        ', "attributedOrders": ',
        _text(t["orders"]),
        ', "ctr": ',
        _ratio(t["clicks"], t["impressions"], 6),
        ', "roas": ',
        _ratio(t["sales"], t["spend"], 2),
        "}",
    )
    return _join(pc.if_else(pa.array(sep), ",\n", ""), objects)


# --- Criteo Retail Media line-item report (daily, product rows, CSV output) --------------------------------------

_CRITEO_LINE_ITEM_COLUMNS = (
    "date,campaignId,campaignName,lineItemId,lineItemName,retailerName,advProductId,advProductName,impressions,"
    "clicks,spend,attributedSales,attributedUnits,attributedOrders,assistedSales,assistedUnits,ctr,cpc,roas"
)


def _criteo_line_item_lines(t: dict, ctx: _Context, first: bool) -> pa.Array:
    sku = pa.array(t["sku"])
    campaign_id = _campaign_id(t, ctx)
    cents, sales = t["spend"] // CENT, t["sales"] // CENT
    assisted = (sales // 10) * 3  # other ads' assists: reported beside the attributed sales, never part of them
    cpc = pc.if_else(pa.array(t["clicks"] > 0), _ratio(cents, t["clicks"] * 100, 2), "")
    roas = pc.if_else(pa.array(cents > 0), _ratio(sales, cents, 2), "")
    return _line(
        ctx.dates.take(pa.array(t["day"])),
        campaign_id,
        _csv_quote(_campaign_names(t, ctx)),
        _join(campaign_id, "01"),
        _csv_quote(_join(ctx.brands.take(pa.array(t["brand"])), " | Search")),
        pa.scalar("Carrefour FR"),
        ctx.skus["gtin"].take(sku),
        ctx.skus["name_csv"].take(sku),
        _text(t["impressions"]),
        _text(t["clicks"]),
        _fixed(cents, 2),
        _fixed(sales, 2),
        _text(t["units"]),
        _text(t["orders"]),
        _fixed(assisted, 2),
        _text(t["units"] // 4),
        _ratio(t["clicks"], t["impressions"], 4),
        cpc,
        roas,
        sep=",",
    )


# --- A DSP's line-item export (hourly, micros, America/Los_Angeles, CSV) -----------------------------------------

_DSP_COLUMNS = (
    "report_hour,advertiser_id,campaign_id,campaign_name,line_item_id,line_item_name,line_item_type,impressions,"
    "clicks,ctr,cost_micros,conversions_14d,units_sold_14d,sales_micros_14d,currency_code"
)


def _dsp_lines(t: dict, ctx: _Context, first: bool) -> pa.Array:
    labels = [c.label for c in ctx.layout.channels]
    line_item = _join(ctx.line_item_prefix, pc.utf8_lpad(_text(t["campaign"]), width=6, padding="0"))
    pct = _join(_ratio(t["clicks"] * 100, t["impressions"], 2), "%")
    audience = pa.array(_AUDIENCES).take(pa.array(t["campaign"] % len(_AUDIENCES)))
    return _line(
        _join(ctx.dates.take(pa.array(t["day"])), ctx.slot_text.take(pa.array(t["slot"])), sep=" "),
        pa.scalar(ctx.advertiser_id),
        _campaign_id(t, ctx),
        _csv_quote(_campaign_names(t, ctx)),
        line_item,
        _csv_quote(_join(ctx.brands.take(pa.array(t["brand"])), audience, sep=" | ")),
        pa.array(labels).take(pa.array(t["channel"])),
        _text(t["impressions"]),
        _text(t["clicks"]),
        pct,
        _text(t["spend"]),
        _text(t["orders"]),
        _text(t["units"]),
        _text(t["sales"]),
        pa.scalar(ctx.layout.currency),
        sep=",",
    )


# --- A European retailer's JSONL export (German headers, EUR, "1.234,56", Europe/Berlin six-hour slots) -------


def _eu_lines(t: dict, ctx: _Context, first: bool) -> pa.Array:
    sku = pa.array(t["sku"])

    def money(micros: np.ndarray) -> pa.Array:
        return _join('"', _fixed(micros // CENT, 2, point=",", thousands="."), '"')

    def count(values: np.ndarray) -> pa.Array:
        return _join('"', _fixed(values, 0, thousands="."), '"')

    return _join(
        '{"Datum": "',
        _join(ctx.dates.take(pa.array(t["day"])), ctx.slot_text.take(pa.array(t["slot"])), sep=" "),
        '", "Kampagnen-ID": "',
        _campaign_id(t, ctx),
        '", "Kampagnenname": ',
        _campaign_names(t, ctx, json_quoted=True),
        ', "Platzierung": "Sponsored Product", "EAN": "',
        ctx.skus["gtin"].take(sku),
        '", "Artikelname": ',
        ctx.skus["name_json"].take(sku),
        ', "Impressionen": ',
        count(t["impressions"]),
        ', "Klicks": ',
        count(t["clicks"]),
        ', "Kosten": ',
        money(t["spend"]),
        ', "Umsatz (7 Tage)": ',
        money(t["sales7"]),
        ', "Umsatz (14 Tage)": ',
        money(t["sales"]),
        ', "Verkaufte Einheiten (14 Tage)": ',
        count(t["units"]),
        ', "Währung": "',
        pa.scalar(ctx.layout.currency),
        '"}\n',
    )


# --- The native RMIS layout (daily, CSV; the optimizer's H.csv history format) -----------------------------------

_NATIVE_COLUMNS = (
    "date,retailer,placement_type,campaign_id,sku_id,impressions,clicks,spend,attributed_sales,attributed_units,"
    "attribution_window_days,currency"
)


def _native_lines(t: dict, ctx: _Context, first: bool) -> pa.Array:
    channels = ctx.layout.channels
    sku = pa.array(np.where(t["sku"] >= 0, t["sku"], len(ctx.skus["sku_code"])))
    sku_codes = pa.concat_arrays([ctx.skus["sku_code"], pa.array([""])])
    return _line(
        ctx.dates.take(pa.array(t["day"])),
        pa.array([c.retailer for c in channels]).take(pa.array(t["channel"])),
        pa.array([c.placement_type for c in channels]).take(pa.array(t["channel"])),
        _campaign_id(t, ctx),
        sku_codes.take(sku),
        _text(t["impressions"]),
        _text(t["clicks"]),
        _fixed(t["spend"] // CENT, 2),
        _fixed(t["sales"] // CENT, 2),
        _text(t["units"]),
        "14",
        pa.scalar(ctx.layout.currency),
        sep=",",
    )


# Hourly delivery of display and CTV (share of the day's impressions by local hour), evenings heavier.
_HOURLY = (1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 4, 4.5, 5, 5, 4.8, 4.6, 4.8, 5.5, 6.5, 7.5, 8, 7, 5, 2.5)

LAYOUTS: dict[str, _Layout] = {
    layout.name: layout
    for layout in (
        _Layout(
            "amazon_sp_advertised_product",
            ".csv",
            (_Channel("amazon", "sponsored_product", 900.0, "Sponsored Products", 9),),
            brands_per_block=4,
            currency="USD",
            header=lambda: _AMAZON_COLUMNS + "\n",
            lines=_amazon_lines,
        ),
        _Layout(
            "walmart_sponsored_search_item",
            ".csv",
            (_Channel("walmart", "sponsored_product", 600.0, "Sponsored Search", 3),),
            brands_per_block=4,
            currency="USD",
            header=lambda: _WALMART_COLUMNS + "\n",
            lines=_walmart_lines,
        ),
        _Layout(
            "amazon_sp_console_advertised_product",
            ".csv",
            (_Channel("amazon", "sponsored_product", 900.0, "Sponsored Products", 9),),
            brands_per_block=4,
            currency="USD",
            header=lambda: _AMAZON_CONSOLE_COLUMNS + "\n",
            lines=_amazon_console_lines,
        ),
        _Layout(
            "walmart_console_item",
            ".csv",
            (_Channel("walmart", "sponsored_product", 600.0, "Sponsored Search", 3),),
            brands_per_block=4,
            currency="USD",
            header=lambda: _WALMART_CONSOLE_COLUMNS + "\n",
            lines=_walmart_console_lines,
        ),
        _Layout(
            "criteo_retail_media_campaign",
            ".json",
            (
                _Channel("criteo", "onsite_display", 250.0, "Onsite Display", 2),
                _Channel("criteo", "offsite_display", 300.0, "Offsite Display", 2),
            ),
            brands_per_block=4,
            currency="USD",
            header=lambda: '{"data": [\n',
            lines=_criteo_lines,
            footer="\n]}\n",
        ),
        _Layout(
            "criteo_retail_media_line_item",
            ".csv",
            (_Channel("criteo", "sponsored_product", 250.0, "Sponsored Products", 2),),
            brands_per_block=4,
            currency="EUR",
            header=lambda: _CRITEO_LINE_ITEM_COLUMNS + "\n",
            lines=_criteo_line_item_lines,
        ),
        _Layout(
            "dsp_line_items_micros",
            ".csv",
            (
                _Channel("amazon", "offsite_display", 400.0, "Display", 4),
                _Channel("amazon", "ctv", 600.0, "Streaming TV", 4),
            ),
            brands_per_block=1,
            currency="USD",
            header=lambda: _DSP_COLUMNS + "\n",
            lines=_dsp_lines,
            timezone="America/Los_Angeles",
            slot_minutes=tuple(60 * h for h in range(24)),
            slot_weights=_HOURLY,
            quantum_micros=1,
        ),
        _Layout(
            "eu_retailer_jsonl",
            ".jsonl",
            (_Channel("eu_retailer", "sponsored_product", 6000.0, "Sponsored Product", 1),),
            brands_per_block=2,
            currency="EUR",
            header=lambda: "",
            lines=_eu_lines,
            timezone="Europe/Berlin",
            slot_minutes=(30, 390, 750, 1110),  # 00:30, 06:30, 12:30, 18:30 local
            slot_weights=(0.12, 0.22, 0.30, 0.36),
        ),
        _Layout(
            "rmis_native",
            ".csv",
            (
                _Channel("amazon", "sponsored_product", 900.0, "Sponsored Products", 9),
                _Channel("walmart", "sponsored_product", 600.0, "Sponsored Search", 3),
                _Channel("instacart", "sponsored_product", 350.0, "Featured Product", 1),
                _Channel("criteo", "offsite_display", 300.0, "Offsite Display", 2),
                _Channel("target", "onsite_display", 200.0, "Onsite Display", 2),
            ),
            brands_per_block=2,
            currency="USD",
            header=lambda: _NATIVE_COLUMNS + "\n",
            lines=_native_lines,
        ),
    )
}


# --- Simulation ---------------------------------------------------------------------------------------------------


def _brands(items: tuple[CatalogItem, ...]) -> list[str]:
    return list(dict.fromkeys(item.brand for item in items))


def _block(
    layout: _Layout, items: tuple[CatalogItem, ...], *, block: int, seed: int, start: dt.date, days: int
) -> dict[str, np.ndarray]:
    """Daily rows of one block: every line (campaign × SKU, or campaign) of a small world, ordered by day."""
    brands = _brands(items)
    bpb = min(layout.brands_per_block, len(brands))
    brand_ids = [(block * bpb + j) % len(brands) for j in range(bpb)]
    brand_names = tuple(brands[b] for b in brand_ids)
    index = {item.sku_code: i for i, item in enumerate(items)}
    specs = [
        SKUSpec(item.sku_code, item.brand, item.price_cents / 100, item.unit_cost_cents / 100)
        for item in items
        if item.brand in brand_names
    ]
    plans = [
        ChannelPlan(c.retailer, c.placement_type, c.plan_daily_spend * bpb / 4, brand_names) for c in layout.channels
    ]
    block_seed = seed * 1_000_003 + block
    world = build_world(seed=block_seed, channel_plans=plans, skus=specs, reference_date=start)
    history = simulate(world, start=start, days=days, seed=block_seed)
    n_channels = len(layout.channels)
    lines = history.lines
    cols = {
        "channel": np.array([line.channel for line in lines]),
        "campaign": np.array([block * n_channels * bpb + line.channel * bpb + line.campaign for line in lines]),
        "brand": np.array([brand_ids[line.campaign] for line in lines]),
        "sku": np.array([index[line.sku_code] if line.sku_code else -1 for line in lines]),
    }
    slot_of_sku: dict[int, int] = {}
    cols["sku_slot"] = np.array([slot_of_sku.setdefault(s, len(slot_of_sku)) if s >= 0 else 0 for s in cols["sku"]])
    n_lines = len(lines)
    out = {k: np.tile(v, days) for k, v in cols.items()}
    out["day"] = np.repeat(np.arange(days), n_lines)
    # (lines, days) -> (days, lines) -> rows ordered by day, then line
    out["impressions"] = np.stack([line.impressions for line in lines]).T.ravel().astype(np.int64)
    out["clicks"] = np.stack([line.clicks for line in lines]).T.ravel().astype(np.int64)
    out["spend"] = np.rint(np.stack([line.spend for line in lines]).T.ravel() * 100).astype(np.int64) * CENT
    out["units"] = np.stack([line.attributed_units for line in lines]).T.ravel().astype(np.int64)
    out["sales"] = np.rint(np.stack([line.attributed_sales for line in lines]).T.ravel() * 100).astype(np.int64) * CENT
    prices = np.array([item.price_cents for item in items], dtype=np.int64)
    out["price"] = np.where(out["sku"] >= 0, prices[np.maximum(out["sku"], 0)], 0) * CENT
    out["sales"] = np.where(out["price"] > 0, out["units"] * out["price"], out["sales"])  # exact: units × price
    keep = (out["impressions"] > 0) | (out["spend"] > 0) | (out["units"] > 0)
    return {k: v[keep] for k, v in out.items()}


def _split_share(total: np.ndarray, weights: np.ndarray, quantum: int) -> np.ndarray:
    """Split integer totals (n) over slots in proportion to integer weights (n, k), exactly, in steps of quantum."""
    steps = total // quantum
    wsum = weights.sum(axis=1)
    out = np.where(wsum[:, None] > 0, steps[:, None] * weights // np.maximum(wsum, 1)[:, None], 0)
    fallback = np.argmax(weights, axis=1)
    fallback[wsum == 0] = weights.shape[1] // 2
    out[np.arange(len(total)), fallback] += steps - out.sum(axis=1)
    return out * quantum


def _slot_table(layout: _Layout, start: dt.date, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per (day, slot): the UTC day (offset from the day, -1/0/+1) and whether the local time exists."""
    tz = zoneinfo.ZoneInfo(layout.timezone)
    shift = np.zeros((days, len(layout.slot_minutes)), dtype=np.int64)
    exists = np.ones_like(shift, dtype=bool)
    for d in range(days):
        day = start + dt.timedelta(days=d)
        for k, minutes in enumerate(layout.slot_minutes):
            local = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=tz)  # fold=0: the earlier
            utc = local.astimezone(dt.UTC)
            exists[d, k] = utc.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None)
            shift[d, k] = (utc.date() - day).days
    return shift, exists


def _to_slots(rows: dict, layout: _Layout, exists: np.ndarray, rng: np.random.Generator) -> dict:
    """Spread daily rows over the layout's local time slots; rows with nothing in a slot are left out."""
    n, k = len(rows["day"]), len(layout.slot_minutes)
    weights = np.array(layout.slot_weights, dtype=float)
    pvals = weights / weights.sum()
    impressions = rng.multinomial(rows["impressions"], pvals)
    units = rng.multinomial(rows["units"], pvals)
    clicks = np.zeros_like(impressions)
    left_impr, left_clicks = rows["impressions"].copy(), rows["clicks"].copy()
    for s in range(k):  # which of the day's clicked impressions fall in slot s: hypergeometric, so clicks <= impr
        clicks[:, s] = rng.hypergeometric(impressions[:, s], left_impr - impressions[:, s], left_clicks)
        left_impr -= impressions[:, s]
        left_clicks -= clicks[:, s]
    spend = _split_share(rows["spend"], impressions, layout.quantum_micros)
    priced = rows["price"] > 0
    sales = np.where(priced[:, None], units * rows["price"][:, None], _split_share(rows["sales"], units, CENT))
    metrics = {"impressions": impressions, "clicks": clicks, "spend": spend, "units": units, "sales": sales}
    # A local time that does not exist (the hour skipped when clocks go forward) reports into the next slot.
    missing = np.argwhere(~exists[rows["day"]])
    for r, s in missing:
        for m in metrics.values():
            m[r, min(s + 1, k - 1)] += m[r, s]
            m[r, s] = 0
    out = {name: np.repeat(v, k) for name, v in rows.items() if name not in metrics}
    out["slot"] = np.tile(np.arange(k), n)
    for name, m in metrics.items():
        out[name] = m.ravel()
    keep = (out["impressions"] > 0) | (out["spend"] > 0) | (out["units"] > 0)
    return {name: v[keep] for name, v in out.items()}


def _derive(rows: dict, rng: np.random.Generator) -> None:
    """Columns the layouts print beside the simulated ones: 7-day window, orders, same-SKU and new-to-brand parts."""
    units, sales = rows["units"], rows["sales"]

    def part(of_units: np.ndarray, p: float) -> tuple[np.ndarray, np.ndarray]:
        k = rng.binomial(of_units, p)
        # SKU rows: units × price exactly; campaign rows: the same share of the sales, in cents
        money = np.where(rows["price"] > 0, k * rows["price"], (sales // CENT) * k // np.maximum(units, 1) * CENT)
        return k, money

    rows["units7"], rows["sales7"] = part(units, 0.85)
    orders = units - rng.binomial(np.maximum(units - 1, 0), 0.12)
    rows["orders"] = orders
    rows["orders7"] = np.minimum(orders, rows["units7"])
    direct_units, rows["direct_sales"] = part(units, 0.78)
    same_units = rng.binomial(direct_units, 0.92)
    rows["same_sku_sales"] = np.where(rows["price"] > 0, same_units * rows["price"], rows["direct_sales"])
    related = sales - rows["direct_sales"]
    rows["brand_sales"] = rows["direct_sales"] + (related // CENT) * 6 // 10 * CENT
    rows["ntb_units"], rows["ntb_sales"] = part(units, 0.3)
    rows["ntb_orders"] = np.minimum(rows["ntb_units"], orders)


def _with_campaign_ids(
    part: dict, layout: _Layout, brands: list[str], flat_ids: dict[tuple[str, str, str], list[int]], assigned: dict
) -> dict:
    """Give each simulated campaign of a known (retailer, placement, brand) the next unused existing id (an index
    into ``_Context.external_ids``); drop the rows of campaigns left without one."""
    keep = np.ones(len(part["day"]), dtype=bool)
    for campaign in np.unique(part["campaign"]):
        rows = part["campaign"] == campaign
        first = np.flatnonzero(rows)[0]
        channel = layout.channels[int(part["channel"][first])]
        key = (channel.retailer, channel.placement_type, brands[int(part["brand"][first])])
        if key not in flat_ids:
            continue
        used = assigned.get(key, 0)
        if used < len(flat_ids[key]):
            part["ext"][rows] = flat_ids[key][used]
            assigned[key] = used + 1
        else:
            keep[rows] = False
    return {k: v[keep] for k, v in part.items()}


# --- Writing -----------------------------------------------------------------------------------------------------


def _gzip_writer(raw) -> gzip.GzipFile:
    # mtime 0 and no file name in the header: the same rows give the same bytes
    return gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)


def _bytes_of(lines: pa.Array) -> memoryview:
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]]


def _context(layout: _Layout, items: tuple[CatalogItem, ...], *, seed: int, start: dt.date, days: int) -> _Context:
    rng = np.random.default_rng([seed, 13])

    def digits(n: int) -> str:
        return str(int(rng.integers(1, 10))) + "".join(str(d) for d in rng.integers(0, 10, n - 1)) if n else ""

    day_list = [start + dt.timedelta(days=d) for d in range(days)]
    if layout.name == "eu_retailer_jsonl":
        dates = [d.strftime("%d.%m.%Y") for d in day_list]
        slot_text = [f"{m // 60:02d}:{m % 60:02d}" for m in layout.slot_minutes]
    else:
        dates = [d.isoformat() for d in day_list]
        slot_text = [f"{m // 60:02d}:{m % 60:02d}:00" for m in layout.slot_minutes]
    brand_names = _brands(items)
    return _Context(
        layout=layout,
        dates=pa.array(dates),
        campaign_prefix=[digits(c.id_digits) for c in layout.channels],
        line_item_prefix=digits(6),
        advertiser_id=digits(10),
        brands=pa.array(brand_names),
        brand_json=pa.array([json.dumps(b, ensure_ascii=False) for b in brand_names]),
        skus={
            "sku_code": pa.array([i.sku_code for i in items]),
            "asin": pa.array([i.asin for i in items]),
            "item_id": pa.array([i.item_id for i in items]),
            "gtin": pa.array([i.gtin for i in items]),
            "name_csv": pa.array([_csv_field(i.name) for i in items]),
            "name_json": pa.array([json.dumps(i.name, ensure_ascii=False) for i in items]),
        },
        slot_text=pa.array(slot_text or [""]),
    )


def _add_truth(truth: ExportTruth, rows: dict, utc_day: np.ndarray, start: dt.date, currency: str) -> None:
    metrics = ("impressions", "clicks", "spend", "sales", "units")
    names = ("impressions", "clicks", "spend_micros", "sales_micros", "attributed_units")
    total = truth.per_currency.setdefault(currency, Totals())
    total.rows += len(utc_day)
    for metric, name in zip(metrics, names, strict=True):
        setattr(total, name, getattr(total, name) + int(rows[metric].sum()))
    days, inverse = np.unique(utc_day, return_inverse=True)
    sums = {m: np.zeros(len(days), dtype=np.int64) for m in (*metrics, "rows")}
    for m in metrics:
        np.add.at(sums[m], inverse, rows[m])
    np.add.at(sums["rows"], inverse, 1)
    for i, d in enumerate(days):
        day = truth.per_day.setdefault((start + dt.timedelta(days=int(d)), currency), Totals())
        day.rows += int(sums["rows"][i])
        for metric, name in zip(metrics, names, strict=True):
            setattr(day, name, getattr(day, name) + int(sums[metric][i]))


def generate_export(
    layout: str,
    path: str | Path,
    *,
    rows: int,
    seed: int = 0,
    start: dt.date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    skus_per_brand: int = 10,
    compress: bool | None = None,
    chunk_rows: int = 100_000,
    items: tuple[CatalogItem, ...] | None = None,
    campaign_ids: dict[tuple[str, str, str], list[str]] | None = None,
) -> ExportTruth:
    """Write ``rows`` data rows of ``layout`` to ``path`` (gzip when ``compress`` or, by default, a .gz suffix).

    The same arguments write the same bytes. Rows cover ``days`` days from ``start`` (the local days of the
    layout); a file needs as many blocks as it takes to reach ``rows``, each a new set of campaigns. ``items``
    replaces the synthetic catalog (for example a tenant's SKUs with its ASINs, item ids and GTINs, so the file
    resolves against that tenant's crosswalk).

    ``campaign_ids`` gives existing campaign ids per (retailer, placement type, brand): the simulated campaigns of
    such a key take these ids in order (one id each, so no two campaigns share one), and rows of further campaigns
    of the key are left out, as are all rows of a key mapped to an empty list. Keys not in it keep generated ids.
    The file then ends early when a whole round of blocks adds no row.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown layout {layout!r}; known: {', '.join(LAYOUTS)}.")
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}.")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}.")
    spec = LAYOUTS[layout]
    path = Path(path)
    gz = path.suffix == ".gz" if compress is None else compress
    items = catalog(seed, skus_per_brand) if items is None else tuple(items)
    if not items:
        raise ValueError("the catalog is empty: an export needs at least one SKU")
    ctx = _context(spec, items, seed=seed, start=start, days=days)
    flat_ids = {key: [] for key in campaign_ids or {}}
    if campaign_ids:
        names = [i for ids in campaign_ids.values() for i in ids]
        ctx.external_ids = pa.array(names, pa.string())
        at = 0
        for key, ids in campaign_ids.items():
            flat_ids[key] = list(range(at, at + len(ids)))
            at += len(ids)
    assigned: dict[tuple[str, str, str], int] = {}
    brand_names = _brands(items)
    rounds = -(-len(brand_names) // min(spec.brands_per_block, len(brand_names)))
    empty_blocks = 0
    if spec.timezone:
        shift, exists = _slot_table(spec, start, days)
    truth = ExportTruth(layout=layout, path=str(path), seed=seed)
    pending: list[dict] = []
    pending_rows = 0
    first = True
    with open(path, "wb") as raw, _gzip_writer(raw) if gz else contextlib.nullcontext(raw) as out:

        def flush() -> None:
            nonlocal pending, pending_rows, first
            chunk = {k: np.concatenate([p[k] for p in pending]) for k in pending[0]}
            utc_day = chunk["day"] + shift[chunk["day"], chunk["slot"]] if spec.timezone else chunk["day"]
            _add_truth(truth, chunk, utc_day, start, spec.currency)
            truth.rows += len(chunk["day"])
            truth.bytes_written += out.write(_bytes_of(spec.lines(chunk, ctx, first)))
            first = False
            pending, pending_rows = [], 0

        truth.bytes_written += out.write(spec.header().encode())
        block = 0
        while truth.rows + pending_rows < rows:
            part = _block(spec, items, block=block, seed=seed, start=start, days=days)
            part["ext"] = np.full(len(part["day"]), -1, dtype=np.int64)
            if campaign_ids is not None:
                part = _with_campaign_ids(part, spec, brand_names, flat_ids, assigned)
                empty_blocks = 0 if len(part["day"]) else empty_blocks + 1
                if empty_blocks >= rounds:
                    break
            rng = np.random.default_rng([seed, block, 99])
            if spec.timezone:
                part = _to_slots(part, spec, exists, rng)
            else:
                part["slot"] = np.zeros(len(part["day"]), dtype=np.int64)
            _derive(part, rng)
            take = min(len(part["day"]), rows - truth.rows - pending_rows)
            pending.append({k: v[:take] for k, v in part.items()})
            pending_rows += take
            block += 1
            if pending_rows >= chunk_rows:
                flush()
        if pending_rows:
            flush()
        truth.bytes_written += out.write(spec.footer.encode())
    return truth

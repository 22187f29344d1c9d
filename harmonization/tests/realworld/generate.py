"""Independent generator of retail media report files, with truth computed from the source records.

Written without reading the project's loader, mappings or sample files: layouts follow the networks' published
column names (see README.md). Every case builds its rows as exact integers (money in cents), renders them the way
the network, its console or a tool writes them, and computes the truth from the integers, never from the file.

    python generate.py OUTDIR        # writes OUTDIR/<case>/<files> and OUTDIR/<case>/truth.json
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
_ASIN_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


# ----------------------------------------------------------------------------------------------------------------
# Source records and truth
# ----------------------------------------------------------------------------------------------------------------
def _rec(day, *, product=None, spend=0, impressions=0, clicks=0, sales=None, units=None, utc=None, **extra):
    """One real source row; money in integer cents so that sums are exact."""
    return {"day": day, "product": product, "spend": spend, "impressions": impressions, "clicks": clicks,
            "sales": sales, "units": units, "utc": utc, **extra}


def _money(cents: int) -> float:
    return round(cents / 100, 2)


def _truth(case, *, retailer, layout, files, fmt, currency, recs, window, time_zone=None, products=True,
           metrics=("spend", "impressions", "clicks", "attributed_sales", "attributed_units"),
           bad_lines=(), reason_keywords=(), notes="", expect="load"):
    truth = {"case": case, "retailer": retailer, "layout": layout, "files": list(files), "format": fmt,
             "currency": currency, "expect": expect, "attribution_window_days": window, "time_zone": time_zone,
             "bad_lines": sorted(bad_lines), "reason_keywords": list(reason_keywords), "notes": notes}
    if expect != "load":
        return truth

    def sums(rows):
        out = {}
        if "spend" in metrics:
            out["spend"] = _money(sum(r["spend"] for r in rows))
        if "impressions" in metrics:
            out["impressions"] = sum(r["impressions"] for r in rows)
        if "clicks" in metrics:
            out["clicks"] = sum(r["clicks"] for r in rows)
        if "attributed_sales" in metrics:
            out["attributed_sales"] = _money(sum(r["sales"] for r in rows))
        if "attributed_units" in metrics:
            out["attributed_units"] = sum(r["units"] for r in rows)
        return out

    truth["totals"] = {**sums(recs), "rows": len(recs)}
    by_day = defaultdict(list)
    for r in recs:
        by_day[r["day"].isoformat()].append(r)
    truth["by_day"] = {d: sums(rows) for d, rows in sorted(by_day.items())}
    if products:
        by_product = defaultdict(list)
        for r in recs:
            by_product[r["product"]].append(r)
        keep = [m for m in ("spend", "attributed_sales") if m in metrics]
        truth["by_product"] = {p: {k: v for k, v in sums(rows).items() if k in keep}
                               for p, rows in sorted(by_product.items())}
    if time_zone and any(r["utc"] is not None for r in recs):
        by_hour = defaultdict(list)
        for r in recs:
            by_hour[r["utc"].strftime("%Y-%m-%dT%H:00Z")].append(r)
        keep = ("spend", "impressions", "clicks")
        truth["by_utc_hour"] = {h: {k: v for k, v in sums(rows).items() if k in keep}
                                for h, rows in sorted(by_hour.items())}
    return truth


# ----------------------------------------------------------------------------------------------------------------
# Renderers
# ----------------------------------------------------------------------------------------------------------------
def _csv_line(values, delimiter=",", quote_all=False) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="",
               quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL).writerow(values)
    return buf.getvalue()


def _write_lines(path: Path, lines: list[str], *, newline="\r\n", bom=False, final_newline=True) -> None:
    text = newline.join(lines) + (newline if final_newline else "")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))


def _usd(cents: int, *, blank_zero=False, symbol="$") -> str:
    """Console money: $1,234.56 (negative as -$12.50)."""
    if blank_zero and cents == 0:
        return ""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{symbol}{whole:,}.{frac:02d}"


def _eur(cents: int, *, blank_zero=False) -> str:
    """EU Excel money: €1.234,56."""
    if blank_zero and cents == 0:
        return ""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}€{whole:,}".replace(",", ".") + f",{frac:02d}"


def _plain(cents: int) -> str:
    whole, frac = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{whole}.{frac:02d}"


def _accounting(cents: int) -> str:
    """Accountants' negatives: (12.50)."""
    return f"({_plain(-cents)})" if cents < 0 else _plain(cents)


def _int_grouped(n: int, *, blank_zero=False, sep=",") -> str:
    if blank_zero and n == 0:
        return ""
    return f"{n:,}".replace(",", sep)


def _abbrev(n: int) -> str:
    """Tool style: 850, 1.2K, 15.3K, 12K (n is a multiple of 100 from 1,000 on)."""
    if n < 1000:
        return str(n)
    k = n / 1000
    return f"{k:.0f}K" if n % 1000 == 0 else f"{k:.1f}K"


def _pct(num: int, den: int, *, blank_zero=False) -> str:
    if den == 0 or (blank_zero and num == 0):
        return "" if blank_zero else "0.00%"
    return f"{100 * num / den:.2f}%"


def _ratio(num: float, den: float):
    return None if not den else round(num / den, 4)


# ----------------------------------------------------------------------------------------------------------------
# Ad structures
# ----------------------------------------------------------------------------------------------------------------
def _asin(rng) -> str:
    return "B0" + "".join(rng.choice(_ASIN_CHARS) for _ in range(8))


def _metrics(rng, *, price_cents, big=False, zero_clicks=False):
    impressions = rng.randint(9000, 30000) if big else rng.randint(40, 4000)
    clicks = 0 if zero_clicks else max(1, round(impressions * rng.uniform(0.002, 0.015)))
    if big:
        clicks = max(clicks, 900)
    spend = sum(rng.randint(45, 260) for _ in range(clicks))
    units14 = 0 if clicks == 0 else sum(1 for _ in range(clicks) if rng.random() < 0.11)
    if big:
        units14 = max(units14, 60)
    units7 = sum(1 for _ in range(units14) if rng.random() < 0.8)
    orders14 = max(1, units14 - sum(1 for _ in range(units14) if rng.random() < 0.15)) if units14 else 0
    orders7 = min(orders14, units7)
    return {"impressions": impressions, "clicks": clicks, "spend": spend, "units14": units14, "units7": units7,
            "orders14": orders14, "orders7": orders7, "sales14": units14 * price_cents, "sales7": units7 * price_cents}


def _amazon_sp(seed: int, start=date(2026, 11, 2), days=7):
    """Rows of an spAdvertisedProduct report: one row per ad per day (profile's local day)."""
    rng = random.Random(1000 + seed)
    asins = [_asin(rng) for _ in range(5)]
    while len(set(asins)) < 5:
        asins = [_asin(rng) for _ in range(5)]
    skus = ["GRD-1042-BLK", "GRD-1042-SLV", "KTL-220-RED", "FLT-8PK", "MUG-16OZ-2PK"]
    prices = [4999, 4999, 3499, 1299, 2199]
    c1, c2, c3 = (rng.randint(10**14, 10**15 - 1) for _ in range(3))
    campaigns = [
        (c1, 'SP | Coffee Grinders, "Exact" - Q4', 15000, [
            (rng.randint(10**14, 10**15 - 1), "Burr grinders", [0, 1]),
            (rng.randint(10**14, 10**15 - 1), 'Gift ideas, "holiday"', [0, 2]),   # ASIN 0 in two ad groups
        ]),
        (c2, "Brand Defense - Auto", 5000, [(rng.randint(10**14, 10**15 - 1), "Auto, all products", [3, 4])]),
        (c3, "Filters – Broad (paused)", 2500, [(rng.randint(10**14, 10**15 - 1), "Broad", [3])]),
    ]
    ads = []
    for cid, cname, budget, groups in campaigns:
        for gid, gname, members in groups:
            for i in members:
                ads.append({"campaignId": cid, "campaignName": cname, "budget": budget, "adGroupId": gid,
                            "adGroupName": gname, "adId": rng.randint(10**14, 10**15 - 1), "asin": asins[i],
                            "sku": skus[i], "price": prices[i]})
    recs = []
    for d in range(days):
        day = start + timedelta(days=d)
        for n, ad in enumerate(ads):
            if ad["campaignName"].endswith("(paused)") and d > 2:
                continue  # a paused campaign stops giving rows
            if n == len(ads) - 2 and d == 4:
                continue  # an ad with no impressions that day has no row
            big = (n == 0 and d == 5)  # one large day: money above $1,000
            zero = (n == 3 and d in (1, 3)) or (ad["campaignName"].endswith("(paused)"))
            m = _metrics(rng, price_cents=ad["price"], big=big, zero_clicks=zero)
            recs.append(_rec(day, product=ad["asin"], spend=m["spend"], impressions=m["impressions"],
                             clicks=m["clicks"], sales=m["sales14"], units=m["units14"], ad=ad, m=m))
    return recs


# ----------------------------------------------------------------------------------------------------------------
# Amazon Sponsored Products
# ----------------------------------------------------------------------------------------------------------------
def _amazon_v3_row(r, currency="USD"):
    ad, m = r["ad"], r["m"]
    spend = _money(m["spend"])
    return {
        "date": r["day"].isoformat(),
        "campaignId": ad["campaignId"], "campaignName": ad["campaignName"],
        "campaignStatus": "PAUSED" if ad["campaignName"].endswith("(paused)") else "ENABLED",
        "campaignBudgetAmount": _money(ad["budget"]), "campaignBudgetType": "DAILY_BUDGET",
        "campaignBudgetCurrencyCode": currency,
        "adGroupId": ad["adGroupId"], "adGroupName": ad["adGroupName"], "adId": ad["adId"],
        "advertisedAsin": ad["asin"], "advertisedSku": ad["sku"], "portfolioId": None,
        "impressions": m["impressions"], "clicks": m["clicks"], "cost": spend, "spend": spend,
        "costPerClick": round(spend / m["clicks"], 2) if m["clicks"] else 0.0,
        "clickThroughRate": round(m["clicks"] / m["impressions"], 4) if m["impressions"] else 0.0,
        "purchases7d": m["orders7"], "purchases14d": m["orders14"],
        "sales7d": _money(m["sales7"]), "sales14d": _money(m["sales14"]),
        "unitsSoldClicks7d": m["units7"], "unitsSoldClicks14d": m["units14"],
        "attributedSalesSameSku14d": _money(m["sales14"]), "unitsSoldSameSku14d": m["units14"],
        "acosClicks14d": _ratio(m["spend"], m["sales14"]), "roasClicks14d": _ratio(m["sales14"], m["spend"]),
    }


def _write_gzip_json(path: Path, rows: list) -> None:
    payload = json.dumps(rows, ensure_ascii=False).encode("utf-8")
    with open(path, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz:
        gz.write(payload)


def case_amazon_sp_v3_gzip_json(folder: Path, seed: int):
    recs = _amazon_sp(seed)
    name = "spAdvertisedProduct_2026-11-02_2026-11-08.json.gz"
    _write_gzip_json(folder / name, [_amazon_v3_row(r) for r in recs])
    return _truth("amazon_sp_v3_gzip_json", retailer="amazon", files=[name], fmt="gzip_json", currency="USD",
                  layout="Amazon Ads reporting v3 spAdvertisedProduct, DAILY, GZIP_JSON: one object per ad per day",
                  recs=recs, window=14,
                  notes="spend = cost (cost and spend are both present and equal: count once); attributed = sales14d "
                        "and unitsSoldClicks14d (7d columns and SameSku columns also present: not added). One ASIN "
                        "runs in two ad groups of the first campaign: two rows per day for the same campaign, ASIN "
                        "and date with different adId and adGroupId, not duplicates. Ids are JSON numbers; "
                        "portfolioId is null; acos/roas are null where sales or spend is 0.")


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _console_date(day: date) -> str:
    """'Nov 03, 2026', independent of the machine's locale (strftime's %b is not)."""
    return f"{_MONTHS[day.month - 1]} {day.day:02d}, {day.year}"


_AMAZON_CONSOLE_HEADER = [
    "Date", "Portfolio name", "Currency", "Campaign Name", "Ad Group Name", "Advertised SKU", "Advertised ASIN",
    "Impressions", "Clicks", "Click-Thru Rate (CTR)", "Cost Per Click (CPC)", "Spend", "14 Day Total Sales ",
    "Total Advertising Cost of Sales (ACOS) ", "Total Return on Advertising Spend (ROAS)", "14 Day Total Orders (#)",
    "14 Day Total Units (#)", "14 Day Conversion Rate", "14 Day Advertised SKU Units (#)",
    "14 Day Other SKU Units (#)", "14 Day Advertised SKU Sales ", "14 Day Other SKU Sales ",
]


def case_amazon_sp_console_csv(folder: Path, seed: int):
    recs = _amazon_sp(seed)
    name = "Sponsored_Products_Advertised_product_report.csv"
    lines = [_csv_line(_AMAZON_CONSOLE_HEADER)]
    for r in recs:
        ad, m = r["ad"], r["m"]
        lines.append(_csv_line([
            _console_date(r["day"]), "Not grouped", "USD", ad["campaignName"], ad["adGroupName"], ad["sku"],
            ad["asin"], _int_grouped(m["impressions"], blank_zero=True), _int_grouped(m["clicks"], blank_zero=True),
            _pct(m["clicks"], m["impressions"], blank_zero=True),
            _usd(round(m["spend"] / m["clicks"]) if m["clicks"] else 0, blank_zero=True),
            _usd(m["spend"], blank_zero=True), _usd(m["sales14"], blank_zero=True),
            _pct(m["spend"], m["sales14"], blank_zero=True) if m["sales14"] else "",
            f"{m['sales14'] / m['spend']:.2f}" if m["spend"] and m["sales14"] else "",
            _int_grouped(m["orders14"], blank_zero=True), _int_grouped(m["units14"], blank_zero=True),
            _pct(m["orders14"], m["clicks"], blank_zero=True), _int_grouped(m["units14"], blank_zero=True), "",
            _usd(m["sales14"], blank_zero=True), "",
        ]))
    _write_lines(folder / name, lines)
    return _truth("amazon_sp_console_csv", retailer="amazon", files=[name], fmt="csv", currency="USD",
                  layout="Amazon Ads console download of the Sponsored Products advertised product report (daily), CSV "
                         "with console headers (some with a trailing space), dates like 'Nov 03, 2026'",
                  recs=recs, window=14,
                  notes="Same rows as amazon_sp_v3_gzip_json for the same seed. Zero metrics are blank; money as "
                        "$1,234.56; counts with thousands separators; percentages with %. Attributed = '14 Day Total "
                        "Sales ' and '14 Day Total Units (#)'. No campaign/ad group ids in the console layout: the two "
                        "rows for one ASIN in two ad groups differ only by 'Ad Group Name'. No BOM, CRLF line ends.")


# ----------------------------------------------------------------------------------------------------------------
# Walmart Connect Sponsored Search
# ----------------------------------------------------------------------------------------------------------------
def _walmart_items(seed: int, start=date(2026, 11, 10), days=7):
    rng = random.Random(2000 + seed)
    items = [(rng.randint(10**8, 10**9 - 1), name, price) for name, price in [
        ('Great Value Paper Towels, 12 Double Rolls', 1897),
        ('Ozark Trail 20 oz Tumbler, "Stainless"', 898),
        ("Mainstays 5-Tier Shelf", 3488),
        ("Equate Ibuprofen 200mg, 500 ct", 1178),
    ]]
    c1, c2 = rng.randint(10**6, 10**7 - 1), rng.randint(10**6, 10**7 - 1)
    groups = [
        (c1, "SP_Auto | Household, Q4", rng.randint(10**6, 10**7 - 1), "Auto - all items", [0, 1, 2]),
        (c1, "SP_Auto | Household, Q4", rng.randint(10**6, 10**7 - 1), 'Paper goods "top sellers"', [0]),
        (c2, "SP_Manual - Health", rng.randint(10**6, 10**7 - 1), "Pain relief", [3]),
    ]
    recs = []
    for d in range(days):
        day = start + timedelta(days=d)
        for g, (cid, cname, gid, gname, members) in enumerate(groups):
            for i in members:
                item_id, item_name, price = items[i]
                zero = (g == 2 and d == 2) or (i == 2 and d in (0, 6))
                m = _metrics(rng, price_cents=price, big=(g == 0 and i == 0 and d == 4), zero_clicks=zero)
                units3 = sum(1 for _ in range(m["units14"]) if rng.random() < 0.6)
                units30 = m["units14"] + rng.randint(0, 2) if m["clicks"] else 0
                orders14 = m["orders14"]
                other = rng.randint(0, 1500) if m["units14"] else 0
                w = {"campaignId": cid, "campaignName": cname, "adGroupId": gid, "adGroupName": gname,
                     "itemId": item_id, "itemName": item_name, "units3": units3, "units30": units30,
                     "orders3": min(units3, orders14), "orders14": orders14,
                     "orders30": orders14 + units30 - m["units14"],
                     "advSku14": m["units14"] * price, "other14": other,
                     "sales3": units3 * price, "sales30": units30 * price + other}
                recs.append(_rec(day, product=str(item_id), spend=m["spend"], impressions=m["impressions"],
                                 clicks=m["clicks"], sales=m["units14"] * price + other, units=m["units14"], w=w, m=m))
    return recs


_WALMART_API_HEADER = [
    "date", "campaignId", "campaignName", "adGroupId", "adGroupName", "itemId", "itemName", "numAdsShown",
    "numAdsClicks", "adSpend", "attributedOrders3days", "attributedOrders14days", "attributedOrders30days",
    "attributedUnits3days", "attributedUnits14days", "attributedUnits30days", "attributedSales3days",
    "attributedSales14days", "attributedSales30days", "advertisedSkuSales14days", "otherSkuSales14days",
]


def case_walmart_api_aditem(folder: Path, seed: int):
    recs = _walmart_items(seed)
    name = "adItem_2026-11-10_2026-11-16.csv"
    lines = [_csv_line(_WALMART_API_HEADER, quote_all=True)]
    for r in recs:
        w, m = r["w"], r["m"]
        lines.append(_csv_line([
            r["day"].isoformat(), w["campaignId"], w["campaignName"], w["adGroupId"], w["adGroupName"], w["itemId"],
            w["itemName"], m["impressions"], m["clicks"], _plain(m["spend"]), w["orders3"], w["orders14"],
            w["orders30"], w["units3"], m["units14"], w["units30"], _plain(w["sales3"]), _plain(r["sales"]),
            _plain(w["sales30"]), _plain(w["advSku14"]), _plain(w["other14"]),
        ], quote_all=True))
    _write_lines(folder / name, lines, newline="\n")
    return _truth("walmart_api_aditem", retailer="walmart", files=[name], fmt="csv", currency="USD",
                  layout="Walmart Connect Sponsored Search snapshot report adItem (API column names), daily, every "
                         "field quoted, as the snapshot is after un-gzipping",
                  recs=recs, window=14,
                  notes="spend = adSpend, impressions = numAdsShown, clicks = numAdsClicks, attributed = "
                        "attributedSales14days and attributedUnits14days (3 and 30 day columns present: not added; "
                        "advertisedSkuSales14days + otherSkuSales14days = attributedSales14days: not added either). "
                        "One item runs in two ad groups of one campaign: two rows per day with the same campaignId, "
                        "itemId and date. Dates are the advertiser's day as Walmart reports it.")


_WALMART_CONSOLE_HEADER = [
    "Date", "Campaign Name", "Campaign ID", "Ad Group Name", "Ad Group ID", "Item Name", "Item ID", "Impressions",
    "Clicks", "CTR", "Ad Spend", "Avg CPC", "Orders (14 Day)", "Units Sold (14 Day)", "Total Attributed Sales (14 Day)",
    "Advertised SKU Sales (14 Day)", "Other SKU Sales (14 Day)", "RoAS (14 Day)",
]


def case_walmart_console_item(folder: Path, seed: int):
    recs = _walmart_items(seed)
    name = "Item Performance Report 11-10-2026 to 11-16-2026.csv"
    lines = [_csv_line(_WALMART_CONSOLE_HEADER)]
    for r in recs:
        w, m = r["w"], r["m"]
        lines.append(_csv_line([
            r["day"].strftime("%m/%d/%Y"), w["campaignName"], w["campaignId"], w["adGroupName"], w["adGroupId"],
            w["itemName"], w["itemId"], _int_grouped(m["impressions"], blank_zero=True),
            _int_grouped(m["clicks"], blank_zero=True), _pct(m["clicks"], m["impressions"], blank_zero=True),
            _usd(m["spend"], blank_zero=True),
            _usd(round(m["spend"] / m["clicks"]) if m["clicks"] else 0, blank_zero=True),
            _int_grouped(w["orders14"], blank_zero=True), _int_grouped(m["units14"], blank_zero=True),
            _usd(r["sales"], blank_zero=True), _usd(w["advSku14"], blank_zero=True),
            _usd(w["other14"], blank_zero=True),
            f"{r['sales'] / m['spend']:.2f}" if m["spend"] and r["sales"] else "",
        ]))
    _write_lines(folder / name, lines)
    return _truth("walmart_console_item", retailer="walmart", files=[name], fmt="csv", currency="USD",
                  layout="Walmart Connect advertiser console item report download: human headers, US dates "
                         "MM/DD/YYYY, money as $1,234.56, zeros blank, 14-day attribution chosen at download",
                  recs=recs, window=14,
                  notes="Same rows as walmart_api_aditem for the same seed. Attributed = 'Total Attributed Sales "
                        "(14 Day)' and 'Units Sold (14 Day)' (the Advertised/Other SKU columns are its parts: not "
                        "added). Dates run 11/10..11/16/2026 (month first). One item in two ad groups of a campaign.")


# ----------------------------------------------------------------------------------------------------------------
# Amazon DSP hourly over the DST changes
# ----------------------------------------------------------------------------------------------------------------
_DSP_HEADER = ["date", "hour", "orderId", "orderName", "lineItemId", "lineItemName", "impressions", "clickThroughs",
               "totalCost", "sales14d", "unitsSold14d", "totalSales14d", "totalUnitsSold14d"]


def _local_hours(day0: date, n_days: int):
    """The wall-clock hours of n_days local days in New York, in order, with their UTC instants.

    Walking UTC hours gives each existing local hour exactly once, the repeated autumn hour twice and never the
    missing spring hour."""
    start = datetime(day0.year, day0.month, day0.day, tzinfo=NEW_YORK).astimezone(UTC)
    end_day = day0 + timedelta(days=n_days)
    end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=NEW_YORK).astimezone(UTC)
    out, t = [], start
    while t < end:
        local = t.astimezone(NEW_YORK)
        out.append((local.date(), local.hour, t))
        t += timedelta(hours=1)
    return out


def _dsp_recs(seed: int, day0: date):
    rng = random.Random(3000 + seed + day0.toordinal())
    order_id = rng.randint(10**17, 10**18 - 1)
    order = ("Q4 Holiday | Coffee, Tea & Cocoa" if day0.month > 6 else "Spring Refresh | Cleaning, \"Green\"")
    lines = [(rng.randint(10**17, 10**18 - 1), "Retargeting - PDP viewers, 14d"),
             (rng.randint(10**17, 10**18 - 1), "Lookalike - In-market \"Coffee\"")]
    recs = []
    for day, hour, utc in _local_hours(day0 - timedelta(days=1), 3):
        night = hour < 6
        for li_id, li_name in lines:
            impressions = rng.randint(200, 1500) if night else rng.randint(2000, 12000)
            clicks = sum(1 for _ in range(impressions // 50) if rng.random() < 0.2)
            cost = round(impressions * rng.uniform(4.0, 9.0) / 10)  # a CPM of $4-9, in cents
            units = sum(1 for _ in range(clicks) if rng.random() < 0.08)
            sales = units * rng.choice((1299, 2499, 3999))
            halo_units = units + rng.randint(0, 3)
            halo_sales = sales + (halo_units - units) * 1899
            recs.append(_rec(day, product=None, spend=cost, impressions=impressions, clicks=clicks, sales=sales,
                             units=units, utc=utc, hour=hour, order=(order_id, order), li=(li_id, li_name),
                             halo=(halo_sales, halo_units)))
    return recs


def _dsp_line(r, *, hour=None):
    return _csv_line([
        r["day"].isoformat(), f"{r['hour'] if hour is None else hour:02d}", r["order"][0], r["order"][1], r["li"][0],
        r["li"][1], r["impressions"], r["clicks"], _plain(r["spend"]), _plain(r["sales"]), r["units"],
        _plain(r["halo"][0]), r["halo"][1],
    ])


_DSP_NOTES = ("Hourly DSP line-item report in the advertiser's time zone America/New_York: 'date' is the local day, "
              "'hour' the local wall-clock hour (00..23). spend = totalCost, clicks = clickThroughs, attributed = "
              "sales14d and unitsSold14d (promoted products); totalSales14d/totalUnitsSold14d are brand halo and "
              "must not be used or added. Two line items of one order per hour. ")


def case_amazon_dsp_hourly_autumn_dst(folder: Path, seed: int):
    recs = _dsp_recs(seed, date(2026, 11, 1))
    name = "dsp_line_item_hourly_2026-10-31_2026-11-02.csv"
    _write_lines(folder / name, [_csv_line(_DSP_HEADER)] + [_dsp_line(r) for r in recs], newline="\n")
    return _truth("amazon_dsp_hourly_autumn_dst", retailer="amazon_dsp", files=[name], fmt="csv", currency="USD",
                  layout="Amazon DSP line-item report, hourly, local time America/New_York, over the autumn clock "
                         "change (2026-11-01)",
                  recs=recs, window=14, time_zone="America/New_York", products=False,
                  notes=_DSP_NOTES + "On 2026-11-01 the hour 01 appears twice in file order: first the daylight-time "
                        "hour (05:00Z), then the standard-time hour (06:00Z); that local day has 25 hours.")


def case_amazon_dsp_hourly_spring_dst(folder: Path, seed: int):
    recs = _dsp_recs(seed, date(2026, 3, 8))
    name = "dsp_line_item_hourly_2026-03-07_2026-03-09.csv"
    lines = [_csv_line(_DSP_HEADER)]
    bad = []
    for r in recs:
        lines.append(_dsp_line(r))
        if r["day"] == date(2026, 3, 8) and r["hour"] == 1 and r["li"] == recs[-1]["li"]:
            # A tool filled the missing hour: 02:00 does not exist in New York on 2026-03-08.
            ghost = dict(r, spend=r["spend"] // 2 + 17, impressions=r["impressions"] // 2 + 3)
            lines.append(_dsp_line(ghost, hour=2))
            bad.append(len(lines))
    _write_lines(folder / name, lines, newline="\n")
    return _truth("amazon_dsp_hourly_spring_dst", retailer="amazon_dsp", files=[name], fmt="csv", currency="USD",
                  layout="Amazon DSP line-item report, hourly, local time America/New_York, over the spring clock "
                         "change (2026-03-08), with one row for the non-existent 02:00 hour",
                  recs=recs, window=14, time_zone="America/New_York", products=False, bad_lines=bad,
                  reason_keywords=["exist"],
                  notes=_DSP_NOTES + "On 2026-03-08 the local hour 02 does not exist (01:59 EST is followed by 03:00 "
                        "EDT); a tool wrote one row for it: that line must be rejected and the rest loaded. The "
                        "local day has 23 real hours.")


# ----------------------------------------------------------------------------------------------------------------
# Money and number formats
# ----------------------------------------------------------------------------------------------------------------
def _product_rows(rng, *, start, days, products, zero_every=5, big_first=True):
    recs = []
    for d in range(days):
        day = start + timedelta(days=d)
        for p, (pid, pname, price) in enumerate(products):
            m = _metrics(rng, price_cents=price, big=big_first and p == 0 and d == 2,
                         zero_clicks=(d + p) % zero_every == 4)
            recs.append(_rec(day, product=pid, spend=m["spend"], impressions=m["impressions"], clicks=m["clicks"],
                             sales=m["sales14"], units=m["units14"], name=pname, m=m))
    return recs


def case_eur_retailer_money(folder: Path, seed: int):
    rng = random.Random(4000 + seed)
    products = [("4006381333931", "Kaffeevollautomat EQ.6, Edelstahl", 79900),
                ("3017620422003", "Nuss-Nougat-Creme 750 g", 549),
                ("8710103876301", 'Rasierer "Series 9", inkl. Reiseetui', 18999)]
    recs = _product_rows(rng, start=date(2026, 11, 9), days=7, products=products)
    header = ["Day", "Campaign", "Line item", "Product ID", "Product name", "Impressions", "Clicks", "Spend",
              "Attributed sales", "Attributed units", "ROAS"]
    lines = [_csv_line(header, delimiter=";")]
    for r in recs:
        m = r["m"]
        roas = f"{m['sales14'] / m['spend']:.2f}".replace(".", ",") if m["spend"] and m["sales14"] else ""
        lines.append(_csv_line([
            r["day"].strftime("%d.%m.%Y"), "Black Week; Elektro & Küche", "Sponsored Products – Suche",
            r["product"], r["name"], _int_grouped(m["impressions"], sep="."), m["clicks"], _eur(m["spend"]),
            _eur(m["sales14"]), m["units14"], roas,
        ], delimiter=";"))
    name = "Kampagnenbericht_2026-11-09_2026-11-15.csv"
    _write_lines(folder / name, lines, bom=True)
    return _truth("eur_retailer_money", retailer="criteo", files=[name], fmt="csv", currency="EUR",
                  layout="European retailer console export (Criteo-run retail media console) as saved by EU Excel: "
                         "';' separators, UTF-8 with BOM, dates DD.MM.YYYY, money €1.234,56, counts 12.345",
                  recs=recs, window=14,
                  notes="Currency EUR (stated nowhere in the file but the € sign). Decimal comma, '.' thousands "
                        "separator in money and in impressions (so '12.345' impressions is 12345). The campaign "
                        "name contains ';' and is quoted. Product ids are EANs (keep as text: leading zeros "
                        "possible). Attributed = 14-day click window chosen in the console.")


def case_accounting_negatives_and_suffix(folder: Path, seed: int):
    rng = random.Random(5000 + seed)
    products = [(str(rng.randint(10**8, 10**9 - 1)), "Cascade Platinum Pods, 62 ct", 2197),
                (str(rng.randint(10**8, 10**9 - 1)), "Bounty Select-A-Size, 8 Triple Rolls", 2497)]
    recs = _product_rows(rng, start=date(2026, 11, 16), days=6, products=products)
    for r in recs:  # the tool shows impressions rounded to 100s from 1,000 on: make the truth exactly that
        if r["impressions"] >= 1000:
            r["impressions"] = round(r["impressions"], -2)
    # Credits and adjustments: negative spend (invalid-traffic credit) and a negative sale (a return).
    adjustments = [
        _rec(date(2026, 11, 18), product=products[0][0], spend=-1250, sales=0, units=0,
             name="Credit - invalid traffic"),
        _rec(date(2026, 11, 20), product=products[1][0], spend=-399, sales=-2497, units=-1,
             name="Adjustment - returned order"),
    ]
    recs = recs + adjustments
    recs.sort(key=lambda r: (r["day"], r["product"], r["spend"] < 0))
    header = ["Date", "Item ID", "Item Name", "Impressions", "Clicks", "Spend", "Attributed Sales (14d)",
              "Units (14d)"]
    lines = [_csv_line(header)]
    for r in recs:
        lines.append(_csv_line([r["day"].isoformat(), r["product"], r["name"], _abbrev(r["impressions"]),
                                r["clicks"], _accounting(r["spend"]), _accounting(r["sales"]), r["units"]]))
    name = "walmart_item_performance_export.csv"
    _write_lines(folder / name, lines)
    return _truth("accounting_negatives_and_suffix", retailer="walmart", files=[name], fmt="csv", currency="USD",
                  layout="Third-party tool export of Walmart item performance: accounting negatives '(12.50)' for "
                         "credits/adjustments, impressions abbreviated '1.2K'",
                  recs=recs, window=14,
                  notes="Two adjustment rows (an invalid-traffic credit, a returned order) carry negative spend "
                        "'(12.50)', negative sales and -1 units; they are real rows and count in every sum. "
                        "Impressions from 1,000 on are written '1.2K'/'15K' and the truth is the value they denote "
                        "(1200, 15000); below 1,000 they are plain integers.")


# ----------------------------------------------------------------------------------------------------------------
# Broken files
# ----------------------------------------------------------------------------------------------------------------
_SP_TOOL_HEADER = ["date", "campaignId", "campaignName", "adGroupId", "adGroupName", "adId", "advertisedAsin",
                   "impressions", "clicks", "cost", "sales14d", "unitsSoldClicks14d"]


def _sp_tool_line(r):
    ad, m = r["ad"], r["m"]
    return _csv_line([r["day"].isoformat(), ad["campaignId"], ad["campaignName"], ad["adGroupId"], ad["adGroupName"],
                      ad["adId"], ad["asin"], m["impressions"], m["clicks"], _plain(m["spend"]), _plain(m["sales14"]),
                      m["units14"]])


_SP_TOOL_LAYOUT = "Amazon SP v3 spAdvertisedProduct converted to CSV by a tool (v3 column names, plain numbers)"


def case_true_duplicate_rows(folder: Path, seed: int):
    recs = _amazon_sp(seed, days=3)
    lines, bad = [_csv_line(_SP_TOOL_HEADER)], []
    for i, r in enumerate(recs):
        lines.append(_sp_tool_line(r))
        if i in (3, len(recs) - 2):  # the tool appended these source rows twice, right after themselves
            lines.append(_sp_tool_line(r))
            bad.append(len(lines))
    name = "sp_advertised_product_export.csv"
    _write_lines(folder / name, lines, newline="\n")
    return _truth("true_duplicate_rows", retailer="amazon", files=[name], fmt="csv", currency="USD", expect="refuse",
                  layout=_SP_TOOL_LAYOUT, recs=recs, window=14, bad_lines=bad, reason_keywords=["duplicate"],
                  notes="Two source rows appear twice, identical in every column including adId. bad_lines are the "
                        "second copies. The same ASIN in two ad groups of one campaign (different adId) also "
                        "appears and is not a duplicate.")


def case_truncated_csv(folder: Path, seed: int):
    recs = _amazon_sp(seed, days=3)
    lines = [_csv_line(_SP_TOOL_HEADER)] + [_sp_tool_line(r) for r in recs]
    last = lines[-1]
    cut = last.rfind(",", 0, last.rfind(",", 0, last.rfind(",")))  # in the middle of the row: 3 fields short
    lines[-1] = last[: cut + 3].rstrip(",")
    name = "sp_advertised_product_export_partial.csv"
    _write_lines(folder / name, lines, newline="\n", final_newline=False)
    return _truth("truncated_csv", retailer="amazon", files=[name], fmt="csv", currency="USD", expect="refuse",
                  layout=_SP_TOOL_LAYOUT, recs=recs, window=14, bad_lines=[len(lines)],
                  reason_keywords=["truncated"],
                  notes="An interrupted download: the last line stops in the middle of a row (fewer fields than the "
                        "header, the last one cut mid-value) and there is no final newline. Loading the rest would "
                        "silently lose data, so the file is refused.")


def case_blank_lines_then_bad_row(folder: Path, seed: int):
    recs = _amazon_sp(seed, days=4)
    lines, bad, real = [_csv_line(_SP_TOOL_HEADER)], [], []
    broken_at = len(recs) * 3 // 4
    for i, r in enumerate(recs):
        if i in (len(recs) // 3, len(recs) // 2):
            lines += ["", ""] if i == len(recs) // 3 else [""]
        if i == broken_at:
            lines.append(_sp_tool_line(r).replace(r["day"].isoformat(), "#VALUE!", 1))
            bad.append(len(lines))
            continue
        lines.append(_sp_tool_line(r))
        real.append(r)
    name = "sp_advertised_product_edited.csv"
    _write_lines(folder / name, lines, newline="\r\n")
    return _truth("blank_lines_then_bad_row", retailer="amazon", files=[name], fmt="csv", currency="USD",
                  layout=_SP_TOOL_LAYOUT + ", edited in a spreadsheet: blank lines in the middle, one date cell "
                         "'#VALUE!'",
                  recs=real, window=14, bad_lines=bad, reason_keywords=["date"],
                  notes="Three empty lines (two together, one alone) sit between rows: they are not rows and not "
                        "errors, but they count in physical line numbers. One later row has '#VALUE!' as its date: "
                        "that row is rejected (bad_lines) and the rest loaded; the truth excludes it.")


def case_amazon_sp_v3_gbp(folder: Path, seed: int):
    recs = _amazon_sp(seed + 100, start=date(2026, 11, 16), days=5)
    name = "spAdvertisedProduct_UK_2026-11-16_2026-11-20.json.gz"
    _write_gzip_json(folder / name, [_amazon_v3_row(r, currency="GBP") for r in recs])
    return _truth("amazon_sp_v3_gbp", retailer="amazon", files=[name], fmt="gzip_json", currency="GBP",
                  layout="Amazon Ads reporting v3 spAdvertisedProduct, DAILY, GZIP_JSON, for a UK (amazon.co.uk) "
                         "profile",
                  recs=recs, window=14,
                  notes="Same layout as amazon_sp_v3_gzip_json, but amounts are in the campaign budget currency GBP "
                        "(campaignBudgetCurrencyCode = 'GBP' on every row; nothing else in the file says so). "
                        "Loading it as USD is wrong.")


def case_amazon_sp_v3_empty(folder: Path, seed: int):
    name = "spAdvertisedProduct_2026-12-24_2026-12-24.json.gz"
    _write_gzip_json(folder / name, [])
    return _truth("amazon_sp_v3_empty", retailer="amazon", files=[name], fmt="gzip_json", currency="USD",
                  layout="Amazon Ads reporting v3 spAdvertisedProduct for a day with no activity: a gzipped empty "
                         "JSON array",
                  recs=[], window=14,
                  notes="A completed v3 report with no rows downloads as '[]' (gzipped). It is a valid, empty report: "
                        "load it as zero rows (nothing changes), do not report it as a broken file.")


def case_console_total_row(folder: Path, seed: int):
    recs = _walmart_items(seed + 50, start=date(2026, 11, 23), days=4)
    name = "Item Performance Report 11-23-2026 to 11-26-2026 (with total).csv"
    lines = [_csv_line(_WALMART_CONSOLE_HEADER)]
    for r in recs:
        w, m = r["w"], r["m"]
        lines.append(_csv_line([
            r["day"].strftime("%m/%d/%Y"), w["campaignName"], w["campaignId"], w["adGroupName"], w["adGroupId"],
            w["itemName"], w["itemId"], _int_grouped(m["impressions"], blank_zero=True),
            _int_grouped(m["clicks"], blank_zero=True), _pct(m["clicks"], m["impressions"], blank_zero=True),
            _usd(m["spend"], blank_zero=True),
            _usd(round(m["spend"] / m["clicks"]) if m["clicks"] else 0, blank_zero=True),
            _int_grouped(w["orders14"], blank_zero=True), _int_grouped(m["units14"], blank_zero=True),
            _usd(r["sales"], blank_zero=True), _usd(w["advSku14"], blank_zero=True),
            _usd(w["other14"], blank_zero=True),
            f"{r['sales'] / m['spend']:.2f}" if m["spend"] and r["sales"] else "",
        ]))
    tot = {k: sum(r[k] for r in recs) for k in ("spend", "impressions", "clicks", "sales", "units")}
    lines.append(_csv_line([
        "Total", "", "", "", "", "", "", _int_grouped(tot["impressions"]), _int_grouped(tot["clicks"]),
        _pct(tot["clicks"], tot["impressions"]), _usd(tot["spend"]), _usd(round(tot["spend"] / tot["clicks"])),
        _int_grouped(sum(r["w"]["orders14"] for r in recs)), _int_grouped(tot["units"]), _usd(tot["sales"]),
        _usd(sum(r["w"]["advSku14"] for r in recs)), _usd(sum(r["w"]["other14"] for r in recs)),
        f"{tot['sales'] / tot['spend']:.2f}",
    ]))
    _write_lines(folder / name, lines)
    return _truth("console_total_row", retailer="walmart", files=[name], fmt="csv", currency="USD",
                  layout="Walmart Connect console item report (as walmart_console_item) with a 'Total' summary row at "
                         "the bottom",
                  recs=recs, window=14, bad_lines=[len(lines)], reason_keywords=["date"],
                  notes="The last line sums every column ('Total' in the Date cell, names and ids empty). It is not "
                        "a day of data: reject it (its date is unreadable) and load the rest; adding it would double "
                        "every total.")


# ----------------------------------------------------------------------------------------------------------------
# Criteo
# ----------------------------------------------------------------------------------------------------------------
_CRITEO_HEADER = ["date", "campaignId", "campaignName", "lineItemId", "lineItemName", "retailerName", "advProductId",
                  "advProductName", "impressions", "clicks", "spend", "attributedSales", "attributedUnits",
                  "attributedOrders", "assistedSales", "assistedUnits", "ctr", "cpc", "roas"]


def case_criteo_line_items(folder: Path, seed: int):
    rng = random.Random(6000 + seed)
    products = [("3560071234567", "Café moulu \"Arabica\", 250 g", 429),
                ("3250390000012", "Tablettes lave-vaisselle, 60 pcs", 1299),
                ("3017620425035", "Pâte à tartiner 1 kg", 799)]
    campaign = (rng.randint(10**5, 10**6 - 1), "Brand X - Onsite, Q4")
    lis = [(rng.randint(10**17, 10**18 - 1), "Search - Cafe"), (rng.randint(10**17, 10**18 - 1), "Category - Home")]
    recs = []
    for d in range(5):
        day = date(2026, 11, 23) + timedelta(days=d)
        for li in lis:
            for pid, pname, price in products[: 2 if li == lis[0] else 3]:
                m = _metrics(rng, price_cents=price, zero_clicks=rng.random() < 0.15)
                assisted = m["units14"] // 2
                recs.append(_rec(day, product=pid, spend=m["spend"], impressions=m["impressions"],
                                 clicks=m["clicks"], sales=m["sales14"], units=m["units14"], li=li, pname=pname,
                                 m=m, assisted=(assisted * price, assisted)))
    lines = [_csv_line(_CRITEO_HEADER)]
    for r in recs:
        m = r["m"]
        lines.append(_csv_line([
            r["day"].isoformat(), campaign[0], campaign[1], r["li"][0], r["li"][1], "Carrefour FR", r["product"],
            r["pname"], m["impressions"], m["clicks"], _plain(m["spend"]), _plain(m["sales14"]), m["units14"],
            m["orders14"], _plain(r["assisted"][0]), r["assisted"][1],
            f"{m['clicks'] / m['impressions']:.4f}", f"{m['spend'] / m['clicks'] / 100:.2f}" if m["clicks"] else "",
            f"{m['sales14'] / m['spend']:.2f}" if m["spend"] else "",
        ]))
    name = "criteo_line_item_report.csv"
    _write_lines(folder / name, lines, newline="\n")
    return _truth("criteo_line_items", retailer="criteo", files=[name], fmt="csv", currency="EUR",
                  layout="Criteo Retail Media API line-item report (output format csv), dimensions date, campaign, "
                         "line item, retailer, advertised product; clickAttributionWindow 14D, viewAttributionWindow "
                         "none, timeZone Europe/Paris",
                  recs=recs, window=14,
                  notes="spend = spend, attributed = attributedSales and attributedUnits (assistedSales/Units are "
                        "other ads' assists: not added). Money in the account currency EUR with a decimal point. "
                        "Product ids are EANs. Empty cpc/roas where the denominator is 0.")


CASE_FUNCS = {
    "amazon_sp_v3_gzip_json": case_amazon_sp_v3_gzip_json,
    "amazon_sp_console_csv": case_amazon_sp_console_csv,
    "walmart_api_aditem": case_walmart_api_aditem,
    "walmart_console_item": case_walmart_console_item,
    "amazon_dsp_hourly_autumn_dst": case_amazon_dsp_hourly_autumn_dst,
    "amazon_dsp_hourly_spring_dst": case_amazon_dsp_hourly_spring_dst,
    "eur_retailer_money": case_eur_retailer_money,
    "accounting_negatives_and_suffix": case_accounting_negatives_and_suffix,
    "true_duplicate_rows": case_true_duplicate_rows,
    "truncated_csv": case_truncated_csv,
    "blank_lines_then_bad_row": case_blank_lines_then_bad_row,
    "criteo_line_items": case_criteo_line_items,
    "amazon_sp_v3_gbp": case_amazon_sp_v3_gbp,
    "amazon_sp_v3_empty": case_amazon_sp_v3_empty,
    "console_total_row": case_console_total_row,
}
CASES: list[str] = list(CASE_FUNCS)


def write_case(name: str, folder: Path, seed: int = 0) -> dict:
    """Write the case's file(s) into folder (created if missing) and return its truth dict."""
    if name not in CASE_FUNCS:
        raise ValueError(f"unknown case {name!r}; known: {', '.join(CASES)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return CASE_FUNCS[name](folder, seed)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python generate.py OUTDIR", file=sys.stderr)
        return 2
    out = Path(argv[1])
    for name in CASES:
        truth = write_case(name, out / name)
        (out / name / "truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n",
                                               encoding="utf-8")
        print(f"{name}: {', '.join(truth['files'])} ({truth['expect']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

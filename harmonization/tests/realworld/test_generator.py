"""The generator's truth equals what a plain, independent reader finds in the files it writes.

The reader below knows each layout only by its column names and number formats, as a person reading the file
would; it shares no code with generate.py, so a rendering slip there (a lost row, a wrong sign, an hour in the wrong
UTC slot, a bad line number) shows up as a mismatch here.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from . import generate

AMAZON_TOOL = {"date": ("date", "%Y-%m-%d"), "product": "advertisedAsin", "spend": "cost",
               "impressions": "impressions", "clicks": "clicks", "sales": "sales14d", "units": "unitsSoldClicks14d"}
DSP = {"date": ("date", "%Y-%m-%d"), "hour": "hour", "key": "lineItemId", "product": None, "spend": "totalCost",
       "impressions": "impressions", "clicks": "clickThroughs", "sales": "sales14d", "units": "unitsSold14d"}
LAYOUTS = {
    "amazon_sp_console_csv": {"date": ("Date", "%b %d, %Y"), "product": "Advertised ASIN", "spend": "Spend",
                              "impressions": "Impressions", "clicks": "Clicks", "sales": "14 Day Total Sales ",
                              "units": "14 Day Total Units (#)"},
    "walmart_api_aditem": {"date": ("date", "%Y-%m-%d"), "product": "itemId", "spend": "adSpend",
                           "impressions": "numAdsShown", "clicks": "numAdsClicks", "sales": "attributedSales14days",
                           "units": "attributedUnits14days"},
    "walmart_console_item": {"date": ("Date", "%m/%d/%Y"), "product": "Item ID", "spend": "Ad Spend",
                             "impressions": "Impressions", "clicks": "Clicks",
                             "sales": "Total Attributed Sales (14 Day)", "units": "Units Sold (14 Day)"},
    "console_total_row": {"date": ("Date", "%m/%d/%Y"), "product": "Item ID", "spend": "Ad Spend",
                          "impressions": "Impressions", "clicks": "Clicks",
                          "sales": "Total Attributed Sales (14 Day)", "units": "Units Sold (14 Day)"},
    "amazon_dsp_hourly_autumn_dst": DSP,
    "amazon_dsp_hourly_spring_dst": DSP,
    "eur_retailer_money": {"delimiter": ";", "decimal_comma": True, "date": ("Day", "%d.%m.%Y"),
                           "product": "Product ID", "spend": "Spend", "impressions": "Impressions", "clicks": "Clicks",
                           "sales": "Attributed sales", "units": "Attributed units"},
    "accounting_negatives_and_suffix": {"date": ("Date", "%Y-%m-%d"), "product": "Item ID", "spend": "Spend",
                                        "impressions": "Impressions", "clicks": "Clicks",
                                        "sales": "Attributed Sales (14d)", "units": "Units (14d)"},
    "true_duplicate_rows": AMAZON_TOOL,
    "truncated_csv": AMAZON_TOOL,
    "blank_lines_then_bad_row": AMAZON_TOOL,
    "criteo_line_items": {"date": ("date", "%Y-%m-%d"), "product": "advProductId", "spend": "spend",
                          "impressions": "impressions", "clicks": "clicks", "sales": "attributedSales",
                          "units": "attributedUnits"},
}
NEW_YORK = ZoneInfo("America/New_York")


def number(text: str, *, decimal_comma: bool = False) -> Decimal:
    s = text.strip()
    if not s:
        return Decimal(0)
    negative = (s.startswith("(") and s.endswith(")")) or s.startswith("-")
    s = s.strip("()-").replace("$", "").replace("€", "")
    scale = 1
    if s[-1] in "KkMm":
        scale = 1000 if s[-1] in "Kk" else 1_000_000
        s = s[:-1]
    s = s.replace(".", "").replace(",", ".") if decimal_comma else s.replace(",", "")
    value = Decimal(s) * scale
    return -value if negative else value


def read_csv(path: Path, layout: dict):
    """Rows as dicts of Decimals (with day, product, utc), and the physical line numbers that are not good rows."""
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    lines = raw.decode("utf-8").split("\n")
    final_newline = lines[-1] == ""
    if final_newline:
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    delimiter = layout.get("delimiter", ",")
    header = next(csv.reader([lines[0]], delimiter=delimiter))
    rows, bad, seen_lines, seen_hours = [], [], set(), set()
    for number_, line in enumerate(lines[1:], start=2):
        if line == "":
            continue
        fields = next(csv.reader([line], delimiter=delimiter))
        if len(fields) != len(header) or line in seen_lines:
            bad.append(number_)
            continue
        seen_lines.add(line)
        rec = dict(zip(header, fields, strict=True))
        col, fmt = layout["date"]
        try:
            day = datetime.strptime(rec[col], fmt).date()
        except ValueError:
            bad.append(number_)
            continue
        utc = None
        if "hour" in layout:
            hour = int(rec[layout["hour"]])
            key = (day, hour, rec[layout["key"]])
            local = datetime(day.year, day.month, day.day, hour, fold=int(key in seen_hours), tzinfo=NEW_YORK)
            utc = local.astimezone(UTC)
            if utc.astimezone(NEW_YORK).replace(tzinfo=None) != local.replace(tzinfo=None):
                bad.append(number_)  # a wall-clock hour that the spring change skips
                continue
            seen_hours.add(key)
        parse = {"decimal_comma": layout.get("decimal_comma", False)}
        rows.append({"day": day.isoformat(), "product": rec[layout["product"]] if layout["product"] else None,
                     "utc": utc, **{m: number(rec[layout[m]], **parse)
                                    for m in ("spend", "impressions", "clicks", "sales", "units")}})
    return rows, bad, final_newline, len(header), lines


def read_v3_json_gz(path: Path, currency: str):
    rows = []
    for rec in json.loads(gzip.decompress(path.read_bytes()).decode("utf-8")):
        assert rec["cost"] == rec["spend"]
        assert rec["campaignBudgetCurrencyCode"] == currency
        rows.append({"day": rec["date"], "product": rec["advertisedAsin"], "utc": None,
                     **{m: Decimal(str(rec[col])) for m, col in (("spend", "cost"), ("impressions", "impressions"),
                        ("clicks", "clicks"), ("sales", "sales14d"), ("units", "unitsSoldClicks14d"))}})
    return rows


def summed(rows, metrics=("spend", "impressions", "clicks", "attributed_sales", "attributed_units")):
    names = {"spend": "spend", "impressions": "impressions", "clicks": "clicks", "attributed_sales": "sales",
             "attributed_units": "units"}
    out = {}
    for m in metrics:
        total = sum((r[names[m]] for r in rows), Decimal(0))
        out[m] = float(total) if m in ("spend", "attributed_sales") else int(total)
    return out


def grouped(rows, key, metrics=None):
    groups = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return {k: summed(v, metrics) if metrics else summed(v) for k, v in sorted(groups.items())}


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("case", generate.CASES)
def test_it_writes_files_whose_independent_reading_equals_the_truth(tmp_path, case, seed):
    truth = generate.write_case(case, tmp_path, seed=seed)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(truth["files"])
    path = tmp_path / truth["files"][0]
    if truth["format"] == "gzip_json":
        rows, bad = read_v3_json_gz(path, truth["currency"]), []
    else:
        rows, bad, final_newline, width, lines = read_csv(path, LAYOUTS[case])
    assert bad == truth["bad_lines"]

    if truth["expect"] == "refuse":
        assert bad, "a refused case must show at least one bad line"
        if "truncated" in truth["reason_keywords"]:
            assert not final_newline
            assert bad == [len(lines)]
            assert len(next(csv.reader([lines[-1]]))) < width
        return

    assert truth["totals"] == {**summed(rows), "rows": len(rows)}
    assert truth["by_day"] == grouped(rows, lambda r: r["day"])
    if "by_product" in truth:
        assert truth["by_product"] == grouped(rows, lambda r: r["product"], ("spend", "attributed_sales"))
    else:
        assert all(r["product"] is None for r in rows)
    if truth["time_zone"]:
        assert truth["by_utc_hour"] == grouped(rows, lambda r: r["utc"].strftime("%Y-%m-%dT%H:00Z"),
                                               ("spend", "impressions", "clicks"))


def test_it_puts_the_repeated_autumn_hour_in_two_utc_hours_and_skips_the_spring_one(tmp_path):
    autumn = generate.write_case("amazon_dsp_hourly_autumn_dst", tmp_path / "a")
    spring = generate.write_case("amazon_dsp_hourly_spring_dst", tmp_path / "s")
    # 01:00 EDT is 05:00Z and 01:00 EST is 06:00Z; both carry two line items.
    assert {"2026-11-01T05:00Z", "2026-11-01T06:00Z"} <= autumn["by_utc_hour"].keys()
    assert autumn["totals"]["rows"] == 2 * (24 + 25 + 24)
    assert spring["totals"]["rows"] == 2 * (24 + 23 + 24)
    assert len(spring["bad_lines"]) == 1
    line = (tmp_path / "s" / spring["files"][0]).read_text().splitlines()[spring["bad_lines"][0] - 1]
    assert line.startswith("2026-03-08,02,")


def test_it_counts_the_same_asin_in_two_ad_groups_as_two_rows(tmp_path):
    truth = generate.write_case("amazon_sp_v3_gzip_json", tmp_path)
    rows = json.loads(gzip.decompress((tmp_path / truth["files"][0]).read_bytes()))
    per_key = defaultdict(set)
    for r in rows:
        per_key[(r["date"], r["campaignId"], r["advertisedAsin"])].add((r["adGroupId"], r["adId"]))
    assert any(len(ads) == 2 for ads in per_key.values())
    assert len({json.dumps(r, sort_keys=True) for r in rows}) == len(rows) == truth["totals"]["rows"]


def test_it_is_deterministic_for_a_seed_and_varies_with_it(tmp_path):
    for case in generate.CASES:
        first = generate.write_case(case, tmp_path / "one" / case, seed=3)
        again = generate.write_case(case, tmp_path / "two" / case, seed=3)
        other = generate.write_case(case, tmp_path / "three" / case, seed=4)
        assert first == again
        for name in first["files"]:
            data = (tmp_path / "one" / case / name).read_bytes()
            assert data == (tmp_path / "two" / case / name).read_bytes()
            if first.get("totals", {}).get("rows") != 0:  # an empty report is the same for every seed
                assert data != (tmp_path / "three" / case / name).read_bytes()
        assert other["expect"] == first["expect"]


def test_it_keeps_the_truth_contract(tmp_path):
    required = {"case", "retailer", "layout", "files", "format", "currency", "expect", "attribution_window_days",
                "time_zone", "bad_lines", "reason_keywords", "notes"}
    for case in generate.CASES:
        truth = generate.write_case(case, tmp_path / case)
        assert required <= truth.keys()
        assert truth["case"] == case
        assert truth["retailer"] in {"amazon", "walmart", "amazon_dsp", "criteo", "instacart"}
        assert truth["format"] in {"gzip_json", "json", "csv"}
        assert truth["expect"] in {"load", "refuse"}
        assert len(truth["currency"]) == 3 and truth["currency"].isupper()
        if truth["expect"] == "load":
            assert {"totals", "by_day"} <= truth.keys()
            assert sum(d["spend"] for d in truth["by_day"].values()) == pytest.approx(truth["totals"]["spend"])
        else:
            assert truth["reason_keywords"]
        json.dumps(truth)  # plain JSON types only


def test_it_refuses_an_unknown_case(tmp_path):
    with pytest.raises(ValueError, match="unknown case 'nope'"):
        generate.write_case("nope", tmp_path)

"""Each shipped mapping harmonizes its sample file to RMIS rows whose totals equal totals this test computes itself,
by reading the sample with the csv/json modules and Decimal (never with the engine's code)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harmonization.engine import Harmonizer, Lookups, ParquetSink, SourceError, load_mapping_file

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "config" / "mappings"
SAMPLES = ROOT / "harmonization" / "samples"
MICRO = Decimal(1_000_000)
LA = zoneinfo.ZoneInfo("America/Los_Angeles")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
UTC = dt.UTC

SAMPLE_FILES = {
    "amazon_sp_advertised_product": "amazon_sp_advertised_product.csv",
    "amazon_sp_console_advertised_product": "amazon_sp_console_advertised_product.csv",
    "walmart_sponsored_search_item": "walmart_sponsored_search_item.csv",
    "walmart_sponsored_search_item_total": "walmart_sponsored_search_item_total.csv",
    "walmart_console_item": "walmart_console_item.csv",
    "criteo_retail_media_campaign": "criteo_retail_media_campaign.json",
    "criteo_retail_media_line_item": "criteo_retail_media_line_item.csv",
    "dsp_line_items_micros": "dsp_line_items_micros.csv",
    "amazon_dsp_line_item_hourly": "amazon_dsp_line_item_hourly.csv",
    "eu_retailer_jsonl": "eu_retailer_jsonl.jsonl",
    "rmis_native": "rmis_native.csv",
}
# EUR -> USD fixings around the EU sample. 2025-03-08/09 are a weekend: no fixing, Friday's rate applies.
EUR_USD = {dt.date(2025, 3, 7): "1.0830", dt.date(2025, 3, 10): "1.0835", dt.date(2025, 3, 11): "1.0920"}


# --- Reading the layouts independently ---------------------------------------------------------------------------


@dataclass
class SourceRow:
    """One source row in RMIS terms, as this test reads it."""

    day: dt.date  # UTC day
    retailer: str
    currency: str
    impressions: int
    clicks: int
    spend: Decimal
    sales: Decimal
    units: int
    sku_ref: str | None


def _open_text(path: Path) -> io.TextIOBase:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return io.StringIO(raw.decode("utf-8"), newline="")


def _german(text: str) -> Decimal:
    return Decimal(text.replace(".", "").replace(",", "."))


def _plain(text: str) -> str:
    """A console's "$1,234.56" or "2,924" without the sign and the separators."""
    return text.replace("$", "").replace(",", "")


def _utc_day(text: str, fmt: str, zone: zoneinfo.ZoneInfo) -> dt.date:
    return dt.datetime.strptime(text, fmt).replace(tzinfo=zone).astimezone(UTC).date()


def read_layout(layout: str, path: Path) -> list[SourceRow]:
    """The rows of a file of ``layout`` (docs/mapping_guide.md), read with csv/json and Decimal only."""
    rows = []
    if layout == "amazon_sp_advertised_product":
        for r in csv.DictReader(_open_text(path)):
            rows.append(
                SourceRow(
                    dt.date.fromisoformat(r["date"]), "amazon", r["campaignBudgetCurrencyCode"],
                    int(r["impressions"]), int(r["clicks"]), Decimal(r["cost"]), Decimal(r["sales14d"]),
                    int(r["unitsSoldClicks14d"]), r["advertisedAsin"],
                )
            )  # fmt: skip
    elif layout == "walmart_sponsored_search_item":
        for r in csv.DictReader(_open_text(path)):
            sales = Decimal(r["directAttributedSales14days"]) + Decimal(r["relatedAttributedSales14days"])
            rows.append(
                SourceRow(
                    dt.date.fromisoformat(r["date"]), "walmart", "USD", int(r["numAdsShown"]),
                    int(r["numAdsClicks"]), Decimal(r["adSpend"]), sales, int(r["attributedUnits14days"]), r["itemId"],
                )
            )  # fmt: skip
    elif layout == "walmart_sponsored_search_item_total":
        for r in csv.DictReader(_open_text(path)):
            rows.append(
                SourceRow(
                    dt.date.fromisoformat(r["date"]), "walmart", "USD", int(r["numAdsShown"]),
                    int(r["numAdsClicks"]), Decimal(r["adSpend"]), Decimal(r["attributedSales14days"]),
                    int(r["attributedUnits14days"]), r["itemId"],
                )
            )  # fmt: skip
    elif layout == "amazon_sp_console_advertised_product":
        for r in csv.DictReader(_open_text(path)):
            rows.append(
                SourceRow(
                    dt.datetime.strptime(r["Date"], "%b %d, %Y").date(), "amazon", r["Currency"],
                    int(_plain(r["Impressions"])), int(_plain(r["Clicks"])), Decimal(_plain(r["Spend"])),
                    Decimal(_plain(r["14 Day Total Sales "])), int(r["14 Day Total Units (#)"]), r["Advertised ASIN"],
                )
            )  # fmt: skip
    elif layout == "walmart_console_item":
        for r in csv.DictReader(_open_text(path)):
            rows.append(
                SourceRow(
                    dt.datetime.strptime(r["Date"], "%m/%d/%Y").date(), "walmart", "USD", int(_plain(r["Impressions"])),
                    int(_plain(r["Clicks"])), Decimal(_plain(r["Ad Spend"])),
                    Decimal(_plain(r["Total Attributed Sales (14 Day)"])), int(r["Units Sold (14 Day)"]), r["Item ID"],
                )
            )  # fmt: skip
    elif layout == "criteo_retail_media_campaign":
        for r in json.load(_open_text(path), parse_float=Decimal)["data"]:
            rows.append(
                SourceRow(
                    dt.date.fromisoformat(r["date"]), "criteo", "USD", r["impressions"], r["clicks"],
                    Decimal(r["spend"]), Decimal(r["attributedSales"]), r["attributedUnits"], None,
                )
            )  # fmt: skip
    elif layout == "criteo_retail_media_line_item":
        for r in csv.DictReader(_open_text(path)):
            rows.append(
                SourceRow(
                    dt.date.fromisoformat(r["date"]), "criteo", "EUR", int(r["impressions"]), int(r["clicks"]),
                    Decimal(r["spend"]), Decimal(r["attributedSales"]), int(r["attributedUnits"]), r["advProductId"],
                )
            )  # fmt: skip
    elif layout == "dsp_line_items_micros":
        for r in csv.DictReader(_open_text(path)):
            rows.append(
                SourceRow(
                    _utc_day(r["report_hour"], "%Y-%m-%d %H:%M:%S", LA), "amazon", r["currency_code"],
                    int(r["impressions"]), int(r["clicks"]), Decimal(r["cost_micros"]) / MICRO,
                    Decimal(r["sales_micros_14d"]) / MICRO, int(r["units_sold_14d"]), None,
                )
            )  # fmt: skip
    elif layout == "amazon_dsp_line_item_hourly":
        # the autumn clock change: the second "01" of an order line item is 01:00 EST; both are on the same UTC day
        for r in csv.DictReader(_open_text(path)):
            rows.append(
                SourceRow(
                    _utc_day(f"{r['date']} {r['hour']}", "%Y-%m-%d %H", NEW_YORK), "amazon", "USD",
                    int(r["impressions"]), int(r["clickThroughs"]), Decimal(r["totalCost"]), Decimal(r["sales14d"]),
                    int(r["unitsSold14d"]), None,
                )
            )  # fmt: skip
    elif layout == "eu_retailer_jsonl":
        for line in _open_text(path):
            if not line.strip():
                continue
            r = json.loads(line)
            rows.append(
                SourceRow(
                    _utc_day(r["Datum"], "%d.%m.%Y %H:%M", BERLIN), "eu_retailer", r["Währung"],
                    int(_german(r["Impressionen"])), int(_german(r["Klicks"])), _german(r["Kosten"]),
                    _german(r["Umsatz (14 Tage)"]), int(_german(r["Verkaufte Einheiten (14 Tage)"])), r["EAN"],
                )
            )  # fmt: skip
    elif layout == "rmis_native":
        for r in csv.DictReader(_open_text(path)):
            rows.append(
                SourceRow(
                    dt.date.fromisoformat(r["date"]), r["retailer"], r["currency"], int(r["impressions"]),
                    int(r["clicks"]), Decimal(r["spend"]), Decimal(r["attributed_sales"]),
                    int(r["attributed_units"]), r["sku_id"] or None,
                )
            )  # fmt: skip
    else:
        raise ValueError(layout)
    return rows


@dataclass
class Sums:
    rows: int = 0
    impressions: int = 0
    clicks: int = 0
    spend: Decimal = Decimal(0)
    sales: Decimal = Decimal(0)
    units: int = 0

    def add(self, r: SourceRow) -> None:
        self.rows += 1
        self.impressions += r.impressions
        self.clicks += r.clicks
        self.spend += r.spend
        self.sales += r.sales
        self.units += r.units


def sums_by(rows: list[SourceRow], key) -> dict:
    out: dict = defaultdict(Sums)
    for r in rows:
        out[key(r)].add(r)
    return dict(out)


def parquet_sums(path: Path, key: tuple[str, ...], *, amounts: str = "original") -> dict:
    """Totals of a harmonized Parquet file by ``key`` columns; amounts as reported ("original") or converted."""
    table = pq.read_table(path).to_pylist()
    out: dict = defaultdict(Sums)
    spend, sales = (
        ("original_spend", "original_attributed_sales") if amounts == "original" else ("spend", "attributed_sales")
    )
    for r in table:
        s = out[tuple(r[k] for k in key) if len(key) > 1 else r[key[0]]]
        s.rows += r["source_rows"]
        s.impressions += r["impressions"]
        s.clicks += r["clicks"]
        s.spend += r[spend]
        s.sales += r[sales]
        s.units += r["attributed_units"]
    return dict(out)


def assert_sums_equal(got: Sums, want: Sums, *, money_tolerance: Decimal = Decimal("0.0001")) -> None:
    assert (got.rows, got.impressions, got.clicks, got.units) == (want.rows, want.impressions, want.clicks, want.units)
    assert abs(got.spend - want.spend) <= money_tolerance, (got.spend, want.spend)
    assert abs(got.sales - want.sales) <= money_tolerance, (got.sales, want.sales)


def sku_index_for(layout: str, rows: list[SourceRow]) -> dict[str, dict[str, int]]:
    """A crosswalk that knows every SKU reference of the file (ids 1, 2, ... in order of appearance)."""
    refs = sorted({r.sku_ref for r in rows if r.sku_ref})
    ids = {ref: i + 1 for i, ref in enumerate(refs)}
    if layout.startswith(("amazon_sp", "walmart_")):
        retailer = layout.split("_")[0]
        return {"retailer_item_id": {f"{retailer}|{ref}": i for ref, i in ids.items()}}
    if layout in ("eu_retailer_jsonl", "criteo_retail_media_line_item"):  # GTIN keys are GTIN-14 (zero-padded)
        return {"gtin": {ref.zfill(14): i for ref, i in ids.items()}}
    if layout == "rmis_native":
        return {"sku_code": ids}
    return {}


def lookups_for(layout: str, rows: list[SourceRow]) -> Lookups:
    return Lookups(
        reporting_currency="USD",
        fx_rates=[(day, "EUR", float(rate)) for day, rate in EUR_USD.items()],
        sku_index=sku_index_for(layout, rows),
    )


def harmonize(layout: str, source: Path, out: Path, lookups: Lookups, **kwargs):
    spec = load_mapping_file(MAPPINGS / f"{layout}.yaml")
    report = Harmonizer(spec, lookups, **kwargs).run(source, ParquetSink(out))
    return report


# --- Tests ----------------------------------------------------------------------------------------------------------


def test_every_mapping_has_a_sample_and_every_sample_a_mapping():
    assert {p.stem for p in MAPPINGS.glob("*.yaml")} == set(SAMPLE_FILES)
    data_files = {p.name for p in SAMPLES.iterdir() if p.suffix != ".md"}
    assert data_files == {*SAMPLE_FILES.values(), "eu_retailer_jsonl.jsonl.gz"}
    for layout, name in SAMPLE_FILES.items():
        assert 20 <= len(read_layout(layout, SAMPLES / name)) <= 60, name
    # the EU sample must keep exercising German thousands separators, in counts and in amounts
    eu = (SAMPLES / SAMPLE_FILES["eu_retailer_jsonl"]).read_text()
    assert re.search(r'"Impressionen": "\d{1,3}\.\d{3}"', eu)
    assert re.search(r'"Umsatz \(14 Tage\)": "\d{1,3}\.\d{3},\d{2}"', eu)


@pytest.mark.parametrize("layout", sorted(SAMPLE_FILES))
def test_it_harmonizes_each_sample_to_the_independent_totals(layout, tmp_path):
    source = SAMPLES / SAMPLE_FILES[layout]
    rows = read_layout(layout, source)
    out = tmp_path / "out.parquet"

    report = harmonize(layout, source, out, lookups_for(layout, rows))

    assert report.passed, report.failures
    d = report.to_dict()
    assert (d["rows_read"], d["rows_loaded"], d["rows_quarantined"]) == (len(rows), len(rows), 0)
    assert d["unmapped_columns"] == []  # every source column is mapped or deliberately ignored
    want = sums_by(rows, lambda r: r.currency)
    got = parquet_sums(out, ("original_currency",))
    assert set(got) == set(want)
    # The DSP prints micros; facts keep 4 decimals, so each source row may round by half a unit of the 4th.
    tolerance = Decimal("0.00005") * len(rows) if layout == "dsp_line_items_micros" else Decimal("0.0001")
    for currency in want:
        assert_sums_equal(got[currency], want[currency], money_tolerance=tolerance)
        assert all(v["balanced"] for v in d["reconciliation"].values())
    # Per UTC day as well: the day a row lands on is part of the truth.
    by_day = sums_by(rows, lambda r: (r.day, r.currency))
    got_by_day = parquet_sums(out, ("date", "original_currency"))
    assert set(got_by_day) == set(by_day)
    for key in by_day:
        assert_sums_equal(got_by_day[key], by_day[key], money_tolerance=tolerance)


@pytest.mark.parametrize(
    "layout",
    ["amazon_sp_advertised_product", "amazon_sp_console_advertised_product", "walmart_sponsored_search_item",
     "walmart_console_item", "criteo_retail_media_line_item", "rmis_native", "eu_retailer_jsonl"],
)  # fmt: skip
def test_it_resolves_every_sku_reference_of_the_sku_level_samples(layout, tmp_path):
    source = SAMPLES / SAMPLE_FILES[layout]
    rows = read_layout(layout, source)
    index = next(iter(sku_index_for(layout, rows).values()))
    out = tmp_path / "out.parquet"

    report = harmonize(layout, source, out, lookups_for(layout, rows))

    # the native file's campaign-level rows (empty sku_id) carry no reference and stay out of the join rate
    assert report.to_dict()["sku_join_rate"] == 1.0
    assert report.to_dict()["sku_unmatched"] == 0
    facts = pq.read_table(out).to_pylist()
    for fact in facts:
        if fact["sku_ref"] is None:  # campaign-level rows of the native file
            assert layout == "rmis_native" and fact["sku_id"] is None
            continue
        by_retailer = layout.startswith(("amazon_sp", "walmart_"))
        key = f"{fact['retailer']}|{fact['sku_ref']}" if by_retailer else fact["sku_ref"]
        key = key.zfill(14) if layout in ("eu_retailer_jsonl", "criteo_retail_media_line_item") else key
        assert fact["sku_id"] == index[key]
    if layout == "rmis_native":  # campaign-level rows stay, without a SKU
        campaign_level = [f for f in facts if f["sku_ref"] is None]
        assert {f["placement_type"] for f in campaign_level} == {"offsite_display", "onsite_display"}
        assert len(campaign_level) == sum(1 for r in rows if r.sku_ref is None)


def test_it_keeps_skus_unresolved_when_asked(tmp_path):
    source = SAMPLES / SAMPLE_FILES["amazon_sp_advertised_product"]
    rows = read_layout("amazon_sp_advertised_product", source)
    out = tmp_path / "out.parquet"

    report = harmonize(
        "amazon_sp_advertised_product", source, out, Lookups(reporting_currency="USD", resolve_skus=False)
    )

    assert report.passed and report.to_dict()["rows_quarantined"] == 0
    facts = pq.read_table(out).to_pylist()
    assert all(f["sku_id"] is None for f in facts)
    assert {f["sku_ref"] for f in facts} == {r.sku_ref for r in rows}


def test_it_puts_dsp_hours_on_their_utc_day(tmp_path):
    rows = read_layout("dsp_line_items_micros", SAMPLES / SAMPLE_FILES["dsp_line_items_micros"])
    out = tmp_path / "out.parquet"

    harmonize("dsp_line_items_micros", SAMPLES / SAMPLE_FILES["dsp_line_items_micros"], out, lookups_for("x", rows))

    got = parquet_sums(out, ("date",))
    # 2025-03-10 is PDT (UTC-7): local hours 00:00-16:00 are that UTC day, 17:00-23:00 the next one.
    late = [r for r in rows if r.day == dt.date(2025, 3, 11)]
    assert late and got[dt.date(2025, 3, 11)].impressions == sum(r.impressions for r in late)
    assert set(got) == {dt.date(2025, 3, 10), dt.date(2025, 3, 11)}
    assert {f["placement_type"] for f in pq.read_table(out).to_pylist()} == {"offsite_display", "ctv"}


def test_a_row_at_2330_los_angeles_lands_on_the_next_utc_day(tmp_path):
    header = (SAMPLES / SAMPLE_FILES["dsp_line_items_micros"]).read_text().splitlines()[0]
    lines = [
        # 23:30 PDT = 06:30 UTC the next day
        "2025-03-10 23:30:00,1,111,Late,9,x,Display,100,1,1.00%,2500000,1,1,9990000,USD",
        # 16:30 the day before the clocks change (PST, UTC-8) = 00:30 UTC the next day ...
        "2025-03-08 16:30:00,1,222,Winter,9,x,Display,200,2,1.00%,1000000,0,0,0,USD",
        # ... and 16:30 after the change (PDT, UTC-7) = 23:30 UTC the same day
        "2025-03-10 16:30:00,1,333,Summer,9,x,Display,300,3,1.00%,1000000,0,0,0,USD",
    ]
    source = tmp_path / "late.csv"
    source.write_text("\n".join([header, *lines]) + "\n")
    out = tmp_path / "out.parquet"

    report = harmonize("dsp_line_items_micros", source, out, Lookups(reporting_currency="USD"))

    assert report.passed, report.failures
    days = {f["campaign_id"]: f["date"] for f in pq.read_table(out).to_pylist()}
    assert days == {"111": dt.date(2025, 3, 11), "222": dt.date(2025, 3, 9), "333": dt.date(2025, 3, 10)}


@pytest.mark.parametrize("name", ["eu_retailer_jsonl.jsonl", "eu_retailer_jsonl.jsonl.gz"])
def test_eur_amounts_use_the_rate_of_their_utc_day(name, tmp_path):
    source = SAMPLES / name
    rows = read_layout("eu_retailer_jsonl", source)
    out = tmp_path / "out.parquet"

    report = harmonize("eu_retailer_jsonl", source, out, lookups_for("eu_retailer_jsonl", rows))

    assert report.passed, report.failures
    # 00:30 Berlin (CET, UTC+1) is 23:30 UTC the day before: 2025-03-09 is a Sunday, so Friday's rate applies.
    rate_of = {
        dt.date(2025, 3, 9): Decimal(EUR_USD[dt.date(2025, 3, 7)]),
        dt.date(2025, 3, 10): Decimal(EUR_USD[dt.date(2025, 3, 10)]),
        dt.date(2025, 3, 11): Decimal(EUR_USD[dt.date(2025, 3, 11)]),
    }
    by_day = sums_by(rows, lambda r: r.day)
    assert set(by_day) == set(rate_of)
    facts = pq.read_table(out).to_pylist()
    got_usd = parquet_sums(out, ("date",), amounts="reporting")
    for day, want in by_day.items():
        day_facts = [f for f in facts if f["date"] == day]
        assert {f["fx_rate"] for f in day_facts} == {rate_of[day]}
        assert {(f["currency"], f["original_currency"]) for f in day_facts} == {("USD", "EUR")}
        # each fact rounds its converted amounts to 4 decimals
        tolerance = Decimal("0.00005") * len(day_facts) + Decimal("0.0001")
        assert abs(got_usd[day].spend - want.spend * rate_of[day]) <= tolerance
        assert abs(got_usd[day].sales - want.sales * rate_of[day]) <= tolerance


def test_a_missing_eur_rate_quarantines_the_rows_of_that_day_only(tmp_path):
    source = SAMPLES / "eu_retailer_jsonl.jsonl"
    rows = read_layout("eu_retailer_jsonl", source)
    lookups = lookups_for("eu_retailer_jsonl", rows)
    lookups.fx_rates = [(day, "EUR", float(rate)) for day, rate in EUR_USD.items() if day != dt.date(2025, 3, 11)]
    lookups.fx_max_staleness_days = 0
    out = tmp_path / "out.parquet"

    report = Harmonizer(load_mapping_file(MAPPINGS / "eu_retailer_jsonl.yaml"), lookups).run(source, ParquetSink(out))

    d = report.to_dict()
    # with no staleness allowed, the Sunday (2025-03-09) and 2025-03-11 have no rate
    missing = [r for r in rows if r.day in (dt.date(2025, 3, 9), dt.date(2025, 3, 11))]
    assert d["rows_quarantined"] == len(missing)
    eur = d["reconciliation"]["EUR"]
    assert Decimal(eur["spend_quarantined"]) == sum(r.spend for r in missing)
    assert Decimal(eur["spend_in"]) == Decimal(eur["spend_loaded"]) + Decimal(eur["spend_quarantined"])


def test_the_native_layout_takes_window_model_and_name_from_optional_columns(tmp_path):
    lines = (SAMPLES / SAMPLE_FILES["rmis_native"]).read_text().splitlines()
    header, first, second = lines[0], lines[1], lines[2]
    seven_day = first.split(",")
    seven_day[10] = "7"  # the same campaign, SKU and day through a 7-day window: a separate fact, never summed
    source = tmp_path / "H.csv"
    source.write_text(
        "\n".join(
            [
                header + ",campaign_name,attribution_model",
                first + ",Crunchy Hollow always-on,last_touch",
                ",".join(seven_day) + ",Crunchy Hollow always-on,last_touch",
                second + ",,",  # no model given: the mapping's default
            ]
        )
        + "\n"
    )
    out = tmp_path / "out.parquet"

    report = harmonize("rmis_native", source, out, Lookups(reporting_currency="USD", resolve_skus=False))

    assert report.passed, report.failures
    facts = sorted(pq.read_table(out).to_pylist(), key=lambda f: (f["sku_ref"], f["attribution_window_days"]))
    got = [(f["sku_ref"], f["attribution_window_days"], f["attribution_model"], f["campaign_name"]) for f in facts]
    sku_a, sku_b = first.split(",")[4], second.split(",")[4]
    assert got == sorted(
        [
            (sku_a, 7, "last_touch", "Crunchy Hollow always-on"),
            (sku_a, 14, "last_touch", "Crunchy Hollow always-on"),
            (sku_b, 14, "last_click", None),
        ]
    )
    assert facts[0]["spend"] == facts[1]["spend"] == Decimal(first.split(",")[7])


# --- Broken variants of the samples, written here (the shipped samples stay clean) ---------------------------------


def _amazon_lines() -> list[str]:
    return (SAMPLES / SAMPLE_FILES["amazon_sp_advertised_product"]).read_text().splitlines()


def test_a_broken_row_is_quarantined_with_its_reason_and_the_rest_loads(tmp_path):
    lines = _amazon_lines()
    cells = lines[7].split(",")
    cells[10] = '"12,3O"'  # a letter O typed for a zero, in a quoted field
    lines[7] = ",".join(cells)
    source = tmp_path / "amazon.csv"
    source.write_text("\n".join(lines) + "\n")
    quarantined = []

    class Sink(ParquetSink):
        def quarantine(self, table):
            quarantined.extend(table.to_pylist())

    out = tmp_path / "out.parquet"
    spec = load_mapping_file(MAPPINGS / "amazon_sp_advertised_product.yaml")

    report = Harmonizer(spec, Lookups(reporting_currency="USD", resolve_skus=False)).run(source, Sink(out))

    rows = read_layout("amazon_sp_advertised_product", SAMPLES / SAMPLE_FILES["amazon_sp_advertised_product"])
    d = report.to_dict()
    assert report.passed  # 1 of 48 is under max_quarantine_rate 0.05
    assert (d["rows_loaded"], d["rows_quarantined"]) == (len(rows) - 1, 1)
    assert [(q["line"], q["field"], q["reason"]) for q in quarantined] == [
        (8, "spend", "spend: '12,3O' is not a number")
    ]
    assert json.loads(quarantined[0]["raw"])["cost"] == "12,3O"
    broken = rows[6]  # line 8 of the file is its 7th data row
    got = parquet_sums(out, ("original_currency",))["USD"]
    assert got.impressions == sum(r.impressions for r in rows) - broken.impressions
    assert got.sales == sum(r.sales for r in rows) - broken.sales
    usd = d["reconciliation"]["USD"]
    assert Decimal(usd["sales_quarantined"]) == broken.sales
    assert Decimal(usd["sales_in"]) == Decimal(usd["sales_loaded"]) + Decimal(usd["sales_quarantined"])


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda text: text.replace(",", ";").encode(), "is the delimiter ';'?"),
        (lambda text: text.replace(",sales14d,", ",sales_14d,").encode(), "missing required column(s) sales14d"),
        (lambda text: text.replace("Crunchy Hollow", "Crunchy H\xf6llow").encode("latin-1"), "not valid utf-8"),
    ],
    ids=["wrong-delimiter", "missing-column", "bad-encoding"],
)
def test_a_malformed_file_is_an_error_that_names_the_problem_and_writes_nothing(spoil, message, tmp_path):
    source = tmp_path / "amazon.csv"
    source.write_bytes(spoil((SAMPLES / SAMPLE_FILES["amazon_sp_advertised_product"]).read_text()))
    out = tmp_path / "out.parquet"

    with pytest.raises(SourceError) as excinfo:
        harmonize("amazon_sp_advertised_product", source, out, Lookups(reporting_currency="USD", resolve_skus=False))

    assert message in str(excinfo.value) and "amazon.csv" in str(excinfo.value)
    assert list(tmp_path.iterdir()) == [source]  # no output, no temporary file left behind


def test_the_walmart_snapshot_reads_gzipped_as_delivered(tmp_path):
    plain = SAMPLES / SAMPLE_FILES["walmart_sponsored_search_item"]
    source = tmp_path / "snapshot.csv.gz"
    source.write_bytes(gzip.compress(plain.read_bytes()))
    out = tmp_path / "out.parquet"

    report = harmonize(
        "walmart_sponsored_search_item", source, out, Lookups(reporting_currency="USD", resolve_skus=False)
    )

    assert report.passed
    want = sums_by(read_layout("walmart_sponsored_search_item", plain), lambda r: r.currency)["USD"]
    assert_sums_equal(parquet_sums(out, ("original_currency",))["USD"], want)


def test_the_native_sample_quarantines_an_unknown_sku_id_and_keeps_campaign_level_rows(tmp_path):
    sample = SAMPLES / SAMPLE_FILES["rmis_native"]
    rows = read_layout("rmis_native", sample)
    lookups = lookups_for("rmis_native", rows)
    source = tmp_path / "native.csv"
    bad_row = "2025-03-11,amazon,sponsored_product,C-NEW,NO-SUCH-SKU,100,2,3.50,9.00,1,14,USD"
    source.write_text(sample.read_text().rstrip("\n") + "\n" + bad_row + "\n")
    out = tmp_path / "out.parquet"

    report = harmonize("rmis_native", source, out, lookups)

    d = report.to_dict()
    referenced = sum(1 for r in rows if r.sku_ref) + 1
    campaign_level = sum(1 for r in rows if r.sku_ref is None)
    assert campaign_level == 12 and referenced == 37
    assert report.passed, d["failures"]
    assert (d["rows_read"], d["rows_quarantined"]) == (len(rows) + 1, 1)
    assert d["quarantine_reasons"] == {"sku:no_match": 1}
    assert d["sku_unmatched"] == 1
    # over the 37 rows that carry a sku_id, not the 49 rows read
    assert d["sku_join_rate"] == pytest.approx(36 / 37)
    facts = pq.read_table(out).to_pylist()
    assert sum(1 for f in facts if f["sku_ref"] is None) == campaign_level
    assert "NO-SUCH-SKU" not in {f["sku_ref"] for f in facts}
    assert d["reconciliation"]["USD"]["spend_quarantined"] == "3.5000"

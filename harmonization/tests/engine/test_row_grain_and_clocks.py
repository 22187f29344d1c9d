"""Files as retailers write them (issue 16 points 1, 2, 4, 7): rows finer than the RMIS key, the autumn and spring
clock changes, blank metric cells, blank lines, files cut short. Truths are computed by hand from the rows below."""

from __future__ import annotations

import gzip
from decimal import Decimal

import pytest

from harmonization.engine import Harmonizer, Lookups, MappingError, MemorySink, ParquetSink, SourceError
from harmonization.tests.engine.conftest import make_spec, write

LOOKUPS = Lookups("USD", resolve_skus=False)

# Amazon spAdvertisedProduct as a tool writes it: one row per ad (adId) and day.
AMZ_HEADER = "date,campaignId,adGroupId,adId,asin,impressions,clicks,cost,sales14d,units14d"
AMZ_ROWS = [
    "2026-11-02,C1,AG1,AD1,B001,1000,10,12.50,40.00,2",
    "2026-11-02,C1,AG2,AD2,B001,500,5,7.25,15.00,1",  # the same ASIN in a second ad group: not a duplicate
    "2026-11-02,C1,AG1,AD3,B002,300,3,3.00,0.00,0",
]


def run(spec, path, sink=None, **kw):
    sink = sink or MemorySink()
    return sink, Harmonizer(spec, LOOKUPS, **kw).run(path, sink)


def amazon_spec(quality=None, **changes):
    return make_spec(grain=["adGroupId", "adId"], quality={"max_duplicate_key_rate": 0.0, **(quality or {})}, **changes)


# --- point 1: row grain ------------------------------------------------------------------------------------------


def test_rows_of_one_asin_in_two_ad_groups_are_summed_to_the_rmis_key(tmp_path):
    sink, report = run(amazon_spec(), write(tmp_path, "a.csv", "\n".join([AMZ_HEADER, *AMZ_ROWS])))
    assert report.passed and report.duplicate_keys == 0
    facts = {r["sku_ref"]: r for r in sink.result().to_pylist()}
    assert facts["B001"]["impressions"] == 1500 and facts["B001"]["spend"] == Decimal("19.7500")
    assert facts["B001"]["source_rows"] == 2 and facts["B002"]["spend"] == Decimal("3.0000")


def test_the_same_ad_twice_is_a_duplicate_named_by_its_lines_and_cause(tmp_path):
    rows = [*AMZ_ROWS, AMZ_ROWS[1]]  # line 5 repeats line 3 exactly
    _, report = run(amazon_spec(), write(tmp_path, "a.csv", "\n".join([AMZ_HEADER, *rows])))
    assert not report.passed and report.duplicate_keys == 1
    [example] = report.duplicate_examples
    assert example["lines"] == [3, 5]
    assert example["key"] == {"date": "2026-11-02", "campaignId": "C1", "asin": "B001", "adGroupId": "AG2",
                              "adId": "AD2"}  # fmt: skip
    assert example["cause"].startswith("the same source row twice")
    [failure] = report.failures
    assert failure.startswith(
        "max_duplicate_key_rate: 0.2500 is above the limit 0.0 (1 duplicate keys; line 5 "
        "repeats line 3 (date=2026-11-02, campaignId=C1, asin=B001, adGroupId=AG2, adId=AD2)"
    )


def test_without_a_grain_rows_that_differ_point_at_a_finer_grain(tmp_path):
    spec = make_spec(quality={"max_duplicate_key_rate": 0.0})
    _, report = run(spec, write(tmp_path, "a.csv", "\n".join([AMZ_HEADER, *AMZ_ROWS])))
    assert not report.passed
    [example] = report.duplicate_examples
    assert example["lines"] == [2, 3]
    assert "differ in clicks, cost, impressions, sales14d, units14d" in example["cause"]
    assert "grain:" in example["cause"]


def test_a_duplicate_in_a_later_chunk_names_its_line(tmp_path):
    rows = [*AMZ_ROWS, "2026-11-03,C1,AG1,AD1,B001,1,0,0,0,0", AMZ_ROWS[0]]
    _, report = run(amazon_spec(), write(tmp_path, "a.csv", "\n".join([AMZ_HEADER, *rows])), chunk_rows=2)
    assert report.duplicate_keys == 1
    assert [e["lines"] for e in report.duplicate_examples] == [[6]]
    assert "earlier part of the file" in report.duplicate_examples[0]["cause"]


def test_grain_must_be_a_list_of_column_names():
    with pytest.raises(MappingError, match="grain: must be a list of source column names"):
        make_spec(grain="adId")


# --- point 2: clock changes --------------------------------------------------------------------------------------

DSP_HEADER = "report_hour,campaign_id,line_item_id,impressions,clicks,cost,sales,units"


def dsp_spec(zone="America/New_York", date=None):
    return make_spec(
        source={"timezone": zone},
        date=date or {"column": "report_hour", "format": "%Y-%m-%d %H:%M"},
        columns={"campaign_id": {"source": "campaign_id"}, "placement_type": {"constant": "offsite_display"},
                 "impressions": {"source": "impressions"}, "clicks": {"source": "clicks"},
                 "spend": {"source": "cost"}, "attributed_sales": {"source": "sales"},
                 "attributed_units": {"source": "units"}, "currency": {"constant": "USD"}},
        sku=None, grain=["line_item_id"], quality={"max_duplicate_key_rate": 0.0, "max_quarantine_rate": 0.5},
    )  # fmt: skip


def test_the_repeated_autumn_hour_is_two_hours_in_file_order(tmp_path):
    # 2026-11-01 in New York: 01:00 EDT (05:00Z), then 01:00 EST (06:00Z); both hours are real spend
    rows = [
        "2026-11-01 00:00,O1,L1,100,1,1.00,0,0",
        "2026-11-01 01:00,O1,L1,200,2,2.00,0,0",
        "2026-11-01 01:00,O1,L2,300,3,3.00,0,0",  # another line item in the same (first) hour
        "2026-11-01 01:00,O1,L1,400,4,4.00,0,0",  # L1 again: the standard-time hour
        "2026-11-01 01:00,O1,L2,500,5,5.00,0,0",
        "2026-11-01 02:00,O1,L1,600,6,6.00,0,0",
    ]
    sink, report = run(dsp_spec(), write(tmp_path, "h.csv", "\n".join([DSP_HEADER, *rows])))
    assert report.passed and report.duplicate_keys == 0 and report.rows_loaded == 6
    facts = sink.result().to_pylist()
    assert [(str(f["date"]), f["impressions"], f["spend"]) for f in facts] == [("2026-11-01", 2100, Decimal("21.0000"))]
    dst = report.to_dict()["dst"]
    assert (dst["time_zone"], dst["ambiguous_rows"], dst["read_as_standard_time"]) == ("America/New_York", 4, 2)
    assert "file order" in dst["rule"]


def test_the_two_passes_are_paired_across_chunks_and_a_third_is_a_duplicate(tmp_path):
    rows = ["2026-11-01 01:00,O1,L1,200,2,2.00,0,0", "2026-11-01 00:00,O1,L1,1,0,0,0,0",
            "2026-11-01 01:00,O1,L1,400,4,4.00,0,0", "2026-11-01 01:00,O1,L1,9,0,0,0,0"]  # fmt: skip
    _, report = run(dsp_spec(), write(tmp_path, "h.csv", "\n".join([DSP_HEADER, *rows])), chunk_rows=2)
    assert report.duplicate_keys == 1 and report.dst["read_as_standard_time"] == 2
    assert report.duplicate_examples[0]["lines"] == [4, 5]


def test_the_repeated_hour_becomes_a_utc_instant_that_can_cross_a_day(tmp_path):
    # Europe/Berlin 2026-10-25: 02:30 CEST is 00:30Z, 02:30 CET is 01:30Z (the same UTC day here)
    rows = ["2026-10-25 02:30,O1,L1,10,0,1.00,0,0", "2026-10-25 02:30,O1,L1,20,0,2.00,0,0"]
    spec = dsp_spec("Europe/Berlin")
    sink, report = run(spec, write(tmp_path, "h.csv", "\n".join([DSP_HEADER, *rows])))
    assert report.passed and sink.result()["spend"].to_pylist() == [Decimal("3.0000")]


def test_a_spring_forward_hour_that_does_not_exist_is_an_error_on_that_row_only(tmp_path):
    rows = ["2026-03-08 01:00,O1,L1,100,1,1.00,0,0", "2026-03-08 02:00,O1,L1,200,2,2.00,0,0",
            "2026-03-08 03:00,O1,L1,300,3,3.00,0,0"]  # fmt: skip
    sink, report = run(dsp_spec(), write(tmp_path, "h.csv", "\n".join([DSP_HEADER, *rows])))
    assert report.passed and report.rows_loaded == 2 and report.dst["nonexistent_rows"] == 1
    [q] = sink.quarantine_table().to_pylist()
    assert q["line"] == 3
    assert q["reason"] == (
        "date: '2026-03-08 02:00' does not exist in America/New_York (the clocks went forward over it)"
    )
    assert sink.result()["spend"].to_pylist() == [Decimal("4.0000")]


def test_an_offset_in_the_timestamp_says_which_hour_it_is(tmp_path):
    rows = ["2026-11-01 01:00-0400,O1,L1,200,2,2.00,0,0", "2026-11-01 01:00-0500,O1,L1,400,4,4.00,0,0"]
    spec = dsp_spec(date={"column": "report_hour", "format": "%Y-%m-%d %H:%M%z"})
    _, report = run(spec, write(tmp_path, "h.csv", "\n".join([DSP_HEADER, *rows])))
    assert report.passed and report.duplicate_keys == 0 and report.dst["rule"].startswith("the UTC offset")
    assert report.dst["ambiguous_rows"] == 0


def test_date_and_hour_in_two_columns(tmp_path):
    header = "date,hour,campaign_id,line_item_id,impressions,clicks,cost,sales,units"
    rows = [
        "2026-11-01,01,O1,L1,200,2,2.00,0,0",
        "2026-11-01,01,O1,L1,400,4,4.00,0,0",
        "2026-11-01,23,O1,L1,1,0,1.00,0,0",
    ]  # fmt: skip  23:00 EST = 04:00Z on the 2nd
    spec = dsp_spec(date={"column": "date", "time_column": "hour", "format": "%Y-%m-%d %H"})
    sink, report = run(spec, write(tmp_path, "h.csv", "\n".join([header, *rows])))
    assert report.passed and report.duplicate_keys == 0
    assert sorted((str(f["date"]), f["spend"]) for f in sink.result().to_pylist()) == [
        ("2026-11-01", Decimal("6.0000")), ("2026-11-02", Decimal("1.0000"))
    ]  # fmt: skip


# --- point 4: blank cells ----------------------------------------------------------------------------------------


def test_blank_metric_cells_are_zero_and_a_blank_key_is_missing(tmp_path):
    rows = ["2026-11-02,C1,AG1,AD1,B001,1000,,,,", "2026-11-02,C1,AG1,AD2,B002,  ,3,3.00, ,",
            "2026-11-02,,AG1,AD3,B003,10,1,1.00,2.00,1"]  # fmt: skip
    sink, report = run(amazon_spec(quality={"max_quarantine_rate": 0.5}),
                       write(tmp_path, "a.csv", "\n".join([AMZ_HEADER, *rows])))  # fmt: skip
    assert report.rows_loaded == 2 and report.rows_quarantined == 1
    facts = {r["sku_ref"]: r for r in sink.result().to_pylist()}
    assert (facts["B001"]["impressions"], facts["B001"]["clicks"], facts["B001"]["spend"]) == (1000, 0, Decimal(0))
    assert (facts["B002"]["impressions"], facts["B002"]["attributed_sales"]) == (0, Decimal(0))
    assert sink.quarantine_table()["reason"].to_pylist() == ["campaign_id: missing value"]


def test_blank_missing_keeps_a_metric_strict(tmp_path):
    spec = make_spec(columns={"clicks": {"source": "clicks", "blank": "missing"}}, quality={"max_quarantine_rate": 1})
    sink, _ = run(spec, write(tmp_path, "a.csv", f"{AMZ_HEADER}\n" + "2026-11-02,C1,AG1,AD1,B001,1000,,1,1,1"))
    assert sink.quarantine_table()["reason"].to_pylist() == ["clicks: missing value"]


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ({"campaign_id": {"source": "campaignId", "blank": "zero"}}, "only a metric .* may read a blank cell as zero"),
        ({"clicks": {"source": "clicks", "blank": "empty"}}, "'empty' is not one of zero, missing"),
        ({"clicks": {"source": "clicks", "blank": "zero", "default": 1}}, "give blank: zero or a default"),
    ],
)
def test_blank_is_checked_when_the_mapping_is_read(column, message):
    with pytest.raises(MappingError, match=message):
        make_spec(columns=column)


# --- point 7: line numbers, truncated files, quarantine files ----------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_quarantine_lines_are_physical_lines_past_blank_lines(tmp_path, gz):
    lines = [AMZ_HEADER, AMZ_ROWS[0], "", "", AMZ_ROWS[1], "", "2026-11-0x,C1,AG1,AD3,B002,1,0,0,0,0", "short,row"]
    text = "\r\n".join(lines) + "\r\n"
    path = tmp_path / ("a.csv.gz" if gz else "a.csv")
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    sink, report = run(amazon_spec(quality={"max_quarantine_rate": 1.0}), path, chunk_rows=1)
    got = sorted((q["line"], q["reason"]) for q in sink.quarantine_table().to_pylist())
    assert got == [(7, "date: '2026-11-0x' does not match %Y-%m-%d"), (8, "row has 2 columns, the header has 10")]
    assert report.passed  # ended with a line break: a short row, not a cut file


def test_a_file_cut_mid_row_is_refused_as_truncated(tmp_path):
    text = "\n".join([AMZ_HEADER, *AMZ_ROWS, "2026-11-03,C1,AG1,AD1,B0"])
    out = tmp_path / "out" / "facts.parquet"
    sink = ParquetSink(out, quarantine_path=tmp_path / "out" / "q.csv")
    _, report = run(amazon_spec(quality={"max_quarantine_rate": 0.5}), write(tmp_path, "a.csv", text), sink)
    assert not report.passed
    assert report.failures[0] == (
        "a.csv looks truncated: the last line (5) stops after 5 of 10 columns with no line break: the download or "
        "copy was cut short. Nothing was loaded; fetch the file again."
    )
    assert not out.exists()


def test_an_unreadable_file_leaves_no_quarantine_file(tmp_path):
    out = tmp_path / "out" / "facts.parquet"
    sink = ParquetSink(out, quarantine_path=tmp_path / "out" / "q.csv")
    with pytest.raises(SourceError):
        run(amazon_spec(), write(tmp_path, "a.csv", "date;campaignId\n2026-11-02;C1\n"), sink)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_a_refused_batch_keeps_its_quarantined_rows_and_writes_no_output(tmp_path):
    text = "\n".join([AMZ_HEADER, *AMZ_ROWS, "2026-11-02,C1,AG1,AD9,B009,1,x,0,0,0"])
    out, qpath = tmp_path / "facts.parquet", tmp_path / "q.csv"
    _, report = run(amazon_spec(quality={"max_quarantine_rate": 0.1}), write(tmp_path, "a.csv", text),
                    ParquetSink(out, quarantine_path=qpath))  # fmt: skip
    assert not report.passed and not out.exists()
    lines = qpath.read_text().splitlines()
    assert lines[1].startswith("5,clicks,clicks: 'x' is not a number,2026-11-02,C1,AG1,AD9,B009")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "q.csv"]


def test_a_gzip_download_cut_short_is_refused_as_truncated(tmp_path):
    text = "\n".join([AMZ_HEADER, *AMZ_ROWS * 3000]) + "\n"
    data = gzip.compress(text.encode())
    path = tmp_path / "a.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    sink = MemorySink()
    with pytest.raises(SourceError, match=r"a.csv.gz looks truncated: the gzip stream ends early"):
        run(amazon_spec(), path, sink)
    assert "commit" not in sink.calls


def test_blank_lines_are_found_wherever_a_read_cuts_the_text():
    from harmonization.engine.readers import _Throttle

    class Pieces:
        def __init__(self, parts):
            self.parts = list(parts)

        def read(self, size=-1):
            return self.parts.pop(0) if self.parts else b""

    text = b"h\na\n\nb\r\n\r\nc\n\n"  # blank lines 3 (LF), 5 (CRLF) and 7
    for cut in range(1, len(text)):
        stream = _Throttle(Pieces([text[:cut], text[cut:]]), block=1 << 20)
        while stream.read(1 << 20):
            pass
        assert (stream.blank_lines, stream.newlines) == ([3, 5, 7], 7), cut


def test_parquet_local_timestamps_follow_the_same_rules(tmp_path):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    hours = [dt.datetime(2026, 11, 1, 1), dt.datetime(2026, 11, 1, 1), dt.datetime(2026, 3, 8, 2, 30)]
    table = pa.table({
        "report_hour": pa.array(hours, pa.timestamp("s")), "campaign_id": ["O1"] * 3, "line_item_id": ["L1"] * 3,
        "impressions": [200, 400, 9], "clicks": [2, 4, 0], "cost": [2.0, 4.0, 1.0], "sales": [0.0] * 3,
        "units": [0] * 3,
    })  # fmt: skip
    path = tmp_path / "h.parquet"
    pq.write_table(table, path)
    spec = dsp_spec()
    spec = make_spec(**{k: v for k, v in spec.raw.items() if k not in ("version", "name", "retailer", "source")},
                     source={"format": "parquet", "timezone": "America/New_York"}, sku=None)  # fmt: skip
    sink, report = run(spec, path)
    assert report.duplicate_keys == 0 and report.rows_loaded == 2
    assert (report.dst["ambiguous_rows"], report.dst["read_as_standard_time"], report.dst["nonexistent_rows"]) == (
        2,
        1,
        1,
    )
    assert sink.result()["spend"].to_pylist() == [Decimal("6.0000")]

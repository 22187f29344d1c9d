"""Bounds on one run's input (InputLimits) and the early stop when a batch can no longer pass."""

from __future__ import annotations

import gzip
import io
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harmonization.engine import (
    Harmonizer,
    InputLimits,
    Lookups,
    MemorySink,
    SourceError,
    check_header_width,
)
from harmonization.engine.readers import header_width

from .conftest import HEADER, make_spec, write

GOOD = "2025-03-10,C1,B1,1,0,1,0,0"
BAD = "2025-03-10,C1,B1,1,x,1,0,0"  # clicks 'x': quarantined
LOOKUPS = Lookups("USD", resolve_skus=False)


def _gzip(tmp_path, name: str, rows: int, row: str = GOOD):
    path = tmp_path / name
    block = (row + "\n").encode() * 100_000
    with gzip.open(path, "wb") as f:
        f.write(HEADER.encode() + b"\n")
        for _ in range(rows // 100_000):
            f.write(block)
    return path


def _wide(columns: int) -> bytes:
    return (",".join(f"c{i}" for i in range(columns)) + "\n" + "1,2,3\n").encode()


# --- rows ------------------------------------------------------------------------------------------------------------


def test_a_small_gzip_of_millions_of_tiny_rows_stops_at_the_row_limit_in_bounded_time(tmp_path):
    path = _gzip(tmp_path, "many.csv.gz", 5_000_000)
    assert path.stat().st_size < 2_000_000  # 5M rows, 135 MB decompressed, in a few hundred KB
    sink = MemorySink()
    started = time.perf_counter()
    limits = InputLimits(max_rows=200_000, rows_note="the test's limit")
    with pytest.raises(SourceError) as info:
        Harmonizer(make_spec(), LOOKUPS, limits=limits).run(path, sink)
    seconds = time.perf_counter() - started
    print(f"5,000,000-row gzip ({path.stat().st_size:,} bytes) stopped at the 200,000-row limit in {seconds:.2f} s")
    message = str(info.value)
    assert message.startswith("many.csv.gz: more than 200,000 rows (counted decompressed); at most 200,000 (the test's")
    read = int(message.split("after row ")[1].split(";")[0].replace(",", ""))
    assert read <= 200_000
    assert "commit" not in sink.calls and sink.calls[-1] == "abort"


def test_a_file_within_the_row_limit_loads(tmp_path):
    path = write(tmp_path, "a.csv", "\n".join([HEADER, *[GOOD] * 10]))
    sink = MemorySink()
    report = Harmonizer(make_spec(), LOOKUPS, chunk_rows=3, limits=InputLimits(max_rows=10)).run(path, sink)
    assert report.passed and report.rows_read == 10 and sink.calls[-1] == "commit"


def test_parquet_and_json_rows_are_counted_before_reading_them(tmp_path):
    columns = HEADER.split(",")
    table = pa.table({c: [v] * 50 for c, v in zip(columns, GOOD.split(","), strict=True)})
    pq.write_table(table, tmp_path / "a.parquet")
    spec = make_spec(source={"format": "parquet"})
    with pytest.raises(SourceError, match=r"a.parquet: 50 rows; at most 49"):
        Harmonizer(spec, LOOKUPS, limits=InputLimits(max_rows=49)).run(tmp_path / "a.parquet", MemorySink())
    with pytest.raises(SourceError, match=r"a.parquet: 8 columns; at most 7"):
        Harmonizer(spec, LOOKUPS, limits=InputLimits(max_columns=7)).run(tmp_path / "a.parquet", MemorySink())


# --- header columns --------------------------------------------------------------------------------------------------


def test_a_million_column_header_is_refused_in_well_under_a_second(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_bytes(_wide(1_000_000))
    started = time.perf_counter()
    with pytest.raises(SourceError) as info:
        Harmonizer(make_spec(), LOOKUPS, limits=InputLimits(max_columns=500)).run(path, MemorySink())
    seconds = time.perf_counter() - started
    print(f"1,000,000-column header ({path.stat().st_size:,} bytes) refused by the run in {seconds:.3f} s")
    assert str(info.value).startswith("wide.csv: the header has more than ") and "at most 500" in str(info.value)

    # The same check on an upload's stream, gzipped, reads at most 1 MiB of it.
    stream = io.BytesIO(gzip.compress(_wide(1_000_000)))
    started = time.perf_counter()
    with pytest.raises(SourceError, match="the header has more than"):
        check_header_width(stream, make_spec().source, name="wide.csv.gz", limits=InputLimits(max_columns=500))
    assert stream.tell() < 1_000_000  # it stopped reading: the time is printed above, not asserted (shared CI)


def test_without_a_column_limit_a_header_too_long_to_read_is_named_not_misread(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_bytes(_wide(1_000_000))
    with pytest.raises(SourceError, match="the header line does not end within the first 1,024 KiB"):
        Harmonizer(make_spec(), LOOKUPS).run(path, MemorySink())


def test_a_header_within_the_limit_passes_and_quoted_delimiters_are_not_columns(tmp_path):
    text = HEADER.replace("campaignId", '"campaign, id"') + "\n"
    assert header_width(text, delimiter=",", quote='"') == (8, True)
    assert header_width('a,"b "",c",d', delimiter=",", quote='"') == (3, False)
    assert header_width("title\na,b,c\n", delimiter=",", quote='"', header_row=2) == (3, True)
    path = write(tmp_path, "a.csv", "\n".join([HEADER, GOOD]))
    report = Harmonizer(make_spec(), LOOKUPS, limits=InputLimits(max_columns=8)).run(path, MemorySink())
    assert report.passed
    with pytest.raises(SourceError, match=r"a\.csv: the header has 8 columns; at most 7"):
        Harmonizer(make_spec(), LOOKUPS, limits=InputLimits(max_columns=7)).run(path, MemorySink())


# --- early abort -----------------------------------------------------------------------------------------------------


def test_a_batch_that_can_no_longer_pass_stops_reading(tmp_path):
    total = 50_000
    rows = [BAD] * 10_000 + [GOOD] * (total - 10_000)  # the first 10,000 rows all quarantine
    path = write(tmp_path, "bad.csv", "\n".join([HEADER, *rows]) + "\n")
    spec = make_spec(quality={"max_quarantine_rate": 0.05})
    sink = MemorySink()
    report = Harmonizer(spec, LOOKUPS, chunk_rows=1000, limits=InputLimits(max_rows=60_000)).run(path, sink)
    assert report.stopped_early and not report.passed
    assert report.rows_read < total and report.rows_read == report.rows_quarantined
    assert report.rows_quarantined > 0.05 * 60_000  # just past what the most rows the file may hold allow
    assert report.rows_read <= 0.05 * 60_000 + 2 * 1000
    assert report.failures[0].startswith(
        f"stopped reading after row {report.rows_read:,} (at most 60,000 rows may come, the row limit): "
        "max_quarantine_rate cannot end at or below 0.05 whatever the remaining rows hold"
    )
    assert "commit" not in sink.calls and sink.calls[-1] == "abort"
    assert report.to_dict()["stopped_early"] is True


def test_parquet_stops_early_on_its_own_row_count_and_a_recoverable_start_reads_on(tmp_path):
    columns = HEADER.split(",")

    def parquet(name, bad, good):
        values = [row.split(",") for row in [BAD] * bad + [GOOD] * good]
        pq.write_table(pa.table({c: [v[i] for v in values] for i, c in enumerate(columns)}), tmp_path / name)
        return tmp_path / name

    spec = make_spec(source={"format": "parquet"}, quality={"max_quarantine_rate": 0.05})
    report = Harmonizer(spec, LOOKUPS, chunk_rows=500).run(parquet("bad.parquet", 2_000, 18_000), MemorySink())
    assert report.stopped_early and report.rows_read < 20_000
    assert "(the file holds 20,000 rows)" in report.failures[0]

    # 500 bad rows of 20,000 (2.5%) can still pass: everything is read and the batch loads.
    report = Harmonizer(spec, LOOKUPS, chunk_rows=500).run(parquet("ok.parquet", 500, 19_500), MemorySink())
    assert report.passed and not report.stopped_early and report.rows_read == 20_000


def test_bad_rows_at_the_end_are_judged_as_before(tmp_path):
    rows = [GOOD] * 20 + [BAD] * 5
    path = write(tmp_path, "late.csv", "\n".join([HEADER, *rows]))
    spec = make_spec(quality={"max_quarantine_rate": 0.05})
    report = Harmonizer(spec, LOOKUPS, chunk_rows=5, limits=InputLimits(max_rows=30)).run(path, MemorySink())
    assert report.rows_read == 25 and not report.stopped_early
    assert report.failures == [
        "max_quarantine_rate: 0.2000 is above the limit 0.05 (first quarantined: line 22: clicks: 'x' is not a number; "
        "line 23: clicks: 'x' is not a number; line 24: clicks: 'x' is not a number)"
    ]

"""CSV read in many small pyarrow blocks: chunks cut across blocks keep every row's line number, broken rows theirs."""

import pytest

from harmonization.engine import Harmonizer, Lookups, MemorySink
from harmonization.engine.readers import CsvReader, open_source

from .conftest import HEADER, make_spec, write

ROWS = 6000
BROKEN = {2500, 2501, 4000}  # lines with too few cells (the header is line 1)
BAD_VALUE = 4500  # a line the transform quarantines (clicks not a number)


def big_csv(tmp_path):
    lines = [HEADER]
    for line in range(2, ROWS + 2):
        if line in BROKEN:
            lines.append(f"2025-03-10,C{line % 7},B00{line % 5}")
        else:
            clicks = "abc" if line == BAD_VALUE else str(line % 3)
            # impressions = the row's own line number, so each row says where it came from
            lines.append(f"2025-03-{10 + line % 5},C{line % 7},B00{line % 5},{line},{clicks},1.25,2.50,1")
    return write(tmp_path, "big.csv", "\n".join(lines) + "\n")


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(CsvReader, "BLOCK_MIN", 16 << 10)
    monkeypatch.setattr(CsvReader, "BLOCK_MAX", 16 << 10)


def test_chunks_cut_across_small_blocks_keep_line_numbers_and_ramp_up(tmp_path, small_blocks):
    spec = make_spec()
    reader = open_source(big_csv(tmp_path), spec.source, 1000, spec.used_columns, spec.date.column)
    assert reader.block_size == 16 << 10  # about 440 rows a block, so 14 blocks
    sizes, broken = [], []
    for chunk in reader:
        sizes.append(chunk.table.num_rows)
        assert chunk.lines.tolist() == [int(v) for v in chunk.table["impressions"].to_pylist()]
        broken += [(line, reason) for line, reason, _ in chunk.broken]
    reader.close()
    assert broken == [(line, "row has 3 columns, the header has 8") for line in sorted(BROKEN)]
    assert sum(sizes) == ROWS - len(BROKEN)
    # the first chunk is one block; each next one doubles, up to chunk_rows
    assert 400 < sizes[0] < 500
    assert sizes[:3] == [sizes[0], 2 * sizes[0], 1000]
    assert max(sizes) == 1000
    assert all(size == 1000 for size in sizes[2:-1])


def run(path, chunk_rows):
    sink = MemorySink()
    report = Harmonizer(make_spec(), Lookups("USD", resolve_skus=False), chunk_rows=chunk_rows).run(path, sink)
    return sink, report


def test_small_blocks_give_the_same_result_and_quarantine_as_one_block(tmp_path, monkeypatch):
    path = big_csv(tmp_path)
    one_sink, one_report = run(path, 200_000)  # the whole file is one block and one chunk
    monkeypatch.setattr(CsvReader, "BLOCK_MIN", 16 << 10)
    monkeypatch.setattr(CsvReader, "BLOCK_MAX", 16 << 10)
    many_sink, many_report = run(path, 700)
    quarantine = sorted((r["line"], r["reason"]) for r in many_sink.quarantine_table().to_pylist())
    assert quarantine == [
        (2500, "row has 3 columns, the header has 8"),
        (2501, "row has 3 columns, the header has 8"),
        (4000, "row has 3 columns, the header has 8"),
        (4500, "clicks: 'abc' is not a number"),
    ]
    assert quarantine == sorted((r["line"], r["reason"]) for r in one_sink.quarantine_table().to_pylist())
    key = ["date", "campaign_id", "sku_ref"]
    assert (
        many_sink.result()
        .sort_by([(k, "ascending") for k in key])
        .equals(one_sink.result().sort_by([(k, "ascending") for k in key]))
    )
    expected = sum(line for line in range(2, ROWS + 2) if line not in BROKEN and line != BAD_VALUE)
    assert sum(many_sink.result()["impressions"].to_pylist()) == expected
    assert (many_report.rows_read, many_report.rows_loaded, many_report.rows_quarantined) == (ROWS, ROWS - 4, 4)
    assert (one_report.rows_read, one_report.rows_loaded) == (many_report.rows_read, many_report.rows_loaded)

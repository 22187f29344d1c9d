"""A run without exchange rates keeps every amount in its row's own currency (harmonize --output, issue 16 point 6),
also where rows of one key are summed across chunks."""

from __future__ import annotations

from decimal import Decimal

import pyarrow.parquet as pq

from harmonization.engine import Harmonizer, Lookups, ParquetSink

from .conftest import HEADER, make_spec, write

ROWS = [
    # the same key (C1, B1, day) twice, far apart, in euros; a dollar row between them
    "2025-03-10,C1,B000000001,100,4,10.00,20.00,1,EUR",
    "2025-03-10,C2,B000000002,100,4,5.00,7.00,1,USD",
    "2025-03-10,C1,B000000001,50,2,2.50,3.00,1,EUR",
]


def test_kept_currencies_survive_the_merge_of_chunks(tmp_path):
    path = write(tmp_path, "a.csv", HEADER + ",currency\n" + "\n".join(ROWS) + "\n")
    spec = make_spec(columns={"currency": {"source": "currency"}})
    lookups = Lookups("USD", resolve_skus=False, keep_currency=True)
    out = tmp_path / "out.parquet"
    report = Harmonizer(spec, lookups, chunk_rows=1).run(path, ParquetSink(out))
    assert report.passed and report.rows_loaded == 3
    rows = {r["campaign_id"]: r for r in pq.read_table(out).to_pylist()}
    assert (rows["C1"]["currency"], rows["C1"]["spend"], rows["C1"]["source_rows"]) == ("EUR", Decimal("12.5"), 2)
    assert (rows["C2"]["currency"], rows["C2"]["spend"]) == ("USD", Decimal(5))
    assert {r["fx_rate"] for r in rows.values()} == {Decimal(1)}


def test_without_keep_a_currency_without_a_rate_is_still_quarantined(tmp_path):
    path = write(tmp_path, "a.csv", HEADER + ",currency\n" + "\n".join(ROWS) + "\n")
    spec = make_spec(columns={"currency": {"source": "currency"}}, quality={"max_quarantine_rate": 1.0})
    out = tmp_path / "out.parquet"
    report = Harmonizer(spec, Lookups("USD", resolve_skus=False)).run(path, ParquetSink(out))
    assert report.rows_loaded == 1 and report.quarantine_reasons == {"currency:no_fx_rate": 2}

"""Files as the retailers write them, from the independent generator (harmonization/tests/realworld), through the
``harmonize`` command, against the generator's own truth (issue 16 points 1, 2, 7). And a refused batch's
quarantined rows, downloadable on the page and through the API."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from django.core.management import CommandError, call_command
from django.urls import reverse

from harmonization.models import IngestBatch
from harmonization.services import ingest_file, mapping_resolve, mappings_dir
from harmonization.tests import files
from harmonization.tests.realworld.generate import write_case
from rmn_site.tests.api_support import API, client_for

CENT = Decimal("0.01")
METRICS = ("spend", "impressions", "clicks", "attributed_sales", "attributed_units")


def harmonize(mapping: str | Path, source: Path, output: Path) -> dict:
    out = io.StringIO()
    call_command("harmonize", "--retailer-mapping", str(mapping), "--input", str(source), "--output", str(output),
                 "--no-progress", stdout=out, stderr=io.StringIO())  # fmt: skip
    return json.loads(out.getvalue())


def case(tmp_path: Path, name: str) -> tuple[Path, dict]:
    truth = write_case(name, tmp_path / name)
    [source] = [tmp_path / name / f for f in truth["files"]]
    return source, truth


def totals(table) -> dict:
    out = {m: sum(table[m].to_pylist(), Decimal(0) if m in ("spend", "attributed_sales") else 0) for m in METRICS}
    return {m: (v.quantize(CENT) if isinstance(v, Decimal) else v) for m, v in out.items()}


def expected(values: dict) -> dict:
    return {m: Decimal(str(values[m])).quantize(CENT) if m in ("spend", "attributed_sales") else values[m]
            for m in METRICS if m in values}  # fmt: skip


def derived_mapping(tmp_path: Path, shipped: str, change) -> Path:
    """A shipped mapping with one change for a layout variant (the test says which and why)."""
    doc = yaml.safe_load((mappings_dir() / f"{shipped}.yaml").read_text())
    change(doc)
    path = tmp_path / f"{shipped}_variant.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def amazon_tool_csv(tmp_path: Path) -> Path:
    """The v3 spAdvertisedProduct columns as a tool's CSV: it drops campaignBudgetCurrencyCode (a US account)."""

    def change(doc):
        doc["source"] = {"format": "csv", "compression": "auto", "timezone": "America/Los_Angeles"}
        doc["columns"]["currency"] = {"constant": "USD"}

    return derived_mapping(tmp_path, "amazon_sp_advertised_product", change)


# --- point 2: the DSP hourly report over both clock changes -------------------------------------------------------


def test_the_autumn_night_loads_both_one_oclock_hours(tmp_path):
    source, truth = case(tmp_path, "amazon_dsp_hourly_autumn_dst")
    out = tmp_path / "out.parquet"
    report = harmonize("amazon_dsp_line_item_hourly", source, out)
    assert report["passed"] and report["duplicate_keys"] == 0 and report["rows_loaded"] == truth["totals"]["rows"]
    table = pq.read_table(out)
    assert totals(table) == expected(truth["totals"])
    by_utc_day: dict[str, dict] = defaultdict(lambda: defaultdict(Decimal))
    for hour, values in truth["by_utc_hour"].items():
        for m, v in values.items():
            by_utc_day[hour[:10]][m] += Decimal(str(v))
    loaded: dict[str, dict] = defaultdict(lambda: defaultdict(Decimal))
    for row in table.to_pylist():
        for m in by_utc_day[str(row["date"])]:
            loaded[str(row["date"])][m] += Decimal(row[m])
    assert {d: {m: v.quantize(CENT) for m, v in ms.items()} for d, ms in loaded.items()} == {
        d: {m: v.quantize(CENT) for m, v in ms.items()} for d, ms in by_utc_day.items()
    }
    dst = report["dst"]
    assert (dst["time_zone"], dst["ambiguous_rows"], dst["read_as_standard_time"]) == ("America/New_York", 4, 2)
    assert "file order" in dst["rule"]


def test_the_spring_night_quarantines_the_hour_that_does_not_exist(tmp_path):
    source, truth = case(tmp_path, "amazon_dsp_hourly_spring_dst")
    out = tmp_path / "out.parquet"
    report = harmonize("amazon_dsp_line_item_hourly", source, out)
    assert report["passed"] and report["dst"]["nonexistent_rows"] == 1
    assert totals(pq.read_table(out)) == expected(truth["totals"])
    assert [e["line"] for e in report["quarantine_examples"]] == truth["bad_lines"]
    assert all(k in report["quarantine_examples"][0]["reason"] for k in truth["reason_keywords"])


# --- point 1: row grain -----------------------------------------------------------------------------------------


def test_walmart_items_in_two_ad_groups_load_summed(tmp_path):
    # this snapshot layout names the 14-day total attributedSales14days (advertisedSkuSales14days +
    # otherSkuSales14days): the shipped walmart_sponsored_search_item_total mapping reads it
    source, truth = case(tmp_path, "walmart_api_aditem")
    out = tmp_path / "out.parquet"
    report = harmonize(mappings_dir() / "walmart_sponsored_search_item_total.yaml", source, out)
    assert report["passed"] and report["duplicate_keys"] == 0 and report["unmapped_columns"] == []
    table = pq.read_table(out)
    assert totals(table) == expected(truth["totals"])
    assert max(table["source_rows"].to_pylist()) == 2  # the item of two ad groups: one RMIS row


def test_a_source_row_sent_twice_is_refused_naming_its_lines(tmp_path):
    source, truth = case(tmp_path, "true_duplicate_rows")
    out = tmp_path / "out.parquet"
    with pytest.raises(CommandError) as caught:
        harmonize(amazon_tool_csv(tmp_path), source, out)
    message = str(caught.value)
    assert "max_duplicate_key_rate" in message and "the same source row twice" in message
    for line in truth["bad_lines"]:
        assert f"line {line} repeats line" in message
    assert not out.exists()


# --- point 7: files cut short, blank lines ------------------------------------------------------------------------


def test_a_cut_download_is_refused_as_truncated(tmp_path):
    source, truth = case(tmp_path, "truncated_csv")
    out = tmp_path / "out.parquet"
    with pytest.raises(CommandError, match=rf"looks truncated: the last line \({truth['bad_lines'][0]}\)"):
        harmonize(amazon_tool_csv(tmp_path), source, out)
    assert not out.exists()


def test_blank_lines_keep_the_bad_rows_physical_line_number(tmp_path):
    source, truth = case(tmp_path, "blank_lines_then_bad_row")
    out = tmp_path / "out.parquet"
    report = harmonize(amazon_tool_csv(tmp_path), source, out)
    assert report["passed"] and totals(pq.read_table(out)) == expected(truth["totals"])
    assert [e["line"] for e in report["quarantine_examples"]] == truth["bad_lines"]
    quarantined = Path(report["quarantine_file"]).read_text().splitlines()
    assert [row.split(",")[0] for row in quarantined[1:]] == [str(n) for n in truth["bad_lines"]]


# --- a refused batch keeps its quarantined rows: on the page and through the API ------------------------------


@pytest.fixture
def refused_batch(tmp_path, catalog, tenants):
    mapping_file, data = files.write(tmp_path, max_quarantine_rate=0.1)
    batch = ingest_file(tenant=tenants["acme"], spec=mapping_resolve(str(mapping_file)), path=data)
    assert batch.status == IngestBatch.Status.FAILED and batch.error.startswith("quality thresholds failed")
    return batch


def test_a_refused_batch_names_its_bad_line_and_keeps_the_rows(refused_batch):
    # no EUR rate is stored, so the EUR row (line 5) waits in quarantine beside the row whose cost is "abc"
    assert "line 5: currency: no EUR→USD rate on or before 2026-04-02; line 6: spend: 'abc' is not a number" in (
        refused_batch.error
    )
    assert [e["line"] for e in refused_batch.report["quarantine_examples"]] == [5, 6]
    assert refused_batch.quarantine_file


def test_the_page_and_the_api_serve_a_refused_batchs_quarantined_rows(client, personas, refused_batch):
    client.force_login(personas["reviewer"])
    page = client.get(reverse("import_detail", args=[refused_batch.pk]))
    assert reverse("import_quarantine", args=[refused_batch.pk]) in page.content.decode()
    download = client.get(reverse("import_quarantine", args=[refused_batch.pk]))
    from_page = b"".join(download.streaming_content).decode().splitlines()
    response = client_for(personas["reviewer"]).get(f"{API}/ingest-batches/{refused_batch.pk}/quarantine/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    from_api = b"".join(response.streaming_content).decode().splitlines()
    assert from_api == from_page and len(from_api) == 3
    assert sorted(row.split(",")[0] for row in from_api[1:]) == ["5", "6"]


def test_the_api_hides_another_tenants_quarantined_rows(personas, refused_batch):
    response = client_for(personas["stranger"]).get(f"{API}/ingest-batches/{refused_batch.pk}/quarantine/")
    assert response.status_code == 404


def test_the_api_says_when_a_batch_quarantined_nothing(personas, tenants):
    batch = IngestBatch.objects.create(tenant=tenants["acme"], source="x.csv", status="succeeded",
                                       finished_at=dt.datetime.now(dt.UTC))  # fmt: skip
    response = client_for(personas["reviewer"]).get(f"{API}/ingest-batches/{batch.pk}/quarantine/")
    assert response.status_code == 404 and "quarantined no rows" in response.content.decode()

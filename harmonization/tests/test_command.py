"""manage.py harmonize and load_fx_rates, end to end on tiny files."""

import datetime as dt
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db.models import Sum

from campaigns.models import Campaign, PerformanceFact
from harmonization.models import FXRate, IngestBatch
from harmonization.tests import files

FOUR = Decimal("0.0001")
APRIL = dt.date(2026, 4, 1)


@pytest.fixture
def eur_rate(db):
    return FXRate.objects.create(date=dt.date(2026, 3, 31), currency="EUR", quote_currency="USD", rate=files.EUR_RATE)


def harmonize(*args) -> tuple[dict, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("harmonize", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


def april_facts(tenant):
    return PerformanceFact.objects.filter(tenant=tenant, date__gte=APRIL)


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(FOUR)


def test_it_loads_a_file_into_the_tenant_and_prints_the_report(tmp_path, catalog, tenants, eur_rate):
    acme = tenants["acme"]
    mapping, data = files.write(tmp_path)
    report, progress = harmonize("--retailer-mapping", str(mapping), "--input", str(data), "--tenant", "acme")

    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"], report["facts"]) == (5, 4, 1, 4)
    assert report["passed"] is True
    assert list(report["quarantine_reasons"].values()) == [1]
    assert "100.0%" in progress and "5 rows read" in progress
    facts = april_facts(acme)
    assert facts.count() == 4
    sums = facts.aggregate(spend=Sum("spend"), sales=Sum("attributed_sales"))
    assert money(sums["spend"]) == Decimal(files.LOADED_SPEND_USD)
    assert money(sums["sales"]) == Decimal(files.LOADED_SALES_USD)
    euro = facts.get(campaign__external_id="EU-1")
    assert (euro.original_currency, money(euro.original_spend), money(euro.spend)) == (
        "EUR",
        Decimal("10"),
        Decimal("11"),
    )
    assert Campaign.objects.get(tenant=acme, external_id="SP-NEW-1").brand == catalog["acme"]["skus"][1].brand
    batch = IngestBatch.objects.get(tenant=acme, source="export.csv")
    assert batch.status == IngestBatch.Status.SUCCEEDED and batch.rows_quarantined == 1
    assert batch.quarantine_file and "abc" in batch.quarantine_file.read().decode()


def test_running_it_twice_leaves_the_same_rows(tmp_path, catalog, tenants, eur_rate):
    mapping, data = files.write(tmp_path)
    args = ("--retailer-mapping", str(mapping), "--input", str(data), "--tenant", "acme", "--no-progress")
    harmonize(*args)
    first = sorted(april_facts(tenants["acme"]).values_list("campaign__external_id", "sku", "date", "spend"))
    harmonize(*args)
    assert sorted(april_facts(tenants["acme"]).values_list("campaign__external_id", "sku", "date", "spend")) == first
    assert len(first) == 4


def test_it_writes_parquet_without_a_tenant(tmp_path, db):
    mapping, data = files.write(tmp_path)
    out = tmp_path / "out.parquet"
    usd_only = "\n".join(line for line in files.CSV.splitlines() if "EUR" not in line) + "\n"
    data.write_text(usd_only)
    report, _ = harmonize("--retailer-mapping", str(mapping), "--input", str(data), "--output", str(out))

    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"]) == (4, 3, 1)
    rows = pq.read_table(out).to_pylist()
    assert len(rows) == 3
    assert {r["currency"] for r in rows} == {"USD"}
    assert all(r["sku_id"] is None for r in rows)  # no tenant catalog to resolve against
    assert {r["sku_ref"] for r in rows} == {"acme-sku-0", "acme-sku-1"}
    assert sum(r["spend"] for r in rows) == Decimal("40.0000")
    assert "abc" in (tmp_path / "out.quarantine.csv").read_text()
    assert not IngestBatch.objects.exists()


def test_with_a_tenant_and_output_it_resolves_skus_and_writes_only_parquet(tmp_path, catalog, tenants, eur_rate):
    before = PerformanceFact.objects.count()
    mapping, data = files.write(tmp_path)
    out = tmp_path / "out.parquet"
    report, _ = harmonize(
        "--retailer-mapping", str(mapping), "--input", str(data), "--tenant", "acme", "--output", str(out)
    )
    rows = pq.read_table(out).to_pylist()
    assert (report["facts"], len(rows)) == (4, 4)
    assert {r["sku_id"] for r in rows} == {s.pk for s in catalog["acme"]["skus"]}
    assert sum(r["spend"] for r in rows) == Decimal(files.LOADED_SPEND_USD)
    assert PerformanceFact.objects.count() == before
    batch = IngestBatch.objects.exclude(source="conftest").get()
    assert batch.source == "export.csv -> out.parquet (Parquet, not loaded)" and batch.quarantine_file


def test_failed_thresholds_fail_the_command_and_write_nothing(tmp_path, catalog, tenants, eur_rate):
    before = list(PerformanceFact.objects.order_by("pk").values_list("pk", "spend"))
    mapping, data = files.write(tmp_path, max_quarantine_rate=0.1)
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"failed: quality thresholds failed: .*quarantine"):
        call_command(
            "harmonize", "--retailer-mapping", str(mapping), "--input", str(data), "--tenant", "acme",
            "--no-progress", stdout=out,
        )  # fmt: skip
    assert json.loads(out.getvalue())["passed"] is False
    assert list(PerformanceFact.objects.order_by("pk").values_list("pk", "spend")) == before
    assert not Campaign.objects.filter(external_id="SP-NEW-1").exists()
    assert IngestBatch.objects.get(source="export.csv").status == IngestBatch.Status.FAILED


def test_a_malformed_file_is_a_one_line_error(tmp_path, catalog, tenants):
    before = PerformanceFact.objects.count()
    mapping, data = files.write(tmp_path, csv=files.CSV.replace(",", ";"))
    with pytest.raises(CommandError, match=r"missing required column.*delimiter ';'") as caught:
        harmonize("--retailer-mapping", str(mapping), "--input", str(data), "--tenant", "acme", "--no-progress")
    assert "\n" not in str(caught.value)
    assert PerformanceFact.objects.count() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "{data}", "--tenant", "nope"], "no tenant with slug 'nope'"),
        (["--input", "{data}"], "give --tenant to load into the database, or --output"),
        (["--input", "{tmp}/missing.csv", "--tenant", "acme"], "input file .*missing.csv does not exist"),
    ],
)
def test_it_names_wrong_arguments(tmp_path, tenants, args, message):
    mapping, data = files.write(tmp_path)
    args = [a.format(data=data, tmp=tmp_path) for a in args]
    with pytest.raises(CommandError, match=message):
        harmonize("--retailer-mapping", str(mapping), *args)


def test_an_invalid_mapping_names_its_line_and_key(tmp_path, tenants):
    mapping, data = files.write(tmp_path)
    mapping.write_text(mapping.read_text().replace("  campaign_id: {source: campaignId}\n", ""))
    with pytest.raises(CommandError, match=rf"{mapping.name}:\d+: .*campaign_id"):
        harmonize("--retailer-mapping", str(mapping), "--input", str(data), "--tenant", "acme")


def test_the_exit_code_is_non_zero_on_errors(tmp_path):
    mapping, data = files.write(tmp_path, csv="date;campaignId\n2026-04-01;x\n")
    env = {**os.environ, "DEBUG": "1", "RMN_VAR_DIR": str(tmp_path / "var")}
    proc = subprocess.run(
        [sys.executable, "manage.py", "harmonize", "--retailer-mapping", str(mapping), "--input", str(data),
         "--output", str(tmp_path / "o.parquet")],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert proc.stdout == ""
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("CommandError:") and "delimiter" in last
    assert not (tmp_path / "o.parquet").exists()


# --- load_fx_rates ----------------------------------------------------------------------------------------------


def write_rates(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rates.csv"
    path.write_text(text)
    return str(path)


def test_it_loads_and_updates_fx_rates(tmp_path, db):
    FXRate.objects.create(date=dt.date(2026, 4, 1), currency="EUR", quote_currency="USD", rate="1.0", source="old")
    path = write_rates(
        tmp_path,
        "date,currency,quote_currency,rate,source\n"
        "2026-04-01,EUR,USD,1.0842,ECB\n2026-04-01,gbp,USD,1.2650,ECB\n2026-04-02,EUR,USD,1.0851,ECB\n",
    )
    out = io.StringIO()
    call_command("load_fx_rates", "--file", path, stdout=out)
    assert "Loaded 3 FX rate(s)" in out.getvalue()
    rates = {(r.date.day, r.currency): (r.rate, r.source) for r in FXRate.objects.all()}
    assert rates == {
        (1, "EUR"): (Decimal("1.0842"), "ECB"),
        (1, "GBP"): (Decimal("1.2650"), "ECB"),
        (2, "EUR"): (Decimal("1.0851"), "ECB"),
    }


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("2026-04-31,EUR,USD,1.08", r"rates.csv:3: date: '2026-04-31' is not YYYY-MM-DD"),
        ("2026-04-02,EURO,USD,1.08", r"rates.csv:3: currency: 'EURO' is not an ISO 4217 code"),
        ("2026-04-02,EUR,USD,abc", r"rates.csv:3: rate: 'abc' is not a number"),
        ("2026-04-02,EUR,USD,-1", r"rates.csv:3: rate: '-1' must be a positive number"),
        ("2026-04-02,USD,USD,1", r"rates.csv:3: currency and quote_currency are both USD"),
    ],
)
def test_a_bad_fx_row_is_named_and_nothing_is_written(tmp_path, db, bad_line, message):
    path = write_rates(tmp_path, f"date,currency,quote_currency,rate\n2026-04-01,EUR,USD,1.08\n{bad_line}\n")
    with pytest.raises(CommandError, match=message):
        call_command("load_fx_rates", "--file", path)
    assert not FXRate.objects.exists()


def test_fx_file_without_the_columns_is_refused(tmp_path, db):
    path = write_rates(tmp_path, "day,ccy,rate\n2026-04-01,EUR,1.08\n")
    with pytest.raises(CommandError, match=r"missing column\(s\) date, currency, quote_currency"):
        call_command("load_fx_rates", "--file", path)


# --- currencies without a tenant (--fx-rates) --------------------------------------------------------------------


def test_without_rates_it_keeps_each_rows_currency_and_says_so(tmp_path, db):
    mapping, data = files.write(tmp_path)
    out = tmp_path / "out.parquet"
    report, _ = harmonize("--retailer-mapping", str(mapping), "--input", str(data), "--output", str(out))

    # the EUR row loads in euros instead of being quarantined for want of a rate; only the "abc" row is refused
    assert (report["rows_loaded"], report["rows_quarantined"]) == (4, 1)
    assert report["currency"]["converted"] is False and "own currency" in report["currency"]["note"]
    rows = {r["campaign_id"]: r for r in pq.read_table(out).to_pylist()}
    euro = rows["EU-1"]
    assert (euro["currency"], euro["original_currency"], euro["spend"], euro["fx_rate"]) == (
        "EUR", "EUR", Decimal("10.0000"), Decimal(1),
    )  # fmt: skip
    assert {r["currency"] for k, r in rows.items() if k != "EU-1"} == {"USD"}


def test_with_rates_it_converts_into_the_reporting_currency_and_says_so(tmp_path, db):
    mapping, data = files.write(tmp_path)
    rates = tmp_path / "rates.csv"
    # the inverse quote (USD in EUR) is used too; the direct quote of the same day wins over it
    rates.write_text(
        f"date,currency,quote_currency,rate\n2026-03-31,USD,EUR,0.5\n2026-03-31,EUR,USD,{files.EUR_RATE}\n"
    )
    out = tmp_path / "out.parquet"
    report, _ = harmonize(
        "--retailer-mapping", str(mapping), "--input", str(data), "--output", str(out), "--fx-rates", str(rates)
    )
    assert report["currency"] == {
        "converted": True, "reporting_currency": "USD", "fx_rates": str(rates), "rates_for": ["EUR"],
    }  # fmt: skip
    rows = pq.read_table(out).to_pylist()
    assert {r["currency"] for r in rows} == {"USD"}
    assert sum(r["spend"] for r in rows) == Decimal(files.LOADED_SPEND_USD)
    assert sum(r["attributed_sales"] for r in rows) == Decimal(files.LOADED_SALES_USD)


def test_rates_in_another_reporting_currency_convert_the_other_way(tmp_path, db):
    mapping, data = files.write(tmp_path)
    rates = tmp_path / "rates.csv"
    rates.write_text("date,currency,quote_currency,rate\n2026-03-31,USD,EUR,0.8\n")
    out = tmp_path / "out.parquet"
    report, _ = harmonize("--retailer-mapping", str(mapping), "--input", str(data), "--output", str(out),
                          "--fx-rates", str(rates), "--reporting-currency", "eur")  # fmt: skip
    rows = pq.read_table(out).to_pylist()
    assert report["currency"]["reporting_currency"] == "EUR" and {r["currency"] for r in rows} == {"EUR"}
    # 40 USD at 0.8 EUR per USD, plus the EUR row as it is
    assert sum(r["spend"] for r in rows) == Decimal("40.00") * Decimal("0.8") + Decimal("10.00")


@pytest.mark.parametrize(
    ("rates_text", "extra", "message"),
    [
        ("date,currency,quote_currency,rate\n2026-04-01,EUR,USD,abc\n", [], r"rates.csv:2: rate: 'abc' is not a"),
        ("date,ccy,rate\n2026-04-01,EUR,1.1\n", [], r"rates.csv:1: missing column\(s\) currency, quote_currency"),
        ("date,currency,quote_currency,rate\n2026-04-01,EUR,GBP,0.8\n", [], r"no rate into or out of USD"),
        ("date,currency,quote_currency,rate\n2026-04-01,EUR,USD,1.1\n", ["--tenant", "acme"],
         r"--fx-rates is for --output without --tenant"),
        ("date,currency,quote_currency,rate\n2026-04-01,EUR,USD,1.1\n", ["--reporting-currency", "dollars"],
         r"--reporting-currency 'DOLLARS' is not an ISO 4217 code"),
    ],
)  # fmt: skip
def test_bad_rates_are_refused_and_nothing_is_written(tmp_path, tenants, rates_text, extra, message):
    mapping, data = files.write(tmp_path)
    rates = tmp_path / "rates.csv"
    rates.write_text(rates_text)
    out = tmp_path / "out.parquet"
    with pytest.raises(CommandError, match=message):
        harmonize("--retailer-mapping", str(mapping), "--input", str(data), "--output", str(out),
                  "--fx-rates", str(rates), *extra)  # fmt: skip
    assert not out.exists() and not (tmp_path / "out.quarantine.csv").exists()

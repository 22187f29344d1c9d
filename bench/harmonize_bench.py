"""Harmonization benchmark: the largest layout (Amazon spAdvertisedProduct CSV) at 1M and 5M rows.

    DEBUG=1 .venv/bin/python bench/harmonize_bench.py --rows 1000000 5000000 [--postgres URL]

For each size it generates the file (demo.engine.exports, seeded), then runs, each in a fresh subprocess so that
peak memory belongs to one run: pyarrow.csv.read_csv alone (the whole table in memory, the reference speed),
pyarrow's streaming reader alone, the engine to Parquet (ParquetSink), and with --postgres the Django loader
(harmonization.services.ingest_file) into a benchmark tenant. Every engine run is checked against the generator's
truth totals. The table goes into docs/benchmarks.md (section "Harmonization") unless --no-doc.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAYOUT = "amazon_sp_advertised_product"
MAPPING = ROOT / "config" / "mappings" / f"{LAYOUT}.yaml"
DOC = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- harmonize_bench:start -->"
END_MARK = "<!-- harmonize_bench:end -->"
BENCH_TENANT = "bench"


# --- measurements, each run in its own process --------------------------------------------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _sku_index(seed: int) -> dict[str, dict[str, int]]:
    from demo.engine.exports import catalog

    return {"retailer_item_id": {f"amazon|{item.asin}": i + 1 for i, item in enumerate(catalog(seed))}}


def child_generate(args) -> dict:
    from demo.engine.exports import generate_export

    began = time.perf_counter()
    truth = generate_export(LAYOUT, args.input, rows=args.rows, seed=args.seed)
    usd = truth.per_currency["USD"]
    return {
        "seconds": time.perf_counter() - began,
        "rows": truth.rows,
        "bytes": truth.bytes_written,
        "truth": {
            "impressions": usd.impressions,
            "clicks": usd.clicks,
            "spend": str(usd.spend),
            "attributed_sales": str(usd.attributed_sales),
            "attributed_units": usd.attributed_units,
        },
    }


def child_pyarrow(args) -> dict:
    import pyarrow.csv as pacsv

    baseline = _rss_mb()
    began = time.perf_counter()
    table = pacsv.read_csv(args.input)
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "rows": table.num_rows, "baseline_mb": baseline}


def child_pyarrow_stream(args) -> dict:
    import pyarrow.csv as pacsv

    baseline = _rss_mb()
    began = time.perf_counter()
    rows = sum(batch.num_rows for batch in pacsv.open_csv(args.input))
    return {"seconds": time.perf_counter() - began, "rows": rows, "baseline_mb": baseline}


def _parquet_totals(path: str) -> dict:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    columns = {
        "impressions": "impressions",
        "clicks": "clicks",
        "spend": "original_spend",
        "attributed_sales": "original_attributed_sales",
        "attributed_units": "attributed_units",
    }
    totals = dict.fromkeys(columns, 0)
    for batch in pq.ParquetFile(path).iter_batches(columns=list(columns.values())):
        for key, column in columns.items():
            totals[key] += pc.sum(batch.column(column)).as_py() or 0
    return {k: str(v) for k, v in totals.items()}


def child_parquet(args) -> dict:
    from harmonization.engine import Harmonizer, Lookups, ParquetSink, load_mapping_file

    spec = load_mapping_file(MAPPING)
    lookups = Lookups(reporting_currency="USD", sku_index=_sku_index(args.seed))
    baseline = _rss_mb()
    began = time.perf_counter()
    report = Harmonizer(spec, lookups).run(args.input, ParquetSink(args.output))
    seconds = time.perf_counter() - began
    peak = _peak_rss_mb()
    d = report.to_dict()
    return {
        "seconds": seconds,
        "peak_mb": peak,
        "rows": d["rows_loaded"],
        "rows_quarantined": d["rows_quarantined"],
        "passed": report.passed,
        "baseline_mb": baseline,
        "totals": _parquet_totals(args.output) if report.passed else None,
    }


def _django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rmn_site.settings")
    import django

    django.setup()


def child_pg_setup(args) -> dict:
    """Create the database if needed, migrate, and give the benchmark tenant the generator's catalog (untimed)."""
    import psycopg

    parts = urlsplit(args.postgres)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    _django(args.postgres)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import DatabaseError, connection

    from campaigns.models import SKU, AttributionModel, Brand, PerformanceFact, Retailer, RetailerItem
    from demo.engine.exports import catalog
    from governance.models import Tenant

    tenant, _ = Tenant.objects.get_or_create(
        slug=BENCH_TENANT, defaults={"name": "Benchmark", "reporting_currency": "USD"}
    )
    amazon, _ = Retailer.objects.get_or_create(
        code="amazon",
        defaults={
            "name": "Amazon Ads",
            "reporting_currency": "USD",
            "timezone": "America/Los_Angeles",
            "default_attribution_window_days": 14,
            "default_attribution_model": AttributionModel.LAST_TOUCH,
        },
    )
    PerformanceFact.objects.filter(tenant=tenant)._raw_delete("default")  # each run loads into an empty tenant
    with connection.cursor() as cursor:
        # The deleted rows of the previous run would otherwise sit in the table and its indexes (autovacuum comes
        # when it comes): every run loads into the same clean table, as the COPY baseline does.
        cursor.execute(f"VACUUM ANALYZE {PerformanceFact._meta.db_table}")
        with contextlib.suppress(DatabaseError):  # needs a superuser or pg_checkpoint; as the COPY baseline does
            cursor.execute("CHECKPOINT")
    for item in catalog(args.seed):
        brand, _ = Brand.objects.get_or_create(tenant=tenant, name=item.brand)
        sku, _ = SKU.objects.get_or_create(
            tenant=tenant,
            sku_code=item.sku_code,
            defaults={
                "brand": brand,
                "name": item.name,
                "gtin": item.gtin,
                "price": Decimal(item.price_cents) / 100,
                "unit_cost": Decimal(item.unit_cost_cents) / 100,
            },
        )
        RetailerItem.objects.get_or_create(tenant=tenant, retailer=amazon, item_id=item.asin, defaults={"sku": sku})
    return {"tenant": tenant.pk}


def child_postgres(args) -> dict:
    _django(args.postgres)
    from django.db.models import Sum

    from campaigns.models import PerformanceFact
    from governance.models import Tenant
    from harmonization.engine import load_mapping_file
    from harmonization.services import ingest_file

    tenant = Tenant.objects.get(slug=BENCH_TENANT)
    spec = load_mapping_file(MAPPING)
    baseline = _rss_mb()
    began = time.perf_counter()
    batch = ingest_file(tenant=tenant, spec=spec, path=args.input)
    seconds = time.perf_counter() - began
    peak = _peak_rss_mb()
    sums = PerformanceFact.objects.filter(ingest_batch=batch).aggregate(
        impressions=Sum("impressions"),
        clicks=Sum("clicks"),
        spend=Sum("original_spend"),
        attributed_sales=Sum("original_attributed_sales"),
        attributed_units=Sum("attributed_units"),
    )
    return {
        "seconds": seconds,
        "peak_mb": peak,
        "rows": batch.rows_loaded,
        "rows_quarantined": batch.rows_quarantined,
        "passed": batch.status == "succeeded",
        "error": batch.error,
        "baseline_mb": baseline,
        "totals": {k: str(v) if isinstance(v, Decimal) else v for k, v in sums.items()},
    }


def child_pg_copy(args) -> dict:
    """The baseline: a plain COPY of the rows the loader just wrote (the bench tenant's facts, in the order they were
    inserted, all columns) into a new table of the fact table's columns, defaults, checks and indexes (LIKE ...
    INCLUDING ALL), in one transaction; then the same into such a table that also has the fact table's foreign keys
    (deferred, as Django declares them). Exporting the rows and creating the tables are not timed."""
    import psycopg

    _django(args.postgres)
    from campaigns.models import PerformanceFact
    from governance.models import Tenant

    facts = PerformanceFact._meta.db_table
    tenant = Tenant.objects.get(slug=BENCH_TENANT)
    dump = Path(args.output).with_suffix(".copy.csv")
    results = {}
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        export = f"COPY (SELECT * FROM {facts} WHERE tenant_id = {int(tenant.pk)} ORDER BY id) TO STDOUT (FORMAT csv)"
        with dump.open("wb") as out, conn.cursor().copy(export) as copy:
            for block in copy:
                out.write(block)
        foreign_keys = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
            [facts],
        ).fetchall()
        baseline_mb = _rss_mb()
        for label, with_keys in (("copy", False), ("copy_fk", True)):
            best = None
            for _ in range(args.repeat):
                conn.execute("DROP TABLE IF EXISTS bench_copy_baseline")
                conn.execute(f"CREATE TABLE bench_copy_baseline (LIKE {facts} INCLUDING ALL)")
                for (definition,) in foreign_keys if with_keys else []:
                    conn.execute(f"ALTER TABLE bench_copy_baseline ADD {definition}")
                conn.execute("CHECKPOINT")  # neither run starts with the other's dirty pages to write
                began = time.perf_counter()
                with (
                    conn.transaction(),
                    dump.open("rb") as source,
                    conn.cursor().copy("COPY bench_copy_baseline FROM STDIN WITH (FORMAT csv)") as copy,
                ):
                    while block := source.read(1 << 20):
                        copy.write(block)
                seconds = time.perf_counter() - began
                best = seconds if best is None else min(best, seconds)
            rows = conn.execute("SELECT COUNT(*) FROM bench_copy_baseline").fetchone()[0]
            conn.execute("DROP TABLE bench_copy_baseline")
            results[label] = {"seconds": best, "rows": rows}
    dump.unlink(missing_ok=True)
    return {**results["copy"], "with_foreign_keys": results["copy_fk"], "baseline_mb": baseline_mb}


CHILDREN = {
    "generate": child_generate,
    "pyarrow": child_pyarrow,
    "pyarrow_stream": child_pyarrow_stream,
    "parquet": child_parquet,
    "pg_setup": child_pg_setup,
    "postgres": child_postgres,
    "pg_copy": child_pg_copy,
}


def run_child(kind: str, **options) -> dict:
    cmd = [sys.executable, __file__, "--child", kind]
    for key, value in options.items():
        if value is not None:
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} run failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the report ---------------------------------------------------------------------------------------------------


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text()
    mem_kib = int(re.search(r"^MemTotal:\s*(\d+)", meminfo, re.M).group(1))
    import pyarrow

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return {
        "commit": commit.stdout.strip() or "unknown",
        "cpu": model.group(1).strip() if model else platform.processor(),
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "pyarrow": pyarrow.__version__,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": round(os.getloadavg()[0], 1),  # other work on the machine: timings are only compared within a run
    }


def _fmt_rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}"


def render(results: dict) -> str:
    m = results["machine"]
    lines = [
        START_MARK,
        f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM (Python {m['python']}, "
        f"pyarrow {m['pyarrow']}), at commit {m.get('commit', 'unknown')}, by `{results['command']}`"
        + (f" (one-minute load average {m['load']} at the start, {m['load_end']} at the end)." if "load" in m else "."),
        "",
        "| rows | file | run | seconds | rows/s | vs read_csv | peak RSS (MiB) | checked against the truth |",
        "|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for size in results["sizes"]:
        reference = size["runs"]["pyarrow"]["seconds"]
        copy = size["runs"].get("pg_copy")
        for kind, label in (
            ("pyarrow", "pyarrow.csv.read_csv (whole table)"),
            ("pyarrow_stream", "pyarrow.csv.open_csv (streamed batches)"),
            ("parquet", "engine → Parquet"),
            ("postgres", "engine → PostgreSQL (ingest_file)"),
            ("pg_copy", "plain COPY of the loaded rows (same columns and indexes)"),
            ("pg_copy_fk", "plain COPY, same table with its foreign keys"),
        ):
            run = size["runs"].get(kind)
            if kind == "pg_copy_fk" and copy is not None:
                run = {**copy["with_foreign_keys"], "peak_mb": copy["peak_mb"]}
            if run is None:
                continue
            check = run.get("check", "—")
            lines.append(
                f"| {size['rows']:,} | {size['bytes'] / 2**20:,.0f} MiB | {label} | {run['seconds']:.1f} | "
                f"{_fmt_rate(size['rows'], run['seconds'])} | {reference / run['seconds']:.2f}× | "
                f"{run['peak_mb']:,.0f} | {check} |"
            )
    lines.append("")
    for size in results["sizes"]:
        load, copy = size["runs"].get("postgres"), size["runs"].get("pg_copy")
        if load is None or copy is None:
            continue
        lines.append(
            f"{size['rows']:,} rows into PostgreSQL: the whole load (`ingest_file`: reading, harmonizing, staging, "
            f"replacing by natural key, the rollup, one transaction) took {load['seconds']:.1f} s, a plain COPY of "
            f"the same rows {copy['seconds']:.1f} s without foreign keys and "
            f"{copy['with_foreign_keys']['seconds']:.1f} s with them: **{copy['seconds'] / load['seconds']:.2f}×** "
            f"the speed of the plain COPY ({copy['with_foreign_keys']['seconds'] / load['seconds']:.2f}× of the "
            "COPY with foreign keys); the goal is at least 0.5×."
        )
        lines.append("")
    lines.append(
        "Generating the files (demo/engine/exports.py, seed "
        + str(results.get("seed", 0))
        + "): "
        + "; ".join(
            f"{s['rows']:,} rows in {s['generate']['seconds']:.1f} s, peak {s['generate']['peak_mb']:,.0f} MiB"
            for s in results["sizes"]
        )
        + "."
    )
    lines.append("")
    lines.append(
        "Peak RSS is the whole benchmark subprocess (Python, pyarrow and, for PostgreSQL, Django included; the "
        "database server's own memory is not). Baseline after imports: "
        + ", ".join(f"{k} {v:,.0f} MiB" for k, v in results["baselines"].items())
        + ". `vs read_csv` above 1 is faster than pyarrow reading the same file into memory."
    )
    lines.append(END_MARK)
    return "\n".join(lines)


def write_doc(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if START_MARK in text:
        before, rest = text.split(START_MARK, 1)
        after = rest.split(END_MARK, 1)[1]
        text = before + section + after
    else:
        if "## Harmonization" not in text:
            text = text.rstrip() + "\n\n## Harmonization\n\n"
        text = text.rstrip() + "\n\n" + section + "\n"
    DOC.write_text(text)


def _check(run: dict, truth: dict) -> str:
    if not run.get("passed"):
        return f"batch failed: {run.get('error') or run.get('rows_quarantined')}"
    got = run["totals"]
    same = all(Decimal(str(got[k])) == Decimal(str(v)) for k, v in truth.items())
    return "totals equal" if same else f"MISMATCH {got} vs {truth}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--postgres", help="postgres://user@host:port/dbname (created if missing) for the loader run")
    parser.add_argument("--workdir", default="/tmp/rmn-harmonize-bench")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="Runs per file-only measurement (the fastest is kept); PostgreSQL runs once.",
    )
    parser.add_argument("--no-doc", action="store_true", help="Print the table instead of writing docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="Keep the generated files")
    parser.add_argument("--render", metavar="RESULTS_JSON", help="Only write the doc from an earlier results.json")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "generate":
            args.rows = int(args.rows[0])
        result = CHILDREN[args.child](args)
        result.setdefault("peak_mb", _peak_rss_mb())  # runs that check their output measure before checking
        print(json.dumps(result))
        return

    if args.render:
        write_doc(render(json.loads(Path(args.render).read_text())))
        return
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    command = "DEBUG=1 .venv/bin/python bench/harmonize_bench.py --rows " + " ".join(map(str, args.rows))
    command += f" --repeat {args.repeat}" if args.repeat != 2 else ""
    if args.postgres:
        command += " --postgres URL"
    results = {"machine": machine(), "command": command, "seed": args.seed, "sizes": [], "baselines": {}}
    for rows in args.rows:
        path = workdir / f"amazon_{rows}.csv"
        print(f"generating {rows:,} rows -> {path}", file=sys.stderr)
        gen = run_child("generate", input=path, rows=rows, seed=args.seed)
        size = {"rows": rows, "bytes": gen["bytes"], "generate": gen, "runs": {}}
        kinds = ["pyarrow", "pyarrow_stream", "parquet"] + (["postgres", "pg_copy"] if args.postgres else [])
        for kind in kinds:
            best = None
            for _ in range(1 if kind in ("postgres", "pg_copy") else args.repeat):  # pg_copy repeats itself
                if kind == "postgres":
                    run_child("pg_setup", postgres=args.postgres, seed=args.seed)
                run = run_child(
                    kind,
                    input=path,
                    output=workdir / "out.parquet",
                    seed=args.seed,
                    postgres=args.postgres,
                    repeat=args.repeat if kind == "pg_copy" else None,
                )
                if "totals" in run:
                    run["check"] = _check(run, gen["truth"])
                if best is None or run["seconds"] < best["seconds"]:
                    best = run
            size["runs"][kind] = best
            results["baselines"][kind] = best["baseline_mb"]
            print(
                f"  {kind:15s} {best['seconds']:7.1f} s  {rows / best['seconds']:>11,.0f} rows/s  "
                f"peak {best['peak_mb']:,.0f} MiB  {best.get('check', '')}",
                file=sys.stderr,
            )
        results["sizes"].append(size)
        if not args.keep:
            path.unlink(missing_ok=True)
    results["machine"]["load_end"] = round(os.getloadavg()[0], 1)
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    section = render(results)
    if args.no_doc:
        print(section)
    else:
        write_doc(section)
        print(f"wrote {DOC.relative_to(ROOT)} (raw numbers: {workdir / 'results.json'})", file=sys.stderr)


if __name__ == "__main__":
    main()

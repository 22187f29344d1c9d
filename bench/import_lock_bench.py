"""Does the site stay usable while a large import loads? (Hardening: "one import takes the whole site down on SQLite")

    DEBUG=1 .venv/bin/python bench/import_lock_bench.py --rows 500000 [--database sqlite|postgres://...] [--no-doc]

A worker-like child process loads an Amazon spAdvertisedProduct export of ``--rows`` rows (demo.engine.exports,
seed 0) into an empty benchmark tenant through ``harmonization.services.ingest_file`` (the database sink), then loads
the same file again (a re-import replaces every fact). Meanwhile a probe process plays three of the site's users
against the same database through Django's WSGI handler (no server), each in its own thread with 0.25 s between
requests: API calls with an API key (a different key each time, as many partners would, so key bookkeeping is due on
every call), password logins, and dashboard pages. The table gives each load's time, how long the load held the
database's write lock (the replace transaction, from the sink's own timer), and the probe's requests during the
loads: how many failed and their p95/max latency. Results go to docs/benchmarks.md (section "Imports while the site
is used") unless --no-doc.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DOC = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- import_lock_bench:start -->"
END_MARK = "<!-- import_lock_bench:end -->"
PROBE_KEYS = 400
PROBE_PASSWORD = "probe-password-1"


def _django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rmn_site.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    import django

    django.setup()


def child_setup(args) -> dict:
    """Migrate, give the benchmark tenant the generator's catalog, a user and API keys (untimed)."""
    import harmonize_bench

    if args.database.startswith("postgres"):
        harmonize_bench.child_pg_setup(argparse.Namespace(postgres=args.database, seed=0))
    else:
        _django(args.database)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        _setup_catalog()
    from django.contrib.auth import get_user_model

    from governance.models import APIKey, Membership, Role, Tenant
    from governance.services import api_key_create

    tenant = Tenant.objects.get(slug=harmonize_bench.BENCH_TENANT)
    user, _ = get_user_model().objects.get_or_create(username="probe")
    user.set_password(PROBE_PASSWORD)
    user.save()
    Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": Role.MARKETER})
    APIKey.objects.filter(tenant=tenant).delete()
    keys = [api_key_create(tenant=tenant, name=f"probe {i}", role=Role.MARKETER, created_by=None)[1]
            for i in range(PROBE_KEYS)]  # fmt: skip
    Path(args.output).write_text(json.dumps(keys))
    return {"keys": len(keys)}


def _setup_catalog() -> None:
    """harmonize_bench's tenant and catalog (its setup also creates the PostgreSQL database), on any database."""
    from decimal import Decimal

    import harmonize_bench

    from campaigns.models import SKU, AttributionModel, Brand, PerformanceFact, Retailer, RetailerItem
    from demo.engine.exports import catalog
    from governance.models import Tenant

    tenant, _ = Tenant.objects.get_or_create(
        slug=harmonize_bench.BENCH_TENANT, defaults={"name": "Benchmark", "reporting_currency": "USD"}
    )
    amazon, _ = Retailer.objects.get_or_create(
        code="amazon",
        defaults={"name": "Amazon Ads", "reporting_currency": "USD", "timezone": "America/Los_Angeles",
                  "default_attribution_window_days": 14, "default_attribution_model": AttributionModel.LAST_TOUCH},
    )  # fmt: skip
    PerformanceFact.objects.filter(tenant=tenant)._raw_delete("default")
    for item in catalog(0):
        brand, _ = Brand.objects.get_or_create(tenant=tenant, name=item.brand)
        sku, _ = SKU.objects.get_or_create(
            tenant=tenant, sku_code=item.sku_code,
            defaults={"brand": brand, "name": item.name, "gtin": item.gtin,
                      "price": Decimal(item.price_cents) / 100, "unit_cost": Decimal(item.unit_cost_cents) / 100},
        )  # fmt: skip
        RetailerItem.objects.get_or_create(tenant=tenant, retailer=amazon, item_id=item.asin, defaults={"sku": sku})


def child_load(args) -> dict:
    """The two loads, as a worker runs them; the replace transaction's time comes from the sink's report."""
    _django(args.database)
    import harmonize_bench

    from governance.models import Tenant
    from harmonization.engine import load_mapping_file
    from harmonization.services import ingest_file

    tenant = Tenant.objects.get(slug=harmonize_bench.BENCH_TENANT)
    spec = load_mapping_file(harmonize_bench.MAPPING)
    runs = []
    for label in ("first load", "re-import"):
        began = time.time()
        batch = ingest_file(tenant=tenant, spec=spec, path=args.input)
        runs.append({"label": label, "began": began, "ended": time.time(), "status": batch.status,
                     "error": batch.error[:300], "rows": batch.rows_loaded,
                     "replace_seconds": (batch.report or {}).get("replace_seconds")})  # fmt: skip
    return {"runs": runs}


def child_probe(args) -> dict:
    """Three users in threads (an API partner, a person logging in, a person on the dashboard), each timing its
    requests through Django's WSGI handler until the stop file appears."""
    _django(args.database)
    import threading

    from django.db import connection
    from django.test import Client

    keys = json.loads(Path(args.output).read_text())
    stop = Path(args.input)
    samples: list[dict] = []

    def user(kind: str) -> None:
        pages = Client()
        if kind == "dashboard":
            pages.post("/accounts/login/", {"username": "probe", "password": PROBE_PASSWORD})
        i = 0
        while not stop.exists() and i < 20_000:
            began = time.time()
            try:
                if kind == "api":
                    response = pages.get("/api/v1/campaigns/", HTTP_AUTHORIZATION=f"Api-Key {keys[i % len(keys)]}")
                    ok = response.status_code == 200
                elif kind == "login":
                    # a new browser each time: a login writes the session and the user's last_login
                    response = Client().post("/accounts/login/", {"username": "probe", "password": PROBE_PASSWORD})
                    ok = response.status_code == 302
                else:
                    response = pages.get("/")
                    ok = response.status_code == 200
                status = response.status_code
            except Exception as exc:  # a failure the user would see as a 500
                ok, status = False, type(exc).__name__
            samples.append({"kind": kind, "t": began, "seconds": time.time() - began, "ok": ok, "status": status})
            i += 1
            time.sleep(0.25)
        connection.close()

    threads = [threading.Thread(target=user, args=(kind,)) for kind in ("api", "login", "dashboard")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"samples": samples}


CHILDREN = {"setup": child_setup, "load": child_load, "probe": child_probe}


def _child(kind: str, args, **extra) -> list[str]:
    cmd = [sys.executable, __file__, "--child", kind, "--database", args.database]
    for key, value in extra.items():
        cmd += [f"--{key}", str(value)]
    return cmd


def _p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(0.95 * len(values)))] if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--workdir", default="/tmp/rmn-import-lock-bench")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--label", default="", help="A note for the table (for example: before the fix)")
    parser.add_argument("--append", action="store_true", help="Keep the tables already in the section")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    if args.database == "sqlite":
        db = work / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        args.database = f"sqlite:///{db}"
    import harmonize_bench

    export = work / f"export-{args.rows}.csv"
    if not export.exists():
        harmonize_bench.run_child("generate", rows=args.rows, input=str(export), seed=0)
    keys_file, stop = work / "keys.json", work / "stop"
    stop.unlink(missing_ok=True)
    subprocess.run(_child("setup", args, output=keys_file), check=True, capture_output=True, text=True)
    probe = subprocess.Popen(_child("probe", args, output=keys_file, input=stop), stdout=subprocess.PIPE, text=True)
    time.sleep(3)  # the probe's first requests warm it up before the load starts
    load = subprocess.run(_child("load", args, input=export), check=True, capture_output=True, text=True)
    stop.write_text("stop")
    probe_out, _ = probe.communicate(timeout=600)
    runs = json.loads(load.stdout.strip().splitlines()[-1])["runs"]
    samples = json.loads(probe_out.strip().splitlines()[-1])["samples"]
    rows = []
    for run in runs:
        during = [s for s in samples if run["began"] <= s["t"] <= run["ended"]]
        row = {**run, "seconds": run["ended"] - run["began"], "requests": len(during)}
        for kind in ("api", "login", "dashboard"):
            mine = [s for s in during if s["kind"] == kind]
            row[kind] = {"n": len(mine), "failed": sum(not s["ok"] for s in mine),
                         "p95": _p95([s["seconds"] for s in mine]),
                         "max": max((s["seconds"] for s in mine), default=0.0),
                         "statuses": sorted({str(s["status"]) for s in mine if not s["ok"]})}  # fmt: skip
        rows.append(row)
    print(json.dumps(rows, indent=1))
    if not args.no_doc:
        write_doc(rows, args)


def write_doc(rows: list[dict], args) -> None:
    from _common import commit, machine, write_section

    db = "SQLite (the embedded default, WAL)" if args.database.startswith("sqlite") else "PostgreSQL"
    command = f"DEBUG=1 .venv/bin/python bench/import_lock_bench.py --rows {args.rows}"
    command += "" if db.startswith("SQLite") else " --database URL"
    lines = [f"{db}, {args.rows:,} rows, at commit {commit()}{' (' + args.label + ')' if args.label else ''}, on "
             f"{machine()}, by `{command}`:", "",
             "| load | status | seconds | write lock held (s) | API calls failed | API p95 / max (s) | logins failed "
             "| login p95 / max (s) | dashboards failed | dashboard p95 / max (s) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        cells = [r["label"], r["status"], f"{r['seconds']:.1f}",
                 "—" if r["replace_seconds"] is None else f"{r['replace_seconds']:.1f}"]  # fmt: skip
        for kind in ("api", "login", "dashboard"):
            k = r[kind]
            failed = f"{k['failed']} of {k['n']}" + (f" ({', '.join(k['statuses'])})" if k["statuses"] else "")
            cells += [failed, f"{k['p95']:.2f} / {k['max']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    previous = ""
    if args.append and START_MARK in DOC.read_text():
        previous = DOC.read_text().split(START_MARK, 1)[1].split(END_MARK, 1)[0].strip()
    write_section("import_lock_bench", f"{previous}\n\n{table}".strip(), heading="## Imports while the site is used")


if __name__ == "__main__":
    main()

"""Load benchmark: the pages marketers use most, under 20 concurrent users, at about 500k performance facts.

    .venv/bin/python bench/load_bench.py --label after --write-docs                       # SQLite
    .venv/bin/python bench/load_bench.py --postgres postgres://postgres@127.0.0.1:5432/rmn_load --label after \
        --write-docs                                                                      # PostgreSQL

1. Prepares the database (migrated; for --postgres, created if missing): the demo world (demo.seed.demo_seed, --days
   of history), then Acme Foods grows to about --facts performance facts: more SKUs per brand, one fact per day
   for each (campaign, SKU of its brand), loaded in bulk (COPY on PostgreSQL, executemany on SQLite, one
   transaction) and followed by the dashboard's rollup refresh, as an import would do. One allocation plan is
   computed on the demo history and one API key is made per simulated user. A database already prepared with
   the same --facts and --days is reused unless --fresh.
2. Measures the server-side service time of each page in-process (Django test client, the whole middleware
   stack, --service-requests requests after 3 warm-ups; the dashboard's SQL query count and time too).
3. Starts gunicorn (2 workers, DEBUG off, static files collected) on 127.0.0.1 only and runs locust headless
   (bench/locustfile.py) twice for --duration seconds each, with --users users: with 1-3 s think time and with
   none. Each user logs in as the demo marketer (its own session), then cycles dashboard, plan detail and
   GET /api/v1/campaigns/ (with its own API key).

Results go to var/load_bench/results-<database>-<label>.json; --write-docs renders every results file there into
the "Load" section of docs/benchmarks.md (so a "before" and an "after" run end up side by side).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._common import commit as _commit  # noqa: E402
from bench._common import machine as _machine  # noqa: E402
from bench._common import write_section  # noqa: E402

WORK = ROOT / "var" / "load_bench"
BIN = Path(sys.executable).parent
SECTION = "load_bench"
HEADING = "## Load: dashboard, plan detail and campaigns API at 500k facts"
TENANT = "acme"
USERNAME = "acme-marketer"
PLAN_NAME = "load bench plan"
KEY_NAME = "load bench user"
PROFILES = {"think 1-3 s": "1-3", "no think time": "0"}
PAGES = ["dashboard", "plan detail", "GET /api/v1/campaigns/"]
EXTRA_SKU_PREFIX = "LB"


# --- preparing the database ---------------------------------------------------------------------------------------


def _environment(args) -> dict[str, str]:
    url = args.postgres or f"sqlite:///{(WORK / 'load.sqlite3').resolve()}"
    return {
        "DATABASE_URL": url,
        "RMN_VAR_DIR": str(WORK / "var"),
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "load-bench-only-secret-key",
        "DJANGO_SETTINGS_MODULE": "rmn_site.settings",
        "CELERY_BROKER_URL": "",  # the folder broker under RMN_VAR_DIR: the plan's queued task goes nowhere
        "REDIS_URL": "",
    }


def _create_postgres_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if name in ("test", "postgres", ""):
        raise SystemExit(f"refusing to use the database {name!r}: name one for the benchmark")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def _state_path(args) -> Path:
    return WORK / f"state-{'postgres' if args.postgres else 'sqlite'}.json"


def prepare(args) -> dict:
    """The database at about ``args.facts`` facts, a computed plan and fresh API keys; returns what locust needs."""
    from django.core.management import call_command
    from django.db import connection

    from campaigns.models import PerformanceFact
    from governance.models import APIKey, Tenant
    from governance.services import api_key_create

    call_command("migrate", verbosity=0)
    state_file = _state_path(args)
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    tenant = Tenant.objects.filter(slug=TENANT).first()
    reusable = (
        not args.fresh
        and tenant is not None
        and state.get("facts_target") == args.facts
        and state.get("days") == args.days
        and PerformanceFact.objects.filter(tenant=tenant).count() == state.get("acme_facts")
    )
    if reusable:
        print(f"reusing the prepared database ({state['acme_facts']:,} Acme facts)", flush=True)
    else:
        state = _seed(args)
        state_file.write_text(json.dumps(state, indent=2))
        tenant = Tenant.objects.get(slug=TENANT)
    _refresh_rollup(tenant)
    APIKey.objects.filter(tenant=tenant, name__startswith=KEY_NAME).delete()
    keys = [api_key_create(tenant=tenant, name=f"{KEY_NAME} {i + 1}")[1] for i in range(args.users)]
    _collectstatic()
    state["api_keys"] = keys
    state["database"] = _database_label(connection)
    state["facts_total"] = PerformanceFact.objects.count()
    return state


def _collectstatic() -> None:
    """DEBUG is off, so pages need the static manifest; compressing every file takes a minute, so only when the
    project's static files are newer than the manifest."""
    from django.conf import settings
    from django.core.management import call_command

    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    newest = max((p.stat().st_mtime for p in (ROOT / "static").rglob("*") if p.is_file()), default=0)
    if manifest.exists() and manifest.stat().st_mtime > newest:
        return
    began = time.perf_counter()
    call_command("collectstatic", interactive=False, verbosity=0)
    print(f"static files collected in {time.perf_counter() - began:.1f} s", flush=True)


def _refresh_rollup(tenant) -> None:
    """The dashboard's daily rollup, when this checkout has one (it does from the commit that added it on)."""
    try:
        from campaigns.services import performance_rollup_refresh
    except ImportError:
        return
    began = time.perf_counter()
    performance_rollup_refresh(tenant=tenant)
    print(f"rollup refreshed in {time.perf_counter() - began:.1f} s", flush=True)


def _database_label(connection) -> str:
    if connection.vendor == "postgresql":
        major, minor = divmod(connection.pg_version, 10000)
        return f"PostgreSQL {major}.{minor}"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


def _seed(args) -> dict:
    from demo.seed import DEMO_PASSWORD, demo_seed

    began = time.perf_counter()
    result = demo_seed(days=args.days, reset=True)
    print(f"demo seeded ({args.days} days) in {time.perf_counter() - began:.1f} s", flush=True)
    began = time.perf_counter()
    plan_id = _plan()
    print(f"plan computed in {time.perf_counter() - began:.1f} s", flush=True)
    began = time.perf_counter()
    added = _bulk_facts(target=args.facts, start=result.start, end=result.end, seed=args.seed)
    loaded = time.perf_counter() - began
    print(f"{added:,} facts added in {loaded:.1f} s", flush=True)
    from campaigns.models import PerformanceFact

    acme_facts = PerformanceFact.objects.filter(tenant__slug=TENANT).count()
    return {
        "facts_target": args.facts,
        "days": args.days,
        "acme_facts": acme_facts,
        "bulk_seconds": round(loaded, 1),
        "plan_id": plan_id,
        "password": DEMO_PASSWORD,
        "start": str(result.start),
        "end": str(result.end),
    }


def _plan() -> int:
    """One allocation plan, computed in-process on the demo history (what the plan page shows)."""
    from governance.models import Tenant
    from optimizer.services.plans import plan_create, plan_run

    tenant = Tenant.objects.get(slug=TENANT)
    plan = plan_create(tenant=tenant, name=PLAN_NAME, budget="60000", period_days=28, history_days=180)
    plan = plan_run(plan.pk)
    print(f"plan {plan.pk}: {plan.status}", flush=True)
    return plan.pk


def _bulk_facts(*, target: int, start: dt.date, end: dt.date, seed: int) -> int:
    """Grow Acme to about ``target`` facts: extra SKUs per brand, one fact per day per (campaign, SKU of its brand)."""
    from decimal import Decimal

    from django.db import connection, transaction
    from django.utils import timezone

    from campaigns.models import SKU, Brand, Campaign, PerformanceFact
    from governance.models import Tenant
    from harmonization.models import IngestBatch

    tenant = Tenant.objects.get(slug=TENANT)
    have = PerformanceFact.objects.filter(tenant=tenant).count()
    days = (end - start).days + 1
    campaigns = list(Campaign.objects.filter(tenant=tenant).select_related("retailer"))
    per_campaign = max(0, math.ceil((target - have) / days / len(campaigns)))
    rng = np.random.default_rng(seed)
    with transaction.atomic():
        skus: dict[int, list[SKU]] = {}
        for brand in Brand.objects.filter(tenant=tenant):
            made = [
                SKU(
                    tenant=tenant,
                    brand=brand,
                    sku_code=f"{EXTRA_SKU_PREFIX}-{brand.pk}-{i:04d}",
                    name=f"{brand.name} bench item {i}",
                    category="bench",
                    currency=tenant.reporting_currency,
                    price=Decimal(f"{rng.uniform(2, 15):.2f}"),
                    unit_cost=Decimal("1.00"),
                    stock_units=1000,
                )
                for i in range(per_campaign)
            ]
            skus[brand.pk] = SKU.objects.bulk_create(made)
        batch = IngestBatch.objects.create(
            tenant=tenant, source="load_bench", mapping_name="bulk", status=IngestBatch.Status.SUCCEEDED
        )
        dates = [start + dt.timedelta(days=i) for i in range(days)]
        season = 1 + 0.3 * np.sin(np.arange(days) * 2 * np.pi / 365.25)
        weekday = np.array([1.15 if d.weekday() >= 5 else 1.0 for d in dates])
        now = timezone.now()
        fields = [f for f in PerformanceFact._meta.concrete_fields if not f.primary_key]
        columns = [f.column for f in fields]
        rows = []
        for campaign in campaigns:
            retailer = campaign.retailer
            for sku in skus[campaign.brand_id]:
                level = rng.lognormal(np.log(8), 0.8)
                spend = np.round(level * season * weekday * rng.lognormal(0, 0.35, days), 2)
                impressions = np.round(spend / rng.uniform(2, 9) * 1000 * rng.lognormal(0, 0.1, days)).astype(int)
                clicks = rng.binomial(impressions, rng.uniform(0.002, 0.01))
                sales = np.round(spend * rng.lognormal(np.log(3), 0.4, days), 2)
                units = np.floor(sales / float(sku.price)).astype(int)
                for t, day in enumerate(dates):
                    s, a = f"{spend[t]:.2f}", f"{sales[t]:.2f}"
                    values = {
                        "date": day,
                        "tenant_id": tenant.pk,
                        "retailer_id": retailer.pk,
                        "campaign_id": campaign.pk,
                        "sku_id": sku.pk,
                        "placement_type": campaign.placement_type,
                        "impressions": int(impressions[t]),
                        "clicks": int(clicks[t]),
                        "spend": s,
                        "attributed_sales": a,
                        "attributed_units": int(units[t]),
                        "attribution_window_days": retailer.default_attribution_window_days,
                        "attribution_model": retailer.default_attribution_model,
                        "currency": tenant.reporting_currency,
                        "original_currency": tenant.reporting_currency,
                        "original_spend": s,
                        "original_attributed_sales": a,
                        "fx_rate": "1",
                        "ingest_batch_id": batch.pk,
                        "updated_at": now,
                    }
                    rows.append(tuple(values[c] for c in columns))
        table = PerformanceFact._meta.db_table
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        batch.rows_read = batch.rows_loaded = len(rows)
        batch.save()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")  # what autovacuum would soon do after a load this size
    return len(rows)


# --- in-process service time ------------------------------------------------------------------------------------


def service_times(state: dict, *, requests: int, rounds: int) -> dict:
    """Per page: ``rounds`` rounds of ``requests`` requests; the round with the lowest median is kept (the machine
    is shared: a slower round measures the neighbours). Wall time, and the CPU time of this process (Django and,
    on SQLite, the database; PostgreSQL's own CPU is in its server)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    page = Client()
    page.force_login(get_user_model().objects.get(username=USERNAME))
    api = Client(headers={"Authorization": f"Api-Key {state['api_keys'][0]}"})
    targets = [
        ("dashboard", page, "/"),
        ("plan detail", page, f"/plans/{state['plan_id']}/"),
        ("GET /api/v1/campaigns/", api, "/api/v1/campaigns/"),
    ]
    out = {}
    for name, client, url in targets:
        for _ in range(3):
            response = client.get(url)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
        best = None
        for _ in range(rounds):
            wall, cpu, sql = [], [], _QueryTimer()
            with connection.execute_wrapper(sql):
                for _ in range(requests):
                    began, began_cpu = time.perf_counter(), time.process_time()
                    client.get(url)
                    wall.append((time.perf_counter() - began) * 1000)
                    cpu.append((time.process_time() - began_cpu) * 1000)
            wall.sort()
            cpu.sort()
            if best is None or _percentile(wall, 50) < _percentile(best[0], 50):
                best = (wall, cpu, sql)
        wall, cpu, sql = best
        out[name] = {
            "requests": requests,
            "rounds": rounds,
            "mean_ms": statistics.fmean(wall),
            "p50_ms": _percentile(wall, 50),
            "p95_ms": _percentile(wall, 95),
            "cpu_p50_ms": _percentile(cpu, 50),
            "queries": sql.count / requests,
            "sql_ms": sql.seconds * 1000 / requests,
        }
        print(f"service time {name}: p50 {out[name]['p50_ms']:.1f} ms, p95 {out[name]['p95_ms']:.1f} ms", flush=True)
    return out


class _QueryTimer:
    """A connection.execute_wrapper that counts queries and the time spent in them."""

    def __init__(self):
        self.count, self.seconds = 0, 0.0

    def __call__(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - began


def _percentile(sorted_values: list[float], pct: float) -> float:
    index = min(len(sorted_values) - 1, max(0, math.ceil(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


# --- gunicorn and locust ----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_gunicorn(env: dict[str, str], port: int, log: Path, workers: int = 2) -> subprocess.Popen:
    command = [str(BIN / "gunicorn"), "rmn_site.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    command += ["--timeout", "120"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn stopped: see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as response:
                if response.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"gunicorn did not answer within 90 s: see {log}")


def run_locust(*, port: int, state: dict, think: str, users: int, duration: int, prefix: Path) -> dict:
    samples_path = Path(f"{prefix}_samples.json")
    samples_path.unlink(missing_ok=True)
    env = {
        **os.environ,
        "LOAD_USERNAME": USERNAME,
        "LOAD_PASSWORD": state["password"],
        "LOAD_PLAN_ID": str(state["plan_id"]),
        "LOAD_API_KEYS": ",".join(state["api_keys"]),
        "LOAD_THINK": think,
        "LOAD_USERS": str(users),
        "LOAD_SAMPLES": str(samples_path),
    }
    command = [str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless"]
    command += ["--users", str(users), "--spawn-rate", str(users), "--run-time", f"{duration}s"]
    command += ["--host", f"http://127.0.0.1:{port}", "--csv", str(prefix), "--only-summary", "--stop-timeout", "10"]
    command += ["--loglevel", "WARNING"]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=duration + 180)
    if not samples_path.exists():
        raise SystemExit(f"locust wrote no samples:\n{proc.stderr[-3000:]}")
    data = json.loads(samples_path.read_text())
    if data["since"] is None:
        raise SystemExit("not every user logged in during the run")
    window = data["until"] - data["since"]
    rows = []
    for name in [*PAGES, "overall"]:
        picked = [s for s in data["samples"] if name in ("overall", s[0])]
        rows.append(_stats(name, [s[1] for s in picked], sum(not s[2] for s in picked), window))
    logins = data["logins"]
    rows.append(_stats("login", [t for t, _ in logins], sum(not ok for _, ok in logins), None))
    failures: dict[str, int] = {}
    for name, _, ok, error in data["samples"]:
        if not ok:
            failures[f"{name}: {error}"] = failures.get(f"{name}: {error}", 0) + 1
    return {"rows": rows, "failures": [f"{k} ({n}×)" for k, n in failures.items()], "window_s": window}


def _stats(name: str, times: list[float], errors: int, window: float | None) -> dict:
    times = sorted(times)
    return {
        "name": name,
        "requests": len(times),
        "errors": errors,
        "rps": len(times) / window if window else None,
        "p50_ms": _percentile(times, 50) if times else 0.0,
        "p95_ms": _percentile(times, 95) if times else 0.0,
        "p99_ms": _percentile(times, 99) if times else 0.0,
    }


# --- the report ---------------------------------------------------------------------------------------------------

ORDER = [*PAGES, "overall", "login"]


def _ms(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def render(results: list[dict], *, command: str) -> str:
    lines = [
        f"Written by `{command}` (and the same with `--postgres URL` and `--label before` on the commit before the "
        "rollup): every run found in var/load_bench/. Service time: best of the stated rounds, in-process. Locust: "
        "pages timed from the moment all 20 users have logged in; overall = the three pages together.",
        "",
        "| database | run | commit | dashboard service time p50 / p95 (ms) | dashboard SQL (queries, mean ms) | "
        "think 1-3 s: req/s, p95 (ms), errors | no think time: req/s, p95 (ms), errors |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        dash = r["service"]["dashboard"]
        cells = []
        for profile in PROFILES:
            overall = next(x for x in r["profiles"][profile]["rows"] if x["name"] == "overall")
            cells.append(f"{overall['rps']:.1f}, {_ms(overall['p95_ms'])}, {overall['errors']}")
        lines.append(
            f"| {r['database']} | {r['label']} | {r['commit']} | {_ms(dash['p50_ms'])} / {_ms(dash['p95_ms'])} | "
            f"{dash['queries']:g}, {_ms(dash['sql_ms'])} | {cells[0]} | {cells[1]} |"
        )
    for r in results:
        lines += [
            "",
            f"### {r['database']}, {r['label']}",
            "",
            f"Measured {r['measured']} on {r['machine']}, at commit {r['commit']}; {r['facts_total']:,} facts in the "
            f"database, {r['acme_facts']:,} of them Acme's ({r['start']} to {r['end']}); {r['users']} users, "
            f"{r['duration']} s per profile.",
            "",
            "| profile | endpoint | requests | req/s | p50 (ms) | p95 (ms) | p99 (ms) | errors |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for profile in PROFILES:
            rows = sorted(
                r["profiles"][profile]["rows"], key=lambda x: ORDER.index(x["name"]) if x["name"] in ORDER else 99
            )
            for x in rows:
                name = f"**{x['name']}**" if x["name"] == "overall" else x["name"]
                rps = "—" if x["rps"] is None else f"{x['rps']:.1f}"
                lines.append(
                    f"| {profile} | {name} | {x['requests']:,} | {rps} | "
                    f"{_ms(x['p50_ms'])} | "
                    f"{_ms(x['p95_ms'])} | {_ms(x['p99_ms'])} | {x['errors']} |"
                )
            for failure in r["profiles"][profile]["failures"][:5]:
                lines.append(f"| {profile} | error | {failure} | | | | | |")
        lines += [
            "",
            "| service time, in-process | requests (best of rounds) | mean (ms) | p50 (ms) | p95 (ms) | "
            "CPU p50 (ms) | SQL queries | SQL time, mean (ms) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, s in r["service"].items():
            lines.append(
                f"| {name} | {s['requests']} (of {s.get('rounds', 1)}) | {_ms(s['mean_ms'])} | {_ms(s['p50_ms'])} | "
                f"{_ms(s['p95_ms'])} | {_ms(s['cpu_p50_ms']) if 'cpu_p50_ms' in s else '—'} | {s['queries']:g} | "
                f"{_ms(s['sql_ms'])} |"
            )
    return "\n".join(lines)


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def _results() -> list[dict]:
    found = [json.loads(p.read_text()) for p in sorted(WORK.glob("results-*.json"))]
    return sorted(found, key=lambda r: (not r["database"].startswith("SQLite"), r["measured"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="postgres://user@host:port/name (created if missing); SQLite if absent")
    parser.add_argument("--facts", type=int, default=500_000, help="Acme's facts after the bulk load (about).")
    parser.add_argument("--days", type=int, default=730, help="Days of history.")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the bulk generator.")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=int, default=75, help="Seconds per locust profile.")
    parser.add_argument("--service-requests", type=int, default=20, help="Requests per round, per page.")
    parser.add_argument("--service-rounds", type=int, default=3, help="Rounds per page; the fastest is kept.")
    parser.add_argument("--label", default="run", help="Names this run in the results (before, after, ...).")
    parser.add_argument("--fresh", action="store_true", help="Prepare the database again even if it is ready.")
    parser.add_argument("--skip-locust", action="store_true", help="Only prepare and measure service time.")
    parser.add_argument("--write-docs", action="store_true", help="Render var/load_bench/results-*.json into docs.")
    args = parser.parse_args()
    if not 1 <= args.users <= 50 or not 10 <= args.duration <= 300:
        raise SystemExit("--users must be 1-50 and --duration 10-300 s: this benchmark stays bounded")
    WORK.mkdir(parents=True, exist_ok=True)
    env = _environment(args)
    if args.postgres:
        _create_postgres_database(args.postgres)
    _django(env)
    from django.db import connections

    state = prepare(args)
    service = service_times(state, requests=args.service_requests, rounds=args.service_rounds)
    connections.close_all()
    profiles = {}
    if not args.skip_locust:
        port = _free_port()
        server = _start_gunicorn(env, port, WORK / "gunicorn.log")
        try:
            for profile, think in PROFILES.items():
                print(f"locust: {profile}, {args.users} users, {args.duration} s", flush=True)
                profiles[profile] = run_locust(
                    port=port,
                    state=state,
                    think=think,
                    users=args.users,
                    duration=args.duration,
                    prefix=WORK / f"locust-{think}",
                )
                overall = next(x for x in profiles[profile]["rows"] if x["name"] == "overall")
                print(f"  {overall['rps']:.1f} req/s, p95 {overall['p95_ms']:.0f} ms, {overall['errors']} errors")
        finally:
            server.terminate()
            server.wait(timeout=30)
    database = "postgres" if args.postgres else "sqlite"
    result = {
        "database": state["database"],
        "label": args.label,
        "commit": _commit(),
        "measured": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": _machine(f"{_memory_gib():.1f} GiB RAM"),
        "facts_total": state["facts_total"],
        "acme_facts": state["acme_facts"],
        "start": state["start"],
        "end": state["end"],
        "users": args.users,
        "duration": args.duration,
        "service": service,
        "profiles": profiles,
    }
    if profiles:
        (WORK / f"results-{database}-{args.label}.json").write_text(json.dumps(result, indent=2))
    if args.write_docs:
        command = ".venv/bin/python bench/load_bench.py --label after --write-docs"
        write_section(SECTION, render(_results(), command=command), heading=HEADING)


if __name__ == "__main__":
    main()

"""Plan page benchmark: one approved plan version with 200 allocation rows (and three versions, three decisions),
rendered by gunicorn on PostgreSQL, requested one after another by a signed-in marketer.

    .venv/bin/python bench/plan_page_bench.py --postgres postgres://postgres@127.0.0.1:5432/rmn_plan_bench \
        --requests 200 --write-docs

Prepares the database (created if missing, migrated, the bench tenant rebuilt), starts gunicorn (2 workers, DEBUG
off) on 127.0.0.1 only, warms up with 5 requests, then times --requests GETs of /plans/<id>/ end to end (client
side: connect, render, read the body). The goal is p95 under 300 ms. --write-docs writes the "Plan page" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._common import commit, machine, write_section  # noqa: E402
from bench.load_bench import (  # noqa: E402
    _collectstatic,
    _create_postgres_database,
    _database_label,
    _django,
    _free_port,
    _start_gunicorn,
)

WORK = ROOT / "var" / "plan_page_bench"
SECTION = "plan_page_bench"
HEADING = "## Plan page: 200 line items"
TENANT = "plan-bench"
ROWS = 200
PLACEMENTS = ["sponsored_product", "search", "onsite_display", "offsite_display", "ctv"]
GOAL_P95_MS = 300.0


def _environment(url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "RMN_VAR_DIR": str(WORK / "var"),
        "DEBUG": "0",
        "SECRET_KEY": "plan-bench-only-secret-key",
        "DJANGO_SETTINGS_MODULE": "rmn_site.settings",
        "CELERY_BROKER_URL": "",  # the folder broker: nothing is optimized, the plans below are stored finished
        "REDIS_URL": "",
    }


def _allocations(rng: np.random.Generator, retailers: list[str], budget: float) -> list[dict]:
    spend = rng.dirichlet(np.ones(ROWS)) * budget * 0.97
    rows = []
    for i in range(ROWS):
        s = float(spend[i])
        sales, margin = s * rng.uniform(1.5, 4.0), s * rng.uniform(0.2, 1.2)
        rows.append(
            {
                "retailer": retailers[i // len(PLACEMENTS)],
                "placement_type": PLACEMENTS[i % len(PLACEMENTS)],
                "spend": round(s, 2),
                "expected_incremental_sales": sales,
                "incremental_sales_interval": [sales * 0.8, sales * 1.2],
                "expected_incremental_margin": margin,
                "incremental_margin_interval": [margin * 0.7, margin * 1.3],
                "expected_attributed_roas": sales / s * 1.4,
                "expected_incremental_roas": sales / s,
                "marginal_roas": float(rng.uniform(0.5, 2.0)),
                "binding": ["max_bound"] if i % 17 == 0 else [],
            }
        )
    return rows


def _curves(rows: list[dict]) -> dict:
    """Response curves as the optimizer stores them for the page's charts: the 12 largest channels by spend, 25
    points each, in cents."""
    out = {}
    for r in sorted(rows, key=lambda r: -r["spend"])[:12]:
        top = max(2 * r["spend"], 1.0)
        spend = [round(top * k / 24, 2) for k in range(25)]
        expected = [round(r["expected_incremental_sales"] * (x / max(r["spend"], 1.0)) ** 0.6, 2) for x in spend]
        low, high = [round(v * 0.8, 2) for v in expected], [round(v * 1.2, 2) for v in expected]
        out[f"{r['retailer']}|{r['placement_type']}"] = {"spend": spend, "expected": expected, "low": low, "high": high}
    return out


def prepare() -> tuple[int, str]:
    """The bench tenant rebuilt: 40 retailers, a plan of 3 versions (the last approved, 200 rows); returns the
    last version's id and a session cookie of its marketer."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import transaction

    from campaigns.models import Retailer
    from feedback.services.plan_review import plan_review_submit
    from governance.models import AuditLog, Membership, Role, Tenant
    from optimizer.models import AllocationPlan

    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(7)
    with transaction.atomic():
        AuditLog.objects.filter(tenant__slug=TENANT).delete()  # the bench tenant's own log, kept from protecting it
        Tenant.objects.filter(slug=TENANT).delete()
        tenant = Tenant.objects.create(name="Plan bench", slug=TENANT, reporting_currency="USD")
        user, _ = get_user_model().objects.get_or_create(username="plan-bench-marketer")
        Membership.objects.create(user=user, tenant=tenant, role=Role.MARKETER)
        codes = [f"pb{r:02d}" for r in range(ROWS // len(PLACEMENTS))]
        for code in codes:
            Retailer.objects.get_or_create(
                code=code,
                defaults={
                    "name": f"Bench retailer {code}",
                    "reporting_currency": "USD",
                    "timezone": "UTC",
                    "default_attribution_window_days": 14,
                    "default_attribution_model": "last_touch",
                },
            )
        parent = None
        for version, budget in enumerate((40000.0, 50000.0, 60000.0), start=1):
            rows = _allocations(rng, codes, budget)
            spend = sum(r["spend"] for r in rows)
            plan = AllocationPlan.objects.create(
                tenant=tenant, name="Bench plan", budget=budget, currency="USD", period_days=28, min_roas=2,
                status=AllocationPlan.Status.SUCCEEDED, created_by=user, parent=parent, version=version,
                root=parent.root if parent else None, request={},
                result={
                    "allocations": rows,
                    "totals": {"budget": budget, "spend": spend, "unspent": budget - spend,
                               "expected_incremental_sales": sum(r["expected_incremental_sales"] for r in rows),
                               "expected_incremental_margin": sum(r["expected_incremental_margin"] for r in rows)},
                    "constraints": {"budget": {"limit": budget, "used": spend, "binding": True}},
                    "objective": "incremental_margin", "warnings": [], "curves": _curves(rows),
                },
            )  # fmt: skip
            if parent is None:
                plan.root = plan
                plan.save(update_fields=["root"])
            parent = plan
    plan_review_submit(plan=parent, user=user, decision="request_changes", comment="Less on display.")
    plan_review_submit(plan=parent, user=user, decision="reject", comment="Still too much on display.")
    plan_review_submit(plan=parent, user=user, decision="approve", comment="Fine.")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    _collectstatic()
    return parent.pk, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def measure(port: int, path: str, cookie: str, *, requests: int, warmup: int = 5) -> list[float]:
    times = []
    for i in range(warmup + requests):
        began = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read()
        conn.close()
        elapsed = (time.perf_counter() - began) * 1000
        if response.status != 200 or b'data-channel="' not in body:
            raise SystemExit(f"GET {path} answered {response.status}, not the plan page with its rows")
        if i >= warmup:
            times.append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", required=True, help="postgres://... of a database for the benchmark only")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    _create_postgres_database(args.postgres)
    env = _environment(args.postgres)
    _django(env)
    from django.db import connection

    plan_id, cookie = prepare()
    database = _database_label(connection)
    port = _free_port()
    server = _start_gunicorn(env, port, WORK / "gunicorn.log")
    try:
        times = measure(port, f"/plans/{plan_id}/", cookie, requests=args.requests)
    finally:
        server.terminate()
        server.wait(timeout=30)
    p50, p95 = float(np.percentile(times, 50)), float(np.percentile(times, 95))
    result = {
        "commit": commit(),
        "machine": machine(),
        "database": database,
        "requests": len(times),
        "rows": ROWS,
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(max(times), 1),
        "mean_ms": round(statistics.fmean(times), 1),
    }
    (WORK / "results.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if args.write_docs:
        verdict = "meets" if p95 < GOAL_P95_MS else "misses"
        write_section(
            SECTION,
            f"""`bench/plan_page_bench.py --postgres postgres://postgres@127.0.0.1:5432/rmn_plan_bench --requests
{args.requests} --write-docs` (commit {result["commit"]}; {result["machine"]}; a shared machine, so other work ran
beside it; {database}; gunicorn with 2 workers, DEBUG off, on 127.0.0.1).

The plan page of an approved version with {ROWS} allocation rows (40 retailers × 5 placements), its version
history (3 versions) and review panel (3 decisions), requested {result["requests"]} times one after another by a
signed-in marketer after 5 warm-ups; client-side time from connect to the last byte.

| p50 | p95 | max | mean |
|---:|---:|---:|---:|
| {p50:.0f} ms | {p95:.0f} ms | {max(times):.0f} ms | {statistics.fmean(times):.0f} ms |

The goal is p95 under {GOAL_P95_MS:.0f} ms: this run {verdict} it.""",
            heading=HEADING,
        )


if __name__ == "__main__":
    main()

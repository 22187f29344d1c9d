"""Review queue speed: 20 reviewers working through a queue of 10,000 items, with gunicorn on PostgreSQL.

    .venv/bin/python bench/review_queue_bench.py --postgres postgres://postgres@127.0.0.1:5432/wt_console_bench \\
        --write-docs

1. Prepares the database named by --postgres (created if missing; `test` and `postgres` are refused) and migrates
   it. A fresh tenant "review-bench" gets --users reviewers, a review task (overlap 2, the four default criteria,
   guidelines v1) and --items items made directly (no model: the queue's speed does not depend on who wrote the
   copy), one in 50 of them gold. A previous run's tenant is deleted first, so every run starts from an untouched
   queue. Each reviewer gets a session made in the database (no login is timed: a login is a PBKDF2 hash).
2. Starts gunicorn (--workers sync workers, default 2; DEBUG off, static files collected) on 127.0.0.1 and runs
   locust headless (bench/review_locustfile.py) for --duration seconds per profile (a reviewer's 2-4 s on each
   item, then no pause at all) with --users users: each user asks for
   its next item (``POST /review/<task>/next/``, the htmx fragment) and submits an answer (``POST /review/<task>/``
   as htmx, whose response is the next item's fragment, handed out in the same request).
3. Checks the queue afterwards: no item has more reviewers than the task's overlap, and no reviewer has an item
   twice (the database's unique constraint says so too).

Results go to var/review_bench/results.json; --write-docs writes them into docs/benchmarks.md (section
"review_queue_bench").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._common import commit as _commit  # noqa: E402
from bench._common import machine as _machine  # noqa: E402
from bench._common import write_section  # noqa: E402
from bench.load_bench import _create_postgres_database, _free_port, _start_gunicorn  # noqa: E402

WORK = ROOT / "var" / "review_bench"
BIN = Path(sys.executable).parent
SECTION = "review_queue_bench"
HEADING = "## Review queue: next item and submit, 20 reviewers on 10,000 items"
TENANT = "review-bench"
GOAL_MS = 150
NAMES = ["next item fragment", "submit answer"]
# A person reads and rates an item in seconds (the console's own median is shown on its quality page); the second
# profile has no pause at all, which measures the server's throughput on this machine rather than a reviewer's wait.
PROFILES = {"think 2-4 s per item": "2-4", "no think time": "0"}


def _environment(url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "RMN_VAR_DIR": str(WORK / "var"),
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "review-bench-only-secret-key",
        "DJANGO_SETTINGS_MODULE": "rmn_site.settings",
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
        "API_THROTTLE_RATE": "100000/minute",
    }


def prepare(args) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connection, transaction

    from feedback.models import Adjudication, Feedback, Guideline, ReviewItem, ReviewTask
    from governance.models import Membership, Role, Tenant

    call_command("migrate", verbosity=0)
    began = time.perf_counter()
    # Answers are protected (append-only, PROTECT): the bench's own are removed with raw deletes first.
    Adjudication.objects.filter(tenant__slug=TENANT)._raw_delete("default")
    Feedback.objects.filter(tenant__slug=TENANT)._raw_delete("default")
    Tenant.objects.filter(slug=TENANT).delete()
    get_user_model().objects.filter(username__startswith="bench-reviewer-").delete()
    with transaction.atomic():
        tenant = Tenant.objects.create(name="Review bench", slug=TENANT, reporting_currency="USD")
        task = ReviewTask.objects.create(tenant=tenant, name="Ad copy", kind=ReviewTask.Kind.CREATIVE, overlap=2)
        Guideline.objects.create(task=task, version=1, text="Rate what a shopper would think.")
        items = [
            ReviewItem(
                tenant=tenant,
                task=task,
                kind=ReviewItem.Kind.SINGLE,
                content={
                    "fields": {
                        "headline": f"Crunchy oats no. {i}",
                        "body": "Baked this morning, sold today.",
                        "cta": "Shop now",
                    },
                    "retailer": "Amazon Ads",
                },
                prompt=[{"role": "user", "content": f"Write ad copy {i}"}],
                adapter_versions=[{"name": "task_creative", "version": 1, "kind": "task"}],
                is_gold=i % 50 == 49,
                gold={"thumb": "up"} if i % 50 == 49 else None,
            )
            for i in range(args.items)
        ]
        ReviewItem.objects.bulk_create(items, batch_size=2000)
        sessions = []
        for i in range(args.users):
            user = get_user_model().objects.create_user(username=f"bench-reviewer-{i + 1}", password=None)
            Membership.objects.create(user=user, tenant=tenant, role=Role.REVIEWER)
            store = SessionStore()
            store["_auth_user_id"] = str(user.pk)
            store["_auth_user_backend"] = settings.AUTHENTICATION_BACKENDS[-1]  # the model backend, after the throttle
            store["_auth_user_hash"] = user.get_session_auth_hash()
            store["current_tenant_id"] = tenant.pk
            store.create()
            sessions.append(store.session_key)
    connection.cursor().execute("ANALYZE")
    print(f"queue of {args.items:,} items and {args.users} reviewers made in {time.perf_counter() - began:.1f} s")
    call_command("collectstatic", interactive=False, verbosity=0)
    major, minor = divmod(connection.pg_version, 10000)
    database = f"PostgreSQL {major}.{minor}"
    return {"task": task.pk, "sessions": sessions, "criteria": task.criteria_list, "database": database}


def run_locust(*, port: int, state: dict, args, think: str) -> dict:
    samples_path = WORK / "samples.json"
    env = {
        **os.environ,
        "REVIEW_THINK": think,
        "REVIEW_TASK": str(state["task"]),
        "REVIEW_SESSIONS": ",".join(state["sessions"]),
        "REVIEW_CRITERIA": ",".join(state["criteria"]),
        "REVIEW_SAMPLES": str(samples_path),
    }
    command = [str(BIN / "locust"), "-f", str(ROOT / "bench" / "review_locustfile.py"), "--headless"]
    command += ["--users", str(args.users), "--spawn-rate", str(args.users), "--run-time", f"{args.duration}s"]
    command += ["--host", f"http://127.0.0.1:{port}", "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING"]
    began = time.time()
    subprocess.run(command, cwd=ROOT, env=env, check=False)
    data = json.loads(samples_path.read_text())
    elapsed = data["until"] - began
    out = {}
    for name in NAMES:
        rows = [s for s in data["samples"] if s[0] == name]
        times = np.array([s[1] for s in rows if s[2]], dtype=float)
        errors = [s[3] for s in rows if not s[2]]
        out[name] = {
            "requests": len(rows),
            "per_second": round(len(rows) / elapsed, 1),
            "p50": float(np.percentile(times, 50)) if len(times) else None,
            "p95": float(np.percentile(times, 95)) if len(times) else None,
            "p99": float(np.percentile(times, 99)) if len(times) else None,
            "errors": len(errors),
            "first_error": errors[0] if errors else "",
        }
    return out


def check_queue(state: dict) -> dict:
    from django.db.models import Count

    from feedback.models import Assignment, Feedback, ReviewItem

    task_items = ReviewItem.objects.filter(task_id=state["task"])
    over = task_items.filter(is_gold=False).annotate(n=Count("assignments")).filter(n__gt=2).count()
    twice = (
        Assignment.objects.filter(item__task_id=state["task"])
        .values("item", "reviewer").annotate(n=Count("id")).filter(n__gt=1).count()
    )  # fmt: skip
    return {
        "answers": Feedback.objects.filter(item__task_id=state["task"]).count(),
        "items_complete": task_items.filter(status__in=["complete", "conflict"]).count(),
        "items_over_overlap": over,
        "assigned_twice": twice,
    }


def _ms(value) -> str:
    return "—" if value is None else f"{value:,.0f}"


def render(results: dict) -> str:
    lines = [
        f"Written by `.venv/bin/python bench/review_queue_bench.py --postgres URL --workers {results['workers']} "
        "--write-docs`. Measured "
        f"{results['when']} on {results['machine']}, a shared machine (locust, gunicorn with {results['workers']} "
        f"workers and PostgreSQL all on its 2 cores, with other engineers' work beside them; load average "
        f"{results['load_before']} before the run), at commit {results['commit']}; {results['database']}; "
        f"{results['items']:,} items, {results['users']} reviewers, {results['duration']} s per profile, the "
        f"profiles one after the other on the same queue. Goal: p95 under {GOAL_MS} ms for both requests.",
        "",
        "| profile | request | requests | req/s | p50 (ms) | p95 (ms) | p99 (ms) | errors | p95 under goal |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for profile, by_name in results["locust"].items():
        for name in NAMES:
            r = by_name[name]
            ok = "yes" if r["p95"] is not None and r["p95"] < GOAL_MS else "no"
            lines.append(
                f"| {profile} | {name} | {r['requests']:,} | {r['per_second']} | {_ms(r['p50'])} | {_ms(r['p95'])} | "
                f"{_ms(r['p99'])} | {r['errors']} | {ok} |"
            )
    q = results["queue"]
    lines += [
        "",
        f"After the run: {q['answers']:,} answers stored, {q['items_complete']:,} items with both answers in, "
        f"{q['items_over_overlap']} items with more reviewers than the overlap, {q['assigned_twice']} items given "
        "twice to one reviewer.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", required=True, help="postgres://... of a database of the benchmark's own.")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=int, default=60, help="Seconds of locust.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers.")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    _create_postgres_database(args.postgres)
    env = _environment(args.postgres)
    os.environ.update(env)
    state = prepare(args)
    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    port = _free_port()
    server = _start_gunicorn(env, port, WORK / "gunicorn.log", args.workers)
    try:
        locust = {}
        for profile, think in PROFILES.items():
            print(f"locust: {profile}, {args.users} users, {args.duration} s", flush=True)
            locust[profile] = run_locust(port=port, state=state, args=args, think=think)
    finally:
        server.terminate()
        server.wait(timeout=30)
    results = {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": _machine(),
        "commit": _commit(),
        "database": state["database"],
        "items": args.items,
        "users": args.users,
        "duration": args.duration,
        "workers": args.workers,
        "load_before": load_before,
        "locust": locust,
        "queue": check_queue(state),
    }
    (WORK / "results.json").write_text(json.dumps(results, indent=2))
    print(render(results))
    if args.write_docs:
        write_section(SECTION, render(results), heading=HEADING)


if __name__ == "__main__":
    main()

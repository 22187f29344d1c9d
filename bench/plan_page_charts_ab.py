"""What the plan page's charts cost: the plan of bench/plan_page_bench.py (run it first, same --postgres) rendered
in-process with its stored response curves and without them, interleaved, so both see the same machine load.

    SECRET_KEY=x DATABASE_URL=postgres://postgres@127.0.0.1:5432/rmn_plan_bench \\
        .venv/bin/python bench/plan_page_charts_ab.py --rounds 20

Prints the median and fastest time of each. The plan's result is restored at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rmn_site.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from optimizer.models import AllocationPlan

    # Pages render without collectstatic's manifest here (the bench's gunicorn has one).
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    settings.STORAGES = {**settings.STORAGES, "staticfiles": static}
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    plan = AllocationPlan.objects.filter(tenant__slug="plan-bench").order_by("-version").first()
    full = dict(plan.result)
    variants = {"with curves": full, "without": {k: v for k, v in full.items() if k != "curves"}}
    client = Client()
    client.force_login(get_user_model().objects.get(username="plan-bench-marketer"))
    times: dict[str, list[float]] = {label: [] for label in variants}
    try:
        for _ in range(args.rounds):
            for label, result in variants.items():
                AllocationPlan.objects.filter(pk=plan.pk).update(result=result)
                start = time.perf_counter()
                response = client.get(f"/plans/{plan.pk}/", HTTP_HOST="127.0.0.1")
                times[label].append(time.perf_counter() - start)
                assert response.status_code == 200, response.status_code
    finally:
        AllocationPlan.objects.filter(pk=plan.pk).update(result=full)
    for label, values in times.items():
        print(f"{label}: median {1000 * statistics.median(values):.1f} ms, fastest {1000 * min(values):.1f} ms")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

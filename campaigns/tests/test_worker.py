"""A task travels through the real broker to a separate worker process and its result comes back."""

from decimal import Decimal

import pytest
from django.db import connection

from campaigns.tasks import summarize_performance

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_it_summarizes_performance_in_a_real_worker(celery_worker_process, catalog, tenants):
    acme = tenants["acme"]
    result = summarize_performance.delay(acme.pk, "2026-03-02", "2026-03-06").get(timeout=60)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT SUM(spend), SUM(attributed_sales), SUM(clicks) FROM campaigns_performancefact "
            "WHERE tenant_id = %s AND date BETWEEN %s AND %s",
            [acme.pk, "2026-03-02", "2026-03-06"],
        )
        spend, sales, clicks = cursor.fetchone()
    assert Decimal(result["spend"]) == Decimal(spend)
    assert Decimal(result["attributed_sales"]) == Decimal(sales)
    assert result["clicks"] == clicks
    # Known truth from the fixture: days 1..5 of spend 10+day on two retailers, sales = 3 x spend.
    assert Decimal(result["spend"]) == 2 * sum(Decimal(10 + d) for d in range(1, 6))
    assert {c["retailer"] for c in result["channels"]} == {"amazon", "walmart"}


def test_it_reports_a_missing_tenant_as_a_task_failure(celery_worker_process, tenants):
    async_result = summarize_performance.delay(999_999)
    with pytest.raises(Exception, match="does not exist"):
        async_result.get(timeout=60)
    assert async_result.failed()

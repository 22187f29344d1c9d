"""The clean-room gateway over real HTTP (live_server) with the measurement services' client: DP answers, refusals
naming their rule, the privacy budget, and retries against faults the gateway injects itself (no mocks)."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from django.core.cache import cache
from django.db import connections
from django.urls import reverse

from demo.engine.shoppers import default_rules, shopper_tables
from governance.clean_rooms import clean_room_dataset_load
from governance.models import AuditLog, PrivacySpend, Role
from governance.pii.engine import analyzer
from governance.services import api_key_create
from optimizer.cleanroom_client import CleanRoomClient, CleanRoomClientError, CleanRoomUnavailable
from optimizer.engine.audience_lift import EVERYONE_SQL, EXPOSED_SQL, audience_lift_from_answers
from optimizer.services.audience_lift import audience_lift_read
from optimizer.services.cleanroom import gateway_query

SALES_BY_TIER = (
    "SELECT s.loyalty_tier, COUNT(DISTINCT s.shopper_id) AS buyers, SUM(p.units) AS units FROM shoppers s "
    "JOIN purchases p ON p.shopper_id = s.shopper_id GROUP BY s.loyalty_tier"
)
SHOPPERS_BY_TIER = "SELECT loyalty_tier, COUNT(DISTINCT shopper_id) AS n FROM shoppers GROUP BY loyalty_tier"


@pytest.fixture
def room(live_server, catalog, tenants, settings):
    settings.CLEANROOM_FAULT_INJECTION = True
    # The PII analyzer is built on first use (audit entries are redacted): over 5 s on a busy 2-core machine, which
    # would make the client's first attempt time out and retry, spending the epsilon twice. Built here, once.
    analyzer()
    acme = tenants["acme"]
    tables = shopper_tables(campaign_ids=["acme-amazon", "acme-walmart"], shoppers=4000, seed=3)
    dataset = clean_room_dataset_load(
        tenant=acme,
        slug="amazon-shoppers",
        name="Amazon shoppers",
        retailer_code="amazon",
        rules=default_rules(),
        shoppers=tables.shoppers,
        exposures=tables.exposures,
        purchases=tables.purchases,
        epsilon_budget=3.0,
    )
    _, raw = api_key_create(tenant=acme, name="measurement", role=Role.MARKETER)
    return {"dataset": dataset, "tables": tables, "key": raw, "url": f"{live_server.url}/api/v1/"}


def client_of(room, *, fault: str | None = None, **kwargs) -> CleanRoomClient:
    options = {"timeout_s": 5.0, "attempts": 4, "backoff_s": 0.01, "backoff_max_s": 0.05} | kwargs
    headers = {"X-Cleanroom-Fault": fault} if fault else None
    return CleanRoomClient(base_url=room["url"], api_key=room["key"], headers=headers, **options)


def test_it_answers_over_http_with_noise_within_the_stated_scale(room):
    with client_of(room) as client:
        answer = client.query(dataset="amazon-shoppers", sql=SALES_BY_TIER, epsilon=1.0)
    tables = room["tables"]
    joined = tables.shoppers.merge(tables.purchases, on="shopper_id")
    truth = joined.groupby("loyalty_tier").agg(buyers=("shopper_id", "nunique"), units=("units", "sum"))
    assert answer["differential_privacy"] is True
    assert answer["noise"]["buyers"]["scale"] == pytest.approx(2.0) and answer["noise"]["units"]["scale"] > 0
    assert {row["loyalty_tier"] for row in answer["rows"]} == set(truth.index)
    for row in answer["rows"]:
        for name in ("buyers", "units"):
            assert abs(row[name] - truth.loc[row["loyalty_tier"], name]) < 10 * answer["noise"][name]["scale"]
    assert answer["epsilon_spent"] == 1.0 and answer["epsilon_remaining"] == pytest.approx(2.0)
    spend = PrivacySpend.objects.get()
    assert spend.epsilon == 1.0 and spend.actor_label.startswith("api-key:")
    assert AuditLog.objects.filter(action="cleanroom.epsilon_spent", tenant=room["dataset"].tenant).count() == 1


def test_it_gives_the_same_numbers_as_pandas_inside_the_tenant(room):
    answer = gateway_query(dataset=room["dataset"], sql=SALES_BY_TIER, release=False)
    tables = room["tables"]
    truth = tables.shoppers.merge(tables.purchases, on="shopper_id").groupby("loyalty_tier")
    assert {r["loyalty_tier"]: (r["buyers"], r["units"]) for r in answer.result.rows} == {
        tier: (g.shopper_id.nunique(), g.units.sum()) for tier, g in truth
    }
    assert answer.epsilon_spent == 0 and not PrivacySpend.objects.exists()


def test_it_refuses_over_http_naming_the_rule_and_audits_it(room):
    with client_of(room) as client, pytest.raises(CleanRoomClientError) as refused:
        client.query(dataset="amazon-shoppers", sql="SELECT * FROM purchases")
    assert refused.value.status == 400 and refused.value.rule == "no_select_star"
    assert "no_select_star" in refused.value.message
    entry = AuditLog.objects.get(action="cleanroom.refused")
    assert entry.detail["rule"] == "no_select_star" and entry.tenant == room["dataset"].tenant
    assert not PrivacySpend.objects.exists()


def test_it_refuses_once_the_budget_is_spent(room):
    with client_of(room) as client:
        for _ in range(3):
            client.query(dataset="amazon-shoppers", sql=SALES_BY_TIER, epsilon=1.0)
        with pytest.raises(CleanRoomClientError) as refused:
            client.query(dataset="amazon-shoppers", sql=SALES_BY_TIER, epsilon=0.5)
    assert refused.value.status == 403 and refused.value.rule == "privacy_budget"
    assert PrivacySpend.objects.count() == 3
    assert AuditLog.objects.filter(action="cleanroom.refused", detail__rule="privacy_budget").count() == 1


def test_the_client_retries_5xx_and_then_answers(room):
    with client_of(room, fault="five-two;status=503;times=2") as client:
        answer = client.query(dataset="amazon-shoppers", sql=SALES_BY_TIER)
    assert cache.get("cleanroom-fault:five-two") == 3  # two injected 503s, then the answer
    assert len(answer["rows"]) == 3
    assert PrivacySpend.objects.count() == 1  # the failed attempts spent nothing


def test_the_client_retries_timeouts_and_then_answers(room):
    started = time.monotonic()
    with client_of(room, fault="slow-two;sleep=4;times=2", timeout_s=1.5) as client:
        answer = client.query(dataset="amazon-shoppers", sql=SHOPPERS_BY_TIER)
    assert cache.get("cleanroom-fault:slow-two") == 3
    assert time.monotonic() - started >= 3.0  # two waits of the 1.5 s timeout
    assert len(answer["rows"]) == 3


def test_the_client_fails_clearly_after_its_limit_of_5xx(room):
    with (
        client_of(room, fault="down;status=502;times=50", attempts=3) as client,
        pytest.raises(CleanRoomUnavailable) as failed,
    ):
        client.query(dataset="amazon-shoppers", sql=SALES_BY_TIER)
    assert failed.value.attempts == 3 and failed.value.status == 502
    assert "after 3 attempts" in failed.value.message and "HTTP 502" in failed.value.message
    assert cache.get("cleanroom-fault:down") == 3


def test_the_client_fails_clearly_after_its_limit_of_timeouts(room):
    with (
        client_of(room, fault="hang;sleep=2;times=50", attempts=2, timeout_s=0.4) as client,
        pytest.raises(CleanRoomUnavailable) as failed,
    ):
        client.query(dataset="amazon-shoppers", sql=SALES_BY_TIER)
    assert failed.value.attempts == 2 and "timed out" in failed.value.message


def test_it_reads_audience_lift_through_the_client(room):
    tenant = room["dataset"].tenant
    with client_of(room) as client:
        lift = audience_lift_read(tenant=tenant, dataset="amazon-shoppers", campaign_id="acme-amazon", client=client)
    assert {row.audience for row in lift.rows} == {"basic", "plus", "premium"}
    assert lift.epsilon_spent == pytest.approx(1.0)  # two queries at the dataset's 0.5
    # The same two queries answered exactly inside the tenant: the noisy read lies within its stated uncertainty of
    # their lift. Its 95% interval (sampling and DP noise) is read as a standard error; each of the three audiences
    # within 4 of them (a chance of about 1 in 10,000 each to fail while right), not "inside the 95% interval" for all
    # three, which a correct read misses now and then by design.

    exact = audience_lift_from_answers(
        gateway_query(dataset=room["dataset"], sql=EVERYONE_SQL, release=False).as_dict(),
        gateway_query(
            dataset=room["dataset"], sql=EXPOSED_SQL.format(campaign="'acme-amazon'"), release=False
        ).as_dict(),
    )
    for noisy, truth in zip(
        sorted(lift.rows, key=lambda r: r.audience), sorted(exact, key=lambda r: r.audience), strict=True
    ):
        se = (noisy.lift_high - noisy.lift_low) / (2 * 1.96)
        assert 0 < se < 0.5, noisy
        assert abs(noisy.lift - truth.lift) < 4 * se, (noisy, truth)
    # And the exact read matches pandas on the same tables.
    tables = room["tables"]
    reached = set(tables.exposures.loc[tables.exposures.campaign_id == "acme-amazon", "shopper_id"])
    buyers = set(tables.purchases.shopper_id)
    people = tables.shoppers.assign(
        reached=tables.shoppers.shopper_id.isin(reached), bought=tables.shoppers.shopper_id.isin(buyers)
    )
    for row in exact:
        tier = people[people.loyalty_tier == row.audience]
        r1 = tier[tier.reached].bought.mean()
        r0 = tier[~tier.reached].bought.mean()
        assert row.lift == pytest.approx(r1 / r0 - 1, rel=1e-9)


def test_a_stranger_or_a_reviewer_key_cannot_query_acmes_room(room, tenants):
    _, stranger = api_key_create(tenant=tenants["globex"], name="partner")
    _, reviewer = api_key_create(tenant=tenants["acme"], name="viewer", role=Role.REVIEWER)
    with (
        CleanRoomClient(base_url=room["url"], api_key=stranger, attempts=1) as client,
        pytest.raises(CleanRoomClientError) as refused,
    ):
        client.query(dataset="amazon-shoppers", sql=SALES_BY_TIER)
    assert refused.value.status == 404
    with CleanRoomClient(base_url=room["url"], api_key=reviewer, attempts=1) as client:
        assert [d["slug"] for d in client.datasets()] == ["amazon-shoppers"]
        with pytest.raises(CleanRoomClientError) as refused:
            client.query(dataset="amazon-shoppers", sql=SALES_BY_TIER)
    assert refused.value.status == 403
    assert not PrivacySpend.objects.exists()


def test_the_ledger_is_read_from_the_database(room):
    """What was spent survives a restart: nothing is held in memory, a fresh read of the rows gives it back."""
    dataset = room["dataset"]
    gateway_query(dataset=dataset, sql=SALES_BY_TIER, epsilon=1.25)
    # As after a restart: no connection, no cache, no object from before.
    connections.close_all()
    cache.clear()
    from governance.models import CleanRoomDataset

    fresh = CleanRoomDataset.objects.get(pk=dataset.pk)
    from optimizer.services.cleanroom import clean_room_budget

    assert clean_room_budget(dataset=fresh) == {"epsilon_budget": 3.0, "epsilon_spent": 1.25, "epsilon_remaining": 1.75}
    assert pd.DataFrame.from_records(PrivacySpend.objects.values("epsilon")).epsilon.sum() == 1.25


def test_the_audience_lift_page_reads_through_the_gateway(room, client, personas, settings, tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"acme": room["key"]}))
    settings.CLEANROOM_KEYS_FILE = keys
    settings.CLEANROOM_GATEWAY_URL = room["url"]
    client.force_login(personas["marketer"])
    url = reverse("lift_study_audience")
    assert "amazon-shoppers" in client.get(url).content.decode()
    response = client.post(url, {"dataset": "amazon-shoppers", "campaign_id": "acme-amazon"})
    assert response.status_code == 200
    result = response.context["result"]
    assert {row.audience for row in result.rows} == {"basic", "plus", "premium"}
    page = response.content.decode()
    assert "premium" in page and "This read spent ε 1" in page
    assert PrivacySpend.objects.count() == 2


def test_the_audience_lift_page_says_when_no_key_is_configured(room, client, personas, settings, tmp_path):
    settings.CLEANROOM_KEYS_FILE = tmp_path / "absent.json"
    client.force_login(personas["owner"])
    response = client.post(reverse("lift_study_audience"), {"dataset": "amazon-shoppers", "campaign_id": "acme-amazon"})
    assert "No clean-room API key for Acme Foods" in response.content.decode()
    assert response.context["result"] is None and not PrivacySpend.objects.exists()


def test_a_reviewer_sees_the_audience_lift_page_but_cannot_spend_budget(room, client, personas):
    client.force_login(personas["reviewer"])
    url = reverse("lift_study_audience")
    assert client.get(url).status_code == 200
    assert client.post(url, {"dataset": "amazon-shoppers", "campaign_id": "acme-amazon"}).status_code == 403


THREE_WAY = (
    "SELECT region, age_band, loyalty_tier, COUNT(DISTINCT shopper_id) AS shoppers FROM shoppers "
    "GROUP BY region, age_band, loyalty_tier"
)


def test_it_names_complementary_suppression_in_answers_over_http(room):
    """A grouping fine enough to have small cells: the rows next to them are left out too, counted under their rule
    in the released answer and in the exact one, whose shown rows match pandas."""
    sizes = room["tables"].shoppers.groupby(["region", "age_band", "loyalty_tier"]).shopper_id.nunique()
    small = int((sizes < 50).sum())
    assert 0 < small < len(sizes)
    exact = gateway_query(dataset=room["dataset"], sql=THREE_WAY, release=False).result
    assert exact.suppressed["min_shoppers"] == small
    complementary = exact.suppressed["complementary_suppression"]
    assert complementary >= 1 and len(exact.rows) == len(sizes) - small - complementary
    for row in exact.rows:
        assert row["shoppers"] == sizes[(row["region"], row["age_band"], row["loyalty_tier"])]
    with client_of(room) as client:
        released = client.query(dataset="amazon-shoppers", sql=THREE_WAY, epsilon=0.5)
    assert released["suppressed_rows"] == exact.suppressed
    keys = ("region", "age_band", "loyalty_tier")
    assert {tuple(r[k] for k in keys) for r in released["rows"]} == {tuple(r[k] for k in keys) for r in exact.rows}


def test_a_retry_after_a_lost_answer_gets_the_same_answer_and_spends_once(room):
    """The gateway answered (and spent) but the answer arrived after the client's timeout: the retry carries the same
    Idempotency-Key and gets that answer again, the budget charged once, no second draw of the noise."""
    with client_of(room, fault="lost-one;late=3;times=1", timeout_s=1.0) as client:
        answer = client.query(dataset="amazon-shoppers", sql=SALES_BY_TIER, epsilon=1.0)
    assert cache.get("cleanroom-fault:lost-one") == 2  # the late answer, then the retry
    assert answer["replayed"] is True and answer["epsilon_spent"] == pytest.approx(1.0)
    [spend] = PrivacySpend.objects.all()
    assert spend.epsilon == pytest.approx(1.0) and spend.request_key
    assert answer["rows"] == spend.answer["rows"] and len(answer["rows"]) == 3
    assert answer["epsilon_remaining"] == pytest.approx(room["dataset"].epsilon_budget - 1.0)
    assert AuditLog.objects.filter(action="cleanroom.replayed").count() == 1


def test_the_same_key_answers_the_same_query_once_and_refuses_another(room):
    with client_of(room) as client:
        first = client.query(dataset="amazon-shoppers", sql=SALES_BY_TIER, request_key="report-2026-12-07")
        again = client.query(dataset="amazon-shoppers", sql=SALES_BY_TIER, request_key="report-2026-12-07")
        fresh = client.query(dataset="amazon-shoppers", sql=SALES_BY_TIER)
        with pytest.raises(CleanRoomClientError) as reused:
            client.query(dataset="amazon-shoppers", sql=SHOPPERS_BY_TIER, request_key="report-2026-12-07")
    assert first["replayed"] is False and again["replayed"] is True
    assert again["rows"] == first["rows"] and again["noise"] == first["noise"]
    assert fresh["rows"] != first["rows"]  # a new key is a new release, with its own noise
    assert PrivacySpend.objects.count() == 2
    assert reused.value.status == 400 and reused.value.rule == "idempotency_key"


def test_a_malformed_idempotency_key_is_refused_naming_the_header(room):
    import httpx

    response = httpx.post(
        f"{room['url']}clean-rooms/amazon-shoppers/query/",
        json={"sql": SALES_BY_TIER},
        headers={"Authorization": f"Api-Key {room['key']}", "Idempotency-Key": "no spaces allowed"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "Idempotency-Key"
    assert not PrivacySpend.objects.exists()

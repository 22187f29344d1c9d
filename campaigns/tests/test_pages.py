import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from campaigns.models import AttributionModel, Campaign, PerformanceFact
from campaigns.services import performance_rollup_refresh
from governance.models import Membership, Role, Tenant

FOUR_PLACES = Decimal("0.0001")


def add_fact(catalog, slug, retailer, day: dt.date, spend: str, sales: str, impressions=500, clicks=7):
    """One more fact, rolled up as every writer of facts does."""
    campaign = catalog[slug]["campaigns"][retailer]
    fact = PerformanceFact.objects.create(
        date=day,
        tenant=campaign.tenant,
        retailer=campaign.retailer,
        campaign=campaign,
        placement_type=campaign.placement_type,
        impressions=impressions,
        clicks=clicks,
        spend=Decimal(spend),
        attributed_sales=Decimal(sales),
        attributed_units=1,
        attribution_window_days=7,  # another attribution key than conftest's rows, so no natural-key clash
        attribution_model=AttributionModel.LAST_TOUCH,
        currency="USD",
        original_currency="USD",
        original_spend=Decimal(spend),
        original_attributed_sales=Decimal(sales),
        ingest_batch=catalog[slug]["batch"],
    )
    performance_rollup_refresh(tenant=campaign.tenant, date_from=day, date_to=day)
    return fact


def raw_sums(tenant, date_from, date_to) -> tuple[Decimal, Decimal]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT SUM(spend), SUM(attributed_sales) FROM campaigns_performancefact "
            "WHERE tenant_id = %s AND date >= %s AND date <= %s",
            [tenant.pk, date_from, date_to],
        )
        spend, sales = cursor.fetchone()
    # SQLite sums as floating point, PostgreSQL as numeric: both are exact at the column's 4 decimal places.
    return Decimal(str(spend)).quantize(FOUR_PLACES), Decimal(str(sales)).quantize(FOUR_PLACES)


def visible(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def kpi(html: str, metric: str) -> str:
    match = re.search(rf'data-metric="{metric}" data-value="([^"]*)"', html)
    assert match, f"no KPI {metric!r} on the page"
    return match.group(1)


@pytest.fixture
def acme_extra(catalog):
    """Acme-only rows with cents (so Acme's numbers differ from Globex's) and one old row outside 90 days."""
    add_fact(catalog, "acme", "amazon", dt.date(2026, 3, 3), "12.34", "56.78")
    add_fact(catalog, "acme", "walmart", dt.date(2026, 3, 9), "1000.01", "2500.55", impressions=90000, clicks=450)
    add_fact(catalog, "acme", "amazon", dt.date(2025, 9, 1), "999.99", "1.00")
    return catalog


# --- access -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dashboard", "campaign_list"])
def test_it_sends_anonymous_visitors_to_login(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_it_sends_anonymous_visitors_to_login_from_campaign_detail(client, catalog):
    url = reverse("campaign_detail", args=[catalog["acme"]["campaigns"]["amazon"].pk])
    assert client.get(url)["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("persona", ["owner", "marketer", "reviewer"])
def test_it_shows_acme_members_the_acme_dashboard(client, personas, acme_extra, persona):
    client.force_login(personas[persona])
    html = client.get(reverse("dashboard")).content.decode()
    assert "Acme Foods" in html
    assert "USD 1,302.35" in visible(html)  # 145 + 145 + 12.34 + 1000.01 in the last 90 days of data


def test_it_never_shows_a_stranger_acme_numbers(client, personas, acme_extra, tenants):
    client.force_login(personas["stranger"])
    html = client.get(reverse("dashboard")).content.decode()
    assert "Globex Beverages" in html and "Acme Foods" not in html
    spend, _ = raw_sums(tenants["globex"], dt.date(2020, 1, 1), dt.date(2030, 1, 1))
    assert Decimal(kpi(html, "spend")) == spend == Decimal("290.0000")
    assert "1,302.35" not in html


def test_it_shows_a_friendly_page_to_a_user_without_a_tenant(client, django_user_model):
    user = django_user_model.objects.create_user(username="loner", password="pw-for-tests-123")
    client.force_login(user)
    for url in (reverse("dashboard"), reverse("campaign_list")):
        response = client.get(url)
        assert response.status_code == 200
        assert "You are not in any tenant yet" in response.content.decode()


# --- dashboard numbers ------------------------------------------------------------------------------------------


def test_it_matches_a_raw_sql_sum_over_the_performance_table(client, personas, acme_extra, tenants):
    client.force_login(personas["marketer"])
    date_from, date_to = dt.date(2026, 3, 2), dt.date(2026, 3, 9)
    html = client.get(reverse("dashboard"), {"date_from": date_from, "date_to": date_to}).content.decode()

    spend, sales = raw_sums(tenants["acme"], date_from, date_to)
    assert Decimal(kpi(html, "spend")) == spend == Decimal("1244.3500")
    assert Decimal(kpi(html, "attributed_sales")) == sales
    roas = sales / spend
    assert Decimal(kpi(html, "roas")).quantize(FOUR_PLACES) == roas.quantize(FOUR_PLACES)
    assert f"USD {spend:,.2f}" in visible(html)
    assert f"USD {sales:,.2f}" in visible(html)
    assert f"{roas:.2f}×" in visible(html)


def test_it_defaults_to_the_last_90_days_that_have_data(client, personas, acme_extra, tenants):
    client.force_login(personas["owner"])
    html = client.get(reverse("dashboard")).content.decode()
    last = dt.date(2026, 3, 10)
    first = last - dt.timedelta(days=89)
    assert f'value="{first.isoformat()}"' in html and f'value="{last.isoformat()}"' in html
    spend, _ = raw_sums(tenants["acme"], first, last)
    assert Decimal(kpi(html, "spend")) == spend  # the September row is outside the window
    assert "999.99" not in html


def test_it_filters_by_retailer_and_placement(client, personas, acme_extra):
    client.force_login(personas["owner"])
    html = client.get(reverse("dashboard"), {"retailer": "walmart"}).content.decode()
    assert Decimal(kpi(html, "spend")) == Decimal("1145.0100")  # 145 + 1000.01
    assert int(kpi(html, "impressions")) == sum(1000 + d for d in range(10)) + 90000
    assert "Walmart Connect" in html
    html = client.get(reverse("dashboard"), {"placement": "sponsored_product"}).content.decode()
    assert Decimal(kpi(html, "spend")) == Decimal("157.3400")


def test_it_shows_the_channel_table_and_weekly_chart(client, personas, acme_extra):
    client.force_login(personas["owner"])
    html = client.get(reverse("dashboard"), {"date_from": "2026-03-01", "date_to": "2026-03-10"}).content.decode()
    assert "By retailer and placement" in html
    assert "Sponsored product" in html and "Onsite display" in html
    assert html.count("<svg") == 2 and html.count("<polyline") == 4  # spend and sales, one line per retailer
    assert "week of Mar 2" in html  # weeks start on Monday
    assert "Spend (USD)" in html


def test_it_shows_an_error_beside_a_reversed_date_range(client, personas, catalog):
    client.force_login(personas["owner"])
    html = client.get(reverse("dashboard"), {"date_from": "2026-03-09", "date_to": "2026-03-02"}).content.decode()
    assert "is before the start date" in html
    assert 'data-metric="spend"' not in html


def test_it_shows_an_empty_state_without_data(client, personas, tenants, django_user_model):
    empty = Tenant.objects.create(name="Initech", slug="initech")
    user = django_user_model.objects.create_user(username="newbie", password="pw-for-tests-123")
    Membership.objects.create(user=user, tenant=empty, role=Role.MARKETER)
    client.force_login(user)
    html = client.get(reverse("dashboard")).content.decode()
    assert "No performance data yet" in html and 'data-metric="spend"' not in html


def test_it_shows_an_empty_state_for_filters_without_rows(client, personas, catalog):
    client.force_login(personas["owner"])
    html = client.get(reverse("dashboard"), {"date_from": "2026-03-01", "date_to": "2026-03-10", "placement": "ctv"})
    assert "No data for these filters" in html.content.decode()


def test_it_returns_only_the_fragment_to_htmx(client, personas, catalog):
    client.force_login(personas["owner"])
    full = client.get(reverse("dashboard"))
    fragment = client.get(reverse("dashboard"), {"retailer": "amazon"}, headers={"HX-Request": "true"})
    assert "<html" in full.content.decode() and 'id="dashboard-body"' in full.content.decode()
    body = fragment.content.decode()
    assert "<html" not in body and "<nav" not in body
    assert body.lstrip().startswith('<div id="dashboard-body"')
    assert Decimal(kpi(body, "spend")) == Decimal("145.0000")
    assert "HX-Request" in fragment["Vary"]


# --- campaigns --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "marketer", "reviewer"])
def test_it_lists_the_tenants_campaigns(client, personas, catalog, persona):
    client.force_login(personas[persona])
    html = client.get(reverse("campaign_list")).content.decode()
    assert "acme amazon" in html and "acme walmart" in html
    assert "globex" not in html


def test_it_filters_campaigns_by_retailer_and_status(client, personas, catalog):
    Campaign.objects.filter(pk=catalog["acme"]["campaigns"]["amazon"].pk).update(status=Campaign.Status.PAUSED)
    client.force_login(personas["owner"])
    html = client.get(reverse("campaign_list"), {"retailer": "walmart"}).content.decode()
    assert "acme walmart" in html and "acme amazon" not in html
    html = client.get(reverse("campaign_list"), {"status": "paused"}).content.decode()
    assert "acme amazon" in html and "acme walmart" not in html
    fragment = client.get(reverse("campaign_list"), {"status": "ended"}, headers={"HX-Request": "true"})
    assert "<html" not in fragment.content.decode() and "No campaigns match" in fragment.content.decode()


def test_it_never_lists_acme_campaigns_to_a_stranger(client, personas, catalog):
    client.force_login(personas["stranger"])
    html = client.get(reverse("campaign_list")).content.decode()
    assert "globex amazon" in html and "acme" not in html.lower().replace("acme foods", "")


def test_it_shows_a_campaign_with_its_recent_performance(client, personas, catalog):
    campaign = catalog["acme"]["campaigns"]["amazon"]
    client.force_login(personas["reviewer"])
    html = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert "acme amazon" in html and "Amazon Ads" in html
    assert Decimal(kpi(html, "lifetime_spend")) == Decimal("145")
    assert "Mon 2 Mar 2026" in html and "Mon 23 Feb 2026" in html  # 1–10 March spans three Monday weeks
    assert "<polyline" in html
    # The data runs Sunday 1 March to Tuesday 10 March: the weeks of 23 Feb and 9 March are partial (two lines each).
    assert html.count('class="dot partial"') == 4
    assert html.count(">partial</span>") == 2


def test_it_hides_another_tenants_campaign(client, personas, catalog):
    client.force_login(personas["stranger"])
    acme_campaign = catalog["acme"]["campaigns"]["amazon"]
    assert client.get(reverse("campaign_detail", args=[acme_campaign.pk])).status_code == 404
    globex_campaign = catalog["globex"]["campaigns"]["amazon"]
    assert client.get(reverse("campaign_detail", args=[globex_campaign.pk])).status_code == 200

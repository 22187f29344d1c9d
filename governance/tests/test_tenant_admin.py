"""The tenant admins' site at /manage/: an admin of the current tenant reads and changes that tenant's brands, SKUs,
campaigns, lift studies and members, and nothing of another tenant (the route walk in rmn_site/tests walks every
route of it for every persona; these are the forms)."""

from __future__ import annotations

from django.urls import reverse

from campaigns.models import SKU, Brand, Campaign, RetailerItem
from governance.models import AuditLog, Membership, Role

CAMPAIGN = {
    "name": "Spring",
    "external_id": "spring-1",
    "placement_type": "search",
    "start_date": "2026-04-01",
    "budget": "100",
    "budget_currency": "USD",
    "status": "draft",
}


def test_it_lists_only_the_current_tenants_campaigns(client, personas, catalog):
    client.force_login(personas["owner"])
    html = client.get(reverse("tenant_admin:campaigns_campaign_changelist")).content.decode()
    assert "acme amazon" in html and "acme walmart" in html
    assert "globex" not in html.lower()


def test_a_filter_by_brand_offers_the_tenants_brands_only(client, personas, catalog):
    second = Brand.objects.create(tenant=catalog["acme"]["brand"].tenant, name="Second")  # a filter needs two
    SKU.objects.filter(pk=catalog["acme"]["skus"][1].pk).update(brand=second)
    client.force_login(personas["owner"])
    html = client.get(reverse("tenant_admin:campaigns_sku_changelist")).content.decode()
    assert f"?brand__id__exact={catalog['acme']['brand'].pk}" in html and f"?brand__id__exact={second.pk}" in html
    assert catalog["globex"]["brand"].name not in html and "globex" not in html.lower()


def test_a_choice_of_another_tenants_brand_is_refused_and_nothing_is_created(client, personas, catalog, retailers):
    client.force_login(personas["owner"])
    url = reverse("tenant_admin:campaigns_campaign_add")
    html = client.get(url).content.decode()
    assert catalog["acme"]["brand"].name in html and catalog["globex"]["brand"].name not in html
    body = {**CAMPAIGN, "retailer": retailers["amazon"].pk, "brand": catalog["globex"]["brand"].pk}
    response = client.post(url, body)
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not Campaign.objects.filter(name="Spring").exists()

    response = client.post(url, {**body, "brand": catalog["acme"]["brand"].pk})
    assert response.status_code == 302
    assert Campaign.objects.get(name="Spring").tenant.slug == "acme"


def test_a_new_brand_belongs_to_the_current_tenant_and_a_duplicate_name_is_a_form_error(client, personas, catalog):
    client.force_login(personas["owner"])
    url = reverse("tenant_admin:campaigns_brand_add")
    assert client.post(url, {"name": "Crunchy"}).status_code == 302
    assert Brand.objects.get(name="Crunchy").tenant.slug == "acme"
    response = client.post(url, {"name": "CRUNCHY"})  # unique per tenant, ignoring case
    assert response.status_code == 200 and "already exists in this tenant" in response.content.decode()
    assert Brand.objects.filter(name__iexact="crunchy").count() == 1
    # Another tenant may use the same name: Globex's brand of that name is its own.
    Brand.objects.create(tenant=catalog["globex"]["brand"].tenant, name="Crunchy")
    assert Brand.objects.filter(name__iexact="crunchy").count() == 2


def test_an_sku_and_its_retailer_items_are_saved_in_the_current_tenant(client, personas, catalog, retailers):
    client.force_login(personas["owner"])
    body = {
        "brand": catalog["acme"]["brand"].pk, "sku_code": "acme-new", "name": "New bar", "currency": "USD",
        "price": "3.50", "unit_cost": "1.20", "stock_units": "10", "is_active": "on",
        "retailer_items-TOTAL_FORMS": "1", "retailer_items-INITIAL_FORMS": "0",
        "retailer_items-MIN_NUM_FORMS": "0", "retailer_items-MAX_NUM_FORMS": "1000",
        "retailer_items-0-retailer": retailers["amazon"].pk, "retailer_items-0-item_id": "B0NEWBAR01",
    }  # fmt: skip
    response = client.post(reverse("tenant_admin:campaigns_sku_add"), body)
    assert response.status_code == 302, response.content.decode()[-3000:]
    sku = SKU.objects.get(sku_code="acme-new")
    item = RetailerItem.objects.get(item_id="B0NEWBAR01")
    assert sku.tenant.slug == item.tenant.slug == "acme" and item.sku == sku


def test_an_admin_changes_a_members_role_with_an_audit_entry_but_adds_nobody(client, personas, catalog):
    client.force_login(personas["owner"])
    membership = Membership.objects.get(user=personas["reviewer"])
    url = reverse("tenant_admin:governance_membership_change", args=[membership.pk])
    assert client.post(url, {"role": Role.MARKETER}).status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.MARKETER
    entry = AuditLog.objects.get(action="membership.update")
    assert entry.tenant.slug == "acme" and entry.actor_user == personas["owner"]
    assert client.get(reverse("tenant_admin:governance_membership_add")).status_code == 403
    own = Membership.objects.get(user=personas["owner"])  # no demoting or removing oneself
    client.post(reverse("tenant_admin:governance_membership_change", args=[own.pk]), {"role": Role.MARKETER})
    assert (
        client.post(reverse("tenant_admin:governance_membership_delete", args=[own.pk]), {"post": "yes"}).status_code
        == 403
    )
    own.refresh_from_db()
    assert own.role == Role.ADMIN
    url = reverse("tenant_admin:governance_membership_delete", args=[membership.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert AuditLog.objects.filter(action="membership.delete", tenant=membership.tenant).count() == 1
    stranger = Membership.objects.get(user=personas["stranger"])
    response = client.post(
        reverse("tenant_admin:governance_membership_change", args=[stranger.pk]), {"role": Role.ADMIN}
    )
    assert response.status_code == 302 and response["Location"] == reverse("tenant_admin:index")
    stranger.refresh_from_db()
    assert stranger.role == Role.MARKETER


def test_an_admin_of_two_tenants_manages_the_current_one(client, personas, catalog, tenants):
    Membership.objects.create(user=personas["owner"], tenant=tenants["globex"], role=Role.ADMIN)
    client.force_login(personas["owner"])
    url = reverse("tenant_admin:campaigns_campaign_changelist")
    assert "acme amazon" in client.get(url).content.decode()
    client.post(reverse("tenant_switch"), {"tenant_id": tenants["globex"].pk, "next": "/"})
    html = client.get(url).content.decode()
    assert "globex amazon" in html and "acme amazon" not in html
    assert "Manage Globex Beverages" in html


def test_the_pages_say_who_uses_which_admin_and_the_api_docs_lead_back(client, personas, catalog):
    client.force_login(personas["owner"])
    nav = client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("tenant_admin:index")}"' in nav and 'href="/admin/"' not in nav
    client.force_login(personas["marketer"])
    assert f'href="{reverse("tenant_admin:index")}"' not in client.get(reverse("dashboard")).content.decode()
    assert client.get(reverse("tenant_admin:index"), follow=True).status_code == 403
    login = client.get(reverse("admin:login")).content.decode()
    assert "for the staff who run RMN Optimizer" in login and 'href="/manage/"' in login
    docs = client.get(reverse("api:docs")).content.decode()
    assert 'href="/">← Back to RMN Optimizer</a>' in docs and 'id="swagger-ui"' in docs

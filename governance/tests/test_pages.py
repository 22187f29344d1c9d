import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from governance.access import SESSION_KEY
from governance.models import APIKey, Membership, Role
from governance.services import api_key_create


def page_urls(catalog) -> list[str]:
    return [
        reverse("dashboard"),
        reverse("dashboard") + "?retailer=amazon",
        reverse("campaign_list"),
        reverse("campaign_detail", args=[catalog["acme"]["campaigns"]["amazon"].pk]),
        reverse("lift_study_list"),
        reverse("lift_study_create"),
        reverse("api_keys"),
    ]


# --- the shell ---------------------------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_login_from_every_page(client, catalog):
    for url in page_urls(catalog):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next="), url


def test_it_loads_htmx_from_our_static_files_and_no_other_host(client, personas, catalog):
    assert finders.find("vendor/htmx/htmx.min.js") and finders.find("vendor/htmx/LICENSE")
    client.force_login(personas["owner"])
    pages = {url: client.get(url) for url in page_urls(catalog)}
    client.logout()
    pages[reverse("login")] = client.get(reverse("login"))
    for url, response in pages.items():
        html = response.content.decode()
        assert response.status_code == 200, url
        assert re.search(r'<script src="/static/vendor/htmx/htmx[.\w]*\.js"', html), url
        assert """<body hx-headers='{"x-csrftoken": \"""" in html, url
        foreign = re.findall(r"(?:https?:)?//(?!testserver\b)[\w.-]+\.\w+", html)
        assert not foreign, f"{url} references other hosts: {foreign}"
    css = finders.find("css/app.css")
    with open(css) as f:
        assert not re.search(r"https?://|@import|url\(", f.read())


def test_it_logs_in_and_out(client, personas):
    response = client.post(reverse("login"), {"username": "marketer", "password": "pw-for-tests-123"})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert "Acme Foods" in client.get(reverse("dashboard")).content.decode()
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302


def test_it_rejects_a_wrong_password_politely(client, personas):
    response = client.post(reverse("login"), {"username": "marketer", "password": "nope"})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()


def test_it_shows_navigation_by_role(client, personas, django_user_model):
    client.force_login(personas["owner"])
    html = client.get(reverse("dashboard")).content.decode()
    assert 'href="/settings/api-keys/"' in html and 'href="/api/v1/docs/"' in html
    assert 'href="/admin/"' not in html
    client.force_login(personas["reviewer"])
    html = client.get(reverse("dashboard")).content.decode()
    assert 'href="/settings/api-keys/"' not in html and 'href="/lift-studies/"' in html
    personas["reviewer"].is_staff = True
    personas["reviewer"].save()
    assert 'href="/admin/"' in client.get(reverse("dashboard")).content.decode()


# --- tenant switching --------------------------------------------------------------------------------------------


def test_it_switches_between_the_users_tenants(client, personas, tenants, catalog):
    owner = personas["owner"]
    Membership.objects.create(user=owner, tenant=tenants["globex"], role=Role.REVIEWER)
    client.force_login(owner)
    html = client.get(reverse("campaign_list")).content.decode()
    assert 'name="tenant_id"' in html and "acme amazon" in html
    response = client.post(
        reverse("tenant_switch"), {"tenant_id": tenants["globex"].pk, "next": reverse("campaign_list")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("campaign_list")
    assert client.session[SESSION_KEY] == tenants["globex"].pk
    html = client.get(reverse("campaign_list")).content.decode()
    assert "globex amazon" in html and "acme amazon" not in html
    # Now a reviewer in Globex: the admin-only page is closed.
    assert client.get(reverse("api_keys")).status_code == 403


def test_it_refuses_to_switch_to_a_tenant_the_user_is_not_in(client, personas, tenants):
    client.force_login(personas["stranger"])
    response = client.post(reverse("tenant_switch"), {"tenant_id": tenants["acme"].pk})
    assert response.status_code == 404
    assert client.session.get(SESSION_KEY) != tenants["acme"].pk
    assert client.get(reverse("tenant_switch")).status_code == 405


def test_it_ignores_an_offsite_next_after_switching(client, personas, tenants):
    client.force_login(personas["owner"])
    response = client.post(reverse("tenant_switch"), {"tenant_id": tenants["acme"].pk, "next": "https://evil.test/"})
    assert response["Location"] == reverse("dashboard")


# --- API keys ----------------------------------------------------------------------------------------------------


def test_it_lets_an_admin_create_a_key_and_shows_it_once(client, personas, tenants):
    client.force_login(personas["owner"])
    response = client.post(reverse("api_keys"), {"name": "BI export", "role": Role.REVIEWER})
    html = response.content.decode()
    key = APIKey.objects.get(tenant=tenants["acme"], name="BI export")
    raw = re.search(r'id="raw-key">([^<]+)<', html).group(1)
    assert APIKey.hash_secret(raw) == key.key_hash and key.role == Role.REVIEWER
    assert response["Cache-Control"] == "no-store"
    assert raw not in client.get(reverse("api_keys")).content.decode()
    assert "BI export" in client.get(reverse("api_keys")).content.decode()


def test_it_lets_an_admin_revoke_a_key(client, personas, tenants):
    key, _ = api_key_create(tenant=tenants["acme"], name="old", created_by=personas["owner"])
    client.force_login(personas["owner"])
    response = client.post(reverse("api_key_revoke", args=[key.pk]), follow=True)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert "Revoked old" in response.content.decode()


def test_it_shows_form_errors_and_creates_nothing(client, personas):
    client.force_login(personas["owner"])
    response = client.post(reverse("api_keys"), {"name": "", "role": "superuser"})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not APIKey.objects.exists()


@pytest.mark.parametrize("persona", ["marketer", "reviewer", "stranger"])
def test_it_closes_api_keys_to_everyone_but_tenant_admins(client, personas, tenants, persona):
    key, _ = api_key_create(tenant=tenants["acme"], name="acme-key")
    client.force_login(personas[persona])
    response = client.get(reverse("api_keys"))
    assert response.status_code == 403
    assert "acme-key" not in response.content.decode()
    assert client.post(reverse("api_keys"), {"name": "sneaky", "role": Role.ADMIN}).status_code == 403
    assert client.post(reverse("api_key_revoke", args=[key.pk])).status_code == 403
    assert list(APIKey.objects.values_list("name", flat=True)) == ["acme-key"]
    key.refresh_from_db()
    assert key.revoked_at is None


def test_it_hides_another_tenants_key_from_an_admin(client, personas, tenants, django_user_model):
    key, _ = api_key_create(tenant=tenants["globex"], name="globex-key")
    client.force_login(personas["owner"])
    assert "globex-key" not in client.get(reverse("api_keys")).content.decode()
    assert client.post(reverse("api_key_revoke", args=[key.pk])).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None

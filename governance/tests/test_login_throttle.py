"""Password logins are throttled (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one username from one
address, that pair is refused for the cool-off, the right password too. API keys are not affected."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.urls import reverse

from governance.models import Role
from governance.services import api_key_create
from rmn_site.tests.api_support import API, client_for

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"  # the personas' password (conftest.py)
LOGIN = reverse("login")


def post_login(client, username: str, password: str, *, url: str = LOGIN, **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


def fail(client, username: str, times: int, **extra) -> list[int]:
    return [post_login(client, username, "wrong-password", **extra).status_code for _ in range(times)]


def logged_in_as(client) -> str | None:
    response = client.get(reverse("dashboard"))
    return response.wsgi_request.user.get_username() if response.status_code == 200 else None


def age_attempts(minutes: int) -> None:
    """Time travel: the recorded failures happened ``minutes`` earlier than they did."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - dt.timedelta(minutes=minutes))


def test_five_wrong_passwords_lock_out_even_the_right_one(client, personas, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60

    statuses = fail(client, "marketer", 5)

    assert statuses == [200, 200, 200, 200, 429]
    response = post_login(client, "marketer", PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Login locked for 15 minutes" in page and "marketer" in page
    assert "RMN Optimizer" in page  # the site's layout, not a bare text
    assert logged_in_as(client) is None


def test_four_wrong_passwords_then_the_right_one_logs_in_and_starts_the_count_again(client, personas):
    assert fail(client, "marketer", 4) == [200] * 4
    assert post_login(client, "marketer", PASSWORD).status_code == 302
    client.post(reverse("logout"))

    # a success clears the count: four more failures are not a lockout
    assert fail(client, "marketer", 4) == [200] * 4
    assert post_login(client, "marketer", PASSWORD).status_code == 302
    assert logged_in_as(client) == "marketer"


def test_another_user_or_another_address_is_not_locked(client, personas):
    fail(client, "marketer", 5)
    assert post_login(client, "marketer", PASSWORD).status_code == 429

    assert post_login(client, "owner", PASSWORD).status_code == 302
    assert logged_in_as(client) == "owner"
    client.post(reverse("logout"))
    assert post_login(client, "marketer", PASSWORD, REMOTE_ADDR="192.0.2.44").status_code == 302
    assert logged_in_as(client) == "marketer"


def test_the_admin_login_is_throttled_too(client, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    admin_login = reverse("admin:login")

    statuses = [post_login(client, "root", "wrong-password", url=admin_login).status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 200, 429]
    response = post_login(client, "root", PASSWORD, url=admin_login)
    assert response.status_code == 429 and "Login locked" in response.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302  # still sent to the login


def test_failures_on_both_login_pages_count_together(client, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    fail(client, "root", 3)
    assert [post_login(client, "root", "nope", url=reverse("admin:login")).status_code for _ in range(2)] == [200, 429]
    assert post_login(client, "root", PASSWORD).status_code == 429


def test_the_lockout_ends_after_the_cool_off(client, personas):
    fail(client, "marketer", 5)

    age_attempts(14)
    assert post_login(client, "marketer", PASSWORD).status_code == 429  # and this try starts the wait again
    age_attempts(14)
    assert post_login(client, "marketer", PASSWORD).status_code == 429

    age_attempts(16)
    response = post_login(client, "marketer", PASSWORD)
    assert response.status_code == 302
    assert logged_in_as(client) == "marketer"


def test_limit_and_cool_off_come_from_settings(client, personas, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=3)
    assert fail(client, "marketer", 2) == [200, 429]
    response = post_login(client, "marketer", PASSWORD)
    assert response.status_code == 429 and "Login locked for 3 minutes" in response.content.decode()
    age_attempts(4)
    assert post_login(client, "marketer", PASSWORD).status_code == 302


def test_behind_a_proxy_the_forwarded_address_counts_and_a_forged_one_does_not(client, personas, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    # the client writes any X-Forwarded-For it likes; the proxy appends the address it really came from
    for forged in range(5):
        post_login(client, "marketer", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{forged}, 203.0.113.9", **proxy)

    assert post_login(client, "marketer", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy).status_code == 429
    other = post_login(client, "marketer", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.77", **proxy)
    assert other.status_code == 302


def test_api_keys_are_neither_counted_nor_locked_out(client, personas, tenants):
    _, raw = api_key_create(tenant=tenants["acme"], name="partner", role=Role.MARKETER)
    fail(client, "marketer", 5)  # this address is now locked out for marketer
    assert post_login(client, "marketer", PASSWORD).status_code == 429

    bad = client_for(key="rmn_nope_wrong-secret")
    assert {bad.get(f"{API}/retailers/").status_code for _ in range(10)} == {401}
    assert not AccessAttempt.objects.exclude(username="marketer").exists()
    assert client_for(key=raw).get(f"{API}/retailers/").status_code == 200
    # a session that was logged in before the lockout keeps working
    assert client_for(personas["marketer"]).get(f"{API}/retailers/").status_code == 200


def test_test_clients_still_log_in_without_a_request(client, personas):
    assert client.login(username="marketer", password=PASSWORD) is True
    assert logged_in_as(client) == "marketer"
    assert client.login(username="marketer", password="wrong") is False

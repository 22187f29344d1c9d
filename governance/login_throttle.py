"""Wiring for django-axes, which throttles password logins (the login page and the Django admin's).

Settings (`AXES_*` in settings.py, from LOGIN_FAILURE_LIMIT, LOGIN_COOLOFF_MINUTES and TRUSTED_PROXY_COUNT) name
the two pieces here. API-key requests never reach Django's ``authenticate`` (governance/api_auth.py), so they are
neither counted nor locked out; the API has its own rate limit.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.conf import settings


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuses a password login while its username and client address are locked out; the next backend
    (ModelBackend) checks the password.

    A call to ``authenticate`` without a request (a management command, ``Client.login`` in tests) is no web login:
    there is no client address to count, so it is let through instead of failing as axes' backend does.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request) -> str | None:
    """The client's address for counting failed logins.

    Without proxies (TRUSTED_PROXY_COUNT=0) it is the connection's address. Behind N proxies that each append the
    address they received the request from to X-Forwarded-For, it is the N-th entry from the right: entries further
    left were written by the client and could be anything, so they are never used.
    """
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        return remote
    return forwarded[-proxies]

"""The load profile of bench/load_bench.py: a marketer cycling the pages used most (dashboard, an allocation plan,
the campaigns API a partner integration polls), each simulated user with its own session and its own API key.

bench/load_bench.py starts it headless and passes everything through the environment:

- ``LOAD_USERNAME`` / ``LOAD_PASSWORD``: the demo marketer every user logs in as (a session of its own per user);
- ``LOAD_PLAN_ID``: the allocation plan whose page is read;
- ``LOAD_API_KEYS``: comma-separated API keys, one per user (the API throttle counts per key, as for partners);
- ``LOAD_THINK``: seconds between two requests of one user, ``"1-3"`` (uniform) or ``"0"`` (none);
- ``LOAD_USERS``: how many users log in; only pages requested after all of them have are timed (20 logins at once
  are 20 PBKDF2 hashes, seconds of CPU on a small machine, which is not what this measures);
- ``LOAD_SAMPLES``: where the response time of every timed request is written (JSON) when the run stops.

A page that does not answer 200 (a redirect to the login page included) counts as an error.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time

from locust import SequentialTaskSet, between, constant, events, task
from locust.contrib.fasthttp import FastHttpUser

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_USER_NUMBERS = itertools.count()
_STATE: dict = {"logged_in": 0, "since": None, "samples": [], "logins": []}


def _wait_time():
    low, _, high = os.environ.get("LOAD_THINK", "1-3").partition("-")
    high = high or low
    return between(float(low), float(high)) if float(high) > 0 else constant(0)


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **kwargs):
    if name == "login":
        _STATE["logins"].append([response_time, exception is None])
        return
    started = time.time() - response_time / 1000
    if _STATE["since"] is not None and started >= _STATE["since"]:  # not queued behind the logins
        _STATE["samples"].append([name, response_time, exception is None, str(exception or "")[:200]])


@events.test_stop.add_listener
def _write_samples(environment, **kwargs):
    path = os.environ.get("LOAD_SAMPLES")
    if path:
        data = {
            "since": _STATE["since"],
            "until": time.time(),
            "samples": _STATE["samples"],
            "logins": _STATE["logins"],
        }
        with open(path, "w") as f:
            json.dump(data, f)


class MarketerCycle(SequentialTaskSet):
    """Dashboard, then the plan, then the campaigns API, then again; the user's wait_time between each request."""

    def _get(self, url: str, name: str, **kwargs):
        with self.client.get(url, name=name, allow_redirects=False, catch_response=True, **kwargs) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")

    @task
    def dashboard(self):
        self._get("/", "dashboard")

    @task
    def plan_detail(self):
        self._get(f"/plans/{os.environ['LOAD_PLAN_ID']}/", "plan detail")

    @task
    def campaigns_api(self):
        self._get("/api/v1/campaigns/", "GET /api/v1/campaigns/", headers={"Authorization": self.user.api_key})


class Marketer(FastHttpUser):
    tasks = [MarketerCycle]
    wait_time = _wait_time()

    def on_start(self):
        keys = os.environ["LOAD_API_KEYS"].split(",")
        self.api_key = f"Api-Key {keys[next(_USER_NUMBERS) % len(keys)]}"
        page = self.client.get("/accounts/login/", name="login (form)")
        token = _CSRF.search(page.text or "")
        with self.client.post(
            "/accounts/login/",
            data={
                "username": os.environ["LOAD_USERNAME"],
                "password": os.environ["LOAD_PASSWORD"],
                "csrfmiddlewaretoken": token.group(1) if token else "",
            },
            name="login",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login answered {response.status_code}, not a redirect")
        _STATE["logged_in"] += 1
        if _STATE["logged_in"] >= int(os.environ.get("LOAD_USERS", "1")) and _STATE["since"] is None:
            _STATE["since"] = time.time()

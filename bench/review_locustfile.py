"""The load profile of bench/review_queue_bench.py: reviewers working through one review queue with the keyboard
flow's requests. Each simulated reviewer has a session of its own (a cookie the bench made, so no login is timed)
and cycles:

- ``next item fragment``: ``POST /review/<task>/next/`` as htmx, the fragment with the reviewer's current item (it
  hands out a new one when the reviewer holds none);
- ``submit answer``: ``POST /review/<task>/`` as htmx with ratings for every criterion and a thumb; the answer is
  stored and the response is the fragment of the next item, handed out in the same request.

Environment: ``REVIEW_TASK`` (task id), ``REVIEW_SESSIONS`` (comma-separated session cookies, one per user),
``REVIEW_CRITERIA`` (comma-separated), ``REVIEW_THINK`` (seconds between items),
``REVIEW_SAMPLES`` (where every timed request is written as JSON at the end).
A response other than 200, or a fragment without an item, counts as an error.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time

from locust import between, constant, events, task
from locust.contrib.fasthttp import FastHttpUser

_ITEM = re.compile(r'name="item" value="(\d+)"')
_USERS = itertools.count()
_SAMPLES: list = []


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **kwargs):
    _SAMPLES.append([name, response_time, exception is None, str(exception or "")[:200]])


@events.test_stop.add_listener
def _write(environment, **kwargs):
    path = os.environ.get("REVIEW_SAMPLES")
    if path:
        with open(path, "w") as f:
            json.dump({"until": time.time(), "samples": _SAMPLES}, f)


def _wait_time():
    """``REVIEW_THINK``: seconds a reviewer spends on an item between submitting and asking again, "2-4" or "0"."""
    low, _, high = os.environ.get("REVIEW_THINK", "0").partition("-")
    high = high or low
    return between(float(low), float(high)) if float(high) > 0 else constant(0)


class Reviewer(FastHttpUser):
    wait_time = _wait_time()

    def on_start(self):
        sessions = os.environ["REVIEW_SESSIONS"].split(",")
        self.task_id = os.environ["REVIEW_TASK"]
        self.criteria = os.environ["REVIEW_CRITERIA"].split(",")
        # Django accepts an unmasked 32-character CSRF secret in both the cookie and the header.
        csrf = "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(32))
        session = sessions[next(_USERS) % len(sessions)]
        self.headers = {
            "Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf, "HX-Request": "true",
        }  # fmt: skip

    @task
    def review(self):
        url = f"/review/{self.task_id}/"
        with self.client.post(
            f"{url}next/", headers=self.headers, name="next item fragment", catch_response=True
        ) as response:
            match = _ITEM.search(response.text or "")
            if response.status_code != 200 or not match:
                response.failure(f"{response.status_code}: no item in the fragment")
                return
            self.item = match[1]
        body = {"item": self.item, "thumb": random.choice(["up", "down"]), "seconds": "3.2"}
        body.update({f"rating_{c}": str(random.randint(2, 5)) for c in self.criteria})
        with self.client.post(
            url, data=body, headers=self.headers, name="submit answer", catch_response=True
        ) as response:
            if response.status_code != 200 or 'id="review-item"' not in (response.text or ""):
                response.failure(f"{response.status_code}: the answer was not taken")

"""API-key bookkeeping stays off the request path: a worker records ``last_used_at`` (at most once a minute), and an
API call answers while another process holds the database's write lock (a long import on SQLite)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time

import pytest
from django.db import connection
from django.utils import timezone

from governance.models import APIKey
from governance.services import api_key_create, api_key_touch
from rmn_site.tests.api_support import API, client_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def key(tenants, personas):
    return api_key_create(tenant=tenants["acme"], name="Partner ETL", created_by=personas["owner"])


@pytest.mark.worker
def test_a_worker_records_when_a_key_was_last_used(celery_worker_process, key):
    key_obj, raw = key
    assert client_for(key=raw).get(f"{API}/retailers/").status_code == 200
    deadline = time.monotonic() + 60
    while APIKey.objects.get(pk=key_obj.pk).last_used_at is None and time.monotonic() < deadline:
        time.sleep(0.2)
    used = APIKey.objects.get(pk=key_obj.pk).last_used_at
    assert used is not None and abs((timezone.now() - used).total_seconds()) < 60


def test_last_used_at_only_moves_forward(key):
    key_obj, _ = key
    later = timezone.now()
    assert api_key_touch(key_id=key_obj.pk, used_at=later)
    assert not api_key_touch(key_id=key_obj.pk, used_at=later - dt.timedelta(minutes=5))  # a late message
    assert APIKey.objects.get(pk=key_obj.pk).last_used_at == later


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the write lock that blocks everyone is SQLite's")
def test_an_api_call_answers_while_another_process_holds_the_write_lock(key, settings):
    key_obj, raw = key
    assert APIKey.objects.get(pk=key_obj.pk).last_used_at is None  # bookkeeping is due on this call
    other = sqlite3.connect(connection.settings_dict["NAME"], timeout=1)
    other.execute("BEGIN IMMEDIATE")  # what an import's replace transaction holds on SQLite
    try:
        started = time.monotonic()
        response = client_for(key=raw).get(f"{API}/retailers/")
        elapsed = time.monotonic() - started
    finally:
        other.rollback()
        other.close()
    assert response.status_code == 200, response.content[:300]
    assert elapsed < 5  # before: the call waited for the lock (20 s) and then failed with "database is locked"

"""Celery tasks of governance: bookkeeping kept off the request path. Thin: a task imports its service inside."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import OperationalError


@shared_task(
    name="governance.api_key_touch", ignore_result=True, autoretry_for=(OperationalError,), retry_backoff=5,
    max_retries=3,
)  # fmt: skip
def api_key_touch(key_id: int, used_at: str) -> None:
    """Record when an API key was last used (a busy database only delays it: the request already has its answer)."""
    from governance.services import api_key_touch as touch

    touch(key_id=key_id, used_at=dt.datetime.fromisoformat(used_at))

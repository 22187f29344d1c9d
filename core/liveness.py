"""Is the worker doing a piece of work still alive? Shared by training jobs, ingest batches and allocation plans.

A worker names itself ``host:pid`` on the row it claims and touches the row's ``heartbeat_at`` from a background
thread while it works. A reaper (beat, every minute) fails rows whose heartbeat stopped: after a time limit, or
sooner when the named process is gone from this host.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta

from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def process_gone(worker: str) -> bool:
    """True when ``worker`` ("host:pid") names this host and no process with that pid exists here any more."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


class Heartbeat(threading.Thread):
    """Calls ``touch()`` every ``interval_s`` until stopped (``touch`` updates the row's heartbeat_at)."""

    def __init__(self, touch: Callable[[], object], interval_s: float, *, name: str):
        super().__init__(name=name, daemon=True)
        self.touch, self.interval_s = touch, interval_s
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval_s):
                try:
                    self.touch()
                except Exception:  # a dropped database connection must not stop the work; the next beat retries
                    logger.exception("Heartbeat %s failed", self.name)
                    connection.close()
        finally:
            connection.close()  # this thread's own connection; Django opens one per thread

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)


def stale(running, *, stale_after_s: float, heartbeat_s: float) -> list[tuple[int, str, object]]:
    """(pk, worker, heartbeat_at) of the rows in ``running`` (a queryset of running work) whose worker stopped:
    silent for ``stale_after_s``, or silent for two beats when its process is gone from this host (a worker in
    another container that shares the hostname is still given the full time). The caller re-checks each row under
    a lock (``heartbeat_at`` unchanged) before failing it."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=stale_after_s)
    local_cutoff = now - timedelta(seconds=min(stale_after_s, 2 * heartbeat_s))
    rows = running.filter(heartbeat_at__lt=max(cutoff, local_cutoff)).values_list("pk", "worker", "heartbeat_at")
    return [(pk, worker, beat) for pk, worker, beat in rows if beat < cutoff or process_gone(worker)]

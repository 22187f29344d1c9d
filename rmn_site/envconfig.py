"""Typed readers for settings that come from the environment.

Every reader raises ``ImproperlyConfigured`` naming the variable and the bad value, so a typo in a deployment
fails at start-up instead of surfacing later as odd behaviour.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None, *, environ: Mapping[str, str] = os.environ) -> str | None:
    value = environ.get(name)
    return default if value is None else value


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] = os.environ) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off.")


def env_int(name: str, default: int, *, minimum: int | None = None, environ: Mapping[str, str] = os.environ) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


def env_list(name: str, default: list[str], *, environ: Mapping[str, str] = os.environ) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_path(name: str, default: Path, *, environ: Mapping[str, str] = os.environ) -> Path:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise ImproperlyConfigured(f"{name}={raw!r} must be an absolute path.")
    return path


def env_origins(name: str, default: list[str], *, environ: Mapping[str, str] = os.environ) -> list[str]:
    """Comma-separated origins such as ``https://rmn.example.com`` (CSRF_TRUSTED_ORIGINS): each needs a scheme
    and a host, and nothing after the host but an optional port."""
    origins = env_list(name, default, environ=environ)
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
            raise ImproperlyConfigured(
                f"{name}: {origin!r} is not an origin; write scheme and host, e.g. https://rmn.example.com "
                "(a leading *. allows subdomains)."
            )
    return [origin.rstrip("/") for origin in origins]


def env_proxy_ssl_header(
    name: str, *, behind_proxy: bool, environ: Mapping[str, str] = os.environ
) -> tuple[str, str] | None:
    """Django's SECURE_PROXY_SSL_HEADER: the header and value by which the TLS proxy says a request came over HTTPS.

    ``name`` holds ``Header-Name: value`` (``X-Forwarded-Proto: https``); when it is unset, ``behind_proxy`` means
    the usual ``X-Forwarded-Proto: https`` and otherwise there is none (the web server itself speaks TLS, or not).
    """
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return ("HTTP_X_FORWARDED_PROTO", "https") if behind_proxy else None
    header, sep, value = raw.partition(":")
    header, value = header.strip(), value.strip()
    if not sep or not header or not value or not all(c.isalnum() or c in "-_" for c in header):
        raise ImproperlyConfigured(f"{name}={raw!r} is not 'Header-Name: value'; use e.g. 'X-Forwarded-Proto: https'.")
    meta = header.upper().replace("-", "_")
    return (meta if meta.startswith("HTTP_") else f"HTTP_{meta}", value)


_DB_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql", "postgis"}


def database_config(raw: str | None, *, sqlite_default: Path, conn_max_age: int) -> dict:
    """Django DATABASES['default'] from a DATABASE_URL, or a WAL-mode SQLite file when unset."""
    if raw is None or raw.strip() == "":
        return _sqlite_config(sqlite_default)
    scheme = urlsplit(raw).scheme
    if scheme not in _DB_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL={raw!r}: unsupported scheme {scheme!r}; use postgres://user@host:port/name "
            "or sqlite:////absolute/path.db"
        )
    if scheme == "sqlite":
        path = raw.split("sqlite://", 1)[1]
        if not path.startswith("/") or path == "/":
            raise ImproperlyConfigured(
                f"DATABASE_URL={raw!r}: a SQLite URL needs an absolute path (sqlite:////abs/file.db)."
            )
        return _sqlite_config(Path("/" + path.lstrip("/")))
    config = dj_database_url.parse(raw, conn_max_age=conn_max_age, conn_health_checks=True)
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"DATABASE_URL={raw!r}: the database name is missing (…/NAME at the end).")
    return config


def _sqlite_config(path: Path) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # WAL lets the web server read while a worker writes; IMMEDIATE avoids lock-upgrade deadlocks. A write
            # waits up to 30 s for the lock: an import's replace holds it about 15 s per 500k rows (docs/benchmarks.md,
            # "Imports while the site is used"), and a login should wait through it rather than fail.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        },
        # The test database must be a file so that a real worker process can read what a test wrote.
        "TEST": {"NAME": str(path.with_name(f"test_{path.name}"))},
    }


_BROKER_SCHEMES = {"redis", "rediss", "filesystem", "memory", "amqp", "sqla+sqlite", "sqla+postgresql"}


def broker_url(raw: str | None, *, folder: Path) -> tuple[str, dict]:
    """Broker URL and transport options. Without CELERY_BROKER_URL the broker is a folder on disk,
    which needs no server yet lets a real worker process consume tasks."""
    if raw is None or raw.strip() == "":
        queue_dir = folder / "queue"
        processed_dir = folder / "processed"
        return "filesystem://", {
            "data_folder_in": str(queue_dir),
            "data_folder_out": str(queue_dir),
            "processed_folder": str(processed_dir),
            "store_processed": False,
            "control_folder": str(folder / "control"),
        }
    scheme = urlsplit(raw).scheme
    if scheme not in _BROKER_SCHEMES:
        raise ImproperlyConfigured(
            f"CELERY_BROKER_URL={raw!r}: unsupported scheme {scheme!r}; use redis://host:6379/0."
        )
    return raw, {}


def result_backend(raw: str | None, *, broker: str, folder: Path) -> str:
    if raw:
        return raw
    if broker.startswith(("redis://", "rediss://")):
        return broker
    return f"file://{folder / 'results'}"

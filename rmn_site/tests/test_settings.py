"""Settings come from the environment; a malformed value stops start-up with a message naming it."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from rmn_site.envconfig import (
    broker_url,
    database_config,
    env_bool,
    env_int,
    env_origins,
    env_path,
    env_proxy_ssl_header,
    result_backend,
)

ROOT = Path(__file__).resolve().parents[2]


def test_it_defaults_to_a_wal_sqlite_file(tmp_path):
    config = database_config(None, sqlite_default=tmp_path / "db.sqlite3", conn_max_age=0)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "db.sqlite3")
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert config["TEST"]["NAME"].endswith("test_db.sqlite3")


def test_it_parses_a_postgres_url(tmp_path):
    config = database_config("postgres://postgres@127.0.0.1:5432/test", sqlite_default=tmp_path / "x", conn_max_age=5)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == ("127.0.0.1", 5432, "test", "postgres")
    assert config["CONN_MAX_AGE"] == 5


def test_it_reads_an_absolute_sqlite_url(tmp_path):
    config = database_config(f"sqlite:///{tmp_path}/x.db", sqlite_default=tmp_path / "y", conn_max_age=0)
    assert config["NAME"] == f"{tmp_path}/x.db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/x", "unsupported scheme 'mysql'"),
        ("nonsense", "unsupported scheme ''"),
        ("postgres://postgres@127.0.0.1:5432/", "database name is missing"),
        ("sqlite://relative.db", "absolute path"),
    ],
)
def test_it_rejects_malformed_database_urls(url, message, tmp_path):
    with pytest.raises(ImproperlyConfigured, match=message) as excinfo:
        database_config(url, sqlite_default=tmp_path / "x", conn_max_age=0)
    assert "DATABASE_URL" in str(excinfo.value)


def test_it_reads_booleans_strictly():
    assert env_bool("X", False, environ={"X": "yes"}) is True
    assert env_bool("X", True, environ={"X": "0"}) is False
    assert env_bool("X", True, environ={}) is True
    with pytest.raises(ImproperlyConfigured, match="X='maybe' is not a boolean"):
        env_bool("X", False, environ={"X": "maybe"})


def test_it_reads_integers_and_paths_strictly():
    assert env_int("N", 3, environ={"N": "7"}) == 7
    with pytest.raises(ImproperlyConfigured, match="N='seven' is not an integer"):
        env_int("N", 3, environ={"N": "seven"})
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env_int("N", 3, minimum=0, environ={"N": "-1"})
    with pytest.raises(ImproperlyConfigured, match="absolute path"):
        env_path("P", Path("/tmp"), environ={"P": "relative/dir"})


def test_it_uses_a_serverless_broker_by_default(tmp_path):
    url, options = broker_url(None, folder=tmp_path)
    assert url == "filesystem://"
    assert options["data_folder_in"] == options["data_folder_out"] == str(tmp_path / "queue")
    assert result_backend(None, broker=url, folder=tmp_path) == f"file://{tmp_path / 'results'}"
    assert result_backend(None, broker="redis://h:6379/0", folder=tmp_path) == "redis://h:6379/0"
    with pytest.raises(ImproperlyConfigured, match="CELERY_BROKER_URL='kafka://x'"):
        broker_url("kafka://x", folder=tmp_path)


# Variables the tests below set themselves: a value in the calling shell must not leak into them.
_OURS = {"SECRET_KEY", "DEBUG", "DATABASE_URL", "ALLOWED_HOSTS", "BEHIND_TLS_PROXY", "TRUSTED_PROXY_COUNT"}
_OUR_PREFIXES = ("SECURE_", "SESSION_", "CSRF_", "LOGIN_")


def _run(args: list[str], env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in _OURS and not k.startswith(_OUR_PREFIXES)}
    env.update(env_overrides)
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _start(env_overrides: dict, *check_args: str) -> subprocess.CompletedProcess:
    return _run([sys.executable, "manage.py", "check", *check_args], env_overrides)


def _settings(env_overrides: dict, *names: str) -> dict:
    """The values ``names`` take in settings.py under the given environment (read in a fresh process)."""
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))"
    )
    result = _run([sys.executable, "-c", code], {"DJANGO_SETTINGS_MODULE": "rmn_site.settings", **env_overrides})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# What docs/deploy.md gives as the production example (behind a TLS proxy).
PRODUCTION = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "rmn.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://rmn.example.com",
    "BEHIND_TLS_PROXY": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_COOKIES": "1",
    "TRUSTED_PROXY_COUNT": "1",
}


def test_it_refuses_to_start_without_a_secret_key_unless_debug(tmp_path):
    result = _start({"RMN_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr
    assert _start({"RMN_VAR_DIR": str(tmp_path), "DEBUG": "1"}).returncode == 0


def test_it_names_a_malformed_value_at_start_up(tmp_path):
    result = _start({"RMN_VAR_DIR": str(tmp_path), "SECRET_KEY": "x", "DATABASE_URL": "mysql://nope/x"})
    assert result.returncode != 0
    assert "DATABASE_URL='mysql://nope/x'" in result.stderr


def test_check_deploy_is_clean_with_the_production_settings(tmp_path):
    env = {**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(50), "RMN_VAR_DIR": str(tmp_path)}

    result = _start(env, "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stderr


def test_check_deploy_names_each_https_setting_left_out(tmp_path):
    env = {
        **{k: v for k, v in PRODUCTION.items() if not k.startswith("SECURE_")},
        "SECRET_KEY": secrets.token_urlsafe(50),
        "RMN_VAR_DIR": str(tmp_path),
    }

    result = _start(env, "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):  # HSTS, redirect, cookies
        assert check in result.stderr, check


def test_it_reads_the_https_settings_from_the_environment(tmp_path):
    names = [
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_PROXY_SSL_HEADER",
        "CSRF_TRUSTED_ORIGINS",
    ]
    base = {"SECRET_KEY": "x", "RMN_VAR_DIR": str(tmp_path)}

    assert _settings({**base, **PRODUCTION}, *names) == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "CSRF_TRUSTED_ORIGINS": ["https://rmn.example.com"],
    }
    # the defaults keep `make demo` working over plain HTTP
    assert _settings(base, *names) == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "CSRF_TRUSTED_ORIGINS": [],
    }
    one_by_one = {**base, "SESSION_COOKIE_SECURE": "1", "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Scheme: https"}
    assert _settings(one_by_one, "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_PROXY_SSL_HEADER") == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_SCHEME", "https"],
    }


def test_it_reads_the_login_throttle_from_the_environment(tmp_path):
    env = {"SECRET_KEY": "x", "RMN_VAR_DIR": str(tmp_path), "LOGIN_FAILURE_LIMIT": "8", "LOGIN_COOLOFF_MINUTES": "30"}
    assert _settings(env, "AXES_FAILURE_LIMIT", "AXES_COOLOFF_TIME") == {
        "AXES_FAILURE_LIMIT": 8,
        "AXES_COOLOFF_TIME": "0:30:00",
    }
    result = _start({"SECRET_KEY": "x", "RMN_VAR_DIR": str(tmp_path), "LOGIN_FAILURE_LIMIT": "0"})
    assert result.returncode != 0 and "LOGIN_FAILURE_LIMIT=0 must be at least 1" in result.stderr


def test_it_reads_origins_and_the_proxy_header_strictly():
    assert env_origins("O", [], environ={"O": "https://a.example.com, https://*.b.example.com:8443/"}) == [
        "https://a.example.com",
        "https://*.b.example.com:8443",
    ]
    for bad in ("rmn.example.com", "https://", "https://a.example.com/path", "ftp://a.example.com"):
        with pytest.raises(ImproperlyConfigured, match=r"CSRF_TRUSTED_ORIGINS: .* is not an origin"):
            env_origins("CSRF_TRUSTED_ORIGINS", [], environ={"CSRF_TRUSTED_ORIGINS": bad})

    assert env_proxy_ssl_header("H", behind_proxy=False, environ={}) is None
    assert env_proxy_ssl_header("H", behind_proxy=True, environ={}) == ("HTTP_X_FORWARDED_PROTO", "https")
    assert env_proxy_ssl_header("H", behind_proxy=False, environ={"H": "X-Forwarded-Ssl: on"}) == (
        "HTTP_X_FORWARDED_SSL",
        "on",
    )
    for bad in ("X-Forwarded-Proto", "X-Forwarded-Proto:", ": https", "X Forwarded: https"):
        with pytest.raises(ImproperlyConfigured, match=r"SECURE_PROXY_SSL_HEADER=.* is not 'Header-Name: value'"):
            env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER", behind_proxy=True, environ={"SECURE_PROXY_SSL_HEADER": bad})

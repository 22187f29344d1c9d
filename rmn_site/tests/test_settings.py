"""Settings come from the environment; a malformed value stops start-up with a message naming it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from rmn_site.envconfig import broker_url, database_config, env_bool, env_int, env_path, result_backend

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


def _start(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_it_refuses_to_start_without_a_secret_key_unless_debug(tmp_path):
    result = _start({"RMN_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr
    assert _start({"RMN_VAR_DIR": str(tmp_path), "DEBUG": "1"}).returncode == 0


def test_it_names_a_malformed_value_at_start_up(tmp_path):
    result = _start({"RMN_VAR_DIR": str(tmp_path), "SECRET_KEY": "x", "DATABASE_URL": "mysql://nope/x"})
    assert result.returncode != 0
    assert "DATABASE_URL='mysql://nope/x'" in result.stderr

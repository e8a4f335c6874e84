"""Invalid configuration fails at start with a clear message (12-factor settings)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from leadowner.env import ConfigurationError, env_bool, env_int, env_url

ROOT = Path(__file__).resolve().parent.parent


def start(env_overrides: dict[str, str], *, drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST")}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DATABASE_URL": "mysql://root@localhost/x", "DEBUG": "1"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://localhost:6379", "DEBUG": "1"}, "REDIS_URL"),
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DEBUG": "0", "SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"DEBUG": "0", "SECRET_KEY": "short"}, "at least 32 characters"),
        ({"DEBUG": "1", "DB_CONN_MAX_AGE": "soon"}, "DB_CONN_MAX_AGE='soon' is not an integer"),
    ],
)
def test_invalid_configuration_fails_at_start_with_a_clear_message(overrides, message):
    result = start(overrides, drop=("DATABASE_URL", "REDIS_URL", "SECRET_KEY"))
    assert result.returncode != 0
    assert "ConfigurationError" in result.stderr
    assert message in result.stderr


def test_the_embedded_default_starts_with_nothing_configured(tmp_path):
    result = start({"DEBUG": "1", "LEADOWNER_VAR_DIR": str(tmp_path)}, drop=("DATABASE_URL", "REDIS_URL"))
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_env_helpers_reject_bad_values(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    assert env_bool("X_BOOL", False) is True
    monkeypatch.setenv("X_INT", "-3")
    with pytest.raises(ConfigurationError, match="at least 0"):
        env_int("X_INT", 1, minimum=0)
    monkeypatch.setenv("X_URL", "ftp://x")
    with pytest.raises(ConfigurationError, match="supported URL"):
        env_url("X_URL", "", schemes=("redis",))


def test_an_sqlite_without_returning_is_refused_at_start(monkeypatch):
    """The bulk writers need SQLite 3.35 (RETURNING): an older library is a system-check error, not a
    failure in the middle of an import."""
    import sqlite3

    from django.core import checks

    from leadowner import checks as our_checks

    assert our_checks.sqlite_supports_returning() == []  # this machine's SQLite is new enough
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.34.1")
    monkeypatch.setattr(our_checks, "connections", {"default": type("Db", (), {"vendor": "sqlite"})()})
    (error,) = our_checks.sqlite_supports_returning()
    assert error.id == "leadowner.E001" and "3.34.1" in error.msg and "3.35.0" in error.msg
    assert error in checks.run_checks()

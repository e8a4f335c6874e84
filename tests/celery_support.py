"""Real Redis servers and real Celery workers for the job tests. No Docker: plain subprocesses.

Each test that needs a broker starts its own `redis-server` on a free port, so nothing it
does (stopping it, killing workers, leftover messages) touches the shared Redis other
engineers and `make test -n 2` use, and parallel test processes never consume each
other's messages. Worker subprocesses connect to exactly the test database this process
uses (pytest-django's `test_...` name, given as DATABASE_URL: settings use it verbatim).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection

from leadowner.celery import app

BASE_DIR = Path(settings.BASE_DIR)
needs_redis_server = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A throwaway redis-server: no persistence, stopped and started again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, timeout=10, what="redis-server to answer")

    def answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping())
        except redis.exceptions.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def pending_messages(self) -> int:
        """Messages waiting in the default queue plus those delivered and not yet acknowledged."""
        client = self.client()
        return int(client.llen("celery")) + int(client.hlen("unacked"))


def wait_until(check: Callable[[], Any], *, timeout: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def reset_producer_pools() -> None:
    """Forget broker connections, so the next send uses `app.conf.broker_url` as it is now."""
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def broker(url: str) -> Iterator[None]:
    """Point this process's Celery app at `url` for the duration."""
    before = app.conf.broker_url
    app.conf.broker_url = url
    reset_producer_pools()
    try:
        yield
    finally:
        app.conf.broker_url = before
        reset_producer_pools()


def current_database_url() -> str:
    """A DATABASE_URL naming exactly the database this test process uses (the test database)."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class WorkerProcess:
    """`celery -A leadowner worker --pool solo` as a subprocess, on the test database and a given broker."""

    def __init__(self, *, broker_url: str, name: str, logdir: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = logdir / f"{name}.log"
        environment = {
            **os.environ,
            "DATABASE_URL": current_database_url(),
            "REDIS_URL": broker_url,
            "DEBUG": "1",
            "LEADOWNER_VAR_DIR": str(logdir / f"{name}-var"),
            "CELERY_VISIBILITY_TIMEOUT": "5",
            "CELERY_SKIP_CHECKS": "1",  # system checks are not under test here
            "DB_CONN_MAX_AGE": "0",
            **(env or {}),
        }
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "leadowner",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--hostname",
                f"{name}@%h",
            ],
            cwd=BASE_DIR,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: b" ready." in self.log() or self.process.poll() is not None, timeout=90, what=f"{name}")
        if self.process.poll() is not None:
            raise AssertionError(f"worker {name} exited at start:\n{self.log().decode(errors='replace')}")

    def log(self) -> bytes:
        return self.log_path.read_bytes() if self.log_path.exists() else b""

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, no message restored by the dying worker."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


def close_other_connections() -> None:
    """End connections to the test database left by worker threads, so it can be flushed and dropped."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )

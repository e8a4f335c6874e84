"""`manage.py serve`: which processes it starts, signal forwarding, and exit when a child dies."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from leadowner.management.commands.serve import ChildSpec, Supervisor, child_specs

PY = sys.executable


def _specs(**overrides: object) -> dict[str, ChildSpec]:
    kwargs: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 8123,
        "worker": True,
        "beat": True,
        "debug": True,
        "redis": False,
        "beat_schedule": Path("/var/x/celerybeat-schedule"),
        "manage_py": Path("/app/manage.py"),
        "python": "py",
    }
    kwargs.update(overrides)
    return {spec.role: spec for spec in child_specs(**kwargs)}  # type: ignore[arg-type]


def test_serve_starts_web_worker_and_beat_with_the_solo_pool_on_the_sqlite_broker() -> None:
    specs = _specs()
    assert list(specs) == ["web", "worker", "beat"]
    assert specs["web"].argv == ("py", "/app/manage.py", "runserver", "127.0.0.1:8123")
    assert specs["worker"].argv == (
        "py",
        "-m",
        "celery",
        "-A",
        "leadowner",
        "worker",
        "--loglevel",
        "INFO",
        "--pool",
        "solo",
    )
    assert specs["beat"].argv[-2:] == ("--schedule", "/var/x/celerybeat-schedule")
    assert specs["beat"].argv[:6] == ("py", "-m", "celery", "-A", "leadowner", "beat")


def test_serve_uses_a_prefork_pool_of_two_when_redis_is_the_broker() -> None:
    worker = _specs(redis=True)["worker"].argv
    assert worker[-4:] == ("--pool", "prefork", "--concurrency", "2")


def test_serve_uses_gunicorn_when_debug_is_off() -> None:
    web = _specs(debug=False)["web"].argv
    assert web[:4] == ("py", "-m", "gunicorn", "leadowner.wsgi")
    assert "127.0.0.1:8123" in web


def test_serve_without_worker_and_beat_starts_only_the_web_process() -> None:
    assert list(_specs(worker=False, beat=False)) == ["web"]
    assert list(_specs(beat=False)) == ["web", "worker"]


def _sleeper(marker: Path) -> tuple[str, ...]:
    """A child that records the signal it got, then exits."""
    code = (
        "import signal, sys, time\n"
        "def stop(signum, frame):\n"
        f"    open({str(marker)!r}, 'w').write(signal.Signals(signum).name)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "signal.signal(signal.SIGINT, stop)\n"
        "time.sleep(60)\n"
    )
    return (PY, "-c", code)


def test_serve_forwards_a_stop_signal_to_every_child_and_exits_zero(tmp_path: Path) -> None:
    specs = [ChildSpec(role, _sleeper(tmp_path / role)) for role in ("web", "worker", "beat")]
    out = io.StringIO()
    supervisor = Supervisor(specs, env=dict(os.environ), cwd=tmp_path, out=out, grace=10)
    threading.Timer(1.0, supervisor.request_stop, args=(signal.SIGTERM,)).start()

    assert supervisor.run() == 0

    assert {role: (tmp_path / role).read_text() for role in ("web", "worker", "beat")} == {
        "web": "SIGTERM",
        "worker": "SIGTERM",
        "beat": "SIGTERM",
    }
    assert all(child.poll() is not None for child in supervisor.children.values())
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines[:3]] == ["web", "worker", "beat"]
    assert all(f"pid {supervisor.children[role].pid}" in lines[i] for i, role in enumerate(("web", "worker", "beat")))


def test_serve_stops_the_others_and_exits_non_zero_when_a_child_fails(tmp_path: Path) -> None:
    specs = [
        ChildSpec("web", _sleeper(tmp_path / "web")),
        ChildSpec("worker", (PY, "-c", "import time, sys; time.sleep(0.5); sys.exit(3)")),
        ChildSpec("beat", _sleeper(tmp_path / "beat")),
    ]
    out = io.StringIO()
    started = time.monotonic()

    assert Supervisor(specs, env=dict(os.environ), cwd=tmp_path, out=out, grace=10).run() == 3

    assert time.monotonic() - started < 8
    assert (tmp_path / "web").read_text() == "SIGTERM"
    assert (tmp_path / "beat").read_text() == "SIGTERM"
    assert "worker" in out.getvalue() and "exited with status 3" in out.getvalue()


def test_serve_kills_a_child_that_ignores_the_stop_signal_after_the_grace_period(tmp_path: Path) -> None:
    stubborn = (PY, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)")
    supervisor = Supervisor(
        [ChildSpec("web", stubborn)], env=dict(os.environ), cwd=tmp_path, out=io.StringIO(), grace=1
    )
    threading.Timer(0.5, supervisor.request_stop, args=(signal.SIGTERM,)).start()

    assert supervisor.run() == 0
    assert supervisor.children["web"].returncode == -signal.SIGKILL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_make_run_serves_the_console_and_the_worker_gets_ready_on_the_embedded_broker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(LEADOWNER_VAR_DIR=str(tmp_path), DEBUG="1", PYTHONUNBUFFERED="1")
    manage = str(Path(settings.BASE_DIR) / "manage.py")
    # No migrate: the login page, the worker and beat need no table, and migrating takes seconds.
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        serve = subprocess.Popen([PY, manage, "serve", "--port", str(port)], env=env, stdout=sink, stderr=sink)
        try:
            status = None
            text = ""
            deadline = time.monotonic() + 25
            while time.monotonic() < deadline:
                time.sleep(0.5)
                text = log.read_text()
                assert serve.poll() is None, text
                if status != 200:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
                            status = response.status
                    except (urllib.error.URLError, ConnectionError):
                        continue
                if status == 200 and " ready." in text and "beat: Starting" in text:
                    break
            assert status == 200, text
            assert " ready." in text, text
            assert "beat: Starting" in text, text
        finally:
            serve.send_signal(signal.SIGINT)
            code = serve.wait(timeout=20)
    assert code == 0, log.read_text()

"""`manage.py serve`: the web app, a Celery worker and Celery beat, as one foreground process.

This is what `make run` starts. Each part is a child process with the same environment,
in its own process group (so a signal reaches the runserver reloader's child or the
prefork pool too). SIGINT/SIGTERM are forwarded to every child; when any child dies the
others are stopped and serve exits with that child's status.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

# How long children get to finish after a stop signal before they are killed.
STOP_GRACE_SECONDS = 10.0
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class ChildSpec:
    role: str  # "web", "worker", "beat"
    argv: tuple[str, ...]
    note: str = ""  # shown next to the pid: the URL, the pool...


def child_specs(
    *,
    host: str,
    port: int,
    worker: bool,
    beat: bool,
    debug: bool,
    redis: bool,
    beat_schedule: Path,
    manage_py: Path,
    python: str = sys.executable,
) -> list[ChildSpec]:
    """The processes to start. Pure, so the choice of commands is tested without starting any."""
    url = f"http://{host}:{port}/"
    if debug:
        web = ChildSpec("web", (python, str(manage_py), "runserver", f"{host}:{port}"), f"{url} (runserver)")
    else:
        web = ChildSpec(
            "web",
            (python, "-m", "gunicorn", "leadowner.wsgi", "--bind", f"{host}:{port}", "--workers", "2"),
            f"{url} (gunicorn)",
        )
    specs = [web]
    celery = (python, "-m", "celery", "-A", "leadowner")
    if worker:
        # The SQLite broker is polled by one process; with Redis a small prefork pool.
        pool = ("--pool", "prefork", "--concurrency", "2") if redis else ("--pool", "solo")
        specs.append(
            ChildSpec(
                "worker",
                (*celery, "worker", "--loglevel", "INFO", *pool),
                "prefork pool of 2 (Redis broker)" if redis else "solo pool (SQLite broker)",
            )
        )
    if beat:
        specs.append(
            ChildSpec(
                "beat",
                (*celery, "beat", "--loglevel", "INFO", "--schedule", str(beat_schedule)),
                f"schedule {beat_schedule}",
            )
        )
    return specs


class Supervisor:
    """Starts the children, forwards stop signals, and stops everything when one dies."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        env: dict[str, str],
        cwd: Path,
        out: TextIO,
        grace: float = STOP_GRACE_SECONDS,
    ) -> None:
        self.specs = list(specs)
        self.env = env
        self.cwd = cwd
        self.out = out
        self.grace = grace
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._stop_signal: int | None = None
        self._signals = 0  # how many stop signals arrived: a second one is forwarded again

    def say(self, line: str) -> None:
        self.out.write(f"serve: {line}\n")
        self.out.flush()

    def start(self) -> None:
        for spec in self.specs:
            if self._stop_signal is not None:
                break
            child = subprocess.Popen(spec.argv, env=self.env, cwd=self.cwd, start_new_session=True)  # noqa: S603
            self.children[spec.role] = child
            self.say(f"{spec.role:<6} pid {child.pid}  {spec.note}".rstrip())

    def request_stop(self, signum: int) -> None:
        """Called from a signal handler: remember it; the loop forwards it."""
        self._stop_signal = signum
        self._signals += 1

    def _signal_all(self, signum: int) -> None:
        for child in self.children.values():
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):  # exited since poll()
                    os.killpg(child.pid, signum)

    def _stop_all(self, signum: int) -> None:
        self._signal_all(signum)
        seen = self._signals
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline:
            if all(child.poll() is not None for child in self.children.values()):
                return
            if self._signals != seen and self._stop_signal is not None:
                # Pressed Ctrl-C again: pass it on (a Celery worker then stops without waiting).
                seen = self._signals
                self._signal_all(self._stop_signal)
            time.sleep(POLL_SECONDS)
        stubborn = [role for role, child in self.children.items() if child.poll() is None]
        if stubborn:
            self.say(f"killing {', '.join(stubborn)} after {self.grace:.0f}s")
            self._signal_all(signal.SIGKILL)
            for child in self.children.values():
                child.wait()

    def run(self) -> int:
        """Supervise until a stop signal (exit 0) or a child's death (exit with its status)."""
        self.start()
        while True:
            if self._stop_signal is not None:
                name = signal.Signals(self._stop_signal).name
                self.say(f"{name} received, stopping {', '.join(self.children)}")
                self._stop_all(self._stop_signal)
                return 0
            for role, child in self.children.items():
                code = child.poll()
                if code is not None:
                    status = f"exited with status {code}" if code >= 0 else f"killed by {signal.Signals(-code).name}"
                    others = [r for r in self.children if r != role]
                    self.say(f"{role} (pid {child.pid}) {status}; stopping {', '.join(others) or 'nothing else'}")
                    self._stop_all(signal.SIGTERM)
                    return 0 if code == 0 else (code if code > 0 else 128 - code)
            time.sleep(POLL_SECONDS)


class Command(BaseCommand):
    help = "Run the web app, a Celery worker and Celery beat together (what `make run` starts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--no-worker", action="store_true", help="do not start a Celery worker")
        parser.add_argument("--no-beat", action="store_true", help="do not start Celery beat")

    def handle(self, *args: Any, **options: Any) -> None:
        var_dir = Path(settings.VAR_DIR)
        schedule = Path(getattr(settings, "CELERY_BEAT_SCHEDULE_FILENAME", var_dir / "celerybeat-schedule"))
        specs = child_specs(
            host=options["host"],
            port=options["port"],
            worker=not options["no_worker"],
            beat=not options["no_beat"],
            debug=settings.DEBUG,
            redis=bool(settings.REDIS_URL),
            beat_schedule=schedule,
            manage_py=Path(settings.BASE_DIR) / "manage.py",
        )
        env = dict(os.environ)
        env.setdefault("DJANGO_SETTINGS_MODULE", "leadowner.settings")
        supervisor = Supervisor(specs, env=env, cwd=Path(settings.BASE_DIR), out=sys.stdout)

        def on_signal(signum: int, frame: FrameType | None) -> None:
            supervisor.request_stop(signum)

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        sys.exit(supervisor.run())

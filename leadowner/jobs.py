"""Recording every run of a lifecycle sweep (shown on the console's jobs screen)."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from leadowner.models import JobRun

logger = logging.getLogger(__name__)


@dataclass
class SweepResult:
    """What a sweep did: counts by kind, row-level errors, and whether more is due."""

    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    more: bool = False

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


Sweep = Callable[..., SweepResult]


def time_budget() -> float:
    """Seconds one task run may work before it stops and re-queues itself.

    Well inside the broker's visibility timeout: Redis hands a message that has been
    unacknowledged for longer to another worker, so a run that outlived it would run twice
    at once (harmless, every change re-checks its state, but wasted).
    """
    visibility = float(getattr(settings, "CELERY_VISIBILITY_TIMEOUT", 30))
    return max(1.0, min(20.0, visibility / 3))


class Deadline:
    """A run's time budget: `Deadline()` starts it, `.passed` says when to stop and report more."""

    def __init__(self, seconds: float | None = None) -> None:
        self.at = time.monotonic() + (time_budget() if seconds is None else seconds)

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at

    @property
    def left(self) -> float:
        return self.at - time.monotonic()


def run_recorded(job: str, sweep: Sweep, *, now: datetime | None = None) -> JobRun:
    """Run `sweep(now=...)`, recording start, finish, counts and errors. Never raises."""
    started = timezone.now()
    run = JobRun.objects.create(job=job, started_at=started)
    try:
        result = sweep(now=now or started)
    except Exception as exc:
        logger.exception("job %s failed", job)
        run.errors = [f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=5)]
        run.ok = False
    else:
        run.counts = dict(result.counts)
        run.errors = list(result.errors)
        run.ok = not result.errors
        if result.more:
            run.counts["more_due"] = 1
    run.finished_at = timezone.now()
    run.save(update_fields=["counts", "errors", "ok", "finished_at"])
    return run

"""Recording every run of a lifecycle sweep (shown on the console's jobs screen)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

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

"""`manage.py run_jobs [--only NAME]`: run every lifecycle sweep now, inline, and print what it did.

The same sweeps beat sends every minute (leadowner.beat.JOBS), run in this process without
a broker, each recorded as a JobRun like a worker's run. A sweep that reports more work
due runs again until it is drained (or `--max-rounds` is reached).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leadowner.beat import JOBS, JOBS_BY_NAME, Job
from leadowner.jobs import run_recorded
from leadowner.models import JobRun


def _words(counts: dict[str, int]) -> str:
    shown = {k: v for k, v in counts.items() if k != "more_due"}
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(shown.items())) or "nothing due"


class Command(BaseCommand):
    help = "Run the lifecycle sweeps now (forfeits, SLAs, escalations, expiries, departures, rebalancing, emails)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only",
            action="append",
            metavar="NAME",
            help=f"run only this sweep (repeatable): {', '.join(JOBS_BY_NAME)}",
        )
        parser.add_argument(
            "--max-rounds", type=int, default=1000, help="stop a sweep that still reports more after this many runs"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        jobs: list[Job] = list(JOBS)
        if options["only"]:
            unknown = [name for name in options["only"] if name not in JOBS_BY_NAME]
            if unknown:
                raise CommandError(f"unknown job {', '.join(unknown)}: choose among {', '.join(JOBS_BY_NAME)}")
            jobs = [JOBS_BY_NAME[name] for name in options["only"]]
        if options["max_rounds"] < 1:
            raise CommandError("--max-rounds must be at least 1")
        failed = False
        for job in jobs:
            sweep = job.load_sweep()
            totals: dict[str, int] = {}
            errors: list[str] = []
            rounds = 0
            run: JobRun | None = None
            while rounds < options["max_rounds"]:
                rounds += 1
                run = run_recorded(job.name, sweep)
                for key, n in run.counts.items():
                    if key != "more_due":
                        totals[key] = totals.get(key, 0) + n
                errors.extend(str(e).splitlines()[0] for e in run.errors)
                if not run.counts.get("more_due") or not run.ok:
                    break
            assert run is not None
            status = "ok" if not errors else f"{len(errors)} errors"
            more = " (more still due)" if run.counts.get("more_due") else ""
            self.stdout.write(f"{job.name}: {_words(totals)}; {rounds} run(s), {status}{more}")
            for error in errors[:20]:
                self.stdout.write(f"  error: {error}")
            failed = failed or bool(errors)
        if failed:
            raise CommandError("some sweeps reported errors (see above and the jobs screen)")

"""Reads for the console's jobs and roster screens: recent sweep runs, departures in progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max

from leadowner.beat import JOBS
from leadowner.errors import ErrorCode, ServiceError
from leadowner.models import JobRun
from routing.services.departures import DeparturePlan, departed_reps_with_records, preview_departure, remaining_of
from territories.models import Rep


@dataclass(frozen=True)
class JobStatus:
    name: str
    description: str
    last_run: JobRun | None  # None: never ran


def last_runs_per_job() -> list[JobStatus]:
    """Every scheduled sweep with its latest run, in schedule order, then any other recorded job (two queries)."""
    latest_ids = JobRun.objects.values("job").annotate(last_id=Max("id")).values_list("job", "last_id")
    by_job = {job: last_id for job, last_id in latest_ids}
    runs = JobRun.objects.in_bulk(list(by_job.values()))
    out = [JobStatus(job.name, job.description, runs.get(by_job.get(job.name, 0))) for job in JOBS]
    scheduled = {job.name for job in JOBS}
    for name in sorted(set(by_job) - scheduled):
        out.append(JobStatus(name, "on demand", runs.get(by_job[name])))
    return out


def recent_runs(*, job: str | None = None, limit: int = 50) -> list[JobRun]:
    """The latest runs, newest first (of one job when given)."""
    rows = JobRun.objects.all()
    if job is not None:
        rows = rows.filter(job=job)
    return list(rows.order_by("-started_at", "-id")[:limit])


@dataclass(frozen=True)
class DepartureProgress:
    rep_id: int
    name: str
    email: str
    departed_at: datetime | None
    reassignment_due_at: datetime | None
    remaining: dict[str, int]

    @property
    def done(self) -> bool:
        return not any(self.remaining.values())


def departures_in_progress(*, limit: int = 50) -> list[DepartureProgress]:
    """Departed reps who still own something, earliest deadline first, with what remains."""
    ids = departed_reps_with_records(limit=limit)
    reps = Rep.objects.in_bulk(ids)
    return [
        DepartureProgress(
            rep_id=rep.pk,
            name=rep.name,
            email=rep.email,
            departed_at=rep.departed_at,
            reassignment_due_at=rep.reassignment_due_at,
            remaining=remaining_of(rep.pk),
        )
        for rep in (reps[i] for i in ids if i in reps)
    ]


def departure_preview(*, rep_id: int, now: datetime) -> DeparturePlan:
    """The roster screen's preview before a manager confirms a departure (routing.services.departures)."""
    rep = Rep.objects.filter(pk=rep_id).first()
    if rep is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"no rep #{rep_id}", "repId")
    return preview_departure(rep=rep, now=now)

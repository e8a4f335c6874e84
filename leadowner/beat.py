"""The one periodic schedule: every lifecycle sweep, every minute.

Due dates live in the database (a lead's assignment and last activity, a dispute's
deadline, a claim's lapse, a departed rep's remaining records...), and each sweep
selects what is due now. No long ETA/countdown tasks: Redis redelivers those when
they outlive the visibility timeout, and they vanish with a flushed broker. A sweep
sent by beat expires before the next one is due, so a stopped worker does not find a
backlog of identical sweeps when it comes back.

`JOBS` is also what `manage.py run_jobs` runs and what the console's jobs screen lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.module_loading import import_string

SWEEP_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class Job:
    name: str  # JobRun.job
    task: str  # the Celery task beat sends
    sweep: str  # dotted path of `sweep(*, now) -> SweepResult`, run inline by run_jobs
    description: str

    def load_sweep(self) -> Any:
        return import_string(self.sweep)


JOBS: tuple[Job, ...] = (
    Job(
        "forfeits",
        "routing.tasks.sweep_forfeits",
        "routing.services.forfeits.sweep_forfeits",
        "leads without meaningful activity within the activity window are forfeited and routed again",
    ),
    Job(
        "first_touch_sla",
        "routing.tasks.sweep_first_touch_sla",
        "routing.services.sla.sweep_first_touch_sla",
        "new leads untouched after the first-touch SLA are reassigned",
    ),
    Job(
        "dispute_escalations",
        "disputes.tasks.sweep_dispute_escalations",
        "disputes.services.sweep_dispute_escalations",
        "disputes past their deadline escalate to the next manager up",
    ),
    Job(
        "claim_expiry",
        "routing.tasks.sweep_claim_expiry",
        "routing.services.expiry.sweep_claim_expiry",
        "claims lapse after their lifetime without activity",
    ),
    Job(
        "registration_expiry",
        "routing.tasks.sweep_registration_expiry",
        "routing.services.expiry.sweep_registration_expiry",
        "deal registrations expire after their lifetime without progress",
    ),
    Job(
        "departures",
        "routing.tasks.sweep_departures",
        "routing.services.departures.sweep_departures",
        "departed reps' leads, accounts, claims and open opportunities are reassigned",
    ),
    Job(
        "rebalancing",
        "routing.tasks.sweep_rebalancing",
        "routing.services.rebalancing.sweep_rebalancing",
        "a plan is proposed for a newly published rule set; confirmed plans are applied",
    ),
    Job(
        "notification_emails",
        "leadowner.tasks.sweep_notification_emails",
        "leadowner.notifications.sweep_notification_emails",
        "notification emails that were never sent are sent",
    ),
)

JOBS_BY_NAME: dict[str, Job] = {job.name: job for job in JOBS}

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    f"sweep {job.name}": {
        "task": job.task,
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"expires": SWEEP_INTERVAL_SECONDS - 5},
    }
    for job in JOBS
}

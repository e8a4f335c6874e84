"""Celery tasks of the disputes domain: thin wrappers around one service each."""

from __future__ import annotations

from disputes.services import sweep_dispute_escalations as escalations_sweep
from leadowner.tasks import project_task, run_sweep_task


@project_task()
def sweep_dispute_escalations() -> dict[str, int]:
    return run_sweep_task(sweep_dispute_escalations, "dispute_escalations", escalations_sweep)

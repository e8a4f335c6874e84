"""Celery tasks of the routing domain: thin wrappers that take ids (or nothing) and call one service.

Each sweep task runs its sweep recorded as a JobRun and re-queues itself while more is
due (leadowner.tasks.run_sweep_task). Every service re-checks state in the statement that
changes it, so a redelivered or duplicated task changes nothing twice.
"""

from __future__ import annotations

from leadowner.tasks import project_task, run_sweep_task
from routing.services.departures import reassign_departed_rep as reassign_service
from routing.services.departures import sweep_departures as departures_sweep
from routing.services.expiry import sweep_claim_expiry as claim_expiry_sweep
from routing.services.expiry import sweep_registration_expiry as registration_expiry_sweep
from routing.services.forfeits import sweep_forfeits as forfeits_sweep
from routing.services.rebalancing import apply_rebalance_moves
from routing.services.rebalancing import sweep_rebalancing as rebalancing_sweep
from routing.services.sla import sweep_first_touch_sla as first_touch_sweep


@project_task()
def sweep_forfeits() -> dict[str, int]:
    return run_sweep_task(sweep_forfeits, "forfeits", forfeits_sweep)


@project_task()
def sweep_first_touch_sla() -> dict[str, int]:
    return run_sweep_task(sweep_first_touch_sla, "first_touch_sla", first_touch_sweep)


@project_task()
def sweep_claim_expiry() -> dict[str, int]:
    return run_sweep_task(sweep_claim_expiry, "claim_expiry", claim_expiry_sweep)


@project_task()
def sweep_registration_expiry() -> dict[str, int]:
    return run_sweep_task(sweep_registration_expiry, "registration_expiry", registration_expiry_sweep)


@project_task()
def sweep_departures() -> dict[str, int]:
    return run_sweep_task(sweep_departures, "departures", departures_sweep)


@project_task()
def sweep_rebalancing() -> dict[str, int]:
    return run_sweep_task(sweep_rebalancing, "rebalancing", rebalancing_sweep)


@project_task()
def reassign_departed_rep(rep_id: int, batch_size: int = 1000) -> dict[str, int]:
    """Reassign what a departed rep owns (sent when a departure is confirmed)."""
    return run_sweep_task(reassign_departed_rep, "departure", reassign_service, rep_id=rep_id, batch_size=batch_size)


@project_task()
def apply_rebalance_plan(plan_id: int) -> dict[str, int]:
    """Apply a confirmed rebalancing plan's moves (sent when a manager applies it)."""
    return run_sweep_task(apply_rebalance_plan, "rebalance plan", apply_rebalance_moves, plan_id=plan_id)


__all__ = [
    "apply_rebalance_plan",
    "reassign_departed_rep",
    "sweep_claim_expiry",
    "sweep_departures",
    "sweep_first_touch_sla",
    "sweep_forfeits",
    "sweep_rebalancing",
    "sweep_registration_expiry",
]

"""The expiry sweeps: claims and deal registrations lapse after their lifetimes without activity.

The rules live with their records (routing.services.claims.expire_claims,
routing.services.registrations.expire_registrations); these wrap them as recorded
sweeps for the beat schedule and `run_jobs`.
"""

from __future__ import annotations

from datetime import datetime

from leadowner.jobs import SweepResult
from routing.services.claims import expire_claims
from routing.services.registrations import expire_registrations


def sweep_claim_expiry(*, now: datetime, batch_size: int = 500) -> SweepResult:
    """End every claim whose lifetime ran out without the claimant's activity."""
    return SweepResult(counts={"claims_expired": expire_claims(now=now, batch_size=batch_size)})


def sweep_registration_expiry(*, now: datetime, batch_size: int = 500) -> SweepResult:
    """Expire every pending or approved deal registration past its lifetime without progress."""
    return SweepResult(counts={"registrations_expired": expire_registrations(now=now, batch_size=batch_size)})

"""Set-based ownership moves: thousands of owners changed in a few statements, with history.

The bulk twin of `routing.services.ownership.set_owner` for departures and rebalancing:
in the caller's transaction it locks the current ownership rows it was given, keeps
only those still current (and still held by the expected rep), ends them with one
`UPDATE ... WHERE id IN (...) AND ended_at IS NULL`, and inserts the new owners and one
OwnershipChange per record (COPY on PostgreSQL: leadowner.bulk_sql.insert_objects). A
row changed by someone else since the caller chose it is left alone and reported, never
overwritten: a second run of the same job finds nothing left to move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from leadowner.bulk_sql import insert_objects
from routing.models import Ownership, OwnershipChange


@dataclass(frozen=True)
class Move:
    """Move the current ownership `ownership_id` to `to_rep_id` (None: the record becomes unowned)."""

    ownership_id: int
    to_rep_id: int | None
    step: str  # a DecisionStep value: the new ownership's reason and the history's step
    why: str


@dataclass(frozen=True)
class Moved:
    move: Move
    account_id: int | None
    lead_id: int | None
    role: str
    from_rep_id: int | None


def move_owners(
    moves: Sequence[Move],
    *,
    actor: str,
    now: datetime,
    rule_set_version: int | None,
    from_rep_id: int | None = None,
) -> list[Moved]:
    """Apply `moves` that still hold (current, and held by `from_rep_id` when given). Returns those applied.

    Runs inside the caller's transaction (or its own): every row is locked before it is
    changed, so a concurrent run of the same moves waits, then finds the rows ended.
    """
    if not moves:
        return []
    by_id = {m.ownership_id: m for m in moves}
    with transaction.atomic():
        current = Ownership.objects.select_for_update().filter(pk__in=list(by_id), ended_at__isnull=True)
        if from_rep_id is not None:
            current = current.filter(rep_id=from_rep_id)
        rows = list(current.order_by("pk").only("pk", "account_id", "lead_id", "role", "rep_id", "partner_id"))
        if not rows:
            return []
        ended = Ownership.objects.filter(pk__in=[r.pk for r in rows], ended_at__isnull=True).update(ended_at=now)
        if ended != len(rows):  # cannot happen under the lock; refuse rather than half-apply
            raise RuntimeError(f"ended {ended} of {len(rows)} locked ownerships")
        new_owners: list[Ownership] = []
        history: list[OwnershipChange] = []
        applied: list[Moved] = []
        for row in rows:
            move = by_id[row.pk]
            if move.to_rep_id is not None:
                new_owners.append(
                    Ownership(
                        account_id=row.account_id,
                        lead_id=row.lead_id,
                        role=row.role,
                        rep_id=move.to_rep_id,
                        reason=move.step,
                        since=now,
                        rule_set_version=rule_set_version,
                    )
                )
            history.append(
                OwnershipChange(
                    at=now,
                    account_id=row.account_id,
                    lead_id=row.lead_id,
                    role=row.role,
                    from_rep_id=row.rep_id,
                    from_partner_id=row.partner_id,
                    to_rep_id=move.to_rep_id,
                    step=move.step,
                    reason=move.why[:500],
                    actor=actor[:200],
                    rule_set_version=rule_set_version,
                )
            )
            applied.append(
                Moved(move=move, account_id=row.account_id, lead_id=row.lead_id, role=row.role, from_rep_id=row.rep_id)
            )
        insert_objects(new_owners)
        insert_objects(history)
    return applied

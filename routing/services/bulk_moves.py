"""Set-based ownership moves: thousands of owners changed in a few statements, with history.

The bulk twin of `routing.services.ownership.set_owner` for departures and rebalancing:
in the caller's transaction one UPDATE locks the current ownership rows it was given (in
id order), ends those still current (and still held by the expected rep) and returns
them; the new owners and one OwnershipChange per record are then written as plain rows
(COPY on PostgreSQL: leadowner.bulk_sql.insert_rows). A
row changed by someone else since the caller chose it is left alone and reported, never
overwritten: a second run of the same job finds nothing left to move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from leadowner.bulk_sql import insert_rows
from routing.models import Ownership, OwnershipChange
from routing.services.ownership import lock_leads_of_owners


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
    changed, in id order, so a concurrent run of the same moves waits, then finds the rows
    ended. The leads among the records are locked before their owner rows, in id order:
    the lock order of every ownership writer (routing.services.ownership). The
    rows are ended by one UPDATE that returns them; the new owners and their history are
    written as plain rows (no model instances: a tenth of a departure's time).
    """
    if not moves:
        return []
    by_id = {m.ownership_id: m for m in moves}
    with transaction.atomic():
        lock_leads_of_owners(list(by_id))
        ended = _end_current(list(by_id), now=now, from_rep_id=from_rep_id)
        if not ended:
            return []
        owners: list[tuple[object, ...]] = []
        history: list[tuple[object, ...]] = []
        applied: list[Moved] = []
        for ownership_id, account_id, lead_id, role, rep_id, partner_id in ended:
            move = by_id[ownership_id]
            if move.to_rep_id is not None:
                owners.append(
                    owner_row(account_id=account_id, lead_id=lead_id, role=role, rep_id=move.to_rep_id,
                              partner_id=None, step=move.step, since=now, rule_set_version=rule_set_version)
                )  # fmt: skip
            history.append(
                history_row(at=now, account_id=account_id, lead_id=lead_id, role=role, from_rep_id=rep_id,
                            from_partner_id=partner_id, to_rep_id=move.to_rep_id, to_partner_id=None,
                            step=move.step, why=move.why, actor=actor, rule_set_version=rule_set_version)
            )  # fmt: skip
            applied.append(Moved(move=move, account_id=account_id, lead_id=lead_id, role=role, from_rep_id=rep_id))
        insert_rows(Ownership, OWNER_COLUMNS, owners)
        insert_rows(OwnershipChange, HISTORY_COLUMNS, history)
    return applied


# The columns of new owners and history written as plain rows (here and by the batch router).
OWNER_COLUMNS = ("account_id", "lead_id", "role", "rep_id", "partner_id", "reason", "since", "rule_set_version")
HISTORY_COLUMNS = (
    "at",
    "account_id",
    "lead_id",
    "role",
    "from_rep_id",
    "from_partner_id",
    "to_rep_id",
    "to_partner_id",
    "step",
    "reason",
    "actor",
    "rule_set_version",
)


def owner_row(
    *,
    account_id: int | None,
    lead_id: int | None,
    role: str,
    rep_id: int | None,
    partner_id: int | None,
    step: str,
    since: datetime,
    rule_set_version: int | None,
) -> tuple[object, ...]:
    """A new current owner's values in OWNER_COLUMNS order (a DecisionStep member written as its value)."""
    return (account_id, lead_id, str(role), rep_id, partner_id, str(step), since, rule_set_version)


def history_row(
    *,
    at: datetime,
    account_id: int | None,
    lead_id: int | None,
    role: str,
    from_rep_id: int | None,
    from_partner_id: int | None,
    to_rep_id: int | None,
    to_partner_id: int | None,
    step: str,
    why: str,
    actor: str,
    rule_set_version: int | None,
) -> tuple[object, ...]:
    """An OwnershipChange's values in HISTORY_COLUMNS order, its reason and actor cut to their columns."""
    return (
        at,
        account_id,
        lead_id,
        str(role),
        from_rep_id,
        from_partner_id,
        to_rep_id,
        to_partner_id,
        str(step),
        why[:500],
        actor[:200],
        rule_set_version,
    )


_ENDED_COLUMNS = "id, account_id, lead_id, role, rep_id, partner_id"


def _end_current(
    ownership_ids: list[int], *, now: datetime, from_rep_id: int | None
) -> list[tuple[int, int | None, int | None, str, int | None, int | None]]:
    """End those of `ownership_ids` still current (and `from_rep_id`'s); their rows, by id.

    PostgreSQL: the rows are locked in id order by a subquery (two runs of the same moves
    never wait on each other in a cycle), then ended by the same statement. SQLite locks
    the whole database for the transaction's writes.
    """
    table = Ownership._meta.db_table
    by_rep = " AND rep_id = %s" if from_rep_id is not None else ""
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET ended_at = %s WHERE ended_at IS NULL AND id IN ("  # noqa: S608
                f"SELECT id FROM {table} WHERE id = ANY(%s) AND ended_at IS NULL{by_rep} ORDER BY id FOR UPDATE"
                f") RETURNING {_ENDED_COLUMNS}",
                [stamp, ownership_ids, *([from_rep_id] if from_rep_id is not None else [])],
            )
            rows = cursor.fetchall()
        else:
            rows = []
            for start in range(0, len(ownership_ids), _SQLITE_CHUNK):
                chunk = ownership_ids[start : start + _SQLITE_CHUNK]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"UPDATE {table} SET ended_at = %s WHERE ended_at IS NULL AND id IN ({marks}){by_rep} "  # noqa: S608
                    f"RETURNING {_ENDED_COLUMNS}",
                    [stamp, *chunk, *([from_rep_id] if from_rep_id is not None else [])],
                )
                rows.extend(cursor.fetchall())
    return sorted(rows)


_SQLITE_CHUNK = 500  # ids per statement (SQLite's bound-parameter limit)

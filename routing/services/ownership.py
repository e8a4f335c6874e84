"""The one place ownership changes: current owner rows and their history, together.

Every function here runs inside the caller's transaction (or its own) and writes an
OwnershipChange row in the same transaction as the change. The partial unique
indexes on Ownership decide races: a second current owner is refused by the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction

from leadowner.bulk_sql import insert_one, insert_together
from leadowner.errors import ErrorCode, ServiceError
from leadowner.prepared import Prepared, statement_cursor
from routing.models import Account, DecisionStep, Lead, OwnerRole, Ownership, OwnershipChange
from territories.models import Partner, Rep


@dataclass(frozen=True)
class Record:
    """An account or a lead: what ownership is about."""

    account: Account | None = None
    lead: Lead | None = None

    def __post_init__(self) -> None:
        if (self.account is None) == (self.lead is None):
            raise ValueError("a record is exactly one of an account or a lead")

    @property
    def filter(self) -> dict[str, object]:
        return {"account": self.account} if self.account is not None else {"lead": self.lead}

    @property
    def label(self) -> str:
        if self.account is not None:
            return f"account {self.account.name}"
        assert self.lead is not None
        return f"lead {self.lead.email}"


# Every ownership write and every routed lead asks who holds a role now: compiled once
# per kind of record (leadowner.prepared).
_CURRENT_OWNER = {
    kind: Prepared(
        lambda pk, role, kind=kind: (
            Ownership.objects.select_related("rep", "partner")
            .filter(**{f"{kind}_id": pk}, role=role, ended_at__isnull=True)
            .order_by("pk")[:1]
        ),
        (int, str),
    )
    for kind in ("account", "lead")
}


# The lock order of every writer of a lead's owners: the lead's row, then its owner rows, as
# route_lead and the sweeps take them. The database's trigger that keeps Ownership.lead_open
# (routing 0010) locks the lead when an owner row of it is written; a writer that took that
# lock only then, with owner rows held, could wait in a cycle with route_lead, which holds
# the lead and waits for its owner row. PostgreSQL only: SQLite runs one writer at a time.
_LOCK_LEAD_SQL = f"SELECT id FROM {Lead._meta.db_table} WHERE id = %s FOR NO KEY UPDATE"  # noqa: S608
_LOCK_LEADS_OF_OWNERS_SQL = (
    f"SELECT id FROM {Lead._meta.db_table} WHERE id IN "  # noqa: S608
    f"(SELECT lead_id FROM {Ownership._meta.db_table} WHERE id = ANY(%s)) ORDER BY id FOR NO KEY UPDATE"
)


def lock_lead(record: Record) -> None:
    """Lock a lead's row before its owner rows are changed (see above); an account needs none."""
    if record.lead is None or connection.vendor != "postgresql":
        return
    with statement_cursor() as cursor:
        cursor.execute(_LOCK_LEAD_SQL, [record.lead.pk])


def lock_leads_of_owners(ownership_ids: list[int]) -> None:
    """Lock the leads these owner rows are of, in id order, before the rows (see above)."""
    if connection.vendor != "postgresql" or not ownership_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_LEADS_OF_OWNERS_SQL, [ownership_ids])


def current_owner(record: Record, role: str) -> Ownership | None:
    if record.account is not None:
        found = _CURRENT_OWNER["account"](record.account.pk, str(role))
    else:
        assert record.lead is not None
        found = _CURRENT_OWNER["lead"](record.lead.pk, str(role))
    return found[0] if found else None


def _history_row(
    record: Record,
    *,
    role: str,
    before: Ownership | None,
    rep: Rep | None,
    partner: Partner | None,
    step: str,
    why: str,
    actor: str,
    now: datetime,
    rule_set_version: int | None,
) -> OwnershipChange:
    """The history row of a change, not saved yet."""
    return OwnershipChange(
        at=now,
        **record.filter,
        role=role,
        from_rep_id=before.rep_id if before else None,
        from_partner_id=before.partner_id if before else None,
        to_rep=rep,
        to_partner=partner,
        step=step,
        reason=why[:500],
        actor=actor[:200],
        rule_set_version=rule_set_version,
    )


def _note_first_assignment(record: Record, role: str, now: datetime) -> None:
    """A lead's first SALES owner: stamp `first_assigned_at` once (the time-to-assignment metric)."""
    lead = record.lead
    if lead is None or role != OwnerRole.SALES or lead.first_assigned_at is not None:
        return
    Lead.objects.filter(pk=lead.pk, first_assigned_at__isnull=True).update(first_assigned_at=now)
    lead.first_assigned_at = now


def _check_owner(role: str, rep: Rep | None, partner: Partner | None) -> None:
    if (rep is None) == (partner is None):
        raise ValueError("an owner is exactly one of a rep or a partner")
    if role not in OwnerRole.values:
        raise ServiceError(ErrorCode.INVALID, f"unknown role {role}", "role")


def _insert_owner(
    record: Record,
    *,
    role: str,
    before: Ownership | None,
    rep: Rep | None,
    partner: Partner | None,
    step: str,
    why: str,
    actor: str,
    now: datetime,
    rule_set_version: int | None,
    expires_at: datetime | None,
) -> Ownership:
    """The new current owner row and its history row; the race is the caller's to handle
    (the partial unique index raises IntegrityError for a second current owner)."""
    ownership = Ownership(
        **record.filter,
        role=role,
        rep=rep,
        partner=partner,
        reason=step,
        since=now,
        expires_at=expires_at,
        rule_set_version=rule_set_version,
    )
    change = _history_row(
        record,
        role=role,
        before=before,
        rep=rep,
        partner=partner,
        step=step,
        why=why,
        actor=actor,
        now=now,
        rule_set_version=rule_set_version,
    )
    insert_together(ownership, change)  # one statement for both (every routed lead writes them)
    return ownership


def set_owner(
    record: Record,
    *,
    role: str,
    rep: Rep | None = None,
    partner: Partner | None = None,
    step: str,
    why: str,
    actor: str,
    now: datetime,
    rule_set_version: int | None = None,
    expires_at: datetime | None = None,
    expected: Ownership | bool | None = True,
) -> Ownership:
    """Make `rep` (or `partner`) the current owner of `record` in `role`.

    Ends the current owner, if any, and writes one history row. `expected`: pass the
    Ownership the caller based its decision on (or None for "unowned"); if another
    change got there first, the conditional update touches no row and CONFLICT is
    raised instead of silently overwriting. Pass True (default) to replace whatever is
    current.
    """
    _check_owner(role, rep, partner)
    with transaction.atomic():
        lock_lead(record)
        before = current_owner(record, role)
        if expected is not True:
            expected_pk = expected.pk if isinstance(expected, Ownership) else None
            actual_pk = before.pk if before else None
            if expected_pk != actual_pk:
                raise ServiceError(ErrorCode.CONFLICT, f"the owner of {record.label} changed meanwhile; try again")
        if before is not None:
            if before.rep_id == (rep.pk if rep else None) and before.partner_id == (partner.pk if partner else None):
                if expires_at != before.expires_at:
                    Ownership.objects.filter(pk=before.pk).update(expires_at=expires_at)
                    before.expires_at = expires_at
                return before
            ended = Ownership.objects.filter(pk=before.pk, ended_at__isnull=True).update(ended_at=now)
            if ended == 0:
                raise ServiceError(ErrorCode.CONFLICT, f"the owner of {record.label} changed meanwhile; try again")
        try:
            with transaction.atomic():
                ownership = _insert_owner(
                    record,
                    role=role,
                    before=before,
                    rep=rep,
                    partner=partner,
                    step=step,
                    why=why,
                    actor=actor,
                    now=now,
                    rule_set_version=rule_set_version,
                    expires_at=expires_at,
                )
        except IntegrityError:
            raise ServiceError(
                ErrorCode.CONFLICT, f"{record.label} got another {role} owner meanwhile; try again"
            ) from None
        _note_first_assignment(record, role, now)
        return ownership


def first_owner(
    record: Record,
    *,
    role: str,
    rep: Rep | None = None,
    partner: Partner | None = None,
    step: str,
    why: str,
    actor: str,
    now: datetime,
    rule_set_version: int | None = None,
) -> Ownership:
    """The first owner of a record the caller's transaction has just inserted, with its history.

    For the caller to use only on such a record (submit_lead): nobody else can see it before
    that transaction commits, so nobody can hold the role, and the current-owner read and the
    savepoints set_owner and claim_unowned take against a race are left out. The partial
    unique index still refuses a second owner: CONFLICT, and the caller's transaction, which
    the failed INSERT aborted, rolls back whole. Here it is only checked that a transaction
    is open. Stamping `first_assigned_at` is the caller's: it writes the lead with it.
    """
    _check_owner(role, rep, partner)
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("first_owner is for a record inserted in the caller's transaction")
    try:
        return _insert_owner(
            record,
            role=role,
            before=None,
            rep=rep,
            partner=partner,
            step=step,
            why=why,
            actor=actor,
            now=now,
            rule_set_version=rule_set_version,
            expires_at=None,
        )
    except IntegrityError:
        raise ServiceError(ErrorCode.CONFLICT, f"{record.label} got another {role} owner meanwhile") from None


def claim_unowned(
    record: Record,
    *,
    role: str,
    rep: Rep | None = None,
    partner: Partner | None = None,
    step: str,
    why: str,
    actor: str,
    now: datetime,
    rule_set_version: int | None = None,
    expires_at: datetime | None = None,
) -> Ownership:
    """Take ownership only if nobody holds the role: first to insert wins.

    The partial unique index decides; the loser gets ALREADY_OWNED, never a 500.
    """
    try:
        with transaction.atomic():
            lock_lead(record)
            ownership = _insert_owner(
                record,
                role=role,
                before=None,
                rep=rep,
                partner=partner,
                step=step,
                why=why,
                actor=actor,
                now=now,
                rule_set_version=rule_set_version,
                expires_at=expires_at,
            )
            _note_first_assignment(record, role, now)
    except IntegrityError:
        holder = current_owner(record, role)
        who = (
            (holder.rep.name if holder.rep else holder.partner.name if holder.partner else "someone")
            if holder
            else "someone"
        )
        raise ServiceError(ErrorCode.ALREADY_OWNED, f"{record.label} is already owned by {who}") from None
    return ownership


def end_owner(
    record: Record,
    *,
    role: str,
    why: str,
    actor: str,
    now: datetime,
    step: str = DecisionStep.UNASSIGNED,
    rule_set_version: int | None = None,
    expected: Ownership | None = None,
) -> Ownership | None:
    """End the current owner of `record` in `role` (if any), with history. Returns what ended."""
    with transaction.atomic():
        before = current_owner(record, role)
        if before is None:
            return None
        if expected is not None and expected.pk != before.pk:
            raise ServiceError(ErrorCode.CONFLICT, f"the owner of {record.label} changed meanwhile; try again")
        ended = Ownership.objects.filter(pk=before.pk, ended_at__isnull=True).update(ended_at=now)
        if ended == 0:
            return None
        insert_one(
            _history_row(
                record,
                role=role,
                before=before,
                rep=None,
                partner=None,
                step=step,
                why=why,
                actor=actor,
                now=now,
                rule_set_version=rule_set_version,
            )
        )
        before.ended_at = now
        return before


def confirm_owner(
    record: Record,
    *,
    role: str,
    owner: Ownership,
    why: str,
    actor: str,
    now: datetime,
    rule_set_version: int | None = None,
) -> OwnershipChange:
    """Record a decision that kept the current owner (a dispute the owner won): history, no change.

    The row names the same owner as from and to, so replaying the history still gives the
    current owners, and the account page shows the decision with its actor and reason.
    """
    change = _history_row(
        record,
        role=role,
        before=owner,
        rep=owner.rep,
        partner=owner.partner,
        step=DecisionStep.MANUAL,
        why=why,
        actor=actor,
        now=now,
        rule_set_version=rule_set_version,
    )
    insert_one(change)
    return change

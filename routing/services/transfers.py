"""Transfers: a manager or RevOps moves a record to another rep, with a reason, on the record."""

from __future__ import annotations

from datetime import datetime

from leadowner import permissions
from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from routing.models import Account, DecisionStep, Lead, OwnerRole, Ownership
from routing.services.ownership import Record, current_owner, set_owner
from territories.models import Rep, RepStatus
from territories.selectors import published_rule_set


def transfer_ownership(
    *,
    account: Account | None = None,
    lead: Lead | None = None,
    to_rep: Rep,
    role: str = OwnerRole.SALES,
    reason: str,
    actor: Actor,
    now: datetime,
) -> Ownership:
    """Make `to_rep` the owner of the account or lead in `role`, ending the current owner, with history.

    Managers move records within their team (from one of its reps, or from nobody, to one
    of its reps or themselves); RevOps anything.
    """
    if (account is None) == (lead is None):
        raise ServiceError(ErrorCode.INVALID, "give exactly one of an account or a lead")
    if not permissions.may_transfer(actor):
        raise ServiceError(ErrorCode.FORBIDDEN, "only managers and RevOps transfer ownership")
    text = reason.strip()
    if not text:
        raise ServiceError(ErrorCode.INVALID, "a transfer needs a reason", "reason")
    if role not in OwnerRole.values:
        raise ServiceError(ErrorCode.INVALID, f"unknown role {role}", "role")
    if role == OwnerRole.PARTNER:
        raise ServiceError(ErrorCode.INVALID, "the PARTNER role is given by approving a deal registration", "role")
    if to_rep.status != RepStatus.ACTIVE:
        raise ServiceError(
            ErrorCode.INVALID, f"{to_rep.name} is {to_rep.status.lower().replace('_', ' ')}, not active", "toRepId"
        )
    record = Record(account=account, lead=lead)
    before = current_owner(record, role)
    if before is not None and before.rep_id == to_rep.pk:
        raise ServiceError(ErrorCode.INVALID, f"{to_rep.name} already owns {record.label}", "toRepId")
    refusal = permissions.may_transfer_record(actor, label=record.label, before=before, to_rep=to_rep)
    if refusal is not None:
        raise ServiceError(ErrorCode.FORBIDDEN, refusal.message, refusal.field)
    rule_set = published_rule_set()
    return set_owner(
        record,
        role=role,
        rep=to_rep,
        step=DecisionStep.MANUAL,
        why=f"transferred to {to_rep.name}: {text}",
        actor=actor.label,
        now=now,
        rule_set_version=rule_set.version if rule_set else None,
        expected=before,
    )

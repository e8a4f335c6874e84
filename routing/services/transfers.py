"""Transfers: a manager or RevOps moves a record to another rep, with a reason, on the record."""

from __future__ import annotations

from datetime import datetime

from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from routing.models import Account, DecisionStep, Lead, OwnerRole, Ownership
from routing.selectors.team import actor_manages
from routing.services.ownership import Record, current_owner, set_owner
from territories.models import Rep, RepStatus
from territories.selectors import published_rule_set


def _in_team(actor: Actor, rep: Rep) -> bool:
    return (actor.rep is not None and actor.rep.pk == rep.pk) or actor_manages(actor, rep)


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
    if not actor.is_manager:
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
    if not actor.is_revops:
        # A manager moves records within their team: from a rep of it (or from nobody) to a
        # rep of it. Taking another team's record, handing one to another team, or moving a
        # partner's is RevOps' call.
        if before is not None and (before.rep is None or not _in_team(actor, before.rep)):
            holder = before.rep.name if before.rep else before.partner.name if before.partner else "its owner"
            raise ServiceError(ErrorCode.FORBIDDEN, f"{record.label} is owned by {holder}, not by your team")
        if not _in_team(actor, to_rep):
            raise ServiceError(ErrorCode.FORBIDDEN, f"{to_rep.name} is not in your team", "toRepId")
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

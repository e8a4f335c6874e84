"""Disputes: a rep contests the SALES owner of an account or lead; a manager decides.

One unresolved dispute per record is a database rule (partial unique indexes); the
deadline is `policy.dispute_sla_hours` business hours in the rule set's calendar.
Resolution is a conditional update on the status, and the winner becomes the owner
through the ownership service, with history naming the dispute.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from disputes.models import Dispute, DisputeStatus
from disputes.selectors import UNRESOLVED, can_resolve, open_dispute_on
from leadowner.actors import Actor
from leadowner.calendar import add_business_hours
from leadowner.errors import ErrorCode, ServiceError
from routing.models import Account, DecisionStep, Lead, OwnerRole
from routing.services.ownership import Record, current_owner, set_owner
from territories.models import RepStatus
from territories.selectors import policy_of, published_rule_set


def open_dispute(
    *, account: Account | None = None, lead: Lead | None = None, reason: str, actor: Actor, now: datetime
) -> Dispute:
    """The acting rep contests the current SALES owner of an account or a lead (not their own)."""
    if (account is None) == (lead is None):
        raise ServiceError(ErrorCode.INVALID, "give exactly one of an account or a lead", "accountId")
    claimant = actor.rep
    if claimant is None:
        raise ServiceError(ErrorCode.FORBIDDEN, "only reps open disputes")
    if claimant.status == RepStatus.DEPARTED:
        raise ServiceError(ErrorCode.FORBIDDEN, f"{claimant.name} has departed")
    text = reason.strip()
    if not text:
        raise ServiceError(ErrorCode.INVALID, "say why you contest the owner", "reason")
    record = Record(account=account, lead=lead)
    owner = current_owner(record, OwnerRole.SALES)
    if owner is None or owner.rep is None:
        raise ServiceError(ErrorCode.INVALID, f"{record.label} has no sales owner to contest")
    if owner.rep_id == claimant.pk:
        raise ServiceError(ErrorCode.INVALID, f"you already own {record.label}")
    rule_set = published_rule_set()
    policy = policy_of(rule_set)
    country = rule_set.calendar if rule_set else "US"
    try:
        with transaction.atomic():
            return Dispute.objects.create(
                account=account,
                lead=lead,
                role=OwnerRole.SALES,
                claimant=claimant,
                current_owner=owner.rep,
                status=DisputeStatus.OPEN,
                reason=text,
                opened_at=now,
                due_at=add_business_hours(now, policy.dispute_sla_hours, country=country),
            )
    except IntegrityError:
        existing = open_dispute_on(account_id=account.pk if account else None, lead_id=lead.pk if lead else None)
        number = f" (#{existing.pk})" if existing else ""
        raise ServiceError(ErrorCode.CONFLICT, f"{record.label} is already under dispute{number}") from None


def resolve_dispute(*, dispute_id: int, winner_rep_id: int, resolution: str, actor: Actor, now: datetime) -> Dispute:
    """A manager of either party (or RevOps) names the winner; the winner becomes the owner."""
    dispute = (
        Dispute.objects.select_related("account", "lead", "claimant", "current_owner").filter(pk=dispute_id).first()
    )
    if dispute is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"no dispute #{dispute_id}", "id")
    if not can_resolve(actor, dispute):
        raise ServiceError(
            ErrorCode.FORBIDDEN, "only a manager of the claimant or of the owner, or RevOps, resolves a dispute"
        )
    if dispute.status not in UNRESOLVED:
        raise ServiceError(ErrorCode.INVALID_TRANSITION, f"dispute #{dispute.pk} is already {dispute.status}")
    text = resolution.strip()
    if not text:
        raise ServiceError(ErrorCode.INVALID, "say how the dispute was resolved", "resolution")
    parties = {dispute.claimant_id: dispute.claimant}
    if dispute.current_owner is not None:
        parties[dispute.current_owner.pk] = dispute.current_owner
    winner = parties.get(winner_rep_id)
    if winner is None:
        raise ServiceError(ErrorCode.INVALID, "the winner is the claimant or the contested owner", "winnerRepId")
    if winner.status == RepStatus.DEPARTED:
        raise ServiceError(ErrorCode.INVALID, f"{winner.name} has departed and cannot own it", "winnerRepId")
    loser = next((rep for pk, rep in parties.items() if pk != winner.pk), None)
    record = Record(account=dispute.account, lead=dispute.lead)
    rule_set = published_rule_set()
    with transaction.atomic():
        updated = Dispute.objects.filter(pk=dispute.pk, status__in=UNRESOLVED).update(
            status=DisputeStatus.RESOLVED,
            winner=winner,
            loser=loser,
            resolution=text,
            resolved_by=actor.rep,
            resolved_at=now,
        )
        if updated == 0:
            raise ServiceError(ErrorCode.CONFLICT, f"dispute #{dispute.pk} was resolved meanwhile")
        # When the winner already owns it nothing changes hands (its claim keeps its
        # lifetime) and the dispute row is the record of the decision.
        owner = current_owner(record, dispute.role)
        if owner is None or owner.rep_id != winner.pk:
            set_owner(
                record,
                role=dispute.role,
                rep=winner,
                step=DecisionStep.MANUAL,
                why=f"dispute #{dispute.pk} resolved: {text}",
                actor=actor.label,
                now=now,
                rule_set_version=rule_set.version if rule_set else None,
                expected=owner,
            )
    dispute.refresh_from_db()
    return dispute

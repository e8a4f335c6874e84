"""Disputes: a rep contests the SALES owner of an account or lead; a manager decides.

One unresolved dispute per record is a database rule (partial unique indexes); the
deadline is `policy.dispute_sla_hours` business hours in the rule set's calendar.
Resolution is a conditional update on the status, and the winner becomes the owner
through the ownership service, with history naming the dispute.

Escalation (the dispute-escalation sweep): an unresolved dispute past its deadline goes
to the next active manager up from whoever has it (first the contested owner's manager,
then that manager's manager, RevOps at the top: disputes.selectors.escalation_target),
with a new deadline of another SLA in business hours, a DisputeEscalation row and
notifications. The change is a conditional update on (status, deadline), so two sweeps
at once escalate a dispute one level, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction

from disputes.models import Dispute, DisputeEscalation, DisputeStatus
from disputes.selectors import UNRESOLVED, escalation_target, open_dispute_on, overdue_dispute_ids
from leadowner import permissions
from leadowner.actors import Actor
from leadowner.calendar import add_business_hours
from leadowner.errors import ErrorCode, ServiceError
from leadowner.jobs import Deadline, SweepResult
from leadowner.models import NotificationKind
from leadowner.notifications import notify
from routing.models import Account, DecisionStep, Lead, OwnerRole
from routing.services.ownership import Record, confirm_owner, current_owner, set_owner
from routing.services.queue_actions import BatchOutcome, check_batch, each_record
from territories.models import RepStatus
from territories.selectors import policy_of, published_rule_set


def open_dispute(
    *, account: Account | None = None, lead: Lead | None = None, reason: str, actor: Actor, now: datetime
) -> Dispute:
    """The acting rep contests the current SALES owner of an account or a lead (not their own)."""
    if (account is None) == (lead is None):
        raise ServiceError(ErrorCode.INVALID, "give exactly one of an account or a lead", "accountId")
    refusal = permissions.may_open_dispute(actor)
    if refusal is not None:
        raise ServiceError(ErrorCode.FORBIDDEN, refusal.message, refusal.field)
    claimant = actor.rep
    assert claimant is not None
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
    if not permissions.may_resolve(actor, dispute):
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
        # lifetime); the history still records the decision, with its actor and reason.
        owner = current_owner(record, dispute.role)
        if owner is not None and owner.rep_id == winner.pk:
            confirm_owner(
                record,
                role=dispute.role,
                owner=owner,
                why=f"dispute #{dispute.pk} resolved, owner kept: {text}",
                actor=actor.label,
                now=now,
                rule_set_version=rule_set.version if rule_set else None,
            )
        else:
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


RESOLUTION_SIDES = ("claimant", "owner")


def check_bulk_resolution(*, dispute_ids: Sequence[int], side: str, resolution: str, actor: Actor) -> list[int]:
    """What resolving several disputes at once needs before anything is decided: disputes, a side, a text."""
    ids = check_batch(actor, dispute_ids, noun="dispute", field_name="dispute")
    if side not in RESOLUTION_SIDES:
        raise ServiceError(ErrorCode.INVALID, "choose who wins: the claimants or the contested owners", "side")
    if not resolution.strip():
        raise ServiceError(ErrorCode.INVALID, "say how the disputes were resolved", "resolution")
    return ids


def resolve_disputes(
    *, dispute_ids: Sequence[int], side: str, resolution: str, actor: Actor, now: datetime
) -> BatchOutcome:
    """Resolve several disputes the same way (each claimant wins, or each contested owner keeps the record).

    Each dispute goes through resolve_dispute in its own transaction: one the manager may not
    decide, or one resolved meanwhile, is refused on its own and the others proceed.
    """
    ids = check_bulk_resolution(dispute_ids=dispute_ids, side=side, resolution=resolution, actor=actor)
    disputes = Dispute.objects.select_related("account", "lead", "claimant", "current_owner").in_bulk(ids)

    def act(dispute_id: int) -> str:
        dispute = disputes[dispute_id]
        winner = dispute.claimant if side == "claimant" else dispute.current_owner
        if winner is None:
            raise ServiceError(ErrorCode.INVALID, "nobody owns it now: only the claimant can win")
        resolve_dispute(dispute_id=dispute_id, winner_rep_id=winner.pk, resolution=resolution, actor=actor, now=now)
        return f"resolved: {winner.name} owns it"

    labels = {
        pk: f"#{pk} {d.account.name if d.account else d.lead.email if d.lead else ''}" for pk, d in disputes.items()
    }
    return each_record(ids, labels, act, noun="dispute")


def escalate_dispute(*, dispute_id: int, now: datetime) -> DisputeEscalation | None:
    """Escalate one overdue dispute a level up; None when it is no longer overdue (resolved, escalated meanwhile)."""
    dispute = (
        Dispute.objects.select_related("claimant", "current_owner", "escalated_to", "account", "lead")
        .filter(pk=dispute_id, status__in=UNRESOLVED, due_at__lte=now)
        .first()
    )
    if dispute is None:
        return None
    holder = dispute.escalated_to or dispute.current_owner or dispute.claimant
    target = escalation_target(holder)
    rule_set = published_rule_set()
    policy = policy_of(rule_set)
    country = rule_set.calendar if rule_set else "US"
    due_after = add_business_hours(now, policy.dispute_sla_hours, country=country)
    with transaction.atomic():
        updated = Dispute.objects.filter(pk=dispute.pk, status=dispute.status, due_at=dispute.due_at).update(
            status=DisputeStatus.ESCALATED, escalated_to=target, escalated_at=now, due_at=due_after
        )
        if updated == 0:
            return None
        escalation = DisputeEscalation.objects.create(
            dispute=dispute,
            at=now,
            from_rep=dispute.escalated_to,
            to_rep=target,
            due_before=dispute.due_at,
            due_after=due_after,
        )
        record = Record(account=dispute.account, lead=dispute.lead)
        again = target.pk == (dispute.escalated_to.pk if dispute.escalated_to else None)
        headline = (
            f"Dispute #{dispute.pk} on {record.label} is still overdue and stays with {target.name} (the top)"
            if again
            else f"Dispute #{dispute.pk} on {record.label} escalated to {target.name}"
        )
        owner = dispute.current_owner.name if dispute.current_owner else "nobody"
        notify(
            recipients=[target, dispute.claimant, dispute.current_owner],
            kind=NotificationKind.ESCALATION,
            subject=headline,
            body=(
                f"{dispute.claimant.name} contests {owner} as owner of {record.label}: {dispute.reason}\n"
                f"It was due {dispute.due_at:%Y-%m-%d %H:%M} UTC and is unresolved. {target.name} decides it now; "
                f"the new deadline is {due_after:%Y-%m-%d %H:%M} UTC ({policy.dispute_sla_hours} business hours, "
                f"{country} calendar)."
            ),
            now=now,
            account_id=dispute.account_id,
            lead_id=dispute.lead_id,
            dispute_id=dispute.pk,
        )
    return escalation


def sweep_dispute_escalations(*, now: datetime, batch_size: int = 200) -> SweepResult:
    """Escalate every overdue unresolved dispute one level (one bounded batch; `more` when another is due)."""
    ids = overdue_dispute_ids(now=now, limit=batch_size)
    result = SweepResult()
    deadline = Deadline()
    for position, dispute_id in enumerate(ids):
        if position and deadline.passed:
            result.more = True
            return result
        try:
            escalated = escalate_dispute(dispute_id=dispute_id, now=now)
        except ServiceError as exc:  # nobody to escalate to: no active RevOps
            result.errors.append(f"dispute #{dispute_id}: {exc.message}")
            continue
        result.add("escalated" if escalated is not None else "changed_meanwhile")
    result.more = len(ids) == batch_size and result.counts.get("escalated", 0) > 0
    return result

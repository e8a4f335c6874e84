"""Actions a manager takes on several queued records at once: re-route, assign by hand, review.

Each record is handled by the service that owns the rule (route_lead, transfer_ownership,
review_deal_registration), in its own transaction: one refusal (a registration decided
meanwhile, a lead someone just took) is reported next to that record and never undoes or
blocks the others. Input shared by every record (the destination rep, a reason) is
checked first, so a bad form changes nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from routing.models import DealRegistration, DecisionStep, Lead, OwnerRole
from routing.services.leads import route_lead
from routing.services.ownership import Record, current_owner
from routing.services.registrations import review_deal_registration
from routing.services.transfers import transfer_ownership
from territories.models import Rep, RepStatus

# One form submission handles at most this many records (a page of a queue is 50).
MAX_BATCH = 200


@dataclass(frozen=True)
class ItemOutcome:
    record_id: int
    label: str
    ok: bool
    message: str


@dataclass
class BatchOutcome:
    items: list[ItemOutcome] = field(default_factory=list)

    @property
    def done(self) -> list[ItemOutcome]:
        return [item for item in self.items if item.ok]

    @property
    def refused(self) -> list[ItemOutcome]:
        return [item for item in self.items if not item.ok]


def check_batch(actor: Actor, ids: Sequence[int], *, noun: str, field_name: str) -> list[int]:
    """The ids to act on (unique, in order); FORBIDDEN for non-managers, INVALID for none or too many."""
    if not actor.is_manager:
        raise ServiceError(ErrorCode.FORBIDDEN, f"only managers and RevOps act on {noun}s")
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise ServiceError(ErrorCode.INVALID, f"choose at least one {noun}", field_name)
    if len(unique) > MAX_BATCH:
        raise ServiceError(ErrorCode.INVALID, f"choose at most {MAX_BATCH} {noun}s at a time", field_name)
    return unique


def each_record(ids: list[int], labels: dict[int, str], act: Callable[[int], str], *, noun: str) -> BatchOutcome:
    outcome = BatchOutcome()
    for record_id in ids:
        label = labels.get(record_id)
        if label is None:
            outcome.items.append(ItemOutcome(record_id, f"{noun} #{record_id}", False, f"no {noun} #{record_id}"))
            continue
        try:
            message = act(record_id)
        except ServiceError as error:
            outcome.items.append(ItemOutcome(record_id, label, False, error.message))
        else:
            outcome.items.append(ItemOutcome(record_id, label, True, message))
    return outcome


def _owner_name(lead: Lead) -> str | None:
    owner = current_owner(Record(lead=lead), OwnerRole.SALES)
    if owner is None:
        return None
    return owner.rep.name if owner.rep else owner.partner.name if owner.partner else "someone"


def reroute_unassigned_leads(*, lead_ids: Sequence[int], actor: Actor, now: datetime) -> BatchOutcome:
    """Run routing again for leads waiting without a sales owner (route_lead, one lead at a time).

    A lead that got an owner since the manager saw the queue is left with that owner.
    """
    ids = check_batch(actor, lead_ids, noun="lead", field_name="lead")
    leads = Lead.objects.in_bulk(ids)

    def act(lead_id: int) -> str:
        lead = leads[lead_id]
        holder = _owner_name(lead)
        if holder is not None:
            raise ServiceError(ErrorCode.ALREADY_OWNED, f"{holder} owns it now; left as it is")
        decision = route_lead(lead=lead, actor=actor, now=now)
        if decision.owner is None:
            if decision.step == DecisionStep.TERRITORY:
                return "routed to a claim queue; it waits for a member to claim it"
            return "still unassigned: no rule gives it an owner"
        return f"routed by {decision.step.lower().replace('_', ' ')}"

    return each_record(ids, {pk: lead.email for pk, lead in leads.items()}, act, noun="lead")


def check_assignment(
    *, lead_ids: Sequence[int], to_rep_id: int | None, reason: str, actor: Actor
) -> tuple[list[int], Rep]:
    """What an assignment by hand needs before anything moves: leads, an active rep, a reason."""
    ids = check_batch(actor, lead_ids, noun="lead", field_name="lead")
    if to_rep_id is None:
        raise ServiceError(ErrorCode.INVALID, "choose the rep to assign to", "rep")
    to_rep = Rep.objects.filter(pk=to_rep_id).first()
    if to_rep is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"no rep #{to_rep_id}", "rep")
    if to_rep.status != RepStatus.ACTIVE:
        raise ServiceError(ErrorCode.INVALID, f"{to_rep.name} is {to_rep.status.lower().replace('_', ' ')}", "rep")
    if not reason.strip():
        raise ServiceError(ErrorCode.INVALID, "say why you assign these leads by hand", "reason")
    return ids, to_rep


def assign_leads_by_hand(
    *, lead_ids: Sequence[int], to_rep_id: int | None, reason: str, actor: Actor, now: datetime
) -> BatchOutcome:
    """Give each lead to one active rep, as a manager's transfer with a reason (history says who and why)."""
    ids, to_rep = check_assignment(lead_ids=lead_ids, to_rep_id=to_rep_id, reason=reason, actor=actor)
    leads = Lead.objects.in_bulk(ids)

    def act(lead_id: int) -> str:
        transfer_ownership(lead=leads[lead_id], to_rep=to_rep, reason=reason, actor=actor, now=now)
        return f"assigned to {to_rep.name}"

    return each_record(ids, {pk: lead.email for pk, lead in leads.items()}, act, noun="lead")


def check_review(*, registration_ids: Sequence[int], approve: bool, reason: str, actor: Actor) -> list[int]:
    """What a review needs before anything is decided: registrations, and a reason to reject."""
    ids = check_batch(actor, registration_ids, noun="registration", field_name="registration")
    if not approve and not reason.strip():
        raise ServiceError(ErrorCode.INVALID, "a rejection needs a reason", "reason")
    return ids


def review_registrations(
    *, registration_ids: Sequence[int], approve: bool, reason: str, actor: Actor, now: datetime
) -> BatchOutcome:
    """Approve or reject several PENDING deal registrations with one reason (required to reject)."""
    ids = check_review(registration_ids=registration_ids, approve=approve, reason=reason, actor=actor)
    labels = {
        pk: f"#{pk} {partner} on {account}"
        for pk, partner, account in DealRegistration.objects.filter(pk__in=ids).values_list(
            "pk", "partner__name", "account__name"
        )
    }

    def act(registration_id: int) -> str:
        decided = review_deal_registration(
            registration_id=registration_id, approve=approve, reason=reason, actor=actor, now=now
        )
        return decided.get_status_display().lower()

    return each_record(ids, labels, act, noun="registration")

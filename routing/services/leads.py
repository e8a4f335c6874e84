"""Leads entering the system: submit (route and own), re-route, simulate, claim from a queue.

Submitting is one transaction: the lead row, the decision (with its round-robin
counter), the owner and its history commit together or not at all. A second
submission of the same email within `policy.duplicate_window_minutes` attaches to
the first lead instead of creating another owner; submissions of one email are
serialised (see `_serialize_email`) so two simultaneous ones cannot both miss each
other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import connection, transaction

from leadowner import permissions
from leadowner.actors import Actor
from leadowner.bulk_sql import insert_one
from leadowner.errors import ErrorCode, ServiceError, ServiceErrors
from leadowner.prepared import Prepared, statement_cursor
from routing.decision import MatchResult, RoutingDecision
from routing.distribution import DurableCounters, SimulatedCounters
from routing.engine import Outcome, run
from routing.enrich import CleanLead, LeadData, clean_lead
from routing.hierarchy import Choice
from routing.models import DecisionStep, Lead, OwnerRole, Ownership
from routing.normalize import company_domain
from routing.services.ownership import Record, claim_unowned, current_owner, end_owner, first_owner, set_owner
from routing.territory_map import rule_set_territories
from territories.models import Rep, RepStatus, RuleSet, Territory, TerritoryMember
from territories.policy import Policy
from territories.selectors import policy_of, published_rule_set

__all__ = [
    "LeadData",
    "LeadSubmission",
    "claim_lead",
    "route_lead",
    "simulate_routing",
    "submit_lead",
    "submit_lead_naming",
]

ROUTING_ACTOR = "routing"
# pg_advisory_xact_lock(key1, key2): key1 names what the lock is for, so other users of
# advisory locks cannot collide with these.
EMAIL_LOCK_SPACE = 0x1EAD


def email_lock_key(email: str) -> int:
    """The advisory lock key of an address: a 32-bit hash (no row to create per email)."""
    digest = hashlib.blake2b(email.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def _serialize_email(email: str) -> None:
    """Hold a transaction-long lock on this email address.

    PostgreSQL: an advisory lock on a hash of the address (see email_lock_key).
    SQLite: every write transaction already runs alone (BEGIN IMMEDIATE, see settings).
    """
    if connection.vendor != "postgresql":
        return
    with statement_cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [EMAIL_LOCK_SPACE, email_lock_key(email)])


def _duplicate_of(email: str, received_at: datetime, policy: Policy) -> Lead | None:
    window = timedelta(minutes=policy.duplicate_window_minutes)
    found = _SAME_EMAIL_BETWEEN(email, received_at - window, received_at + window)
    return found[0] if found else None


# Every submitted lead asks it: compiled once (leadowner.prepared).
_SAME_EMAIL_BETWEEN = Prepared(
    lambda email, start, end: Lead.objects.filter(email=email, received_at__gte=start, received_at__lte=end).order_by(
        "received_at", "id"
    )[:1],
    (str, datetime, datetime),
)


def attached_decision(existing: Lead, received_at: datetime) -> RoutingDecision:
    """The decision a duplicate submission answers with: the existing lead's, and a line saying so."""
    minutes = abs(int((received_at - existing.received_at).total_seconds() // 60))
    line = (
        f"duplicate: {existing.email} was already submitted {minutes} minutes apart from this one "
        f"(lead {existing.pk}); attached to it, its owner is unchanged"
    )
    if existing.decision:
        decision = RoutingDecision.from_json(existing.decision)
        return replace(decision, trace=(*decision.trace, line))
    return RoutingDecision(
        step=DecisionStep.UNASSIGNED, match=MatchResult.none("not routed yet"), rule_set_version=0, trace=(line,)
    )


def _apply(lead: Lead, outcome: Outcome, *, actor: str, now: datetime, before: Ownership | None) -> None:
    """Write what the decision says: account, owner (with history), assignment time, the decision."""
    decision, choice = outcome.decision, outcome.choice
    record = Record(lead=lead)
    why = decision.why
    version = decision.rule_set_version or None
    fields = ["account", "decision"]
    if choice.rep is not None or choice.partner is not None:
        if before is None and lead.first_assigned_at is None:  # written with the lead below, not by set_owner
            lead.first_assigned_at = now
            fields.append("first_assigned_at")
        ownership = set_owner(
            record,
            role=OwnerRole.SALES,
            rep=choice.rep,
            partner=choice.partner,
            step=decision.step,
            why=why,
            actor=actor,
            now=now,
            rule_set_version=version,
            expected=before,
        )
        if before is None or ownership.pk != before.pk:
            lead.assigned_at = now
            fields.append("assigned_at")
    elif before is not None:
        end_owner(
            record,
            role=OwnerRole.SALES,
            why=why,
            actor=actor,
            now=now,
            step=decision.step,
            rule_set_version=version,
            expected=before,
        )
    lead.account = outcome.account
    lead.decision = decision.to_json()
    lead.save(update_fields=fields)


def ensure_may_submit(actor: Actor) -> None:
    """FORBIDDEN unless the actor may submit leads (one lead or a batch)."""
    refusal = permissions.may_submit_lead(actor)
    if refusal is not None:
        raise ServiceError(ErrorCode.FORBIDDEN, refusal.message, refusal.field)


def new_lead(clean: CleanLead, received_at: datetime) -> Lead:
    """The lead row of a submitted lead, not saved yet."""
    return Lead(
        email=clean.email,
        email_domain=clean.email_domain,
        name=clean.name,
        title=clean.title,
        company=clean.company,
        normalized_company=clean.normalized_company,
        country=clean.country,
        subdivision=clean.subdivision,
        city=clean.city,
        postal_code=clean.postal_code,
        industry=clean.industry,
        employees=clean.employees,
        source=clean.source,
        product_interest=clean.product_interest,
        requested_rep_email=clean.requested_rep_email,
        received_at=received_at,
    )


@dataclass(frozen=True)
class LeadSubmission:
    """A submitted lead, its decision, and the rep, partner and territory the decision chose as
    routing loaded them (None for a repeat attached to an earlier lead), so an answer naming
    them need not read them again."""

    lead: Lead
    decision: RoutingDecision
    choice: Choice | None


def submit_lead(*, data: LeadData, actor: Actor, now: datetime) -> tuple[Lead, RoutingDecision]:
    """Create a lead, route it and give it its owner, in one transaction.

    Invalid input raises ServiceErrors (every problem, code INVALID, with its field). A
    repeat of the same email within the duplicate window returns the existing lead and
    its decision, with a trace line saying so, and writes nothing.
    """
    submitted = submit_lead_naming(data=data, actor=actor, now=now)
    return submitted.lead, submitted.decision


def submit_lead_naming(*, data: LeadData, actor: Actor, now: datetime) -> LeadSubmission:
    """submit_lead, with the chosen rep, partner and territory as loaded (see LeadSubmission)."""
    ensure_may_submit(actor)
    clean = clean_lead(data, now=now)
    received_at = clean.received_at or now
    with transaction.atomic():
        _serialize_email(clean.email)
        rule_set = published_rule_set()
        policy = policy_of(rule_set)
        existing = _duplicate_of(clean.email, received_at, policy)
        if existing is not None:
            return LeadSubmission(existing, attached_decision(existing, received_at), None)
        lead_with_source = replace(clean, notes=(f"received: from {actor.label} ({clean.source})", *clean.notes))
        outcome = run(lead=lead_with_source, rule_set=rule_set, now=now, counters=DurableCounters())
        lead = _insert_routed(new_lead(clean, received_at), outcome, now=now)
    return LeadSubmission(lead, outcome.decision, outcome.choice)


def _insert_routed(lead: Lead, outcome: Outcome, *, now: datetime) -> Lead:
    """Write a new lead with its decision in one INSERT, then its first owner and history.

    The decision reads nothing of the lead's own row (a new lead has no activity and no
    owner yet), so routing first and inserting once saves the UPDATE, the current-owner
    read and the savepoints `_apply` needs for a stored lead.
    """
    decision, choice = outcome.decision, outcome.choice
    owned = choice.rep is not None or choice.partner is not None
    lead.account = outcome.account
    lead.decision = decision.to_json()
    if owned:
        lead.assigned_at = lead.first_assigned_at = now
    insert_one(lead)
    if owned:
        first_owner(
            Record(lead=lead),
            role=OwnerRole.SALES,
            rep=choice.rep,
            partner=choice.partner,
            step=decision.step,
            why=decision.why,
            actor=ROUTING_ACTOR,
            now=now,
            rule_set_version=decision.rule_set_version or None,
        )
    return lead


def clean_from_lead(lead: Lead) -> CleanLead:
    """A stored lead as routing reads it (its fields were normalised when it was submitted)."""
    return CleanLead(
        email=lead.email,
        email_domain=lead.email_domain,
        company_domain=company_domain(lead.email),
        name=lead.name,
        title=lead.title,
        company=lead.company,
        normalized_company=lead.normalized_company,
        country=lead.country,
        subdivision=lead.subdivision,
        city=lead.city,
        postal_code=lead.postal_code,
        industry=lead.industry,
        employees=lead.employees,
        source=lead.source,
        product_interest=lead.product_interest,
        requested_rep_email=lead.requested_rep_email,
        received_at=lead.received_at,
    )


def kept_match(lead: Lead) -> MatchResult | None:
    """The account match a re-routed lead keeps: the one it was routed with, if still linked."""
    if lead.account_id is None or not lead.decision:
        return None
    stored = RoutingDecision.from_json(lead.decision).match
    if stored.account_id != lead.account_id:
        return None
    return replace(stored, explanation=f"kept from when the lead arrived: {stored.explanation}")


def reroute_note(actor: Actor, before: Ownership | None, excluded_names: list[str]) -> str:
    """The first line of a re-routed lead's trace: who re-routes it, who held it, who it must not go to."""
    held = f"{before.rep.name if before.rep else before.partner.name if before.partner else '?'}" if before else ""
    first = f"re-route: by {actor.label}" + (f"; current owner {held}" if held else "; no current owner")
    if excluded_names:
        first += f"; never back to {', '.join(excluded_names)}"
    return first


def route_lead(*, lead: Lead, actor: Actor, now: datetime, exclude_rep_ids: Collection[int] = ()) -> RoutingDecision:
    """Route a stored lead again (a forfeit, a departure) and write the new owner.

    `exclude_rep_ids`: reps the lead must not go to (the rep who forfeited it). When
    the decision finds nobody, the current owner is ended and the lead waits unowned.
    """
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        before = current_owner(Record(lead=locked), OwnerRole.SALES)
        excluded = set(exclude_rep_ids)
        rule_set = published_rule_set()
        names = list(Rep.objects.filter(pk__in=excluded).order_by("name").values_list("name", flat=True))
        clean = replace(clean_from_lead(locked), notes=(reroute_note(actor, before, names),))
        outcome = run(
            lead=clean,
            rule_set=rule_set,
            now=now,
            exclude_rep_ids=excluded,
            counters=DurableCounters(),
            lead_id=locked.pk,
            known_match=kept_match(locked),
        )
        _apply(locked, outcome, actor=actor.label if actor.is_authenticated else ROUTING_ACTOR, now=now, before=before)
    lead.refresh_from_db()
    return outcome.decision


def clean_leads(leads: Sequence[LeadData], *, now: datetime, field_prefix: str = "leads.") -> list[CleanLead]:
    """clean_lead for every lead of a batch: every problem of every
    lead at once (ServiceErrors, fields `leads.<i>.<field>`), or the cleaned leads in order."""
    errors: list[ServiceError] = []
    cleaned: list[CleanLead] = []
    for i, data in enumerate(leads):
        try:
            cleaned.append(clean_lead(data, now=now, field_prefix=f"{field_prefix}{i}."))
        except ServiceErrors as exc:
            errors.extend(exc.errors)
    if errors:
        raise ServiceErrors(errors)
    return cleaned


def simulate_routing(*, leads: list[LeadData], rule_set: RuleSet | None, now: datetime) -> list[RoutingDecision]:
    """What routing would decide for these leads, in order, writing nothing at all.

    `rule_set`: a draft to try, or None for the published one. Round robin starts from
    the current counters and advances in memory, so a batch shows the rotation it
    would cause; a lead repeating an email (of the batch, or stored within the
    duplicate window) shows the decision it would attach to.
    """
    cleaned = clean_leads(leads, now=now)
    if rule_set is None:
        rule_set = published_rule_set()
    policy = policy_of(rule_set)
    territories = rule_set_territories(rule_set)
    counters = SimulatedCounters()
    seen: dict[str, tuple[datetime, RoutingDecision]] = {}
    window = timedelta(minutes=policy.duplicate_window_minutes)
    decisions: list[RoutingDecision] = []
    for clean in cleaned:
        received_at = clean.received_at or now
        earlier = seen.get(clean.email)
        if earlier is not None and abs(received_at - earlier[0]) <= window:
            line = f"duplicate: {clean.email} appears earlier in this batch; it would attach to that lead"
            decisions.append(replace(earlier[1], trace=(*earlier[1].trace, line)))
            continue
        existing = _duplicate_of(clean.email, received_at, policy)
        if existing is not None:
            decisions.append(attached_decision(existing, received_at))
            continue
        outcome = run(
            lead=replace(clean, notes=("simulation: nothing is written", *clean.notes)),
            rule_set=rule_set,
            now=now,
            counters=counters,
            territories=territories,
        )
        if outcome.choice.rep is not None:
            counters.add_load(outcome.choice.rep.pk)
        seen[clean.email] = (received_at, outcome.decision)
        decisions.append(outcome.decision)
    return decisions


def _claim_territory(lead: Lead) -> Territory:
    decision = RoutingDecision.from_json(lead.decision) if lead.decision else None
    if decision is None or decision.step != DecisionStep.TERRITORY or decision.territory_id is None:
        raise ServiceError(ErrorCode.INVALID, f"lead {lead.email} is not waiting in a claim queue", "leadId")
    territory = Territory.objects.filter(pk=decision.territory_id).first()
    if territory is None:
        raise ServiceError(ErrorCode.NOT_FOUND, "the lead's territory no longer exists", "leadId")
    return territory


def _is_member(rep: Rep, territory: Territory) -> bool:
    """A member of the territory the lead was queued in, or of its namesake in the published map."""
    names = TerritoryMember.objects.filter(rep=rep)
    if names.filter(territory=territory).exists():
        return True
    published = published_rule_set()
    return (
        published is not None and names.filter(territory__rule_set=published, territory__name=territory.name).exists()
    )


def claim_lead(*, lead: Lead, rep: Rep, now: datetime) -> Ownership:
    """A member of the lead's territory takes it from the claim queue; the first claim wins.

    The database decides between simultaneous claims (claim_unowned); the others get
    ALREADY_OWNED.
    """
    territory = _claim_territory(lead)
    if rep.status == RepStatus.DEPARTED:
        raise ServiceError(ErrorCode.FORBIDDEN, f"{rep.name} has departed and cannot claim leads")
    if not _is_member(rep, territory):
        raise ServiceError(
            ErrorCode.FORBIDDEN, f"only members of '{territory.name}' can claim leads from its queue", "leadId"
        )
    with transaction.atomic():
        ownership = claim_unowned(
            Record(lead=lead),
            role=OwnerRole.SALES,
            rep=rep,
            step=DecisionStep.TERRITORY,
            why=f"{rep.name} claimed the lead from the '{territory.name}' claim queue",
            actor=rep.email,
            now=now,
            rule_set_version=territory.rule_set.version,
        )
        Lead.objects.filter(pk=lead.pk, assigned_at__isnull=True).update(assigned_at=now)
    lead.refresh_from_db(fields=["assigned_at"])
    return ownership

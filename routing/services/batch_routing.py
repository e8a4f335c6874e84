"""Routing a batch of stored leads again in one transaction: route_lead's decisions, set-based writes.

The forfeit and first-touch sweeps and rep departures re-route leads by the hundred.
`route_lead` takes a few dozen statements per lead (its lock, its owner, every fact each
step reads, its counter, its writes); here a batch takes a few dozen in all:

1. the caller locks the leads (SELECT ... FOR UPDATE, by id) inside its transaction;
2. one read of their current SALES owners, and the account each keeps (its stored match);
3. `BatchReads`: one query per kind of fact for every lead's hierarchy;
4. `BatchCounters`: the territories the batch can distribute in, locked once in name
   order; round-robin counts and open loads read once and advanced in memory;
5. each lead through the same `routing.engine.run` as one-by-one routing (same steps,
   same words in its trace);
6. the writes in bulk: ended owners (one UPDATE), new owners (one INSERT, the partial
   unique index still deciding races: a conflict raises CONFLICT and the batch rolls
   back), their history (one INSERT), the leads' account, decision and assignment time
   (one UPDATE), the advanced counters.

tests/test_batch_routing.py routes the demo book's leads one by one and as a batch and
requires the same decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import IntegrityError, connection, transaction

from leadowner.actors import Actor
from leadowner.bulk_sql import update_from_values
from leadowner.errors import ErrorCode, ServiceError
from routing.decision import RoutingDecision
from routing.distribution import BatchCounters
from routing.engine import match, routing_territories, run
from routing.enrich import enrich
from routing.matching import BatchMatchReads
from routing.models import OPEN_LEAD_STAGES, Lead, OwnerRole, Ownership, OwnershipChange
from routing.reads import BatchLead, BatchReads
from routing.services.leads import ROUTING_ACTOR, clean_from_lead, kept_match, reroute_note
from territories.matching import compile_criteria, find_territory, territory_chains
from territories.models import DistributionMethod, Partner, Rep
from territories.selectors import policy_of, published_rule_set

T = TypeVar("T")


def whole_or_one_by_one(
    chunk: Sequence[T], handle: Callable[[Sequence[T]], int], refused: Callable[[T, ServiceError], None]
) -> int:
    """`handle(chunk)` in one go; when that raises ServiceError (an owner changed under it and
    the chunk rolled back), each item alone, so one conflicting record holds back only
    itself (`refused` hears of it). Returns the sum of what `handle` returned."""
    try:
        return handle(chunk)
    except ServiceError:
        done = 0
        for item in chunk:
            try:
                done += handle([item])
            except ServiceError as exc:
                refused(item, exc)
        return done


@dataclass(frozen=True)
class Rerouted:
    """One lead of the batch: its new decision and the owner it now has (None: it waits unowned)."""

    lead: Lead
    decision: RoutingDecision
    rep: Rep | None
    partner: Partner | None
    before: Ownership | None

    @property
    def changed(self) -> bool:
        if self.before is None:
            return self.rep is not None or self.partner is not None
        return (self.before.rep_id, self.before.partner_id) != (
            self.rep.pk if self.rep else None,
            self.partner.pk if self.partner else None,
        )


def reroute_leads(
    *,
    leads: Sequence[Lead],
    actor: Actor,
    now: datetime,
    exclude: Mapping[int, Collection[int]] | None = None,
) -> list[Rerouted]:
    """Route these stored leads again and write their owners, as `route_lead` does one at a time.

    Runs in the caller's transaction, which must hold the leads' row locks. `exclude`: per
    lead id, the reps it must not go to. Leads are routed in the order given.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("reroute_leads runs inside the caller's transaction, with the leads locked")
    if not leads:
        return []
    exclude = exclude or {}
    lead_ids = [lead.pk for lead in leads]
    befores = {
        o.lead_id: o
        for o in Ownership.objects.select_related("rep", "partner").filter(
            lead_id__in=lead_ids, role=OwnerRole.SALES, ended_at__isnull=True
        )
    }
    excluded_ids = set().union(*(set(v) for v in exclude.values())) if exclude else set()
    names = dict(Rep.objects.filter(pk__in=excluded_ids).values_list("pk", "name")) if excluded_ids else {}

    rule_set = published_rule_set()
    policy = policy_of(rule_set)
    territories = routing_territories(rule_set)
    cleans = {lead.pk: clean_from_lead(lead) for lead in leads}
    kept = {lead.pk: kept_match(lead) for lead in leads}
    unmatched = [cleans[pk] for pk, result in kept.items() if result is None]
    match_reads = BatchMatchReads((c.email, c.company) for c in unmatched) if unmatched else None
    found = {lead.pk: kept[lead.pk] or match(cleans[lead.pk], policy, match_reads) for lead in leads}
    reads = BatchReads(
        [BatchLead(lead.pk, found[lead.pk].account_id, lead.requested_rep_email) for lead in leads],
        since=now - timedelta(days=policy.engagement_lookback_days),
        until=now,
    )
    counters = BatchCounters()
    if territories:  # every territory a lead of the batch can be distributed in, locked in name order
        wanted = set()
        chains = territory_chains(territories)
        compiled = {t.pk: compile_criteria(t.criteria) for t in territories}
        for lead in leads:
            account_id = found[lead.pk].account_id
            account = reads.account(account_id) if account_id is not None else None
            facts, _lines = enrich(cleans[lead.pk], account)
            territory = find_territory(territories, facts, explain=False, chains=chains, compiled=compiled).territory
            if territory is not None and territory.distribution != DistributionMethod.CLAIM_QUEUE:
                wanted.add(territory.name)
        counters.lock_all(wanted)

    label = actor.label if actor.is_authenticated else ROUTING_ACTOR
    done: list[Rerouted] = []
    for lead in leads:
        before = befores.get(lead.pk)
        excluded = set(exclude.get(lead.pk, ()))
        clean = replace(
            cleans[lead.pk],
            notes=(reroute_note(actor, before, sorted(names[pk] for pk in excluded if pk in names)),),
        )
        outcome = run(
            lead=clean,
            rule_set=rule_set,
            now=now,
            exclude_rep_ids=excluded,
            counters=counters,
            territories=territories,
            lead_id=lead.pk,
            known_match=found[lead.pk],
            reads=reads,
        )
        result = Rerouted(
            lead=lead,
            decision=outcome.decision,
            rep=outcome.choice.rep,
            partner=outcome.choice.partner,
            before=before,
        )
        if result.changed and lead.stage in OPEN_LEAD_STAGES:
            if result.rep is not None:
                counters.add_load(result.rep.pk)
            if before is not None and before.rep_id is not None:
                counters.add_load(before.rep_id, -1)
        lead.account = outcome.account
        done.append(result)
    _write(done, label=label, now=now)
    counters.flush()
    return done


def _write(done: list[Rerouted], *, label: str, now: datetime) -> None:
    ending: list[int] = []
    owners: list[Ownership] = []
    history: list[OwnershipChange] = []
    for r in done:
        decision = r.decision
        why = (decision.trace[-1] if decision.trace else decision.step)[:500]
        version = decision.rule_set_version or None
        r.lead.decision = decision.to_json()
        if not r.changed:
            continue
        if r.before is not None:
            ending.append(r.before.pk)
        if r.rep is not None or r.partner is not None:
            owners.append(
                Ownership(
                    lead=r.lead,
                    role=OwnerRole.SALES,
                    rep=r.rep,
                    partner=r.partner,
                    reason=decision.step,
                    since=now,
                    rule_set_version=version,
                )
            )
            r.lead.assigned_at = now
            if r.lead.first_assigned_at is None:
                r.lead.first_assigned_at = now
        history.append(
            OwnershipChange(
                at=now,
                lead=r.lead,
                role=OwnerRole.SALES,
                from_rep_id=r.before.rep_id if r.before else None,
                from_partner_id=r.before.partner_id if r.before else None,
                to_rep=r.rep,
                to_partner=r.partner,
                step=decision.step,
                reason=why,
                actor=label[:200],
                rule_set_version=version,
            )
        )
    if ending:
        ended = Ownership.objects.filter(pk__in=ending, ended_at__isnull=True).update(ended_at=now)
        if ended != len(ending):
            raise ServiceError(ErrorCode.CONFLICT, "an owner of one of these leads changed meanwhile; try again")
    if owners:
        try:
            with transaction.atomic():
                Ownership.objects.bulk_create(owners)
        except IntegrityError:
            raise ServiceError(
                ErrorCode.CONFLICT, "one of these leads got another SALES owner meanwhile; try again"
            ) from None
    if history:
        OwnershipChange.objects.bulk_create(history)
    update_from_values(
        Lead,
        key=["id"],
        fields=["account", "decision", "assigned_at", "first_assigned_at"],
        rows=[
            (r.lead.pk, r.lead.account_id, r.lead.decision, r.lead.assigned_at, r.lead.first_assigned_at) for r in done
        ],
        objects=[r.lead for r in done],
    )

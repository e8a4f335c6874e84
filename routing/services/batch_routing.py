"""Routing a batch of leads in one transaction: one-by-one routing's decisions, set-based writes.

`reroute_leads` routes stored leads again, as `route_lead` does one at a time: the
forfeit and first-touch sweeps and rep departures re-route leads by the hundred.
`submit_leads` creates and routes new leads, as `submit_lead` does one at a time: a
leads.csv import, the `submitLeads` mutation (new leads are inserted with their decision,
after it: step 1 is then the per-address locks of submit_lead, one statement).
`route_lead` takes a few dozen statements per lead (its lock, its owner, every fact each
step reads, its counter, its writes); here a batch takes a few dozen in all:

1. the caller locks the leads (SELECT ... FOR UPDATE, by id) inside its transaction;
2. one read of their current SALES owners, and the account each keeps (its stored match);
3. `BatchReads`: one query per kind of fact for every lead's hierarchy;
4. `BatchCounters`: the territories the batch can distribute in, locked once in name
   order; round-robin counts and open loads read once and advanced in memory;
5. each lead through the same `routing.engine.run` as one-by-one routing (same steps,
   same words in its trace);
6. the writes in bulk: ended owners (one UPDATE), new owners (one COPY on PostgreSQL,
   the partial unique index still deciding races: a conflict raises CONFLICT and the
   batch rolls back), their history (one COPY), the leads' account, decision and
   assignment time (one UPDATE; new leads are copied in with them), the advanced counters.

tests/test_batch_routing.py routes the demo book's leads one by one and as a batch and
requires the same decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import IntegrityError, connection, transaction

from leadowner.actors import Actor
from leadowner.bulk_sql import insert_objects, insert_rows, update_from_values
from leadowner.errors import ErrorCode, ServiceError
from routing.decision import MatchResult, RoutingDecision
from routing.distribution import BatchCounters
from routing.engine import match, run
from routing.enrich import CleanLead, LeadData, enrich
from routing.matching import BatchMatchReads
from routing.models import OPEN_LEAD_STAGES, Lead, OwnerRole, Ownership, OwnershipChange
from routing.reads import BatchLead, BatchReads
from routing.services.bulk_moves import HISTORY_COLUMNS, OWNER_COLUMNS, history_row, owner_row
from routing.services.leads import (
    EMAIL_LOCK_SPACE,
    ROUTING_ACTOR,
    attached_decision,
    clean_from_lead,
    clean_leads,
    email_lock_key,
    ensure_may_submit,
    kept_match,
    new_lead,
    reroute_note,
)
from routing.territory_map import routing_territories
from territories.models import DistributionMethod, Partner, Rep, RuleSet, Territory
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


@dataclass
class _Item:
    """One lead of a batch on its way through routing."""

    lead: Lead  # stored (re-routed) or new (saved after its decision)
    clean: CleanLead  # as routing reads it; its notes open the trace
    found: MatchResult
    before: Ownership | None = None
    excluded: frozenset[int] = frozenset()


def _route(
    items: Sequence[_Item], *, rule_set: RuleSet | None, now: datetime, stored: bool
) -> tuple[list[Rerouted], BatchCounters]:
    """Decide every item's owner with one set of batch reads and counters. `stored`: the items
    are stored leads being re-routed (their own activity counts as engagement). Writes nothing
    but the distribution locks: the counters advance in memory until _write flushes them."""
    policy = policy_of(rule_set)
    territories = routing_territories(rule_set)
    reads = BatchReads(
        [BatchLead(i.lead.pk if stored else None, i.found.account_id, i.lead.requested_rep_email) for i in items],
        since=now - timedelta(days=policy.engagement_lookback_days),
        until=now,
    )
    counters = BatchCounters()
    if territories:
        # Every territory a lead of the batch can be distributed in, locked in name order; then
        # what distributing in them reads, for all at once. (The territory step asks `reads`
        # for the same choices again and gets these.)
        hit: dict[int, Territory] = {}
        for item in items:
            account_id = item.found.account_id
            account = reads.account(account_id) if account_id is not None else None
            facts, _lines = enrich(item.clean, account)
            territory = reads.territory_for(territories, facts).territory
            if territory is not None:
                hit[territory.pk] = territory
        counters.lock_all(t.name for t in hit.values() if t.distribution != DistributionMethod.CLAIM_QUEUE)
        counters.preload(hit.values())

    done: list[Rerouted] = []
    for item in items:
        lead, before = item.lead, item.before
        outcome = run(
            lead=item.clean,
            rule_set=rule_set,
            now=now,
            exclude_rep_ids=item.excluded,
            counters=counters,
            territories=territories,
            lead_id=lead.pk if stored else None,
            known_match=item.found,
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
    return done, counters


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
            lead_id__any_of=lead_ids, role=OwnerRole.SALES, ended_at__isnull=True
        )
    }
    excluded_ids = set().union(*(set(v) for v in exclude.values())) if exclude else set()
    names = dict(Rep.objects.filter(pk__in=excluded_ids).values_list("pk", "name")) if excluded_ids else {}

    rule_set = published_rule_set()
    policy = policy_of(rule_set)
    cleans = {lead.pk: clean_from_lead(lead) for lead in leads}
    kept = {lead.pk: kept_match(lead) for lead in leads}
    unmatched = [cleans[pk] for pk, result in kept.items() if result is None]
    match_reads = BatchMatchReads((c.email, c.company) for c in unmatched) if unmatched else None
    items = []
    for lead in leads:
        before = befores.get(lead.pk)
        excluded = frozenset(exclude.get(lead.pk, ()))
        note = reroute_note(actor, before, sorted(names[pk] for pk in excluded if pk in names))
        items.append(
            _Item(
                lead=lead,
                clean=replace(cleans[lead.pk], notes=(note,)),
                found=kept[lead.pk] or match(cleans[lead.pk], policy, match_reads),
                before=before,
                excluded=excluded,
            )
        )
    done, counters = _route(items, rule_set=rule_set, now=now, stored=True)
    _write(done, counters, label=actor.label if actor.is_authenticated else ROUTING_ACTOR, now=now, stored=True)
    return done


@dataclass(frozen=True)
class Submitted:
    """One lead of `submit_leads`, in the order given: the lead it made (or the earlier lead a
    duplicate attached to: `attached`), and the decision."""

    lead: Lead
    decision: RoutingDecision
    attached: bool


def _lock_emails(emails: Collection[str]) -> None:
    """submit_lead's per-address lock (_serialize_email) for every address of the batch, one
    statement, in key order (so two batches never wait on each other in a cycle)."""
    if connection.vendor != "postgresql" or not emails:
        return
    keys = sorted({email_lock_key(email) for email in emails})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, k)) FROM (SELECT unnest(%s::int[]) AS k ORDER BY 1) AS keys",
            [EMAIL_LOCK_SPACE, keys],
        )


def submit_leads(
    *, leads: Sequence[LeadData], actor: Actor, now: datetime, field_prefix: str = "leads."
) -> list[Submitted]:
    """Create a batch of new leads, route each and give it its owner, in one transaction: what
    `submit_lead` does one lead at a time, with a few dozen statements for the whole batch.

    Every invalid lead is reported at once (ServiceErrors, fields `leads.<i>.<field>`) and
    nothing is written. A lead repeating the email of a stored lead, or of an earlier lead of
    the batch, within the duplicate window attaches to it, as one by one. Leads are routed in
    the order given (round robin turns as it would one by one). Keep batches to a few hundred
    leads: the territories the batch distributes in stay locked until it commits.
    """
    ensure_may_submit(actor)
    return submit_clean_leads(clean_leads(leads, now=now, field_prefix=field_prefix), actor=actor, now=now)


def submit_clean_leads(cleaned: Sequence[CleanLead], *, actor: Actor, now: datetime) -> list[Submitted]:
    """submit_leads for leads already through clean_lead (an import
    checks every row of its file first, then routes them in chunks)."""
    ensure_may_submit(actor)
    if not cleaned:
        return []
    label = actor.label
    with transaction.atomic():
        _lock_emails({c.email for c in cleaned})
        rule_set = published_rule_set()
        policy = policy_of(rule_set)
        window = timedelta(minutes=policy.duplicate_window_minutes)
        times = [c.received_at or now for c in cleaned]
        stored: dict[str, list[Lead]] = {}
        for lead in Lead.objects.filter(
            email__any_of={c.email for c in cleaned},
            received_at__gte=min(times) - window,
            received_at__lte=max(times) + window,
        ).order_by("received_at", "id"):
            stored.setdefault(lead.email, []).append(lead)
        # Each lead in order: a new one (its index in `items`), or the lead it attaches to: a
        # stored one, or the earliest new one of the batch within the window.
        plan: list[tuple[Lead | None, int]] = []
        items: list[_Item] = []
        firsts: dict[str, list[tuple[datetime, int]]] = {}
        match_reads = BatchMatchReads((c.email, c.company) for c in cleaned)
        for clean, received_at in zip(cleaned, times, strict=True):
            earlier = _first_within(stored.get(clean.email, ()), received_at, window)
            same = [(at, k) for at, k in firsts.get(clean.email, ()) if abs(received_at - at) <= window]
            if same and (earlier is None or min(same)[0] < earlier.received_at):
                plan.append((None, min(same)[1]))  # one by one, it would be stored by now, and the earliest
                continue
            if earlier is not None:
                plan.append((earlier, -1))
                continue
            firsts.setdefault(clean.email, []).append((received_at, len(items)))
            plan.append((None, len(items)))
            items.append(
                _Item(
                    lead=new_lead(clean, received_at),
                    clean=replace(clean, notes=(f"received: from {label} ({clean.source})", *clean.notes)),
                    found=match(clean, policy, match_reads),
                )
            )
        done: list[Rerouted] = []
        if items:
            done, counters = _route(items, rule_set=rule_set, now=now, stored=False)
            _write(done, counters, label=ROUTING_ACTOR, now=now, stored=False)
    out: list[Submitted] = []
    seen: set[int] = set()
    for (attached_to, index), received_at in zip(plan, times, strict=True):
        if attached_to is not None:
            out.append(Submitted(attached_to, attached_decision(attached_to, received_at), attached=True))
            continue
        made = done[index]
        if index not in seen:  # the lead itself; a later reference to it is a duplicate
            seen.add(index)
            out.append(Submitted(made.lead, made.decision, attached=False))
        else:
            out.append(Submitted(made.lead, attached_decision(made.lead, received_at), attached=True))
    return out


def _first_within(leads: Iterable[Lead], received_at: datetime, window: timedelta) -> Lead | None:
    """The earliest of these stored leads (in received order) within the window of `received_at`."""
    return next((lead for lead in leads if abs(lead.received_at - received_at) <= window), None)


def _write(done: list[Rerouted], counters: BatchCounters, *, label: str, now: datetime, stored: bool) -> None:
    """Write the batch's decisions: new leads (`stored=False`, inserted with their decision) or
    stored ones (one UPDATE); ended owners, new owners and their history (plain rows, COPY
    for many: a model instance each cost more than its write); the counters."""
    ending: list[int] = []
    changed: list[Rerouted] = []
    for r in done:
        decision = r.decision
        r.lead.decision = decision.to_json()
        if not r.changed:
            continue
        changed.append(r)
        if r.before is not None:
            ending.append(r.before.pk)
        if r.rep is not None or r.partner is not None:
            r.lead.assigned_at = now
            if r.lead.first_assigned_at is None:
                r.lead.first_assigned_at = now
    if not stored and done:
        insert_objects([r.lead for r in done])  # their ids, for the owners and history below
    owners: list[tuple[object, ...]] = []
    history: list[tuple[object, ...]] = []
    sales = OwnerRole.SALES.value
    for r in changed:
        decision = r.decision
        why = decision.why
        version = decision.rule_set_version or None
        rep_id = r.rep.pk if r.rep is not None else None
        partner_id = r.partner.pk if r.partner is not None else None
        if rep_id is not None or partner_id is not None:
            owners.append(
                owner_row(account_id=None, lead_id=r.lead.pk, role=sales, rep_id=rep_id, partner_id=partner_id,
                          step=decision.step, since=now, rule_set_version=version)
            )  # fmt: skip
        before = r.before
        history.append(
            history_row(at=now, account_id=None, lead_id=r.lead.pk, role=sales,
                        from_rep_id=before.rep_id if before else None,
                        from_partner_id=before.partner_id if before else None,
                        to_rep_id=rep_id, to_partner_id=partner_id, step=decision.step, why=why, actor=label,
                        rule_set_version=version)
        )  # fmt: skip
    if ending:
        ended = Ownership.objects.filter(pk__in=ending, ended_at__isnull=True).update(ended_at=now)
        if ended != len(ending):
            raise ServiceError(ErrorCode.CONFLICT, "an owner of one of these leads changed meanwhile; try again")
    if owners:
        try:
            with transaction.atomic():
                insert_rows(Ownership, OWNER_COLUMNS, owners)
        except IntegrityError:
            raise ServiceError(
                ErrorCode.CONFLICT, "one of these leads got another SALES owner meanwhile; try again"
            ) from None
    if history:
        insert_rows(OwnershipChange, HISTORY_COLUMNS, history)
    if stored:
        update_from_values(
            Lead,
            key=["id"],
            fields=["account", "decision", "assigned_at", "first_assigned_at"],
            rows=[
                (r.lead.pk, r.lead.account_id, r.lead.decision, r.lead.assigned_at, r.lead.first_assigned_at)
                for r in done
            ],
            objects=[r.lead for r in done],
        )
    counters.flush()

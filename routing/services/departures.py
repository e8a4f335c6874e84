"""Rep departures: everything a departed rep owns is reassigned, in set-based batches, with history.

Where each record goes (the same rules for the preview and for the real thing):

- **claims** (ACCOUNT_CLAIM ownership: a prospect the rep claimed) are reassigned like
  prospects, below: to a rep of the account's territory, or unowned and claimable again
  when the territory has nobody available, is a claim queue, or none matches;
- **customers** (a CUSTOMER account, or an account owned in the ACCOUNT_MANAGER /
  CUSTOMER_SUCCESS role) go to an account manager (a customer-success rep for the
  CUSTOMER_SUCCESS role) of the account's territory, or of its nearest parent territory,
  else of the departed rep's own territories; with none, to the rep's manager;
- **prospects** (SALES owner of a PROSPECT account) go to the account's territory by its
  facts (hunters first, least accounts relative to weight: routing.placement); an
  account with an open opportunity of the departed rep follows the opportunity to the
  rep's manager; with no territory (or a claim queue) the account waits unowned;
- **leads** in an open or paused stage are routed again by the routing engine, never
  back to the departed rep; won and lost leads go to the rep's manager;
- **open opportunities** go to the rep's manager.

"The rep's manager" is the nearest active manager up the chain, else the first active
RevOps rep, else nobody (the record waits unowned for a manager).

Progress is derived, not stored: what remains is exactly the departed rep's current
ownership rows and open opportunities. `reassign_departed_rep` works through them in
batches, each batch one transaction (lock the rows, end them, insert the new owners and
their history: routing.services.bulk_moves), so a worker killed mid-way leaves every
record moved once or not yet moved, and any later run (the redelivered task, the
departures sweep) finishes the rest. Each run stops after its time budget (leadowner.jobs.time_budget, well
inside the broker's visibility timeout) and reports `more`; the task then re-queues itself.

Testing hook: `LEADOWNER_TEST_DEPARTURE_BATCH_DELAY_MS` (milliseconds, default 0) makes
each batch wait that long before it commits, so a test can kill a worker mid-departure.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, QuerySet
from django.utils import timezone

from leadowner import permissions
from leadowner.actors import Actor
from leadowner.calendar import add_business_days
from leadowner.errors import ErrorCode, ServiceError
from leadowner.jobs import Deadline, SweepResult
from leadowner.models import NotificationKind
from leadowner.notifications import notify
from leadowner.tasks import enqueue_on_commit
from routing.models import (
    AccountType,
    DecisionStep,
    Lead,
    LeadStage,
    Opportunity,
    OpportunityStatus,
    OwnerRole,
    Ownership,
)
from routing.placement import FACT_FIELDS, Placer, account_facts
from routing.selectors.team import manager_chain
from routing.services.batch_routing import reroute_leads, whole_or_one_by_one
from routing.services.bulk_moves import Move, Moved, move_owners
from routing.territory_map import rule_set_territories
from territories.models import Rep, RepRole, RepStatus, RuleSet, Territory
from territories.selectors import policy_of, published_rule_set

DELAY_ENV = "LEADOWNER_TEST_DEPARTURE_BATCH_DELAY_MS"
HUNTER_ROLES = (RepRole.AE, RepRole.SDR)
CLOSED_LEAD_STAGES = (LeadStage.WON, LeadStage.LOST)
DEFAULT_CALENDAR = "US"


def departure_actor(rep: Rep) -> str:
    """How history names the job that moved a departed rep's records."""
    return f"departure of {rep.email}"


def _pause_for_tests() -> None:
    raw = os.environ.get(DELAY_ENV, "")
    if raw.strip():
        time.sleep(int(raw) / 1000)


def successor_manager(rep: Rep) -> Rep | None:
    """Who takes what has no better home: the nearest active manager up the chain, else RevOps."""
    for manager in manager_chain(rep):
        if manager.status == RepStatus.ACTIVE:
            return manager
    return Rep.objects.filter(role=RepRole.REVOPS, status=RepStatus.ACTIVE).exclude(pk=rep.pk).order_by("pk").first()


def _account_loads(rep_ids: list[int]) -> dict[int, int]:
    rows = (
        Ownership.objects.filter(rep_id__in=rep_ids, ended_at__isnull=True, account__isnull=False)
        .values("rep_id")
        .annotate(n=Count("id"))
    )
    return {row["rep_id"]: row["n"] for row in rows}


# --- the plan: where each record goes ------------------------------------------------------------


@dataclass(frozen=True)
class PlannedMove:
    kind: str  # "account", "claim", "lead", "opportunity"
    record_id: int  # the account, lead or opportunity id
    label: str
    role: str  # the ownership role ("" for an opportunity)
    destination: str  # a rep's name, "routing" or "unowned"
    to_rep_id: int | None
    step: str
    why: str


@dataclass(frozen=True)
class DeparturePlan:
    """What a departure will do (or what remains of it): per record, where it goes and why."""

    rep_id: int
    rep_name: str
    successor_id: int | None
    successor_name: str
    reassignment_due_at: datetime | None
    moves: tuple[PlannedMove, ...]

    def counts(self) -> dict[str, dict[str, int]]:
        """{kind: {destination: n}}: the summary the roster screen shows before confirming."""
        out: dict[str, dict[str, int]] = {}
        for move in self.moves:
            per_kind = out.setdefault(move.kind, {})
            per_kind[move.destination] = per_kind.get(move.destination, 0) + 1
        return out


@dataclass
class _Planner:
    rep: Rep
    rule_set: RuleSet | None
    now: datetime
    successor: Rep | None = None
    placer: Placer = field(init=False)
    home: list[Territory] = field(init=False)

    def __post_init__(self) -> None:
        self.successor = successor_manager(self.rep)
        territories = rule_set_territories(self.rule_set)
        self.placer = Placer(
            territories=territories,
            today=timezone.localdate(self.now),
            load_of=_account_loads,
            exclude_rep_ids={self.rep.pk},
        )
        self.home = [t for t in territories if any(m.rep_id == self.rep.pk for m in t.memberships.all())]

    @property
    def successor_words(self) -> str:
        return self.successor.name if self.successor is not None else "nobody (no active manager or RevOps)"

    def to_successor(self, kind: str, record_id: int, label: str, role: str, what: str) -> PlannedMove:
        s = self.successor
        return PlannedMove(
            kind=kind,
            record_id=record_id,
            label=label,
            role=role,
            destination=s.name if s is not None else "unowned",
            to_rep_id=s.pk if s is not None else None,
            step=DecisionStep.MANUAL if s is not None else DecisionStep.UNASSIGNED,
            why=f"{self.rep.name} departed: {what} goes to {self.successor_words}, the rep's manager",
        )

    def account(self, ownership: Ownership, *, has_open_opportunity: bool) -> PlannedMove:
        account = ownership.account
        assert account is not None
        gone = f"{self.rep.name} departed"
        claim = ownership.reason == DecisionStep.ACCOUNT_CLAIM
        if not claim and (account.type == AccountType.CUSTOMER or ownership.role != OwnerRole.SALES):
            return self._customer(ownership)
        kind, noun = (
            ("claim", f"the prospect {account.name}, which {self.rep.name} had claimed,")
            if claim
            else ("account", f"the prospect {account.name}")
        )
        if has_open_opportunity and self.successor is not None:
            return PlannedMove(
                kind=kind,
                record_id=account.pk,
                label=account.name,
                role=ownership.role,
                destination=self.successor.name,
                to_rep_id=self.successor.pk,
                step=DecisionStep.OPEN_OPPORTUNITY,
                why=f"{gone}: {account.name} has an open opportunity, which goes to {self.successor.name}, "
                "the rep's manager; the account stays with its deal",
            )
        territory = self.placer.territory_for(account_facts(account))
        if territory is not None:
            rep = self.placer.pick(territory, roles=HUNTER_ROLES) or self.placer.pick(territory)
            if rep is not None:
                return PlannedMove(
                    kind=kind,
                    record_id=account.pk,
                    label=account.name,
                    role=ownership.role,
                    destination=rep.name,
                    to_rep_id=rep.pk,
                    step=DecisionStep.TERRITORY,
                    why=f"{gone}: {noun} goes to {rep.name} in its territory "
                    f"'{territory.name}' (fewest accounts among its available members)",
                )
            where = f"its territory '{territory.name}' has nobody available (or is a claim queue)"
        else:
            where = "no territory matches it"
        return PlannedMove(
            kind=kind,
            record_id=account.pk,
            label=account.name,
            role=ownership.role,
            destination="unowned",
            to_rep_id=None,
            step=DecisionStep.UNASSIGNED,
            why=f"{gone}: {where}; {noun} waits unowned, claimable",
        )

    def _customer(self, ownership: Ownership) -> PlannedMove:
        account = ownership.account
        assert account is not None
        roles_to_try: list[tuple[str, ...]] = (
            [(RepRole.CUSTOMER_SUCCESS,), (RepRole.ACCOUNT_MANAGER,)]
            if ownership.role == OwnerRole.CUSTOMER_SUCCESS
            else [(RepRole.ACCOUNT_MANAGER,)]
        )
        territory = self.placer.territory_for(account_facts(account))
        places = ([territory] if territory is not None else []) + self.home
        for roles in roles_to_try:
            for place in places:
                found = self.placer.pick_in_chain(place, roles=roles)
                if found is None:
                    continue
                rep, level = found
                whose = "its territory" if place is territory else f"{self.rep.name}'s territory"
                kind = "customer-success rep" if roles == (RepRole.CUSTOMER_SUCCESS,) else "account manager"
                return PlannedMove(
                    kind="account",
                    record_id=account.pk,
                    label=account.name,
                    role=ownership.role,
                    destination=rep.name,
                    to_rep_id=rep.pk,
                    step=DecisionStep.CUSTOMER_OWNER,
                    why=f"{self.rep.name} departed: the customer {account.name} goes to {rep.name}, "
                    f"an {kind} of {whose} '{level.name}'",
                )
        return self.to_successor(
            "account", account.pk, account.name, ownership.role, f"no account manager is available; {account.name}"
        )

    def lead(self, ownership: Ownership) -> PlannedMove:
        lead = ownership.lead
        assert lead is not None
        if lead.stage in CLOSED_LEAD_STAGES or ownership.role != OwnerRole.SALES:
            return self.to_successor("lead", lead.pk, lead.email, ownership.role, f"the {lead.stage.lower()} lead")
        return PlannedMove(
            kind="lead",
            record_id=lead.pk,
            label=lead.email,
            role=ownership.role,
            destination="routing",
            to_rep_id=None,
            step=DecisionStep.TERRITORY,
            why=f"{self.rep.name} departed: the lead is routed again, never back to {self.rep.name}",
        )

    def opportunity(self, opportunity: Opportunity) -> PlannedMove:
        return self.to_successor("opportunity", opportunity.pk, opportunity.name, "", "the open opportunity")


# What placing an account reads: its facts (routing.placement.account_facts), name and type.
_ACCOUNT_FIELDS = ("name", "type", *FACT_FIELDS)


def _account_ownerships(rep: Rep) -> QuerySet[Ownership]:
    """`rep`'s current account ownerships with the account fields their placement reads (only those)."""
    return (
        Ownership.objects.select_related("account")
        .filter(rep=rep, ended_at__isnull=True, account__isnull=False)
        .only("account_id", "role", "reason", "rep_id", *(f"account__{name}" for name in _ACCOUNT_FIELDS))
    )


def _open_opportunity_accounts(rep: Rep) -> set[int]:
    """The accounts of `rep`'s open opportunities (a rep has at most a few hundred: read whole, not by the
    thousand account ids of a batch, which took longer to send than to answer)."""
    return set(
        Opportunity.objects.filter(owner=rep, status=OpportunityStatus.OPEN)
        .values_list("account_id", flat=True)
        .distinct()
    )


def _due_at(rep: Rep, rule_set: RuleSet | None, effective_at: datetime) -> datetime:
    policy = policy_of(rule_set)
    country = rule_set.calendar if rule_set is not None else DEFAULT_CALENDAR
    return add_business_days(effective_at, policy.departure_business_days, country=country)


def preview_departure(*, rep: Rep, now: datetime) -> DeparturePlan:
    """Where everything `rep` owns would go if the departure were confirmed now. Writes nothing.

    Leads show "routing" (the engine decides when they move); the rest name the rep.
    """
    rule_set = published_rule_set()
    planner = _Planner(rep=rep, rule_set=rule_set, now=now)
    moves: list[PlannedMove] = []
    accounts = list(_account_ownerships(rep).order_by("pk"))
    with_opportunity = _open_opportunity_accounts(rep)
    for ownership in accounts:
        moves.append(planner.account(ownership, has_open_opportunity=ownership.account_id in with_opportunity))
    for ownership in (
        Ownership.objects.select_related("lead")
        .filter(rep=rep, ended_at__isnull=True, lead__isnull=False)
        .order_by("pk")
    ):
        moves.append(planner.lead(ownership))
    for opportunity in Opportunity.objects.filter(owner=rep, status=OpportunityStatus.OPEN).order_by("pk"):
        moves.append(planner.opportunity(opportunity))
    due = rep.reassignment_due_at or _due_at(rep, rule_set, rep.departed_at or now)
    successor = planner.successor
    return DeparturePlan(
        rep_id=rep.pk,
        rep_name=rep.name,
        successor_id=successor.pk if successor else None,
        successor_name=successor.name if successor else "",
        reassignment_due_at=due,
        moves=tuple(moves),
    )


def remaining_of(rep_id: int) -> dict[str, int]:
    """What a departed rep still owns: current ownerships of accounts and leads, open opportunities."""
    current = Ownership.objects.filter(rep_id=rep_id, ended_at__isnull=True)
    return {
        "accounts": current.filter(account__isnull=False).count(),
        "leads": current.filter(lead__isnull=False).count(),
        "opportunities": Opportunity.objects.filter(owner_id=rep_id, status=OpportunityStatus.OPEN).count(),
    }


# --- marking a departure ---------------------------------------------------------------------------


def mark_rep_departed(*, rep_id: int, effective_at: datetime | None = None, actor: Actor, now: datetime) -> Rep:
    """A manager of the rep (or RevOps) confirms the rep's departure.

    `effective_at` (default now) is the rep's last moment; it may be in the past (they
    left on Friday). When it has come, the rep is DEPARTED at once, which also stops their
    API tokens (leadowner.tokens refuses departed reps), and the reassignment task is sent
    when this commits. A date ahead (the rep gave notice) schedules the departure: the rep
    keeps working until then, `departed_at` holds the date, and the departures sweep marks
    them DEPARTED when it comes (`start_due_departures`). Either way everything they own
    is due to be reassigned `policy.departure_business_days` business days after
    `effective_at`, in the rule set's calendar; the departures sweep finishes whatever a
    lost task leaves.
    """
    rep = Rep.objects.select_related("manager").filter(pk=rep_id).first()
    if rep is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"no rep #{rep_id}", "repId")
    if not permissions.may_mark_departed(actor, rep):
        raise ServiceError(ErrorCode.FORBIDDEN, f"only a manager of {rep.name} or RevOps can mark them departed")
    if rep.status == RepStatus.DEPARTED:
        raise ServiceError(ErrorCode.INVALID_TRANSITION, f"{rep.name} has already departed")
    effective = effective_at or now
    rule_set = published_rule_set()
    due = _due_at(rep, rule_set, effective)
    if effective > now:
        return _schedule_departure(rep, effective=effective, due=due, actor=actor, now=now)
    with transaction.atomic():
        updated = Rep.objects.filter(pk=rep.pk, status=rep.status).update(
            status=RepStatus.DEPARTED, departed_at=effective, reassignment_due_at=due
        )
        if updated == 0:
            raise ServiceError(ErrorCode.CONFLICT, f"{rep.name} changed meanwhile; try again")
        rep.refresh_from_db()
        successor = successor_manager(rep)
        left = remaining_of(rep.pk)
        when = "now" if effective == now else f"on {effective:%Y-%m-%d %H:%M} UTC"
        notify(
            recipients=[successor, actor.rep],
            kind=NotificationKind.DEPARTURE,
            subject=f"{rep.name} departed {when}",
            body=(
                f"{rep.name} <{rep.email}> was marked departed by {actor.label}, effective {when}.\n"
                f"They own {left['accounts']} accounts (claims included), {left['leads']} leads and "
                f"{left['opportunities']} open opportunities; everything is reassigned by {due:%Y-%m-%d %H:%M} UTC."
            ),
            now=now,
        )
        from routing.tasks import reassign_departed_rep as task

        enqueue_on_commit(task, rep.pk)
    return rep


def _schedule_departure(rep: Rep, *, effective: datetime, due: datetime, actor: Actor, now: datetime) -> Rep:
    """Record a departure ahead: the rep works on until `effective`; the sweep starts it then."""
    with transaction.atomic():
        updated = Rep.objects.filter(pk=rep.pk, status=rep.status).update(
            departed_at=effective, reassignment_due_at=due
        )
        if updated == 0:
            raise ServiceError(ErrorCode.CONFLICT, f"{rep.name} changed meanwhile; try again")
        rep.refresh_from_db()
        notify(
            recipients=[successor_manager(rep), actor.rep],
            kind=NotificationKind.DEPARTURE,
            subject=f"{rep.name} departs on {effective:%Y-%m-%d %H:%M} UTC",
            body=(
                f"{rep.name} <{rep.email}> was scheduled to depart by {actor.label}, effective "
                f"{effective:%Y-%m-%d %H:%M} UTC. Everything they own then is reassigned by {due:%Y-%m-%d %H:%M} UTC."
            ),
            now=now,
        )
    return rep


def start_due_departures(*, now: datetime) -> list[int]:
    """Reps whose scheduled departure has come become DEPARTED (conditional update: once).

    A rep re-imported as ACTIVE has `departed_at` cleared by the import, so a stale date
    never departs them again.
    """
    started: list[int] = []
    due = Rep.objects.filter(departed_at__lte=now, reassignment_due_at__isnull=False).exclude(status=RepStatus.DEPARTED)
    for rep in due.only("pk", "status", "departed_at")[:200]:
        with transaction.atomic():
            changed = Rep.objects.filter(pk=rep.pk, status=rep.status, departed_at=rep.departed_at).update(
                status=RepStatus.DEPARTED
            )
            if changed:
                from routing.tasks import reassign_departed_rep as task

                enqueue_on_commit(task, rep.pk)
                started.append(rep.pk)
    return started


# --- doing it ---------------------------------------------------------------------------------------


@dataclass
class _Run:
    rep: Rep
    planner: _Planner
    actor: str
    version: int | None
    now: datetime
    deadline: Deadline
    result: SweepResult = field(default_factory=SweepResult)
    received: Counter[int] = field(default_factory=Counter)

    def out_of_time(self) -> bool:
        return self.deadline.passed


def _apply_planned(run: _Run, pairs: list[tuple[Ownership, PlannedMove]]) -> list[Moved]:
    moves = [Move(ownership_id=o.pk, to_rep_id=p.to_rep_id, step=p.step, why=p.why) for o, p in pairs]
    moved = move_owners(moves, actor=run.actor, now=run.now, rule_set_version=run.version, from_rep_id=run.rep.pk)
    kinds = {o.pk: p.kind for o, p in pairs}
    for m in moved:
        kind = kinds[m.move.ownership_id]
        if m.move.to_rep_id is None:
            run.result.add(f"{kind}s_unowned")
        else:
            run.result.add(f"{kind}s_reassigned")
            run.received[m.move.to_rep_id] += 1
    return moved


def _account_batches(run: _Run, batch_size: int) -> bool:
    """Move the rep's account ownerships, a batch per transaction. Returns True when all are done."""
    after = 0
    while True:
        rows = list(_account_ownerships(run.rep).filter(pk__gt=after).order_by("pk")[:batch_size])
        if not rows:
            return True
        after = rows[-1].pk
        with_opportunity = _open_opportunity_accounts(run.rep)
        with transaction.atomic():
            pairs = [(o, run.planner.account(o, has_open_opportunity=o.account_id in with_opportunity)) for o in rows]
            _apply_planned(run, pairs)
            _pause_for_tests()
        if run.out_of_time():
            return False


def _reroute_leads(run: _Run, ownerships: list[Ownership]) -> int:
    """Route these leads of the departed rep again, in one transaction (routing.services.batch_routing)."""
    with transaction.atomic():
        # Lock order as in route_lead: the leads, then their ownership (re-checked: still the departed rep's).
        lead_ids = [o.lead_id for o in ownerships if o.lead_id is not None]
        locked = {lead.pk: lead for lead in Lead.objects.select_for_update().filter(pk__in=lead_ids).order_by("pk")}
        still = Ownership.objects.filter(pk__in=[o.pk for o in ownerships], rep=run.rep, ended_at__isnull=True)
        leads = [locked[pk] for pk in sorted(still.values_list("lead_id", flat=True)) if pk in locked]
        rerouted = reroute_leads(
            leads=leads,
            actor=Actor.system_actor(run.actor),
            now=run.now,
            exclude={lead.pk: {run.rep.pk} for lead in leads},
        )
        for result in rerouted:
            if result.rep is not None:
                run.received[result.rep.pk] += 1
                run.result.add("leads_rerouted")
            else:
                run.result.add("leads_to_partner" if result.partner is not None else "leads_unowned")
        return len(rerouted)


# Leads re-routed per transaction: the territories they go to stay locked until it commits.
REROUTE_CHUNK = 100


def _lead_batches(run: _Run, batch_size: int) -> bool:
    after = 0
    while True:
        rows = list(
            Ownership.objects.select_related("lead")
            .filter(rep=run.rep, ended_at__isnull=True, lead__isnull=False, pk__gt=after)
            .order_by("pk")[:batch_size]
        )
        if not rows:
            return True
        after = rows[-1].pk
        plans = [(o, run.planner.lead(o)) for o in rows]
        bulk = [(o, p) for o, p in plans if p.destination != "routing"]
        if bulk:
            with transaction.atomic():
                _apply_planned(run, bulk)
        routed = [o for o, p in plans if p.destination == "routing"]
        for start in range(0, len(routed), REROUTE_CHUNK):
            whole_or_one_by_one(
                routed[start : start + REROUTE_CHUNK],
                lambda chunk: _reroute_leads(run, list(chunk)),
                lambda ownership, exc: run.result.errors.append(f"lead #{ownership.lead_id}: {exc.message}"),
            )
            if run.out_of_time():
                return False
        _pause_for_tests()


def _opportunity_batches(run: _Run, batch_size: int) -> bool:
    successor = run.planner.successor
    while True:
        ids = list(
            Opportunity.objects.filter(owner=run.rep, status=OpportunityStatus.OPEN)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return True
        moved = Opportunity.objects.filter(pk__in=ids, owner=run.rep, status=OpportunityStatus.OPEN).update(
            owner=successor
        )
        run.result.add("opportunities_reassigned" if successor is not None else "opportunities_unowned", moved)
        if successor is not None:
            run.received[successor.pk] += moved
        if run.out_of_time():
            return False


def _tell_new_owners(run: _Run) -> None:
    if not run.received:
        return
    reps = Rep.objects.in_bulk(list(run.received))
    for rep_id, n in sorted(run.received.items()):
        rep = reps.get(rep_id)
        if rep is None:
            continue
        notify(
            recipients=[rep],
            kind=NotificationKind.REASSIGNMENT,
            subject=f"{n} records of {run.rep.name} are now yours"
            if n != 1
            else f"1 record of {run.rep.name} is now yours",
            body=(
                f"{run.rep.name} departed. {n} of their records (accounts, leads or open opportunities) were "
                f"reassigned to you. Each record's history says why."
            ),
            now=run.now,
        )


def reassign_departed_rep(
    *, rep_id: int, now: datetime, batch_size: int = 1000, time_budget: float | None = None
) -> SweepResult:
    """Reassign what a departed rep still owns (see the module docstring). Safe to run twice or at once.

    Returns counts per kind and destination; `more` when the time budget ran out first.
    """
    rep = Rep.objects.select_related("manager").filter(pk=rep_id).first()
    result = SweepResult()
    if rep is None or rep.status != RepStatus.DEPARTED:
        result.add("not_departed")
        return result
    rule_set = published_rule_set()
    run = _Run(
        rep=rep,
        planner=_Planner(rep=rep, rule_set=rule_set, now=now),
        actor=departure_actor(rep),
        version=rule_set.version if rule_set else None,
        now=now,
        deadline=Deadline(time_budget),
        result=result,
    )
    done = (
        _account_batches(run, batch_size) and _lead_batches(run, batch_size) and _opportunity_batches(run, batch_size)
    )
    result.more = not done
    with transaction.atomic():
        _tell_new_owners(run)
        if done and (sum(result.counts.values()) > 0):
            successor = run.planner.successor
            moved = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(result.counts.items()))
            notify(
                recipients=[successor],
                kind=NotificationKind.DEPARTURE,
                subject=f"{rep.name}'s records are reassigned",
                body=f"Nothing is owned by {rep.name} any more. This last run moved {moved}.",
                now=now,
            )
    return result


def departed_reps_with_records(*, limit: int = 50) -> list[int]:
    """Departed reps who still own something, earliest reassignment deadline first."""
    owns = Ownership.objects.filter(rep_id=OuterRef("pk"), ended_at__isnull=True)
    sells = Opportunity.objects.filter(owner_id=OuterRef("pk"), status=OpportunityStatus.OPEN)
    return list(
        Rep.objects.filter(status=RepStatus.DEPARTED)
        .filter(Exists(owns) | Exists(sells))
        .order_by(F("reassignment_due_at").asc(nulls_last=True), "pk")
        .values_list("pk", flat=True)[:limit]
    )


def sweep_departures(*, now: datetime, batch_size: int = 1000) -> SweepResult:
    """Reassign what departed reps still own, earliest deadline first (a lost task, a rep imported as DEPARTED)."""
    result = SweepResult()
    deadline = Deadline()
    started = start_due_departures(now=now)
    if started:
        result.add("departures_started", len(started))
    for rep_id in departed_reps_with_records():
        left = deadline.left
        if left <= 0:
            result.more = True
            break
        one = reassign_departed_rep(rep_id=rep_id, now=now, batch_size=batch_size, time_budget=left)
        for key, n in one.counts.items():
            result.add(key, n)
        result.errors.extend(one.errors)
        result.add("reps")
        if one.more:
            result.more = True
            break
    return result

"""Rebalancing: re-run the territory rules over existing accounts and leads, propose moves, apply them.

A plan (RebalancePlan) is built for a rule set, automatically by the rebalancing sweep
when a rule set is published (one per rule set, decided by a unique index), or on
demand by a manager. For each current SALES owner (a rep) it decides:

- **stays** when the account is protected: it has an OPEN opportunity (protected until
  the deal closes), it is a named account, it is under a claim (claims are their own
  rule) or an unresolved dispute (a manager is deciding), or it was engaged (any activity on it or its leads) within
  `policy.rebalance_idle_days`; a lead stays when its account is protected, when its
  owner worked it within the idle window, or when routing did not give it by territory;
- **stays** when its territory under the rule set (same hard criteria as routing) is
  the owner's, or when no territory matches or nobody there is available;
- otherwise it goes to its new territory's distribution: the available member with the
  least load (SALES accounts + open leads) relative to weight, counted as the plan goes
  (routing.placement). Claim-queue territories keep their records where they are.
- a record **moves** to its territory whatever that does to the load variance: a new map
  takes effect for every record it does not protect (the product's rule: "the rest move to
  their new territory's distribution"). The plan reports the variance before and after,
  over the rule set's active territory members and the active owners of the records it
  considers moving (a fixed set, whichever moves are planned), so a manager sees when a
  realignment loads a territory's members more than the owners it takes records from.

The manager sees the plan's summary (counts per rep before and after, the load variance
before and after, why records stay) and its moves, then applies it: the plan becomes
APPLYING and its moves are applied in batches, each batch one transaction that locks the
move rows and the ownership rows, re-checks protection (an opportunity opened since the
plan keeps the account), moves owners in bulk with history (routing.services.bulk_moves)
and marks each move APPLIED or SKIPPED with the reason. A plan moves a record at most
once: a unique index on (plan, record), and moves are only ever taken from PENDING.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from disputes.models import Dispute, DisputeStatus
from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from leadowner.jobs import Deadline, SweepResult
from leadowner.models import NotificationKind
from leadowner.notifications import notify
from leadowner.tasks import enqueue_on_commit
from routing.enrich import enrich
from routing.models import (
    OPEN_LEAD_STAGES,
    Activity,
    DecisionStep,
    Lead,
    Opportunity,
    OpportunityStatus,
    OwnerRole,
    Ownership,
    RebalanceMove,
    RebalanceMoveStatus,
    RebalancePlan,
    RebalancePlanStatus,
    RebalanceTrigger,
)
from routing.placement import Placer, account_facts
from routing.selectors.loads import open_load_counts
from routing.services.bulk_moves import Move, move_owners
from routing.services.forfeits import MEANINGFUL_KINDS
from routing.services.leads import clean_from_lead
from routing.territory_map import rule_set_territories
from territories.models import Rep, RepRole, RepStatus, RuleSet, Territory
from territories.selectors import policy_of, published_rule_set

REBALANCING_ACTOR = "rebalancing job"
HUNTER_ROLES = (RepRole.AE, RepRole.SDR)


def _loads(rep_ids: list[int]) -> dict[int, int]:
    """Load per rep: current SALES ownership of accounts and of leads in an open stage."""
    accounts = (
        Ownership.objects.filter(rep_id__in=rep_ids, role=OwnerRole.SALES, ended_at__isnull=True, account__isnull=False)
        .order_by()
        .values("rep_id")
        .annotate(n=Count("*"))
        .values_list("rep_id", "n")
    )
    loads: Counter[int] = Counter(dict(accounts))
    loads.update(dict(open_load_counts().filter(rep_id__in=rep_ids)))
    return dict(loads)


def _protected_account_ids(account_ids: Iterable[int] | None = None) -> set[int]:
    rows = Opportunity.objects.filter(status=OpportunityStatus.OPEN)
    if account_ids is not None:
        rows = rows.filter(account_id__in=list(account_ids))
    return set(rows.values_list("account_id", flat=True).distinct())


def _engaged_account_ids(since: datetime, account_ids: Iterable[int] | None = None) -> set[int]:
    on_account = Activity.objects.filter(occurred_at__gt=since, account__isnull=False)
    on_leads = Activity.objects.filter(occurred_at__gt=since, lead__account__isnull=False)
    if account_ids is not None:
        ids = list(account_ids)
        on_account = on_account.filter(account_id__in=ids)
        on_leads = on_leads.filter(lead__account_id__in=ids)
    return set(on_account.values_list("account_id", flat=True).distinct()) | set(
        on_leads.values_list("lead__account_id", flat=True).distinct()
    )


@dataclass
class _Planning:
    rule_set: RuleSet
    now: datetime
    placer: Placer
    territory_members: dict[int, set[int]]
    scope: set[int] | None = None  # the territories the plan covers (None: every one)
    moves: list[RebalanceMove] = field(default_factory=list)
    stayed: Counter[str] = field(default_factory=Counter)
    delta: Counter[int] = field(default_factory=Counter)
    # Owners of the records that could move: with the territories' members, the reps whose
    # load variance the plan lowers (fixed whichever moves are planned).
    owners: set[int] = field(default_factory=set)

    def place(self, territory: Territory, *, hunters_first: bool) -> Rep | None:
        if hunters_first:
            return self.placer.pick(territory, roles=HUNTER_ROLES) or self.placer.pick(territory)
        return self.placer.pick(territory)

    def consider(
        self, *, ownership: Ownership, territory: Territory | None, label: str, hunters_first: bool
    ) -> RebalanceMove | None:
        if territory is None:
            self.stayed["no_territory"] += 1
            return None
        if self.scope is not None and territory.pk not in self.scope:
            self.stayed["other_territory"] += 1
            return None
        if ownership.rep_id in self.territory_members.get(territory.pk, set()):
            self.stayed["in_territory"] += 1
            return None
        assert ownership.rep_id is not None
        self.owners.add(ownership.rep_id)
        to = self.place(territory, hunters_first=hunters_first)
        if to is None:
            self.stayed["nobody_available"] += 1
            return None
        from_load, to_load = self.placer.load(ownership.rep_id), self.placer.load(to.pk) - 1  # pick counted it
        self.placer.release(ownership.rep_id)
        self.delta[ownership.rep_id] -= 1
        self.delta[to.pk] += 1
        assert ownership.rep is not None
        move = RebalanceMove(
            account_id=ownership.account_id,
            lead_id=ownership.lead_id,
            role=ownership.role,
            ownership_id=ownership.pk,
            from_rep_id=ownership.rep_id,
            to_rep_id=to.pk,
            territory_name=territory.name,
            why=(
                f"rebalancing to rule set v{self.rule_set.version}: {label} belongs to '{territory.name}', "
                f"where {ownership.rep.name} is not a member; {to.name} has the least load there "
                f"({to_load} records against {ownership.rep.name}'s {from_load})"
            )[:500],
        )
        self.moves.append(move)
        return move


def _disputed() -> tuple[set[int], set[int]]:
    """Accounts and leads under an unresolved dispute: a manager is deciding their owner."""
    rows = Dispute.objects.exclude(status=DisputeStatus.RESOLVED).values_list("account_id", "lead_id")
    accounts = {a for a, _ in rows if a is not None}
    leads = {lead for _, lead in rows if lead is not None}
    return accounts, leads


def _plan_accounts(p: _Planning, idle_since: datetime) -> None:
    protected = _protected_account_ids()
    disputed, _ = _disputed()
    engaged = _engaged_account_ids(idle_since)
    rows = (
        Ownership.objects.select_related("account", "rep")
        .filter(role=OwnerRole.SALES, ended_at__isnull=True, account__isnull=False, rep__isnull=False)
        .order_by("pk")
    )
    for ownership in rows.iterator(chunk_size=2000):
        account = ownership.account
        assert account is not None and ownership.rep is not None
        if ownership.rep.status == RepStatus.DEPARTED:
            p.stayed["owner_departed"] += 1  # the departure job moves it
        elif ownership.reason == DecisionStep.ACCOUNT_CLAIM:
            p.stayed["claimed"] += 1
        elif account.named_account:
            p.stayed["named_account"] += 1
        elif account.pk in protected:
            p.stayed["open_opportunity"] += 1
        elif account.pk in disputed:
            p.stayed["under_dispute"] += 1
        elif account.pk in engaged:
            p.stayed["engaged"] += 1
        else:
            p.consider(
                ownership=ownership,
                territory=p.placer.territory_for(account_facts(account)),
                label=account.name,
                hunters_first=True,
            )


def _plan_leads(p: _Planning, idle_since: datetime) -> None:
    protected = _protected_account_ids()
    _, disputed = _disputed()
    worked = Activity.objects.filter(
        lead_id=OuterRef("lead_id"), rep_id=OuterRef("rep_id"), kind__in=MEANINGFUL_KINDS, occurred_at__gt=idle_since
    )
    rows = (
        Ownership.objects.select_related("lead", "lead__account", "rep")
        .annotate(worked=Exists(worked))
        .filter(
            role=OwnerRole.SALES,
            ended_at__isnull=True,
            lead__isnull=False,
            rep__isnull=False,
            lead__stage__in=OPEN_LEAD_STAGES,
        )
        .order_by("pk")
    )
    for ownership in rows.iterator(chunk_size=2000):
        lead = ownership.lead
        assert lead is not None and ownership.rep is not None
        if ownership.rep.status == RepStatus.DEPARTED:
            p.stayed["owner_departed"] += 1
        elif ownership.reason != DecisionStep.TERRITORY:
            p.stayed["not_routed_by_territory"] += 1
        elif lead.account_id is not None and lead.account_id in protected:
            p.stayed["open_opportunity"] += 1
        elif lead.pk in disputed:
            p.stayed["under_dispute"] += 1
        elif ownership.worked:  # type: ignore[attr-defined]
            p.stayed["engaged"] += 1
        else:
            facts, _lines = enrich(clean_from_lead(lead), lead.account)
            p.consider(
                ownership=ownership, territory=p.placer.territory_for(facts), label=lead.email, hunters_first=False
            )


def _variance(values: list[int]) -> float:
    return round(statistics.pvariance(values), 4) if len(values) > 1 else 0.0


def _summary(p: _Planning, member_ids: set[int], territory_names: list[str]) -> dict[str, Any]:
    rep_ids = sorted(member_ids | p.owners)
    before = _loads(rep_ids)
    reps = Rep.objects.in_bulk(rep_ids)
    rows: list[dict[str, Any]] = []
    for rep_id in rep_ids:
        rep = reps.get(rep_id)
        if rep is None:
            continue
        b = before.get(rep_id, 0)
        rows.append(
            {
                "rep_id": rep_id,
                "name": rep.name,
                "email": rep.email,
                "status": rep.status,
                "before": b,
                "after": b + p.delta.get(rep_id, 0),
            }
        )
    rows.sort(key=lambda r: (r["name"], r["rep_id"]))
    active = [r for r in rows if r["status"] != RepStatus.DEPARTED]
    variance_before = _variance([r["before"] for r in active])
    variance_after = _variance([r["after"] for r in active])
    return {
        "rule_set_version": p.rule_set.version,
        "territories": territory_names,
        "moves": len(p.moves),
        "accounts_moving": sum(1 for m in p.moves if m.account_id is not None),
        "leads_moving": sum(1 for m in p.moves if m.lead_id is not None),
        "stayed": dict(sorted(p.stayed.items())),
        "reps": rows,
        "variance_before": variance_before,
        "variance_after": variance_after,
        "variance_removed": round(variance_before - variance_after, 4),
    }


def _scope(territories: list[Territory], chosen: Collection[int] | None, rule_set: RuleSet) -> set[int] | None:
    """The chosen territories and every territory under them; INVALID for one not in the rule set."""
    if chosen is None:
        return None
    chosen = set(chosen)
    if not chosen:
        raise ServiceError(ErrorCode.INVALID, "choose at least one territory, or none for every one", "territoryIds")
    known = {t.pk for t in territories}
    unknown = sorted(chosen - known)
    if unknown:
        raise ServiceError(
            ErrorCode.INVALID,
            f"territory #{unknown[0]} is not in rule set v{rule_set.version}",
            "territoryIds",
        )
    children: dict[int, list[int]] = {}
    for t in territories:
        if t.parent_id is not None:
            children.setdefault(t.parent_id, []).append(t.pk)
    scope: set[int] = set()
    todo = list(chosen)
    while todo:
        pk = todo.pop()
        if pk not in scope:
            scope.add(pk)
            todo.extend(children.get(pk, []))
    return scope


def build_rebalance_plan(
    *,
    actor: Actor,
    now: datetime,
    rule_set: RuleSet | None = None,
    trigger: str = RebalanceTrigger.ON_DEMAND,
    territory_ids: Collection[int] | None = None,
) -> RebalancePlan:
    """Propose the moves of a rebalancing under `rule_set` (default: the published one). Moves nothing.

    `territory_ids` (territories of that rule set) limits the plan to the records that
    belong to them or to their sub-territories; None covers every territory.
    """
    if not actor.is_manager:
        raise ServiceError(ErrorCode.FORBIDDEN, "only managers and RevOps rebalance territories")
    rule_set = rule_set or published_rule_set()
    if rule_set is None:
        raise ServiceError(ErrorCode.INVALID, "there is no published rule set to rebalance to")
    policy = policy_of(rule_set)
    territories = rule_set_territories(rule_set)
    members = {t.pk: {m.rep_id for m in t.memberships.all()} for t in territories}
    scope = _scope(territories, territory_ids, rule_set)
    covered = [t for t in territories if scope is None or t.pk in scope]
    member_ids = set().union(*(members[t.pk] for t in covered)) if covered else set()
    names = [t.name for t in territories if territory_ids is not None and t.pk in set(territory_ids)]
    planning = _Planning(
        rule_set=rule_set,
        now=now,
        placer=Placer(territories=territories, today=timezone.localdate(now), load_of=_loads),
        territory_members=members,
        scope=scope,
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                plan = RebalancePlan.objects.create(
                    rule_set=rule_set, trigger=trigger, created_at=now, created_by=actor.label[:200]
                )
        except IntegrityError:
            raise ServiceError(
                ErrorCode.CONFLICT, f"a rebalancing plan for rule set v{rule_set.version} was already made"
            ) from None
        idle_since = now - timedelta(days=policy.rebalance_idle_days)
        _plan_accounts(planning, idle_since)
        _plan_leads(planning, idle_since)
        for move in planning.moves:
            move.plan = plan
        RebalanceMove.objects.bulk_create(planning.moves, batch_size=1000)
        plan.summary = _summary(planning, member_ids, names)
        plan.save(update_fields=["summary"])
    return plan


def apply_rebalance_plan(*, plan_id: int, actor: Actor, now: datetime) -> RebalancePlan:
    """A manager confirms a DRAFT plan: it becomes APPLYING and its moves are applied in the background."""
    if not actor.is_manager:
        raise ServiceError(ErrorCode.FORBIDDEN, "only managers and RevOps apply a rebalancing")
    plan = RebalancePlan.objects.select_related("rule_set").filter(pk=plan_id).first()
    if plan is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"no rebalancing plan #{plan_id}", "planId")
    published = published_rule_set()
    if published is None or published.pk != plan.rule_set_id:
        raise ServiceError(
            ErrorCode.INVALID,
            f"plan #{plan.pk} was made for rule set v{plan.rule_set.version}, which is not the published one; "
            "make a new plan",
        )
    with transaction.atomic():
        updated = RebalancePlan.objects.filter(pk=plan.pk, status=RebalancePlanStatus.DRAFT).update(
            status=RebalancePlanStatus.APPLYING, applied_by=actor.label[:200], apply_started_at=now
        )
        if updated == 0:
            raise ServiceError(
                ErrorCode.INVALID_TRANSITION, f"plan #{plan.pk} is {plan.status}; only a DRAFT plan can be applied"
            )
        from routing.tasks import apply_rebalance_plan as task

        enqueue_on_commit(task, plan.pk)
    plan.refresh_from_db()
    return plan


def discard_rebalance_plan(*, plan_id: int, actor: Actor, now: datetime) -> RebalancePlan:
    if not actor.is_manager:
        raise ServiceError(ErrorCode.FORBIDDEN, "only managers and RevOps discard a rebalancing")
    updated = RebalancePlan.objects.filter(pk=plan_id, status=RebalancePlanStatus.DRAFT).update(
        status=RebalancePlanStatus.DISCARDED
    )
    if updated == 0:
        raise ServiceError(ErrorCode.INVALID_TRANSITION, f"plan #{plan_id} is not a DRAFT plan")
    return RebalancePlan.objects.get(pk=plan_id)


def _apply_batch(plan: RebalancePlan, ids: list[int], *, now: datetime, result: SweepResult, got: Counter[int]) -> None:
    policy = policy_of(plan.rule_set)
    with transaction.atomic():
        moves = list(
            RebalanceMove.objects.select_for_update()
            .select_related("to_rep")
            .filter(pk__in=ids, status=RebalanceMoveStatus.PENDING)
            .order_by("pk")
        )
        if not moves:
            return
        account_ids = {m.account_id for m in moves if m.account_id is not None}
        lead_accounts = dict(
            Lead.objects.filter(pk__in=[m.lead_id for m in moves if m.lead_id]).values_list("pk", "account_id")
        )
        protected = _protected_account_ids(account_ids | {a for a in lead_accounts.values() if a})
        engaged = _engaged_account_ids(now - timedelta(days=policy.rebalance_idle_days), account_ids)
        skip: dict[int, str] = {}
        for m in moves:
            account_id = m.account_id if m.account_id is not None else lead_accounts.get(m.lead_id or 0)
            if account_id is not None and account_id in protected:
                skip[m.pk] = "an opportunity opened since the plan: the account is protected"
            elif m.account_id is not None and m.account_id in engaged:
                skip[m.pk] = "the account was engaged since the plan"
            elif m.to_rep.status != RepStatus.ACTIVE:
                skip[m.pk] = f"{m.to_rep.name} is no longer active"
        todo = [m for m in moves if m.pk not in skip]
        moved = move_owners(
            [
                Move(ownership_id=m.ownership_id, to_rep_id=m.to_rep_id, step=DecisionStep.TERRITORY, why=m.why)
                for m in todo
            ],
            actor=f"{REBALANCING_ACTOR} (plan #{plan.pk})",
            now=now,
            rule_set_version=plan.rule_set.version,
        )
        done = {x.move.ownership_id for x in moved}
        applied = [m.pk for m in todo if m.ownership_id in done]
        for m in todo:
            if m.ownership_id not in done:
                skip[m.pk] = "the owner changed since the plan"
        RebalanceMove.objects.filter(pk__in=applied, status=RebalanceMoveStatus.PENDING).update(
            status=RebalanceMoveStatus.APPLIED, applied_at=now
        )
        for move_id, why in skip.items():
            RebalanceMove.objects.filter(pk=move_id, status=RebalanceMoveStatus.PENDING).update(
                status=RebalanceMoveStatus.SKIPPED, skipped_reason=why[:300]
            )
        Lead.objects.filter(pk__in=[m.lead_id for m in todo if m.ownership_id in done and m.lead_id]).update(
            assigned_at=now
        )
        for m in todo:
            if m.ownership_id in done:
                got[m.to_rep_id] += 1
                got[-m.from_rep_id] += 1  # negative key: records that left a rep
        if applied:
            result.add("moved", len(applied))
        if skip:
            result.add("skipped", len(skip))


def _tell_reps(plan: RebalancePlan, got: Counter[int], now: datetime) -> None:
    rep_ids = sorted({abs(k) for k in got})
    reps = Rep.objects.in_bulk(rep_ids)
    for rep_id in rep_ids:
        rep = reps.get(rep_id)
        gained, lost = got.get(rep_id, 0), got.get(-rep_id, 0)
        if rep is None:
            continue
        notify(
            recipients=[rep],
            kind=NotificationKind.REBALANCING,
            subject=f"Rebalancing to rule set v{plan.rule_set.version}: +{gained} / -{lost} records",
            body=(
                f"Rebalancing plan #{plan.pk} gave you {gained} records and moved {lost} of yours to colleagues "
                "in their territories. Each record's history says why."
            ),
            now=now,
        )


def apply_rebalance_moves(
    *, plan_id: int, now: datetime, batch_size: int = 500, time_budget: float | None = None
) -> SweepResult:
    """Apply the pending moves of an APPLYING plan in batches; the plan becomes APPLIED when none are left."""
    result = SweepResult()
    plan = RebalancePlan.objects.select_related("rule_set").filter(pk=plan_id).first()
    if plan is None or plan.status != RebalancePlanStatus.APPLYING:
        result.add("not_applying")
        return result
    deadline = Deadline(time_budget)
    got: Counter[int] = Counter()
    after = 0
    while True:
        ids = list(
            RebalanceMove.objects.filter(plan=plan, status=RebalanceMoveStatus.PENDING, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        after = ids[-1]
        _apply_batch(plan, ids, now=now, result=result, got=got)
        if deadline.passed:
            result.more = True
            break
    with transaction.atomic():
        if got:
            _tell_reps(plan, got, now)
        if not result.more and not RebalanceMove.objects.filter(plan=plan, status=RebalanceMoveStatus.PENDING).exists():
            finished = RebalancePlan.objects.filter(pk=plan.pk, status=RebalancePlanStatus.APPLYING).update(
                status=RebalancePlanStatus.APPLIED, applied_at=now
            )
            result.add("plans_applied", finished)
    return result


def sweep_rebalancing(*, now: datetime, batch_size: int = 500) -> SweepResult:
    """Propose a plan for a newly published rule set; go on applying confirmed plans."""
    result = SweepResult()
    published = published_rule_set()
    if published is not None and not RebalancePlan.objects.filter(rule_set=published).exists():
        try:
            plan = build_rebalance_plan(
                actor=Actor.system_actor(REBALANCING_ACTOR),
                now=now,
                rule_set=published,
                trigger=RebalanceTrigger.PUBLISH,
            )
        except ServiceError:
            result.add("plan_already_made")
        else:
            result.add("plans_proposed")
            with transaction.atomic():
                revops = Rep.objects.filter(role=RepRole.REVOPS, status=RepStatus.ACTIVE)
                notify(
                    recipients=list(revops),
                    kind=NotificationKind.REBALANCING,
                    subject=f"Rebalancing plan #{plan.pk} for rule set v{published.version}: "
                    f"{plan.summary.get('moves', 0)} moves proposed",
                    body=(
                        f"Rule set v{published.version} was published. Plan #{plan.pk} proposes "
                        f"{plan.summary.get('moves', 0)} moves; load variance {plan.summary.get('variance_before')} -> "
                        f"{plan.summary.get('variance_after')}. Review and apply it on the rebalancing screen."
                    ),
                    now=now,
                )
    for plan_id in (
        RebalancePlan.objects.filter(status=RebalancePlanStatus.APPLYING)
        .order_by("pk")
        .values_list("pk", flat=True)[:5]
    ):
        one = apply_rebalance_moves(plan_id=plan_id, now=now, batch_size=batch_size)
        for key, n in one.counts.items():
            result.add(key, n)
        if one.more:
            result.more = True
            break
    return result

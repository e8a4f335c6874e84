"""The activity requirement: a lead its owner does not work is forfeited and routed again.

A lead is **due** when all of these hold:

- it has a current SALES owner who is a rep (partners' leads live by their registration);
- its stage is open (NEW .. NEGOTIATION; WON, LOST and PAUSED leads are left alone);
- its account has no OPEN opportunity (accounts with an open deal are protected);
- the owner logged no *meaningful* activity on it within `policy.activity_window_days`
  since it was assigned to them or since their last meaningful activity:
  `max(assigned, last meaningful activity) + window <= now`.

Meaningful activity is a CALL, an EMAIL or a MEETING by the owner on the lead. A NOTE is
bookkeeping, not contact with the prospect, so it does not reset the clock; nor does a
colleague's activity. The window is absolute time (a `timedelta` of whole days in UTC),
so a daylight-saving change in the owner's time zone neither shortens nor lengthens it.

Forfeiting ends the owner's ownership with the reason (history row 1) and routes the lead
again with the routing engine, never back to a rep who already forfeited it or missed its
first-touch SLA (history row 2, or the lead waits unassigned). The owner, their manager
and the new owner are notified.

The sweep selects due ownership ids in bounded batches with one index-friendly query,
then handles each in its own transaction: lock the lead (the order route_lead locks in),
re-check the whole due condition for that row, act. Two sweeps at once, or one run
twice, forfeit each lead once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet

from leadowner.actors import Actor
from leadowner.errors import ServiceError
from leadowner.jobs import Deadline, SweepResult
from leadowner.models import NotificationKind
from leadowner.notifications import notify
from routing.models import (
    OPEN_LEAD_STAGES,
    Activity,
    ActivityKind,
    DecisionStep,
    Lead,
    Opportunity,
    OpportunityStatus,
    OwnerRole,
    Ownership,
    OwnershipChange,
)
from routing.selectors.team import manager_chain
from routing.services.leads import route_lead
from routing.services.ownership import Record, end_owner
from territories.models import Rep
from territories.selectors import policy_of, published_rule_set

FORFEIT_ACTOR = "forfeit job"
SLA_ACTOR = "first-touch SLA job"
MEANINGFUL_KINDS = (ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING)


def _owned_open_leads() -> QuerySet[Ownership]:
    """Current SALES ownership of leads in an open stage by a rep, whose account has no open opportunity."""
    protected = Opportunity.objects.filter(account_id=OuterRef("lead__account_id"), status=OpportunityStatus.OPEN)
    return Ownership.objects.filter(
        role=OwnerRole.SALES,
        ended_at__isnull=True,
        lead__isnull=False,
        rep__isnull=False,
        lead__stage__in=OPEN_LEAD_STAGES,
    ).exclude(Exists(protected))


def due_forfeits(*, now: datetime, window: timedelta) -> QuerySet[Ownership]:
    """Ownerships whose lead is due for forfeit at `now` (see the module docstring)."""
    cutoff = now - window
    worked = Activity.objects.filter(
        lead_id=OuterRef("lead_id"), rep_id=OuterRef("rep_id"), kind__in=MEANINGFUL_KINDS, occurred_at__gt=cutoff
    )
    return _owned_open_leads().filter(
        # lead.last_activity_at counts every kind: when it is old, no activity can be recent (no lookup needed).
        Q(lead__last_activity_at__isnull=True) | Q(lead__last_activity_at__lte=cutoff) | ~Exists(worked),
        since__lte=cutoff,
    )


def previous_losers(lead_id: int) -> set[int]:
    """Reps who already lost this lead to the forfeit or first-touch job: it never goes back to them."""
    return set(
        OwnershipChange.objects.filter(lead_id=lead_id, actor__in=(FORFEIT_ACTOR, SLA_ACTOR), from_rep__isnull=False)
        .values_list("from_rep_id", flat=True)
        .distinct()
    )


def take_and_reroute(
    *,
    ownership_id: int,
    still_due: QuerySet[Ownership],
    actor: str,
    why: str,
    kind: str,
    subject: str,
    now: datetime,
    version: int | None,
) -> bool:
    """End a due ownership with `why` and route its lead again, excluding every rep who lost it.

    `still_due` re-checks the whole condition for this row after the lead is locked, so a
    concurrent sweep, a fresh activity or a stage change since the selection wins.
    """
    with transaction.atomic():
        lead_id = Ownership.objects.filter(pk=ownership_id).values_list("lead_id", flat=True).first()
        if lead_id is None:
            return False
        lead = Lead.objects.select_for_update().filter(pk=lead_id).first()
        if lead is None:
            return False
        ownership = still_due.filter(pk=ownership_id).select_related("rep").first()
        if ownership is None or ownership.rep is None:
            return False
        loser: Rep = ownership.rep
        end_owner(
            Record(lead=lead),
            role=OwnerRole.SALES,
            why=why,
            actor=actor,
            now=now,
            step=DecisionStep.UNASSIGNED,
            rule_set_version=version,
            expected=ownership,
        )
        excluded: Collection[int] = previous_losers(lead.pk) | {loser.pk}
        decision = route_lead(lead=lead, actor=Actor.system_actor(actor), now=now, exclude_rep_ids=excluded)
        new_owner = (
            Rep.objects.filter(pk=decision.owner.rep_id).first()
            if decision.owner is not None and decision.owner.rep_id is not None
            else None
        )
        managers = [m for m in manager_chain(loser)[:1]]
        where = f"It went to {new_owner.name}." if new_owner else "Nobody could take it: it waits unassigned."
        notify(
            recipients=[loser, *managers],
            kind=kind,
            subject=f"{subject}: {lead.email}",
            body=f"{why}\n{where}",
            now=now,
            lead_id=lead.pk,
            account_id=lead.account_id,
        )
        if new_owner is not None:
            notify(
                recipients=[new_owner],
                kind=NotificationKind.REASSIGNMENT,
                subject=f"New lead for you: {lead.email}",
                body=f"{lead.email} was taken from {loser.name}: {why}",
                now=now,
                lead_id=lead.pk,
                account_id=lead.account_id,
            )
        return True


def sweep_due(
    *,
    due: QuerySet[Ownership],
    batch_size: int,
    handle: Callable[[int], bool],
    done_key: str,
) -> SweepResult:
    """Select up to `batch_size` due ids (by id) and handle each, within the run's time budget.

    `more` when the batch was full (and moved) or the budget ran out first: the task re-queues itself.
    """
    ids = list(due.order_by("pk").values_list("pk", flat=True)[:batch_size])
    result = SweepResult()
    deadline = Deadline()
    for position, ownership_id in enumerate(ids):
        if position and deadline.passed:
            result.more = True
            return result
        try:
            if handle(ownership_id):
                result.add(done_key)
            else:
                result.add("changed_meanwhile")
        except ServiceError as exc:
            result.errors.append(f"ownership #{ownership_id}: {exc.message}")
    result.more = len(ids) == batch_size and result.counts.get(done_key, 0) > 0
    return result


def sweep_forfeits(*, now: datetime, batch_size: int = 200) -> SweepResult:
    """Forfeit every lead due at `now` (one bounded batch; `more` says another is due)."""
    rule_set = published_rule_set()
    policy = policy_of(rule_set)
    window = timedelta(days=policy.activity_window_days)
    due = due_forfeits(now=now, window=window)
    version = rule_set.version if rule_set else None

    def handle(ownership_id: int) -> bool:
        row = Ownership.objects.filter(pk=ownership_id).values("since", "rep_id", "rep__name", "lead_id").first()
        if row is None:
            return False
        last = Activity.objects.filter(
            lead_id=row["lead_id"], rep_id=row["rep_id"], kind__in=MEANINGFUL_KINDS, occurred_at__gte=row["since"]
        ).aggregate(last=Max("occurred_at"))["last"]
        worked = f"last call, email or meeting {last:%Y-%m-%d %H:%M} UTC" if last else "no call, email or meeting"
        why = (
            f"forfeited: {row['rep__name']} did not work the lead for {policy.activity_window_days} days "
            f"(owned since {row['since']:%Y-%m-%d %H:%M} UTC; {worked})"
        )
        return take_and_reroute(
            ownership_id=ownership_id,
            still_due=due,
            actor=FORFEIT_ACTOR,
            why=why,
            kind=NotificationKind.FORFEIT,
            subject="Lead forfeited",
            now=now,
            version=version,
        )

    return sweep_due(due=due, batch_size=batch_size, handle=handle, done_key="forfeited")

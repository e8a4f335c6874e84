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

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from leadowner.jobs import Deadline, SweepResult
from leadowner.models import NotificationKind
from leadowner.notifications import Note, notify_many
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
from routing.services.batch_routing import reroute_leads, whole_or_one_by_one
from routing.services.bulk_moves import Move, move_owners
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


def previous_losers(lead_ids: Collection[int]) -> dict[int, set[int]]:
    """Per lead, the reps who already lost it to the forfeit or first-touch job: it never goes back to them."""
    losers: dict[int, set[int]] = {lead_id: set() for lead_id in lead_ids}
    # The lead ids are the only indexed condition: with `from_rep IS NOT NULL` in the SQL,
    # PostgreSQL took the (from_rep, at) index whenever its statistics said few rows had a
    # from_rep (a book before its first sweep) and read every forfeit row the sweep wrote
    # since. A lead's history is a handful of rows; the ones without a rep are left here.
    rows = OwnershipChange.objects.filter(
        lead_id__any_of=list(lead_ids), actor__in=(FORFEIT_ACTOR, SLA_ACTOR)
    ).values_list("lead_id", "from_rep_id")
    for lead_id, rep_id in rows:
        if rep_id is not None:
            losers[lead_id].add(rep_id)
    return losers


def take_and_reroute(
    *,
    ownership_ids: Sequence[int],
    still_due: QuerySet[Ownership],
    actor: str,
    why: Callable[[Ownership], str],
    kind: str,
    subject: str,
    now: datetime,
    version: int | None,
) -> int:
    """End these due ownerships, each with `why(ownership)`, and route their leads again; how many.

    One transaction for the batch: lock the leads (by id, the order route_lead locks in),
    re-check the whole due condition for each row with `still_due` (a concurrent sweep, a
    fresh activity or a stage change since the selection wins: that row is skipped), end
    the owners with history, then route the leads again together
    (routing.services.batch_routing), never back to a rep who lost them, and notify.
    """
    with transaction.atomic():
        lead_ids = list(
            Ownership.objects.filter(pk__any_of=list(ownership_ids), lead__isnull=False).values_list(
                "lead_id", flat=True
            )
        )
        leads = {lead.pk: lead for lead in Lead.objects.select_for_update().filter(pk__any_of=lead_ids).order_by("pk")}
        due = [
            o
            for o in still_due.filter(pk__any_of=list(ownership_ids)).select_related("rep__manager").order_by("lead_id")
            if o.rep is not None and o.lead_id in leads
        ]
        if not due:
            return 0
        reasons = {o.pk: why(o) for o in due}
        # Ending them is the bulk move to nobody (history included): the same writer as departures'.
        ended = move_owners(
            [Move(ownership_id=o.pk, to_rep_id=None, step=DecisionStep.UNASSIGNED, why=reasons[o.pk]) for o in due],
            actor=actor,
            now=now,
            rule_set_version=version,
        )
        if len(ended) != len(due):  # the leads are locked: only a writer that skipped the lock gets here
            raise ServiceError(ErrorCode.CONFLICT, "an owner of one of these leads changed meanwhile; try again")
        losers = previous_losers([o.lead_id for o in due if o.lead_id is not None])
        rerouted = reroute_leads(
            leads=[leads[o.lead_id] for o in due if o.lead_id is not None],
            actor=Actor.system_actor(actor),
            now=now,
            exclude=losers,
        )
        notes: list[Note] = []
        for ownership, result in zip(due, rerouted, strict=True):
            loser: Rep = ownership.rep  # type: ignore[assignment]
            lead = result.lead
            manager = loser.manager if loser.manager_id not in (None, loser.pk) else None
            new_owner = result.rep
            where = f"It went to {new_owner.name}." if new_owner else "Nobody could take it: it waits unassigned."
            reason = reasons[ownership.pk]
            notes.append(
                Note(
                    [loser, manager],
                    kind,
                    f"{subject}: {lead.email}",
                    f"{reason}\n{where}",
                    lead_id=lead.pk,
                    account_id=lead.account_id,
                )
            )
            if new_owner is not None:
                notes.append(
                    Note(
                        [new_owner],
                        NotificationKind.REASSIGNMENT,
                        f"New lead for you: {lead.email}",
                        f"{lead.email} was taken from {loser.name}: {reason}",
                        lead_id=lead.pk,
                        account_id=lead.account_id,
                    )
                )
        notify_many(notes, now=now)
        return len(due)


# A sweep's selection is handled in transactions of this many leads: enough to make the
# per-batch statements cheap per lead, few enough to hold the territories' locks briefly.
CHUNK = 100
# Due ids are selected this many at a time, each page after the last id of the previous one.
PAGE = 500


def sweep_due(
    *,
    due: QuerySet[Ownership],
    batch_size: int,
    handle: Callable[[Sequence[int]], int],
    done_key: str,
) -> SweepResult:
    """Handle up to `batch_size` due ids (by id) in chunks, within the run's time budget.

    The ids are selected in pages, each after the last id of the one before (keyset): the
    rows at the front of the table that are handled, or not due, are read once per run,
    not once per page (at a million owners with 100,000 due, re-reading them made each
    page of 200 cost ~0.5 s by the end). A chunk that fails with a ServiceError (an owner
    changed under it) is handled again one id at a time, so one conflicting row does not
    hold back the others. `more` when the run stopped with due ids left (its batch was
    full, or its time budget ran out): the task re-queues itself.
    """
    result = SweepResult()
    deadline = Deadline()
    after, taken = 0, 0
    while taken < batch_size:
        page = min(PAGE, batch_size - taken)
        ids = list(due.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:page])
        for start in range(0, len(ids), CHUNK):
            if taken and deadline.passed:
                result.more = True
                return result
            chunk = ids[start : start + CHUNK]
            done = whole_or_one_by_one(
                chunk, handle, lambda pk, exc: result.errors.append(f"ownership #{pk}: {exc.message}")
            )
            taken += len(chunk)
            result.add(done_key, done)
            if len(chunk) > done:
                result.add("changed_meanwhile", len(chunk) - done)
        if len(ids) < page:
            return result  # nothing due is left after the last page
        after = ids[-1]
    result.more = result.counts.get(done_key, 0) > 0
    return result


def sweep_forfeits(*, now: datetime, batch_size: int = 5000) -> SweepResult:
    """Forfeit every lead due at `now` (one bounded batch; `more` says another is due)."""
    rule_set = published_rule_set()
    policy = policy_of(rule_set)
    window = timedelta(days=policy.activity_window_days)
    due = due_forfeits(now=now, window=window)
    version = rule_set.version if rule_set else None

    def why(ownership: Ownership) -> str:
        last = ownership.last_worked  # type: ignore[attr-defined]
        worked = f"last call, email or meeting {last:%Y-%m-%d %H:%M} UTC" if last else "no call, email or meeting"
        return (
            f"forfeited: {ownership.rep.name} did not work the lead for {policy.activity_window_days} days "  # type: ignore[union-attr]
            f"(owned since {ownership.since:%Y-%m-%d %H:%M} UTC; {worked})"
        )

    last_worked = (
        Activity.objects.filter(
            lead_id=OuterRef("lead_id"),
            rep_id=OuterRef("rep_id"),
            kind__in=MEANINGFUL_KINDS,
            occurred_at__gte=OuterRef("since"),
        )
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )

    def handle(ownership_ids: Sequence[int]) -> int:
        return take_and_reroute(
            ownership_ids=ownership_ids,
            still_due=due.annotate(last_worked=Subquery(last_worked)),
            actor=FORFEIT_ACTOR,
            why=why,
            kind=NotificationKind.FORFEIT,
            subject="Lead forfeited",
            now=now,
            version=version,
        )

    return sweep_due(due=due, batch_size=batch_size, handle=handle, done_key="forfeited")

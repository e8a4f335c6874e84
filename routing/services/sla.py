"""The first-touch SLA: a new lead its owner has not touched in time is reassigned.

A lead is **due** when it has a current SALES owner who is a rep, is still NEW, its
account has no open opportunity, and that owner logged no meaningful activity (a call,
an email or a meeting: see routing.services.forfeits) on it since it was assigned to
them, `policy.first_touch_sla_hours` *business hours* after that assignment. Business
hours are the rule set's calendar (leadowner.calendar: weekends and the country's
public holidays do not count), as for every SLA; a lead assigned on Friday evening is
not reassigned on Saturday.

The due test stays one indexable comparison: instead of computing each lead's deadline,
the sweep computes the latest assignment time that is already late at `now`
(`late_if_assigned_before`) and compares `since` with it.

Reassignment is the forfeit's: the owner's ownership ends with the reason, the lead is
routed again never back to a rep who already lost it, history records both, and the
owner, their manager and the new owner are notified.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

from django.db.models import Exists, OuterRef, QuerySet

from leadowner.calendar import is_business_day
from leadowner.jobs import SweepResult
from leadowner.models import NotificationKind
from routing.models import Activity, LeadStage, Ownership
from routing.services.forfeits import MEANINGFUL_KINDS, SLA_ACTOR, _owned_open_leads, sweep_due, take_and_reroute
from territories.selectors import policy_of, published_rule_set

_DAY = timedelta(days=1)
_MAX_DAYS_SCANNED = 3660


def late_if_assigned_before(now: datetime, hours: int, *, country: str) -> datetime:
    """The latest start whose `hours` business hours have all elapsed at `now`.

    The inverse of leadowner.calendar.add_business_hours: for every start `s`,
    `add_business_hours(s, hours) <= now` exactly when `s <= late_if_assigned_before(now, hours)`.
    It walks back from `now` through business days only.
    """
    if hours < 0:
        raise ValueError("hours must not be negative")
    cursor = now.astimezone(UTC)
    remaining = timedelta(hours=hours)
    for _ in range(_MAX_DAYS_SCANNED):
        if remaining <= timedelta(0):
            return cursor
        # The stretch of day just before the cursor: from that day's midnight up to the cursor.
        day_start = datetime.combine(cursor.date(), time(0), tzinfo=UTC)
        if day_start == cursor:
            day_start -= _DAY
        if is_business_day(day_start.date(), country=country):
            available = cursor - day_start
            if remaining <= available:
                return cursor - remaining
            remaining -= available
        cursor = day_start
    raise ValueError(f"no start found within {_MAX_DAYS_SCANNED} days")


def due_first_touch(*, late_before: datetime) -> QuerySet[Ownership]:
    """Ownerships of NEW leads their owner has not touched, assigned at or before `late_before`."""
    touched = Activity.objects.filter(
        lead_id=OuterRef("lead_id"),
        rep_id=OuterRef("rep_id"),
        kind__in=MEANINGFUL_KINDS,
        occurred_at__gte=OuterRef("since"),
    )
    return _owned_open_leads().filter(lead__stage=LeadStage.NEW, since__lte=late_before).exclude(Exists(touched))


def sweep_first_touch_sla(*, now: datetime, batch_size: int = 5000) -> SweepResult:
    """Reassign every new lead whose first-touch SLA ran out (one bounded batch; `more` when another is due)."""
    rule_set = published_rule_set()
    policy = policy_of(rule_set)
    country = rule_set.calendar if rule_set is not None else "US"
    hours = policy.first_touch_sla_hours
    due = due_first_touch(late_before=late_if_assigned_before(now, hours, country=country))
    version = rule_set.version if rule_set else None

    def why(ownership: Ownership) -> str:
        return (
            f"first-touch SLA missed: {ownership.rep.name} did not call, email or meet the lead within {hours} "  # type: ignore[union-attr]
            f"business hours ({country} calendar) of its assignment on {ownership.since:%Y-%m-%d %H:%M} UTC"
        )

    def handle(ownership_ids: Sequence[int]) -> int:
        return take_and_reroute(
            ownership_ids=ownership_ids,
            still_due=due,
            actor=SLA_ACTOR,
            why=why,
            kind=NotificationKind.FIRST_TOUCH_SLA,
            subject="First-touch SLA missed",
            now=now,
            version=version,
        )

    return sweep_due(due=due, batch_size=batch_size, handle=handle, done_key="reassigned")

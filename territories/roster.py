"""Writes of the roster: a rep's out-of-office dates and capacity (the console's roster screen).

Who may: RevOps for anyone; a manager for the reps below them in the org chart (any
depth: routing.selectors.team). Not for themselves, unless they are RevOps. A departed
rep's roster entry no longer changes.

Each change is one conditional UPDATE that re-checks the state it was decided on
(`status` unchanged), so a departure marked meanwhile wins and the change reports CONFLICT.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone

from leadowner import permissions
from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from territories.models import Rep, RepStatus

MAX_CAPACITY = 100_000
MAX_OUT_OF_OFFICE_DAYS = 366


def _rep_for_change(rep_id: int, actor: Actor) -> Rep:
    rep = Rep.objects.select_related("manager").filter(pk=rep_id).first()
    if rep is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"there is no rep #{rep_id}", "rep")
    if not permissions.may_manage_rep(actor, rep):
        raise ServiceError(ErrorCode.FORBIDDEN, f"only a manager of {rep.name} or RevOps can change their roster entry")
    if rep.status == RepStatus.DEPARTED:
        raise ServiceError(ErrorCode.INVALID_TRANSITION, f"{rep.name} has departed", "rep")
    return rep


def _conditional_update(rep: Rep, **changes: object) -> Rep:
    updated = Rep.objects.filter(pk=rep.pk, status=rep.status).update(**changes)
    if updated != 1:
        raise ServiceError(ErrorCode.CONFLICT, f"{rep.name} changed meanwhile; try again", "rep")
    rep.refresh_from_db()
    return rep


def set_out_of_office(*, rep_id: int, start: date | None, end: date | None, actor: Actor, now: datetime) -> Rep:
    """Set the dates a rep is away (both inclusive), or clear them with neither date.

    Routing skips a rep whose dates cover today (routing.distribution.is_out_of_office),
    so nobody has to remember to switch them back: the dates do. Clearing the dates also
    ends an OUT_OF_OFFICE status set by reps.csv. A period must have a start, must not end
    before it starts or before today, and lasts at most a year.
    """
    rep = _rep_for_change(rep_id, actor)
    if start is None and end is None:
        status = RepStatus.ACTIVE if rep.status == RepStatus.OUT_OF_OFFICE else rep.status
        return _conditional_update(rep, out_of_office_from=None, out_of_office_until=None, status=status)
    if start is None:
        raise ServiceError(ErrorCode.INVALID, "give the first day away", "start")
    today = timezone.localdate(now)
    if end is not None and end < start:
        raise ServiceError(ErrorCode.INVALID, "the last day is before the first day", "end")
    if end is not None and end < today:
        raise ServiceError(ErrorCode.INVALID, "the last day is already past", "end")
    if end is not None and end - start > timedelta(days=MAX_OUT_OF_OFFICE_DAYS):
        raise ServiceError(ErrorCode.INVALID, f"at most {MAX_OUT_OF_OFFICE_DAYS} days at a time", "end")
    return _conditional_update(rep, out_of_office_from=start, out_of_office_until=end)


def set_capacity(*, rep_id: int, capacity: int | None, actor: Actor, now: datetime) -> Rep:
    """Set the most open leads a rep takes (None: no limit). Leads they already own stay theirs."""
    rep = _rep_for_change(rep_id, actor)
    if capacity is not None and (
        isinstance(capacity, bool) or not isinstance(capacity, int) or not 0 <= capacity <= MAX_CAPACITY
    ):
        raise ServiceError(ErrorCode.INVALID, f"capacity must be a whole number from 0 to {MAX_CAPACITY:,}", "capacity")
    return _conditional_update(rep, capacity=capacity)

"""A territory's distribution: who among its members gets the lead.

ROUND_ROBIN: the eligible member with the fewest leads relative to its weight (ties:
member position) gets it, and its counter goes up. The counters are durable rows
(DistributionCounter, keyed by territory *name* so fairness survives a new rule-set
version) and the choice is made holding a row lock on the territory's
DistributionLock, so concurrent leads never take the same slot. A member with no
counter yet starts at the current minimum, so joining a territory does not mean
receiving every lead until the newcomer has "caught up".

LOAD_BALANCED: the eligible member with the lowest open load relative to capacity.

CLAIM_QUEUE: nobody now; the lead waits unowned until a member claims it
(routing.services.leads.claim_lead, decided by the database).

Eligible means: not departed, not out of office (by status or dates), not at
capacity (current SALES ownership of leads in an open stage >= capacity), and not
excluded by the caller (a forfeit never goes back to the forfeiting rep).

The same code runs for real and for simulation: `DurableCounters` locks and writes
counter rows; `SimulatedCounters` reads the current counters once and counts in
memory, writing nothing.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from django.db import connection

from leadowner.bulk_sql import update_from_values
from leadowner.prepared import Prepared, PreparedIn, statement_cursor
from routing.selectors.loads import open_load_counts
from territories.models import (
    DistributionCounter,
    DistributionLock,
    DistributionMethod,
    Rep,
    RepStatus,
    Territory,
    TerritoryMember,
)


@dataclass(frozen=True)
class Pick:
    """What a territory's distribution decided. `rep` None: nobody now (see `queued`)."""

    rep: Rep | None
    line: str  # plain words for the trace: "round robin picked Ada (7 of 20 leads, weight 1)"
    queued: bool = False  # the lead waits in the territory's claim queue


def open_loads(rep_ids: Iterable[int]) -> dict[int, int]:
    """Open lead load per rep: current SALES ownership of leads in an open stage.

    One index-only scan of the reps' entries in ownership_open_leads_by_rep (the owner
    rows carry their lead's openness: Ownership.lead_open, kept by the database). The join
    of every current lead ownership to its lead's stage, which it replaces, was the
    costliest read of a routing decision: 4-7 ms for a territory of four reps at a million
    accounts.
    """
    ids = list(rep_ids)
    if not ids:
        return {}
    loads = dict.fromkeys(ids, 0)
    for rep_id, n in _OPEN_LOADS(ids):
        loads[rep_id] = n
    return loads


# Compiled once per number of reps asked (leadowner.prepared): every distributed lead asks it.
_OPEN_LOADS = PreparedIn(
    lambda ids: open_load_counts().filter(rep_id__in=ids),
    longest=128,
)


def is_out_of_office(rep: Rep, today: date) -> bool:
    if rep.status == RepStatus.OUT_OF_OFFICE:
        return True
    start, end = rep.out_of_office_from, rep.out_of_office_until
    if start is None and end is None:
        return False
    return (start is None or start <= today) and (end is None or today <= end)


def unavailable_reason(rep: Rep, *, today: date, excluded: Collection[int], load: int | None = None) -> str | None:
    """Why `rep` cannot take a new lead now, or None when it can."""
    return _unavailable(_standing(rep, today), excluded=excluded, load=load)


@dataclass(frozen=True)
class _Standing:
    """What decides whether a rep can take a lead, apart from the lead's exclusions and the
    rep's load: the same all day, so a batch works it out once per member (`_standings_of`)."""

    rep_id: int
    departed: bool
    out_of_office: str | None  # the words, when out of office today
    capacity: int | None


def _standing(rep: Rep, today: date) -> _Standing:
    away = None
    if is_out_of_office(rep, today):
        away = "out of office" + (f" until {rep.out_of_office_until.isoformat()}" if rep.out_of_office_until else "")
    return _Standing(rep.pk, rep.status == RepStatus.DEPARTED, away, rep.capacity)


def _unavailable(standing: _Standing, *, excluded: Collection[int], load: int | None) -> str | None:
    """The rule, in its order: departed, excluded from this routing, out of office, at capacity."""
    if standing.departed:
        return "departed"
    if standing.rep_id in excluded:
        return "excluded from this routing"
    if standing.out_of_office is not None:
        return standing.out_of_office
    if load is not None and standing.capacity is not None and load >= standing.capacity:
        return f"at capacity ({load} of {standing.capacity} open leads)"
    return None


def _with_newcomers(counts: dict[int, int], members: list[TerritoryMember]) -> dict[int, int]:
    """Counts for every member; a member without a counter starts at the current minimum."""
    known = [m for m in members if m.rep_id in counts]
    floor_ratio = min((Fraction(counts[m.rep_id], m.weight) for m in known), default=Fraction(0))
    out = dict(counts)
    for m in members:
        if m.rep_id not in out:
            out[m.rep_id] = math.floor(floor_ratio * m.weight)
    return out


class Counters(ABC):
    """Round-robin counters and open loads: read (and, for real routing, written) here only."""

    @abstractmethod
    def lock(self, territory_name: str) -> None:
        """Serialise choices within a territory until the caller's transaction ends."""

    @abstractmethod
    def round_robin_counts(self, territory_name: str, members: list[TerritoryMember]) -> dict[int, int]:
        """Leads given so far per member (newcomers at the current minimum)."""

    @abstractmethod
    def add_round_robin(self, territory_name: str, rep_id: int) -> None:
        """`rep_id` got the territory's next lead."""

    def open_loads(self, rep_ids: Iterable[int]) -> dict[int, int]:
        return open_loads(rep_ids)

    @abstractmethod
    def add_load(self, rep_id: int) -> None:
        """A lead was given to `rep_id` by any step (for later capacity and load checks)."""


_LOCK_TABLE = DistributionLock._meta.db_table
_COUNTER_TABLE = DistributionCounter._meta.db_table
_LOCK_SQL = f"SELECT id FROM {_LOCK_TABLE} WHERE territory_name = %s FOR UPDATE"  # noqa: S608
_MAKE_LOCK_SQL = f"INSERT INTO {_LOCK_TABLE} (territory_name) VALUES (%s) ON CONFLICT (territory_name) DO NOTHING"  # noqa: S608
_ADD_ROUND_ROBIN_SQL = f"UPDATE {_COUNTER_TABLE} SET assigned = assigned + 1 WHERE territory_name = %s AND rep_id = %s"  # noqa: S608
# A territory's round-robin counters for its members (compiled once per member count).
_COUNTERS = PreparedIn(
    lambda rep_ids, territory_name: DistributionCounter.objects.filter(
        rep_id__in=rep_ids, territory_name=territory_name
    ).values_list("rep_id", "assigned"),
    (str,),
    longest=64,
)


class DurableCounters(Counters):
    """Real routing: lock the territory's row, keep counters in the database."""

    def lock(self, territory_name: str) -> None:
        """The territory's lock row, locked; made first when missing. On PostgreSQL one statement
        when the row exists (every lead after a territory's first), written by hand: the ORM's
        get_or_create and select_for_update compiled two statements per routed lead."""
        if not connection.in_atomic_block:
            raise RuntimeError("distribution must run inside the routing transaction")
        if connection.vendor != "postgresql":
            DistributionLock.objects.get_or_create(territory_name=territory_name)
            DistributionLock.objects.select_for_update().get(territory_name=territory_name)
            return
        with statement_cursor() as cursor:
            cursor.execute(_LOCK_SQL, [territory_name])
            if cursor.fetchone() is None:
                cursor.execute(_MAKE_LOCK_SQL, [territory_name])
                cursor.execute(_LOCK_SQL, [territory_name])
                if cursor.fetchone() is None:  # cannot happen: the row was just made or already there
                    raise RuntimeError(f"no distribution lock row for {territory_name!r}")

    def round_robin_counts(self, territory_name: str, members: list[TerritoryMember]) -> dict[int, int]:
        counts = dict(_COUNTERS([m.rep_id for m in members], territory_name))
        full = _with_newcomers(counts, members)
        new = [
            DistributionCounter(territory_name=territory_name, rep_id=rep_id, assigned=n)
            for rep_id, n in full.items()
            if rep_id not in counts
        ]
        if new:
            DistributionCounter.objects.bulk_create(new)
        return full

    def add_round_robin(self, territory_name: str, rep_id: int) -> None:
        with statement_cursor() as cursor:
            cursor.execute(_ADD_ROUND_ROBIN_SQL, [territory_name, rep_id])

    def add_load(self, rep_id: int) -> None:
        """Nothing to keep: the owner row the caller writes is the load the next lead reads."""


class SimulatedCounters(Counters):
    """Dry runs: start from the current counters and loads, count in memory, write nothing."""

    def __init__(self) -> None:
        self._counts: dict[str, dict[int, int]] = {}
        self._load_delta: dict[int, int] = {}

    def lock(self, territory_name: str) -> None:
        """Nothing to lock: a dry run changes no shared state."""

    def round_robin_counts(self, territory_name: str, members: list[TerritoryMember]) -> dict[int, int]:
        known = self._counts.get(territory_name)
        if known is None:
            known = dict(
                DistributionCounter.objects.filter(territory_name=territory_name).values_list("rep_id", "assigned")
            )
        current = {m.rep_id: known[m.rep_id] for m in members if m.rep_id in known}
        known.update(_with_newcomers(current, members))
        self._counts[territory_name] = known
        return {m.rep_id: known[m.rep_id] for m in members}

    def add_round_robin(self, territory_name: str, rep_id: int) -> None:
        counts = self._counts.setdefault(territory_name, {})
        counts[rep_id] = counts.get(rep_id, 0) + 1

    def open_loads(self, rep_ids: Iterable[int]) -> dict[int, int]:
        loads = open_loads(rep_ids)
        return {rep_id: n + self._load_delta.get(rep_id, 0) for rep_id, n in loads.items()}

    def add_load(self, rep_id: int) -> None:
        self._load_delta[rep_id] = self._load_delta.get(rep_id, 0) + 1


def _members(territory: Territory) -> list[TerritoryMember]:
    """The territory's members in their order (position, id), with their reps.

    Uses the prefetch when the caller made one (prefetch_related("memberships__rep")); else
    one query for this territory's members and their reps (routing_territories loads none).
    The ordered list is kept on the instance beside the prefetch it came from, so a batch
    routing hundreds of leads with the same instances sorts once. The list is shared: not
    for changing."""
    prefetched = getattr(territory, "_prefetched_objects_cache", {}).get("memberships")
    if prefetched is None:
        keep_members(territory, _TERRITORY_MEMBERS(territory.pk))
        prefetched = territory._prefetched_objects_cache["memberships"]  # type: ignore[attr-defined]
    known = territory.__dict__.get(_ORDERED)
    if known is not None and known[0] is prefetched:  # the same prefetch (held here: never a reused id)
        return known[1]
    ordered = sorted(prefetched, key=lambda m: (m.position, m.pk))
    territory.__dict__[_ORDERED] = (prefetched, ordered)
    return ordered


_ORDERED = "_leadowner_ordered_members"


def keep_members(territory: Territory, members: list[TerritoryMember]) -> None:
    """Keep the territory's members (with their reps) on the instance, as prefetch_related
    keeps them: a batch of leads routed with the same Territory instances reads its members
    once (the forfeit sweep ran 2x slower without), while one-by-one routing builds fresh
    instances for every lead."""
    for member in members:
        member.territory = territory
    cached: Any = territory.memberships._apply_rel_filters(  # type: ignore[attr-defined]
        TerritoryMember.objects.select_related("rep")
    )  # the queryset prefetch_related(Prefetch(..., select_related("rep"))) keeps
    cached._result_cache, cached._prefetch_done = members, True
    prefetched = getattr(territory, "_prefetched_objects_cache", {})
    territory._prefetched_objects_cache = {**prefetched, "memberships": cached}  # type: ignore[attr-defined]


# A territory's members and their reps, compiled once (leadowner.prepared).
_TERRITORY_MEMBERS = Prepared(
    lambda territory_id: TerritoryMember.objects.select_related("rep").filter(territory_id=territory_id), (int,)
)


def load_decides(capacity: int | None, *, all_loads: bool) -> bool:
    """Whether distribution reads a member's open load: every member's when the method
    compares loads (`all_loads`: load balanced), else only a member with a capacity."""
    return all_loads or capacity is not None


def _standings_of(territory: Territory, members: list[TerritoryMember], today: date) -> list[_Standing]:
    """The standing of each of the territory's ordered members, kept on the instance beside them."""
    known = territory.__dict__.get(_STANDINGS)
    if known is not None and known[0] is members and known[1] == today:
        return known[2]
    standings = [_standing(m.rep, today) for m in members]
    territory.__dict__[_STANDINGS] = (members, today, standings)
    return standings


_STANDINGS = "_leadowner_member_standings"


def _eligible(
    members: list[TerritoryMember],
    standings: list[_Standing],
    *,
    excluded: Collection[int],
    counters: Counters,
    all_loads: bool,
) -> tuple[list[TerritoryMember], list[str], dict[int, int]]:
    """Who can take the lead, who cannot and why, and the open loads read.

    Loads are read for every member when the method compares them (`all_loads`), else only
    for members with a capacity: a rep without one is never "at capacity", and counting
    the open leads of a territory's members is the costliest read of a routing decision
    (a join over their every open lead). The reasons are unavailable_reason's (one rule,
    `_unavailable`); what does not depend on the lead is worked out once per member list and
    day (`_standings_of`).
    """
    loads = counters.open_loads([s.rep_id for s in standings if load_decides(s.capacity, all_loads=all_loads)])
    eligible, skipped = [], []
    for m, standing in zip(members, standings, strict=True):
        reason = _unavailable(standing, excluded=excluded, load=loads.get(standing.rep_id, 0))
        if reason is None:
            eligible.append(m)
        else:
            skipped.append(f"{m.rep.name} ({reason})")
    return eligible, skipped, loads


def _skipped_words(skipped: list[str]) -> str:
    return f"; skipped {', '.join(skipped)}" if skipped else ""


def distribute(territory: Territory, *, today: date, excluded: Collection[int] = (), counters: Counters) -> Pick:
    """Pick a member of `territory` for a new lead, by its distribution method."""
    members = _members(territory)
    method = territory.distribution
    label = DistributionMethod(method).label.lower()
    if not members:
        return Pick(rep=None, line=f"{label}: '{territory.name}' has no members")
    if method != DistributionMethod.CLAIM_QUEUE:
        counters.lock(territory.name)
    eligible, skipped, loads = _eligible(
        members,
        _standings_of(territory, members, today),
        excluded=excluded,
        counters=counters,
        all_loads=method == DistributionMethod.LOAD_BALANCED,
    )
    if not eligible:
        return Pick(rep=None, line=f"{label}: nobody in '{territory.name}' can take the lead: {', '.join(skipped)}")

    if method == DistributionMethod.CLAIM_QUEUE:
        names = ", ".join(m.rep.name for m in eligible)
        return Pick(
            rep=None,
            queued=True,
            line=f"claim queue: the lead waits unowned in '{territory.name}' until a member claims it ({names})"
            + _skipped_words(skipped),
        )

    if method == DistributionMethod.LOAD_BALANCED:
        biggest = max((m.rep.capacity for m in eligible if m.rep.capacity), default=1)

        def relative(m: TerritoryMember) -> tuple[Fraction, int, int]:
            capacity = m.rep.capacity or biggest  # no capacity set: as roomy as the roomiest colleague
            return (Fraction(loads.get(m.rep_id, 0), capacity), loads.get(m.rep_id, 0), m.position)

        chosen = min(eligible, key=relative)
        load = loads.get(chosen.rep_id, 0)
        capacity = f"capacity {chosen.rep.capacity}" if chosen.rep.capacity else "no capacity set"
        return Pick(
            rep=chosen.rep,
            line=f"load balanced picked {chosen.rep.name} ({load} open leads, {capacity}, the lightest)"
            + _skipped_words(skipped),
        )

    counts = counters.round_robin_counts(territory.name, members)
    # `eligible` keeps the members' order and min() returns the first of equals: between
    # equal counts the earlier member wins, as the members' order says.
    weight = eligible[0].weight
    if all(m.weight == weight for m in eligible):  # equal weights (the usual case): the counts order alike
        chosen = min(eligible, key=lambda m: counts[m.rep_id])
    else:
        chosen = min(eligible, key=lambda m: Fraction(counts[m.rep_id], m.weight))
    nth, total = counts[chosen.rep_id] + 1, sum(counts.values()) + 1  # before the counters move on
    counters.add_round_robin(territory.name, chosen.rep_id)
    return Pick(
        rep=chosen.rep,
        line=f"round robin picked {chosen.rep.name} ({nth} of {total} leads, weight {chosen.weight})"
        + _skipped_words(skipped),
    )


class BatchCounters(DurableCounters):
    """A batch of leads routed in one transaction (routing.services.batch_routing).

    Each territory is locked once (`lock_all` takes the batch's territories in name order
    before any lead is routed, so two batches never wait on each other in a cycle; a
    single lead locks only one territory). Round-robin counts and open loads are read
    once per territory and rep, advanced in memory as the batch's leads are given out,
    and the counters are written back by `flush` before the transaction commits: the
    same rotation as routing the leads one by one, in a few statements.
    """

    def __init__(self) -> None:
        self._locked: set[str] = set()
        self._stored: dict[str, dict[int, int]] = {}  # preload's counter rows, by territory name
        self._counts: dict[str, dict[int, int]] = {}
        self._checked: dict[str, list[TerritoryMember]] = {}  # the member list each count was checked for
        self._pending: Counter[tuple[str, int]] = Counter()
        self._loads: dict[int, int] = {}
        self._load_delta: Counter[int] = Counter()

    def lock_all(self, territory_names: Iterable[str]) -> None:
        """Lock these territories in name order, two statements however many: their rows made
        when missing, then SELECT ... ORDER BY name FOR UPDATE, which locks in that order."""
        if not connection.in_atomic_block:
            raise RuntimeError("distribution must run inside the routing transaction")
        wanted = sorted(set(territory_names) - self._locked)
        if not wanted:
            return
        DistributionLock.objects.bulk_create(
            [DistributionLock(territory_name=name) for name in wanted], ignore_conflicts=True
        )
        # The database's order (its collation), the same for every batch: no two wait in a cycle.
        list(
            DistributionLock.objects.select_for_update()
            .filter(territory_name__in=wanted)
            .order_by("territory_name")
            .values_list("pk", flat=True)
        )
        self._locked.update(wanted)

    def lock(self, territory_name: str) -> None:
        if territory_name in self._locked:
            return
        super().lock(territory_name)
        self._locked.add(territory_name)

    def preload(self, territories: Iterable[Territory]) -> None:
        """What distributing in these territories reads, for all of them at once (after
        `lock_all`): their members with their reps (kept on the instances), the open loads
        that decide, and the round-robin counters: three statements instead of three per
        territory."""
        by_id = {t.pk: t for t in territories}
        if not by_id:
            return
        members: dict[int, list[TerritoryMember]] = {pk: [] for pk in by_id}
        for member in TerritoryMember.objects.select_related("rep").filter(territory_id__any_of=list(by_id)):
            members[member.territory_id].append(member)
        for pk, territory in by_id.items():
            keep_members(territory, members[pk])
        # Only the loads that decide, as _eligible reads them. (Counting every member's open
        # leads is the costliest read of routing: at 1M owners ~1 s a batch for 50 busy reps.)
        rep_ids = {
            m.rep_id
            for pk, group in members.items()
            for m in group
            if load_decides(m.rep.capacity, all_loads=by_id[pk].distribution == DistributionMethod.LOAD_BALANCED)
        } - set(self._loads)
        self._loads.update(open_loads(sorted(rep_ids)))
        names = sorted({t.name for t in by_id.values()} - set(self._stored))
        self._stored.update({name: {} for name in names})
        for name, rep_id, assigned in DistributionCounter.objects.filter(territory_name__any_of=names).values_list(
            "territory_name", "rep_id", "assigned"
        ):
            self._stored[name][rep_id] = assigned

    def _stored_counts(self, territory_name: str, members: list[TerritoryMember]) -> dict[int, int]:
        """DurableCounters.round_robin_counts from the preloaded rows (newcomers written as there)."""
        stored = self._stored[territory_name]
        full = _with_newcomers({m.rep_id: stored[m.rep_id] for m in members if m.rep_id in stored}, members)
        new = {rep_id: n for rep_id, n in full.items() if rep_id not in stored}
        if new:
            DistributionCounter.objects.bulk_create(
                DistributionCounter(territory_name=territory_name, rep_id=rep_id, assigned=n)
                for rep_id, n in new.items()
            )
            stored.update(new)
        return full

    def round_robin_counts(self, territory_name: str, members: list[TerritoryMember]) -> dict[int, int]:
        """The members' counts. The dict may be the batch's own, which `add_round_robin`
        advances: read it before giving the lead out (distribute does)."""
        known = self._counts.get(territory_name)
        # A batch routes many leads with the same member list (kept on the territory): it is
        # checked against the counts once, not at every lead.
        if known is None or self._checked.get(territory_name) is not members:
            if known is None or any(m.rep_id not in known for m in members):
                if territory_name in self._stored:
                    fresh = self._stored_counts(territory_name, members)
                else:
                    fresh = super().round_robin_counts(territory_name, members)
                known = {rep_id: n + self._pending[(territory_name, rep_id)] for rep_id, n in fresh.items()}
                self._counts[territory_name] = known
            self._checked[territory_name] = members
        if len(known) == len(members):  # it holds every member, so nobody else
            return known
        return {m.rep_id: known[m.rep_id] for m in members}

    def add_round_robin(self, territory_name: str, rep_id: int) -> None:
        counts = self._counts.setdefault(territory_name, {})
        counts[rep_id] = counts.get(rep_id, 0) + 1
        self._pending[(territory_name, rep_id)] += 1

    def open_loads(self, rep_ids: Iterable[int]) -> dict[int, int]:
        ids = list(rep_ids)
        missing = [rep_id for rep_id in ids if rep_id not in self._loads]
        if missing:
            self._loads.update(open_loads(missing))
        return {rep_id: self._loads[rep_id] + self._load_delta[rep_id] for rep_id in ids}

    def add_load(self, rep_id: int, n: int = 1) -> None:
        """`rep_id` got (n > 0) or lost (n < 0) an open lead in this batch, not yet written."""
        self._load_delta[rep_id] += n

    def flush(self) -> None:
        """Write the counters the batch advanced: one UPDATE for all (on PostgreSQL)."""
        update_from_values(
            DistributionCounter,
            key=["territory_name", "rep"],
            fields=["assigned"],
            rows=[(name, rep_id, n) for (name, rep_id), n in sorted(self._pending.items())],
            increment=True,
        )
        self._pending.clear()

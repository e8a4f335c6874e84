"""Placing records moved in bulk (a departure, a rebalancing) with their territory's members.

Routing distributes one lead at a time under a territory lock (routing.distribution).
Moving ten thousand accounts cannot take ten thousand locked round-robin turns, so a
bulk move places records in memory: the territory is found by the same hard criteria
(territories.matching.find_territory on the account's facts), and among the members who
can take work (not departed, not out of office, not excluded: the same rules as
routing) the one with the least load relative to its weight gets the record, ties by
member position. Loads start from the database and count every placement, so a batch
spreads evenly. Claim-queue territories place nobody: the record waits to be claimed.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable, Collection, Iterable
from datetime import date

from routing.distribution import unavailable_reason
from routing.models import Account
from territories.matching import Facts, TerritoryIndex, find_territory
from territories.models import DistributionMethod, Rep, Territory, TerritoryMember

LoadFunction = Callable[[list[int]], dict[int, int]]
_CandidateKey = tuple[Territory, tuple[str, ...] | None]
# (load / weight, position, member id, the load it was pushed with, the member)
_HeapEntry = tuple[float, int, int, int, TerritoryMember]


# The account's fields account_facts reads: a Facts field each, of the same name.
FACT_FIELDS = tuple(f.name for f in dataclasses.fields(Facts))


def account_facts(account: Account) -> Facts:
    return Facts(
        country=account.country,
        subdivision=account.subdivision,
        city=account.city,
        postal_code=account.postal_code,
        industry=account.industry,
        employees=account.employees,
        annual_revenue=account.annual_revenue,
    )


class Placer:
    """In-memory least-load placement within territories (see the module docstring)."""

    def __init__(
        self,
        *,
        territories: list[Territory],
        today: date,
        load_of: LoadFunction,
        exclude_rep_ids: Collection[int] = (),
    ) -> None:
        self.territories = territories
        self.by_id = {t.pk: t for t in territories}
        self.today = today
        self.load_of = load_of
        self.excluded = frozenset(exclude_rep_ids)
        self.loads: dict[int, int] = {}
        self._territory_cache: dict[Facts, Territory | None] = {}
        # Chains, compiled criteria and specificity worked out once, and per country only the
        # territories that can take it (a departure preview checked all 100 for every account).
        self._index = TerritoryIndex(self.territories)
        # Who can take work does not change during one bulk move: computed once per territory and roles.
        # Per territory id and roles (None: any role).
        self._candidates: dict[int, dict[tuple[str, ...] | None, list[TerritoryMember]]] = {}
        self._heaps: dict[int, dict[tuple[str, ...] | None, list[_HeapEntry]]] = {}

    def territory_for(self, facts: Facts) -> Territory | None:
        if facts not in self._territory_cache:
            self._territory_cache[facts] = (
                find_territory(self.territories, facts, explain=False, index=self._index).territory
                if self.territories
                else None
            )
        return self._territory_cache[facts]

    def chain(self, territory: Territory) -> list[Territory]:
        """The territory, then its parents (the loaded instances, with their members)."""
        out: list[Territory] = []
        seen: set[int] = set()
        current: Territory | None = territory
        while current is not None and current.pk not in seen:
            out.append(self.by_id.get(current.pk, current))
            seen.add(current.pk)
            current = self.by_id.get(current.parent_id) if current.parent_id is not None else None
        return out

    def _members(self, territory: Territory) -> list[TerritoryMember]:
        return sorted(territory.memberships.all(), key=lambda m: (m.position, m.pk))

    def _ensure_loads(self, rep_ids: Iterable[int]) -> None:
        missing = [pk for pk in rep_ids if pk not in self.loads]
        if missing:
            found = self.load_of(missing)
            for pk in missing:
                self.loads[pk] = found.get(pk, 0)

    def candidates(self, territory: Territory, *, roles: Collection[str] | None = None) -> list[TerritoryMember]:
        return self._candidates_at(self._key(territory, roles))

    @staticmethod
    def _key(territory: Territory, roles: Collection[str] | None) -> _CandidateKey:
        return (territory, tuple(sorted(roles)) if roles is not None else None)

    def _candidates_at(self, key: _CandidateKey) -> list[TerritoryMember]:
        found = self._candidates.get(key[0].pk, {}).get(key[1])
        if found is None:
            territory, roles = key
            found = [
                m
                for m in self._members(territory)
                if unavailable_reason(m.rep, today=self.today, excluded=self.excluded) is None
                and (roles is None or m.rep.role in roles)
            ]
            self._candidates.setdefault(territory.pk, {})[roles] = found
        return found

    def _lightest(self, key: _CandidateKey) -> TerritoryMember | None:
        """The member of the candidates at `key` with the least load relative to weight (ties: position, id),
        counted one more.

        A heap per candidate list, popped lazily: a member's entry holds the load it was
        pushed with, loads only grow between releases, so an entry whose load is still
        current is the true minimum; a stale one is pushed again with its load now. A
        release (a load going down) drops every heap, rebuilt when next used.
        """
        heap = self._heaps.get(key[0].pk, {}).get(key[1])
        loads = self.loads
        if heap is None:
            members = self._candidates_at(key)
            if not members:
                return None
            self._ensure_loads(m.rep_id for m in members)
            heap = [(loads[m.rep_id] / m.weight, m.position, m.pk, loads[m.rep_id], m) for m in members]
            heapq.heapify(heap)
            self._heaps.setdefault(key[0].pk, {})[key[1]] = heap
        while True:
            _ratio, position, pk, pushed, member = heap[0]
            now = loads[member.rep_id]
            if pushed == now:
                loads[member.rep_id] = now + 1
                heapq.heapreplace(heap, ((now + 1) / member.weight, position, pk, now + 1, member))
                return member
            heapq.heapreplace(heap, (now / member.weight, position, pk, now, member))

    def pick(self, territory: Territory, *, roles: Collection[str] | None = None) -> Rep | None:
        """The least-loaded available member (of `roles`, when given); None in a claim queue or when nobody can."""
        if territory.distribution == DistributionMethod.CLAIM_QUEUE:
            return None
        chosen = self._lightest(self._key(territory, roles))
        return chosen.rep if chosen is not None else None

    def pick_in_chain(self, territory: Territory, *, roles: Collection[str]) -> tuple[Rep, Territory] | None:
        """A member of `roles` in the territory, else in its nearest parent that has one."""
        for level in self.chain(territory):
            chosen = self._lightest(self._key(level, roles))
            if chosen is not None:
                return chosen.rep, level
        return None

    def load(self, rep_id: int) -> int:
        """`rep_id`'s load as counted so far: the database's, plus the placements and releases of this move."""
        self._ensure_loads([rep_id])
        return self.loads[rep_id]

    def release(self, rep_id: int) -> None:
        """A record left `rep_id` (a rebalancing move): its load goes down (the heaps are rebuilt when next used)."""
        self._ensure_loads([rep_id])
        self.loads[rep_id] -= 1
        self._heaps.clear()

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

from collections.abc import Callable, Collection, Iterable
from datetime import date

from routing.distribution import unavailable_reason
from routing.models import Account
from territories.matching import Facts, TerritoryIndex, find_territory
from territories.models import DistributionMethod, Rep, Territory, TerritoryMember

LoadFunction = Callable[[list[int]], dict[int, int]]


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
        self._candidates: dict[tuple[int, tuple[str, ...] | None], list[TerritoryMember]] = {}

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
        key = (territory.pk, tuple(sorted(roles)) if roles is not None else None)
        found = self._candidates.get(key)
        if found is None:
            found = [
                m
                for m in self._members(territory)
                if unavailable_reason(m.rep, today=self.today, excluded=self.excluded) is None
                and (roles is None or m.rep.role in roles)
            ]
            self._candidates[key] = found
        return found

    def _lightest(self, members: list[TerritoryMember]) -> TerritoryMember:
        self._ensure_loads(m.rep_id for m in members)
        loads = self.loads
        # Load relative to weight; ties go to the earlier member (position, then id).
        chosen = min(members, key=lambda m: (loads[m.rep_id] / m.weight, m.position, m.pk))
        loads[chosen.rep_id] += 1
        return chosen

    def pick(self, territory: Territory, *, roles: Collection[str] | None = None) -> Rep | None:
        """The least-loaded available member (of `roles`, when given); None in a claim queue or when nobody can."""
        if territory.distribution == DistributionMethod.CLAIM_QUEUE:
            return None
        members = self.candidates(territory, roles=roles)
        if not members:
            return None
        return self._lightest(members).rep

    def pick_in_chain(self, territory: Territory, *, roles: Collection[str]) -> tuple[Rep, Territory] | None:
        """A member of `roles` in the territory, else in its nearest parent that has one."""
        for level in self.chain(territory):
            members = self.candidates(level, roles=roles)
            if members:
                return self._lightest(members).rep, level
        return None

    def load(self, rep_id: int) -> int:
        """`rep_id`'s load as counted so far: the database's, plus the placements and releases of this move."""
        self._ensure_loads([rep_id])
        return self.loads[rep_id]

    def release(self, rep_id: int) -> None:
        """A record left `rep_id` (a rebalancing move): its load goes down."""
        self._ensure_loads([rep_id])
        self.loads[rep_id] -= 1

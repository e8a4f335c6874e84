"""A rule set's territories as routing reads them, kept per process for a published map.

`routing_territories`: fresh instances a caller may keep members on (the batch router
shares them across one batch); `rule_set_territories`: the same with their members loaded
(bulk placement, rebalancing, simulation). `one_lead_territories`: what routing one lead reads, the
process's SharedTerritories of a published map, of which only the chosen territory is
copied. A draft is read from the database every time.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from typing import Any

from routing.distribution import keep_members
from territories.matching import TerritoryChoice, TerritoryIndex, compile_criteria, keep_compiled
from territories.models import RuleSet, RuleSetStatus, Territory, TerritoryMember

# The territories of a rule set that is no longer a draft never change (drafts are edited in
# place; publishing routes with the rule set as it is, a later map is a new version). Each
# process keeps their column values, read once, keyed by the rule set's id, version and
# creation time (a test database reusing an id gets a new key). Members and their reps are
# not part of it: distribution reads them for the one territory it distributes in, fresh (rep
# status, capacity and absences change at any time). Profiled at 100 territories: 36 ms per
# lead for the prefetch of territories, members and reps it replaced, 1-2 ms from these values.
_TERRITORY_FIELDS = ("id", "rule_set_id", "name", "parent_id", "priority", "distribution", "criteria", "position")


class _FrozenMap:
    """One published rule set's territories as read once: rows (criteria as JSON text, so no
    instance built from them shares a dict), compiled criteria, and the shared map for routing."""

    def __init__(self, values: list[tuple[Any, ...]]) -> None:
        self.rows = [(*row[:6], json.dumps(row[6]), row[7]) for row in values]
        self.row_by_id = {row[0]: row for row in self.rows}
        # CompiledCriteria is immutable, so sharing it is safe.
        self.compiled = {row[0]: compile_criteria(row[6]) for row in values}
        self._shared: SharedTerritories | None = None

    def build(self, row: tuple[Any, ...]) -> Territory:
        """A fresh instance of one row, as the ORM builds it."""
        territory = Territory.from_db("default", _TERRITORY_FIELDS, (*row[:6], json.loads(row[6]), row[7]))
        keep_compiled(territory, self.compiled[territory.pk])
        return territory

    def fresh(self) -> list[Territory]:
        territories = [self.build(row) for row in self.rows]
        _link_parents(territories)
        return territories

    def shared(self) -> SharedTerritories:
        if self._shared is None:
            self._shared = SharedTerritories(self)
        return self._shared


def _link_parents(territories: list[Territory]) -> None:
    by_id = {t.pk: t for t in territories}
    for t in territories:
        if t.parent_id is not None and t.parent_id in by_id:
            t.parent = by_id[t.parent_id]


class SharedTerritories(list[Territory]):
    """A published map's territories shared by every lead one process routes one at a time,
    with their TerritoryIndex: read, never changed. Routing one lead built all 100 instances
    anew (~0.7 ms of ~12 ms of Python per submitLead); now it builds the chosen territory and
    its parents (`fresh_choice`, which routing.hierarchy's territory step calls), the instances
    distribution keeps the members on."""

    def __init__(self, frozen: _FrozenMap) -> None:
        super().__init__(frozen.fresh())
        self._frozen = frozen
        self.territory_index = TerritoryIndex(self)

    def fresh_choice(self, choice: TerritoryChoice) -> TerritoryChoice:
        """The choice with a fresh instance of the winner (and of its parents) in place of the shared one."""
        if choice.territory is None:
            return choice
        chain: list[Territory] = []
        pk: int | None = choice.territory.pk
        while pk is not None and pk in self._frozen.row_by_id and len(chain) <= len(self):
            chain.append(self._frozen.build(self._frozen.row_by_id[pk]))
            pk = chain[-1].parent_id
        for child, parent in itertools.pairwise(chain):
            child.parent = parent
        return replace(choice, territory=chain[0])


_frozen_territories: dict[tuple[int, int, object], _FrozenMap] = {}


def _frozen_map(rule_set: RuleSet) -> _FrozenMap:
    key = (rule_set.pk, rule_set.version, rule_set.created_at)
    frozen = _frozen_territories.get(key)
    if frozen is None:
        values = list(
            Territory.objects.filter(rule_set=rule_set).order_by("position", "name").values_list(*_TERRITORY_FIELDS)
        )
        frozen = _FrozenMap(values)
        if len(_frozen_territories) > 16:
            _frozen_territories.clear()
        _frozen_territories[key] = frozen
    return frozen


def routing_territories(rule_set: RuleSet | None) -> list[Territory]:
    """The rule set's territories (parents set, members not loaded), fresh instances the caller
    may keep members on (the batch router shares them across its batch)."""
    if rule_set is None:
        return []
    if rule_set.status == RuleSetStatus.DRAFT:
        return _draft_territories(rule_set)
    return _frozen_map(rule_set).fresh()


def _draft_territories(rule_set: RuleSet) -> list[Territory]:
    return list(Territory.objects.filter(rule_set=rule_set).select_related("parent").order_by("position", "name"))


def one_lead_territories(rule_set: RuleSet | None) -> list[Territory]:
    """The territories routing one lead reads: a published map's SharedTerritories (see there);
    a draft's, fresh from the database."""
    if rule_set is None:
        return []
    if rule_set.status == RuleSetStatus.DRAFT:
        return _draft_territories(rule_set)
    return _frozen_map(rule_set).shared()


def rule_set_territories(rule_set: RuleSet | None) -> list[Territory]:
    """The rule set's territories (fresh instances, parents set) with their members (in
    their model order) and the members' reps, kept on them as prefetch_related keeps them:
    every read distribution and bulk placement need. A published map's territories come
    from the process's copy (routing.territory_map), the members from one query: a prefetch
    of territories, members and reps took ~40 ms of a departure preview at 100 territories."""
    if rule_set is None:
        return []
    territories = routing_territories(rule_set)
    members: dict[int, list[TerritoryMember]] = {t.pk: [] for t in territories}
    for member in TerritoryMember.objects.select_related("rep").filter(territory__rule_set=rule_set):
        members[member.territory_id].append(member)
    for territory in territories:
        keep_members(territory, members[territory.pk])
    return territories

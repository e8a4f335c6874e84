"""routing.placement.Placer: bulk placement picks, one after another, exactly the member the
plain rule names (least load relative to weight, ties by position then id), though it keeps
a heap per candidate list instead of scanning every member for every record."""

from __future__ import annotations

import random
from datetime import date

import pytest

from routing.placement import Placer
from routing.territory_map import rule_set_territories
from territories.models import DistributionMethod, TerritoryMember
from tests.factories import RepFactory, RuleSetFactory, TerritoryFactory, TerritoryMemberFactory

pytestmark = pytest.mark.django_db
TODAY = date(2026, 3, 2)


def _plain_pick(members: list[TerritoryMember], loads: dict[int, int]) -> TerritoryMember:
    return min(members, key=lambda m: (loads[m.rep_id] / m.weight, m.position, m.pk))


def test_picks_match_the_plain_minimum_through_shared_reps_and_releases() -> None:
    rule_set = RuleSetFactory()
    parent = TerritoryFactory(rule_set=rule_set, name="Americas")
    child = TerritoryFactory(rule_set=rule_set, name="US", parent=parent)
    reps = [RepFactory(role="AE" if i % 3 else "ACCOUNT_MANAGER") for i in range(9)]
    # Reps 0-5 in the child, 3-8 in the parent: a placement in one moves the other's minimum.
    for position, rep in enumerate(reps[:6]):
        TerritoryMemberFactory(territory=child, rep=rep, position=position % 4, weight=1 + position % 3)
    for position, rep in enumerate(reps[3:]):
        TerritoryMemberFactory(territory=parent, rep=rep, position=position, weight=1 + position % 2)
    start = {rep.pk: random.Random(rep.pk).randrange(0, 6) for rep in reps}
    territories = {t.name: t for t in rule_set_territories(rule_set)}
    placer = Placer(territories=list(territories.values()), today=TODAY, load_of=lambda ids: dict(start))
    loads = dict(start)
    rng = random.Random(7)
    for _ in range(400):
        territory = territories[rng.choice(["US", "Americas"])]
        roles = rng.choice([None, ("AE",), ("ACCOUNT_MANAGER",)])
        if rng.random() < 0.1:  # a rebalancing move takes a record away from a rep
            rep_id = rng.choice(reps).pk
            placer.release(rep_id)
            loads[rep_id] -= 1
            continue
        members = [m for m in territory.memberships.all() if roles is None or m.rep.role in roles]
        members.sort(key=lambda m: (m.position, m.pk))
        chosen = placer.pick(territory, roles=roles)
        if not members:
            assert chosen is None
            continue
        expected = _plain_pick(members, loads)
        assert chosen is not None and chosen.pk == expected.rep_id, (territory.name, roles, loads)
        loads[expected.rep_id] += 1
    assert {pk: placer.load(pk) for pk in loads} == loads


def test_nobody_available_and_claim_queues_place_nobody() -> None:
    rule_set = RuleSetFactory()
    queue = TerritoryFactory(rule_set=rule_set, name="Queue", distribution=DistributionMethod.CLAIM_QUEUE)
    empty = TerritoryFactory(rule_set=rule_set, name="Gone")
    TerritoryMemberFactory(territory=queue, rep=RepFactory())
    TerritoryMemberFactory(territory=empty, rep=RepFactory(status="DEPARTED"))
    excluded = RepFactory()
    TerritoryMemberFactory(territory=empty, rep=excluded)
    territories = {t.name: t for t in rule_set_territories(rule_set)}
    placer = Placer(
        territories=list(territories.values()), today=TODAY, load_of=lambda ids: {}, exclude_rep_ids={excluded.pk}
    )
    assert placer.pick(territories["Queue"]) is None
    assert placer.pick(territories["Gone"]) is None
    assert placer.pick_in_chain(territories["Gone"], roles=("AE",)) is None

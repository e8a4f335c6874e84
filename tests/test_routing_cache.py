"""Routing keeps the published territory map per process, never the reps: what bench/ profiles led to.

The territories of a rule set that is no longer a draft do not change, so routing reads
them once per process (routing.territory_map); members and their reps are
read fresh for the territory a lead is distributed in, so absences, departures and
capacity count at once.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadowner.actors import Actor
from routing.models import Ownership
from routing.services.leads import LeadData, submit_lead
from routing.territory_map import routing_territories
from territories.models import Rep, RuleSet, RuleSetStatus, Territory
from tests.factories import RepFactory, RuleSetFactory, TerritoryFactory, TerritoryMemberFactory

SYSTEM = Actor.system_actor("test")


def _published_map(*rep_names: str) -> RuleSet:
    rule_set = RuleSetFactory(status=RuleSetStatus.PUBLISHED)
    us = TerritoryFactory(rule_set=rule_set, name="US", criteria={"countries": ["US"]})
    TerritoryFactory(rule_set=rule_set, name="US East", criteria={"subdivisions": ["US-NY"]}, parent=us)
    for name in rep_names:
        TerritoryMemberFactory(territory=us, rep=RepFactory(name=name))
    return rule_set


def _owner_of(email: str, now: datetime) -> str:
    lead, _decision = submit_lead(data=LeadData(email=email, country="US"), actor=SYSTEM, now=now)
    return Ownership.objects.get(lead=lead, ended_at__isnull=True).rep.name


@pytest.mark.django_db
def test_a_rep_out_of_office_gets_no_lead_although_the_territories_are_kept(now: datetime) -> None:
    _published_map("Ada", "Bo")
    first = _owner_of("one@prospect.example", now)
    away = "Ada" if first == "Ada" else "Bo"
    Rep.objects.filter(name=away).update(status="OUT_OF_OFFICE")
    owners = {_owner_of(f"lead{i}@prospect.example", now) for i in range(3)}
    assert owners == {"Bo" if away == "Ada" else "Ada"}


@pytest.mark.django_db
def test_the_published_map_is_read_once_per_process_and_members_every_time(now: datetime) -> None:
    _published_map("Ada")
    _owner_of("first@prospect.example", now)
    with CaptureQueriesContext(connection) as queries:
        assert _owner_of("second@prospect.example", now) == "Ada"
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    assert 'FROM "territories_territory"' not in tables
    assert 'FROM "territories_territorymember"' in tables


@pytest.mark.django_db
def test_a_newly_published_map_routes_the_next_lead(now: datetime) -> None:
    old = _published_map("Ada")
    assert _owner_of("before@prospect.example", now) == "Ada"
    RuleSet.objects.filter(pk=old.pk).update(status=RuleSetStatus.ARCHIVED)
    _published_map("Cy")
    assert _owner_of("after@prospect.example", now) == "Cy"


@pytest.mark.django_db
def test_a_draft_is_read_from_the_database_every_time() -> None:
    draft = RuleSetFactory(status=RuleSetStatus.DRAFT)
    TerritoryFactory(rule_set=draft, name="Before")
    assert [t.name for t in routing_territories(draft)] == ["Before"]
    TerritoryFactory(rule_set=draft, name="Added")
    assert sorted(t.name for t in routing_territories(draft)) == ["Added", "Before"]


@pytest.mark.django_db
def test_territories_handed_out_are_fresh_instances_with_their_parents() -> None:
    rule_set = _published_map()
    first, second = routing_territories(rule_set), routing_territories(rule_set)
    assert [t.name for t in first] == [t.name for t in second]
    assert all(a is not b for a, b in zip(first, second, strict=True))
    east = next(t for t in second if t.name == "US East")
    assert east.parent is not None and east.parent.name == "US"
    east.criteria["countries"] = ["FR"]  # a caller changing its copy changes nobody else's
    assert next(t for t in routing_territories(rule_set) if t.name == "US East").criteria == {"subdivisions": ["US-NY"]}


@pytest.mark.django_db
def test_one_lead_routing_shares_the_map_and_copies_only_the_chosen_territory(now: datetime) -> None:
    """Routing one lead reads the process's shared territories (SharedTerritories) and
    distributes in a fresh copy of the one it chose, with fresh parents: the members
    distribution keeps on that copy never reach the shared map, nor the next lead."""
    from routing.engine import run
    from routing.enrich import clean_lead
    from routing.territory_map import SharedTerritories, one_lead_territories

    rule_set = _published_map("Ada")
    east = Territory.objects.get(rule_set=rule_set, name="US East")
    TerritoryMemberFactory(territory=east, rep=RepFactory(name="Eve"))
    shared = one_lead_territories(rule_set)
    assert isinstance(shared, SharedTerritories) and one_lead_territories(rule_set) is shared

    lead = clean_lead(LeadData(email="ny@prospect.example", country="US", subdivision="US-NY"), now=now)
    first = run(lead=lead, rule_set=rule_set, now=now).choice
    second = run(lead=lead, rule_set=rule_set, now=now).choice
    assert first.rep is not None and first.rep.name == "Eve"
    assert first.territory is not None and second.territory is not None
    parent = first.territory.parent
    assert first.territory.name == "US East" and parent is not None and parent.name == "US"
    assert first.territory is not second.territory
    assert all(first.territory is not t and parent is not t for t in shared)
    assert "memberships" in getattr(first.territory, "_prefetched_objects_cache", {})  # kept on the copy
    assert not any(getattr(t, "_prefetched_objects_cache", {}) for t in shared)  # never on the map

"""simulateRouting: the same decision code as submitLead, on the published or a draft rule set, writing nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadowner.actors import Actor
from leadowner.errors import ServiceErrors
from routing.services.leads import LeadData, simulate_routing, submit_lead
from territories.models import DistributionCounter, Rep, RuleSet, Territory
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    LeadFactory,
    OwnershipFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system_actor("test")
WRITES = ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "TRUNCATE", "REPLACE")


def _snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the project and Django keep, in primary-key order."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values_list())
        for model in apps.get_models(include_auto_created=True)
    }


def _territory(rule_set: RuleSet, name: str = "US", method: str = "ROUND_ROBIN", **criteria: Any) -> Territory:
    return TerritoryFactory(
        rule_set=rule_set, name=name, criteria=criteria or {"countries": ["US"]}, distribution=method
    )


def _members(territory: Territory, *names: str, **rep: Any) -> list[Rep]:
    return [
        TerritoryMemberFactory(territory=territory, rep=RepFactory(name=name, **rep), position=i).rep
        for i, name in enumerate(names)
    ]


def _lead(i: int, **fields: Any) -> LeadData:
    fields.setdefault("country", "US")
    return LeadData(email=f"person{i}@prospect{i}.example", **fields)


def _owner_ids(decisions: list) -> list[int | None]:
    return [d.owner.rep_id if d.owner else None for d in decisions]


def test_simulation_writes_nothing_in_any_table(now: datetime) -> None:
    rs = RuleSetFactory(status="PUBLISHED")
    ada, bo = _members(_territory(rs), "Ada", "Bo")
    _members(_territory(rs, "Canada", "CLAIM_QUEUE", countries=["CA"]), "Cy")
    for rep, n in ((ada, 5), (bo, 4)):
        DistributionCounter.objects.create(territory_name="US", rep=rep, assigned=n)
    acme = AccountFactory(name="Acme", domains=["acme.com"], country="US")
    OwnershipFactory(account=acme, rep=RepFactory(name="Named"), reason="NAMED_ACCOUNT")
    ActivityFactory(account=AccountFactory(name="Busy", domains=["busy.com"]), rep=ada, occurred_at=now)
    LeadFactory(email="dup@prospect.example", received_at=now - timedelta(minutes=5), decision=None)
    batch = [
        _lead(1),
        _lead(2, company="Acme Inc."),
        LeadData(email="cfo@busy.com"),
        _lead(3, country="Canada"),
        _lead(4, country="Israel"),
        LeadData(email="dup@prospect.example", country="US"),
        _lead(1),
    ]
    before = _snapshot()
    with CaptureQueriesContext(connection) as queries:
        decisions = simulate_routing(leads=batch, rule_set=None, now=now)
    after = _snapshot()

    assert [d.step for d in decisions] == [
        "TERRITORY",
        "NAMED_ACCOUNT",
        "RECENT_ENGAGEMENT",
        "TERRITORY",
        "UNASSIGNED",
        "UNASSIGNED",
        "TERRITORY",
    ]
    assert decisions[0].owner is not None and decisions[0].owner.rep_id == bo.pk
    assert decisions[3].owner is None  # waits in the Canada claim queue
    assert decisions[5].trace[-1].startswith("duplicate: dup@prospect.example was already submitted 5 minutes apart")
    assert (
        decisions[6].trace[-1]
        == "duplicate: person1@prospect1.example appears earlier in this batch; it would attach to that lead"
    )
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]
    assert writes == []
    assert after == before


def test_simulated_round_robin_continues_from_the_current_counters_in_memory(now: datetime) -> None:
    rs = RuleSetFactory(status="PUBLISHED")
    ada, bo = _members(_territory(rs), "Ada", "Bo")
    DistributionCounter.objects.create(territory_name="US", rep=ada, assigned=5)
    DistributionCounter.objects.create(territory_name="US", rep=bo, assigned=4)
    decisions = simulate_routing(leads=[_lead(i) for i in range(3)], rule_set=None, now=now)
    assert _owner_ids(decisions) == [bo.pk, ada.pk, bo.pk]
    assert "round robin picked Bo (5 of 10 leads, weight 1)" in decisions[0].trace[-1]
    assert dict(DistributionCounter.objects.values_list("rep_id", "assigned")) == {ada.pk: 5, bo.pk: 4}
    assert "simulation: nothing is written" in decisions[0].trace


def test_simulated_capacity_counts_the_leads_given_earlier_in_the_batch(now: datetime) -> None:
    rs = RuleSetFactory(status="PUBLISHED")
    territory = _territory(rs)
    small = TerritoryMemberFactory(territory=territory, rep=RepFactory(name="Small", capacity=1), position=0).rep
    roomy = TerritoryMemberFactory(territory=territory, rep=RepFactory(name="Roomy", capacity=5), position=1).rep
    decisions = simulate_routing(leads=[_lead(i) for i in range(3)], rule_set=None, now=now)
    assert _owner_ids(decisions) == [small.pk, roomy.pk, roomy.pk]
    assert "skipped Small (at capacity (1 of 1 open leads))" in decisions[2].trace[-1]


def test_simulation_decides_exactly_what_submitting_then_does(now: datetime) -> None:
    rs = RuleSetFactory(status="PUBLISHED")
    _members(_territory(rs), "Ada", "Bo", "Cy")
    east = _territory(rs, "US East", subdivisions=["US-NY"])
    _members(east, "Eve")
    acme = AccountFactory(name="Acme", domains=["acme.com"], subdivision="US-NY")
    OwnershipFactory(account=acme, rep=RepFactory(name="Named"), reason="NAMED_ACCOUNT")
    batch = [_lead(1), _lead(2, subdivision="NY"), LeadData(email="x@acme.com"), _lead(3), _lead(4)]
    simulated = simulate_routing(leads=batch, rule_set=None, now=now)
    submitted = [submit_lead(data=data, actor=SYSTEM, now=now)[1] for data in batch]
    assert [(d.step, d.owner, d.territory_id) for d in simulated] == [
        (d.step, d.owner, d.territory_id) for d in submitted
    ]


def test_a_draft_rule_set_can_be_simulated_before_it_is_published(now: datetime) -> None:
    published = RuleSetFactory(status="PUBLISHED")
    [uma] = _members(_territory(published), "Uma")
    draft = RuleSetFactory(status="DRAFT")
    [zed] = _members(_territory(draft, "US West", subdivisions=["US-CA"]), "Zed")
    lead = _lead(1, subdivision="CA")
    [under_draft] = simulate_routing(leads=[lead], rule_set=draft, now=now)
    [under_published] = simulate_routing(leads=[lead], rule_set=None, now=now)
    assert (under_draft.owner.rep_id, under_draft.rule_set_version) == (zed.pk, draft.version)
    assert (under_published.owner.rep_id, under_published.rule_set_version) == (uma.pk, published.version)
    assert f"rule set: version {draft.version} (draft)" in under_draft.trace


def test_invalid_leads_in_a_simulation_are_reported_by_their_position(now: datetime) -> None:
    RuleSetFactory(status="PUBLISHED")
    with pytest.raises(ServiceErrors) as caught:
        simulate_routing(leads=[_lead(0), LeadData(email="nope"), _lead(2, employees=-5)], rule_set=None, now=now)
    assert [e.field for e in caught.value.errors] == ["leads.1.email", "leads.2.employees"]

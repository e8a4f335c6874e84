"""A territory's distribution: fair round robin, weights, skipped reps, load balancing, claim queues."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from django.db import connection

from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from routing.models import Ownership
from routing.services.leads import LeadData, claim_lead, submit_lead
from territories.models import DistributionCounter, Territory
from tests.factories import (
    LeadFactory,
    OwnershipFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)

SYSTEM = Actor.system_actor("test")


def _territory(method: str = "ROUND_ROBIN", **kwargs: object) -> Territory:
    rule_set = RuleSetFactory(status="PUBLISHED")
    return TerritoryFactory(rule_set=rule_set, name="US", criteria={"countries": ["US"]}, distribution=method, **kwargs)


def _member(territory: Territory, position: int, weight: int = 1, **rep: object) -> object:
    return TerritoryMemberFactory(territory=territory, rep=RepFactory(**rep), position=position, weight=weight)


def _submit(n: int, now: datetime, prefix: str = "lead") -> list:
    return [
        submit_lead(data=LeadData(email=f"{prefix}{i}@free{i}.example", country="US"), actor=SYSTEM, now=now)
        for i in range(n)
    ]


def _owners(results: list) -> Counter:
    return Counter(d.owner.rep_id if d.owner else None for _, d in results)


@pytest.mark.django_db
def test_round_robin_takes_turns_in_member_order(now: datetime) -> None:
    territory = _territory()
    ada = _member(territory, 0, name="Ada").rep
    bo = _member(territory, 1, name="Bo").rep
    results = _submit(4, now)
    assert [d.owner.rep_id for _, d in results] == [ada.pk, bo.pk, ada.pk, bo.pk]
    assert (
        results[2][1].trace[-1]
        == "territory: 'US' matched on country US; round robin picked Ada (2 of 3 leads, weight 1)"
    )
    assert dict(DistributionCounter.objects.values_list("rep__name", "assigned")) == {"Ada": 2, "Bo": 2}


@pytest.mark.django_db
def test_weights_70_30_give_exactly_70_and_30_of_100_leads(now: datetime) -> None:
    territory = _territory()
    heavy = _member(territory, 0, weight=7, capacity=None).rep
    light = _member(territory, 1, weight=3, capacity=None).rep
    counts = _owners(_submit(100, now))
    assert counts == {heavy.pk: 70, light.pk: 30}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("unavailable", "reason"),
    [
        ({"status": "OUT_OF_OFFICE"}, "out of office"),
        ({"status": "DEPARTED"}, "departed"),
        ({"capacity": 0}, "at capacity (0 of 0 open leads)"),
    ],
)
def test_round_robin_skips_reps_who_cannot_take_leads(now: datetime, unavailable: dict, reason: str) -> None:
    territory = _territory()
    away = _member(territory, 0, name="Away", **unavailable).rep
    _member(territory, 1, name="Here")
    results = _submit(3, now)
    assert away.pk not in _owners(results)
    assert f"skipped Away ({reason})" in results[0][1].trace[-1]


@pytest.mark.django_db
def test_a_rep_out_of_office_by_dates_is_skipped_only_within_them(now: datetime) -> None:
    territory = _territory()
    today = now.date()
    away = _member(territory, 0, out_of_office_from=today - timedelta(days=1), out_of_office_until=today).rep
    back = _member(
        territory, 1, out_of_office_from=today - timedelta(days=9), out_of_office_until=today - timedelta(1)
    ).rep
    results = _submit(2, now)
    assert _owners(results) == {back.pk: 2}
    assert f"out of office until {today.isoformat()}" in results[0][1].trace[-1]
    assert away.pk not in _owners(results)


@pytest.mark.django_db
def test_a_rep_at_capacity_counts_only_open_leads(now: datetime) -> None:
    territory = _territory()
    full = _member(territory, 0, name="Full", capacity=1).rep
    other = _member(territory, 1, name="Other").rep
    closed = LeadFactory(stage="WON")
    OwnershipFactory(account=None, lead=closed, rep=full, reason="TERRITORY")
    first = _submit(1, now, "a")
    assert _owners(first) == {full.pk: 1}  # a won lead is not open load
    second = _submit(2, now, "b")
    assert _owners(second) == {other.pk: 2}
    assert "skipped Full (at capacity (1 of 1 open leads))" in second[0][1].trace[-1]


@pytest.mark.django_db
def test_nobody_available_leaves_the_lead_unassigned_with_the_reason(now: datetime) -> None:
    territory = _territory()
    _member(territory, 0, name="Gone", status="DEPARTED")
    _member(territory, 1, name="Away", status="OUT_OF_OFFICE")
    [(lead, decision)] = _submit(1, now)
    assert decision.step == "UNASSIGNED"
    assert decision.owner is None
    assert decision.territory_id == territory.pk
    assert "nobody in 'US' can take the lead: Gone (departed), Away (out of office)" in decision.trace[-2]
    assert not Ownership.objects.filter(lead=lead).exists()


@pytest.mark.django_db
def test_a_new_member_starts_at_the_current_minimum_instead_of_catching_up(now: datetime) -> None:
    territory = _territory()
    ada = _member(territory, 0).rep
    bo = _member(territory, 1).rep
    _submit(20, now, "early")
    newcomer = _member(territory, 2).rep
    counts = _owners(_submit(9, now, "late"))
    assert counts == {ada.pk: 3, bo.pk: 3, newcomer.pk: 3}


@pytest.mark.django_db
def test_round_robin_fairness_carries_over_to_a_new_rule_set_version(now: datetime) -> None:
    territory = _territory()
    ada = _member(territory, 0).rep
    bo = _member(territory, 1).rep
    _submit(3, now, "v1")  # Ada 2, Bo 1
    territory.rule_set.status = "ARCHIVED"
    territory.rule_set.save()
    v2 = TerritoryFactory(rule_set=RuleSetFactory(status="PUBLISHED"), name="US", criteria={"countries": ["US"]})
    TerritoryMemberFactory(territory=v2, rep=ada, position=0)
    TerritoryMemberFactory(territory=v2, rep=bo, position=1)
    [(_, decision)] = _submit(1, now, "v2")
    assert decision.owner.rep_id == bo.pk
    assert decision.rule_set_version == v2.rule_set.version


@pytest.mark.django_db
def test_load_balanced_gives_the_lead_to_the_least_loaded_relative_to_capacity(now: datetime) -> None:
    territory = _territory("LOAD_BALANCED")
    big = _member(territory, 0, name="Big", capacity=10).rep
    small = _member(territory, 1, name="Small", capacity=2).rep
    for _ in range(3):
        OwnershipFactory(account=None, lead=LeadFactory(), rep=big, reason="TERRITORY")
    OwnershipFactory(account=None, lead=LeadFactory(), rep=small, reason="TERRITORY")
    # Big: 3/10 = 0.3, Small: 1/2 = 0.5 -> Big
    [(_, decision)] = _submit(1, now)
    assert decision.owner.rep_id == big.pk
    assert "load balanced picked Big (3 open leads, capacity 10, the lightest)" in decision.trace[-1]


@pytest.mark.django_db
def test_claim_queue_leaves_the_lead_unowned_until_a_member_claims_it(now: datetime) -> None:
    territory = _territory("CLAIM_QUEUE")
    ada = _member(territory, 0, name="Ada").rep
    bo = _member(territory, 1, name="Bo").rep
    outsider = RepFactory()
    [(lead, decision)] = _submit(1, now)
    assert decision.step == "TERRITORY"
    assert decision.owner is None
    assert "the lead waits unowned in 'US' until a member claims it (Ada, Bo)" in decision.trace[-1]
    assert not Ownership.objects.filter(lead=lead).exists()

    with pytest.raises(ServiceError) as refused:
        claim_lead(lead=lead, rep=outsider, now=now)
    assert refused.value.code == ErrorCode.FORBIDDEN
    ownership = claim_lead(lead=lead, rep=bo, now=now)
    assert ownership.rep == bo
    lead.refresh_from_db()
    assert lead.assigned_at == now
    with pytest.raises(ServiceError) as late:
        claim_lead(lead=lead, rep=ada, now=now)
    assert late.value.code == ErrorCode.ALREADY_OWNED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_claims_of_a_queued_lead_have_one_winner(now: datetime) -> None:
    territory = _territory("CLAIM_QUEUE")
    reps = [_member(territory, i).rep for i in range(6)]
    [(lead, _)] = _submit(1, now)
    barrier = threading.Barrier(len(reps))

    def claim(rep: object) -> str:
        try:
            barrier.wait()
            claim_lead(lead=lead, rep=rep, now=now)
            return "won"
        except ServiceError as exc:
            return exc.code.value
        finally:
            connection.close()

    with ThreadPoolExecutor(len(reps)) as pool:
        outcomes = Counter(pool.map(claim, reps))
    assert outcomes == {"won": 1, "ALREADY_OWNED": len(reps) - 1}
    assert Ownership.objects.filter(lead=lead, ended_at__isnull=True).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_round_robin_stays_fair_under_100_concurrent_submissions(now: datetime) -> None:
    territory = _territory()
    reps = [_member(territory, i, capacity=None).rep for i in range(4)]

    def submit(i: int) -> int | None:
        try:
            _, decision = submit_lead(data=LeadData(email=f"c{i}@co{i}.example", country="US"), actor=SYSTEM, now=now)
            return decision.owner.rep_id if decision.owner else None
        finally:
            connection.close()

    with ThreadPoolExecutor(12) as pool:
        owners = Counter(pool.map(submit, range(100)))
    assert sum(owners.values()) == 100
    assert set(owners) == {r.pk for r in reps}
    assert max(owners.values()) - min(owners.values()) <= 1
    counters = dict(DistributionCounter.objects.values_list("rep_id", "assigned"))
    assert counters == dict(owners)
    assert Ownership.objects.filter(lead__isnull=False, ended_at__isnull=True).count() == 100


@pytest.mark.django_db
def test_a_territory_instance_reads_its_members_once_as_a_prefetch_would(django_assert_num_queries):
    """A batch routes many leads with the same Territory instances: their members are read once
    (one-by-one routing builds fresh instances per lead, so it still reads them fresh)."""
    from routing.distribution import _members

    territory = TerritoryFactory()
    reps = [RepFactory() for _ in range(3)]
    for position, rep in enumerate(reps):
        TerritoryMemberFactory(territory=territory, rep=rep, position=position)
    with django_assert_num_queries(1):
        first = _members(territory)
        again = _members(territory)
    assert [m.rep for m in first] == [m.rep for m in again] == reps
    assert all(m.territory is territory for m in first)
    fresh = Territory.objects.get(pk=territory.pk)
    with django_assert_num_queries(1):  # a fresh instance reads them again
        assert [m.rep for m in _members(fresh)] == reps


@pytest.mark.django_db
def test_a_batch_preloads_only_the_loads_that_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting a rep's open leads is the costliest read of routing: a batch reads it for every
    member of a load-balanced territory and for members with a capacity, as one lead does."""
    from django.db import transaction

    from routing import distribution

    rule_set = RuleSetFactory(status="PUBLISHED")
    round_robin = TerritoryFactory(rule_set=rule_set, name="RR", distribution="ROUND_ROBIN")
    free = _member(round_robin, 0, capacity=None)
    capped = _member(round_robin, 1, capacity=5)
    balanced = TerritoryFactory(rule_set=rule_set, name="LB", distribution="LOAD_BALANCED")
    light = _member(balanced, 0, capacity=None)
    asked: list[int] = []
    real = distribution.open_loads
    monkeypatch.setattr(distribution, "open_loads", lambda ids: asked.extend(ids) or real(ids))
    counters = distribution.BatchCounters()
    with transaction.atomic():
        counters.lock_all(["RR", "LB"])
        counters.preload([round_robin, balanced])
    assert sorted(asked) == sorted([capped.rep_id, light.rep_id])
    assert free.rep_id not in asked


@pytest.mark.django_db
def test_one_territory_instance_routing_many_leads_skips_each_rep_for_unavailable_reasons_words() -> None:
    """A batch routes many leads with one Territory instance and keeps each member's standing
    (departed, out of office) for the day: the reasons are unavailable_reason's, the lead's own
    exclusions and the loads counted anew for each lead, and another day is worked out again."""
    from datetime import date

    from django.db import transaction

    from routing.distribution import BatchCounters, distribute, unavailable_reason

    territory = _territory()
    gone = _member(territory, 0, name="Gone", status="DEPARTED")
    away = _member(territory, 1, name="Away", out_of_office_from=date(2026, 3, 1), out_of_office_until=date(2026, 3, 5))
    full = _member(territory, 2, name="Full", capacity=1)
    ada = _member(territory, 3, name="Ada")
    bo = _member(territory, 4, name="Bo")
    today, later = date(2026, 3, 2), date(2026, 3, 9)
    counters = BatchCounters()
    lines = []
    with transaction.atomic():
        for day, excluded in [(today, set()), (today, {ada.rep_id}), (later, set()), (later, {bo.rep_id})]:
            expected = {}
            for member in (gone, away, full, ada, bo):
                load = counters.open_loads([member.rep_id])[member.rep_id]
                expected[member.rep.name] = unavailable_reason(member.rep, today=day, excluded=excluded, load=load)
            pick = distribute(territory, today=day, excluded=excluded, counters=counters)
            assert pick.rep is not None
            counters.add_load(pick.rep.pk)
            lines.append(pick.line)
            skipped = pick.line.partition("; skipped ")[2]
            assert skipped == ", ".join(f"{name} ({why})" for name, why in expected.items() if why), pick.line
    assert "Away (out of office until 2026-03-05)" in lines[0] and "Away (out" not in lines[2]  # back on the 9th
    assert "Ada (excluded from this routing)" in lines[1] and "Ada (excluded" not in lines[2]
    assert all("Gone (departed)" in line for line in lines)

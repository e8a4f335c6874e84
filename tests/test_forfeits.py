"""The activity requirement: a lead its owner does not work within the window is forfeited and routed again."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from leadowner.actors import Actor
from leadowner.models import Notification
from routing.models import Ownership, OwnershipChange
from routing.services.activity import log_activity, update_lead_stage
from routing.services.forfeits import FORFEIT_ACTOR, sweep_forfeits
from tests.factories import AccountFactory, OpportunityFactory, RepFactory
from tests.jobs_support import current_owner_of, history, owned_lead, team, us_map

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 5, 5, 9, 0, tzinfo=UTC)
WINDOW = timedelta(days=14)
NEW_YORK = ZoneInfo("America/New_York")


def call(rep, lead, at, kind="CALL"):
    return log_activity(lead_id=lead.pk, kind=kind, occurred_at=at, actor=Actor(rep=rep), now=at)


def test_a_lead_without_meaningful_activity_for_14_days_is_forfeited_and_routed_to_another_rep():
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    lead, ownership = owned_lead(ada, T0)
    result = sweep_forfeits(now=T0 + WINDOW)
    assert result.counts == {"forfeited": 1}
    assert current_owner_of(lead=lead) == bo
    ownership.refresh_from_db()
    assert ownership.ended_at == T0 + WINDOW
    lead.refresh_from_db()
    assert lead.assigned_at == T0 + WINDOW


def test_forfeit_history_records_the_forfeit_with_its_reason_and_the_new_assignment():
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    lead, _ = owned_lead(ada, T0)
    sweep_forfeits(now=T0 + WINDOW)
    ended, routed = history(lead=lead)
    assert (ended.from_rep, ended.to_rep, ended.actor) == (ada, None, FORFEIT_ACTOR)
    assert ended.reason.startswith("forfeited: Ada did not work the lead for 14 days")
    assert (routed.from_rep, routed.to_rep, routed.step, routed.actor) == (None, bo, "TERRITORY", FORFEIT_ACTOR)


def test_a_forfeited_lead_never_goes_back_to_the_forfeiting_rep():
    ada = RepFactory(name="Ada")
    us_map(ada)  # Ada is the territory's only member
    lead, _ = owned_lead(ada, T0)
    sweep_forfeits(now=T0 + WINDOW)
    assert current_owner_of(lead=lead) is None
    lead.refresh_from_db()
    assert lead.decision["step"] == "UNASSIGNED"
    assert any("never back to Ada" in line for line in lead.decision["trace"])


def test_a_lead_forfeited_twice_never_returns_to_any_earlier_forfeiter():
    ada, bo, cy = RepFactory(name="Ada"), RepFactory(name="Bo"), RepFactory(name="Cy")
    us_map(ada, bo, cy)
    lead, _ = owned_lead(ada, T0)
    sweep_forfeits(now=T0 + WINDOW)
    second = current_owner_of(lead=lead)
    assert second in (bo, cy)
    sweep_forfeits(now=T0 + 2 * WINDOW)
    third = current_owner_of(lead=lead)
    assert third not in (ada, second)
    assert third in (bo, cy)


def test_an_activity_at_13_days_23_hours_resets_the_clock():
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    lead, _ = owned_lead(ada, T0)
    worked_at = T0 + timedelta(days=13, hours=23)
    call(ada, lead, worked_at)
    assert sweep_forfeits(now=T0 + WINDOW).counts == {}
    assert sweep_forfeits(now=worked_at + WINDOW - timedelta(seconds=1)).counts == {}
    assert current_owner_of(lead=lead) == ada
    assert sweep_forfeits(now=worked_at + WINDOW).counts == {"forfeited": 1}
    assert current_owner_of(lead=lead) == bo


def test_the_forfeit_boundary_is_exact_across_a_dst_change():
    """The window is 14 x 24 hours of absolute time, whatever the owner's wall clock does.

    Assigned Saturday 2025-03-08 23:30 in New York (EST, UTC-5), a few hours before clocks
    spring forward; 14 days later New York is on EDT (UTC-4), so the deadline reads
    00:30 on the wall clock, not 23:30.
    """
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    assigned = datetime(2025, 3, 8, 23, 30, tzinfo=NEW_YORK)
    assert assigned.utcoffset() == timedelta(hours=-5)
    lead, _ = owned_lead(ada, assigned.astimezone(UTC))
    boundary = assigned.astimezone(UTC) + WINDOW
    local_boundary = boundary.astimezone(NEW_YORK)
    assert (local_boundary.utcoffset(), local_boundary.hour, local_boundary.minute) == (timedelta(hours=-4), 0, 30)
    wall_clock_14_days = datetime(2025, 3, 22, 23, 30, tzinfo=NEW_YORK)  # an hour short of 14 x 24 h
    assert sweep_forfeits(now=wall_clock_14_days.astimezone(UTC)).counts == {}
    assert sweep_forfeits(now=boundary - timedelta(seconds=1)).counts == {}
    assert current_owner_of(lead=lead) == ada
    assert sweep_forfeits(now=boundary).counts == {"forfeited": 1}


def test_an_activity_13_days_23_hours_after_an_assignment_before_the_dst_change_resets_the_clock_exactly():
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    assigned = datetime(2025, 3, 8, 23, 30, tzinfo=NEW_YORK).astimezone(UTC)
    lead, _ = owned_lead(ada, assigned)
    worked_at = assigned + timedelta(days=13, hours=23)
    call(ada, lead, worked_at)
    assert sweep_forfeits(now=assigned + WINDOW).counts == {}
    assert sweep_forfeits(now=worked_at + WINDOW - timedelta(microseconds=1)).counts == {}
    assert sweep_forfeits(now=worked_at + WINDOW).counts == {"forfeited": 1}


def test_a_note_is_not_meaningful_activity_and_does_not_reset_the_clock():
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    lead, _ = owned_lead(ada, T0)
    call(ada, lead, T0 + timedelta(days=13), kind="NOTE")
    assert sweep_forfeits(now=T0 + WINDOW).counts == {"forfeited": 1}


@pytest.mark.parametrize("kind", ["CALL", "EMAIL", "MEETING"])
def test_calls_emails_and_meetings_are_meaningful_activity(kind):
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    lead, _ = owned_lead(ada, T0)
    call(ada, lead, T0 + timedelta(days=13), kind=kind)
    assert sweep_forfeits(now=T0 + WINDOW).counts == {}


def test_a_managers_activity_does_not_reset_the_owners_clock():
    manager, (ada,) = team("Ada")
    bo = RepFactory(name="Bo")
    us_map(ada, bo)
    lead, _ = owned_lead(ada, T0)
    call(manager, lead, T0 + timedelta(days=13))
    assert sweep_forfeits(now=T0 + WINDOW).counts == {"forfeited": 1}


def test_a_lead_whose_account_has_an_open_opportunity_is_protected():
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    account = AccountFactory()
    lead, _ = owned_lead(ada, T0, account=account)
    opportunity = OpportunityFactory(account=account, owner=ada, status="OPEN")
    assert sweep_forfeits(now=T0 + WINDOW).counts == {}
    assert current_owner_of(lead=lead) == ada
    opportunity.status = "LOST"
    opportunity.save()
    assert sweep_forfeits(now=T0 + WINDOW).counts == {"forfeited": 1}


@pytest.mark.parametrize("stage", ["WON", "LOST", "PAUSED"])
def test_won_lost_and_paused_leads_are_not_forfeited(stage):
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    lead, _ = owned_lead(ada, T0)
    if stage == "PAUSED":
        update_lead_stage(lead_id=lead.pk, stage="PAUSED", actor=Actor(rep=ada), now=T0)
    else:
        lead.stage = stage
        lead.save()
    assert sweep_forfeits(now=T0 + 3 * WINDOW).counts == {}
    assert current_owner_of(lead=lead) == ada


def test_the_activity_window_comes_from_the_published_rule_sets_policy():
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo, policy={"activity_window_days": 7})
    _lead, _ = owned_lead(ada, T0)
    assert sweep_forfeits(now=T0 + timedelta(days=7) - timedelta(seconds=1)).counts == {}
    assert sweep_forfeits(now=T0 + timedelta(days=7)).counts == {"forfeited": 1}


def test_the_clock_starts_at_the_current_owners_assignment_not_at_earlier_activity_on_the_lead():
    ada, bo, cy = RepFactory(name="Ada"), RepFactory(name="Bo"), RepFactory(name="Cy")
    us_map(bo, cy)
    lead, _ = owned_lead(ada, T0)
    call(ada, lead, T0 + timedelta(days=1))
    sweep_forfeits(now=T0 + timedelta(days=15))  # Ada forfeits: Bo gets it on day 15
    assert current_owner_of(lead=lead) == bo
    assert sweep_forfeits(now=T0 + timedelta(days=28)).counts == {}
    assert sweep_forfeits(now=T0 + timedelta(days=29)).counts == {"forfeited": 1}


def test_running_the_forfeit_sweep_twice_forfeits_each_lead_once():
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    leads = [owned_lead(ada, T0)[0] for _ in range(3)]
    assert sweep_forfeits(now=T0 + WINDOW).counts == {"forfeited": 3}
    assert sweep_forfeits(now=T0 + WINDOW).counts == {}
    for lead in leads:
        assert OwnershipChange.objects.filter(lead=lead, from_rep=ada).count() == 1


def test_the_forfeit_sweep_works_in_bounded_batches_and_says_when_more_is_due():
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    for _ in range(5):
        owned_lead(ada, T0)
    first = sweep_forfeits(now=T0 + WINDOW, batch_size=2)
    assert (first.counts, first.more) == ({"forfeited": 2}, True)
    sweep_forfeits(now=T0 + WINDOW, batch_size=2)
    last = sweep_forfeits(now=T0 + WINDOW, batch_size=2)
    assert (last.counts, last.more) == ({"forfeited": 1}, False)


def test_a_forfeit_notifies_the_owner_their_manager_and_the_new_owner():
    manager, (ada,) = team("Ada")
    bo = RepFactory(name="Bo")
    us_map(ada, bo)
    lead, _ = owned_lead(ada, T0)
    sweep_forfeits(now=T0 + WINDOW)
    told = {(n.recipient_rep, n.kind) for n in Notification.objects.filter(lead=lead)}
    assert told == {(ada, "FORFEIT"), (manager, "FORFEIT"), (bo, "REASSIGNMENT")}
    forfeit = Notification.objects.get(lead=lead, recipient_rep=ada)
    assert "It went to Bo." in forfeit.body


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_forfeit_sweeps_at_once_forfeit_each_lead_once():
    ada, bo, cy = RepFactory(name="Ada"), RepFactory(name="Bo"), RepFactory(name="Cy")
    us_map(ada, bo, cy)
    leads = [owned_lead(ada, T0)[0] for _ in range(20)]
    barrier = threading.Barrier(2)
    results = []

    def sweep() -> None:
        try:
            barrier.wait()
            results.append(sweep_forfeits(now=T0 + WINDOW))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.counts.get("forfeited", 0) for r in results) == 20
    for lead in leads:
        assert OwnershipChange.objects.filter(lead=lead, actor=FORFEIT_ACTOR, from_rep=ada).count() == 1
        assert OwnershipChange.objects.filter(lead=lead).count() == 2  # the forfeit, the new assignment
        assert Ownership.objects.filter(lead=lead, ended_at__isnull=True).count() == 1


def test_a_forfeit_sweep_stops_at_its_time_budget_and_says_more_is_due():
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    for _ in range(3):
        owned_lead(ada, T0)
    # The budget is checked between chunks (transactions of CHUNK leads): one lead per chunk here.
    with mock.patch("leadowner.jobs.time_budget", return_value=0), mock.patch("routing.services.forfeits.CHUNK", 1):
        first = sweep_forfeits(now=T0 + WINDOW)
    assert (first.counts, first.more) == ({"forfeited": 1}, True)
    assert sweep_forfeits(now=T0 + WINDOW).counts == {"forfeited": 2}


def test_a_conflict_in_one_lead_of_a_batch_holds_back_only_that_lead():
    from leadowner.errors import ErrorCode, ServiceError
    from routing.services import forfeits

    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    leads = [owned_lead(ada, T0)[0] for _ in range(4)]
    troubled = leads[2]
    real = forfeits.reroute_leads

    def conflicting(**kwargs):
        if any(lead.pk == troubled.pk for lead in kwargs["leads"]):
            raise ServiceError(ErrorCode.CONFLICT, f"the owner of lead {troubled.email} changed meanwhile; try again")
        return real(**kwargs)

    with mock.patch.object(forfeits, "reroute_leads", side_effect=conflicting):
        result = sweep_forfeits(now=T0 + WINDOW)
    assert result.counts == {"forfeited": 3, "changed_meanwhile": 1}
    assert [e.split(":")[0] for e in result.errors] == [
        f"ownership #{owned.pk}" for owned in Ownership.objects.filter(lead=troubled)
    ]
    for lead in leads:
        expected = ada if lead == troubled else bo
        assert current_owner_of(lead=lead) == expected  # the troubled lead's forfeit rolled back with it

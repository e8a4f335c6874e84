"""The first-touch SLA: a new lead its owner has not touched within the SLA's business hours is reassigned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadowner.actors import Actor
from leadowner.calendar import add_business_hours
from leadowner.models import Notification
from routing.models import OwnershipChange
from routing.services.activity import log_activity
from routing.services.forfeits import SLA_ACTOR
from routing.services.sla import late_if_assigned_before, sweep_first_touch_sla
from tests.factories import RepFactory
from tests.jobs_support import current_owner_of, history, owned_lead, team, us_map

MONDAY_9 = datetime(2025, 5, 5, 9, 0, tzinfo=UTC)
FRIDAY_18 = datetime(2025, 5, 9, 18, 0, tzinfo=UTC)


def touch(rep, lead, at, kind="CALL"):
    log_activity(lead_id=lead.pk, kind=kind, occurred_at=at, actor=Actor(rep=rep), now=at)


def two_reps(**policy):
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo, policy=policy or None)
    return ada, bo


@pytest.mark.django_db
def test_a_new_lead_untouched_after_the_24_hour_sla_is_reassigned():
    ada, bo = two_reps()
    lead, _ownership = owned_lead(ada, MONDAY_9)
    assert sweep_first_touch_sla(now=MONDAY_9 + timedelta(hours=24) - timedelta(seconds=1)).counts == {}
    assert current_owner_of(lead=lead) == ada
    assert sweep_first_touch_sla(now=MONDAY_9 + timedelta(hours=24)).counts == {"reassigned": 1}
    assert current_owner_of(lead=lead) == bo
    ended, routed = history(lead=lead)
    assert (ended.from_rep, ended.to_rep, ended.actor) == (ada, None, SLA_ACTOR)
    assert ended.reason.startswith("first-touch SLA missed: Ada did not call, email or meet the lead within 24")
    assert (routed.to_rep, routed.actor) == (bo, SLA_ACTOR)


@pytest.mark.django_db
def test_the_first_touch_sla_counts_business_hours_so_a_friday_evening_lead_waits_past_the_weekend():
    ada, _bo = two_reps()
    _lead, _ = owned_lead(ada, FRIDAY_18)
    monday_18 = FRIDAY_18 + timedelta(days=3)
    assert sweep_first_touch_sla(now=FRIDAY_18 + timedelta(hours=24)).counts == {}  # Saturday 18:00
    assert sweep_first_touch_sla(now=monday_18 - timedelta(seconds=1)).counts == {}
    assert sweep_first_touch_sla(now=monday_18).counts == {"reassigned": 1}


@pytest.mark.django_db
def test_public_holidays_of_the_rule_sets_calendar_do_not_count_toward_the_first_touch_sla():
    ada, _bo = two_reps()
    thursday = datetime(2025, 7, 3, 10, 0, tzinfo=UTC)  # Friday 4 July is a US holiday
    _lead, _ = owned_lead(ada, thursday)
    monday = datetime(2025, 7, 7, 10, 0, tzinfo=UTC)
    assert sweep_first_touch_sla(now=monday - timedelta(seconds=1)).counts == {}
    assert sweep_first_touch_sla(now=monday).counts == {"reassigned": 1}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["CALL", "EMAIL", "MEETING"])
def test_a_call_email_or_meeting_by_the_owner_is_a_first_touch(kind):
    ada, _ = two_reps()
    lead, _ = owned_lead(ada, MONDAY_9)
    touch(ada, lead, MONDAY_9 + timedelta(hours=23), kind=kind)
    assert sweep_first_touch_sla(now=MONDAY_9 + timedelta(hours=30)).counts == {}
    assert current_owner_of(lead=lead) == ada


@pytest.mark.django_db
def test_a_note_is_not_a_first_touch():
    ada, _bo = two_reps()
    lead, _ = owned_lead(ada, MONDAY_9)
    touch(ada, lead, MONDAY_9 + timedelta(hours=1), kind="NOTE")
    assert sweep_first_touch_sla(now=MONDAY_9 + timedelta(hours=24)).counts == {"reassigned": 1}


@pytest.mark.django_db
def test_a_lead_past_new_is_left_to_the_activity_window():
    ada, _ = two_reps()
    _lead, _ = owned_lead(ada, MONDAY_9, stage="CONTACTED")
    assert sweep_first_touch_sla(now=MONDAY_9 + timedelta(days=3)).counts == {}


@pytest.mark.django_db
def test_the_first_touch_sla_comes_from_the_rule_sets_policy():
    ada, _ = two_reps(first_touch_sla_hours=4)
    owned_lead(ada, MONDAY_9)
    assert sweep_first_touch_sla(now=MONDAY_9 + timedelta(hours=4) - timedelta(seconds=1)).counts == {}
    assert sweep_first_touch_sla(now=MONDAY_9 + timedelta(hours=4)).counts == {"reassigned": 1}


@pytest.mark.django_db
def test_a_lead_reassigned_for_a_missed_first_touch_never_returns_to_a_rep_who_missed_it():
    ada, bo = two_reps()
    lead, _ = owned_lead(ada, MONDAY_9)
    sweep_first_touch_sla(now=MONDAY_9 + timedelta(hours=24))
    assert current_owner_of(lead=lead) == bo
    sweep_first_touch_sla(now=MONDAY_9 + timedelta(hours=48))
    assert current_owner_of(lead=lead) is None  # Ada and Bo both missed it: it waits for a manager


@pytest.mark.django_db
def test_a_missed_first_touch_notifies_the_owner_their_manager_and_the_new_owner():
    manager, (ada,) = team("Ada")
    bo = RepFactory(name="Bo")
    us_map(ada, bo)
    lead, _ = owned_lead(ada, MONDAY_9)
    sweep_first_touch_sla(now=MONDAY_9 + timedelta(hours=24))
    told = {(n.recipient_rep, n.kind) for n in Notification.objects.filter(lead=lead)}
    assert told == {(ada, "FIRST_TOUCH_SLA"), (manager, "FIRST_TOUCH_SLA"), (bo, "REASSIGNMENT")}


@pytest.mark.django_db
def test_running_the_first_touch_sweep_twice_reassigns_each_lead_once():
    ada, _bo = two_reps()
    leads = [owned_lead(ada, MONDAY_9)[0] for _ in range(3)]
    late = MONDAY_9 + timedelta(hours=24)
    assert sweep_first_touch_sla(now=late).counts == {"reassigned": 3}
    assert sweep_first_touch_sla(now=late).counts == {}
    assert OwnershipChange.objects.filter(lead__in=leads, actor=SLA_ACTOR, from_rep=ada).count() == 3


@settings(max_examples=300, deadline=None)
@given(
    now=st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2026, 12, 31),
    ),
    hours=st.sampled_from([0, 1, 4, 23, 24, 25, 48, 72]),
    offset_minutes=st.integers(min_value=-4000, max_value=4000),
)
def test_late_if_assigned_before_is_exactly_the_inverse_of_adding_business_hours(now, hours, offset_minutes):
    now = now.replace(tzinfo=UTC)
    cutoff = late_if_assigned_before(now, hours, country="US")
    for start in (cutoff, cutoff + timedelta(microseconds=1), cutoff + timedelta(minutes=offset_minutes)):
        assert (add_business_hours(start, hours, country="US") <= now) == (start <= cutoff)

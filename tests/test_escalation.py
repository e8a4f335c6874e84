"""Dispute SLA: an open dispute past its deadline escalates to the next manager up, RevOps at the top."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from disputes.models import Dispute, DisputeEscalation
from disputes.services import open_dispute, resolve_dispute, sweep_dispute_escalations
from leadowner.actors import Actor
from leadowner.models import Notification
from tests.factories import AccountFactory, ManagerFactory, OwnershipFactory, RepFactory, RuleSetFactory

FRIDAY_10 = datetime(2025, 3, 7, 10, 0, tzinfo=UTC)
TUESDAY_10 = datetime(2025, 3, 11, 10, 0, tzinfo=UTC)  # 48 business hours after FRIDAY_10 (US)


def dispute_between(now, *, calendar="US", sla_hours=48, publish=True):
    """Olga (under Oscar, under Diana) owns an account; Carl contests it. Returns the dispute and the people."""
    if publish:
        RuleSetFactory(calendar=calendar, policy={"dispute_sla_hours": sla_hours})
    diana = ManagerFactory(name="Diana Director")
    oscar = ManagerFactory(name="Oscar Manager", manager=diana)
    olga = RepFactory(name="Olga Owner", manager=oscar)
    carl = RepFactory(name="Carl Claimant", manager=ManagerFactory(name="Cleo Manager"))
    account = AccountFactory()
    OwnershipFactory(account=account, rep=olga, role="SALES", since=now - timedelta(days=30))
    dispute = open_dispute(account=account, reason="I sourced this", actor=Actor(rep=carl), now=now)
    return dispute, {"diana": diana, "oscar": oscar, "olga": olga, "carl": carl}


@pytest.mark.django_db
def test_an_open_dispute_past_its_deadline_escalates_to_the_owners_manager():
    dispute, people = dispute_between(FRIDAY_10)
    assert dispute.due_at == TUESDAY_10
    result = sweep_dispute_escalations(now=TUESDAY_10)
    assert result.counts == {"escalated": 1}
    dispute.refresh_from_db()
    assert (dispute.status, dispute.escalated_to, dispute.escalated_at) == ("ESCALATED", people["oscar"], TUESDAY_10)
    assert dispute.due_at == datetime(2025, 3, 13, 10, 0, tzinfo=UTC)  # another 48 business hours


@pytest.mark.django_db
def test_a_dispute_escalates_exactly_at_its_deadline_and_not_a_second_before():
    dispute, _ = dispute_between(FRIDAY_10)
    assert sweep_dispute_escalations(now=TUESDAY_10 - timedelta(seconds=1)).counts == {}
    dispute.refresh_from_db()
    assert dispute.status == "OPEN"
    assert sweep_dispute_escalations(now=TUESDAY_10).counts == {"escalated": 1}


@pytest.mark.django_db
def test_an_escalated_dispute_still_unresolved_at_its_new_deadline_goes_to_the_next_manager_up_then_revops():
    dispute, people = dispute_between(FRIDAY_10)
    revops = RepFactory(name="Rita RevOps", role="REVOPS")
    sweep_dispute_escalations(now=TUESDAY_10)
    dispute.refresh_from_db()
    sweep_dispute_escalations(now=dispute.due_at)
    dispute.refresh_from_db()
    assert dispute.escalated_to == people["diana"]
    sweep_dispute_escalations(now=dispute.due_at)
    dispute.refresh_from_db()
    assert dispute.escalated_to == revops


@pytest.mark.django_db
def test_escalation_passes_over_managers_who_are_out_of_office_or_departed():
    dispute, people = dispute_between(FRIDAY_10)
    people["oscar"].status = "OUT_OF_OFFICE"
    people["oscar"].save()
    sweep_dispute_escalations(now=TUESDAY_10)
    dispute.refresh_from_db()
    assert dispute.escalated_to == people["diana"]


@pytest.mark.django_db
def test_the_new_escalation_deadline_skips_weekends_and_the_calendar_countrys_holidays():
    # GB: opened Tuesday 23 Dec 2025 10:00 with a 24-hour SLA -> due Wednesday 24th 10:00; escalated then,
    # the next deadline is 24 business hours later, skipping Christmas, Boxing Day and the weekend: Monday 29th.
    tuesday = datetime(2025, 12, 23, 10, 0, tzinfo=UTC)
    dispute, _ = dispute_between(tuesday, calendar="GB", sla_hours=24)
    assert dispute.due_at == datetime(2025, 12, 24, 10, 0, tzinfo=UTC)
    sweep_dispute_escalations(now=dispute.due_at)
    dispute.refresh_from_db()
    assert dispute.due_at == datetime(2025, 12, 29, 10, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_every_escalation_is_recorded_with_who_had_it_who_has_it_and_both_deadlines():
    dispute, people = dispute_between(FRIDAY_10)
    sweep_dispute_escalations(now=TUESDAY_10)
    dispute.refresh_from_db()
    second_at = dispute.due_at
    sweep_dispute_escalations(now=second_at)
    first, second = DisputeEscalation.objects.filter(dispute=dispute).order_by("at")
    assert (first.from_rep, first.to_rep, first.at, first.due_before) == (None, people["oscar"], TUESDAY_10, TUESDAY_10)
    assert first.due_after == second_at
    assert (second.from_rep, second.to_rep, second.at) == (people["oscar"], people["diana"], second_at)


@pytest.mark.django_db
def test_an_escalation_notifies_the_manager_who_decides_now_and_both_parties():
    dispute, people = dispute_between(FRIDAY_10)
    sweep_dispute_escalations(now=TUESDAY_10)
    told = {n.recipient_rep for n in Notification.objects.filter(kind="ESCALATION")}
    assert told == {people["oscar"], people["carl"], people["olga"]}
    to_manager = Notification.objects.get(kind="ESCALATION", recipient_rep=people["oscar"])
    assert to_manager.subject == f"Dispute #{dispute.pk} on account {dispute.account.name} escalated to Oscar Manager"
    assert "2025-03-13 10:00 UTC" in to_manager.body
    # Each notice names the dispute it is about (the console and the API link to it).
    assert set(Notification.objects.filter(kind="ESCALATION").values_list("dispute_id", flat=True)) == {dispute.pk}


@pytest.mark.django_db
def test_a_resolved_dispute_never_escalates():
    dispute, people = dispute_between(FRIDAY_10)
    resolve_dispute(
        dispute_id=dispute.pk,
        winner_rep_id=people["olga"].pk,
        resolution="Olga worked it",
        actor=Actor(rep=people["oscar"]),
        now=FRIDAY_10 + timedelta(hours=1),
    )
    assert sweep_dispute_escalations(now=TUESDAY_10 + timedelta(days=30)).counts == {}


@pytest.mark.django_db
def test_running_the_escalation_sweep_twice_escalates_once():
    dispute, _people = dispute_between(FRIDAY_10)
    assert sweep_dispute_escalations(now=TUESDAY_10).counts == {"escalated": 1}
    assert sweep_dispute_escalations(now=TUESDAY_10).counts == {}
    assert DisputeEscalation.objects.filter(dispute=dispute).count() == 1


@pytest.mark.django_db
def test_with_nobody_to_escalate_to_the_sweep_reports_it_and_goes_on():
    RuleSetFactory()
    lonely = RepFactory(name="Lonely Owner")
    account = AccountFactory()
    OwnershipFactory(account=account, rep=lonely, role="SALES", since=FRIDAY_10)
    stuck = open_dispute(account=account, reason="mine", actor=Actor(rep=RepFactory()), now=FRIDAY_10)
    result = sweep_dispute_escalations(now=TUESDAY_10)
    assert result.counts == {}
    assert result.errors == [f"dispute #{stuck.pk}: no one above Lonely Owner to escalate to: no active RevOps rep"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_escalation_sweeps_at_once_escalate_each_dispute_once():
    disputes = [dispute_between(FRIDAY_10, publish=i == 0)[0] for i in range(5)]
    barrier = threading.Barrier(2)
    results = []

    def sweep() -> None:
        try:
            barrier.wait()
            results.append(sweep_dispute_escalations(now=TUESDAY_10))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.counts.get("escalated", 0) for r in results) == 5
    for dispute in disputes:
        assert DisputeEscalation.objects.filter(dispute=dispute).count() == 1
        assert Dispute.objects.get(pk=dispute.pk).status == "ESCALATED"

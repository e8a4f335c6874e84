"""Disputes: a rep contests an owner, with a business-hours deadline; a manager names the winner."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from disputes.models import Dispute
from disputes.selectors import escalation_target, overdue_dispute_ids
from disputes.services import open_dispute, resolve_dispute
from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from routing.models import Ownership, OwnershipChange
from tests.factories import (
    AccountFactory,
    DisputeFactory,
    LeadFactory,
    ManagerFactory,
    OwnershipFactory,
    PartnerUserFactory,
    RepFactory,
    RuleSetFactory,
)

pytestmark = pytest.mark.django_db

FRIDAY_10 = datetime(2025, 3, 7, 10, 0, tzinfo=UTC)


def contested_account(now, **ownership):
    """An account owned by one rep and a claimant from another team, each with a manager."""
    owner_manager, claimant_manager = ManagerFactory(), ManagerFactory()
    owner = RepFactory(manager=owner_manager, name="Olga Owner")
    claimant = RepFactory(manager=claimant_manager, name="Carl Claimant")
    account = AccountFactory()
    OwnershipFactory(account=account, rep=owner, role="SALES", since=now - timedelta(days=10), **ownership)
    return account, owner, claimant, owner_manager, claimant_manager


# --- opening -------------------------------------------------------------------------------


def test_a_dispute_opened_friday_10_00_with_a_48_hour_sla_in_the_us_is_due_tuesday_10_00():
    RuleSetFactory(calendar="US", policy={"dispute_sla_hours": 48})
    account, owner, claimant, _, _ = contested_account(FRIDAY_10)
    dispute = open_dispute(account=account, reason="I sourced this", actor=Actor(rep=claimant), now=FRIDAY_10)
    assert dispute.due_at == datetime(2025, 3, 11, 10, 0, tzinfo=UTC)
    assert (dispute.status, dispute.claimant, dispute.current_owner) == ("OPEN", claimant, owner)
    assert (dispute.reason, dispute.opened_at, dispute.role) == ("I sourced this", FRIDAY_10, "SALES")


def test_the_dispute_deadline_skips_the_rule_sets_calendar_holidays():
    christmas_eve = datetime(2025, 12, 24, 10, 0, tzinfo=UTC)
    RuleSetFactory(calendar="GB", policy={"dispute_sla_hours": 48})
    account, _, claimant, _, _ = contested_account(christmas_eve)
    dispute = open_dispute(account=account, reason="mine", actor=Actor(rep=claimant), now=christmas_eve)
    # Christmas and Boxing Day are GB holidays; in the US the deadline would be Monday the 29th.
    assert dispute.due_at == datetime(2025, 12, 30, 10, 0, tzinfo=UTC)


def test_the_default_sla_is_48_business_hours_in_the_us_calendar():
    account, _, claimant, _, _ = contested_account(FRIDAY_10)
    dispute = open_dispute(account=account, reason="mine", actor=Actor(rep=claimant), now=FRIDAY_10)
    assert dispute.due_at == datetime(2025, 3, 11, 10, 0, tzinfo=UTC)


def test_a_rep_can_dispute_the_owner_of_a_lead(now):
    lead = LeadFactory()
    owner = RepFactory()
    Ownership.objects.create(lead=lead, role="SALES", rep=owner, reason="TERRITORY", since=now)
    dispute = open_dispute(lead=lead, reason="they emailed me", actor=Actor(rep=RepFactory()), now=now)
    assert (dispute.lead, dispute.current_owner) == (lead, owner)


def test_a_dispute_needs_a_reason(now):
    account, _, claimant, _, _ = contested_account(now)
    with pytest.raises(ServiceError) as err:
        open_dispute(account=account, reason="   ", actor=Actor(rep=claimant), now=now)
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "reason")


def test_a_rep_cannot_dispute_their_own_record(now):
    account, owner, _, _, _ = contested_account(now)
    with pytest.raises(ServiceError) as err:
        open_dispute(account=account, reason="hm", actor=Actor(rep=owner), now=now)
    assert err.value.code == ErrorCode.INVALID


def test_a_record_without_a_sales_owner_cannot_be_disputed(now):
    with pytest.raises(ServiceError) as err:
        open_dispute(account=AccountFactory(), reason="hm", actor=Actor(rep=RepFactory()), now=now)
    assert err.value.code == ErrorCode.INVALID
    assert "no sales owner" in err.value.message


def test_partners_and_departed_reps_cannot_open_disputes(now):
    account, _, _, _, _ = contested_account(now)
    for actor in (Actor(partner_user=PartnerUserFactory()), Actor(rep=RepFactory(status="DEPARTED"))):
        with pytest.raises(ServiceError) as err:
            open_dispute(account=account, reason="mine", actor=actor, now=now)
        assert err.value.code == ErrorCode.FORBIDDEN


def test_one_open_dispute_per_record_a_second_is_a_conflict(now):
    account, _, claimant, _, _ = contested_account(now)
    first = open_dispute(account=account, reason="mine", actor=Actor(rep=claimant), now=now)
    with pytest.raises(ServiceError) as err:
        open_dispute(account=account, reason="mine too", actor=Actor(rep=RepFactory()), now=now)
    assert err.value.code == ErrorCode.CONFLICT
    assert f"#{first.pk}" in err.value.message
    assert Dispute.objects.count() == 1


def test_a_resolved_dispute_does_not_block_a_new_one(now):
    account, owner, claimant, _, _ = contested_account(now)
    DisputeFactory(account=account, claimant=claimant, current_owner=owner, status="RESOLVED")
    assert open_dispute(account=account, reason="again", actor=Actor(rep=claimant), now=now).status == "OPEN"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_disputes_on_one_record_give_one_dispute_and_conflicts(now):
    account, _, _, _, _ = contested_account(now)
    claimants = [RepFactory() for _ in range(6)]
    barrier = threading.Barrier(len(claimants))
    outcomes: list[object] = []
    lock = threading.Lock()

    def attempt(rep):
        try:
            barrier.wait(timeout=30)
            open_dispute(account=account, reason="mine", actor=Actor(rep=rep), now=now)
            result: object = "OPENED"
        except ServiceError as exc:
            result = exc.code
        except Exception as exc:
            result = exc
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(rep,)) for rep in claimants]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(map(str, outcomes)) == sorted(["OPENED"] + [str(ErrorCode.CONFLICT)] * 5)
    assert Dispute.objects.filter(account=account).count() == 1


# --- resolving -----------------------------------------------------------------------------


def test_when_the_claimant_wins_they_become_owner_with_history_naming_the_dispute(now):
    account, owner, claimant, _, claimant_manager = contested_account(now)
    dispute = open_dispute(account=account, reason="I sourced it", actor=Actor(rep=claimant), now=now)
    resolved = resolve_dispute(
        dispute_id=dispute.pk,
        winner_rep_id=claimant.pk,
        resolution="the email thread shows Carl first",
        actor=Actor(rep=claimant_manager),
        now=now,
    )
    assert resolved.status == "RESOLVED"
    assert (resolved.winner, resolved.loser, resolved.resolved_by) == (claimant, owner, claimant_manager)
    assert (resolved.resolution, resolved.resolved_at) == ("the email thread shows Carl first", now)
    current = Ownership.objects.get(account=account, role="SALES", ended_at__isnull=True)
    assert (current.rep, current.reason) == (claimant, "MANUAL")
    change = OwnershipChange.objects.get(account=account)
    assert (change.from_rep, change.to_rep, change.actor) == (owner, claimant, claimant_manager.email)
    assert change.reason == f"dispute #{dispute.pk} resolved: the email thread shows Carl first"


def test_when_the_owner_wins_nothing_changes_hands_the_claim_keeps_its_lifetime_and_history_says_so(now):
    expires = now + timedelta(days=12)
    account, owner, claimant, owner_manager, _ = contested_account(now, reason="ACCOUNT_CLAIM", expires_at=expires)
    dispute = open_dispute(account=account, reason="mine", actor=Actor(rep=claimant), now=now)
    resolved = resolve_dispute(
        dispute_id=dispute.pk,
        winner_rep_id=owner.pk,
        resolution="claim was valid",
        actor=Actor(rep=owner_manager),
        now=now,
    )
    assert (resolved.winner, resolved.loser) == (owner, claimant)
    current = Ownership.objects.get(account=account, role="SALES", ended_at__isnull=True)
    assert (current.rep, current.expires_at) == (owner, expires)
    change = OwnershipChange.objects.get(account=account)
    assert (change.from_rep, change.to_rep, change.actor) == (owner, owner, owner_manager.email)
    assert change.reason == f"dispute #{dispute.pk} resolved, owner kept: claim was valid"


def test_a_manager_further_up_either_chain_and_revops_may_resolve(now):
    account, _, claimant, owner_manager, _ = contested_account(now)
    director = ManagerFactory()
    owner_manager.manager = director
    owner_manager.save()
    dispute = open_dispute(account=account, reason="mine", actor=Actor(rep=claimant), now=now)
    resolve_dispute(
        dispute_id=dispute.pk, winner_rep_id=claimant.pk, resolution="ok", actor=Actor(rep=director), now=now
    )
    second = DisputeFactory(account=AccountFactory(), claimant=claimant)
    resolve_dispute(
        dispute_id=second.pk,
        winner_rep_id=claimant.pk,
        resolution="ok",
        actor=Actor(rep=RepFactory(role="REVOPS")),
        now=now,
    )
    assert Dispute.objects.filter(status="RESOLVED").count() == 2


def test_reps_and_managers_of_other_teams_cannot_resolve(now):
    account, owner, claimant, _, _ = contested_account(now)
    dispute = open_dispute(account=account, reason="mine", actor=Actor(rep=claimant), now=now)
    for actor in (Actor(rep=owner), Actor(rep=claimant), Actor(rep=ManagerFactory())):
        with pytest.raises(ServiceError) as err:
            resolve_dispute(dispute_id=dispute.pk, winner_rep_id=claimant.pk, resolution="x", actor=actor, now=now)
        assert err.value.code == ErrorCode.FORBIDDEN
    assert Dispute.objects.get(pk=dispute.pk).status == "OPEN"


def test_the_manager_it_escalated_to_may_resolve_an_escalated_dispute(now):
    account, owner, claimant, _, _ = contested_account(now)
    dispute = open_dispute(account=account, reason="mine", actor=Actor(rep=claimant), now=now)
    escalated_to = ManagerFactory()
    Dispute.objects.filter(pk=dispute.pk).update(status="ESCALATED", escalated_to=escalated_to, escalated_at=now)
    resolved = resolve_dispute(
        dispute_id=dispute.pk, winner_rep_id=owner.pk, resolution="keep", actor=Actor(rep=escalated_to), now=now
    )
    assert resolved.status == "RESOLVED"


def test_the_winner_is_the_claimant_or_the_contested_owner(now):
    account, _, claimant, _, claimant_manager = contested_account(now)
    dispute = open_dispute(account=account, reason="mine", actor=Actor(rep=claimant), now=now)
    with pytest.raises(ServiceError) as err:
        resolve_dispute(
            dispute_id=dispute.pk,
            winner_rep_id=RepFactory().pk,
            resolution="a third rep",
            actor=Actor(rep=claimant_manager),
            now=now,
        )
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "winnerRepId")


def test_a_resolution_needs_words(now):
    account, _, claimant, _, claimant_manager = contested_account(now)
    dispute = open_dispute(account=account, reason="mine", actor=Actor(rep=claimant), now=now)
    with pytest.raises(ServiceError) as err:
        resolve_dispute(
            dispute_id=dispute.pk, winner_rep_id=claimant.pk, resolution=" ", actor=Actor(rep=claimant_manager), now=now
        )
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "resolution")


def test_a_departed_claimant_cannot_be_named_winner(now):
    account, owner, claimant, _, claimant_manager = contested_account(now)
    dispute = open_dispute(account=account, reason="mine", actor=Actor(rep=claimant), now=now)
    claimant.status = "DEPARTED"
    claimant.save()
    with pytest.raises(ServiceError) as err:
        resolve_dispute(
            dispute_id=dispute.pk, winner_rep_id=claimant.pk, resolution="x", actor=Actor(rep=claimant_manager), now=now
        )
    assert err.value.code == ErrorCode.INVALID
    assert Ownership.objects.get(account=account, ended_at__isnull=True).rep == owner


def test_a_resolved_dispute_cannot_be_resolved_again(now):
    account, owner, claimant, owner_manager, _ = contested_account(now)
    dispute = open_dispute(account=account, reason="mine", actor=Actor(rep=claimant), now=now)
    manager = Actor(rep=owner_manager)
    resolve_dispute(dispute_id=dispute.pk, winner_rep_id=owner.pk, resolution="keep", actor=manager, now=now)
    with pytest.raises(ServiceError) as err:
        resolve_dispute(dispute_id=dispute.pk, winner_rep_id=claimant.pk, resolution="flip", actor=manager, now=now)
    assert err.value.code == ErrorCode.INVALID_TRANSITION
    assert Ownership.objects.get(account=account, ended_at__isnull=True).rep == owner


def test_resolving_a_missing_dispute_is_not_found(now):
    with pytest.raises(ServiceError) as err:
        resolve_dispute(
            dispute_id=424242, winner_rep_id=1, resolution="x", actor=Actor(rep=RepFactory(role="REVOPS")), now=now
        )
    assert err.value.code == ErrorCode.NOT_FOUND


# --- escalation reads ----------------------------------------------------------------------


def test_escalation_goes_to_the_next_active_manager_up_the_chain():
    director = ManagerFactory()
    away = ManagerFactory(manager=director, status="OUT_OF_OFFICE")
    manager = ManagerFactory(manager=away)
    rep = RepFactory(manager=manager)
    assert escalation_target(rep) == manager
    assert escalation_target(manager) == director


def test_escalation_above_the_top_of_the_chain_goes_to_revops_and_stays_there():
    RepFactory(role="REVOPS", status="DEPARTED")
    revops = RepFactory(role="REVOPS")
    top = ManagerFactory()
    assert escalation_target(top) == revops
    assert escalation_target(revops) == revops


def test_escalation_with_nobody_above_and_no_revops_is_not_found():
    with pytest.raises(ServiceError) as err:
        escalation_target(ManagerFactory())
    assert err.value.code == ErrorCode.NOT_FOUND


def test_overdue_disputes_are_the_unresolved_ones_past_their_deadline(now):
    overdue = DisputeFactory(due_at=now - timedelta(hours=1))
    escalated = DisputeFactory(due_at=now - timedelta(hours=2), status="ESCALATED")
    DisputeFactory(due_at=now + timedelta(hours=1))
    DisputeFactory(due_at=now - timedelta(hours=3), status="RESOLVED")
    assert overdue_dispute_ids(now=now) == [escalated.pk, overdue.pk]

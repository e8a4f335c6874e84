"""Transfers: managers and RevOps move ownership to an active rep, with a reason, on the record."""

from __future__ import annotations

import pytest

from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from routing.models import Ownership, OwnershipChange
from routing.selectors.team import manager_chain, team_rep_ids
from routing.services.transfers import transfer_ownership
from tests.factories import AccountFactory, LeadFactory, ManagerFactory, OwnershipFactory, RepFactory, RuleSetFactory

pytestmark = pytest.mark.django_db


def team():
    """A manager, two reps reporting to them, and the account one of them owns."""
    manager = ManagerFactory()
    owner = RepFactory(manager=manager)
    colleague = RepFactory(manager=manager)
    account = AccountFactory()
    OwnershipFactory(account=account, rep=owner, role="SALES")
    return manager, owner, colleague, account


def test_a_manager_transfers_an_account_to_a_rep_of_their_team_with_history(now):
    manager, owner, colleague, account = team()
    rule_set = RuleSetFactory()
    ownership = transfer_ownership(
        account=account, to_rep=colleague, reason="rebalancing the book", actor=Actor(rep=manager), now=now
    )
    assert ownership.rep == colleague
    assert ownership.reason == "MANUAL"
    assert ownership.rule_set_version == rule_set.version
    assert Ownership.objects.filter(account=account, ended_at__isnull=True).get() == ownership
    change = OwnershipChange.objects.get(account=account)
    assert (change.from_rep, change.to_rep) == (owner, colleague)
    assert change.actor == manager.email
    assert change.reason == f"transferred to {colleague.name}: rebalancing the book"


def test_a_lead_can_be_transferred_too(now):
    manager = ManagerFactory()
    lead = LeadFactory()
    to_rep = RepFactory(manager=manager)
    ownership = transfer_ownership(lead=lead, to_rep=to_rep, reason="language", actor=Actor(rep=manager), now=now)
    assert (ownership.lead, ownership.rep) == (lead, to_rep)
    assert OwnershipChange.objects.get(lead=lead).from_rep is None


def test_a_manager_two_levels_up_may_transfer(now):
    director = ManagerFactory()
    manager, _, colleague, account = team()
    manager.manager = director
    manager.save()
    transfer_ownership(account=account, to_rep=colleague, reason="coverage", actor=Actor(rep=director), now=now)
    assert Ownership.objects.get(account=account, ended_at__isnull=True).rep == colleague


def test_a_transfer_in_another_role_leaves_the_sales_owner(now):
    manager, owner, colleague, account = team()
    transfer_ownership(
        account=account,
        to_rep=colleague,
        role="CUSTOMER_SUCCESS",
        reason="onboarding",
        actor=Actor(rep=manager),
        now=now,
    )
    current = dict(Ownership.objects.filter(account=account, ended_at__isnull=True).values_list("role", "rep_id"))
    assert current == {"SALES": owner.pk, "CUSTOMER_SUCCESS": colleague.pk}


def test_revops_transfers_anything(now):
    _, _, _, account = team()
    outsider = RepFactory()
    revops = RepFactory(role="REVOPS")
    transfer_ownership(account=account, to_rep=outsider, reason="territory change", actor=Actor(rep=revops), now=now)
    assert Ownership.objects.get(account=account, ended_at__isnull=True).rep == outsider


def test_reps_cannot_transfer_ownership(now):
    _, owner, colleague, account = team()
    with pytest.raises(ServiceError) as err:
        transfer_ownership(account=account, to_rep=colleague, reason="please", actor=Actor(rep=owner), now=now)
    assert err.value.code == ErrorCode.FORBIDDEN
    assert Ownership.objects.get(account=account, ended_at__isnull=True).rep == owner


def test_a_manager_cannot_move_records_between_reps_outside_their_team(now):
    _, _, _, account = team()
    other_manager = ManagerFactory()
    with pytest.raises(ServiceError) as err:
        transfer_ownership(
            account=account, to_rep=RepFactory(), reason="mine now", actor=Actor(rep=other_manager), now=now
        )
    assert err.value.code == ErrorCode.FORBIDDEN


def test_a_transfer_needs_a_reason(now):
    manager, _, colleague, account = team()
    with pytest.raises(ServiceError) as err:
        transfer_ownership(account=account, to_rep=colleague, reason="  ", actor=Actor(rep=manager), now=now)
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "reason")


@pytest.mark.parametrize("status", ["DEPARTED", "OUT_OF_OFFICE"])
def test_the_destination_must_be_an_active_rep(now, status):
    manager, owner, _, account = team()
    away = RepFactory(manager=manager, status=status)
    with pytest.raises(ServiceError) as err:
        transfer_ownership(account=account, to_rep=away, reason="cover", actor=Actor(rep=manager), now=now)
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "toRepId")
    assert Ownership.objects.get(account=account, ended_at__isnull=True).rep == owner


def test_transferring_to_the_current_owner_is_invalid(now):
    manager, owner, _, account = team()
    with pytest.raises(ServiceError) as err:
        transfer_ownership(account=account, to_rep=owner, reason="same", actor=Actor(rep=manager), now=now)
    assert err.value.code == ErrorCode.INVALID
    assert not OwnershipChange.objects.filter(account=account).exists()


def test_the_partner_role_is_not_transferred_to_a_rep(now):
    manager, _, colleague, account = team()
    with pytest.raises(ServiceError) as err:
        transfer_ownership(
            account=account, to_rep=colleague, role="PARTNER", reason="x", actor=Actor(rep=manager), now=now
        )
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "role")


def test_a_transfer_names_exactly_one_record(now):
    manager, _, colleague, account = team()
    with pytest.raises(ServiceError) as err:
        transfer_ownership(
            account=account, lead=LeadFactory(), to_rep=colleague, reason="x", actor=Actor(rep=manager), now=now
        )
    assert err.value.code == ErrorCode.INVALID


def test_a_managers_team_is_every_rep_whose_chain_of_managers_reaches_them():
    director = ManagerFactory()
    manager = ManagerFactory(manager=director)
    rep = RepFactory(manager=manager)
    sibling = RepFactory(manager=director)
    RepFactory()  # elsewhere
    assert team_rep_ids(director) == {manager.pk, rep.pk, sibling.pk}
    assert team_rep_ids(manager) == {rep.pk}
    assert team_rep_ids(rep) == set()


def test_a_cycle_in_the_org_chart_does_not_loop_forever():
    a = ManagerFactory()
    b = ManagerFactory(manager=a)
    a.manager = b
    a.save()
    assert team_rep_ids(a) == {b.pk}
    assert manager_chain(a) == [b]

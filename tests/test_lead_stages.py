"""Lead stages: forward along the chain, never back, WON/LOST final, pause and reactivate."""

from __future__ import annotations

import pytest

from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from routing.models import Lead, Ownership
from routing.services.activity import check_stage_transition, update_lead_stage
from tests.factories import LeadFactory, ManagerFactory, RepFactory


def owned_lead(stage="NEW", **kwargs):
    manager = ManagerFactory()
    owner = RepFactory(manager=manager)
    lead = LeadFactory(stage=stage, **kwargs)
    Ownership.objects.create(lead=lead, role="SALES", rep=owner, reason="TERRITORY", since=lead.received_at)
    return lead, owner, manager


ALLOWED = [
    ("NEW", "CONTACTED"),
    ("CONTACTED", "QUALIFIED"),
    ("NEW", "PROPOSAL"),
    ("QUALIFIED", "NEGOTIATION"),
    ("NEGOTIATION", "WON"),
    ("NEW", "WON"),
    ("NEW", "LOST"),
    ("NEGOTIATION", "LOST"),
    ("PROPOSAL", "PAUSED"),
]

REFUSED = [
    ("CONTACTED", "NEW", "stages only move forward"),
    ("NEGOTIATION", "QUALIFIED", "stages only move forward"),
    ("WON", "LOST", "WON is final"),
    ("LOST", "NEW", "LOST is final"),
    ("WON", "PAUSED", "WON is final"),
    ("LOST", "PAUSED", "LOST is final"),
    ("QUALIFIED", "QUALIFIED", "already there"),
]


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_leads_move_forward_one_or_more_steps_or_close_or_pause(current, target):
    check_stage_transition(current, target)


@pytest.mark.parametrize(("current", "target", "why"), REFUSED)
def test_backward_moves_and_moves_out_of_won_or_lost_are_invalid_transitions_naming_both_stages(current, target, why):
    with pytest.raises(ServiceError) as err:
        check_stage_transition(current, target)
    assert err.value.code == ErrorCode.INVALID_TRANSITION
    assert f"from {current} to {target}" in err.value.message
    assert why in err.value.message


def test_a_paused_lead_is_reactivated_only_to_the_stage_it_was_paused_in():
    check_stage_transition("PAUSED", "QUALIFIED", stage_before_pause="QUALIFIED")
    for target in ("NEW", "PROPOSAL", "WON", "LOST"):
        with pytest.raises(ServiceError) as err:
            check_stage_transition("PAUSED", target, stage_before_pause="QUALIFIED")
        assert err.value.code == ErrorCode.INVALID_TRANSITION
        assert "(QUALIFIED)" in err.value.message


def test_an_unknown_stage_is_invalid():
    with pytest.raises(ServiceError) as err:
        check_stage_transition("NEW", "SIGNED")
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "stage")


@pytest.mark.django_db
def test_the_owner_moves_the_lead_forward(now):
    lead, owner, _ = owned_lead()
    updated = update_lead_stage(lead_id=lead.pk, stage="QUALIFIED", actor=Actor(rep=owner), now=now)
    assert updated.stage == "QUALIFIED"
    assert Lead.objects.get(pk=lead.pk).stage == "QUALIFIED"


@pytest.mark.django_db
def test_pausing_remembers_the_stage_and_reactivation_restores_it(now):
    lead, owner, _ = owned_lead(stage="PROPOSAL")
    paused = update_lead_stage(lead_id=lead.pk, stage="PAUSED", actor=Actor(rep=owner), now=now)
    assert (paused.stage, paused.stage_before_pause) == ("PAUSED", "PROPOSAL")
    with pytest.raises(ServiceError):
        update_lead_stage(lead_id=lead.pk, stage="NEW", actor=Actor(rep=owner), now=now)
    active = update_lead_stage(lead_id=lead.pk, stage="PROPOSAL", actor=Actor(rep=owner), now=now)
    assert (active.stage, active.stage_before_pause) == ("PROPOSAL", "")


@pytest.mark.django_db
def test_an_invalid_move_on_a_lead_changes_nothing(now):
    lead, owner, _ = owned_lead(stage="WON")
    with pytest.raises(ServiceError) as err:
        update_lead_stage(lead_id=lead.pk, stage="NEGOTIATION", actor=Actor(rep=owner), now=now)
    assert err.value.code == ErrorCode.INVALID_TRANSITION
    assert "from WON to NEGOTIATION" in err.value.message
    assert Lead.objects.get(pk=lead.pk).stage == "WON"


@pytest.mark.django_db
def test_the_owners_manager_and_revops_may_change_the_stage(now):
    lead, _, manager = owned_lead()
    director = ManagerFactory()
    manager.manager = director
    manager.save()
    update_lead_stage(lead_id=lead.pk, stage="CONTACTED", actor=Actor(rep=manager), now=now)
    update_lead_stage(lead_id=lead.pk, stage="QUALIFIED", actor=Actor(rep=director), now=now)
    update_lead_stage(lead_id=lead.pk, stage="LOST", actor=Actor(rep=RepFactory(role="REVOPS")), now=now)
    assert Lead.objects.get(pk=lead.pk).stage == "LOST"


@pytest.mark.django_db
def test_another_rep_or_another_teams_manager_cannot_change_the_stage(now):
    lead, _, _ = owned_lead()
    for actor in (Actor(rep=RepFactory()), Actor(rep=ManagerFactory())):
        with pytest.raises(ServiceError) as err:
            update_lead_stage(lead_id=lead.pk, stage="CONTACTED", actor=actor, now=now)
        assert err.value.code == ErrorCode.FORBIDDEN
    assert Lead.objects.get(pk=lead.pk).stage == "NEW"


@pytest.mark.django_db
def test_an_unowned_lead_is_staged_by_managers_only(now):
    lead = LeadFactory()
    with pytest.raises(ServiceError) as err:
        update_lead_stage(lead_id=lead.pk, stage="LOST", actor=Actor(rep=RepFactory()), now=now)
    assert err.value.code == ErrorCode.FORBIDDEN
    assert update_lead_stage(lead_id=lead.pk, stage="LOST", actor=Actor(rep=ManagerFactory()), now=now).stage == "LOST"


@pytest.mark.django_db
def test_a_missing_lead_is_not_found(now):
    with pytest.raises(ServiceError) as err:
        update_lead_stage(lead_id=987654, stage="LOST", actor=Actor(rep=ManagerFactory()), now=now)
    assert err.value.code == ErrorCode.NOT_FOUND

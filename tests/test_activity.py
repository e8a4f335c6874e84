"""Activity: who may log it, and what it moves (first touch, last activity, claims, registrations)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from routing.models import Activity, Lead, Ownership
from routing.services.activity import log_activity
from routing.services.registrations import review_deal_registration
from tests.factories import (
    AccountFactory,
    DealRegistrationFactory,
    LeadFactory,
    ManagerFactory,
    OwnershipFactory,
    PartnerUserFactory,
    RepFactory,
    RuleSetFactory,
)

pytestmark = pytest.mark.django_db


def owned_lead(now):
    manager = ManagerFactory()
    owner = RepFactory(manager=manager)
    lead = LeadFactory(received_at=now - timedelta(days=2))
    Ownership.objects.create(lead=lead, role="SALES", rep=owner, reason="TERRITORY", since=lead.received_at)
    return lead, owner, manager


def test_the_first_activity_sets_the_leads_first_touch_and_last_activity(now):
    lead, owner, _ = owned_lead(now)
    when = now - timedelta(hours=3)
    activity = log_activity(
        lead_id=lead.pk, kind="CALL", occurred_at=when, note=" left a voicemail ", actor=Actor(rep=owner), now=now
    )
    assert (activity.rep, activity.lead, activity.kind, activity.note) == (owner, lead, "CALL", "left a voicemail")
    lead.refresh_from_db()
    assert lead.first_touch_at == when
    assert lead.last_activity_at == when


def test_later_activity_moves_last_activity_but_not_the_first_touch(now):
    lead, owner, _ = owned_lead(now)
    first, later = now - timedelta(hours=5), now - timedelta(hours=1)
    log_activity(lead_id=lead.pk, kind="EMAIL", occurred_at=first, actor=Actor(rep=owner), now=now)
    log_activity(lead_id=lead.pk, kind="MEETING", occurred_at=later, actor=Actor(rep=owner), now=now)
    lead.refresh_from_db()
    assert (lead.first_touch_at, lead.last_activity_at) == (first, later)


def test_activity_logged_late_never_moves_last_activity_back(now):
    lead, owner, _ = owned_lead(now)
    recent, older = now - timedelta(hours=1), now - timedelta(hours=6)
    log_activity(lead_id=lead.pk, kind="EMAIL", occurred_at=recent, actor=Actor(rep=owner), now=now)
    log_activity(lead_id=lead.pk, kind="NOTE", occurred_at=older, actor=Actor(rep=owner), now=now)
    lead.refresh_from_db()
    # The first touch is the earliest activity, whenever it was logged.
    assert (lead.first_touch_at, lead.last_activity_at) == (older, recent)


def test_occurred_at_defaults_to_now(now):
    lead, owner, _ = owned_lead(now)
    assert log_activity(lead_id=lead.pk, kind="NOTE", actor=Actor(rep=owner), now=now).occurred_at == now


def test_activity_in_the_future_is_invalid(now):
    lead, owner, _ = owned_lead(now)
    with pytest.raises(ServiceError) as err:
        log_activity(
            lead_id=lead.pk, kind="CALL", occurred_at=now + timedelta(minutes=1), actor=Actor(rep=owner), now=now
        )
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "occurredAt")
    assert not Activity.objects.exists()


def test_only_the_owner_or_their_manager_logs_activity_on_an_owned_lead(now):
    lead, _, manager = owned_lead(now)
    with pytest.raises(ServiceError) as err:
        log_activity(lead_id=lead.pk, kind="CALL", actor=Actor(rep=RepFactory()), now=now)
    assert err.value.code == ErrorCode.FORBIDDEN
    assert Lead.objects.get(pk=lead.pk).first_touch_at is None
    log_activity(lead_id=lead.pk, kind="CALL", actor=Actor(rep=manager), now=now)
    assert Activity.objects.get().rep == manager


def test_any_rep_may_log_activity_on_an_unowned_lead(now):
    lead = LeadFactory(received_at=now - timedelta(days=1))
    log_activity(lead_id=lead.pk, kind="EMAIL", actor=Actor(rep=RepFactory()), now=now)
    assert Lead.objects.get(pk=lead.pk).first_touch_at == now


def test_partners_and_departed_reps_cannot_log_activity(now):
    account = AccountFactory()
    for actor in (Actor(partner_user=PartnerUserFactory()), Actor(rep=RepFactory(status="DEPARTED"))):
        with pytest.raises(ServiceError) as err:
            log_activity(account_id=account.pk, kind="CALL", actor=actor, now=now)
        assert err.value.code == ErrorCode.FORBIDDEN


def test_activity_is_on_a_lead_or_an_account_and_of_a_known_kind(now):
    rep = RepFactory()
    with pytest.raises(ServiceError) as err:
        log_activity(kind="CALL", actor=Actor(rep=rep), now=now)
    assert err.value.code == ErrorCode.INVALID
    with pytest.raises(ServiceError) as err:
        log_activity(account_id=AccountFactory().pk, kind="LUNCH", actor=Actor(rep=rep), now=now)
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "kind")


def test_a_lead_of_another_account_is_refused(now):
    rep = RepFactory()
    lead = LeadFactory(account=AccountFactory(), received_at=now - timedelta(days=1))
    with pytest.raises(ServiceError) as err:
        log_activity(lead_id=lead.pk, account_id=AccountFactory().pk, kind="CALL", actor=Actor(rep=rep), now=now)
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "accountId")


def test_missing_records_are_not_found(now):
    rep = RepFactory()
    for kwargs in ({"lead_id": 99999}, {"account_id": 99999}):
        with pytest.raises(ServiceError) as err:
            log_activity(kind="CALL", actor=Actor(rep=rep), now=now, **kwargs)
        assert err.value.code == ErrorCode.NOT_FOUND


def test_activity_on_an_account_renews_the_actors_claim_only(now):
    RuleSetFactory(policy={"claim_days": 30})
    claimant, other = RepFactory(), RepFactory()
    account = AccountFactory()
    claim = OwnershipFactory(
        account=account,
        rep=claimant,
        reason="ACCOUNT_CLAIM",
        since=now - timedelta(days=25),
        expires_at=now + timedelta(days=5),
    )
    with pytest.raises(ServiceError) as err:
        log_activity(account_id=account.pk, kind="CALL", actor=Actor(rep=other), now=now)
    assert (err.value.code, err.value.field) == (ErrorCode.FORBIDDEN, "accountId")
    claim.refresh_from_db()
    assert claim.expires_at == now + timedelta(days=5)
    log_activity(account_id=account.pk, kind="CALL", actor=Actor(rep=claimant), now=now)
    claim.refresh_from_db()
    assert claim.expires_at == now + timedelta(days=30)


def test_activity_on_an_account_renews_its_approved_registration_and_the_partners_ownership(now):
    RuleSetFactory(policy={"registration_days": 90})
    account = AccountFactory()
    registration = DealRegistrationFactory(account=account, submitted_at=now - timedelta(days=80))
    review_deal_registration(
        registration_id=registration.pk,
        approve=True,
        reason=None,
        actor=Actor(rep=ManagerFactory()),
        now=now - timedelta(days=80),
    )
    log_activity(account_id=account.pk, kind="MEETING", actor=Actor(rep=RepFactory()), now=now)
    registration.refresh_from_db()
    assert registration.last_activity_at == now
    assert registration.expires_at == now + timedelta(days=90)
    partner_owner = Ownership.objects.get(account=account, role="PARTNER", ended_at__isnull=True)
    assert partner_owner.expires_at == now + timedelta(days=90)


def test_activity_does_not_renew_a_pending_or_lapsed_registration(now):
    account = AccountFactory()
    pending = DealRegistrationFactory(account=account, expires_at=now + timedelta(days=3))
    lapsed = DealRegistrationFactory(account=account, status="APPROVED", expires_at=now - timedelta(days=1))
    log_activity(account_id=account.pk, kind="CALL", actor=Actor(rep=RepFactory()), now=now)
    pending.refresh_from_db()
    lapsed.refresh_from_db()
    assert (pending.expires_at, pending.last_activity_at) == (now + timedelta(days=3), None)
    assert (lapsed.expires_at, lapsed.last_activity_at) == (now - timedelta(days=1), None)

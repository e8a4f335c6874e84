"""Partner deal registrations: matched at submission, conflicts noted, reviewed, expired."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from routing.models import Account, AccountDomain, DealRegistration, Ownership, OwnershipChange
from routing.services.registrations import (
    DealRegistrationData,
    expire_registrations,
    register_deal,
    review_deal_registration,
)
from tests.factories import (
    AccountFactory,
    DealRegistrationFactory,
    ManagerFactory,
    OpportunityFactory,
    OwnershipFactory,
    PartnerFactory,
    PartnerUserFactory,
    RepFactory,
    RuleSetFactory,
)

pytestmark = pytest.mark.django_db


def partner_actor(**kwargs):
    return Actor(partner_user=PartnerUserFactory(**kwargs))


def manager_actor():
    return Actor(rep=ManagerFactory())


def kinds(registration):
    return [c["kind"] for c in registration.conflicts]


# --- submission ----------------------------------------------------------------------------


def test_a_registration_is_matched_to_the_account_by_its_domain_and_waits_pending(now):
    account = AccountFactory(name="Acme Industries", domains=["acme.com"])
    actor = partner_actor()
    registration = register_deal(
        data=DealRegistrationData(company="ACME", domain="https://www.acme.com/", estimated_value=Decimal("5000")),
        actor=actor,
        now=now,
    )
    assert registration.account == account
    assert registration.status == "PENDING"
    assert registration.partner_id == actor.partner_id
    assert registration.submitted_by == actor.partner_user
    assert registration.domain == "acme.com"
    assert registration.submitted_at == now
    assert registration.expires_at == now + timedelta(days=90)
    assert registration.conflicts == []


def test_a_registration_is_matched_by_company_name_when_no_domain_is_given(now):
    account = AccountFactory(name="Globex Corporation")
    registration = register_deal(data=DealRegistrationData(company="Globex Corp."), actor=partner_actor(), now=now)
    assert registration.account == account


def test_an_unmatched_registration_creates_a_prospect_account_from_the_registration(now):
    registration = register_deal(
        data=DealRegistrationData(company="Initech GmbH", domain="initech.de", country="Germany"),
        actor=partner_actor(),
        now=now,
    )
    account = registration.account
    assert account.type == "PROSPECT"
    assert account.origin == "REGISTRATION"
    assert account.name == "Initech GmbH"
    assert account.normalized_name == "initech"
    assert account.country == "DE"
    assert list(AccountDomain.objects.filter(account=account).values_list("domain", flat=True)) == ["initech.de"]


def test_the_registration_lifetime_comes_from_the_published_rule_set(now):
    RuleSetFactory(policy={"registration_days": 45})
    registration = register_deal(data=DealRegistrationData(company="Hooli"), actor=partner_actor(), now=now)
    assert registration.expires_at == now + timedelta(days=45)


def test_only_partner_users_register_deals(now):
    with pytest.raises(ServiceError) as err:
        register_deal(data=DealRegistrationData(company="Hooli"), actor=Actor(rep=RepFactory()), now=now)
    assert err.value.code == ErrorCode.FORBIDDEN


def test_a_registration_needs_a_company(now):
    with pytest.raises(ServiceError) as err:
        register_deal(data=DealRegistrationData(company="  "), actor=partner_actor(), now=now)
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "company")


def test_a_free_mail_domain_is_not_a_company_domain(now):
    with pytest.raises(ServiceError) as err:
        register_deal(data=DealRegistrationData(company="Hooli", domain="gmail.com"), actor=partner_actor(), now=now)
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "domain")
    assert not Account.objects.exists()


def test_a_negative_estimated_value_is_invalid(now):
    with pytest.raises(ServiceError) as err:
        register_deal(
            data=DealRegistrationData(company="Hooli", estimated_value=Decimal("-1")), actor=partner_actor(), now=now
        )
    assert err.value.field == "estimatedValue"


def test_a_partner_cannot_register_the_same_account_twice_while_the_first_is_live(now):
    AccountFactory(domains=["acme.com"])
    actor = partner_actor()
    first = register_deal(data=DealRegistrationData(company="Acme", domain="acme.com"), actor=actor, now=now)
    with pytest.raises(ServiceError) as err:
        register_deal(data=DealRegistrationData(company="Acme", domain="acme.com"), actor=actor, now=now)
    assert err.value.code == ErrorCode.CONFLICT
    assert f"#{first.pk}" in err.value.message


def test_an_open_opportunity_on_the_account_is_a_conflict_for_the_reviewer(now):
    account = AccountFactory(domains=["acme.com"])
    OpportunityFactory(account=account, name="Platform deal", status="OPEN")
    registration = register_deal(
        data=DealRegistrationData(company="Acme", domain="acme.com"), actor=partner_actor(), now=now
    )
    assert kinds(registration) == ["OPEN_OPPORTUNITY"]
    assert "Platform deal" in registration.conflicts[0]["detail"]


def test_a_direct_reps_valid_claim_is_a_conflict_for_the_reviewer(now):
    account = AccountFactory(domains=["acme.com"])
    rep = RepFactory(name="Claire Claimant")
    OwnershipFactory(
        account=account,
        rep=rep,
        reason="ACCOUNT_CLAIM",
        since=now - timedelta(days=2),
        expires_at=now + timedelta(days=9),
    )
    registration = register_deal(
        data=DealRegistrationData(company="Acme", domain="acme.com"), actor=partner_actor(), now=now
    )
    assert kinds(registration) == ["ACCOUNT_CLAIM"]
    assert registration.conflicts[0]["rep_id"] == rep.pk
    assert "Claire Claimant" in registration.conflicts[0]["detail"]


def test_a_lapsed_claim_or_a_territory_owner_is_no_conflict(now):
    lapsed = AccountFactory(domains=["lapsed.com"])
    OwnershipFactory(account=lapsed, reason="ACCOUNT_CLAIM", since=now, expires_at=now - timedelta(seconds=1))
    territory = AccountFactory(domains=["territory.com"])
    OwnershipFactory(account=territory, reason="TERRITORY", since=now)
    actor = partner_actor()
    for domain in ("lapsed.com", "territory.com"):
        registration = register_deal(data=DealRegistrationData(company="X", domain=domain), actor=actor, now=now)
        assert registration.conflicts == []


def test_another_partners_pending_or_approved_registration_is_a_conflict(now):
    account = AccountFactory(domains=["acme.com"])
    DealRegistrationFactory(account=account, status="APPROVED", partner__name="First Partner")
    DealRegistrationFactory(account=account, status="PENDING", partner__name="Second Partner")
    DealRegistrationFactory(account=account, status="REJECTED", partner__name="Rejected Partner")
    registration = register_deal(
        data=DealRegistrationData(company="Acme", domain="acme.com"), actor=partner_actor(), now=now
    )
    assert kinds(registration) == ["PARTNER_REGISTRATION", "PARTNER_REGISTRATION"]
    details = " ".join(c["detail"] for c in registration.conflicts)
    assert "First Partner" in details
    assert "Second Partner" in details
    assert "Rejected Partner" not in details


def test_a_customer_account_is_a_conflict_for_the_reviewer(now):
    AccountFactory(domains=["acme.com"], type="CUSTOMER")
    registration = register_deal(
        data=DealRegistrationData(company="Acme", domain="acme.com"), actor=partner_actor(), now=now
    )
    assert kinds(registration) == ["CUSTOMER"]


# --- review --------------------------------------------------------------------------------


def test_approval_makes_the_partner_the_partner_owner_with_history(now):
    RuleSetFactory(policy={"registration_days": 60})
    registration = DealRegistrationFactory(submitted_at=now - timedelta(days=1))
    manager = manager_actor()
    approved = review_deal_registration(
        registration_id=registration.pk, approve=True, reason="good fit", actor=manager, now=now
    )
    assert approved.status == "APPROVED"
    assert approved.decided_at == now
    assert approved.decided_by == manager.rep
    assert approved.expires_at == now + timedelta(days=60)
    owner = Ownership.objects.get(account=registration.account, role="PARTNER", ended_at__isnull=True)
    assert owner.partner == registration.partner
    assert owner.reason == "DEAL_REGISTRATION"
    assert owner.expires_at == now + timedelta(days=60)
    change = OwnershipChange.objects.get(account=registration.account, role="PARTNER")
    assert change.to_partner == registration.partner
    assert change.actor == manager.rep.email
    assert f"#{registration.pk} approved: good fit" in change.reason


def test_a_second_approval_for_the_same_account_is_a_conflict_not_an_error(now):
    account = AccountFactory()
    first = DealRegistrationFactory(account=account, submitted_at=now)
    second = DealRegistrationFactory(account=account, submitted_at=now)
    review_deal_registration(registration_id=first.pk, approve=True, reason=None, actor=manager_actor(), now=now)
    with pytest.raises(ServiceError) as err:
        review_deal_registration(registration_id=second.pk, approve=True, reason=None, actor=manager_actor(), now=now)
    assert err.value.code == ErrorCode.CONFLICT
    second.refresh_from_db()
    assert second.status == "PENDING"
    assert Ownership.objects.get(account=account, role="PARTNER").partner == first.partner


def test_a_partner_cannot_be_approved_over_another_partners_earlier_pending_registration(now):
    account = AccountFactory()
    first = DealRegistrationFactory(account=account, submitted_at=now - timedelta(hours=2))
    later = DealRegistrationFactory(account=account, submitted_at=now - timedelta(hours=1))
    with pytest.raises(ServiceError) as err:
        review_deal_registration(registration_id=later.pk, approve=True, reason=None, actor=manager_actor(), now=now)
    assert err.value.code == ErrorCode.CONFLICT
    assert first.partner.name in err.value.message and "first" in err.value.message
    assert not Ownership.objects.filter(account=account, role="PARTNER").exists()
    manager = manager_actor()
    review_deal_registration(registration_id=first.pk, approve=False, reason="no budget", actor=manager, now=now)
    review_deal_registration(registration_id=later.pk, approve=True, reason=None, actor=manager_actor(), now=now)
    assert Ownership.objects.get(account=account, role="PARTNER", ended_at__isnull=True).partner == later.partner


def test_a_direct_reps_earlier_valid_claim_wins_over_a_later_registration(now):
    account = AccountFactory()
    OwnershipFactory(
        account=account,
        rep=RepFactory(name="Early Bird"),
        reason="ACCOUNT_CLAIM",
        since=now - timedelta(days=3),
        expires_at=now + timedelta(days=20),
    )
    registration = DealRegistrationFactory(account=account, submitted_at=now - timedelta(days=1))
    with pytest.raises(ServiceError) as err:
        review_deal_registration(
            registration_id=registration.pk, approve=True, reason=None, actor=manager_actor(), now=now
        )
    assert err.value.code == ErrorCode.CONFLICT
    assert "Early Bird" in err.value.message
    assert "earlier valid claim wins" in err.value.message
    registration.refresh_from_db()
    assert registration.status == "PENDING"
    assert not Ownership.objects.filter(account=account, role="PARTNER").exists()


def test_a_registration_submitted_before_a_claim_can_be_approved(now):
    account = AccountFactory()
    registration = DealRegistrationFactory(account=account, submitted_at=now - timedelta(days=3))
    OwnershipFactory(
        account=account, reason="ACCOUNT_CLAIM", since=now - timedelta(days=1), expires_at=now + timedelta(days=20)
    )
    approved = review_deal_registration(
        registration_id=registration.pk, approve=True, reason=None, actor=manager_actor(), now=now
    )
    assert approved.status == "APPROVED"


def test_a_lapsed_earlier_claim_does_not_block_approval(now):
    account = AccountFactory()
    OwnershipFactory(
        account=account, reason="ACCOUNT_CLAIM", since=now - timedelta(days=40), expires_at=now - timedelta(days=10)
    )
    registration = DealRegistrationFactory(account=account, submitted_at=now - timedelta(days=1))
    approved = review_deal_registration(
        registration_id=registration.pk, approve=True, reason=None, actor=manager_actor(), now=now
    )
    assert approved.status == "APPROVED"


def test_rejection_needs_a_reason(now):
    registration = DealRegistrationFactory()
    with pytest.raises(ServiceError) as err:
        review_deal_registration(
            registration_id=registration.pk, approve=False, reason=" ", actor=manager_actor(), now=now
        )
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "reason")
    registration.refresh_from_db()
    assert registration.status == "PENDING"


def test_rejection_records_the_reason_and_the_reviewer(now):
    registration = DealRegistrationFactory()
    manager = manager_actor()
    rejected = review_deal_registration(
        registration_id=registration.pk, approve=False, reason="direct deal in progress", actor=manager, now=now
    )
    assert (rejected.status, rejected.reason, rejected.decided_by) == (
        "REJECTED",
        "direct deal in progress",
        manager.rep,
    )
    assert not Ownership.objects.filter(account=registration.account).exists()


def test_only_a_pending_registration_can_be_reviewed(now):
    registration = DealRegistrationFactory(status="REJECTED")
    with pytest.raises(ServiceError) as err:
        review_deal_registration(
            registration_id=registration.pk, approve=True, reason=None, actor=manager_actor(), now=now
        )
    assert err.value.code == ErrorCode.INVALID_TRANSITION


def test_reps_and_partners_cannot_review_registrations(now):
    registration = DealRegistrationFactory()
    for actor in (Actor(rep=RepFactory()), partner_actor()):
        with pytest.raises(ServiceError) as err:
            review_deal_registration(registration_id=registration.pk, approve=True, reason=None, actor=actor, now=now)
        assert err.value.code == ErrorCode.FORBIDDEN


def test_reviewing_a_missing_registration_is_not_found(now):
    with pytest.raises(ServiceError) as err:
        review_deal_registration(registration_id=999999, approve=True, reason=None, actor=manager_actor(), now=now)
    assert err.value.code == ErrorCode.NOT_FOUND


def test_a_pending_registration_past_its_lifetime_cannot_be_approved(now):
    registration = DealRegistrationFactory(expires_at=now - timedelta(minutes=1))
    with pytest.raises(ServiceError) as err:
        review_deal_registration(
            registration_id=registration.pk, approve=True, reason=None, actor=manager_actor(), now=now
        )
    assert err.value.code == ErrorCode.EXPIRED


# --- expiry --------------------------------------------------------------------------------


def test_registrations_past_their_lifetime_expire_and_the_partner_ownership_ends_with_history(now):
    account = AccountFactory()
    approved = DealRegistrationFactory(account=account, submitted_at=now - timedelta(days=100))
    review_deal_registration(
        registration_id=approved.pk, approve=True, reason=None, actor=manager_actor(), now=now - timedelta(days=95)
    )
    pending = DealRegistrationFactory(expires_at=now - timedelta(days=1))
    fresh = DealRegistrationFactory(expires_at=now + timedelta(days=1))
    rejected = DealRegistrationFactory(status="REJECTED", expires_at=now - timedelta(days=1))
    assert expire_registrations(now=now, batch_size=1) == 2
    for registration in (approved, pending):
        registration.refresh_from_db()
        assert registration.status == "EXPIRED"
        assert registration.reason.startswith("expired: no progress since")
    for registration, status in ((fresh, "PENDING"), (rejected, "REJECTED")):
        registration.refresh_from_db()
        assert registration.status == status
    partner_owner = Ownership.objects.get(account=account, role="PARTNER")
    assert partner_owner.ended_at == now
    ended = OwnershipChange.objects.get(account=account, role="PARTNER", to_partner__isnull=True)
    assert ended.from_partner == approved.partner
    assert ended.actor == "registration expiry job"
    assert expire_registrations(now=now) == 0


def test_expiry_leaves_another_partners_ownership_alone(now):
    account = AccountFactory()
    other = PartnerFactory()
    holder = Ownership.objects.create(
        account=account, role="PARTNER", partner=other, reason="DEAL_REGISTRATION", since=now
    )
    DealRegistrationFactory(account=account, status="APPROVED", expires_at=now - timedelta(days=1))
    assert expire_registrations(now=now) == 1
    holder.refresh_from_db()
    assert holder.ended_at is None


CONCURRENT_APPROVALS = 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_approvals_on_one_account_give_one_approval_and_conflicts(now):
    account = AccountFactory()
    registrations = [DealRegistrationFactory(account=account, submitted_at=now) for _ in range(CONCURRENT_APPROVALS)]
    manager = ManagerFactory()
    barrier = threading.Barrier(CONCURRENT_APPROVALS)
    outcomes: list[object] = []
    lock = threading.Lock()

    def approve(registration_id):
        try:
            barrier.wait(timeout=30)
            review_deal_registration(
                registration_id=registration_id, approve=True, reason=None, actor=Actor(rep=manager), now=now
            )
            result: object = "APPROVED"
        except ServiceError as exc:
            result = exc.code
        except Exception as exc:
            result = exc
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=approve, args=(r.pk,)) for r in registrations]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(map(str, outcomes)) == sorted(["APPROVED"] + [str(ErrorCode.CONFLICT)] * (CONCURRENT_APPROVALS - 1))
    assert DealRegistration.objects.filter(account=account, status="APPROVED").count() == 1
    assert Ownership.objects.filter(account=account, role="PARTNER", ended_at__isnull=True).count() == 1

"""First-to-claim: the first valid claim wins, refusals say why, claims lapse without activity."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection

from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from routing.models import Ownership, OwnershipChange
from routing.services.claims import claim_account, expire_claims, renew_claim_on_activity
from tests.factories import (
    AccountFactory,
    DealRegistrationFactory,
    OpportunityFactory,
    OwnershipFactory,
    PartnerUserFactory,
    RepFactory,
    RuleSetFactory,
)


def claim_of(account, rep, now, days_left=30):
    """A current claim made earlier, lapsing `days_left` days after `now`."""
    return OwnershipFactory(
        account=account,
        rep=rep,
        role="SALES",
        reason="ACCOUNT_CLAIM",
        since=now - timedelta(days=1),
        expires_at=now + timedelta(days=days_left),
    )


@pytest.mark.django_db
def test_a_rep_claims_an_unowned_account_for_the_default_claim_lifetime(now):
    account = AccountFactory()
    rep = RepFactory()
    ownership = claim_account(account=account, actor=Actor(rep=rep), now=now)
    assert ownership.rep == rep
    assert ownership.role == "SALES"
    assert ownership.reason == "ACCOUNT_CLAIM"
    assert ownership.expires_at == now + timedelta(days=30)
    change = OwnershipChange.objects.get(account=account)
    assert change.to_rep == rep
    assert change.actor == rep.email
    assert change.step == "ACCOUNT_CLAIM"
    assert "claimed by" in change.reason


@pytest.mark.django_db
def test_the_claim_lifetime_comes_from_the_published_rule_set(now):
    rule_set = RuleSetFactory(policy={"claim_days": 10})
    ownership = claim_account(account=AccountFactory(), actor=Actor(rep=RepFactory()), now=now)
    assert ownership.expires_at == now + timedelta(days=10)
    assert ownership.rule_set_version == rule_set.version


@pytest.mark.django_db
def test_claiming_an_owned_account_is_refused_as_already_owned_naming_the_owner(now):
    account = AccountFactory()
    owner = RepFactory(name="Ada Owner")
    OwnershipFactory(account=account, rep=owner, role="SALES", since=now)
    with pytest.raises(ServiceError) as err:
        claim_account(account=account, actor=Actor(rep=RepFactory()), now=now)
    assert err.value.code == ErrorCode.ALREADY_OWNED
    assert "Ada Owner" in err.value.message


@pytest.mark.django_db
def test_claiming_your_own_account_again_is_refused(now):
    rep = RepFactory()
    account = AccountFactory()
    claim_account(account=account, actor=Actor(rep=rep), now=now)
    with pytest.raises(ServiceError) as err:
        claim_account(account=account, actor=Actor(rep=rep), now=now)
    assert err.value.code == ErrorCode.ALREADY_OWNED
    assert "you already own" in err.value.message


@pytest.mark.django_db
def test_a_customer_account_cannot_be_claimed_its_account_manager_owns_it(now):
    account = AccountFactory(type="CUSTOMER")
    with pytest.raises(ServiceError) as err:
        claim_account(account=account, actor=Actor(rep=RepFactory()), now=now)
    assert err.value.code == ErrorCode.ALREADY_OWNED
    assert "customer" in err.value.message
    assert not Ownership.objects.filter(account=account).exists()


@pytest.mark.django_db
def test_an_account_under_an_approved_deal_registration_cannot_be_claimed(now):
    account = AccountFactory()
    DealRegistrationFactory(account=account, status="APPROVED", partner__name="Channel Co")
    with pytest.raises(ServiceError) as err:
        claim_account(account=account, actor=Actor(rep=RepFactory()), now=now)
    assert err.value.code == ErrorCode.CONFLICT
    assert "Channel Co" in err.value.message


@pytest.mark.django_db
def test_a_pending_or_rejected_registration_does_not_block_a_claim(now):
    account = AccountFactory()
    DealRegistrationFactory(account=account, status="PENDING")
    DealRegistrationFactory(account=account, status="REJECTED")
    assert claim_account(account=account, actor=Actor(rep=RepFactory()), now=now).pk


@pytest.mark.django_db
def test_an_account_with_an_open_opportunity_cannot_be_claimed(now):
    account = AccountFactory()
    OpportunityFactory(account=account, name="Big renewal", status="OPEN")
    with pytest.raises(ServiceError) as err:
        claim_account(account=account, actor=Actor(rep=RepFactory()), now=now)
    assert err.value.code == ErrorCode.CONFLICT
    assert "Big renewal" in err.value.message


@pytest.mark.django_db
def test_a_closed_opportunity_does_not_block_a_claim(now):
    account = AccountFactory()
    OpportunityFactory(account=account, status="LOST")
    assert claim_account(account=account, actor=Actor(rep=RepFactory()), now=now).pk


@pytest.mark.django_db
def test_partners_cannot_claim_accounts(now):
    with pytest.raises(ServiceError) as err:
        claim_account(account=AccountFactory(), actor=Actor(partner_user=PartnerUserFactory()), now=now)
    assert err.value.code == ErrorCode.FORBIDDEN


@pytest.mark.django_db
def test_departed_reps_cannot_claim_accounts(now):
    with pytest.raises(ServiceError) as err:
        claim_account(account=AccountFactory(), actor=Actor(rep=RepFactory(status="DEPARTED")), now=now)
    assert err.value.code == ErrorCode.FORBIDDEN


@pytest.mark.django_db
def test_a_lapsed_claim_not_yet_swept_gives_way_to_a_new_claim_with_history(now):
    account = AccountFactory()
    old = claim_of(account, RepFactory(), now, days_left=-1)
    newcomer = RepFactory()
    ownership = claim_account(account=account, actor=Actor(rep=newcomer), now=now)
    assert ownership.rep == newcomer
    old.refresh_from_db()
    assert old.ended_at == now
    reasons = list(OwnershipChange.objects.filter(account=account).order_by("id").values_list("reason", flat=True))
    assert "lapsed" in reasons[0]
    assert "claimed by" in reasons[1]


@pytest.mark.django_db
def test_the_claimants_activity_renews_the_claim(now):
    rep = RepFactory()
    account = AccountFactory()
    claim = claim_of(account, rep, now, days_left=5)
    assert renew_claim_on_activity(account=account, rep=rep, occurred_at=now, now=now)
    claim.refresh_from_db()
    assert claim.expires_at == now + timedelta(days=30)


@pytest.mark.django_db
def test_someone_elses_activity_does_not_renew_a_claim(now):
    account = AccountFactory()
    claim = claim_of(account, RepFactory(), now, days_left=5)
    assert not renew_claim_on_activity(account=account, rep=RepFactory(), occurred_at=now, now=now)
    claim.refresh_from_db()
    assert claim.expires_at == now + timedelta(days=5)


@pytest.mark.django_db
def test_a_lapsed_claim_is_not_revived_by_activity(now):
    rep = RepFactory()
    account = AccountFactory()
    claim = claim_of(account, rep, now, days_left=-1)
    assert not renew_claim_on_activity(account=account, rep=rep, occurred_at=now, now=now)
    claim.refresh_from_db()
    assert claim.expires_at == now - timedelta(days=1)


@pytest.mark.django_db
def test_old_activity_never_shortens_a_claim(now):
    rep = RepFactory()
    account = AccountFactory()
    claim = claim_of(account, rep, now, days_left=29)
    assert not renew_claim_on_activity(account=account, rep=rep, occurred_at=now - timedelta(days=3), now=now)
    claim.refresh_from_db()
    assert claim.expires_at == now + timedelta(days=29)


@pytest.mark.django_db
def test_expire_claims_ends_every_lapsed_claim_with_history_in_batches(now):
    lapsed = [claim_of(AccountFactory(), RepFactory(), now, days_left=-d) for d in (1, 2, 3, 4, 5)]
    valid = claim_of(AccountFactory(), RepFactory(), now, days_left=1)
    assert expire_claims(now=now, batch_size=2) == 5
    for claim in lapsed:
        claim.refresh_from_db()
        assert claim.ended_at == now
        change = OwnershipChange.objects.get(account=claim.account, from_rep=claim.rep)
        assert change.to_rep is None
        assert change.actor == "claim expiry job"
        assert "lapsed" in change.reason
    valid.refresh_from_db()
    assert valid.ended_at is None
    assert expire_claims(now=now) == 0


@pytest.mark.django_db
def test_expire_claims_leaves_ownership_that_is_not_a_claim(now):
    territory_owner = OwnershipFactory(reason="TERRITORY", since=now, expires_at=now - timedelta(days=1))
    assert expire_claims(now=now) == 0
    territory_owner.refresh_from_db()
    assert territory_owner.ended_at is None


@pytest.mark.django_db
def test_a_claim_expires_after_the_rule_sets_lifetime_unless_the_claimant_works_it(now):
    RuleSetFactory(policy={"claim_days": 7})
    worked, idle = AccountFactory(), AccountFactory()
    rep = RepFactory()
    claim_account(account=worked, actor=Actor(rep=rep), now=now)
    claim_account(account=idle, actor=Actor(rep=rep), now=now)
    renew_claim_on_activity(account=worked, rep=rep, occurred_at=now + timedelta(days=5), now=now + timedelta(days=5))
    assert expire_claims(now=now + timedelta(days=8)) == 1
    assert Ownership.objects.get(account=worked).ended_at is None
    assert Ownership.objects.get(account=idle).ended_at == now + timedelta(days=8)


CLAIMANTS = 50


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_50_simultaneous_claims_exactly_one_wins_and_49_are_already_owned_20_runs_in_a_row(now):
    reps = [RepFactory() for _ in range(CLAIMANTS)]
    for run in range(20):
        account = AccountFactory()
        barrier = threading.Barrier(CLAIMANTS)
        outcomes: list[object] = []
        lock = threading.Lock()

        def attempt(rep, account=account, barrier=barrier, outcomes=outcomes, lock=lock):
            try:
                barrier.wait(timeout=30)
                result: object = claim_account(account=account, actor=Actor(rep=rep), now=now)
            except ServiceError as exc:
                result = exc.code
            except Exception as exc:  # any other exception is the bug this test looks for
                result = exc
            finally:
                connection.close()
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=attempt, args=(rep,)) for rep in reps]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        winners = [o for o in outcomes if isinstance(o, Ownership)]
        refused = [o for o in outcomes if o == ErrorCode.ALREADY_OWNED]
        others = [o for o in outcomes if not isinstance(o, Ownership) and o != ErrorCode.ALREADY_OWNED]
        assert others == [], f"run {run}: unexpected outcomes {others[:3]}"
        assert (len(winners), len(refused)) == (1, CLAIMANTS - 1), f"run {run}"
        current = Ownership.objects.filter(account=account, ended_at__isnull=True)
        assert current.count() == 1
        assert current.get().rep_id == winners[0].rep_id
        assert OwnershipChange.objects.filter(account=account).count() == 1

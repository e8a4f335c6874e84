"""The database itself guards the ownership invariants (on PostgreSQL and on SQLite)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from routing.models import Ownership, OwnershipChange
from tests.factories import AccountFactory, LeadFactory, OwnershipFactory, PartnerFactory, RepFactory

pytestmark = pytest.mark.django_db


def test_database_refuses_a_second_current_owner_of_an_account_in_one_role(now):
    account = AccountFactory()
    OwnershipFactory(account=account, role="SALES", since=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        # Straight to the ORM, around the service layer: the index must refuse it.
        Ownership.objects.create(account=account, role="SALES", rep=RepFactory(), reason="TERRITORY", since=now)


def test_database_refuses_a_second_current_owner_of_a_lead_in_one_role(now):
    lead = LeadFactory()
    Ownership.objects.create(lead=lead, role="SALES", rep=RepFactory(), reason="TERRITORY", since=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Ownership.objects.create(lead=lead, role="SALES", rep=RepFactory(), reason="TERRITORY", since=now)


def test_database_refuses_a_second_owner_through_raw_sql(now):
    account = AccountFactory()
    rep = RepFactory()
    OwnershipFactory(account=account, role="SALES", since=now)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO routing_ownership (account_id, role, rep_id, reason, since) VALUES (%s, %s, %s, %s, %s)",
            [account.pk, "SALES", rep.pk, "TERRITORY", now],
        )


def test_ended_ownership_does_not_block_a_new_owner(now):
    account = AccountFactory()
    first = OwnershipFactory(account=account, role="SALES", since=now)
    Ownership.objects.filter(pk=first.pk).update(ended_at=now)
    Ownership.objects.create(account=account, role="SALES", rep=RepFactory(), reason="TERRITORY", since=now)
    assert Ownership.objects.filter(account=account, ended_at__isnull=True).count() == 1


def test_one_owner_per_role_allows_different_roles(now):
    account = AccountFactory()
    OwnershipFactory(account=account, role="SALES", since=now)
    OwnershipFactory(account=account, role="ACCOUNT_MANAGER", since=now)
    Ownership.objects.create(
        account=account, role="PARTNER", partner=PartnerFactory(), reason="DEAL_REGISTRATION", since=now
    )
    assert account.ownerships.filter(ended_at__isnull=True).count() == 3


def test_ownership_is_of_an_account_or_a_lead_never_both(now):
    with pytest.raises(IntegrityError), transaction.atomic():
        Ownership.objects.create(
            account=AccountFactory(),
            lead=LeadFactory(),
            role="SALES",
            rep=RepFactory(),
            reason="TERRITORY",
            since=now,
        )


def test_ownership_is_held_by_a_rep_or_a_partner_never_both(now):
    with pytest.raises(IntegrityError), transaction.atomic():
        Ownership.objects.create(
            account=AccountFactory(),
            role="SALES",
            rep=RepFactory(),
            partner=PartnerFactory(),
            reason="TERRITORY",
            since=now,
        )


def test_ownership_history_refuses_updates_in_the_database(now):
    change = OwnershipChange.objects.create(
        at=now, account=AccountFactory(), role="SALES", to_rep=RepFactory(), reason="test", actor="test"
    )
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        OwnershipChange.objects.filter(pk=change.pk).update(reason="rewritten")
    with pytest.raises(ValueError, match="append-only"):
        change.reason = "rewritten"
        change.save()
    change.refresh_from_db()
    assert change.reason == "test"

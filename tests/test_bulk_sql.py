"""leadowner.bulk_sql.insert_objects: COPY on PostgreSQL, the same rows as bulk_create, the same errors."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from leadowner.bulk_sql import insert_objects
from leadowner.models import Notification
from routing.models import Lead, Opportunity, Ownership, OwnershipChange
from tests.factories import AccountFactory, RepFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def _lead(email: str) -> Lead:
    return Lead(
        email=email,
        email_domain="acme.example",
        company="Acme",
        country="US",
        employees=40,
        source="EVENT",
        received_at=NOW,
        decision={"step": "TERRITORY", "trace": ["a line with 'quotes', a \\ and a\ttab"], "owner": None},
    )


def _row(obj: object, *, without: tuple[str, ...] = ("id", "created_at")) -> dict[str, object]:
    model = type(obj)
    values = model.objects.filter(pk=obj.pk).values()[0]  # type: ignore[attr-defined]
    return {k: v for k, v in values.items() if k not in without}


def test_inserted_rows_are_the_rows_bulk_create_writes():
    copied, created = _lead("copy@acme.example"), _lead("orm@acme.example")
    insert_objects([copied])
    Lead.objects.bulk_create([created])
    assert copied.pk is not None and not copied._state.adding
    assert {**_row(copied), "email": "x"} == {**_row(created), "email": "x"}
    assert Lead.objects.get(pk=copied.pk).created_at is not None  # auto_now_add filled
    account, rep = AccountFactory(), RepFactory()
    opportunities = [
        Opportunity(account=account, name=f"Deal {i}", owner=rep, amount=Decimal("1200.50"), created_at=NOW)
        for i in range(2)
    ]
    insert_objects(opportunities[:1])
    Opportunity.objects.bulk_create(opportunities[1:])
    assert {**_row(opportunities[0]), "name": "x"} == {**_row(opportunities[1]), "name": "x"}


def test_foreign_keys_to_instances_saved_meanwhile_are_taken_up():
    rep = RepFactory()
    leads = [_lead(f"l{i}@acme.example") for i in range(3)]
    owners = [Ownership(lead=lead, role="SALES", rep=rep, reason="TERRITORY", since=NOW) for lead in leads]
    history = [OwnershipChange(at=NOW, lead=lead, role="SALES", to_rep=rep, step="TERRITORY") for lead in leads]
    notes = [
        Notification(recipient_rep=rep, kind="REASSIGNMENT", subject="s", body="b", lead=lead, created_at=NOW)
        for lead in leads
    ]
    for batch in (leads, owners, history, notes):
        insert_objects(batch)
    assert [o.lead_id for o in owners] == [lead.pk for lead in leads]
    assert sorted(Ownership.objects.values_list("lead_id", flat=True)) == sorted(lead.pk for lead in leads)
    assert OwnershipChange.objects.filter(lead__in=leads).count() == 3
    assert Notification.objects.filter(lead__in=leads, recipient_rep=rep).count() == 3


def test_a_second_current_owner_raises_djangos_integrity_error_and_writes_nothing():
    lead = _lead("dup@acme.example")
    insert_objects([lead])
    rep, other = RepFactory(), RepFactory()
    insert_objects([Ownership(lead=lead, role="SALES", rep=rep, reason="TERRITORY", since=NOW)])
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_objects([Ownership(lead=lead, role="SALES", rep=other, reason="TERRITORY", since=NOW)])
    assert list(Ownership.objects.filter(lead=lead).values_list("rep_id", flat=True)) == [rep.pk]
    insert_objects([])  # nothing to do

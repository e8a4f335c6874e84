"""leadowner.bulk_sql.insert_objects: COPY on PostgreSQL, the same rows as bulk_create, the same errors."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from leadowner.bulk_sql import insert_objects, insert_one, insert_together, update_from_values
from leadowner.models import Notification
from routing.models import Lead, LeadSource, Opportunity, Ownership, OwnershipChange
from tests.factories import AccountFactory, RepFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
N = 25  # rows per insert: above insert_objects' COPY threshold


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
    copied = [_lead(f"copy{i}@acme.example") for i in range(N)]  # enough to go by COPY
    copied[0].source = LeadSource.REFERRAL  # an enum member, not a plain str: prepared by its field
    created = [_lead(f"orm{i}@acme.example") for i in range(N)]
    created[0].source = LeadSource.REFERRAL
    insert_objects(copied)
    Lead.objects.bulk_create(created)
    assert all(c.pk is not None and not c._state.adding for c in copied)
    for mine, theirs in zip(copied, created, strict=True):
        assert {**_row(mine), "email": "x"} == {**_row(theirs), "email": "x"}
    assert Lead.objects.get(pk=copied[0].pk).source == "REFERRAL"
    assert Lead.objects.get(pk=copied[0].pk).created_at is not None  # auto_now_add filled
    account, rep = AccountFactory(), RepFactory()
    opportunities = [
        Opportunity(account=account, name=f"Deal {i}", owner=rep, amount=Decimal("1200.50"), created_at=NOW)
        for i in range(2 * N)
    ]
    insert_objects(opportunities[:N])
    Opportunity.objects.bulk_create(opportunities[N:])
    assert {**_row(opportunities[0]), "name": "x"} == {**_row(opportunities[N]), "name": "x"}


def test_foreign_keys_to_instances_saved_meanwhile_are_taken_up():
    rep = RepFactory()
    leads = [_lead(f"l{i}@acme.example") for i in range(N)]
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
    assert OwnershipChange.objects.filter(lead__in=leads).count() == N
    assert Notification.objects.filter(lead__in=leads, recipient_rep=rep).count() == N


def test_a_second_current_owner_raises_djangos_integrity_error_and_writes_nothing():
    leads = [_lead(f"dup{i}@acme.example") for i in range(N)]
    insert_objects(leads)
    rep, other = RepFactory(), RepFactory()
    insert_objects([Ownership(lead=leads[0], role="SALES", rep=rep, reason="TERRITORY", since=NOW)])
    with pytest.raises(IntegrityError), transaction.atomic():  # the last of N rows is a second owner
        insert_objects(
            [Ownership(lead=lead, role="SALES", rep=other, reason="TERRITORY", since=NOW) for lead in leads[1:]]
            + [Ownership(lead=leads[0], role="SALES", rep=other, reason="TERRITORY", since=NOW)]
        )
    assert list(Ownership.objects.values_list("lead_id", "rep_id")) == [(leads[0].pk, rep.pk)]
    insert_objects([])  # nothing to do


def test_insert_one_writes_the_row_save_writes_and_raises_djangos_integrity_error():
    mine, theirs = _lead("one@acme.example"), _lead("save@acme.example")
    mine.source = theirs.source = LeadSource.REFERRAL  # an enum member: prepared by its field
    insert_one(mine)
    theirs.save(force_insert=True)
    assert mine.pk is not None and not mine._state.adding and mine._state.db == "default"
    assert {**_row(mine), "email": "x"} == {**_row(theirs), "email": "x"}
    assert Lead.objects.get(pk=mine.pk).created_at is not None  # auto_now_add filled
    rep, other = RepFactory(), RepFactory()
    owner = Ownership(lead=mine, role="SALES", rep=rep, reason="TERRITORY", since=NOW)
    insert_one(owner)
    change = OwnershipChange(at=NOW, lead=mine, role="SALES", to_rep=rep, step="TERRITORY", reason="why")
    insert_one(change)
    assert (owner.lead_id, change.lead_id) == (mine.pk, mine.pk)
    assert _row(change, without=("id",))["reason"] == "why"
    with pytest.raises(IntegrityError), transaction.atomic():  # a second current owner: the index refuses it
        insert_one(Ownership(lead=mine, role="SALES", rep=other, reason="TERRITORY", since=NOW))
    assert list(Ownership.objects.values_list("lead_id", "rep_id")) == [(mine.pk, rep.pk)]


def test_insert_together_writes_the_rows_insert_one_writes_or_none_of_them():
    lead = _lead("together@acme.example")
    insert_one(lead)
    rep, other = RepFactory(), RepFactory()
    owner = Ownership(lead=lead, role="SALES", rep=rep, reason="TERRITORY", since=NOW)
    change = OwnershipChange(at=NOW, lead=lead, role="SALES", to_rep=rep, step="TERRITORY", reason="why")
    insert_together(owner, change)
    for obj in (owner, change):
        assert obj.pk is not None and not obj._state.adding and obj._state.db == "default"
    assert Ownership.objects.get(pk=owner.pk).lead_open  # the owner row's trigger saw the lead
    one_by_one = _lead("one-by-one@acme.example")
    insert_one(one_by_one)
    alone = OwnershipChange(at=NOW, lead=one_by_one, role="SALES", to_rep=rep, step="TERRITORY", reason="why")
    insert_one(alone)
    assert {**_row(change, without=("id",)), "lead_id": 0} == {**_row(alone, without=("id",)), "lead_id": 0}
    changes = OwnershipChange.objects.count()
    second = Ownership(lead=lead, role="SALES", rep=other, reason="TERRITORY", since=NOW)
    its_change = OwnershipChange(at=NOW, lead=lead, role="SALES", to_rep=other, step="TERRITORY", reason="again")
    with pytest.raises(IntegrityError), transaction.atomic():  # a second current owner: neither row lands
        insert_together(second, its_change)
    assert list(Ownership.objects.filter(lead=lead).values_list("rep_id", flat=True)) == [rep.pk]
    assert OwnershipChange.objects.count() == changes


@pytest.mark.parametrize("count", [3, N])  # one INSERT below the COPY threshold, COPY above it
def test_insert_rows_writes_the_values_given_even_into_auto_now_columns(count: int):
    """An import writes its own `now` into created_at/updated_at (auto_now columns the ORM would fill
    with the wall clock), whatever the chunk's size."""
    from django.db import connection

    from leadowner.bulk_sql import insert_rows
    from routing.models import Account

    columns = ["name", "normalized_name", "country", "subdivision", "city", "postal_code", "industry", "type"]
    columns += ["named_account", "origin", "created_at", "updated_at"]
    rows = [
        (f"Stamped {i}", f"stamped {i}", "US", "", "", "", "", "PROSPECT", False, "IMPORT", NOW, NOW)
        for i in range(count)
    ]
    ids = insert_rows(Account, columns, rows, returning_ids=True)
    assert len(ids) == count and len(set(ids)) == count
    stored = list(Account.objects.filter(pk__in=ids).order_by("pk").values_list("name", "created_at", "updated_at"))
    assert [name for name, *_ in stored] == [f"Stamped {i}" for i in range(count)]
    if connection.vendor == "postgresql":  # SQLite goes through bulk_create, which stamps auto_now itself
        assert {(created, updated) for _name, created, updated in stored} == {(NOW, NOW)}


# ---------------------------------------------------------------------------- update_from_values

ODD_TEXT = 'O\'Brien "Ltd" \\ back\tslash, 名前, émoji 🚀, %s and %(x)s'


@pytest.mark.postgres  # elsewhere update_from_values is bulk_update
def test_update_from_values_sets_each_rows_values_as_bulk_update_does() -> None:
    """Every kind of value a batch sends (text with quotes, backslashes, placeholders and
    non-ASCII, nested JSON, times, foreign keys, NULLs) arrives as bulk_update writes it."""
    acme = AccountFactory(name="Acme")
    ours = [_lead(f"a{n}@acme.example") for n in range(N)]
    theirs = [_lead(f"b{n}@acme.example") for n in range(N)]
    insert_objects([*ours, *theirs])
    for n, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
        for lead in (mine, other):
            lead.name = ODD_TEXT if n % 2 else ""
            lead.account = acme if n % 3 else None
            lead.decision = {"step": "TERRITORY", "trace": [ODD_TEXT, f"line {n}"], "owner": {"rep_id": n}, "x": None}
            lead.assigned_at = datetime(2025, 6, 2, 9, n, 7, 123456, tzinfo=UTC) if n % 4 else None
    fields = ["name", "account", "decision", "assigned_at"]
    updated = update_from_values(
        Lead,
        key=["id"],
        fields=fields,
        rows=[(lead.pk, lead.name, lead.account_id, lead.decision, lead.assigned_at) for lead in ours],
        objects=ours,
    )
    assert updated == N
    Lead.objects.bulk_update(theirs, fields)
    for mine, other in zip(ours, theirs, strict=True):
        assert _row(mine, without=("id", "email", "created_at")) == _row(other, without=("id", "email", "created_at"))
    stored = Lead.objects.get(pk=ours[1].pk)
    assert stored.name == ODD_TEXT and stored.decision["trace"][0] == ODD_TEXT and stored.account == acme
    assert stored.assigned_at == datetime(2025, 6, 2, 9, 1, 7, 123456, tzinfo=UTC)


@pytest.mark.postgres
def test_update_from_values_adds_with_increment_and_counts_the_rows_it_matched() -> None:
    acme = AccountFactory(name="Acme")
    rep = RepFactory()
    opportunities = [
        Opportunity(account=acme, name=f"Deal {n}", owner=rep, amount=Decimal("10.50"), created_at=NOW)
        for n in range(3)
    ]
    insert_objects(opportunities)
    rows = [(o.pk, Decimal("0.25") * n) for n, o in enumerate(opportunities)] + [(-1, Decimal(1))]
    assert update_from_values(Opportunity, key=["id"], fields=["amount"], rows=rows, increment=True) == 3
    amounts = sorted(Opportunity.objects.values_list("amount", flat=True))
    assert amounts == [Decimal("10.50"), Decimal("10.75"), Decimal("11.00")]


@pytest.mark.postgres
def test_update_from_values_sends_what_json_cannot_carry_as_the_column_reads_it() -> None:
    """Choices members, naive datetimes (made aware, as Django's write does) and a lazy string
    arrive as bulk_update writes them; a value JSON cannot carry inside a JSON document raises,
    as Django's own write of it would."""
    from django.utils.functional import lazy

    mine, other = _lead("a@acme.example"), _lead("b@acme.example")
    insert_objects([mine, other])
    lazy_text = lazy(lambda: "Ann Lazy", str)()
    naive = datetime(2025, 6, 2, 10, 30)
    with pytest.warns(RuntimeWarning):
        assert (
            update_from_values(
                Lead,
                key=["id"],
                fields=["name", "source", "assigned_at"],
                rows=[(mine.pk, lazy_text, LeadSource.REFERRAL, naive)],
            )
            == 1
        )
    other.name, other.source, other.assigned_at = "Ann Lazy", LeadSource.REFERRAL, naive
    with pytest.warns(RuntimeWarning):
        Lead.objects.bulk_update([other], ["name", "source", "assigned_at"])
    assert _row(mine, without=("id", "email", "created_at")) == _row(other, without=("id", "email", "created_at"))
    with pytest.raises(TypeError):
        update_from_values(Lead, key=["id"], fields=["decision"], rows=[(mine.pk, {"amount": Decimal("1.5")})])

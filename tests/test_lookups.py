"""leadowner.lookups: `__any_of` answers as `__in` does, one array parameter on PostgreSQL; `among` likewise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from leadowner.lookups import SHORT_LIST, among
from routing.models import Account, AccountDomain, Ownership
from tests.factories import AccountFactory, RepFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def accounts() -> list[Account]:
    made = [AccountFactory(name=f"Acme {n}", domains=[f"acme{n}.example"]) for n in range(6)]
    rep = RepFactory()
    for account in made[::2]:
        Ownership.objects.create(account=account, role="SALES", rep=rep, reason="TERRITORY", since=NOW)
    return made


def _ids(queryset) -> list[int]:
    return sorted(queryset.values_list("pk", flat=True))


@pytest.mark.postgres  # elsewhere __any_of is __in
@pytest.mark.parametrize("pick", [[0], [1, 2, 3], [5, 5, 0], [], "with none", "unknown", "all"], ids=lambda p: str(p))
def test_any_of_answers_as_in_does(accounts: list[Account], pick) -> None:
    if pick == "with none":
        ids = [accounts[1].pk, None]
    elif pick == "unknown":
        ids = [accounts[-1].pk + 1000]
    elif pick == "all":
        ids = [a.pk for a in accounts]
    else:
        ids = [accounts[i].pk for i in pick]
    assert _ids(Account.objects.filter(pk__any_of=ids)) == _ids(Account.objects.filter(pk__in=ids))
    assert _ids(Ownership.objects.filter(account_id__any_of=set(ids))) == _ids(
        Ownership.objects.filter(account_id__in=set(ids))
    )
    texts = [f"acme{n}.example" for n in range(len(ids))]
    assert _ids(AccountDomain.objects.filter(domain__any_of=texts)) == _ids(
        AccountDomain.objects.filter(domain__in=texts)
    )
    either = Q(pk__any_of=ids[:1]) | Q(name__any_of=["Acme 4", "Nobody"])
    assert _ids(Account.objects.filter(either)) == _ids(Account.objects.filter(Q(pk__in=ids[:1]) | Q(name="Acme 4")))


def test_any_of_sends_one_array_on_postgresql_and_an_in_list_elsewhere(accounts: list[Account]) -> None:
    ids = [a.pk for a in accounts]
    with CaptureQueriesContext(connection) as queries:
        assert len(list(Account.objects.filter(pk__any_of=ids))) == len(ids)
    (sql,) = [q["sql"] for q in queries.captured_queries]
    if connection.vendor == "postgresql":
        assert '"routing_account"."id" = ANY(' in sql and "::bigint[]" in sql
    else:
        assert '"routing_account"."id" IN (' in sql


def test_among_writes_the_same_condition_by_hand(accounts: list[Account]) -> None:
    ids = [a.pk for a in accounts[:4]]
    where, params = among("id", ids, "bigint")
    assert (len(params) == 1) == (connection.vendor == "postgresql")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM routing_account WHERE {where} ORDER BY id", params)
        assert [pk for (pk,) in cursor.fetchall()] == sorted(ids)


@pytest.mark.postgres
def test_any_of_matches_neither_a_longer_text_nor_an_integer_no_column_holds(accounts: list[Account]) -> None:
    """A cast to the column's varchar(n) would cut a longer text down to a stored one; a bigint
    cast would fail on an integer out of its range, where `__in` matches nothing."""
    domain = AccountDomain.objects.filter(account=accounts[0]).get()
    domain.domain = "d" * 253
    domain.save()
    longer = "d" * 260
    assert list(AccountDomain.objects.filter(domain__any_of=[longer])) == []
    assert list(AccountDomain.objects.filter(domain__in=[longer])) == []
    assert list(AccountDomain.objects.filter(domain__any_of=["d" * 253, longer])) == [domain]
    assert list(Account.objects.filter(pk__any_of=[2**70])) == list(Account.objects.filter(pk__in=[2**70])) == []
    assert _ids(Account.objects.filter(pk__any_of=[2**70, accounts[0].pk])) == [accounts[0].pk]


def test_among_keeps_a_short_list_an_in_list_when_asked(accounts: list[Account]) -> None:
    """`short=True`: one lead's few ids stay an IN list (prepared per length); a batch's are one array."""
    few, many = [a.pk for a in accounts[:3]], [a.pk for a in accounts] + list(range(10**9, 10**9 + SHORT_LIST))
    assert among("id", few, "bigint", short=True) == (f"id IN ({', '.join(['%s'] * 3)})", few)
    where, params = among("id", many, "bigint", short=True)
    if connection.vendor == "postgresql":
        assert (where, params) == ("id = ANY(%s::bigint[])", [many])
    else:
        assert where.startswith("id IN (") and params == many
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM routing_account WHERE {where} ORDER BY id", params)
        assert [pk for (pk,) in cursor.fetchall()] == sorted(a.pk for a in accounts)

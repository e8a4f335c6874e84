"""Querysets compiled once (leadowner.prepared): the same rows and related objects as the ORM, one statement."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Model

from leadowner.models import ApiToken
from leadowner.prepared import Prepared
from leadowner.tokens import _TOKEN_BY_PREFIX, issue_token
from routing.models import Account, Ownership
from routing.selectors.accounts import _OWN_CURRENT_OWNERS
from tests.factories import AccountFactory, OwnershipFactory, PartnerFactory, PartnerUserFactory, RepFactory

pytestmark = pytest.mark.django_db


def _state(obj: Model | None, *related: str) -> Any:
    """Every field of obj and of the related objects loaded with it (None where none is)."""
    if obj is None:
        return None
    fields = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
    loaded = {name: _state(obj._state.fields_cache[name]) for name in related if name in obj._state.fields_cache}
    return fields, loaded, sorted(obj._state.fields_cache)


def test_the_token_lookup_gives_what_the_orm_gives_for_a_rep_a_partner_user_and_an_unknown_prefix(
    django_assert_num_queries: Any,
) -> None:
    rep_token, _raw = issue_token(rep=RepFactory())
    partner_token, _raw = issue_token(partner_user=PartnerUserFactory(partner=PartnerFactory()))
    for token in (rep_token, partner_token):
        orm = ApiToken.objects.select_related("rep", "partner_user", "partner_user__partner").get(pk=token.pk)
        with django_assert_num_queries(1):
            (prepared,) = _TOKEN_BY_PREFIX(token.prefix)
        assert _state(prepared, "rep", "partner_user") == _state(orm, "rep", "partner_user")
        with django_assert_num_queries(0):  # the partner came with the partner user, as select_related does
            assert (prepared.partner_user and prepared.partner_user.partner) == (
                orm.partner_user and orm.partner_user.partner
            )
    assert _TOKEN_BY_PREFIX("no-such-prefix") == []


def test_an_accounts_own_owners_are_the_orm_s_with_their_rep_or_partner(django_assert_num_queries: Any) -> None:
    account = AccountFactory()
    OwnershipFactory(account=account, role="SALES", rep=RepFactory())
    OwnershipFactory(account=account, role="PARTNER", rep=None, partner=PartnerFactory())
    ended = OwnershipFactory(account=account, role="ACCOUNT_MANAGER", rep=RepFactory())
    Ownership.objects.filter(pk=ended.pk).update(ended_at=ended.since)
    OwnershipFactory(account=AccountFactory(), role="SALES", rep=RepFactory())  # someone else's
    orm = sorted(
        Ownership.objects.select_related("rep", "partner").filter(account=account, ended_at__isnull=True),
        key=lambda o: o.pk,
    )
    with django_assert_num_queries(1):
        prepared = sorted(_OWN_CURRENT_OWNERS(account.pk), key=lambda o: o.pk)
    assert len(prepared) == 2
    assert [_state(o, "rep", "partner") for o in prepared] == [_state(o, "rep", "partner") for o in orm]


def test_a_build_whose_argument_does_not_reach_the_sql_unchanged_is_refused() -> None:
    AccountFactory(name="Acme")
    contains = Prepared(lambda text: Account.objects.filter(name__contains=text), (str,))  # becomes %text%
    with pytest.raises(ValueError, match="unchanged"):
        contains("Acm")
    dropped = Prepared(lambda text: Account.objects.all(), (str,))
    with pytest.raises(ValueError, match="unchanged"):
        dropped("Acme")
    # A LIKE whose pattern is the argument itself is refused too, on every database: PostgreSQL
    # keeps these statements prepared, and a generic plan cannot bound a LIKE's index range.
    like = Prepared(lambda pattern: Account.objects.extra(where=["name LIKE %s"], params=[pattern]), (str,))
    with pytest.raises(ValueError, match="LIKE"):
        like("Acm%")


def test_arguments_of_the_wrong_kind_or_number_are_refused_before_any_sql() -> None:
    by_id = Prepared(lambda pk: Account.objects.filter(pk=pk), (int,))
    with pytest.raises(TypeError):
        by_id("1")
    with pytest.raises(TypeError):
        by_id(1, 2)


def test_the_same_prepared_query_answers_each_call_with_its_own_arguments() -> None:
    first, second = AccountFactory(name="First"), AccountFactory(name="Second")
    by_name_and_id = Prepared(lambda name, pk: Account.objects.filter(name=name, pk=pk), (str, int))
    assert by_name_and_id("First", first.pk) == [first]
    assert by_name_and_id("Second", second.pk) == [second]
    assert by_name_and_id("First", second.pk) == []


def test_an_in_list_is_compiled_per_length_and_answers_like_the_orm_at_every_length(
    django_assert_num_queries: Any,
) -> None:
    from leadowner.prepared import PreparedIn

    accounts = [AccountFactory() for _ in range(5)]
    for account in accounts:
        OwnershipFactory(account=account, role="SALES", rep=RepFactory())
    ids = [a.pk for a in accounts]
    owners = PreparedIn(
        lambda chosen, role: Ownership.objects.filter(account_id__in=chosen, role=role).order_by("pk"),
        (str,),
        longest=3,
    )
    for chosen in (ids[:1], ids[:2], ids[:3], [ids[1], ids[0], ids[1]], ids):  # the last is past `longest`
        orm = list(Ownership.objects.filter(account_id__in=chosen, role="SALES").order_by("pk"))
        with django_assert_num_queries(1):
            assert owners(chosen, "SALES") == orm
        assert owners(chosen, "ACCOUNT_MANAGER") == []
    with django_assert_num_queries(0):
        assert owners([], "SALES") == []


def test_datetime_arguments_and_values_list_rows_answer_like_the_orm() -> None:
    from datetime import UTC, datetime, timedelta

    from django.db import connection
    from django.db.models import Count

    from routing.models import Lead
    from tests.factories import LeadFactory

    noon = datetime(2026, 3, 2, 12, tzinfo=UTC)
    early, late = (
        LeadFactory(email="a@x.com", received_at=noon),
        LeadFactory(email="a@x.com", received_at=noon + timedelta(hours=2)),
    )
    between = Prepared(
        lambda email, start, end: Lead.objects.filter(
            email=email, received_at__gte=start, received_at__lte=end
        ).order_by("received_at", "id"),
        (str, datetime, datetime),
    )
    assert between("a@x.com", noon - timedelta(minutes=1), noon + timedelta(minutes=1)) == [early]
    assert between("a@x.com", noon, noon + timedelta(hours=3)) == [early, late]
    assert between("b@x.com", noon, noon + timedelta(hours=3)) == []
    # PostgreSQL takes the datetime as it is and reuses the statement; SQLite stores datetimes
    # as text, so there the query is asked through the ORM each time (same rows either way).
    assert (between._compiled[("default", connection.vendor)] is None) == (connection.vendor == "sqlite")

    per_email = Prepared(
        lambda email: (
            Lead.objects.filter(email=email).values("email").annotate(n=Count("id")).values_list("email", "n")
        ),
        (str,),
    )
    assert per_email("a@x.com") == [("a@x.com", 2)]
    flat = Prepared(lambda email: Lead.objects.filter(email=email).values_list("id", flat=True), (str,))
    with pytest.raises(TypeError):
        flat("a@x.com")


def test_an_id_no_column_can_hold_matches_nothing_as_in_the_orm(django_assert_num_queries: Any) -> None:
    from leadowner.prepared import PreparedIn
    from routing.selectors.accounts import account_by_id

    account = AccountFactory()
    huge = 2**70  # ownerOf(accountId: "1180591620717411303424"): SQLite cannot even bind it
    assert list(Account.objects.filter(pk=huge)) == []
    with django_assert_num_queries(0):
        assert account_by_id(huge) is None
    by_ids = PreparedIn(lambda ids: Account.objects.filter(pk__in=ids))
    assert by_ids([huge, account.pk]) == [account]
    assert by_ids([huge]) == []


def test_a_lookup_that_escapes_its_argument_is_refused_or_answers_like_the_orm() -> None:
    """iexact escapes LIKE wildcards on SQLite (refused there: the argument is transformed) and
    compares UPPER() on PostgreSQL (prepared, and the same rows as the ORM)."""
    AccountFactory(name="a_b")
    AccountFactory(name="axb")
    from django.db import connection

    by_name = Prepared(lambda name: Account.objects.filter(name__iexact=name).order_by("pk"), (str,))
    orm = list(Account.objects.filter(name__iexact="a_b").order_by("pk"))
    assert [a.name for a in orm] == ["a_b"]
    if connection.vendor == "sqlite":
        with pytest.raises(ValueError, match="unchanged"):
            by_name("a_b")
    else:
        assert [a.name for a in by_name("a_b")] == ["a_b"]


def _prepared_on_server() -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def test_on_postgresql_the_compiled_statements_stay_prepared_on_the_connection_unless_turned_off(
    settings: Any, django_assert_num_queries: Any
) -> None:
    from django.db import connection

    from leadowner.prepared import PREPARED_PER_CONNECTION, statement_cursor
    from routing.selectors.accounts import _ACCOUNT_BY_ID

    if connection.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        pytest.skip("server-side prepared statements are PostgreSQL's, and on unless DB_PREPARED_STATEMENTS=0")
    account = AccountFactory()
    settings.DB_PREPARED_STATEMENTS = False
    before = _prepared_on_server()
    assert [a.pk for a in _ACCOUNT_BY_ID(account.pk)] == [account.pk]
    assert _prepared_on_server() == before  # off: bound client-side as every other statement

    settings.DB_PREPARED_STATEMENTS = True
    assert connection.connection.prepared_max == PREPARED_PER_CONNECTION  # room for a process's statements
    with django_assert_num_queries(1) as logged:  # still seen by Django's query log, with its values
        assert [a.pk for a in _ACCOUNT_BY_ID(account.pk)] == [account.pk]
    assert f'WHERE "routing_account"."id" = {account.pk} ORDER BY' in logged.captured_queries[0]["sql"]
    assert _prepared_on_server() == before  # a statement run once is not prepared: no extra round trip
    assert [a.pk for a in _ACCOUNT_BY_ID(account.pk)] == [account.pk]
    new = _prepared_on_server() - before  # its second run prepares it
    assert len(new) == 1 and "$1" in next(iter(new)) and "routing_account" in next(iter(new))
    assert [a.pk for a in _ACCOUNT_BY_ID(account.pk)] == [account.pk]  # reused, not prepared again
    assert _prepared_on_server() - before == new
    with connection.cursor() as cursor:  # Django's own cursor: never prepared, however often
        for _ in range(3):
            cursor.execute("SELECT count(*) FROM routing_account WHERE id > %s", [0])
    assert _prepared_on_server() - before == new
    assert connection.connection.prepare_threshold is None

    for refused in ("normalized_name LIKE %s", "normalized_name::text ilike %s", "UPPER(name) LIKE UPPER(%s)"):
        with pytest.raises(ValueError, match="LIKE"), statement_cursor() as cursor:
            cursor.execute(f"SELECT id FROM routing_account WHERE {refused}", ["ibm%"])
    with statement_cursor() as cursor:  # a name holding the letters is no LIKE
        cursor.execute('SELECT 1 AS "likelihood" FROM routing_account WHERE id = %s', [account.pk])
        assert cursor.fetchall() == [(1,)]

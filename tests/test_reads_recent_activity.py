"""routing.reads.Reads.recent_activity: the statement compiled once per shape answers what a plain
ORM query (joined to the leads) answers, for every shape (account, its leads, the lead), with
the account's leads as its subquery: one statement, read from the activity indexes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Q

from routing import reads
from routing.reads import Reads
from tests.factories import AccountFactory, ActivityFactory, LeadFactory, RepFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=90)


def _ids(activities) -> list[int]:
    return [a.pk for a in activities]


def _orm(account_id, lead_id) -> list[int]:
    where = Q(pk__in=[])
    if account_id is not None:
        where |= Q(account_id=account_id) | Q(lead__account_id=account_id)
    if lead_id is not None:
        where |= Q(lead_id=lead_id)
    found = reads.Activity.objects.filter(where, occurred_at__gt=SINCE, occurred_at__lte=NOW)
    return _ids(found.order_by("-occurred_at", "-id")[: reads.ENGAGEMENT_SCAN])


@pytest.mark.parametrize("leads", [0, 3, 20, reads.ENGAGEMENT_SCAN + 4])
def test_every_shape_answers_as_the_orm_query_newest_first(leads: int) -> None:
    rep = RepFactory()
    account, other = AccountFactory(), AccountFactory()
    own_leads = [LeadFactory(account=account) for _ in range(leads)]
    loose = LeadFactory()  # no account yet (a new lead being routed)
    on_account = [
        ActivityFactory(rep=rep, occurred_at=NOW - timedelta(days=day), **target)
        for day, target in enumerate([{"account": account}, *({"lead": lead} for lead in own_leads)], start=1)
    ]
    expected_for_account = [a.pk for a in on_account]
    on_loose = ActivityFactory(rep=rep, occurred_at=NOW - timedelta(days=2), lead=loose)
    ActivityFactory(rep=rep, occurred_at=NOW - timedelta(days=1), account=other)  # another account
    ActivityFactory(rep=rep, occurred_at=NOW - timedelta(days=200), account=account)  # too old
    ActivityFactory(rep=rep, occurred_at=NOW + timedelta(days=1), account=account)  # after `until`

    for account_id, lead_id in [(account.pk, None), (account.pk, loose.pk), (None, loose.pk)]:
        got = _ids(Reads().recent_activity(account_id=account_id, lead_id=lead_id, since=SINCE, until=NOW))
        assert got == _orm(account_id, lead_id), (account_id, lead_id)
    found = _ids(Reads().recent_activity(account_id=account.pk, lead_id=None, since=SINCE, until=NOW))
    assert found == expected_for_account[: reads.ENGAGEMENT_SCAN]
    # Built from what was written, not from the query: newest first, the later row first on a tie.
    both = sorted([*on_account, on_loose], key=lambda a: (a.occurred_at, a.pk), reverse=True)
    with_loose = _ids(Reads().recent_activity(account_id=account.pk, lead_id=loose.pk, since=SINCE, until=NOW))
    assert with_loose == [a.pk for a in both][: reads.ENGAGEMENT_SCAN]
    assert _ids(Reads().recent_activity(account_id=None, lead_id=loose.pk, since=SINCE, until=NOW)) == [on_loose.pk]
    assert Reads().recent_activity(account_id=None, lead_id=None, since=SINCE, until=NOW) == []


def test_the_reps_come_loaded_with_the_activity(django_assert_num_queries) -> None:
    rep = RepFactory(name="Ada")
    account = AccountFactory()
    LeadFactory(account=account)
    ActivityFactory(rep=rep, account=account, occurred_at=NOW - timedelta(days=1))
    Reads().recent_activity(account_id=account.pk, lead_id=None, since=SINCE, until=NOW)  # compiled once
    with django_assert_num_queries(1):  # the activity of the account and its leads, with reps
        (activity,) = Reads().recent_activity(account_id=account.pk, lead_id=None, since=SINCE, until=NOW)
        assert activity.rep.name == "Ada"


def _plan_nodes(node: dict) -> list[dict]:
    return [node, *(n for child in node.get("Plans", ()) for n in _plan_nodes(child))]


@pytest.mark.postgres
def test_the_account_and_its_leads_are_read_from_the_activity_indexes() -> None:
    """An OR with `lead_id IN (subquery)` cannot use an index on PostgreSQL: it scanned every
    activity (~400 ms at 1M accounts). `= ANY(ARRAY(subquery))` is an index condition."""
    rep = RepFactory()
    accounts = [AccountFactory() for _ in range(40)]
    for n, account in enumerate(accounts):
        lead = LeadFactory(account=account)
        for day in range(25):
            ActivityFactory(rep=rep, occurred_at=NOW - timedelta(days=day, hours=n), account=account)
            ActivityFactory(rep=rep, occurred_at=NOW - timedelta(days=day, hours=n), lead=lead)
    sql, params = reads._recent_activity(accounts[0].pk, None, SINCE, NOW).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE routing_activity")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        raw = cursor.fetchone()[0]
    plan = json.loads(raw) if isinstance(raw, str) else raw
    nodes = _plan_nodes(plan[0]["Plan"])
    on_activity = [n for n in nodes if n.get("Relation Name") == "routing_activity"]
    assert on_activity and all(n["Node Type"] != "Seq Scan" for n in on_activity), on_activity
    assert any(n["Node Type"] == "BitmapOr" for n in nodes), [n["Node Type"] for n in nodes]

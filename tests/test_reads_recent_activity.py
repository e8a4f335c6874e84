"""routing.reads.Reads.recent_activity: the statements compiled once per shape answer exactly what
the ORM query they were compiled from answers, for every shape (account, its leads, the lead),
and an account with more leads than a prepared shape takes goes through the ORM."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routing import reads
from routing.reads import Reads
from tests.factories import AccountFactory, ActivityFactory, LeadFactory, RepFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=90)


def _ids(activities) -> list[int]:
    return [a.pk for a in activities]


def _orm(account_id, lead_id) -> list[int]:
    lead_ids = list(reads.Lead.objects.filter(account_id=account_id).values_list("pk", flat=True)) if account_id else []
    return _ids(reads._recent_activity(account_id, lead_ids, lead_id, SINCE, NOW))


@pytest.mark.parametrize("leads", [0, 3, reads._PREPARED_LEADS + 4])
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
    with django_assert_num_queries(2):  # the account's leads, then their activity with reps
        (activity,) = Reads().recent_activity(account_id=account.pk, lead_id=None, since=SINCE, until=NOW)
        assert activity.rep.name == "Ada"

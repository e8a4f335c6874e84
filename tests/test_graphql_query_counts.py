"""GraphQL lists cost a fixed number of SQL queries, whatever their length (no N+1).

Each count is pinned: 10 rows and 100 rows must cost exactly the same, and that number
is written down so a change that adds a query per request shows up in review.
The count covers the whole HTTP request, including the one read of the bearer token and,
the reader being a manager, the one INSERT recording the token's use (leadowner.audit).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from routing.models import Ownership, OwnershipChange
from territories.models import Rep, Territory
from tests.factories import (
    AccountFactory,
    LeadFactory,
    ManagerFactory,
    OwnershipFactory,
    PartnerFactory,
    RepFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)
from tests.graphql_support import assert_no_errors, gql, token_for

pytestmark = pytest.mark.django_db

ACCOUNTS = """
query ($first: Int) {
  accounts(first: $first) {
    edges { node { name domains owners { role rep { name } partner { name } } parent { name } } }
    totalCount
  }
}"""

LEADS = """
query ($first: Int) {
  leads(first: $first) {
    edges { node {
      email name stage receivedAt
      account { name domains }
      owner { role since rep { name openLoad } }
      decision { step trace owner { rep { name } } territory { name } match { method account { name } } }
    } }
    totalCount
    pageInfo { hasNextPage endCursor }
  }
}"""

REPS = """
{ reps { name email role status capacity openLoad territories { name criteria } manager { name } } }
"""


_serial = itertools.count()


def _count(query: str, token: str, variables: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    gql("{ health }", token=token)  # warm: the token's last-used time is written once a minute, not now
    with CaptureQueriesContext(connection) as captured:
        data = assert_no_errors(gql(query, variables, token=token))
    return len(captured.captured_queries), data


def _book_of_accounts(n: int) -> None:
    parent = AccountFactory()
    for _ in range(n):
        i = next(_serial)
        account = AccountFactory(parent=parent, domains=[f"co{i}.example", f"co{i}.example.org"])
        OwnershipFactory(account=account, role="SALES", rep=RepFactory())
        OwnershipFactory(account=account, role="ACCOUNT_MANAGER", rep=RepFactory(role="ACCOUNT_MANAGER"))
        Ownership.objects.create(
            account=account,
            role="PARTNER",
            partner=PartnerFactory(),
            reason="DEAL_REGISTRATION",
            since=account.created_at,
        )


def _territory(**kwargs: Any) -> Territory:
    """The one published territory of the book (one published rule set at a time)."""
    return Territory.objects.first() or TerritoryFactory(**kwargs)


def _reader() -> Rep:
    """The manager who reads the books: the leads' reps are in their team (a manager reads their team's leads)."""
    return Rep.objects.filter(name="Book Reader").first() or ManagerFactory(name="Book Reader")


def _book_of_leads(n: int) -> None:
    territory = _territory()
    for _ in range(n):
        i = next(_serial)
        rep = RepFactory(manager=_reader())
        TerritoryMemberFactory(territory=territory, rep=rep)
        account = AccountFactory(domains=[f"lead-co{i}.example"])
        lead = LeadFactory(
            account=account,
            name=f"Person {i}",
            decision={
                "step": "TERRITORY",
                "match": {"account_id": account.pk, "method": "DOMAIN", "score": 1.0, "explanation": "by domain"},
                "rule_set_version": territory.rule_set.version,
                "owner": {"role": "SALES", "rep_id": rep.pk, "partner_id": None},
                "territory_id": territory.pk,
                "trace": ["territory matched"],
            },
        )
        Ownership.objects.create(lead=lead, role="SALES", rep=rep, reason="TERRITORY", since=lead.received_at)


def _book_of_reps(n: int) -> None:
    manager = ManagerFactory()
    territory = _territory(criteria={"countries": ["US"]})
    for _ in range(n):
        rep = RepFactory(manager=manager)
        TerritoryMemberFactory(territory=territory, rep=rep)
        lead = LeadFactory()
        Ownership.objects.create(lead=lead, role="SALES", rep=rep, reason="TERRITORY", since=lead.received_at)


def _same_cost(book: Callable[[int], None], query: str, rows: Callable[[dict[str, Any]], int]) -> list[int]:
    """Queries for 10 rows, then for 100 (90 more added to the same book)."""
    token = token_for(rep=_reader())
    counts = []
    for n, more in ((10, 10), (100, 90)):
        book(more)
        count, data = _count(query, token, {"first": 1000})
        assert rows(data) >= n
        counts.append(count)
    return counts


def test_accounts_list_costs_the_same_for_10_and_100_accounts():
    counts = _same_cost(_book_of_accounts, ACCOUNTS, lambda d: len(d["accounts"]["edges"]))
    # token, page of accounts, domains, owners (rep and partner joined), parents, count
    assert counts == [7, 7]


def test_leads_list_costs_the_same_for_10_and_100_leads():
    counts = _same_cost(_book_of_leads, LEADS, lambda d: len(d["leads"]["edges"]))
    # token, the manager's team (one per level of the org chart, here 1, and the empty level below),
    # page of leads, accounts, their domains, sales owners, their reps (open load annotated),
    # then from the stored decisions: reps, territories, accounts (loaders); count
    assert counts == [13, 13]


def test_reps_list_costs_the_same_for_10_and_100_reps():
    counts = _same_cost(_book_of_reps, REPS, lambda d: len(d["reps"]))
    # token, reps (open load annotated, manager joined), published territories
    assert counts == [4, 4]


ACCOUNTS_DEEP = """
query ($first: Int) {
  accounts(first: $first) {
    edges { node {
      name ultimateParent { name }
      owners { role rep { name openLoad territories { name } manager { name } } }
      history(first: 2) { totalCount pageInfo { hasNextPage } edges { cursor node { at reason toRep { name } } } }
    } }
  }
}"""


def _book_of_accounts_with_history(n: int) -> None:
    territory = _territory()
    top = AccountFactory()
    middle = AccountFactory(parent=top)
    for _ in range(n):
        account = AccountFactory(parent=middle)
        rep = RepFactory(manager=ManagerFactory())
        TerritoryMemberFactory(territory=territory, rep=rep)
        OwnershipFactory(account=account, role="SALES", rep=rep)
        for k in range(3):
            OwnershipChange.objects.create(
                at=timezone.now(), account=account, role="SALES", to_rep=rep, reason=f"change {k}", actor="routing"
            )


def test_accounts_with_owners_load_and_paged_history_cost_the_same_for_10_and_100_accounts():
    counts = _same_cost(_book_of_accounts_with_history, ACCOUNTS_DEEP, lambda d: len(d["accounts"]["edges"]))
    # token, accounts (history count annotated), owners, their reps (manager joined, open load annotated),
    # the reps' territories, the history pages (one windowed query), the parent chain (one per level: here 1)
    assert counts == [8, 8]

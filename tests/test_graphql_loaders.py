"""Per-request loaders: ids announced before the first load are read in one batch, each once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadowner.graphql.loaders import BatchLoader, Loaders
from routing.models import Ownership
from tests.factories import (
    AccountFactory,
    LeadFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)
from tests.graphql_support import assert_no_errors, gql, token_for

pytestmark = pytest.mark.django_db


def test_announced_keys_are_fetched_in_one_batch_with_the_first_load():
    fetched: list[list[int]] = []

    def fetch(keys: list[int]) -> dict[int, str]:
        fetched.append(keys)
        return {k: f"v{k}" for k in keys if k != 3}

    loader: BatchLoader[int, str] = BatchLoader(fetch)
    loader.want([1, 2, 3, None])
    assert fetched == []  # announcing reads nothing
    assert loader.load(2) == "v2"
    assert loader.load(1) == "v1"
    assert loader.load(3) is None  # missing: remembered as missing, not fetched again
    assert fetched == [[1, 2, 3]]
    assert loader.load(4) == "v4"
    assert fetched == [[1, 2, 3], [4]]


def test_rep_details_are_announced_when_reps_are_loaded():
    reps = [RepFactory() for _ in range(3)]
    territory = TerritoryFactory()
    for rep in reps:
        TerritoryMemberFactory(territory=territory, rep=rep)
        lead = LeadFactory()
        Ownership.objects.create(lead=lead, role="SALES", rep=rep, reason="TERRITORY", since=lead.received_at)
    TerritoryMemberFactory(territory=TerritoryFactory(rule_set=RuleSetFactory(status="DRAFT")), rep=reps[0])
    loaders = Loaders()
    loaders.reps.want(r.pk for r in reps)
    with CaptureQueriesContext(connection) as captured:
        loaded = [loaders.reps.load(r.pk) for r in reps]
        loads = [loaders.rep_open_load.load(r.pk) for r in reps]
        territories = [loaders.rep_territories.load(r.pk) for r in reps]
    assert [r.pk for r in loaded if r] == [r.pk for r in reps]
    assert loads == [1, 1, 1]
    assert [[t.name for t in ts or []] for ts in territories] == [[territory.name]] * 3  # the draft one is not listed
    assert len(captured.captured_queries) == 3


def test_ultimate_parents_are_walked_one_query_per_level_for_a_whole_page():
    top = AccountFactory()
    middles = [AccountFactory(parent=top) for _ in range(3)]
    leaves = [AccountFactory(parent=m) for m in middles for _ in range(2)]
    loaders = Loaders()
    loaders.accounts.want(a.parent_id for a in leaves)
    with CaptureQueriesContext(connection) as captured:
        for leaf in leaves:
            parent = loaders.accounts.load(leaf.parent_id)
            assert parent is not None
            assert loaders.accounts.load(parent.parent_id) == top
    assert len(captured.captured_queries) == 2


def test_a_decision_owners_open_load_and_territories_come_through_the_loaders():
    rep = RepFactory()
    territory = TerritoryFactory(name="North")
    TerritoryMemberFactory(territory=territory, rep=rep)
    account = AccountFactory()
    lead = LeadFactory(
        account=account,
        decision={
            "step": "TERRITORY",
            "match": {"account_id": account.pk, "method": "DOMAIN", "score": 1.0, "explanation": "x"},
            "rule_set_version": 1,
            "owner": {"role": "SALES", "rep_id": rep.pk, "partner_id": None},
            "territory_id": territory.pk,
            "trace": [],
        },
    )
    Ownership.objects.create(lead=lead, role="SALES", rep=rep, reason="TERRITORY", since=lead.received_at)
    query = "{ leads { edges { node { decision { owner { rep { openLoad territories { name } } } } } } } }"
    data = assert_no_errors(gql(query, token=token_for(rep=RepFactory(role="REVOPS"))))
    owner = data["leads"]["edges"][0]["node"]["decision"]["owner"]
    assert owner == {"rep": {"openLoad": 1, "territories": [{"name": "North"}]}}

"""GraphQL rebalancing: managers and RevOps read, build, apply and discard plans; everyone else is FORBIDDEN."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from routing.models import RebalancePlan
from routing.services.rebalancing import apply_rebalance_moves
from tests.factories import PartnerUserFactory, RepFactory
from tests.graphql_support import assert_no_errors, error_codes, gql, payload_of, token_for, user_error_codes
from tests.jobs_support import current_owner_of
from tests.test_rebalancing import NOW, Map, account_in, busy

pytestmark = pytest.mark.django_db

PLANS = """query ($first: Int) {
  rebalancePlans(first: $first) {
    totalCount
    edges { node { id status trigger ruleSetVersion moveCount varianceBefore varianceAfter createdBy
      reps { name before after } stayed { reason count }
      moves(first: 50) { totalCount edges { node { status why territoryName account { name } lead { email }
        fromRep { name } toRep { name } } } } } }
  }
}"""
PLAN = "query ($id: ID!) { rebalancePlan(id: $id) { id status moveCount } }"
BUILD = "mutation { buildRebalancePlan { plan { id status moveCount } errors { code field message } } }"
APPLY = "mutation ($id: ID!) { applyRebalancePlan(planId: $id) { plan { id status } errors { code field message } } }"
DISCARD = (
    "mutation ($id: ID!) { discardRebalancePlan(planId: $id) { plan { id status } errors { code field message } } }"
)


@pytest.fixture
def book() -> Map:
    return Map()


def _manager(book: Map) -> str:
    return token_for(rep=book.manager)


def test_a_manager_builds_reads_and_applies_a_plan_end_to_end(book: Map) -> None:
    busy(book.ann)  # Ann is busier than West's members: moving her West account lowers the variance
    misplaced = account_in("US-CA", book.ann)
    token = _manager(book)
    built = payload_of(gql(BUILD, token=token), "buildRebalancePlan")
    assert built["errors"] == [] and built["plan"]["status"] == "DRAFT" and built["plan"]["moveCount"] == 1
    assert current_owner_of(account=misplaced) == book.ann

    (edge,) = assert_no_errors(gql(PLANS, token=token))["rebalancePlans"]["edges"]
    plan: dict[str, Any] = edge["node"]
    assert (plan["trigger"], plan["ruleSetVersion"]) == ("ON_DEMAND", 2)
    (move,) = [e["node"] for e in plan["moves"]["edges"]]
    assert (move["account"]["name"], move["fromRep"]["name"], move["toRep"]["name"], move["territoryName"]) == (
        misplaced.name,
        "Ann",
        "Cat",
        "West",
    )
    assert {r["name"]: (r["before"], r["after"]) for r in plan["reps"]}["Ann"] == (3, 2)
    assert plan["varianceAfter"] < plan["varianceBefore"]

    with mock.patch("leadowner.tasks.send_now"):
        applied = payload_of(gql(APPLY, {"id": plan["id"]}, token=token), "applyRebalancePlan")
    assert applied["errors"] == [] and applied["plan"]["status"] == "APPLYING"
    apply_rebalance_moves(plan_id=int(plan["id"]), now=NOW)
    assert current_owner_of(account=misplaced) == book.cat
    again = payload_of(gql(APPLY, {"id": plan["id"]}, token=token), "applyRebalancePlan")
    assert user_error_codes(again) == [("INVALID_TRANSITION", None)]


def test_discarding_a_plan_moves_nothing(book: Map) -> None:
    misplaced = account_in("US-CA", book.ann)
    token = _manager(book)
    plan_id = payload_of(gql(BUILD, token=token), "buildRebalancePlan")["plan"]["id"]
    discarded = payload_of(gql(DISCARD, {"id": plan_id}, token=token), "discardRebalancePlan")
    assert discarded["plan"]["status"] == "DISCARDED"
    assert current_owner_of(account=misplaced) == book.ann


BUILD_FOR = """mutation ($ids: [ID!]) {
  buildRebalancePlan(territoryIds: $ids) { plan { territories moveCount } errors { code field message } }
}"""


def test_a_plan_can_cover_chosen_territories_and_a_bad_choice_is_invalid_at_territory_ids(book: Map) -> None:
    busy(book.ann)
    account_in("US-CA", book.ann)
    token = _manager(book)
    built = payload_of(gql(BUILD_FOR, {"ids": [str(book.east.pk)]}, token=token), "buildRebalancePlan")
    assert built["errors"] == [] and built["plan"] == {"territories": ["East"], "moveCount": 0}
    every = payload_of(gql(BUILD_FOR, {"ids": None}, token=token), "buildRebalancePlan")
    assert every["plan"] == {"territories": [], "moveCount": 1}
    for ids in (["nope"], [], ["999999"]):
        refused = payload_of(gql(BUILD_FOR, {"ids": ids}, token=token), "buildRebalancePlan")
        assert refused["plan"] is None and user_error_codes(refused) == [("INVALID", "territoryIds")], ids
    assert RebalancePlan.objects.count() == 2


def test_an_unknown_plan_is_not_found_at_plan_id(book: Map) -> None:
    payload = payload_of(gql(APPLY, {"id": "999999"}, token=_manager(book)), "applyRebalancePlan")
    assert user_error_codes(payload) == [("NOT_FOUND", "planId")]
    assert assert_no_errors(gql(PLAN, {"id": "999999"}, token=_manager(book)))["rebalancePlan"] is None


@pytest.mark.parametrize("who", ["rep", "partner"])
def test_reps_and_partners_are_forbidden_not_shown_an_empty_list(book: Map, who: str) -> None:
    account_in("US-CA", book.ann)
    payload_of(gql(BUILD, token=_manager(book)), "buildRebalancePlan")
    plan = RebalancePlan.objects.get()
    token = token_for(rep=RepFactory()) if who == "rep" else token_for(partner_user=PartnerUserFactory())
    listed = gql(PLANS, token=token)
    assert error_codes(listed) == ["FORBIDDEN"] and listed["data"] is None
    one = gql(PLAN, {"id": str(plan.pk)}, token=token)
    assert error_codes(one) == ["FORBIDDEN"]
    for mutation, name, variables in (
        (BUILD, "buildRebalancePlan", None),
        (APPLY, "applyRebalancePlan", {"id": str(plan.pk)}),
        (DISCARD, "discardRebalancePlan", {"id": str(plan.pk)}),
    ):
        payload = payload_of(gql(mutation, variables, token=token), name)
        assert [code for code, _ in user_error_codes(payload)] == ["FORBIDDEN"], name
    plan.refresh_from_db()
    assert plan.status == "DRAFT" and RebalancePlan.objects.count() == 1


@pytest.mark.parametrize(("plans", "moves"), [(1, 1), (3, 40)])
def test_the_plans_query_costs_the_same_statements_whatever_the_plans_and_moves(
    book: Map, plans: int, moves: int
) -> None:
    busy(book.ann)  # so the misplaced accounts move (Ann is the busiest)
    for _ in range(moves):
        account_in("US-CA", book.ann)
    token = _manager(book)
    for _ in range(plans):
        payload_of(gql(BUILD, token=token), "buildRebalancePlan")
    gql(PLANS, token=token)
    with CaptureQueriesContext(connection) as queries:
        assert_no_errors(gql(PLANS, token=token))
    assert len(queries) == 5, [q["sql"][:120] for q in queries]

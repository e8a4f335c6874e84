"""Rebalancing: re-run the territory rules over existing accounts and leads, propose moves, apply them once."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import IntegrityError, transaction

from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from leadowner.models import Notification
from routing.models import Ownership, OwnershipChange, RebalanceMove, RebalancePlan
from routing.services.rebalancing import (
    apply_rebalance_moves,
    apply_rebalance_plan,
    build_rebalance_plan,
    sweep_rebalancing,
)
from routing.services.transfers import transfer_ownership
from territories.models import Rep
from tests.factories import (
    ActivityFactory,
    ManagerFactory,
    OpportunityFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)
from tests.jobs_support import current_owner_of, owned_account, owned_lead

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=400)
pytestmark = pytest.mark.django_db


class Map:
    """The published map: East (New York: Ann, Ben) and West (California: Cat, Cal)."""

    def __init__(self, *, policy: dict | None = None) -> None:
        self.rule_set = RuleSetFactory(status="PUBLISHED", version=2, policy=policy or {})
        self.ann, self.ben = RepFactory(name="Ann"), RepFactory(name="Ben")
        self.cat, self.cal = RepFactory(name="Cat"), RepFactory(name="Cal")
        self.east = TerritoryFactory(rule_set=self.rule_set, name="East", criteria={"subdivisions": ["US-NY"]})
        self.west = TerritoryFactory(rule_set=self.rule_set, name="West", criteria={"subdivisions": ["US-CA"]})
        for t, reps in ((self.east, [self.ann, self.ben]), (self.west, [self.cat, self.cal])):
            for position, rep in enumerate(reps):
                TerritoryMemberFactory(territory=t, rep=rep, position=position)
        self.manager = ManagerFactory(name="Manager")

    def plan(self) -> RebalancePlan:
        return build_rebalance_plan(actor=Actor(rep=self.manager), now=NOW)

    def apply(self, plan: RebalancePlan) -> None:
        with mock.patch("leadowner.tasks.send_now"):
            apply_rebalance_plan(plan_id=plan.pk, actor=Actor(rep=self.manager), now=NOW)
        apply_rebalance_moves(plan_id=plan.pk, now=NOW)


def account_in(state: str, rep, **fields):
    return owned_account(rep, LONG_AGO, subdivision=state, **fields)[0]


def busy(rep, n: int = 2) -> None:
    """`n` more accounts `rep` keeps (in Ann's and Ben's East): a load the moves can lower."""
    for _ in range(n):
        account_in("US-NY", rep)


def replay(plan: RebalancePlan) -> dict[str, int]:
    """Apply the plan's moves in order to its loads before: the loads after, checked against the plan's summary."""
    reps = {row["rep_id"]: row for row in plan.summary["reps"] if row["status"] != "DEPARTED"}
    loads = {rep_id: row["before"] for rep_id, row in reps.items()}
    variance = statistics.pvariance(loads.values())
    for move in plan.moves.order_by("id"):
        loads[move.from_rep_id] -= 1
        loads[move.to_rep_id] += 1
        variance = statistics.pvariance(loads.values())
    assert {reps[k]["name"]: v for k, v in loads.items()} == {r["name"]: r["after"] for r in reps.values()}
    assert round(variance, 4) == plan.summary["variance_after"]
    return {reps[k]["name"]: v for k, v in loads.items()}


def test_a_plan_proposes_moving_accounts_to_their_new_territorys_distribution_and_moves_nothing_yet():
    m = Map()
    misplaced = account_in("US-CA", m.ann)
    at_home = account_in("US-NY", m.ann)
    plan = m.plan()
    (move,) = plan.moves.all()
    assert (move.account, move.from_rep, move.to_rep, move.territory_name) == (misplaced, m.ann, m.cat, "West")
    assert plan.summary["stayed"] == {"in_territory": 1}
    assert current_owner_of(account=misplaced) == m.ann
    assert current_owner_of(account=at_home) == m.ann
    assert plan.status == "DRAFT"


def test_applying_a_plan_moves_the_records_with_history_and_marks_the_plan_applied():
    m = Map()
    busy(m.ann)
    misplaced = [account_in("US-CA", m.ann) for _ in range(4)]
    plan = m.plan()
    m.apply(plan)
    owners = sorted(current_owner_of(account=a).name for a in misplaced)
    assert owners == ["Cal", "Cal", "Cat", "Cat"]
    plan.refresh_from_db()
    assert (plan.status, plan.applied_at) == ("APPLIED", NOW)
    for account in misplaced:
        (change,) = OwnershipChange.objects.filter(account=account)
        assert (change.from_rep, change.step, change.actor) == (
            m.ann,
            "TERRITORY",
            f"rebalancing job (plan #{plan.pk})",
        )
        assert change.rule_set_version == 2
    assert set(RebalanceMove.objects.filter(plan=plan).values_list("status", flat=True)) == {"APPLIED"}


def test_accounts_with_an_open_opportunity_are_protected_through_close():
    m = Map()
    busy(m.ann)
    account = account_in("US-CA", m.ann)
    opportunity = OpportunityFactory(account=account, owner=m.ann, status="OPEN")
    plan = m.plan()
    assert plan.moves.count() == 0
    assert plan.summary["stayed"] == {"in_territory": 2, "open_opportunity": 1}
    opportunity.status = "WON"
    opportunity.save()
    RebalancePlan.objects.all().delete()
    assert m.plan().moves.get().account == account


def test_accounts_engaged_within_the_idle_window_stay():
    m = Map()
    engaged = account_in("US-CA", m.ann)
    idle = account_in("US-CA", m.ann)
    ActivityFactory(rep=m.ann, account=engaged, occurred_at=NOW - timedelta(days=89))
    ActivityFactory(rep=m.ann, account=idle, occurred_at=NOW - timedelta(days=90))
    plan = m.plan()
    assert [mv.account for mv in plan.moves.all()] == [idle]
    assert plan.summary["stayed"] == {"engaged": 1}


def test_the_idle_window_comes_from_the_rule_sets_policy():
    m = Map(policy={"rebalance_idle_days": 30})
    busy(m.ann)
    account = account_in("US-CA", m.ann)
    ActivityFactory(rep=m.ann, account=account, occurred_at=NOW - timedelta(days=31))
    assert m.plan().moves.get().account == account


def test_named_accounts_and_claimed_accounts_stay_with_their_owner():
    m = Map()
    account_in("US-CA", m.ann, named_account=True)
    account_in("US-CA", m.ann, reason="ACCOUNT_CLAIM")
    plan = m.plan()
    assert plan.moves.count() == 0
    assert plan.summary["stayed"] == {"claimed": 1, "named_account": 1}


def test_untouched_leads_routed_by_territory_move_and_worked_ones_stay():
    m = Map()
    untouched, _ = owned_lead(m.ann, NOW - timedelta(days=3), subdivision="US-CA")
    worked, _ = owned_lead(m.ann, NOW - timedelta(days=3), subdivision="US-CA")
    ActivityFactory(rep=m.ann, lead=worked, kind="CALL", occurred_at=NOW - timedelta(days=1))
    plan = m.plan()
    assert [mv.lead for mv in plan.moves.all()] == [untouched]
    m.apply(plan)
    untouched.refresh_from_db()
    assert current_owner_of(lead=untouched) == m.cat
    assert untouched.assigned_at == NOW


def test_the_plan_shows_counts_per_rep_before_and_after_and_the_load_variance_it_removes():
    m = Map()
    busy(m.ann)
    for _ in range(4):
        account_in("US-CA", m.ann)  # Ann holds 4 West accounts and 2 East ones; the others hold none
    plan = m.plan()
    reps = {row["name"]: (row["before"], row["after"]) for row in plan.summary["reps"]}
    assert reps == {"Ann": (6, 2), "Ben": (0, 0), "Cat": (0, 2), "Cal": (0, 2)}
    assert plan.summary["variance_before"] == 6.75  # loads 6, 0, 0, 0
    assert plan.summary["variance_after"] == 0.75  # loads 2, 0, 2, 2
    assert plan.summary["variance_removed"] == 6.0
    assert (plan.summary["moves"], plan.summary["accounts_moving"], plan.summary["leads_moving"]) == (4, 4, 0)


def test_misplaced_records_follow_their_territory_and_the_plan_reports_the_variance_it_removes():
    m = Map()
    for _ in range(4):
        account_in("US-CA", m.ann)  # 4 West accounts with Ann (East): loads 4, 0, 0, 0
    plan = m.plan()
    assert replay(plan) == {"Ann": 0, "Ben": 0, "Cat": 2, "Cal": 2}
    assert plan.summary["stayed"] == {}
    assert (plan.summary["variance_before"], plan.summary["variance_after"]) == (3.0, 1.0)
    assert all("records against Ann's" in move.why for move in plan.moves.all())


def test_a_misplaced_record_moves_even_where_its_territory_is_busier_and_the_plan_says_the_variance_rises():
    m = Map()
    misplaced = account_in("US-CA", m.ann)  # Ann 1 (East), Cat 1, Cal 1 (West), Ben 0
    account_in("US-CA", m.cat)
    account_in("US-CA", m.cal)
    plan = m.plan()
    assert plan.moves.get().account == misplaced
    assert plan.summary["stayed"] == {"in_territory": 2}
    assert plan.summary["variance_after"] > plan.summary["variance_before"]


def test_on_the_demo_book_the_plan_moves_the_misplaced_account_and_reports_the_variance():
    from leadowner.demo.load import load_demo
    from territories.services import create_draft_from, publish_rule_set, update_territory

    with mock.patch("leadowner.tasks.send_now"):
        published = load_demo(now=NOW).rule_set
    revops = Actor(rep=Rep.objects.get(role="REVOPS"))
    plan = build_rebalance_plan(actor=revops, now=NOW)
    # The demo's one misplaced account goes to its territory's pick, who holds 11 more records:
    # the variance rises, and the plan says so.
    assert plan.summary["moves"] == 1
    assert plan.summary["variance_after"] > plan.summary["variance_before"]

    # A new map: each territory's first member leaves it, so their records there are to move.
    draft = create_draft_from(version=published.version, actor=revops, now=NOW)
    for territory in draft.territories.prefetch_related("memberships"):
        members = sorted(territory.memberships.all(), key=lambda m: (m.position, m.pk))
        if len(members) > 1:
            update_territory(territory_id=territory.pk, actor=revops, now=NOW, remove_members=[members[0].rep_id])
    publish_rule_set(version=draft.version, actor="test", now=NOW)
    plan = build_rebalance_plan(actor=revops, now=NOW)
    replay(plan)  # the loads after are what the summary reports
    assert plan.summary["moves"] > 1


def test_a_plan_for_chosen_territories_moves_only_the_records_that_belong_to_them():
    m = Map()
    busy(m.ann)  # two East accounts with Ann: East is not covered
    for _ in range(3):
        account_in("US-CA", m.ann)  # West's, with Ann (East)
        account_in("US-NY", m.cat)  # East's, with Cat (West)
    plan = build_rebalance_plan(actor=Actor(rep=m.manager), now=NOW, territory_ids=[m.west.pk])
    assert {move.territory_name for move in plan.moves.all()} == {"West"}
    assert plan.summary["territories"] == ["West"]
    assert plan.summary["stayed"]["other_territory"] == 5  # Ann's two East accounts and Cat's three
    assert plan.summary["moves"] == 3  # each of Ann's three West accounts goes to West
    assert {row["name"] for row in plan.summary["reps"]} == {"Ann", "Cat", "Cal"}  # West's members, the owners
    replay(plan)


def test_a_chosen_territory_covers_its_sub_territories():
    from routing.services.rebalancing import _scope

    m = Map()
    bay = TerritoryFactory(rule_set=m.rule_set, name="Bay Area", parent=m.west)
    sf = TerritoryFactory(rule_set=m.rule_set, name="San Francisco", parent=bay)
    territories = [m.east, m.west, bay, sf]
    assert _scope(territories, [m.west.pk], m.rule_set) == {m.west.pk, bay.pk, sf.pk}
    assert _scope(territories, [bay.pk, m.east.pk], m.rule_set) == {bay.pk, sf.pk, m.east.pk}
    assert _scope(territories, None, m.rule_set) is None


def test_a_territory_outside_the_rule_set_or_an_empty_choice_is_refused_at_its_field():
    m = Map()
    other = TerritoryFactory(rule_set=RuleSetFactory(version=3, status="DRAFT"), name="Elsewhere")
    for chosen in ([other.pk], []):
        with pytest.raises(ServiceError) as err:
            build_rebalance_plan(actor=Actor(rep=m.manager), now=NOW, territory_ids=chosen)
        assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "territoryIds")
    assert not RebalancePlan.objects.exists()


def test_a_plan_never_moves_the_same_record_twice():
    m = Map()
    busy(m.ann)
    account = account_in("US-CA", m.ann)
    plan = m.plan()
    move = plan.moves.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        RebalanceMove.objects.create(
            plan=plan,
            account=account,
            role="SALES",
            ownership=move.ownership,
            from_rep=m.ann,
            to_rep=m.cal,
            territory_name="West",
            why="again",
        )
    m.apply(plan)
    assert apply_rebalance_moves(plan_id=plan.pk, now=NOW).counts == {"not_applying": 1}
    RebalancePlan.objects.filter(pk=plan.pk).update(status="APPLYING")  # even when told to go again
    assert apply_rebalance_moves(plan_id=plan.pk, now=NOW).counts == {"plans_applied": 1}
    assert OwnershipChange.objects.filter(account=account).count() == 1


def test_an_opportunity_opened_after_the_plan_keeps_the_account_when_the_plan_is_applied():
    m = Map()
    busy(m.ann)
    account = account_in("US-CA", m.ann)
    plan = m.plan()
    OpportunityFactory(account=account, owner=m.ann, status="OPEN")
    m.apply(plan)
    assert current_owner_of(account=account) == m.ann
    move = plan.moves.get()
    assert (move.status, move.skipped_reason) == (
        "SKIPPED",
        "an opportunity opened since the plan: the account is protected",
    )


def test_a_record_whose_owner_changed_since_the_plan_is_skipped_not_overwritten():
    m = Map()
    busy(m.ann)
    account = account_in("US-CA", m.ann)
    plan = m.plan()
    transfer_ownership(account=account, to_rep=m.ben, reason="customer asked", actor=Actor.system_actor("t"), now=NOW)
    m.apply(plan)
    assert current_owner_of(account=account) == m.ben
    assert plan.moves.get().skipped_reason == "the owner changed since the plan"


def test_publishing_a_rule_set_makes_the_sweep_propose_one_plan_and_tell_revops():
    m = Map()
    revops = RepFactory(role="REVOPS", name="Rita")
    busy(m.ann)
    account_in("US-CA", m.ann)
    first = sweep_rebalancing(now=NOW)
    second = sweep_rebalancing(now=NOW)
    assert first.counts == {"plans_proposed": 1}
    assert second.counts == {}
    plan = RebalancePlan.objects.get()
    assert (plan.trigger, plan.rule_set, plan.created_by) == ("PUBLISH", m.rule_set, "rebalancing job")
    told = Notification.objects.get(kind="REBALANCING")
    assert told.recipient_rep == revops
    assert told.subject == f"Rebalancing plan #{plan.pk} for rule set v2: 1 moves proposed"


def test_the_rebalancing_sweep_finishes_applying_a_confirmed_plan():
    m = Map()
    busy(m.ann)
    account = account_in("US-CA", m.ann)
    plan = m.plan()
    with mock.patch("leadowner.tasks.send_now"):
        apply_rebalance_plan(plan_id=plan.pk, actor=Actor(rep=m.manager), now=NOW)  # the task is lost
    result = sweep_rebalancing(now=NOW)
    assert result.counts == {"moved": 1, "plans_applied": 1}
    assert current_owner_of(account=account) == m.cat


def test_applying_a_plan_tells_each_rep_what_they_gained_and_lost():
    m = Map()
    busy(m.ann)
    account_in("US-CA", m.ann)
    account_in("US-CA", m.ann)
    m.apply(m.plan())
    subjects = {n.recipient_rep: n.subject for n in Notification.objects.filter(kind="REBALANCING")}
    assert subjects == {
        m.ann: "Rebalancing to rule set v2: +0 / -2 records",
        m.cat: "Rebalancing to rule set v2: +1 / -0 records",
        m.cal: "Rebalancing to rule set v2: +1 / -0 records",
    }


def test_only_managers_and_revops_build_or_apply_a_plan():
    m = Map()
    plan = m.plan()
    with pytest.raises(ServiceError) as err:
        build_rebalance_plan(actor=Actor(rep=m.ann), now=NOW)
    assert err.value.code == ErrorCode.FORBIDDEN
    with pytest.raises(ServiceError) as err:
        apply_rebalance_plan(plan_id=plan.pk, actor=Actor(rep=m.ann), now=NOW)
    assert err.value.code == ErrorCode.FORBIDDEN


def test_a_plan_made_for_a_rule_set_that_is_no_longer_published_cannot_be_applied():
    m = Map()
    plan = m.plan()
    m.rule_set.status = "ARCHIVED"
    m.rule_set.save()
    RuleSetFactory(status="PUBLISHED", version=3)
    with pytest.raises(ServiceError) as err:
        apply_rebalance_plan(plan_id=plan.pk, actor=Actor(rep=m.manager), now=NOW)
    assert err.value.code == ErrorCode.INVALID


def test_a_plan_is_applied_once_even_when_confirmed_twice():
    m = Map()
    plan = m.plan()
    m.apply(plan)
    with pytest.raises(ServiceError) as err:
        apply_rebalance_plan(plan_id=plan.pk, actor=Actor(rep=m.manager), now=NOW)
    assert err.value.code == ErrorCode.INVALID_TRANSITION


def test_moves_are_applied_in_batches():
    m = Map()
    busy(m.ann, 3)
    for _ in range(5):
        account_in("US-CA", m.ann)
    plan = m.plan()
    with mock.patch("leadowner.tasks.send_now"):
        apply_rebalance_plan(plan_id=plan.pk, actor=Actor(rep=m.manager), now=NOW)
    first = apply_rebalance_moves(plan_id=plan.pk, now=NOW, batch_size=2, time_budget=0)
    assert (first.counts, first.more) == ({"moved": 2}, True)
    rest = apply_rebalance_moves(plan_id=plan.pk, now=NOW, batch_size=2)
    assert rest.counts == {"moved": 3, "plans_applied": 1}
    assert Ownership.objects.filter(rep=m.ann, ended_at__isnull=True).count() == 3  # her East accounts

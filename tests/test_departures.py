"""Rep departures: everything a departed rep owns is reassigned within the deadline, once, with history."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection, transaction

from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from leadowner.models import Notification
from leadowner.selectors_jobs import departure_preview, departures_in_progress
from leadowner.tokens import authenticate_token, issue_token
from routing.models import Account, Lead, Opportunity, Ownership, OwnershipChange
from routing.services.departures import (
    departure_actor,
    mark_rep_departed,
    preview_departure,
    reassign_departed_rep,
    remaining_of,
    start_due_departures,
    sweep_departures,
)
from territories.models import Rep
from tests.factories import (
    ManagerFactory,
    OpportunityFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)
from tests.jobs_support import current_owner_of, owned_account, owned_lead

FRIDAY_10 = datetime(2025, 3, 7, 10, 0, tzinfo=UTC)


class Book:
    """Dan (an AE under Mona) departs. The map: 'New York' (NY) and its parent 'United States' (US)."""

    def __init__(self, *, policy: dict | None = None) -> None:
        self.rule_set = RuleSetFactory(status="PUBLISHED", calendar="US", policy=policy or {})
        self.mona = ManagerFactory(name="Mona Manager")
        self.dan = RepFactory(name="Dan Departing", manager=self.mona)
        self.hank = RepFactory(name="Hank Hunter")  # an AE in New York
        self.amy = RepFactory(name="Amy Farmer", role="ACCOUNT_MANAGER")  # an account manager in New York
        self.uma = RepFactory(name="Uma Hunter")  # an AE in the United States territory
        self.alan = RepFactory(name="Alan Farmer", role="ACCOUNT_MANAGER")  # an account manager in the US
        self.us = TerritoryFactory(rule_set=self.rule_set, name="United States", criteria={"countries": ["US"]})
        self.ny = TerritoryFactory(
            rule_set=self.rule_set, name="New York", parent=self.us, criteria={"subdivisions": ["US-NY"]}
        )
        for t, reps in ((self.ny, [self.dan, self.hank, self.amy]), (self.us, [self.uma, self.alan])):
            for position, rep in enumerate(reps):
                TerritoryMemberFactory(territory=t, rep=rep, position=position)

    def depart(self, now=FRIDAY_10) -> Rep:
        with mock.patch("leadowner.tasks.send_now"):
            return mark_rep_departed(rep_id=self.dan.pk, actor=Actor(rep=self.mona), now=now)


def ny_account(rep, *, type="PROSPECT", role="SALES", reason="TERRITORY"):
    return owned_account(rep, FRIDAY_10 - timedelta(days=100), role=role, reason=reason, type=type, subdivision="US-NY")


# --- marking -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_marking_a_rep_departed_sets_the_status_and_a_deadline_in_business_days_of_the_calendar():
    book = Book()
    rep = book.depart(now=FRIDAY_10)
    assert (rep.status, rep.departed_at) == ("DEPARTED", FRIDAY_10)
    assert rep.reassignment_due_at == datetime(2025, 3, 10, 10, 0, tzinfo=UTC)  # Friday + 1 business day: Monday


@pytest.mark.django_db
def test_the_departure_deadline_comes_from_the_policy_and_skips_holidays():
    book = Book(policy={"departure_business_days": 2})
    thursday = datetime(2025, 7, 3, 10, 0, tzinfo=UTC)  # Friday 4 July is a US holiday
    rep = book.depart(now=thursday)
    assert rep.reassignment_due_at == datetime(2025, 7, 8, 10, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_only_a_manager_of_the_rep_or_revops_may_mark_a_rep_departed():
    book = Book()
    for stranger in (RepFactory(), ManagerFactory(), book.hank):
        with pytest.raises(ServiceError) as err:
            mark_rep_departed(rep_id=book.dan.pk, actor=Actor(rep=stranger), now=FRIDAY_10)
        assert err.value.code == ErrorCode.FORBIDDEN
    book.dan.refresh_from_db()
    assert book.dan.status == "ACTIVE"
    with mock.patch("leadowner.tasks.send_now"):
        rep = mark_rep_departed(rep_id=book.dan.pk, actor=Actor(rep=RepFactory(role="REVOPS")), now=FRIDAY_10)
    assert rep.status == "DEPARTED"


@pytest.mark.django_db
def test_a_managers_manager_may_mark_a_rep_departed():
    book = Book()
    director = ManagerFactory()
    book.mona.manager = director
    book.mona.save()
    with mock.patch("leadowner.tasks.send_now"):
        assert mark_rep_departed(rep_id=book.dan.pk, actor=Actor(rep=director), now=FRIDAY_10).status == "DEPARTED"


@pytest.mark.django_db
def test_marking_a_departed_rep_again_is_refused():
    book = Book()
    book.depart()
    with pytest.raises(ServiceError) as err:
        book.depart()
    assert err.value.code == ErrorCode.INVALID_TRANSITION


@pytest.mark.django_db
def test_a_departed_reps_api_tokens_stop_working():
    book = Book()
    _token, raw = issue_token(rep=book.dan, now=FRIDAY_10)
    assert authenticate_token(raw, now=FRIDAY_10) is not None
    book.depart()
    assert authenticate_token(raw, now=FRIDAY_10 + timedelta(minutes=5)) is None


@pytest.mark.django_db
def test_the_reassignment_is_sent_to_the_workers_only_when_the_departure_commits(django_capture_on_commit_callbacks):
    book = Book()
    with mock.patch("leadowner.tasks.send_now") as send, django_capture_on_commit_callbacks(execute=True):
        mark_rep_departed(rep_id=book.dan.pk, actor=Actor(rep=book.mona), now=FRIDAY_10)
    sent = [c.args for c in send.call_args_list if c.args[0].name == "routing.tasks.reassign_departed_rep"]
    assert [args[1:] for args in sent] == [(book.dan.pk,)]


@pytest.mark.django_db
def test_a_rolled_back_departure_sends_nothing(django_capture_on_commit_callbacks):
    book = Book()
    with (
        mock.patch("leadowner.tasks.send_now") as send,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        contextlib.suppress(RuntimeError),
        transaction.atomic(),
    ):
        mark_rep_departed(rep_id=book.dan.pk, actor=Actor(rep=book.mona), now=FRIDAY_10)
        raise RuntimeError("the request failed after the service call")
    assert callbacks == []
    assert send.call_count == 0
    book.dan.refresh_from_db()
    assert book.dan.status == "ACTIVE"


@pytest.mark.django_db
def test_a_departure_can_be_backdated_and_its_deadline_counts_from_the_day_the_rep_left():
    book = Book()
    left_on_friday = FRIDAY_10
    rep = mark_rep_departed(
        rep_id=book.dan.pk, effective_at=left_on_friday, actor=Actor(rep=book.mona), now=FRIDAY_10 + timedelta(days=3)
    )
    assert (rep.status, rep.departed_at) == ("DEPARTED", left_on_friday)
    assert rep.reassignment_due_at == datetime(2025, 3, 10, 10, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_departure_ahead_is_scheduled_and_the_rep_works_on_until_then(monkeypatch):
    import routing.services.departures as departures

    enqueued: list[object] = []
    monkeypatch.setattr(departures, "enqueue_on_commit", lambda task, *args: enqueued.append((task.name, args)))
    book = Book()
    last_day = FRIDAY_10 + timedelta(days=7)
    rep = mark_rep_departed(rep_id=book.dan.pk, effective_at=last_day, actor=Actor(rep=book.mona), now=FRIDAY_10)
    assert (rep.status, rep.departed_at) == ("ACTIVE", last_day)
    assert rep.reassignment_due_at is not None and rep.reassignment_due_at > last_day
    assert enqueued == [], "nothing is reassigned before the last day"
    start_due_departures(now=last_day)
    assert enqueued == [("routing.tasks.reassign_departed_rep", (book.dan.pk,))]


@pytest.mark.django_db
def test_a_scheduled_departure_starts_when_its_day_comes_and_only_once():
    book = Book()
    last_day = FRIDAY_10 + timedelta(days=7)
    mark_rep_departed(rep_id=book.dan.pk, effective_at=last_day, actor=Actor(rep=book.mona), now=FRIDAY_10)
    assert start_due_departures(now=last_day - timedelta(seconds=1)) == []
    book.dan.refresh_from_db()
    assert book.dan.status == "ACTIVE"
    assert start_due_departures(now=last_day) == [book.dan.pk]
    assert start_due_departures(now=last_day + timedelta(minutes=1)) == []
    book.dan.refresh_from_db()
    assert book.dan.status == "DEPARTED"


# --- where things go ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_customers_go_to_an_account_manager_of_the_same_territory():
    book = Book()
    ny_customer, _ = ny_account(book.dan, type="CUSTOMER")
    us_customer, _ = owned_account(book.dan, FRIDAY_10, type="CUSTOMER", subdivision="US-CA")
    am_owned, _ = ny_account(book.dan, type="CUSTOMER", role="ACCOUNT_MANAGER", reason="CUSTOMER_OWNER")
    book.depart()
    reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    assert current_owner_of(account=ny_customer) == book.amy
    assert current_owner_of(account=us_customer) == book.alan
    assert current_owner_of(account=am_owned, role="ACCOUNT_MANAGER") == book.amy
    change = OwnershipChange.objects.get(account=ny_customer)
    assert change.step == "CUSTOMER_OWNER"
    assert "an account manager of its territory 'New York'" in change.reason


@pytest.mark.django_db
def test_a_customer_whose_territory_has_no_account_manager_goes_to_one_of_the_parent_territory():
    book = Book()
    book.amy.status = "OUT_OF_OFFICE"
    book.amy.save()
    customer, _ = ny_account(book.dan, type="CUSTOMER")
    book.depart()
    reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    assert current_owner_of(account=customer) == book.alan


@pytest.mark.django_db
def test_prospects_go_through_territory_routing_to_the_least_loaded_hunter():
    book = Book()
    hank_extra = RepFactory(name="Hal Hunter")
    TerritoryMemberFactory(territory=book.ny, rep=hank_extra, position=9)
    for _ in range(2):
        ny_account(book.hank)
    prospects = [ny_account(book.dan)[0] for _ in range(4)]
    book.depart()
    reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    owners = [current_owner_of(account=a) for a in prospects]
    # Hal starts at 0 accounts and Hank at 2: Hal gets two first, then they alternate.
    assert sorted(o.name for o in owners) == ["Hal Hunter", "Hal Hunter", "Hal Hunter", "Hank Hunter"]
    assert book.amy not in owners  # farmers do not get prospects while hunters can take them
    assert OwnershipChange.objects.get(account=prospects[0]).step == "TERRITORY"


@pytest.mark.django_db
def test_a_prospect_that_no_territory_matches_waits_unowned():
    book = Book()
    abroad, _ = owned_account(book.dan, FRIDAY_10, country="FR")
    book.depart()
    reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    assert current_owner_of(account=abroad) is None
    change = OwnershipChange.objects.get(account=abroad)
    assert (change.from_rep, change.to_rep, change.step) == (book.dan, None, "UNASSIGNED")
    assert "no territory matches it" in change.reason


@pytest.mark.django_db
def test_a_prospect_with_the_reps_open_opportunity_follows_the_opportunity_to_the_manager():
    book = Book()
    account, _ = ny_account(book.dan)
    OpportunityFactory(account=account, owner=book.dan, status="OPEN")
    book.depart()
    reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    assert current_owner_of(account=account) == book.mona
    assert Opportunity.objects.get(account=account).owner == book.mona


@pytest.mark.django_db
def test_a_departed_reps_claim_is_reassigned_through_the_accounts_territory():
    book = Book()
    claimed, ownership = ny_account(book.dan, reason="ACCOUNT_CLAIM")
    book.depart()
    result = reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    assert result.counts == {"claims_reassigned": 1}
    assert current_owner_of(account=claimed) == book.hank
    ownership.refresh_from_db()
    assert ownership.ended_at == FRIDAY_10
    change = OwnershipChange.objects.get(account=claimed)
    assert (change.from_rep, change.to_rep, change.step) == (book.dan, book.hank, "TERRITORY")
    assert "which Dan" in change.reason and "had claimed" in change.reason and "'New York'" in change.reason


@pytest.mark.django_db
def test_a_departed_reps_claim_with_nobody_available_in_its_territory_waits_unowned_and_claimable():
    book = Book()
    claimed, _ = ny_account(book.dan, reason="ACCOUNT_CLAIM")
    for rep in (book.hank, book.amy):
        rep.status = "OUT_OF_OFFICE"
        rep.save()
    book.depart()
    result = reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    assert result.counts == {"claims_unowned": 1}
    assert current_owner_of(account=claimed) is None
    change = OwnershipChange.objects.get(account=claimed)
    assert "has nobody available" in change.reason and "waits unowned, claimable" in change.reason


@pytest.mark.django_db
def test_open_leads_are_routed_again_never_back_to_the_departed_rep_and_closed_ones_go_to_the_manager():
    book = Book()
    open_lead, _ = owned_lead(book.dan, FRIDAY_10 - timedelta(days=2), subdivision="US-NY")
    won_lead, _ = owned_lead(book.dan, FRIDAY_10 - timedelta(days=40), subdivision="US-NY", stage="WON")
    book.depart()
    result = reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    assert result.counts == {"leads_rerouted": 1, "leads_reassigned": 1}
    assert current_owner_of(lead=open_lead) in (book.hank, book.amy)
    assert current_owner_of(lead=won_lead) == book.mona
    routed = OwnershipChange.objects.get(lead=open_lead)
    assert (routed.from_rep, routed.actor) == (book.dan, departure_actor(book.dan))


@pytest.mark.django_db
def test_open_opportunities_go_to_the_reps_manager_and_closed_ones_stay():
    book = Book()
    open_opp = OpportunityFactory(owner=book.dan, status="OPEN")
    won_opp = OpportunityFactory(owner=book.dan, status="WON")
    book.depart()
    reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    open_opp.refresh_from_db()
    won_opp.refresh_from_db()
    assert (open_opp.owner, won_opp.owner) == (book.mona, book.dan)


@pytest.mark.django_db
def test_with_no_active_manager_the_managers_share_goes_to_revops():
    book = Book()
    book.mona.status = "DEPARTED"
    book.mona.save()
    revops = RepFactory(role="REVOPS", name="Rita RevOps")
    opportunity = OpportunityFactory(owner=book.dan, status="OPEN")
    with mock.patch("leadowner.tasks.send_now"):
        mark_rep_departed(rep_id=book.dan.pk, actor=Actor(rep=revops), now=FRIDAY_10)
    reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    opportunity.refresh_from_db()
    assert opportunity.owner == revops


@pytest.mark.django_db
def test_nothing_remains_owned_by_a_departed_rep_after_the_job():
    book = Book()
    ny_account(book.dan)
    ny_account(book.dan, type="CUSTOMER")
    ny_account(book.dan, reason="ACCOUNT_CLAIM")
    owned_account(book.dan, FRIDAY_10, country="FR")
    owned_lead(book.dan, FRIDAY_10, subdivision="US-NY")
    OpportunityFactory(owner=book.dan, status="OPEN")
    book.depart()
    assert remaining_of(book.dan.pk) == {"accounts": 4, "leads": 1, "opportunities": 1}
    result = reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    assert not result.more
    assert remaining_of(book.dan.pk) == {"accounts": 0, "leads": 0, "opportunities": 0}
    assert not Ownership.objects.filter(rep=book.dan, ended_at__isnull=True).exists()


@pytest.mark.django_db
def test_the_preview_shows_where_everything_will_go_and_writes_nothing():
    book = Book()
    prospect, _ = ny_account(book.dan)
    customer, _ = ny_account(book.dan, type="CUSTOMER")
    claimed, _ = ny_account(book.dan, reason="ACCOUNT_CLAIM")
    lead, _ = owned_lead(book.dan, FRIDAY_10, subdivision="US-NY")
    opportunity = OpportunityFactory(owner=book.dan, status="OPEN")
    before = (Ownership.objects.count(), OwnershipChange.objects.count(), Notification.objects.count())
    plan = preview_departure(rep=book.dan, now=FRIDAY_10)
    assert before == (Ownership.objects.count(), OwnershipChange.objects.count(), Notification.objects.count())
    assert plan.counts() == {
        "account": {"Hank Hunter": 1, "Amy Farmer": 1},
        "claim": {"Hank Hunter": 1},
        "lead": {"routing": 1},
        "opportunity": {"Mona Manager": 1},
    }
    where = {(m.kind, m.record_id): m.to_rep_id for m in plan.moves}
    assert plan.reassignment_due_at == datetime(2025, 3, 10, 10, 0, tzinfo=UTC)
    book.depart()
    reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    # What the preview said is what happened.
    assert current_owner_of(account=prospect).pk == where[("account", prospect.pk)]
    assert current_owner_of(account=customer).pk == where[("account", customer.pk)]
    assert current_owner_of(account=claimed).pk == where[("claim", claimed.pk)]
    opportunity.refresh_from_db()
    assert opportunity.owner_id == where[("opportunity", opportunity.pk)]
    assert current_owner_of(lead=lead) is not None


@pytest.mark.django_db
def test_every_move_of_the_bulk_path_writes_one_history_row_naming_the_departure():
    book = Book()
    accounts = [ny_account(book.dan)[0] for _ in range(7)] + [ny_account(book.dan, type="CUSTOMER")[0]]
    book.depart()
    reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10, batch_size=3)
    for account in accounts:
        (change,) = OwnershipChange.objects.filter(account=account)
        assert (change.from_rep, change.actor, change.at) == (book.dan, departure_actor(book.dan), FRIDAY_10)
        assert change.to_rep == current_owner_of(account=account)
        assert change.reason.startswith("Dan Departing departed: ")


@pytest.mark.django_db
def test_running_the_departure_twice_moves_each_record_once():
    book = Book()
    accounts = [ny_account(book.dan)[0] for _ in range(5)]
    owned_lead(book.dan, FRIDAY_10, subdivision="US-NY")
    book.depart()
    first = reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    second = reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    assert first.counts == {"accounts_reassigned": 5, "leads_rerouted": 1}
    assert second.counts == {}
    assert OwnershipChange.objects.filter(account__in=accounts).count() == 5


@pytest.mark.django_db
def test_a_departure_stops_at_its_time_budget_and_says_more_is_due():
    book = Book()
    for _ in range(5):
        ny_account(book.dan)
    book.depart()
    first = reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10, batch_size=2, time_budget=0)
    assert (first.counts, first.more) == ({"accounts_reassigned": 2}, True)
    rest = reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10, batch_size=2)
    assert (rest.counts, rest.more) == ({"accounts_reassigned": 3}, False)


@pytest.mark.django_db
def test_the_departures_sweep_finishes_any_departed_rep_who_still_owns_something():
    book = Book()
    account, _ = ny_account(book.dan)
    Rep.objects.filter(pk=book.dan.pk).update(status="DEPARTED")  # e.g. reps.csv said so: no task was sent
    result = sweep_departures(now=FRIDAY_10)
    assert result.counts == {"accounts_reassigned": 1, "reps": 1}
    assert current_owner_of(account=account) == book.hank
    assert sweep_departures(now=FRIDAY_10).counts == {}


@pytest.mark.django_db
def test_the_new_owners_and_the_manager_are_notified_of_a_departures_reassignments():
    book = Book()
    ny_account(book.dan)
    ny_account(book.dan)
    ny_account(book.dan, type="CUSTOMER")
    book.depart()
    reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    reassigned = {n.recipient_rep: n.subject for n in Notification.objects.filter(kind="REASSIGNMENT")}
    assert reassigned == {
        book.hank: "2 records of Dan Departing are now yours",
        book.amy: "1 record of Dan Departing is now yours",
    }
    to_manager = [
        n.subject for n in Notification.objects.filter(kind="DEPARTURE", recipient_rep=book.mona).order_by("id")
    ]
    assert to_manager == ["Dan Departing departed now", "Dan Departing's records are reassigned"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_departure_runs_at_once_move_each_record_once():
    book = Book()
    accounts = [ny_account(book.dan)[0] for _ in range(30)] + [
        ny_account(book.dan, type="CUSTOMER")[0] for _ in range(5)
    ]
    leads = [owned_lead(book.dan, FRIDAY_10, subdivision="US-NY")[0] for _ in range(5)]
    Rep.objects.filter(pk=book.dan.pk).update(status="DEPARTED")
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10, batch_size=4)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for account in accounts:
        assert OwnershipChange.objects.filter(account=account).count() == 1
    for lead in leads:
        assert OwnershipChange.objects.filter(lead=lead).count() == 1
    assert remaining_of(book.dan.pk) == {"accounts": 0, "leads": 0, "opportunities": 0}


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db
def test_a_departure_of_10_000_accounts_finishes_in_well_under_a_minute():
    book = Book()
    accounts = Account.objects.bulk_create(
        [
            Account(name=f"Big {i}", normalized_name=f"big {i}", country="US", subdivision="US-NY", type=t)
            for i, t in enumerate(["PROSPECT"] * 8000 + ["CUSTOMER"] * 2000)
        ]
    )
    Ownership.objects.bulk_create(
        [
            Ownership(account=a, rep=book.dan, role="SALES", reason="TERRITORY", since=FRIDAY_10 - timedelta(days=9))
            for a in accounts
        ]
    )
    Rep.objects.filter(pk=book.dan.pk).update(status="DEPARTED")
    started = time.monotonic()
    result = reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10, time_budget=60)
    elapsed = time.monotonic() - started
    assert not result.more
    assert result.counts == {"accounts_reassigned": 10_000}
    assert elapsed < 30, f"took {elapsed:.1f} s"
    assert OwnershipChange.objects.filter(actor=departure_actor(book.dan)).count() == 10_000
    assert not Ownership.objects.filter(rep=book.dan, ended_at__isnull=True).exists()
    assert Lead.objects.count() == 0


@pytest.mark.django_db
def test_the_roster_screen_sees_departures_in_progress_with_what_remains_and_their_deadline():
    book = Book()
    ny_account(book.dan)
    owned_lead(book.dan, FRIDAY_10, subdivision="US-NY")
    book.depart()
    (progress,) = departures_in_progress()
    assert (progress.rep_id, progress.reassignment_due_at, progress.done) == (
        book.dan.pk,
        datetime(2025, 3, 10, 10, 0, tzinfo=UTC),
        False,
    )
    assert progress.remaining == {"accounts": 1, "leads": 1, "opportunities": 0}
    reassign_departed_rep(rep_id=book.dan.pk, now=FRIDAY_10)
    assert departures_in_progress() == []
    plan = departure_preview(rep_id=RepFactory().pk, now=FRIDAY_10)
    assert plan.moves == ()
    with pytest.raises(ServiceError) as err:
        departure_preview(rep_id=999_999, now=FRIDAY_10)
    assert err.value.code == ErrorCode.NOT_FOUND

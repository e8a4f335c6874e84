"""The rebalancing screens: the plans, one plan's load and moves, build, apply after confirmation, discard."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from leadowner.actors import Actor
from routing.models import RebalancePlan
from routing.services.rebalancing import apply_rebalance_moves, build_rebalance_plan
from tests.factories import RepFactory
from tests.jobs_support import current_owner_of
from tests.test_rebalancing import NOW, Map, account_in, busy

pytestmark = pytest.mark.django_db


@pytest.fixture
def book() -> Map:
    return Map()


@pytest.fixture
def client(book: Map) -> Client:
    user = User.objects.create_user(username="mgr", password="x")
    book.manager.user = user
    book.manager.save()
    client = Client()
    client.force_login(user)
    return client


def _plan(book: Map) -> RebalancePlan:
    return build_rebalance_plan(actor=Actor(rep=book.manager), now=NOW)


def test_the_plans_list_shows_each_plan_with_its_moves_and_variance(client: Client, book: Map) -> None:
    account_in("US-CA", book.ann)
    plan = _plan(book)
    html = client.get(reverse("console:rebalancing")).content.decode()
    assert f"#{plan.pk}" in html and "v2" in html and "draft" in html
    assert "load variance" in html


def test_the_plans_list_shows_one_status_when_asked_as_home_links_the_drafts(client: Client, book: Map) -> None:
    discarded, draft = _plan(book), _plan(book)
    RebalancePlan.objects.filter(pk=discarded.pk).update(status="DISCARDED")
    home = client.get(reverse("console:home")).content.decode()
    assert 'href="/rebalancing/?status=DRAFT"' in home
    html = client.get(reverse("console:rebalancing"), {"status": "DRAFT"}).content.decode()
    assert "Plans: draft only" in html and f">#{draft.pk}<" in html and f">#{discarded.pk}<" not in html
    every = client.get(reverse("console:rebalancing"), {"status": "junk"}).content.decode()
    assert f">#{draft.pk}<" in every and f">#{discarded.pk}<" in every and "Show every plan" not in every


def test_building_a_plan_from_the_console_opens_it_and_moves_nothing(client: Client, book: Map) -> None:
    busy(book.ann)  # Ann is busier than West's members: moving her West account lowers the variance
    misplaced = account_in("US-CA", book.ann)
    response = client.post(reverse("console:rebalancing_build"))
    plan = RebalancePlan.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("console:rebalance_plan", args=[plan.pk])
    assert current_owner_of(account=misplaced) == book.ann
    html = client.get(response["Location"]).content.decode()
    assert "proposes 1 moves" in html and misplaced.name in html and "Cat" in html


def test_building_for_ticked_territories_covers_only_them(client: Client, book: Map) -> None:
    busy(book.ann)
    account_in("US-CA", book.ann)
    form = client.get(reverse("console:rebalancing")).content.decode()
    assert f'name="territory" value="{book.west.pk}"' in form and "<legend>Territories" in form
    response = client.post(reverse("console:rebalancing_build"), {"territory": [str(book.west.pk)]})
    plan = RebalancePlan.objects.get()
    assert response.status_code == 302 and plan.summary["territories"] == ["West"]
    html = client.get(response["Location"]).content.decode()
    assert "(West only)" in html


def test_a_bad_territory_choice_is_refused_at_its_field(client: Client, book: Map) -> None:
    response = client.post(reverse("console:rebalancing_build"), {"territory": ["junk"]})
    html = response.content.decode()
    assert response.status_code == 400 and not RebalancePlan.objects.exists()
    assert 'id="territory-error" role="alert">tick territories from the list<' in html
    assert 'aria-describedby="territory-error"' in html
    other = client.post(reverse("console:rebalancing_build"), {"territory": ["999999"]}).content.decode()
    assert 'id="territory-error" role="alert">territory #999999 is not in rule set v2<' in other


def test_building_with_no_published_rule_set_says_why_in_place(client: Client, book: Map) -> None:
    book.rule_set.status = "ARCHIVED"
    book.rule_set.save()
    response = client.post(reverse("console:rebalancing_build"))
    assert response.status_code == 400
    assert "there is no published rule set to rebalance to" in response.content.decode()


def test_the_plan_page_shows_load_before_and_after_and_why_records_stay(client: Client, book: Map) -> None:
    account_in("US-CA", book.ann)
    account_in("US-NY", book.ann)
    plan = _plan(book)
    html = client.get(reverse("console:rebalance_plan", args=[plan.pk])).content.decode()
    assert "Load per rep, before and after" in html
    assert "1 already with a member of their territory" in html
    assert "rebalancing to rule set v2" in html


def test_a_plan_that_raises_the_load_variance_says_so_on_the_page(client: Client, book: Map) -> None:
    account_in("US-CA", book.ann)  # Ann 1 (East), Cat 1, Cal 1 (West): the record still follows its territory
    account_in("US-CA", book.cat)
    account_in("US-CA", book.cal)
    plan = _plan(book)
    html = client.get(reverse("console:rebalance_plan", args=[plan.pk])).content.decode()
    assert plan.summary["moves"] == 1
    assert "raises it by" in html and "records follow their territory even where its members are busier" in html


def test_apply_asks_for_confirmation_first_and_changes_nothing(client: Client, book: Map) -> None:
    busy(book.ann)
    account_in("US-CA", book.ann)
    plan = _plan(book)
    response = client.post(reverse("console:rebalance_plan_apply", args=[plan.pk]))
    assert "Yes, apply the 1 move" in response.content.decode()
    plan.refresh_from_db()
    assert plan.status == "DRAFT"


def test_a_confirmed_apply_starts_the_plan_and_the_job_moves_the_records(client: Client, book: Map) -> None:
    busy(book.ann)
    misplaced = account_in("US-CA", book.ann)
    plan = _plan(book)
    with mock.patch("leadowner.tasks.send_now"):
        response = client.post(reverse("console:rebalance_plan_apply", args=[plan.pk]), {"confirmed": "1"})
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.status == "APPLYING"
    apply_rebalance_moves(plan_id=plan.pk, now=NOW)
    assert current_owner_of(account=misplaced) == book.cat
    html = client.get(reverse("console:rebalance_plan", args=[plan.pk])).content.decode()
    assert "1 moved, 0 skipped" in html


def test_discarding_a_draft_plan_moves_nothing_and_a_second_discard_is_refused_in_place(
    client: Client, book: Map
) -> None:
    misplaced = account_in("US-CA", book.ann)
    plan = _plan(book)
    assert client.post(reverse("console:rebalance_plan_discard", args=[plan.pk])).status_code == 302
    plan.refresh_from_db()
    assert plan.status == "DISCARDED"
    assert current_owner_of(account=misplaced) == book.ann
    again = client.post(reverse("console:rebalance_plan_discard", args=[plan.pk]))
    assert again.status_code == 400 and "is not a DRAFT plan" in again.content.decode()


def test_a_rep_cannot_reach_the_rebalancing_screens(book: Map) -> None:
    user = User.objects.create_user(username="rep", password="x")
    RepFactory(user=user)
    client = Client()
    client.force_login(user)
    assert client.get(reverse("console:rebalancing")).status_code == 403
    assert client.post(reverse("console:rebalancing_build")).status_code == 403


@pytest.mark.parametrize(("misplaced", "moves"), [(1, 1), (90, 90)])
def test_the_plan_page_costs_the_same_queries_whatever_its_moves(
    client: Client, book: Map, misplaced: int, moves: int, django_assert_num_queries: object
) -> None:
    busy(book.ann)
    for _ in range(misplaced):
        account_in("US-CA", book.ann)
    plan = _plan(book)
    assert plan.moves.count() == moves  # 90 moves: more than one page
    url = reverse("console:rebalance_plan", args=[plan.pk])
    client.get(url)
    with django_assert_num_queries(8):  # type: ignore[operator]
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("plans", [1, 30])
def test_the_plans_list_costs_the_same_queries_whatever_its_length(
    client: Client, book: Map, plans: int, django_assert_num_queries: object
) -> None:
    account_in("US-CA", book.ann)
    for _ in range(plans):
        _plan(book)
    client.get(reverse("console:rebalancing"))
    # (7, +1: the published rule set's territories for the build form.)
    with django_assert_num_queries(8):  # type: ignore[operator]
        assert client.get(reverse("console:rebalancing")).status_code == 200


def test_a_plan_that_moves_nothing_offers_discard_but_no_apply(client: Client, book: Map) -> None:
    account_in("US-NY", book.ann)  # already with a member of its territory
    plan = _plan(book)
    html = client.get(reverse("console:rebalance_plan", args=[plan.pk])).content.decode()
    assert plan.summary["moves"] == 0
    assert "Apply…" not in html and ">Discard</button>" in html

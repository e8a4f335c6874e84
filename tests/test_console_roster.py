"""The roster: who may set out-of-office dates and capacity, the roster screen, departures with a preview."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from leadowner.actors import Actor
from leadowner.errors import ServiceError
from routing.distribution import is_out_of_office
from routing.models import Ownership
from territories.models import Rep
from territories.roster import set_capacity, set_out_of_office
from tests.factories import (
    AccountFactory,
    LeadFactory,
    ManagerFactory,
    OwnershipFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> dict[str, Rep]:
    """A director above a manager above a rep; another manager elsewhere; RevOps."""
    director = ManagerFactory(name="Dana Director")
    manager = ManagerFactory(name="Max Manager", manager=director)
    rep = RepFactory(name="Rita Rep", manager=manager, capacity=50)
    other = ManagerFactory(name="Olga Other")
    revops = RepFactory(name="Rae RevOps", role="REVOPS")
    return {"director": director, "manager": manager, "rep": rep, "other": other, "revops": revops}


def _as(rep: Rep) -> Actor:
    return Actor(rep=rep)


def test_a_manager_anywhere_up_the_chain_and_revops_set_a_reps_capacity(org: dict[str, Rep], now: datetime) -> None:
    rep = org["rep"]
    assert set_capacity(rep_id=rep.pk, capacity=40, actor=_as(org["manager"]), now=now).capacity == 40
    assert set_capacity(rep_id=rep.pk, capacity=30, actor=_as(org["director"]), now=now).capacity == 30
    assert set_capacity(rep_id=rep.pk, capacity=None, actor=_as(org["revops"]), now=now).capacity is None


@pytest.mark.parametrize("who", ["other", "rep"])
def test_another_teams_manager_and_the_rep_themselves_may_not(org: dict[str, Rep], now: datetime, who: str) -> None:
    with pytest.raises(ServiceError) as caught:
        set_capacity(rep_id=org["rep"].pk, capacity=99, actor=_as(org[who]), now=now)
    assert caught.value.code == "FORBIDDEN"
    with pytest.raises(ServiceError):
        set_out_of_office(rep_id=org["rep"].pk, start=now.date(), end=None, actor=_as(org[who]), now=now)
    org["rep"].refresh_from_db()
    assert org["rep"].capacity == 50 and org["rep"].out_of_office_from is None


def test_capacity_must_be_a_whole_number_in_range(org: dict[str, Rep], now: datetime) -> None:
    for bad in (-1, 100_001):
        with pytest.raises(ServiceError) as caught:
            set_capacity(rep_id=org["rep"].pk, capacity=bad, actor=_as(org["manager"]), now=now)
        assert (caught.value.code, caught.value.field) == ("INVALID", "capacity")


def test_out_of_office_dates_make_routing_skip_the_rep_only_on_those_days(org: dict[str, Rep], now: datetime) -> None:
    today = timezone.localdate(now)
    rep = set_out_of_office(
        rep_id=org["rep"].pk, start=today, end=today + timedelta(days=4), actor=_as(org["manager"]), now=now
    )
    assert rep.status == "ACTIVE"  # the dates decide, nobody has to switch them back
    assert is_out_of_office(rep, today) and is_out_of_office(rep, today + timedelta(days=4))
    assert not is_out_of_office(rep, today + timedelta(days=5))


def test_out_of_office_dates_are_checked(org: dict[str, Rep], now: datetime) -> None:
    today = timezone.localdate(now)
    cases = [
        (None, today, "start"),
        (today, today - timedelta(days=1), "end"),
        (today - timedelta(days=9), today - timedelta(days=2), "end"),
        (today, today + timedelta(days=400), "end"),
    ]
    for start, end, field in cases:
        with pytest.raises(ServiceError) as caught:
            set_out_of_office(rep_id=org["rep"].pk, start=start, end=end, actor=_as(org["manager"]), now=now)
        assert caught.value.field == field, (start, end)


def test_clearing_the_dates_also_ends_an_out_of_office_status(org: dict[str, Rep], now: datetime) -> None:
    Rep.objects.filter(pk=org["rep"].pk).update(status="OUT_OF_OFFICE", out_of_office_from=date(2024, 1, 1))
    rep = set_out_of_office(rep_id=org["rep"].pk, start=None, end=None, actor=_as(org["manager"]), now=now)
    assert (rep.status, rep.out_of_office_from, rep.out_of_office_until) == ("ACTIVE", None, None)


def test_a_departed_reps_roster_entry_no_longer_changes(org: dict[str, Rep], now: datetime) -> None:
    Rep.objects.filter(pk=org["rep"].pk).update(status="DEPARTED")
    with pytest.raises(ServiceError) as caught:
        set_capacity(rep_id=org["rep"].pk, capacity=1, actor=_as(org["revops"]), now=now)
    assert caught.value.code == "INVALID_TRANSITION"


# --- the screens ----------------------------------------------------------------------------------------


def _client(rep: Rep, username: str = "boss") -> Client:
    user = User.objects.create_user(username=username, password="x")
    Rep.objects.filter(pk=rep.pk).update(user=user)
    client = Client()
    client.force_login(user)
    return client


def test_the_roster_shows_role_manager_published_territories_load_and_status(org: dict[str, Rep]) -> None:
    rep = org["rep"]
    published = TerritoryFactory(rule_set=RuleSetFactory(status="PUBLISHED"), name="EMEA Finance")
    TerritoryMemberFactory(territory=published, rep=rep)
    draft = TerritoryFactory(rule_set=RuleSetFactory(status="DRAFT"), name="Draft Only")
    TerritoryMemberFactory(territory=draft, rep=rep)
    for lead in LeadFactory.create_batch(37):
        OwnershipFactory(account=None, lead=lead, rep=rep)
    OwnershipFactory(account=None, lead=LeadFactory(stage="WON"), rep=rep)  # not open: no load

    response = _client(org["manager"]).get(reverse("console:roster"))
    html = response.content.decode()
    row = next(r for r in response.context["rows"] if r.rep.pk == rep.pk)

    assert (row.load, row.territories, row.status_words) == (37, ["EMEA Finance"], "active")
    assert '<meter min="0" max="50" value="37"' in html
    assert "37 / 50" in html
    assert "Max Manager" in html and "ae" in html
    assert "Draft Only" not in html
    assert '<th scope="col">Open leads / capacity</th>' in html


def test_a_rep_over_capacity_is_said_in_words_not_only_colour(org: dict[str, Rep]) -> None:
    rep = org["rep"]
    Rep.objects.filter(pk=rep.pk).update(capacity=1)
    for lead in LeadFactory.create_batch(2):
        OwnershipFactory(account=None, lead=lead, rep=rep)
    html = _client(org["manager"]).get(reverse("console:roster")).content.decode()
    assert "2 / 1" in html and "over capacity" in html


def test_the_roster_filters_by_status_manager_and_what_needs_attention(org: dict[str, Rep], now: datetime) -> None:
    gone = RepFactory(name="Gus Gone", status="DEPARTED", manager=org["manager"])
    client = _client(org["revops"])

    def names(**query: str) -> set[str]:
        return {row.rep.name for row in client.get(reverse("console:roster"), query).context["rows"]}

    assert gone.name not in names()
    assert names(status="DEPARTED") == {"Gus Gone"}
    assert gone.name in names(status="all")
    assert names(manager=str(org["manager"].pk)) == {"Rita Rep"}
    assert names(manager=str(org["manager"].pk), status="all") == {"Rita Rep", "Gus Gone"}

    stale = LeadFactory(received_at=now - timedelta(days=20))
    OwnershipFactory(account=None, lead=stale, rep=org["rep"], since=now - timedelta(days=13))
    assert names(attention="at_risk") == {"Rita Rep"}
    assert names(attention="over_capacity") == set()


def test_a_manager_changes_capacity_from_the_roster(org: dict[str, Rep]) -> None:
    client = _client(org["manager"])
    url = reverse("console:roster_rep", args=[org["rep"].pk])
    response = client.post(url, {"action": "capacity", "capacity": "45"})
    assert response.status_code == 302 and response["Location"] == url
    org["rep"].refresh_from_db()
    assert org["rep"].capacity == 45
    assert "Capacity saved." in client.get(url).content.decode()


def test_a_refused_change_is_shown_next_to_its_field_never_a_500(org: dict[str, Rep]) -> None:
    url = reverse("console:roster_rep", args=[org["rep"].pk])
    bad = _client(org["manager"]).post(url, {"action": "capacity", "capacity": "lots"})
    assert bad.status_code == 400
    assert '<span class="error" id="capacity-error">“lots” is not a whole number</span>' in bad.content.decode()

    forbidden = _client(org["other"], "olga").post(url, {"action": "capacity", "capacity": "5"})
    assert forbidden.status_code == 400
    assert "only a manager of Rita Rep or RevOps" in forbidden.content.decode()
    org["rep"].refresh_from_db()
    assert org["rep"].capacity == 50


def test_out_of_office_is_set_and_cleared_from_the_roster_with_htmx(org: dict[str, Rep], now: datetime) -> None:
    client = _client(org["manager"])
    url = reverse("console:roster_rep", args=[org["rep"].pk])
    today = timezone.localdate()
    response = client.post(
        url,
        {"action": "out_of_office", "start": today.isoformat(), "end": (today + timedelta(days=3)).isoformat()},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "Out-of-office dates saved." in html
    assert f"out of office until {(today + timedelta(days=3)).isoformat()}" in html

    refused = client.post(url, {"action": "out_of_office", "start": "", "end": ""}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 200  # htmx swaps only successful answers
    assert 'id="start-error">give the first day away<' in refused.content.decode()

    client.post(url, {"action": "back"})
    org["rep"].refresh_from_db()
    assert org["rep"].out_of_office_from is None and org["rep"].out_of_office_until is None


def test_marking_departed_previews_every_record_and_where_it_goes_then_confirms(org: dict[str, Rep]) -> None:
    rep = org["rep"]
    account = AccountFactory(name="Acme Holdings", type="CUSTOMER")
    OwnershipFactory(account=account, role="SALES", rep=rep)
    lead = LeadFactory(email="jane@acme.example")
    OwnershipFactory(account=None, lead=lead, rep=rep)
    client = _client(org["manager"])
    url = reverse("console:roster_depart", args=[rep.pk])

    preview = client.get(url)
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "Acme Holdings" in html and "jane@acme.example" in html
    assert "Max Manager" in html  # the customer with no account manager goes to the rep's manager
    assert "routing" in html  # the open lead is routed again
    assert "Yes, mark Rita Rep departed" in html
    rep.refresh_from_db()
    assert rep.status == "ACTIVE"  # a preview writes nothing
    assert Ownership.objects.filter(rep=rep, ended_at__isnull=True).count() == 2

    response = client.post(url, {"effective_at": ""})
    assert response.status_code == 302
    rep.refresh_from_db()
    assert rep.status == "DEPARTED" and rep.reassignment_due_at is not None

    again = client.post(url, {"effective_at": ""})
    assert again.status_code == 400
    assert "has already departed" in again.content.decode()


def test_a_manager_of_another_team_cannot_mark_a_rep_departed(org: dict[str, Rep]) -> None:
    response = _client(org["other"], "olga").post(reverse("console:roster_depart", args=[org["rep"].pk]))
    assert response.status_code == 400
    assert "only a manager of Rita Rep or RevOps" in response.content.decode()
    org["rep"].refresh_from_db()
    assert org["rep"].status == "ACTIVE"


def test_a_departure_on_a_later_date_is_kept_until_then(org: dict[str, Rep]) -> None:
    later = (timezone.now() + timedelta(days=7)).replace(second=0, microsecond=0)
    client = _client(org["manager"])
    client.post(
        reverse("console:roster_depart", args=[org["rep"].pk]), {"effective_at": later.strftime("%Y-%m-%dT%H:%M")}
    )
    org["rep"].refresh_from_db()
    assert org["rep"].status == "ACTIVE" and org["rep"].departed_at == later
    html = client.get(reverse("console:roster")).content.decode()
    assert f"departs {later:%Y-%m-%d %H:%M} UTC" in html


@pytest.mark.parametrize("size", [1, 15])
def test_the_roster_costs_the_same_queries_whatever_the_number_of_reps(
    org: dict[str, Rep], size: int, django_assert_num_queries: object
) -> None:
    published = RuleSetFactory(status="PUBLISHED")
    for rep in RepFactory.create_batch(size, manager=org["manager"]):
        TerritoryMemberFactory(territory=TerritoryFactory(rule_set=published), rep=rep)
        OwnershipFactory(account=None, lead=LeadFactory(), rep=rep)
    client = _client(org["manager"])
    # session, user, rep | count, page of reps with load and at-risk, published memberships | managers |
    # the published rule set's activity window: 9
    # (+1: the navigation counts the manager's unread notifications.)
    with django_assert_num_queries(9):  # type: ignore[operator]
        response = client.get(reverse("console:roster"))
    assert len(response.context["rows"]) == size + 5


def _owning(rep: Rep, size: int) -> None:
    """`size` prospects in the rep's territory, `size` leads and a customer: a bit of every kind."""
    published = RuleSetFactory(status="PUBLISHED")
    territory = TerritoryFactory(rule_set=published, criteria={"countries": ["US"]})
    TerritoryMemberFactory(territory=territory, rep=rep)
    TerritoryMemberFactory(territory=territory, rep=RepFactory(name="Hank Hunter"))
    for _ in range(size):
        OwnershipFactory(account=AccountFactory(country="US"), role="SALES", rep=rep)
        OwnershipFactory(account=None, lead=LeadFactory(country="US"), rep=rep)
    OwnershipFactory(account=AccountFactory(country="US", type="CUSTOMER"), role="ACCOUNT_MANAGER", rep=rep)


@pytest.mark.parametrize("size", [1, 15])
def test_the_rep_page_costs_the_same_queries_whatever_the_rep_owns(
    org: dict[str, Rep], size: int, django_assert_num_queries: object
) -> None:
    _owning(org["rep"], size)
    client = _client(org["manager"])
    # session, user, rep | the rep with load, at-risk and published memberships | nav unread: 7
    with django_assert_num_queries(7):  # type: ignore[operator]
        assert client.get(reverse("console:roster_rep", args=[org["rep"].pk])).status_code == 200


@pytest.mark.parametrize("size", [1, 15])
def test_the_departure_preview_costs_the_same_queries_whatever_the_rep_owns(
    org: dict[str, Rep], size: int, django_assert_num_queries: object
) -> None:
    _owning(org["rep"], size)
    client = _client(org["manager"])
    # session, user, rep | the rep and manager | the plan: ownerships, accounts' opportunities, territories,
    # members with their reps, loads, leads, opportunities, the rule set, its calendar | nav unread: 16
    with django_assert_num_queries(16):  # type: ignore[operator]
        assert client.get(reverse("console:roster_depart", args=[org["rep"].pk])).status_code == 200


def test_the_departure_preview_pages_its_records_and_totals_every_one(org: dict[str, Rep]) -> None:
    _owning(org["rep"], 60)  # 121 records: two pages of 100
    client = _client(org["manager"])
    url = reverse("console:roster_depart", args=[org["rep"].pk])
    first = client.get(url).content.decode()
    assert "121 records" in first and "Page 1 of 2 (121 records)" in first
    assert first.count('<td class="nowrap">') == 100
    second = client.get(url, {"page": 2}).content.decode()
    assert second.count('<td class="nowrap">') == 21

"""The console's ownership lookup: match, owners (rolled up), history, htmx partial, query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from routing.models import Account, OwnershipChange
from routing.selectors.lookup import parse_lookup_query
from tests.factories import AccountFactory, ManagerFactory, OwnershipFactory, PartnerFactory, RepFactory

pytestmark = pytest.mark.django_db

LOOKUP = "/lookup/"


@pytest.fixture
def client() -> Client:
    user = User.objects.create_user(username="mia", password="correct horse battery staple")
    ManagerFactory(user=user)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ibm() -> Account:
    account = AccountFactory(
        name="International Business Machines Corp.",
        domains=["ibm.com", "ibm.co.uk"],
        aliases=["IBM"],
        type="CUSTOMER",
    )
    OwnershipFactory(account=account, role="SALES", rep=RepFactory(name="Ada Lovelace", email="ada@example.com"))
    OwnershipFactory(account=account, role="PARTNER", rep=None, partner=PartnerFactory(name="Big Channel Ltd"))
    return account


def _html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def test_the_lookup_url_is_the_console_lookup() -> None:
    assert reverse("console:lookup") == LOOKUP


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ibm.com", ("domain", "ibm.com")),
        ("jane@mail.ibm.com", ("domain", "jane@mail.ibm.com")),
        ("https://www.ibm.com/careers", ("domain", "https://www.ibm.com/careers")),
        ("  IBM  ", ("company", "IBM")),
        ("International Business Machines", ("company", "International Business Machines")),
        ("Acme Corp.", ("company", "Acme Corp.")),
    ],
)
def test_input_with_a_dot_and_no_spaces_is_a_domain_anything_else_a_company(
    text: str, expected: tuple[str, str]
) -> None:
    assert parse_lookup_query(text) == expected


def test_lookup_by_domain_shows_the_account_how_it_matched_and_its_owners(client: Client, ibm: Account) -> None:
    response = client.get(LOOKUP, {"q": "ibm.com"})
    html = _html(response)
    assert response.status_code == 200
    assert "<html" in html
    assert response.context["account"] == ibm
    assert response.context["match"].method == "DOMAIN"
    assert "matched by <strong>domain</strong>" in html
    assert "ibm.com, ibm.co.uk" in html
    assert "IBM" in html  # alias
    assert "Customer" in html
    assert "Ada Lovelace" in html and "ada@example.com" in html
    assert "Big Channel Ltd" in html and ">partner<" in html
    owners = {row.role_label: row for row in response.context["owners"]}
    assert owners["Sales"].ownership.rep.name == "Ada Lovelace"
    assert owners["Account manager"].ownership is None
    assert "no owner" in html


def test_lookup_by_an_email_on_a_sub_domain_finds_the_company(client: Client, ibm: Account) -> None:
    response = client.get(LOOKUP, {"q": "jane.doe@mail.ibm.com"})
    assert response.context["kind"] == "domain"
    assert response.context["account"] == ibm
    assert response.context["match"].method == "DOMAIN"
    assert "Ada Lovelace" in _html(response)


def test_lookup_by_company_name_or_alias_finds_the_account(client: Client, ibm: Account) -> None:
    by_alias = client.get(LOOKUP, {"q": "IBM"})
    assert by_alias.context["kind"] == "company"
    assert by_alias.context["account"] == ibm
    assert by_alias.context["match"].method == "ALIAS"

    by_name = client.get(LOOKUP, {"q": "International Business Machines"})
    assert by_name.context["account"] == ibm
    assert by_name.context["match"].method == "NAME"


def test_a_dotted_name_that_is_no_known_domain_is_tried_as_a_company(client: Client) -> None:
    account = AccountFactory(name="J.P.Morgan")
    response = client.get(LOOKUP, {"q": "J.P.Morgan"})
    assert response.context["account"] == account
    assert response.context["kind"] == "company"


def test_an_ambiguous_company_lists_the_candidates_as_links(client: Client) -> None:
    first = AccountFactory(name="Acme Corp", domains=["acme.com"])
    second = AccountFactory(name="Acme Inc", domains=["acme.io"])

    response = client.get(LOOKUP, {"q": "Acme"})
    html = _html(response)

    assert response.context["account"] is None
    assert set(response.context["match"].ambiguous_ids) == {first.pk, second.pk}
    assert "Which account did you mean?" in html
    assert f'href="/lookup/?account={first.pk}"' in html
    assert f'href="/lookup/?account={second.pk}"' in html
    assert "acme.com" in html and "acme.io" in html


def test_choosing_a_candidate_by_id_shows_that_account(client: Client, ibm: Account) -> None:
    response = client.get(LOOKUP, {"account": ibm.pk})
    assert response.context["account"] == ibm
    assert response.context["kind"] == "account"
    assert "Ada Lovelace" in _html(response)


def test_an_unknown_or_malformed_account_id_says_so(client: Client) -> None:
    missing = client.get(LOOKUP, {"account": 987654})
    assert missing.status_code == 200
    assert missing.context["account"] is None
    assert "No account matches" in _html(missing)

    malformed = client.get(LOOKUP, {"account": "abc"})
    assert malformed.status_code == 400
    assert "is not an account id" in _html(malformed)


def test_nothing_matches_says_so_plainly(client: Client, ibm: Account) -> None:
    response = client.get(LOOKUP, {"q": "nothing-like-it.example"})
    assert response.context["account"] is None
    assert "No account matches" in _html(response)


def test_a_subsidiary_without_owners_shows_its_parents_owners_as_rolled_up(client: Client) -> None:
    darden = AccountFactory(name="Darden Restaurants", domains=["darden.com"])
    OwnershipFactory(account=darden, role="SALES", rep=RepFactory(name="Bo Seller"))
    olive = AccountFactory(name="Olive Garden", domains=["olivegarden.com"], parent=darden)

    response = client.get(LOOKUP, {"q": "olivegarden.com"})
    html = _html(response)

    assert response.context["account"] == olive
    assert response.context["chain"] == [darden]
    owners = {row.role_label: row for row in response.context["owners"]}
    assert owners["Sales"].ownership.rep.name == "Bo Seller"
    assert owners["Sales"].inherited_from == darden
    assert "rolled up from" in html and "Darden Restaurants" in html
    assert f'href="/lookup/?account={darden.pk}"' in html


def test_the_parent_chain_runs_from_the_top_down(client: Client) -> None:
    top = AccountFactory(name="Top Holdings")
    middle = AccountFactory(name="Middle Group", parent=top)
    leaf = AccountFactory(name="Leaf Shop", parent=middle, domains=["leaf.example"])
    response = client.get(LOOKUP, {"q": "leaf.example"})
    assert response.context["account"] == leaf
    assert response.context["chain"] == [top, middle]


def _history(account: Account, count: int) -> list[OwnershipChange]:
    reps = RepFactory.create_batch(2)
    start = timezone.now() - timedelta(days=count)
    return OwnershipChange.objects.bulk_create(
        OwnershipChange(
            account=account,
            at=start + timedelta(days=i),
            role="SALES",
            from_rep=reps[i % 2] if i else None,
            to_rep=reps[(i + 1) % 2],
            step="TERRITORY",
            reason=f"change number {i}",
            actor="routing",
        )
        for i in range(count)
    )


def test_history_is_newest_first_25_to_a_page(client: Client, ibm: Account) -> None:
    _history(ibm, 30)

    first = client.get(LOOKUP, {"q": "ibm.com"})
    page_one = [change.reason for change in first.context["history"]]
    assert page_one == [f"change number {i}" for i in range(29, 4, -1)]
    assert "Page 1 of 2" in _html(first)
    assert 'href="/lookup/?q=ibm.com&amp;page=2"' in _html(first)

    second = client.get(LOOKUP, {"q": "ibm.com", "page": 2})
    assert [change.reason for change in second.context["history"]] == [f"change number {i}" for i in range(4, -1, -1)]
    assert "nobody" in _html(second)  # the first change had no previous owner


def test_history_shows_from_to_reason_and_actor(client: Client, ibm: Account) -> None:
    change = _history(ibm, 2)[1]
    html = _html(client.get(LOOKUP, {"account": ibm.pk}))
    assert change.from_rep.name in html
    assert change.to_rep.name in html
    assert "change number 1" in html
    assert ">Territory<" in html
    assert "<td>routing</td>" in html


def test_an_htmx_request_gets_only_the_results_partial(client: Client, ibm: Account) -> None:
    response = client.get(LOOKUP, {"q": "ibm.com"}, HTTP_HX_REQUEST="true")
    html = _html(response)
    assert response.status_code == 200
    assert "<html" not in html and "<header" not in html and "<body" not in html
    assert 'id="results"' not in html  # the partial is what goes inside #results
    assert "International Business Machines Corp." in html
    assert "Ada Lovelace" in html


def test_an_htmx_history_restore_gets_the_whole_page(client: Client, ibm: Account) -> None:
    response = client.get(LOOKUP, {"q": "ibm.com"}, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in _html(response)
    assert "HX-Request" in response["Vary"]


def test_the_lookup_page_without_a_query_invites_one(client: Client) -> None:
    response = client.get(LOOKUP)
    assert response.status_code == 200
    assert "Results appear here as you type." in _html(response)
    assert 'aria-current="page">Lookup<' in _html(response)


@pytest.mark.parametrize("rows", [1, 30])
def test_the_lookup_page_costs_the_same_queries_whatever_the_history_length(
    client: Client, ibm: Account, rows: int, django_assert_num_queries: object
) -> None:
    parent = AccountFactory(name="IBM Holdings")
    Account.objects.filter(pk=ibm.pk).update(parent=parent)
    _history(ibm, rows)

    # session, user, rep | the domain with its account, its chain and owners (3) | parent chain (2) |
    # domains, aliases | history count, history page: 13 whatever the number of changes.
    # (+1: the navigation counts the manager's unread notifications.)
    with django_assert_num_queries(13):  # type: ignore[operator]
        response = client.get(LOOKUP, {"q": "ibm.com"})
    assert len(response.context["history"]) == min(rows, 25)


def test_the_found_account_links_to_its_account_page(client: Client, ibm: Account) -> None:
    page = _html(client.get(reverse("console:lookup"), {"q": "ibm.com"}))
    assert f'href="{reverse("console:account", args=[ibm.pk])}"' in page

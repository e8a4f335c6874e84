"""The console lookup and GraphQL ownerOf read the same text the same way (routing.selectors.lookup)."""

from __future__ import annotations

from typing import cast

import pytest
from django.contrib.auth.models import User
from django.test import Client

from routing.models import Account
from routing.selectors.lookup import lookup_arguments, lookup_text
from territories.models import Rep
from tests.factories import AccountFactory, ManagerFactory
from tests.graphql_support import assert_no_errors, gql, token_for

pytestmark = pytest.mark.django_db

OWNER_OF = """query($d: String, $c: String) { ownerOf(domain: $d, company: $c) { account { id name } } }"""


@pytest.fixture
def book() -> dict[str, Account]:
    accounts = {
        # names that look like domains we do not know
        "J.P.Morgan": AccountFactory(name="J.P.Morgan", domains=["jpmorganchase.com"]),
        "Amazon.com": AccountFactory(name="Amazon.com, Inc.", domains=["amazon.de"]),
        # a domain we know
        "ibm.com": AccountFactory(name="International Business Machines", domains=["ibm.com"]),
    }
    return cast(dict[str, Account], accounts)


def _console_account(text: str) -> Account | None:
    user = User.objects.create_user(username=f"mia-{User.objects.count()}", password="correct horse battery")
    ManagerFactory(user=user)
    client = Client()
    client.force_login(user)
    response = client.get("/lookup/", {"q": text})
    assert response.status_code == 200
    return response.context["account"]  # type: ignore[no-any-return]


def _api_account_name(token: str, variables: dict[str, str]) -> str | None:
    found = assert_no_errors(gql(OWNER_OF, variables, token=token))["ownerOf"]["account"]
    return None if found is None else str(found["name"])


@pytest.mark.parametrize("text", ["J.P.Morgan", "Amazon.com", "ibm.com"])
def test_the_console_and_owner_of_by_domain_give_the_same_account_for_the_same_text(
    book: dict[str, Account], text: str
) -> None:
    token = token_for(rep=cast(Rep, ManagerFactory()))
    expected = book[text]
    assert _console_account(text) == expected
    assert _api_account_name(token, {"d": text}) == expected.name


@pytest.mark.parametrize("text", ["J.P.Morgan", "Amazon.com"])
def test_a_dotted_company_name_gives_the_console_account_by_company_too(book: dict[str, Account], text: str) -> None:
    token = token_for(rep=cast(Rep, ManagerFactory()))
    assert _console_account(text) == book[text]
    assert _api_account_name(token, {"c": text}) == book[text].name


def test_a_domain_that_matches_nothing_is_retried_as_a_company_name(book: dict[str, Account]) -> None:
    kind, found = lookup_text("J.P.Morgan")
    assert (kind, found.account) == ("company", book["J.P.Morgan"])
    assert lookup_arguments(domain="J.P.Morgan").account == book["J.P.Morgan"]


def test_an_email_address_is_never_retried_as_a_company_name(book: dict[str, Account]) -> None:
    AccountFactory(name="mail.example")
    kind, found = lookup_text("jane@mail.example")
    assert (kind, found.account) == ("domain", None)
    assert lookup_arguments(domain="jane@mail.example").account is None


def test_a_domain_and_a_company_together_keep_their_explicit_meaning(book: dict[str, Account]) -> None:
    found = lookup_arguments(domain="ibm.com", company="International Business Machines")
    assert found.account == book["ibm.com"]
    assert found.match.method == "DOMAIN"

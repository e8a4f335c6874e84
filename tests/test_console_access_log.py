"""The access log screen: managers' sign-ins and every use of a manager's token, newest first."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from leadowner.models import SignInEvent, SignInOutcome, TokenUse
from leadowner.tokens import issue_token
from tests.factories import ManagerFactory, RepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    user = User.objects.create_user(username="mia", password="x")
    ManagerFactory(user=user, name="Mia Manager")
    client = Client()
    client.force_login(user)
    return client


def _use(rep: object, at: datetime, *, path: str = "/graphql") -> TokenUse:
    token, _raw = issue_token(rep=rep)
    return TokenUse.objects.create(token=token, rep=rep, at=at, address="203.0.113.9", method="POST", path=path)


def test_every_token_use_of_a_manager_is_listed_newest_first(client: Client, now: datetime) -> None:
    boss = ManagerFactory(name="Ola Boss")
    _use(boss, now - timedelta(minutes=5), path="/graphql/older")
    _use(boss, now, path="/graphql/newer")
    html = client.get(reverse("console:access")).content.decode()
    assert html.index("/graphql/newer") < html.index("/graphql/older")
    assert "Ola Boss" in html and "203.0.113.9" in html


def test_a_request_with_a_managers_token_appears_on_the_access_log(client: Client) -> None:
    boss = ManagerFactory(name="Ola Boss")
    _token, raw = issue_token(rep=boss)
    for _ in range(2):
        Client().post(
            "/graphql",
            {"query": "{ health { ok } }"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
    html = client.get(reverse("console:access")).content.decode()
    assert html.count("POST /graphql") == 2


def test_sign_ins_are_listed_with_their_outcome(client: Client, now: datetime) -> None:
    boss = ManagerFactory(name="Ola Boss")
    SignInEvent.objects.create(at=now, outcome=SignInOutcome.FAILURE, username="ola", rep=boss, address="192.0.2.1")
    html = client.get(reverse("console:access")).content.decode()
    assert "Ola Boss" in html and "failure" in html and "192.0.2.1" in html


def test_the_access_log_filters_by_manager(client: Client, now: datetime) -> None:
    ola, ben = ManagerFactory(name="Ola Boss"), ManagerFactory(name="Ben Boss")
    _use(ola, now, path="/graphql/ola")
    _use(ben, now, path="/graphql/ben")
    html = client.get(reverse("console:access"), {"rep": ola.pk}).content.decode()
    assert "/graphql/ola" in html and "/graphql/ben" not in html


def test_a_filter_naming_no_manager_is_reported_at_its_field(client: Client) -> None:
    rep = RepFactory()
    html = client.get(reverse("console:access"), {"rep": rep.pk}).content.decode()
    assert "Choose a manager from the list." in html


def test_a_rep_cannot_read_the_access_log() -> None:
    user = User.objects.create_user(username="sam", password="x")
    RepFactory(user=user)
    client = Client()
    client.force_login(user)
    assert client.get(reverse("console:access")).status_code == 403


@pytest.mark.parametrize("rows", [1, 60])
def test_the_access_log_costs_the_same_queries_whatever_its_length(
    client: Client, now: datetime, rows: int, django_assert_num_queries: object
) -> None:
    boss = ManagerFactory()
    token, _raw = issue_token(rep=boss)
    TokenUse.objects.bulk_create(
        [TokenUse(token=token, rep=boss, at=now - timedelta(seconds=i), path="/graphql") for i in range(rows)]
    )
    SignInEvent.objects.bulk_create(
        [
            SignInEvent(at=now - timedelta(seconds=i), outcome=SignInOutcome.SUCCESS, username="b", rep=boss)
            for i in range(rows)
        ]
    )
    client.get(reverse("console:access"))  # warm the session
    with django_assert_num_queries(9):  # type: ignore[operator]
        assert client.get(reverse("console:access")).status_code == 200

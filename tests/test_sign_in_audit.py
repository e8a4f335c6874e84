"""Every console sign-in and every token use of a manager is recorded (SignInEvent, TokenUse)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from leadowner.audit import record_token_use
from leadowner.models import SignInEvent, TokenUse
from leadowner.tokens import issue_token
from tests.factories import ManagerFactory, PartnerUserFactory, RepFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fresh_cache(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast sign-ins
    cache.clear()


def _user(username: str, **extra: Any) -> User:
    return User.objects.create_user(username=username, password=PASSWORD, **extra)  # type: ignore[arg-type]


def _sign_in(username: str, password: str) -> Any:
    return Client(REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Firefox/140").post(
        "/login/", {"username": username, "password": password}
    )


def test_a_managers_sign_in_is_recorded_with_address_and_browser():
    manager = ManagerFactory(user=_user("mona"))
    assert _sign_in("mona", PASSWORD).status_code == 302
    [event] = SignInEvent.objects.all()
    assert (event.outcome, event.username, event.rep, event.address, event.user_agent) == (
        "SUCCESS",
        "mona",
        manager,
        "203.0.113.7",
        "Firefox/140",
    )


def test_a_failed_sign_in_as_a_manager_is_recorded():
    manager = ManagerFactory(user=_user("mona"))
    _sign_in("mona", "wrong")
    [event] = SignInEvent.objects.all()
    assert (event.outcome, event.rep) == ("FAILURE", manager)


def test_superuser_sign_ins_are_recorded():
    _user("root", is_superuser=True)
    _sign_in("root", PASSWORD)
    assert list(SignInEvent.objects.values_list("username", "outcome", "rep")) == [("root", "SUCCESS", None)]


def test_sign_ins_of_reps_partner_users_and_unknown_names_are_not_recorded():
    RepFactory(user=_user("ada"))
    PartnerUserFactory(user=_user("pat"))
    _sign_in("ada", PASSWORD)
    _sign_in("pat", PASSWORD)
    _sign_in("nobody", "guess")
    assert not SignInEvent.objects.exists()


def test_a_sign_in_refused_by_the_rate_limit_is_recorded(settings):
    settings.AUTH_RATE_LIMIT_FAILURES = 2
    ManagerFactory(user=_user("mona"))
    for _ in range(3):
        _sign_in("mona", "wrong")
    assert list(SignInEvent.objects.order_by("id").values_list("outcome", flat=True)) == [
        "FAILURE",
        "FAILURE",
        "RATE_LIMITED",
    ]


def _use(raw: str) -> Any:
    return Client(REMOTE_ADDR="198.51.100.4").post(
        "/graphql",
        data=json.dumps({"query": "{ me { name } }"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}", "User-Agent": "portal/2"},
    )


def test_every_use_of_a_managers_token_is_recorded():
    manager = ManagerFactory()
    token, raw = issue_token(rep=manager)
    for _ in range(5):
        assert _use(raw).status_code == 200
    uses = list(TokenUse.objects.order_by("id"))
    assert len(uses) == 5
    assert {(u.token, u.rep, u.address, u.method, u.path, u.user_agent) for u in uses} == {
        (token, manager, "198.51.100.4", "POST", "/graphql", "portal/2")
    }
    assert [u.at for u in uses] == sorted(u.at for u in uses)


def test_a_read_only_token_of_a_manager_is_recorded_too():
    _token, raw = issue_token(rep=ManagerFactory(), scope="READ_ONLY")
    _use(raw)
    assert TokenUse.objects.count() == 1


def test_two_uses_in_the_same_second_are_two_rows_with_their_own_times(now):
    token, _raw = issue_token(rep=ManagerFactory())
    request = Client().get("/").wsgi_request
    first = record_token_use(token, request=request, now=now)
    second = record_token_use(token, request=request, now=now + timedelta(milliseconds=300))
    assert first is not None and second is not None
    assert [u.at for u in TokenUse.objects.filter(token=token).order_by("at")] == [
        now,
        now + timedelta(milliseconds=300),
    ]


def test_recording_a_use_is_one_insert_and_reads_nothing(django_assert_num_queries, now):
    token, _raw = issue_token(rep=ManagerFactory())
    token = type(token).objects.select_related("rep").get(pk=token.pk)
    request = Client().get("/").wsgi_request
    with django_assert_num_queries(1) as captured:
        record_token_use(token, request=request, now=now)
    assert captured.captured_queries[0]["sql"].lstrip().upper().startswith("INSERT")


def test_uses_of_rep_and_partner_tokens_are_not_recorded():
    _t1, rep_raw = issue_token(rep=RepFactory())
    _t2, partner_raw = issue_token(partner_user=PartnerUserFactory())
    _use(rep_raw)
    _use(partner_raw)
    assert not TokenUse.objects.exists()


def test_a_failed_token_is_not_a_use():
    _token, raw = issue_token(rep=ManagerFactory())
    _use(raw[:-3] + "xyz")
    assert not TokenUse.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_token_use_outside_a_transaction_commits_without_waiting_and_leaves_the_session_as_it_was(now):
    """On PostgreSQL the use row commits asynchronously, in its own transaction: the request does
    not wait for the disk, the row is there, and the next statements commit normally again."""
    from django.db import connection

    token, _raw = issue_token(rep=ManagerFactory())
    request = Client().get("/").wsgi_request
    assert not connection.in_atomic_block
    use = record_token_use(token, request=request, now=now)
    assert use is not None and TokenUse.objects.filter(pk=use.pk, token=token).exists()
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)  # SET LOCAL ended with the use's own transaction
    assert not connection.in_atomic_block

"""Failed authentication is rate-limited per address and per credential: 429 with Retry-After.

Bearer tokens on /graphql count against the client's address and the token's prefix;
console sign-ins against the address and the username. Counters live in the cache
(Redis when REDIS_URL is set); when the cache is down nothing is limited and nothing fails.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, override_settings

from leadowner import ratelimit
from leadowner.tokens import issue_token
from tests.factories import ManagerFactory, RepFactory

pytestmark = [pytest.mark.django_db]

LIMIT = 3
WINDOW = 60
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _small_limits(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.AUTH_RATE_LIMIT_FAILURES = LIMIT
    settings.AUTH_RATE_LIMIT_WINDOW = WINDOW
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast sign-ins
    # Windows are fixed: a test running across a window's end would split its count. The
    # clock stands still in the middle of a window (tests that move time patch it again).
    monkeypatch.setattr(ratelimit.time, "time", lambda: 2_000_000.0 - 2_000_000.0 % WINDOW + WINDOW / 2)
    cache.clear()


def _me(token: str, address: str = "203.0.113.7") -> Any:
    return Client(REMOTE_ADDR=address).post(
        "/graphql",
        data=json.dumps({"query": "{ me { name } }"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def _codes(response: Any) -> list[str]:
    return [e["extensions"]["code"] for e in response.json()["errors"]]


def _wrong_secret(raw: str) -> str:
    return raw[: raw.rindex("_") + 1] + "not-the-secret"


def test_bad_tokens_from_one_address_are_refused_with_429_and_retry_after_past_the_limit():
    for _ in range(LIMIT):
        response = _me("lo_000000000000_guess")
        assert response.status_code == 200
        assert _codes(response) == ["UNAUTHENTICATED"]
    refused = _me("lo_000000000000_guess")
    assert refused.status_code == 429
    assert _codes(refused) == ["RATE_LIMITED"]
    assert 1 <= int(refused["Retry-After"]) <= WINDOW
    assert refused.json()["errors"][0]["extensions"]["retryAfter"] == int(refused["Retry-After"])


def test_an_address_over_its_limit_is_refused_even_a_good_token_but_other_addresses_are_not():
    _, raw = issue_token(rep=RepFactory(name="Ada"))
    for _ in range(LIMIT + 1):
        _me("junk", address="198.51.100.1")
    assert _me(raw, address="198.51.100.1").status_code == 429
    assert _me(raw, address="198.51.100.2").json() == {"data": {"me": {"name": "Ada"}}}


def test_guesses_at_one_token_prefix_from_many_addresses_are_refused_but_its_holder_gets_in():
    _, raw = issue_token(rep=RepFactory(name="Bo"))
    guess = _wrong_secret(raw)
    for i in range(LIMIT):
        assert _codes(_me(guess, address=f"192.0.2.{i}")) == ["UNAUTHENTICATED"]
    refused = _me(guess, address="192.0.2.200")
    assert refused.status_code == 429
    assert "Retry-After" in refused
    # The prefix is not secret; its holder is not locked out by someone else's guessing.
    assert _me(raw, address="192.0.2.201").json() == {"data": {"me": {"name": "Bo"}}}


def test_good_tokens_are_never_counted():
    _, raw = issue_token(rep=RepFactory(name="Cy"))
    for _ in range(LIMIT * 3):
        assert _me(raw).status_code == 200


def test_requests_without_a_token_are_not_limited():
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(LIMIT + 1):
        _me("junk", address="203.0.113.9")
    response = client.post("/graphql", data=json.dumps({"query": "{ health }"}), content_type="application/json")
    assert response.json() == {"data": {"health": "ok"}}


def test_the_limit_lifts_when_the_window_ends(monkeypatch):
    clock = [1_000_000.0 - 1_000_000.0 % WINDOW]
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock[0])
    for _ in range(LIMIT + 1):
        _me("junk")
    refused = _me("junk")
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(WINDOW)
    clock[0] += WINDOW - 10
    assert _me("junk")["Retry-After"] == "10"
    clock[0] += 10
    assert _codes(_me("junk")) == ["UNAUTHENTICATED"]


@override_settings(
    CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}}
)
def test_with_the_cache_down_nothing_is_limited_and_nothing_fails():
    _, raw = issue_token(rep=RepFactory(name="Di"))
    for _ in range(LIMIT * 2):
        assert _codes(_me("junk")) == ["UNAUTHENTICATED"]
    assert _me(raw).json() == {"data": {"me": {"name": "Di"}}}


@override_settings(AUTH_RATE_LIMIT_TRUSTED_PROXIES=1)
def test_behind_one_trusted_proxy_the_address_is_the_one_it_saw_not_what_the_client_wrote():
    def me(forwarded: str) -> Any:
        return Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded).post(
            "/graphql",
            data=json.dumps({"query": "{ me { name } }"}),
            content_type="application/json",
            headers={"Authorization": "Bearer junk"},
        )

    # The client varies the part it controls; the proxy appended its real address last.
    for i in range(LIMIT):
        me(f"1.1.1.{i}, 203.0.113.50")
    assert me("9.9.9.9, 203.0.113.50").status_code == 429
    assert me("203.0.113.51").status_code == 200


# The console sign-in ----------------------------------------------------------------------


def _manager_user(username: str = "mona") -> User:
    user = User.objects.create_user(username=username, password=PASSWORD)
    ManagerFactory(user=user)
    return user


def _sign_in(username: str, password: str, address: str = "203.0.113.7") -> Any:
    return Client(REMOTE_ADDR=address).post("/login/", {"username": username, "password": password})


def test_failed_sign_ins_from_one_address_are_refused_with_429_even_with_the_right_password():
    _manager_user("mona")
    for _ in range(LIMIT):
        assert _sign_in("mona", "wrong").status_code == 200
    refused = _sign_in("mona", PASSWORD)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= WINDOW
    assert b"Too many failed sign-in attempts" in refused.content
    assert "_auth_user_id" not in refused.client.session


def test_failed_sign_ins_for_one_username_from_many_addresses_lock_that_username_only():
    _manager_user("mona")
    _manager_user("max")
    for i in range(LIMIT):
        _sign_in("Mona", "wrong", address=f"192.0.2.{i}")
    assert _sign_in("mona", PASSWORD, address="192.0.2.100").status_code == 429
    signed_in = _sign_in("max", PASSWORD, address="192.0.2.101")
    assert signed_in.status_code == 302


def test_a_right_password_before_the_limit_signs_in():
    _manager_user("mona")
    for _ in range(LIMIT - 1):
        _sign_in("mona", "wrong")
    assert _sign_in("mona", PASSWORD).status_code == 302


def test_the_refused_sign_in_page_checks_no_password(monkeypatch):
    _manager_user("mona")
    for _ in range(LIMIT):
        _sign_in("mona", "wrong")
    calls: list[str] = []
    monkeypatch.setattr(User, "check_password", lambda self, raw: calls.append(raw) or True)
    assert _sign_in("mona", "anything").status_code == 429
    assert calls == []

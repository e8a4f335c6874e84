"""Failure drills against real services: the database connection dropped mid-request, Redis stopped.

- PostgreSQL: the request's own backend is killed from a second connection
  (`pg_terminate_backend`) in the middle of a mutation's transaction. The shared server
  is never restarted. The request fails cleanly (a masked error with its request id, no
  traceback to the client), nothing of it is written, and the next request works.
- Redis: a private redis-server (never the shared one) serves as the cache and the
  broker, and is stopped. Mutations still commit, a bad token is still only
  unauthenticated (the rate limiter fails open), and when Redis returns the limiter
  counts again. That the jobs then catch up is tests/test_redis_outage.py's drill, and a
  worker killed mid-sweep is tests/test_celery_worker.py's; both run in `make test`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings

from leadowner.tokens import issue_token
from routing.models import Lead, Ownership, OwnershipChange
from routing.services import leads as lead_service
from territories.models import Rep
from tests.celery_support import RedisServer, broker, close_other_connections, needs_redis_server
from tests.factories import ManagerFactory, RepFactory
from tests.jobs_support import us_map

SUBMIT = 'mutation { submitLead(input: {email: "drill@initech.com", country: "US"}) { lead { id } errors { code } } }'


def _post(query: str, token: str, client: Client | None = None) -> Any:
    return (client or Client()).post(
        "/graphql",
        data=json.dumps({"query": query}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def _terminate(pid: int) -> None:
    """Kill one backend from a second connection, as a crashed connection or a failover would."""
    s = connection.settings_dict
    with psycopg.connect(
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        user=s["USER"],
        password=s["PASSWORD"] or None,
        dbname=s["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@override_settings(DEBUG=False)
def test_a_connection_dropped_mid_request_fails_cleanly_and_writes_nothing(monkeypatch):
    ada = RepFactory(name="Ada")
    us_map(ada)
    _t, token = issue_token(rep=ManagerFactory())
    real_run = lead_service.run
    dropped: list[int] = []

    def run_then_lose_the_connection(**kwargs: Any) -> Any:
        # Inside submit_lead's transaction: the lead row is inserted, the owner not yet.
        outcome = real_run(**kwargs)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        _terminate(pid)
        dropped.append(pid)
        return outcome

    monkeypatch.setattr(lead_service, "run", run_then_lose_the_connection)
    response = _post(SUBMIT, token)
    assert dropped, "the drill did not reach the middle of the request"
    assert response.status_code == 200
    body = response.json()
    [error] = body["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": response["X-Request-ID"]}
    assert "terminat" not in response.content.decode().lower()  # no internals to the client
    # Nothing half-written: no lead, no owner, no history.
    assert not Lead.objects.exists()
    assert not Ownership.objects.filter(lead__isnull=False).exists()
    assert not OwnershipChange.objects.exists()

    monkeypatch.setattr(lead_service, "run", real_run)
    again = _post(SUBMIT, token).json()
    assert again["data"]["submitLead"]["errors"] == []
    lead = Lead.objects.get()
    assert Ownership.objects.get(lead=lead, ended_at__isnull=True).rep == ada


@pytest.mark.redis
@pytest.mark.postgres
@needs_redis_server
@pytest.mark.django_db(transaction=True)
def test_with_redis_stopped_mutations_commit_and_auth_fails_open_then_limits_again_when_it_returns(tmp_path, settings):
    mona = ManagerFactory(name="Mona")
    dan = RepFactory(name="Dan", manager=mona)
    _t, token = issue_token(rep=mona)
    settings.AUTH_RATE_LIMIT_FAILURES = 2
    server = RedisServer(tmp_path)
    server.start()
    redis_cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": server.url}}
    try:
        with broker(server.url), override_settings(CACHES=redis_cache):
            cache.clear()
            server.stop()
            started = time.monotonic()
            departed = _post(f'mutation {{ markRepDeparted(repId: "{dan.pk}") {{ errors {{ code }} }} }}', token)
            assert time.monotonic() - started < 10, "a Redis outage must not hold requests"
            assert departed.json() == {"data": {"markRepDeparted": {"errors": []}}}
            assert Rep.objects.get(pk=dan.pk).status == "DEPARTED"
            for _ in range(4):  # the limiter cannot count: bad tokens are only unauthenticated
                refused = _post("{ me { name } }", "lo_000000000000_guess")
                assert refused.status_code == 200
                assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

            server.start()  # Redis is back, on the same port
            for _ in range(2):
                _post("{ me { name } }", "lo_000000000000_guess")
            assert _post("{ me { name } }", "lo_000000000000_guess").status_code == 429
            close_other_connections()
    finally:
        server.stop()

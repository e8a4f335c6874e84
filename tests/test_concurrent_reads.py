"""run_side_by_side: parts on connections of their own on PostgreSQL, in order on the caller's otherwise."""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar

import pytest
from django.db import connection
from django.utils import timezone, translation

from leadowner.concurrent_reads import run_side_by_side, side_by_side_possible
from routing.models import Lead
from tests.factories import LeadFactory

_asked_by: ContextVar[str] = ContextVar("asked_by", default="nobody")


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _open_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


@pytest.mark.django_db
def test_inside_a_transaction_the_parts_run_in_order_on_the_callers_connection_and_see_its_writes() -> None:
    lead = LeadFactory()  # written in the test's transaction, not committed
    assert not side_by_side_possible()
    caller = threading.get_ident()
    answers = run_side_by_side(
        [lambda: (threading.get_ident(), Lead.objects.filter(pk=lead.pk).exists()), lambda: "second"]
    )
    assert answers == [(caller, True), "second"]


def _connections_settle_at(expected: int) -> int:
    """The database's connection count, once closed backends have gone (they exit asynchronously)."""
    deadline = time.monotonic() + 5
    while (count := _open_connections()) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return count


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_parts_run_two_at_a_time_each_thread_on_its_own_connection_in_the_callers_context() -> None:
    caller_pid = _backend_pid()
    before = _open_connections()
    token = _asked_by.set("the metrics page")
    together = threading.Barrier(2, timeout=10)  # broken unless two parts run at once
    running = 0
    most = 0
    lock = threading.Lock()

    def part(i: int) -> tuple[int, int, str, str, str | None]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        together.wait()
        answer = (i, _backend_pid(), _asked_by.get(), timezone.get_current_timezone_name(), translation.get_language())
        with lock:
            running -= 1
        return answer

    try:
        with timezone.override("Europe/Paris"), translation.override("fr"):
            assert side_by_side_possible()
            answers = run_side_by_side([lambda i=i: part(i) for i in range(4)], workers=2)
    finally:
        _asked_by.reset(token)
    assert [a[0] for a in answers] == [0, 1, 2, 3]  # in the order given
    assert {a[2:] for a in answers} == {("the metrics page", "Europe/Paris", "fr")}
    pids = {a[1] for a in answers}
    assert caller_pid not in pids and len(pids) == 2  # one connection per thread, not per part
    assert most == 2
    assert _connections_settle_at(before) == before  # every thread closed its connection


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failing_part_raises_once_every_part_ended() -> None:
    finished: list[str] = []

    def slow() -> str:
        time.sleep(0.1)
        finished.append("slow")
        return "slow"

    def failing() -> str:
        raise ValueError("this figure failed")

    with pytest.raises(ValueError, match="this figure failed"):
        run_side_by_side([failing, slow], workers=2)
    assert finished == ["slow"]

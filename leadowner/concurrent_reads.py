"""Independent read-only work, each part on a database connection of its own thread, side by side.

A screen made of several heavy aggregates (the metrics page: nine figures, fourteen
statements over the period's leads) waits for the sum of them when they run one after
the other on one connection. PostgreSQL runs each statement on one core; asked on two
connections at once, two of them run together. Measured on the 400k-account bench book
(100,000 leads), the metrics page: 470 ms one after the other, ~310 ms in two threads.

The parts run one after the other instead, in order, on the caller's connection:
- on SQLite (one file: nothing to gain, and the embedded default stays single-threaded);
- inside a transaction, or with autocommit off: another connection could not see what the
  caller has written and not yet committed (the test suite runs every test in one), so the
  answer could differ;
- with one part, or `workers` 1.

Each thread takes parts from a queue in the order given, runs each in a copy of the
caller's context (contextvars: a per-page cache such as `leadowner.metrics.one_page` is
shared) with the caller's active timezone and language (Django keeps those in asgiref
locals, which a context copy does not carry to another thread), and closes its own
connection once it has no part left, so nothing outlives the call.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connection, connections
from django.utils import timezone, translation

T = TypeVar("T")


def side_by_side_possible() -> bool:
    """Whether parts given to `run_side_by_side` would run on connections of their own."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block and connection.get_autocommit()


def run_side_by_side(parts: Sequence[Callable[[], T]], *, workers: int = 2) -> list[T]:
    """Each part's answer, in the order given; at most `workers` run at once (see the module).

    Put parts that share a cached read in the same callable: two threads asking for it at
    once would both read it. An exception in a part is raised here once every thread ended
    (the first in the order given, when several failed).
    """
    if len(parts) < 2 or workers < 2 or not side_by_side_possible():
        return [part() for part in parts]

    zone = timezone.get_current_timezone()
    language = translation.get_language()
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(parts)):
        todo.put(i)
    answers: dict[int, Any] = {}
    failures: dict[int, BaseException] = {}

    def run_part(i: int) -> None:
        with timezone.override(zone), translation.override(language):
            answers[i] = parts[i]()

    def worker(context: contextvars.Context) -> None:
        try:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    context.run(run_part, i)
                except BaseException as exc:  # raised in the caller's thread below
                    failures[i] = exc
        finally:
            connections.close_all()  # this thread's connections only

    threads = [
        threading.Thread(target=worker, args=(contextvars.copy_context(),), name=f"side-by-side-{n}")
        for n in range(min(workers, len(parts)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[min(failures)]
    return [answers[i] for i in range(len(parts))]

"""Independent read-only work, each part on its own database connection, side by side.

A screen made of several heavy aggregates (the metrics page: nine figures, fourteen
statements over the period's leads) waits for the sum of them when they run one after
the other on one connection. PostgreSQL runs each statement on one core; asked on two
connections at once, two of them run together. Measured on the 400k-account bench book
(100,000 leads), the metrics page: 470 ms one after the other, ~310 ms in two threads.

When the parts run one after the other instead, in order, on the caller's connection:
- on SQLite (one file: nothing to gain, and the embedded default stays single-threaded);
- inside a transaction: another connection could not see what it has written and not yet
  committed (the test suite runs every test in one), so the answer could differ;
- with one part, or `workers` 1.

Each thread runs its part in a copy of the caller's context (contextvars: a per-page cache
such as `leadowner.metrics.one_page` is shared, the active timezone and language too) and
closes its own connection when done, so nothing outlives the request.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.db import connection, connections

T = TypeVar("T")


def side_by_side_possible() -> bool:
    """Whether parts given to `run_side_by_side` would run on connections of their own."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def run_side_by_side(parts: Sequence[Callable[[], T]], *, workers: int = 2) -> list[T]:
    """Each part's answer, in the order given; at most `workers` run at once (see the module).

    Put parts that share a cached read in the same callable: two threads asking for it at
    once would both read it. An exception in a part is raised here once every part ended.
    """
    if len(parts) < 2 or workers < 2 or not side_by_side_possible():
        return [part() for part in parts]

    def in_thread(part: Callable[[], T], context: contextvars.Context) -> T:
        try:
            return context.run(part)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=min(workers, len(parts)), thread_name_prefix="side-by-side") as pool:
        futures = [pool.submit(in_thread, part, contextvars.copy_context()) for part in parts]
        return [future.result() for future in futures]

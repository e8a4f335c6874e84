"""Benchmark: a rep departure and the forfeit sweep, each beside the bare UPDATE of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lo_x .venv/bin/python bench/bench_jobs.py \\
        --accounts 10000 --ownerships 100000

Works in a scratch database of its own (`<name>_bench_jobs`, created, migrated and dropped
at the end). Prints seconds and peak memory (the resident set sampled every 10 ms: its peak
above the level before the step; with --tracemalloc also the peak of Python allocations,
at the cost of slower runs) for:

- the departure of a rep owning `--accounts` accounts (80% prospects routed to their
  territory's hunters, 20% customers to an account manager): reassign_departed_rep, in
  set-based batches with history; beside it the bare `UPDATE ... SET ended_at` of the
  same ownership rows (rolled back);
- the forfeit sweep over `--ownerships` current lead ownerships of which 10% are due
  (the rest assigned recently or worked recently): the due selection alone, then every
  due lead forfeited and routed again (the sweep re-run until nothing is due); beside it
  the bare `UPDATE` of the due rows (rolled back).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BATCH = 5000


def scratch_url(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "leadowner"
    scratch = f"{name}_bench_jobs"
    return urlunsplit(parts._replace(path=f"/{scratch}")), scratch, urlunsplit(parts._replace(path="/postgres"))


def rss_mb() -> float:
    """The process's resident set now (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1e6


class PeakRss:
    """Samples the resident set every 10 ms in a thread: the peak above the starting point."""

    def __init__(self) -> None:
        self.start = rss_mb()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mb())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())
        return self.peak - self.start


LAST_PEAK_MB = 0.0  # the peak resident-set growth of the last measured() step
FIGURES: list[Any] = []  # bench.report.Figure rows for --json-out (make bench)
TRACE = False  # --tracemalloc: also trace Python allocations (slows Python code ~2x: times are then inflated)


def measured(label: str, work: Callable[[], Any]) -> tuple[Any, float]:
    """Run `work`, print seconds and peak memory; return (result, seconds)."""
    sampler = PeakRss()
    if TRACE:
        tracemalloc.start()
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    traced = ""
    if TRACE:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        traced = f"   peak Python allocations {peak / 1e6:7.1f} MB"
    grown = sampler.stop()
    global LAST_PEAK_MB
    LAST_PEAK_MB = grown
    print(f"{label:<34}: {seconds:8.2f} s   peak RSS +{grown:6.1f} MB (of {sampler.peak:.0f} MB){traced}")
    return result, seconds


def bare_update(sql: str, params: list[Any]) -> tuple[int, float]:
    """Time an UPDATE and roll it back: the floor for writing the same rows."""
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        count = cursor.rowcount
        transaction.set_rollback(True)
    return count, time.perf_counter() - started


def build_map(hunters: int, farmers: int) -> dict[str, Any]:
    from territories.models import Rep, RuleSet, Territory, TerritoryMember

    rule_set = RuleSet.objects.create(version=1, status="PUBLISHED", calendar="US", published_at=NOW)
    territory = Territory.objects.create(rule_set=rule_set, name="United States", criteria={"countries": ["US"]})
    boss = Rep.objects.create(email="boss@bench.example", name="Boss", role="MANAGER")
    dan = Rep.objects.create(email="dan@bench.example", name="Dan", role="AE", manager=boss)
    reps = [Rep(email=f"h{i}@bench.example", name=f"Hunter {i}", role="AE", manager=boss) for i in range(hunters)]
    reps += [
        Rep(email=f"f{i}@bench.example", name=f"Farmer {i}", role="ACCOUNT_MANAGER", manager=boss)
        for i in range(farmers)
    ]
    reps = Rep.objects.bulk_create(reps)
    TerritoryMember.objects.bulk_create(
        [TerritoryMember(territory=territory, rep=r, position=i) for i, r in enumerate(reps)]
    )
    return {"dan": dan, "hunters": reps[:hunters], "boss": boss}


def bench_departure(n: int, people: dict[str, Any]) -> None:
    from django.db import connection

    from routing.models import Account, Ownership, OwnershipChange
    from routing.services.departures import departure_actor, reassign_departed_rep
    from territories.models import Rep

    dan = people["dan"]
    accounts = Account.objects.bulk_create(
        [
            Account(
                name=f"Account {i}",
                normalized_name=f"account {i}",
                country="US",
                subdivision="US-NY",
                type="CUSTOMER" if i % 5 == 0 else "PROSPECT",
            )
            for i in range(n)
        ],
        batch_size=BATCH,
    )
    Ownership.objects.bulk_create(
        [
            Ownership(account=a, rep=dan, role="SALES", reason="TERRITORY", since=NOW - timedelta(days=200))
            for a in accounts
        ],
        batch_size=BATCH,
    )
    Rep.objects.filter(pk=dan.pk).update(status="DEPARTED", departed_at=NOW)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"\n--- departure of a rep owning {n:,} accounts")
    rows, floor = bare_update(
        "UPDATE routing_ownership SET ended_at = %s WHERE rep_id = %s AND ended_at IS NULL", [NOW, dan.pk]
    )
    print(f"{'bare UPDATE of the same rows':<34}: {floor:8.2f} s   ({rows:,} rows, rolled back)")
    result, seconds = measured(
        "reassign_departed_rep", lambda: reassign_departed_rep(rep_id=dan.pk, now=NOW, time_budget=3600)
    )
    assert not result.more and sum(result.counts.values()) == n, result.counts
    history = OwnershipChange.objects.filter(actor=departure_actor(dan)).count()
    assert history == n, history
    print(f"{'':<34}  {result.counts}; {history:,} history rows; {n / seconds:,.0f} accounts/s")
    print(f"{'ratio':<34}: {seconds / floor:.1f}x the bare UPDATE")
    from bench.report import Figure

    group = f"Departure of a rep owning {n:,} accounts"
    FIGURES.append(
        Figure(group, "seconds", "s", [seconds], "bare UPDATE of the same rows", [floor], target="ratio_max:3")
    )
    FIGURES.append(Figure(group, "peak memory growth", "MB", [LAST_PEAK_MB]))


def fill_lead_owners(n: int, hunter_ids: list[int]) -> None:
    """`n` leads, each with a current SALES owner among the hunters; 10% due, the rest not.

    Lead i: assigned 20 days ago and never worked when i % 10 == 0 (due); assigned a week
    ago when i % 10 < 5; else assigned 60 days ago and called 3 days ago by its owner. Set
    based (one INSERT ... SELECT per table over generate_series), so a million takes
    seconds, not the minutes bulk_create would.
    """
    from django.db import connection

    params: dict[str, Any] = {"n": n, "hunters": hunter_ids, "now": NOW}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO routing_lead (id, email, email_domain, name, title, company, normalized_company, country,
                subdivision, city, postal_code, industry, source, product_interest, requested_rep_email, stage,
                stage_before_pause, received_at, last_activity_at, created_at)
            SELECT i + 1, 'person' || i || '@lead' || (i %% 997) || '.example', 'lead' || (i %% 997) || '.example',
                '', '', '', '', 'US', '', '', '', '', 'INBOUND', '', '', 'CONTACTED', '',
                %(now)s - interval '30 days',
                CASE WHEN i %% 10 >= 5 THEN %(now)s - interval '3 days' END, %(now)s
            FROM generate_series(0, %(n)s - 1) AS i
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO routing_ownership (lead_id, rep_id, role, reason, since)
            SELECT i + 1, (%(hunters)s::bigint[])[1 + i %% cardinality(%(hunters)s::bigint[])], 'SALES', 'TERRITORY',
                %(now)s - CASE WHEN i %% 10 = 0 THEN interval '20 days'
                               WHEN i %% 10 < 5 THEN interval '7 days' ELSE interval '60 days' END
            FROM generate_series(0, %(n)s - 1) AS i
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO routing_activity (lead_id, rep_id, kind, occurred_at, note, created_at)
            SELECT i + 1, (%(hunters)s::bigint[])[1 + i %% cardinality(%(hunters)s::bigint[])], 'CALL',
                %(now)s - interval '3 days', '', %(now)s
            FROM generate_series(0, %(n)s - 1) AS i WHERE i %% 10 >= 5
            """,
            params,
        )
        cursor.execute("SELECT setval(pg_get_serial_sequence('routing_lead', 'id'), %s)", [n])
        cursor.execute("ANALYZE")


def bench_forfeits(n: int, people: dict[str, Any], *, limit: int) -> None:

    from routing.models import OwnershipChange
    from routing.services.forfeits import FORFEIT_ACTOR, due_forfeits, sweep_forfeits

    window = timedelta(days=14)
    print(f"\n--- filling {n:,} leads with a current owner each (INSERT ... SELECT)")
    started = time.perf_counter()
    fill_lead_owners(n, [h.pk for h in people["hunters"]])
    print(f"{'filled':<34}: {time.perf_counter() - started:8.2f} s")
    due_ids = list(due_forfeits(now=NOW, window=window).values_list("pk", flat=True))
    print(f"\n--- forfeit sweep over {n:,} current lead ownerships, {len(due_ids):,} due")
    _ids, _ = measured(
        "due selection (one batch of 200)",
        lambda: list(due_forfeits(now=NOW, window=window).order_by("pk").values_list("pk", flat=True)[:200]),
    )
    _all, _ = measured(
        "due selection (all due ids)", lambda: list(due_forfeits(now=NOW, window=window).values_list("pk", flat=True))
    )
    rows, floor = bare_update("UPDATE routing_ownership SET ended_at = %s WHERE id = ANY(%s)", [NOW, due_ids])
    print(f"{'bare UPDATE of the same rows':<34}: {floor:8.2f} s   ({rows:,} rows, rolled back)")

    def sweep_all() -> tuple[int, int]:
        forfeited, runs = 0, 0
        while True:
            result = sweep_forfeits(now=NOW)
            runs += 1
            forfeited += result.counts.get("forfeited", 0)
            if not result.more or (limit and forfeited >= limit):
                return forfeited, runs

    what = f"sweep_forfeits ({limit:,} of the due)" if limit else "sweep_forfeits until drained"
    (forfeited, runs), seconds = measured(what, sweep_all)
    assert forfeited == len(due_ids) or (limit and forfeited >= limit), (forfeited, len(due_ids))
    ended = OwnershipChange.objects.filter(actor=FORFEIT_ACTOR, to_rep__isnull=True).count()
    per_lead = seconds / forfeited
    print(
        f"{'':<34}  {forfeited:,} forfeited and routed again in {runs} runs; {ended:,} forfeit history rows; "
        f"{forfeited / seconds:,.1f} leads/s ({1000 * per_lead:.0f} ms per lead)"
    )
    if forfeited < len(due_ids):
        print(f"{'':<34}  all {len(due_ids):,} due at this rate: {per_lead * len(due_ids) / 60:.0f} min")
    bare_same = floor * forfeited / len(due_ids)
    print(f"{'ratio':<34}: {seconds / bare_same:.0f}x the bare UPDATE of as many rows")
    from bench.report import Figure

    group = f"Forfeit sweep ({len(due_ids):,} due of {n:,} lead owners)"
    part = f"; the first {forfeited:,} of the due, timed then stopped" if forfeited < len(due_ids) else ""
    FIGURES.append(
        Figure(
            group,
            f"seconds for {forfeited:,} forfeited and routed again",
            "s",
            [seconds],
            "bare UPDATE of as many rows",
            [bare_same],
            target="ratio_max:3",
            note=f"{forfeited / seconds:,.1f} leads/s{part}",
        )
    )
    FIGURES.append(Figure(group, "peak memory growth", "MB", [LAST_PEAK_MB]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000, help="accounts the departing rep owns")
    parser.add_argument("--ownerships", type=int, default=100_000, help="current lead ownerships, 10%% due")
    parser.add_argument("--hunters", type=int, default=50)
    parser.add_argument("--skip-forfeits", action="store_true")
    parser.add_argument(
        "--forfeit-limit", type=int, default=0, help="stop after this many forfeits and extrapolate (default: all)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--tracemalloc", action="store_true", help="trace Python allocations too (slower)")
    parser.add_argument("--json-out", help="also write the figures here (make bench)")
    args = parser.parse_args()
    global TRACE
    TRACE = args.tracemalloc

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("bench_jobs needs DATABASE_URL=postgres://... (it creates <name>_bench_jobs next to it)", file=sys.stderr)
        return 2
    bench_url, bench_name, admin_url = scratch_url(url)

    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{bench_name}"')
        admin.execute(f'CREATE DATABASE "{bench_name}"')
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadowner.settings")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("REDIS_URL", None)  # nothing is sent: on-commit sends go to the embedded broker
    try:
        import django

        django.setup()
        from unittest import mock

        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        people = build_map(args.hunters, farmers=5)
        # Emails are asked for after commit; the bench measures the job, not the broker.
        with mock.patch("leadowner.tasks.send_now"):
            bench_departure(args.accounts, people)
            if not args.skip_forfeits:
                bench_forfeits(args.ownerships, people, limit=args.forfeit_limit)
        if args.json_out:
            import json

            Path(args.json_out).write_text(json.dumps([f.to_json() for f in FIGURES]))
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{bench_name}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""make bench-scaleout: what a second web process and a second Celery worker buy on this machine.

    python -m bench.scaleout --database-url postgres://.../lo_bench_1m --out /tmp/scaleout.json

- web: submitLead at 8 and 32 clients under gunicorn with 1 worker process, then with 2
  (same book, same lead mix); routed leads per second, the 1-process run as reference;
- jobs: the departure of 4 account managers of the book (their customers reassigned in
  set-based batches with history) by `routing.tasks.reassign_departed_rep` through Redis,
  with 1 Celery worker process, then 2 (the book copied afresh in between); seconds
  until nothing is left, the 1-worker run as reference.

See docs/deployment.md for what is safe to run twice and what must run once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import setup_django  # noqa: E402
from bench.report import Figure  # noqa: E402

DEPARTING = 4


def web_figures(database_url: str, redis_url: str, *, label: str, repeats: int, quick: bool) -> list[Figure]:
    from bench import web

    token = web.issue_bench_token()
    samples = web.sample_accounts(1500, seed=31)
    requests = {8: 200, 32: 300} if quick else {8: 600, 32: 900}
    runs: dict[int, list[Figure]] = {}
    for workers in (1, 2):
        server = web.Server(database_url, workers=workers, redis_url=redis_url)
        server.start()
        try:
            print(f"  {workers} web process(es)", flush=True)
            runs[workers] = web.bench_submit(
                server, token, samples, label=label, levels=[8, 32], requests=requests, repeats=repeats,
                seconds=90, throughput_only=True,
            )  # fmt: skip
        finally:
            server.stop()
    figures = []
    for one, two in zip(runs[1], runs[2], strict=True):
        figures.append(
            Figure(
                f"Scale-out: submitLead ({label} accounts)",
                f"{two.name}, 2 web processes",
                "/s",
                two.values,
                reference="1 web process",
                ref_values=one.values,
            )
        )
    return figures


def _depart(count: int) -> list[int]:
    """Mark the account managers owning the most accounts departed (no task is sent); their ids."""
    from django.db.models import Count, Q
    from django.utils import timezone

    from territories.models import Rep, RepRole, RepStatus

    reps = list(
        Rep.objects.filter(role=RepRole.ACCOUNT_MANAGER, status=RepStatus.ACTIVE)
        .annotate(n=Count("ownerships", filter=Q(ownerships__ended_at__isnull=True)))
        .order_by("-n", "pk")
        .values_list("pk", flat=True)[:count]
    )
    Rep.objects.filter(pk__in=reps).update(status=RepStatus.DEPARTED, departed_at=timezone.now())
    return reps


def _remaining(rep_ids: list[int]) -> int:
    from routing.models import Ownership

    return Ownership.objects.filter(rep_id__in=rep_ids, ended_at__isnull=True).count()


def jobs_run(database_url: str, redis_url: str, workers: int) -> tuple[float, int]:
    """Seconds for `workers` Celery worker processes to reassign everything of DEPARTING account managers."""
    import redis

    from routing.tasks import reassign_departed_rep

    redis.Redis.from_url(redis_url).flushdb()  # this run's queue only (the bench's own Redis database)
    reps = _depart(DEPARTING)
    owned = _remaining(reps)
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, DEBUG="0", LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "celery", "-A", "leadowner", "worker", "--loglevel", "WARNING"]
    command += ["--concurrency", "1", "--without-heartbeat", "--without-gossip", "--without-mingle"]
    processes = [
        subprocess.Popen([*command, "-n", f"bench{i}@%h"], cwd=ROOT, env=env)  # noqa: S603
        for i in range(workers)
    ]
    try:
        time.sleep(4)  # the workers start (imports, connection) before the clock does
        started = time.perf_counter()
        for rep_id in reps:
            reassign_departed_rep.delay(rep_id, batch_size=1000)
        deadline = started + 600
        while _remaining(reps) and time.perf_counter() < deadline:
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        if _remaining(reps):
            raise RuntimeError(f"{workers} worker(s) did not finish the departures within 600 s")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    return seconds, owned


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--label", default="")
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    os.environ["REDIS_URL"] = args.redis_url
    setup_django(args.database_url, migrate=False)
    from django.db import connection

    from bench.generate import clone_database

    figures = web_figures(args.database_url, args.redis_url, label=args.label, repeats=args.repeats, quick=args.quick)
    book = args.database_url.rsplit("/", 1)[0] + "/" + args.database_url.rsplit("/", 1)[1] + "_book"
    timing = Figure(
        f"Scale-out: departure of {DEPARTING} account managers by Celery tasks ({args.label} accounts)",
        "seconds, 2 worker processes",
        "s",
        reference="1 worker process",
    )
    for repeat in range(max(1, args.repeats - 1)):
        for workers in (1, 2):
            connection.close()
            clone_database(book, args.database_url)  # the same starting point for each run
            seconds, owned = jobs_run(args.database_url, args.redis_url, workers)
            print(f"  departures, {workers} worker(s), run {repeat + 1}: {owned:,} ownerships in {seconds:.1f} s")
            (timing.values if workers == 2 else timing.ref_values).append(seconds)
    timing.note = f"{owned:,} accounts reassigned with history per run"
    figures.append(timing)
    Path(args.out).write_text(json.dumps([f.to_json() for f in figures]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Console screens: server time of every screen, on the demo book and on a big book.

    python -m bench.screens --demo --database-url postgres://.../lo_bench_screens_demo --out /tmp/s.json
    python -m bench.screens --database-url postgres://.../lo_bench_400k --label 400k --out /tmp/s.json

Issue target: every screen under 200 ms of server time on the demo book and under 500 ms
at 100,000 leads: `make bench` times them on the book of 400k accounts, which holds
100,000 leads (a book holds a quarter as many leads as accounts). Server time is measured in this process:
the whole Django stack (middleware, session, view, selectors, templates) answering a GET
through Django's test client with DEBUG off, the database on PostgreSQL; no network or
browser time. Every screen of `manage.py screenshots` (the same list) is asked `--requests`
times per repetition after one warm-up request; the figure is the median and the 95th
percentile of those, beside the same stack answering a minimal view (the framework floor).

`--demo` fills the database with the demo book (`manage.py demo`) plus what the
screenshots add (a draft, a dispute, registrations, notifications, a rebalancing plan);
on a big book the missing records are added the same way (a rebalancing plan from 500 of
its ownerships instead of a whole re-run of the rules over a million accounts).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import setup_django  # noqa: E402
from bench.loadgen import percentile  # noqa: E402
from bench.report import Figure  # noqa: E402


def _fresh_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit("the demo database is erased first: its name must contain 'bench'")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')


def _big_book_ids() -> dict[str, int]:
    """Ids for the screens' paths on a generated book, adding a draft, a dispute and a plan it lacks."""
    from django.utils import timezone

    from disputes.models import Dispute
    from disputes.services import open_dispute
    from leadowner.actors import Actor
    from routing.models import (
        Lead,
        Ownership,
        RebalanceMove,
        RebalancePlan,
        RebalanceTrigger,
    )
    from territories.models import Rep, RepRole, RepStatus, RuleSetStatus
    from territories.selectors import published_rule_set
    from territories.services import create_draft_from

    now = timezone.now()
    revops = Rep.objects.filter(role=RepRole.REVOPS, status=RepStatus.ACTIVE).order_by("pk").first()
    assert revops is not None, "the book has no RevOps rep"
    published = published_rule_set()
    assert published is not None, "the book has no published rule set"
    draft = create_draft_from(version=published.version, actor=Actor(rep=revops), now=now)
    owned = (
        Ownership.objects.filter(ended_at__isnull=True, account__isnull=False, role="SALES", rep__isnull=False)
        .select_related("account", "rep")
        .order_by("pk")
        .first()
    )
    assert owned is not None and owned.rep is not None and owned.account is not None
    claimant = Rep.objects.filter(role=RepRole.AE, status=RepStatus.ACTIVE).exclude(pk=owned.rep.pk).first()
    assert claimant is not None
    dispute = Dispute.objects.filter(account=owned.account, status="OPEN").first() or open_dispute(
        account=owned.account, reason="bench: I met them first", actor=Actor(rep=claimant), now=now
    )
    lead = Lead.objects.filter(ownerships__ended_at__isnull=True).order_by("pk").first()
    assert lead is not None
    plan = RebalancePlan.objects.create(
        rule_set=published, trigger=RebalanceTrigger.ON_DEMAND, created_at=now, created_by="bench", summary={}
    )
    sample = list(
        Ownership.objects.filter(ended_at__isnull=True, account__isnull=False, role="SALES", rep__isnull=False)
        .exclude(rep=owned.rep)
        .values_list("pk", "account_id", "rep_id")[:500]
    )
    RebalanceMove.objects.bulk_create(
        RebalanceMove(
            plan=plan, account_id=a, ownership_id=o, role="SALES", from_rep_id=r, to_rep_id=owned.rep.pk,
            territory_name="bench", why="bench: a sample move",
        )
        for o, a, r in sample
    )  # fmt: skip
    plan.summary = {"moves": len(sample), "stayed": {}, "reps": [], "variance_before": 0.0, "variance_after": 0.0}
    plan.save(update_fields=["summary"])
    assert draft.status == RuleSetStatus.DRAFT
    return {
        "account": owned.account.pk,
        "lead": lead.pk,
        "dispute": dispute.pk,
        "published": published.version,
        "draft": draft.version,
        "territory": draft.territories.order_by("pk").values_list("pk", flat=True)[0],
        "rep": owned.rep.pk,
        "plan": plan.pk,
        "revops": revops.pk,
    }


def _signed_in(rep_id: int) -> Any:
    from django.contrib.auth.models import User
    from django.test import Client

    from territories.models import Rep

    rep = Rep.objects.get(pk=rep_id)
    if rep.user is None:
        rep.user = User.objects.create_user(username=f"bench-{rep.pk}", password=None)
        rep.save(update_fields=["user"])
    client = Client()
    client.force_login(rep.user)
    return client


def _time(client: Any, path: str, n: int) -> list[float]:
    response = client.get(path, secure=True)  # warm-up (and the check that the screen answers)
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}")
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.get(path, secure=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--label", default="demo")
    parser.add_argument("--out", required=True)
    parser.add_argument("--demo", action="store_true", help="fill the database with the demo book first")
    parser.add_argument("--requests", type=int, default=7, help="requests per screen per repetition")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    os.environ["BENCH_VIEWS"] = "1"  # the minimal view: the framework floor
    if args.demo:
        _fresh_database(args.database_url)
    setup_django(args.database_url, migrate=True)
    from leadowner.management.commands.screenshots import DEMO_LOGIN, SCREENS, prepare_book
    from territories.models import Rep

    if args.demo:
        ids = prepare_book()
        ids["revops"] = Rep.objects.get(email=DEMO_LOGIN).pk
        book, target = "demo book", "max:200"
    else:
        from routing.models import Lead

        ids = _big_book_ids()
        book, target = f"{args.label} accounts, {Lead.objects.count():,} leads", "max:500"
    client = _signed_in(ids["revops"])
    from django.test import Client

    anonymous = Client()
    floor = [_time(client, "/bench/minimal", args.requests) for _ in range(args.repeats)]
    figures: list[Figure] = []
    for screen in SCREENS:
        path = screen.path.format(**ids)
        who = anonymous if screen.slug == "login" else client
        runs = [_time(who, path, args.requests) for _ in range(args.repeats)]
        group = f"Console screen {screen.title} ({book})"
        figures.append(
            Figure(
                group, "server time, median", "ms", [percentile(r, 50) for r in runs],
                reference="minimal Django view, same stack", ref_values=[percentile(f, 50) for f in floor],
            )
        )  # fmt: skip
        figures.append(
            Figure(
                group, "server time, p95", "ms", [percentile(r, 95) for r in runs],
                reference="minimal Django view, same stack", ref_values=[percentile(f, 95) for f in floor],
                target=target,
            )
        )  # fmt: skip
        print(f"  {screen.slug:<18} median {percentile(runs[-1], 50):7.1f} ms  p95 {percentile(runs[-1], 95):7.1f} ms")
    Path(args.out).write_text(json.dumps([f.to_json() for f in figures], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Bulk routing of leads in the book, rows per second, beside a COPY of the same rows.

    python -m bench.bulk --database-url postgres://.../lo_bench_1m --leads 100000 --seconds 60 --out /tmp/bulk.json

Routes inbound leads (the mix of bench.web: known domains, free mail naming a company,
unknown companies) one transaction each through `routing.services.leads.submit_lead`,
in this process, for at most `--seconds` or `--leads` leads, whichever comes first;
then copies exactly the rows that routing wrote (leads, owners, history) with COPY ...
FROM STDIN into identical empty tables (same indexes and constraints) and times that:
the floor. Both are rows per second; when the time bound stops the run early the note
says how many of the leads were routed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import setup_django  # noqa: E402
from bench.report import Figure  # noqa: E402

TABLES = (
    ("routing_lead", "id > %s"),
    ("routing_ownership", "lead_id > %s"),
    ("routing_ownershipchange", "lead_id > %s"),
)


def copy_floor(after_lead: int) -> tuple[float, int]:
    """COPY the rows written for leads above `after_lead` into empty twins of their tables: (seconds, rows)."""
    from django.db import connection

    dumps: dict[str, bytes] = {}
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for table, condition in TABLES:
            buffer = bytearray()
            where = condition % int(after_lead)
            with raw.copy(f"COPY (SELECT * FROM {table} WHERE {where}) TO STDOUT") as copy:  # noqa: S608
                for block in copy:
                    buffer += block
            dumps[table] = bytes(buffer)
            cursor.execute(f"DROP TABLE IF EXISTS bench_ref_{table}")
            cursor.execute(f"CREATE TABLE bench_ref_{table} (LIKE {table} INCLUDING ALL)")
    rows = sum(d.count(b"\n") for d in dumps.values())
    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for table, _condition in TABLES:
            with raw.copy(f"COPY bench_ref_{table} FROM STDIN") as copy:
                copy.write(dumps[table])
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        for table, _condition in TABLES:
            cursor.execute(f"DROP TABLE bench_ref_{table}")
    return seconds, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--label", default="")
    parser.add_argument("--out", required=True)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()

    setup_django(args.database_url, migrate=False)
    from django.db import connection
    from django.utils import timezone

    from bench import web
    from leadowner.actors import Actor
    from routing.services.leads import LeadData, submit_lead

    samples = web.sample_accounts(5000, seed=23)
    nonce = f"b{int(time.time() * 1000) % 10**9:x}"
    planned = min(args.leads, 50_000)  # inputs are made on the way; this bounds the list kept in memory
    inputs = web.lead_inputs(samples, planned, nonce, seed=29)
    actor = Actor.system_actor("bench")
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM routing_lead")
        before = int(cursor.fetchone()[0])
    for lead in inputs[:20]:  # warm: imports, the territory map, the connection
        lead = {**lead, "email": "warm." + lead["email"]}
        submit_lead(data=LeadData(**lead), actor=actor, now=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM routing_lead")
        before = int(cursor.fetchone()[0])
    routed = 0
    started = time.perf_counter()
    deadline = started + args.seconds
    while routed < args.leads and time.perf_counter() < deadline:
        lead = dict(inputs[routed % len(inputs)])
        if routed >= len(inputs):
            lead["email"] = f"r{routed}.{lead['email']}"
        submit_lead(data=LeadData(**lead), actor=actor, now=timezone.now())
        routed += 1
    seconds = time.perf_counter() - started
    copy_seconds, rows = copy_floor(before)
    label = f" ({args.label} accounts)" if args.label else ""
    part = "" if routed >= args.leads else f"; time-bound: {routed:,} of the {args.leads:,} leads routed"
    figures = [
        Figure(
            f"Bulk routing of {args.leads:,} leads{label}",
            "rows written/s (leads, owners, history)",
            "rows/s",
            [rows / seconds],
            reference="COPY of the same rows",
            ref_values=[rows / copy_seconds],
            target="ratio_min:0.5",
            note=f"{routed / seconds:,.0f} leads/s through submit_lead, one transaction each{part}",
        )
    ]
    print(f"  routed {routed:,} leads in {seconds:.1f} s ({routed / seconds:,.0f}/s)", flush=True)
    print(f"  COPY of the {rows:,} rows written: {copy_seconds:.2f} s", flush=True)
    Path(args.out).write_text(json.dumps([f.to_json() for f in figures]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

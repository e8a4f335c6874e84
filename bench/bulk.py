"""Bulk routing of leads in the book, rows per second, beside a COPY of the same rows.

    python -m bench.bulk --database-url postgres://.../lo_bench_1m --leads 100000 --out /tmp/bulk.json

Writes a leads.csv of `--leads` inbound leads (the mix of bench.web: known domains, free
mail naming a company, unknown companies) and imports it with `import_leads`, in this
process: every row checked, then every lead routed at entry through the batch router
(`submit_leads`, 500 leads to a transaction), its owner and history written. Then copies
exactly the rows that routing wrote (leads, owners, history) with COPY ... FROM STDIN into
identical empty tables (same indexes and constraints) and times that: the floor. Both
are rows per second. For comparison the note gives the rate of submitting leads one at a
time through `submit_lead` (a sample of at most `--seconds`).
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
    parser.add_argument("--seconds", type=float, default=10, help="the one-by-one sample's time bound")
    args = parser.parse_args()

    setup_django(args.database_url, migrate=False)
    from django.db import connection
    from django.utils import timezone

    from bench import web
    from leadowner.actors import Actor
    from leadowner.csvio import csv_text
    from routing.services.lead_imports import LEADS_COLUMNS, import_leads
    from routing.services.leads import LeadData, submit_lead

    samples = web.sample_accounts(5000, seed=23)
    nonce = f"b{int(time.time() * 1000) % 10**9:x}"
    inputs = web.lead_inputs(samples, args.leads, nonce, seed=29)
    rows = ([str(lead.get(column) or "") for column in LEADS_COLUMNS] for lead in inputs)
    data = csv_text(columns=LEADS_COLUMNS, rows=rows, numeric=("employees",))
    warm = web.lead_inputs(samples, 20, nonce + "w", seed=31)  # imports, the territory map, the connection
    import_leads(
        csv_text(columns=LEADS_COLUMNS, rows=([str(w.get(c) or "") for c in LEADS_COLUMNS] for w in warm)),
        now=timezone.now(),
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM routing_lead")
        before = int(cursor.fetchone()[0])
    started = time.perf_counter()
    report = import_leads(data, now=timezone.now())
    seconds = time.perf_counter() - started
    copy_seconds, written = copy_floor(before)

    # One at a time, for comparison: what bulk routing saves.
    actor = Actor.system_actor("bench")
    single = web.lead_inputs(samples, 2000, nonce + "s", seed=37)
    one_started = time.perf_counter()
    one = 0
    while one < len(single) and time.perf_counter() - one_started < args.seconds:
        submit_lead(data=LeadData(**single[one]), actor=actor, now=timezone.now())
        one += 1
    one_rate = one / (time.perf_counter() - one_started)

    label = f" ({args.label} accounts)" if args.label else ""
    routed = report.created + report.unchanged
    figures = [
        Figure(
            f"Bulk routing of {args.leads:,} leads{label}",
            "rows written/s (leads, owners, history)",
            "rows/s",
            [written / seconds],
            reference="COPY of the same rows",
            ref_values=[written / copy_seconds],
            target="ratio_min:0.5",
            note=f"import_leads: {routed / seconds:,.0f} leads/s checked, routed and owned, 500 to a "
            f"transaction ({report}); one at a time through submit_lead: {one_rate:,.0f} leads/s",
        )
    ]
    print(
        f"  imported and routed {routed:,} leads in {seconds:.1f} s ({routed / seconds:,.0f}/s): {report}", flush=True
    )
    print(f"  COPY of the {written:,} rows written: {copy_seconds:.2f} s", flush=True)
    print(f"  one at a time through submit_lead: {one_rate:,.0f} leads/s ({one} leads)", flush=True)
    Path(args.out).write_text(json.dumps([f.to_json() for f in figures]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: accounts.csv import against a plain PostgreSQL COPY of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lo_x .venv/bin/python bench/bench_import.py -n 100000

Works in a scratch database of its own (`<name>_bench`, created, migrated and dropped at
the end), so it never touches the data in DATABASE_URL. It generates N accounts with a
seed (names, 1-3 domains, aliases, parents, locations, firmographics, owners), times
`import_accounts` on the file, then copies exactly the rows the import wrote (accounts,
domains, aliases, ownerships, history) into identical tables (same indexes and
constraints) with COPY ... FROM STDIN and times that: the reference floor. Prints rows/s
for both and the ratio; also times a no-change re-import and the export.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIRST = [
    "North", "Blue", "Summit", "Granite", "Silver", "Pacific", "Atlas", "Harbor", "Cedar", "Iron",
    "Bright", "Red", "Golden", "Prairie", "Lake", "Crest", "Union", "Pioneer", "Evergreen", "Falcon",
    "Liberty", "Maple", "Orion", "Quantum", "River", "Sterling", "Vertex", "Willow", "Apex", "Beacon",
]  # fmt: skip
SECOND = [
    "Ridge", "Stone", "Point", "Bay", "Field", "Gate", "Bridge", "Peak", "Valley", "Forge",
    "Works", "Line", "Path", "Wave", "Light", "Star", "Rock", "Wood", "Port", "Hill",
]  # fmt: skip
THIRD = [
    "Logistics", "Analytics", "Foods", "Health", "Energy", "Capital", "Systems", "Labs", "Media", "Motors",
    "Insurance", "Pharma", "Retail", "Robotics", "Software", "Textiles", "Telecom", "Travel", "Bank", "Partners",
]  # fmt: skip
SUFFIX = ["Inc.", "LLC", "Corp.", "Ltd", "GmbH", "S.A.", "Holdings, Inc.", "", "", ""]
PLACES = [
    ("US", "US-NY", "New York", "100"), ("US", "US-CA", "San Francisco", "941"), ("US", "US-TX", "Austin", "787"),
    ("US", "US-MA", "Boston", "021"), ("CA", "CA-QC", "Montréal", "H3B"), ("CA", "CA-ON", "Toronto", "M5V"),
    ("GB", "", "London", "EC1A"), ("DE", "DE-BE", "Berlin", "101"), ("IL", "", "Tel Aviv", "61"),
    ("PR", "", "San Juan", "009"), ("FR", "", "Paris", "750"), ("JP", "", "Tokyo", "100"),
]  # fmt: skip
INDUSTRIES = ["Financial Services", "Healthcare", "Manufacturing", "Retail", "Technology", "Energy", "Media"]
TLDS = ["com", "com", "com", "io", "co.uk", "de", "net"]


def generate_reps(count: int) -> str:
    lines = ["email,name,role,manager_email,capacity,status,territories"]
    lines.append("boss@bench.example.com,Bench Boss,MANAGER,,,ACTIVE,")
    for i in range(count):
        lines.append(f"rep{i}@bench.example.com,Rep {i},AE,boss@bench.example.com,200,ACTIVE,")
    return "\n".join(lines) + "\n"


def generate_accounts(n: int, *, seed: int, reps: int) -> str:
    """N deterministic accounts.csv rows: ~20% subsidiaries, ~30% aliases, ~60% with owners."""
    from leadowner.csvio import csv_text
    from routing.selectors.exports import ACCOUNTS_COLUMNS, ACCOUNTS_NUMERIC

    rng = random.Random(seed)
    rows: list[list[str]] = []
    first_domains: list[str] = []
    for i in range(n):
        words = [rng.choice(FIRST), rng.choice(SECOND), rng.choice(THIRD)]
        name = " ".join(words)
        suffix = rng.choice(SUFFIX)
        slug = "".join(w.lower() for w in words)
        domains = [f"{slug}{i}.{rng.choice(TLDS)}"]
        if rng.random() < 0.3:
            domains.append(f"{slug}-{i}.net")
        if rng.random() < 0.1:
            domains.append(f"{slug}{i}-group.com")
        aliases = []
        if rng.random() < 0.3:
            aliases.append("".join(w[0] for w in words) + f" {i}")
        if rng.random() < 0.1:
            aliases.append(f"{words[0]} {words[2]} {i}")
        parent = first_domains[rng.randrange(len(first_domains))] if first_domains and rng.random() < 0.2 else ""
        country, subdivision, city, postal = rng.choice(PLACES)
        customer = rng.random() < 0.35
        owner = f"rep{rng.randrange(reps)}@bench.example.com" if rng.random() < 0.6 else ""
        manager = f"rep{rng.randrange(reps)}@bench.example.com" if customer and rng.random() < 0.8 else ""
        success = f"rep{rng.randrange(reps)}@bench.example.com" if customer and rng.random() < 0.4 else ""
        rows.append(
            [
                f"{name} {suffix}".strip(),
                ";".join(domains),
                ";".join(aliases),
                parent,
                country,
                subdivision,
                city,
                f"{postal}{rng.randrange(10, 99)}",
                rng.choice(INDUSTRIES),
                str(rng.randrange(5, 200_000)),
                str(rng.randrange(100_000, 5_000_000_000)) if rng.random() < 0.7 else "",
                "CUSTOMER" if customer else "PROSPECT",
                owner,
                manager,
                success,
                "true" if rng.random() < 0.1 else "false",
            ]
        )
        first_domains.append(domains[0])
    return csv_text(columns=ACCOUNTS_COLUMNS, rows=rows, numeric=ACCOUNTS_NUMERIC)


def scratch_url(url: str) -> tuple[str, str, str]:
    """(scratch database URL, its name, a maintenance URL to create/drop it from)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "leadowner"
    scratch = f"{name}_bench"
    return (
        urlunsplit(parts._replace(path=f"/{scratch}")),
        scratch,
        urlunsplit(parts._replace(path="/postgres")),
    )


COPIED_TABLES = [
    "routing_account",
    "routing_accountdomain",
    "routing_accountalias",
    "routing_ownership",
    "routing_ownershipchange",
]


def copy_reference() -> tuple[float, int]:
    """COPY the rows the import wrote into identical tables (foreign keys included), in one
    transaction timed to its commit, as the import's is; (seconds, rows)."""
    from django.db import connection, transaction

    from bench.refs import create_reference_tables

    dumps: dict[str, bytes] = {}
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for table in COPIED_TABLES:
            buffer = bytearray()
            with raw.copy(f"COPY {table} TO STDOUT") as copy:
                for block in copy:
                    buffer += block
            dumps[table] = bytes(buffer)
        create_reference_tables(cursor, COPIED_TABLES, "ref_")
    rows = sum(d.count(b"\n") for d in dumps.values())
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor
        for table in COPIED_TABLES:
            with raw.copy(f"COPY ref_{table} FROM STDIN") as copy:
                copy.write(dumps[table])
    return time.perf_counter() - started, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=100_000, help="accounts to import (default %(default)s)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--json-out", help="write the import and COPY rates here for make bench, and stop there")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("bench_import needs DATABASE_URL=postgres://... (it creates <name>_bench next to it)", file=sys.stderr)
        return 2
    bench_url, bench_name, admin_url = scratch_url(url)

    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{bench_name}"')
        admin.execute(f'CREATE DATABASE "{bench_name}"')
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadowner.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from routing.models import Account
        from routing.selectors.exports import export_accounts
        from routing.services.imports import import_accounts
        from territories.services import import_reps

        call_command("migrate", verbosity=0)
        now = datetime(2026, 1, 1, tzinfo=UTC)
        import_reps(generate_reps(args.reps), actor="bench", now=now)
        started = time.perf_counter()
        text = generate_accounts(args.n, seed=args.seed, reps=args.reps)
        print(f"generated {args.n:,} accounts ({len(text) / 1e6:.1f} MB) in {time.perf_counter() - started:.1f}s")

        started = time.perf_counter()
        report = import_accounts(text, now=now)
        import_seconds = time.perf_counter() - started
        assert report.created == args.n == Account.objects.count(), report
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        copy_seconds, copied_rows = copy_reference()
        if args.json_out:
            from bench.report import Figure

            rate = Figure(
                f"Bulk import of {args.n:,} accounts (accounts.csv)",
                "rows written/s (accounts, domains, aliases, owners, history)",
                "rows/s",
                [copied_rows / import_seconds],
                reference="COPY of the same rows",
                ref_values=[copied_rows / copy_seconds],
                target="ratio_min:0.5",
            )
            Path(args.json_out).write_text(json.dumps([rate.to_json()]))
            print(f"import {import_seconds:.1f}s, COPY {copy_seconds:.1f}s of {copied_rows:,} rows")
            return 0

        started = time.perf_counter()
        again = import_accounts(text, now=now)
        reimport_seconds = time.perf_counter() - started
        assert again.unchanged == args.n, again
        started = time.perf_counter()
        exported = export_accounts()
        export_seconds = time.perf_counter() - started
        assert exported.count("\n") == args.n + 1

        print(
            f"import_accounts : {args.n:,} accounts in {import_seconds:.1f}s = "
            f"{args.n / import_seconds:,.0f} accounts/s"
        )
        print(
            f"                  ({copied_rows:,} rows written in all: accounts, domains, aliases, ownerships, "
            f"history = {copied_rows / import_seconds:,.0f} rows/s)"
        )
        print(
            f"COPY reference  : the same {copied_rows:,} rows in {copy_seconds:.1f}s = "
            f"{copied_rows / copy_seconds:,.0f} rows/s ({args.n / copy_seconds:,.0f} accounts/s)"
        )
        print(f"ratio           : import takes {import_seconds / copy_seconds:.1f}x the COPY time")
        print(f"re-import       : no changes, {reimport_seconds:.1f}s = {args.n / reimport_seconds:,.0f} accounts/s")
        print(f"export          : {len(exported) / 1e6:.1f} MB in {export_seconds:.1f}s")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{bench_name}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: lead-to-account matching latency with N accounts in PostgreSQL.

    python bench/bench_matching.py --accounts 1000000 \\
        --database-url postgres://postgres@127.0.0.1:5432/lo_bench_1m_book

Fills the database with the seeded book of bench/generate.py (N accounts with domains,
sub-domains of subsidiaries, aliases, parents, owners, leads) by COPY unless it already
holds it, then times `routing.matching.match_account` over a mix of lookups (domain,
sub-domain, alias, exact name, fuzzy typo, nothing to find). Beside each kind it times
the one bare SQL statement that kind cannot do without (the indexed SELECT on
routing_accountdomain, ...), as the floor to compare against. `make bench` reports the
same figures at 10k, 100k and 1M accounts (bench/match.py).

The target: p95 < 20 ms per match at 1,000,000 accounts. The filled database is erased
and refilled when its size or seed differ, so the database name must contain "bench".
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The accounts (and the whole book around them) come from bench/generate.py: one generator
# for every benchmark, filled by COPY and reused while the database holds the same seed.
from bench.generate import INDUSTRY_WORDS, LEGAL, brand, ensure_book  # noqa: E402

# ---------------------------------------------------------------------------- workload


@dataclass
class Lookup:
    kind: str
    domain: str
    company: str
    expected: int | None  # the account it should find; None when nothing should match


def typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice("sdit")
    if kind == "s":
        return word[:i] + rng.choice(string.ascii_lowercase.replace(word[i], "")) + word[i + 1 :]
    if kind == "d":
        return word[:i] + word[i + 1 :]
    if kind == "i":
        return word[:i] + rng.choice(string.ascii_lowercase) + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :] if word[i] != word[i + 1] else word + "s"


def workload(per_kind: int, seed: int, count: int) -> list[Lookup]:
    from django.db import connection

    rng = random.Random(seed + 1)
    ids = rng.sample(range(1, count + 1), min(count, per_kind * 4))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.id, a.name, a.normalized_name, d.domain FROM routing_account a "
            "JOIN routing_accountdomain d ON d.account_id = a.id AND d.position = 0 WHERE a.id = ANY(%s)",
            [ids],
        )
        accounts = cursor.fetchall()
        cursor.execute(
            "SELECT account_id, alias FROM routing_accountalias WHERE account_id = ANY(%s)",
            [rng.sample(range(1, count + 1), min(count, per_kind * 20))],
        )
        aliases = cursor.fetchall()
    rng.shuffle(accounts)
    lookups: list[Lookup] = []
    for pk, _name, _normalized, domain in accounts[:per_kind]:
        lookups.append(Lookup("domain", f"someone@{domain}", "", pk))
    for pk, _name, _normalized, domain in accounts[per_kind : 2 * per_kind]:
        lookups.append(Lookup("sub-domain", f"someone@mail.{domain}", "", pk))
    for pk, alias in aliases[:per_kind]:
        lookups.append(Lookup("alias", "", alias, pk))
    for pk, _name, normalized, _domain in accounts[2 * per_kind : 3 * per_kind]:
        typed = " ".join(w.capitalize() for w in normalized.split()) + " " + rng.choice(LEGAL)
        lookups.append(Lookup("name", "someone@gmail.com", typed, pk))
    for pk, _name, normalized, _domain in accounts[3 * per_kind : 4 * per_kind]:
        words = normalized.split()
        longest = max(range(len(words)), key=lambda i: len(words[i]))
        if len(words[longest]) >= 4:
            words[longest] = typo(words[longest], rng)
        lookups.append(Lookup("fuzzy typo", "", " ".join(words).title(), pk))
    for i in range(per_kind):
        made_up = f"{brand(rng)}{brand(rng).lower()} {rng.choice(INDUSTRY_WORDS)}"
        lookups.append(Lookup("no match", f"someone@nothing-{i}.example", made_up, None))
    rng.shuffle(lookups)
    return lookups


def reference_sql(lookup: Lookup) -> tuple[str, list[Any]]:
    """The one statement the lookup's kind needs anyway: the floor for its latency."""
    from routing.normalize import domain_with_parents, normalize_company

    if lookup.kind in ("domain", "sub-domain"):
        return "SELECT account_id FROM routing_accountdomain WHERE domain = ANY(%s)", [
            domain_with_parents(lookup.domain)
        ]
    normalized = normalize_company(lookup.company)
    if lookup.kind == "alias":
        return "SELECT account_id FROM routing_accountalias WHERE normalized_alias = %s", [normalized]
    if lookup.kind == "name":
        return "SELECT id FROM routing_account WHERE normalized_name = %s", [normalized]
    # Fuzzy and no-match: one of the neighbour reads (the names sorting just after the query).
    return (
        "SELECT id, normalized_name FROM routing_account WHERE normalized_name ~>=~ %s "
        "AND normalized_name LIKE %s ORDER BY normalized_name USING ~<~ LIMIT 30",
        [normalized, f"{normalized[:3]}%"],
    )


# ---------------------------------------------------------------------------- measuring


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


@dataclass
class Measured:
    latency: dict[str, list[float]]  # ms per match, by kind
    floor: dict[str, list[float]]  # ms of the bare statement, by kind
    outcome: dict[str, Counter[str]]
    query_counts: dict[str, list[int]]


def measure(lookups: list[Lookup], threshold: int, *, warm: int = 100) -> Measured:
    """Time match_account on every lookup and, right after it, the bare statement its kind needs."""
    from django.db import connection

    from routing.matching import match_account

    queries = 0

    def count_queries(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    for lookup in lookups[:warm]:  # warm the connection, caches and the buffer pool a little
        match_account(domain=lookup.domain, company=lookup.company, threshold=threshold)

    measured = Measured(defaultdict(list), defaultdict(list), defaultdict(Counter), defaultdict(list))
    for lookup in lookups:
        queries = 0
        with connection.execute_wrapper(count_queries):
            started = time.perf_counter()
            result = match_account(domain=lookup.domain, company=lookup.company, threshold=threshold)
            ms = (time.perf_counter() - started) * 1000
        measured.latency[lookup.kind].append(ms)
        measured.query_counts[lookup.kind].append(queries)
        if result.account_id is None:
            measured.outcome[lookup.kind]["ambiguous" if result.ambiguous_ids else "none"] += 1
        elif result.account_id == lookup.expected:
            measured.outcome[lookup.kind]["right"] += 1
        else:
            measured.outcome[lookup.kind]["other"] += 1
        sql, params = reference_sql(lookup)
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            measured.floor[lookup.kind].append((time.perf_counter() - started) * 1000)
    return measured


def run(lookups: list[Lookup], threshold: int) -> None:
    m = measure(lookups, threshold)
    latency, floor, outcome, query_counts = m.latency, m.floor, m.outcome, m.query_counts
    kinds = ["domain", "sub-domain", "alias", "name", "fuzzy typo", "no match"]
    header = (
        f"{'kind':<11} {'n':>5} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'queries':>7} "
        f"{'bare SQL p50':>12} {'p95':>6} {'p95 ratio':>9}  outcome"
    )
    print(header)
    print("-" * len(header))
    everything: list[float] = []
    for kind in kinds:
        times = latency[kind]
        everything += times
        ref = floor[kind]
        seen = outcome[kind]
        total = sum(seen.values())
        summary = ", ".join(f"{k} {v / total:.0%}" for k, v in seen.most_common())
        print(
            f"{kind:<11} {len(times):>5} {statistics.median(times):>7.2f} {percentile(times, 95):>7.2f} "
            f"{percentile(times, 99):>7.2f} {statistics.mean(query_counts[kind]):>7.1f} "
            f"{statistics.median(ref):>12.2f} {percentile(ref, 95):>6.2f} "
            f"{percentile(times, 95) / percentile(ref, 95):>9.1f}  {summary}"
        )
    print("-" * len(header))
    print(
        f"{'all':<11} {len(everything):>5} {statistics.median(everything):>7.2f} "
        f"{percentile(everything, 95):>7.2f} {percentile(everything, 99):>7.2f}"
    )
    print("'bare SQL' is the single indexed statement each kind needs (fuzzy and no-match: one of the")
    print("neighbour reads, the 30 names sorting after the query); 'queries' counts statements per match;")
    print("'outcome' says whether the match found the account the lookup was made from.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--database-url", required=True, help="postgres://... ; its name must contain 'bench'")
    parser.add_argument("--lookups", type=int, default=3000, help="lookups in total, spread over six kinds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threshold", type=int, default=90)
    parser.add_argument("--refill", action="store_true", help="erase and fill again even if already filled")
    args = parser.parse_args()

    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("the benchmark measures PostgreSQL: give a postgres:// URL")
    if "bench" not in urlsplit(args.database_url).path:
        parser.error("the database is erased and refilled: its name must contain 'bench'")
    ensure_book(args.database_url, args.accounts, args.seed, refill=args.refill)
    from django.db import connection

    lookups = workload(max(1, args.lookups // 6), args.seed, args.accounts)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(" on ")[0]
    print(f"\n{args.accounts:,} accounts, {len(lookups):,} lookups, threshold {args.threshold}, {version}\n")
    run(lookups, args.threshold)


if __name__ == "__main__":
    main()

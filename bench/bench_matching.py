"""Benchmark: lead-to-account matching latency with N accounts in PostgreSQL.

    python bench/bench_matching.py --accounts 1000000 \\
        --database-url postgres://postgres@127.0.0.1:5432/lo_match_bench

Creates the database if needed, runs the migrations, fills it with N synthetic accounts
(seeded: names from word lists and syllables, legal forms of many countries, domains,
sub-domains of subsidiaries, aliases, parents) by COPY, unless it already holds exactly
that data set; then VACUUM ANALYZE, and times `routing.matching.match_account` over a
mix of lookups (domain, sub-domain, alias, exact name, fuzzy typo, nothing to find).
Beside each kind it times the one bare SQL statement that kind cannot do without (the
indexed SELECT on routing_accountdomain, ...), as the floor to compare against.

The target: p95 < 20 ms per match at 1,000,000 accounts. The filled database is erased
and refilled when its size or seed differ, so the database name must contain "bench".
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# ---------------------------------------------------------------------------- synthetic data


def words(text: str) -> list[str]:
    return text.split()


ONSETS = words("b br c ch cl d dr f fl g gr h j k kl l m n p pr qu r s sh st t tr v w z")
VOWELS = words("a e i o u ai ea io ou y")
CODAS = ["", "", "", "n", "r", "x", "l", "s", "m", "th", "nd", "rk", "st", "v"]
INDUSTRY_WORDS = words(
    "Logistics Systems Software Capital Partners Foods Energy Solutions Technologies Consulting Industries "
    "Pharmaceuticals Bank Insurance Motors Airlines Hotels Media Labs Analytics Robotics Biotech Textiles "
    "Construction Engineering Mining Retail Brewing Dental Health Security Networks Semiconductors Chemicals "
    "Shipping Aerospace Realty Ventures Trading Telecom Cloud Games Studios Apparel Furniture Paper Steel"
)
ADJECTIVES = words(
    "Blue Red Green Silver Golden Northern Southern Eastern Western Pacific Atlantic Global First United "
    "American European Royal Summit Pioneer Liberty Eagle Harbor River Mountain Coastal Prairie Iron Bright"
)
NOUNS = words(
    "Harbor Ridge Peak Valley Stone Bridge Oak Pine Maple Cedar Falcon Lion Bear Wolf Star Sun Moon Crest "
    "Point Field Lake Bay Forest Rock Arrow Shield Crown Anchor Beacon Compass Lantern Meadow Orchard"
)
SURNAMES = words(
    "Smith Johnson Williams Brown Jones Miller Davis Garcia Wilson Anderson Taylor Thomas Moore Martin "
    "Jackson White Harris Clark Lewis Walker Young Allen King Wright Scott Hill Green Adams Baker Nelson "
    "Mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker Rossi Russo Ferrari Esposito Bianchi "
    "Dubois Laurent Moreau Lefebvre Tanaka Suzuki Takahashi Watanabe Nakamura Kobayashi Andersson Nilsson "
    "Johansson Virtanen Korhonen Nieminen Kowalski Nowak Novak Horvat Silva Santos Oliveira Pereira"
)
REGIONS = words("Europe Asia Americas EMEA APAC UK Germany France Japan Nordics Iberia Benelux Canada Brasil")
LEGAL = [
    *["Inc.", "Inc", "Corp.", "Corporation", "LLC", "Ltd", "Ltd.", "Limited", "PLC", "Co.", "Pty Ltd"],
    *["GmbH", "AG", "GmbH & Co. KG", "S.A.", "SAS", "SARL", "S.p.A.", "S.r.l.", "S.L.", "B.V.", "N.V."],
    *["AB", "Oy", "Oyj", "A/S", "ASA", "K.K.", "Co., Ltd.", "Sp. z o.o.", "s.r.o.", "Ltda.", "S.A. de C.V."],
]
TLDS = ["com"] * 12 + ["de", "co.uk", "fr", "io", "net", "co.jp", "com.br", "it", "se", "nl"]


@dataclass
class Row:
    id: int
    name: str
    normalized: str
    parent_id: int | None
    domains: list[str]
    aliases: list[str]


def brand(rng: random.Random) -> str:
    syllables = rng.choice([2, 2, 2, 3])
    word = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables))
    return word.capitalize()


def company_name(rng: random.Random) -> tuple[str, str]:
    """(display name without legal form, slug for its domain)."""
    pattern = rng.random()
    if pattern < 0.35:
        b = brand(rng)
        words = [b, rng.choice(INDUSTRY_WORDS)]
    elif pattern < 0.55:
        words = [brand(rng)]
    elif pattern < 0.70:
        words = [rng.choice(SURNAMES), rng.choice(["&", "and"]), rng.choice(SURNAMES)]
        if rng.random() < 0.5:
            words.append(rng.choice(INDUSTRY_WORDS))
    elif pattern < 0.85:
        words = [rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(INDUSTRY_WORDS)]
    else:
        words = [brand(rng), rng.choice(NOUNS), rng.choice(INDUSTRY_WORDS)]
    name = " ".join(words)
    slug = "".join(w for w in words if w.isalnum()).lower()
    return name, slug


def acronym(name: str) -> str:
    letters = [w[0] for w in name.split() if w[0].isalpha() and w.lower() != "and"]
    return "".join(letters).upper()


def generate(count: int, seed: int) -> Iterator[Row]:
    from routing.normalize import normalize_company

    rng = random.Random(seed)
    used_domains: set[str] = set()
    recent: list[tuple[int, str]] = []  # (id, first domain) of earlier top-level accounts, for parents
    for pk in range(1, count + 1):
        base, slug = company_name(rng)
        parent_id = None
        domains: list[str] = []
        aliases: list[str] = []
        if recent and rng.random() < 0.05:  # a subsidiary: "<Parent brand> <Region>" on a sub-domain
            parent_id, parent_domain = rng.choice(recent)
            region = rng.choice(REGIONS)
            base = f"{base} {region}"
            sub = f"{region.lower()}.{parent_domain}"
            if sub not in used_domains:
                domains.append(sub)
        name = f"{base} {rng.choice(LEGAL)}" if rng.random() < 0.75 else base
        tld = rng.choice(TLDS)
        domain = f"{slug}.{tld}"
        while domain in used_domains:
            domain = f"{slug}{rng.randint(2, 9999)}.{tld}"
        domains.append(domain)
        if rng.random() < 0.1:
            extra = f"{slug}-{rng.choice(['group', 'online', 'global', 'hq'])}.{rng.choice(TLDS)}"
            if extra not in used_domains:
                domains.append(extra)
        used_domains.update(domains)
        if len(base.split()) > 1 and rng.random() < 0.15:
            aliases.append(acronym(base))
        if rng.random() < 0.05:
            aliases.append(f"{base.split()[0]} {rng.choice(['Group', 'Holdings', 'Intl'])}")
        if parent_id is None:
            if len(recent) < 50_000:
                recent.append((pk, domain))
            else:
                recent[rng.randrange(len(recent))] = (pk, domain)
        yield Row(pk, name, normalize_company(name), parent_id, domains, list(dict.fromkeys(aliases)))


# ---------------------------------------------------------------------------- database


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadowner.settings")
    os.environ.setdefault("DEBUG", "0")  # DEBUG would record every query in memory
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, skip_checks=True)


MARKER_TABLE = "routing_account"


def marker(count: int, seed: int) -> str:
    return f"bench_matching accounts={count} seed={seed} v2"


def already_filled(cursor: Any, count: int, seed: int) -> bool:
    cursor.execute("SELECT obj_description(%s::regclass, 'pg_class')", [MARKER_TABLE])
    row = cursor.fetchone()
    return bool(row and row[0] == marker(count, seed))


def fill(count: int, seed: int) -> None:
    from django.db import connection, transaction

    tables = ["routing_account", "routing_accountdomain", "routing_accountalias"]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            [tables],
        )
        indexes = cursor.fetchall()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE routing_account RESTART IDENTITY CASCADE")
        # Plain indexes are rebuilt after the load: one sort instead of a million inserts.
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper, for COPY
        now = "2026-01-01 00:00:00+00"
        counts = Counter[str]()
        with raw.copy(
            "COPY routing_account (id, name, normalized_name, parent_id, country, subdivision, city, "
            "postal_code, industry, type, named_account, origin, created_at, updated_at) FROM STDIN"
        ) as accounts:
            domain_rows: list[tuple[int, str, int]] = []
            alias_rows: list[tuple[int, str, str, int]] = []
            for row in generate(count, seed):
                fixed = ("US", "", "", "", "", "PROSPECT", False, "IMPORT", now, now)
                accounts.write_row((row.id, row.name, row.normalized, row.parent_id, *fixed))
                domain_rows += [(row.id, d, i) for i, d in enumerate(row.domains)]
                alias_rows += [(row.id, a, normalize_company_cached(a), i) for i, a in enumerate(row.aliases)]
                counts["accounts"] += 1
                counts["subsidiaries"] += row.parent_id is not None
                if row.id % 100_000 == 0:
                    print(f"  generated {row.id:,} accounts ({time.perf_counter() - started:.0f} s)", flush=True)
        with raw.copy("COPY routing_accountdomain (account_id, domain, position) FROM STDIN") as copy:
            for domain_row in domain_rows:
                copy.write_row(domain_row)
        seen_alias: set[tuple[int, str]] = set()
        with raw.copy("COPY routing_accountalias (account_id, alias, normalized_alias, position) FROM STDIN") as copy:
            for alias_row in alias_rows:
                if (alias_row[0], alias_row[2]) not in seen_alias:  # unique per account
                    seen_alias.add((alias_row[0], alias_row[2]))
                    copy.write_row(alias_row)
        print(f"  copied ({time.perf_counter() - started:.0f} s); rebuilding {len(indexes)} indexes", flush=True)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check the parent keys now, before indexing
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        for _name, definition in indexes:
            cursor.execute(definition)
        for table in tables:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            )
        cursor.execute(f"COMMENT ON TABLE {MARKER_TABLE} IS '{marker(count, seed)}'")
    print(
        f"  filled {counts['accounts']:,} accounts ({counts['subsidiaries']:,} subsidiaries), "
        f"{len(domain_rows):,} domains, {len(seen_alias):,} aliases in {time.perf_counter() - started:.0f} s"
    )


def normalize_company_cached(text: str) -> str:
    from routing.normalize import normalize_company

    return normalize_company(text)


def vacuum_analyze() -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
        for table in ("routing_account", "routing_accountdomain", "routing_accountalias"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"  vacuum analyze: {time.perf_counter() - started:.1f} s")


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


def run(lookups: list[Lookup], threshold: int) -> None:
    from django.db import connection

    from routing.matching import match_account

    queries = 0

    def count_queries(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    for lookup in lookups[:100]:  # warm the connection, caches and the buffer pool a little
        match_account(domain=lookup.domain, company=lookup.company, threshold=threshold)

    latency: dict[str, list[float]] = defaultdict(list)
    floor: dict[str, list[float]] = defaultdict(list)
    outcome: dict[str, Counter[str]] = defaultdict(Counter)
    query_counts: dict[str, list[int]] = defaultdict(list)
    for lookup in lookups:
        queries = 0
        with connection.execute_wrapper(count_queries):
            started = time.perf_counter()
            result = match_account(domain=lookup.domain, company=lookup.company, threshold=threshold)
            ms = (time.perf_counter() - started) * 1000
        latency[lookup.kind].append(ms)
        query_counts[lookup.kind].append(queries)
        if result.account_id is None:
            outcome[lookup.kind]["ambiguous" if result.ambiguous_ids else "none"] += 1
        elif result.account_id == lookup.expected:
            outcome[lookup.kind]["right"] += 1
        else:
            outcome[lookup.kind]["other"] += 1
        sql, params = reference_sql(lookup)
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            ref_ms = (time.perf_counter() - started) * 1000
        floor[lookup.kind].append(ref_ms)

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
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threshold", type=int, default=90)
    parser.add_argument("--refill", action="store_true", help="erase and fill again even if already filled")
    args = parser.parse_args()

    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("the benchmark measures PostgreSQL: give a postgres:// URL")
    if "bench" not in urlsplit(args.database_url).path:
        parser.error("the database is erased and refilled: its name must contain 'bench'")
    ensure_database(args.database_url)
    setup_django(args.database_url)
    from django.db import connection

    with connection.cursor() as cursor:
        filled = already_filled(cursor, args.accounts, args.seed)
    if filled and not args.refill:
        print(f"database already holds the {args.accounts:,} accounts of seed {args.seed}; not filling")
    else:
        print(f"filling {args.accounts:,} accounts (seed {args.seed})")
        fill(args.accounts, args.seed)
        vacuum_analyze()
    lookups = workload(max(1, args.lookups // 6), args.seed, args.accounts)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(" on ")[0]
    print(f"\n{args.accounts:,} accounts, {len(lookups):,} lookups, threshold {args.threshold}, {version}\n")
    run(lookups, args.threshold)


if __name__ == "__main__":
    main()

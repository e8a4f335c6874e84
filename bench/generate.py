"""A realistic book in PostgreSQL at a chosen scale, by COPY, reproducible from a seed.

    python -m bench.generate --accounts 1000000 --seed 1
    python -m bench.generate --accounts 10000 --database-url postgres://postgres@127.0.0.1:5432/lo_bench_10k_book

What it writes (N accounts):

- 500 reps through `import_reps` (RevOps, 25 managers, 400 sellers, account managers,
  customer success; a few out of office) and a published rule set of 100 territories
  through `import_rule_set` + `publish_rule_set` (25 regions, each with three industry
  children; round robin, load balanced and claim queues);
- N accounts by COPY: names from word lists and syllables with legal forms of many
  countries, 1-3 domains, aliases, subsidiaries up to 3 levels below their group (on
  sub-domains of the group's domain), HQ in one of the regions, industry, size,
  customers and named accounts;
- owners: a SALES owner (a member of the account's territory) for about half of them, an
  ACCOUNT_MANAGER for customers, a few CUSTOMER_SUCCESS, each with its history row; open
  and won opportunities;
- N/4 leads of the last 60 days (from account domains, free mail, unknown companies),
  most owned with their history, and activity on leads and accounts (calls, emails,
  meetings), so forfeits, engagement and the hierarchy have something to find.

Plain indexes are dropped during the load and rebuilt after it (one sort each), then
VACUUM ANALYZE. A table `bench_book` records the scale, the seed and the generator's
version: a database that already holds the same book is not filled again. The database
is erased when it holds anything else, so its name must contain "bench".
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Bump when the generated book changes: a database holding an older one is refilled.
GENERATOR_VERSION = 4  # 4: leads' first_assigned_at (routing 0008)
SCALES = {"10k": 10_000, "100k": 100_000, "400k": 400_000, "1m": 1_000_000}  # 400k: 100,000 leads (console)
DEFAULT_SEED = 1
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"


def scale_label(accounts: int) -> str:
    for label, count in SCALES.items():
        if count == accounts:
            return label
    return str(accounts)


def book_url(accounts: int, server: str = DEFAULT_SERVER) -> str:
    """Where the book of this scale is kept (a template the runs clone)."""
    return f"{server.rstrip('/')}/lo_bench_{scale_label(accounts)}_book"


# ---------------------------------------------------------------------------- words


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
FIRST_NAMES = words(
    "Ada Ben Chloe Diego Elena Farah George Hana Ines Jon Kai Lena Maya Noa Oliver Priya Quinn Ravi Sara "
    "Tom Uma Victor Wen Xavier Yara Zoe Amir Bea Carl Dora Emil Fatima Hugo Ivy Jamal Kira Luis Mia Nils"
)
TITLES = ["CTO", "VP Engineering", "Head of Sales", "CFO", "Procurement Manager", "IT Director", "Founder", ""]
REGIONS = words("Europe Asia Americas EMEA APAC UK Germany France Japan Nordics Iberia Benelux Canada Brasil")
LEGAL = [
    *["Inc.", "Inc", "Corp.", "Corporation", "LLC", "Ltd", "Ltd.", "Limited", "PLC", "Co.", "Pty Ltd"],
    *["GmbH", "AG", "GmbH & Co. KG", "S.A.", "SAS", "SARL", "S.p.A.", "S.r.l.", "S.L.", "B.V.", "N.V."],
    *["AB", "Oy", "Oyj", "A/S", "ASA", "K.K.", "Co., Ltd.", "Sp. z o.o.", "s.r.o.", "Ltda.", "S.A. de C.V."],
]
TLDS = ["com"] * 12 + ["de", "co.uk", "fr", "io", "net", "co.jp", "com.br", "it", "se", "nl"]
FREE_MAIL = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "gmx.de"]
INDUSTRY_GROUPS = [
    ("Financial Services", ("Financial Services", "Insurance", "Banking")),
    ("Technology", ("Technology", "Software", "Telecommunications")),
    ("Healthcare", ("Healthcare", "Pharmaceuticals", "Biotechnology")),
]
OTHER_INDUSTRIES = ("Manufacturing", "Retail", "Energy", "Media", "Logistics", "Education")
INDUSTRIES = [i for _label, group in INDUSTRY_GROUPS for i in group] + list(OTHER_INDUSTRIES)


@dataclass(frozen=True)
class Region:
    """A base territory: a country (and a US state), with two cities (subdivision, city, postal code)."""

    name: str
    country: str
    subdivision: str
    cities: tuple[tuple[str, str], ...]  # (city, postal code)


REGIONS_MAP = [
    Region("US New York", "US", "US-NY", (("New York", "10017"), ("Buffalo", "14202"))),
    Region("US California", "US", "US-CA", (("San Francisco", "94105"), ("Los Angeles", "90012"))),
    Region("US Texas", "US", "US-TX", (("Austin", "78701"), ("Houston", "77002"))),
    Region("US Massachusetts", "US", "US-MA", (("Boston", "02110"), ("Cambridge", "02139"))),
    Region("US Washington", "US", "US-WA", (("Seattle", "98101"), ("Redmond", "98052"))),
    Region("US Illinois", "US", "US-IL", (("Chicago", "60601"), ("Naperville", "60540"))),
    Region("US Florida", "US", "US-FL", (("Miami", "33131"), ("Orlando", "32801"))),
    Region("US Georgia", "US", "US-GA", (("Atlanta", "30303"), ("Savannah", "31401"))),
    Region("US Colorado", "US", "US-CO", (("Denver", "80202"), ("Boulder", "80302"))),
    Region("US Pennsylvania", "US", "US-PA", (("Philadelphia", "19103"), ("Pittsburgh", "15222"))),
    Region("US New Jersey", "US", "US-NJ", (("Newark", "07102"), ("Princeton", "08540"))),
    Region("US Ohio", "US", "US-OH", (("Columbus", "43215"), ("Cincinnati", "45202"))),
    Region("US North Carolina", "US", "US-NC", (("Raleigh", "27601"), ("Charlotte", "28202"))),
    Region("United Kingdom", "GB", "", (("London", "EC1A"), ("Manchester", "M1"))),
    Region("Germany", "DE", "", (("Berlin", "10115"), ("Munich", "80331"))),
    Region("France", "FR", "", (("Paris", "75001"), ("Lyon", "69001"))),
    Region("Netherlands", "NL", "", (("Amsterdam", "1012"), ("Rotterdam", "3011"))),
    Region("Spain", "ES", "", (("Madrid", "28001"), ("Barcelona", "08001"))),
    Region("Italy", "IT", "", (("Milan", "20121"), ("Rome", "00184"))),
    Region("Sweden", "SE", "", (("Stockholm", "111 20"), ("Gothenburg", "411 03"))),
    Region("Japan", "JP", "", (("Tokyo", "100-0001"), ("Osaka", "530-0001"))),
    Region("Australia", "AU", "", (("Sydney", "2000"), ("Melbourne", "3000"))),
    Region("Canada", "CA", "", (("Toronto", "M5V"), ("Vancouver", "V6B"))),
    Region("Brazil", "BR", "", (("Sao Paulo", "01000"), ("Rio de Janeiro", "20000"))),
    Region("India", "IN", "", (("Bengaluru", "560001"), ("Mumbai", "400001"))),
]
# Accounts outside every territory: routed leads from there wait unassigned.
OUTSIDE = Region("Elsewhere", "MX", "", (("Mexico City", "01000"), ("Monterrey", "64000")))
SELLERS_PER_TERRITORY = 4
ACCOUNT_MANAGERS_PER_REGION = 2
REP_CAPACITY = 5000


# ---------------------------------------------------------------------------- accounts


@dataclass
class Row:
    """One generated account."""

    id: int
    name: str
    normalized: str
    parent_id: int | None
    domains: list[str]
    aliases: list[str]
    region: int = 0  # index into REGIONS_MAP, or -1: OUTSIDE
    city: int = 0
    industry: str = ""
    employees: int | None = None
    revenue: int | None = None
    customer: bool = False
    named: bool = False
    depth: int = 0


def brand(rng: random.Random) -> str:
    syllables = rng.choice([2, 2, 2, 3])
    word = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables))
    return word.capitalize()


def company_name(rng: random.Random) -> tuple[str, str]:
    """(display name without legal form, slug for its domain)."""
    pattern = rng.random()
    if pattern < 0.35:
        parts = [brand(rng), rng.choice(INDUSTRY_WORDS)]
    elif pattern < 0.55:
        parts = [brand(rng)]
    elif pattern < 0.70:
        parts = [rng.choice(SURNAMES), rng.choice(["&", "and"]), rng.choice(SURNAMES)]
        if rng.random() < 0.5:
            parts.append(rng.choice(INDUSTRY_WORDS))
    elif pattern < 0.85:
        parts = [rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(INDUSTRY_WORDS)]
    else:
        parts = [brand(rng), rng.choice(NOUNS), rng.choice(INDUSTRY_WORDS)]
    name = " ".join(parts)
    slug = "".join(w for w in parts if w.isalnum()).lower()
    return name, slug


def acronym(name: str) -> str:
    letters = [w[0] for w in name.split() if w[0].isalpha() and w.lower() != "and"]
    return "".join(letters).upper()


def _remember(pool: list[tuple[int, str, int]], item: tuple[int, str, int], rng: random.Random) -> None:
    """Keep a bounded sample of earlier accounts to pick parents from."""
    if len(pool) < 50_000:
        pool.append(item)
    else:
        pool[rng.randrange(len(pool))] = item


def generate(count: int, seed: int) -> Iterator[Row]:
    """N accounts, the same for the same seed. ~6% subsidiaries, down to 3 levels below their group."""
    from routing.normalize import normalize_company

    rng = random.Random(seed)
    used_domains: set[str] = set()
    # (id, first domain, region) of earlier accounts by depth: 0 groups, 1 and 2 subsidiaries.
    pools: list[list[tuple[int, str, int]]] = [[], [], []]
    for pk in range(1, count + 1):
        base, slug = company_name(rng)
        parent_id = None
        depth = 0
        domains: list[str] = []
        aliases: list[str] = []
        region = rng.randrange(len(REGIONS_MAP)) if rng.random() < 0.97 else -1
        if pools[0] and rng.random() < 0.06:  # a subsidiary: "<name> <Region>" on a sub-domain of its parent
            level = 0 if rng.random() < 0.7 or not pools[1] else (1 if rng.random() < 0.7 or not pools[2] else 2)
            parent_id, parent_domain, _parent_region = rng.choice(pools[level])
            depth = level + 1
            region_word = rng.choice(REGIONS)
            base = f"{base} {region_word}"
            sub = (
                f"{region_word.lower()}{pk}.{parent_domain}" if depth > 1 else f"{region_word.lower()}.{parent_domain}"
            )
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
        if depth < 3:
            _remember(pools[depth], (pk, domains[0], region), rng)
        employees = int(rng.lognormvariate(4.5, 1.6)) + 1
        yield Row(
            pk,
            name,
            normalize_company(name),
            parent_id,
            domains,
            list(dict.fromkeys(aliases)),
            region=region,
            city=rng.randrange(2),
            industry=rng.choice(INDUSTRIES) if rng.random() < 0.9 else "",
            employees=employees if rng.random() < 0.85 else None,
            revenue=employees * rng.randrange(50_000, 400_000) if rng.random() < 0.6 else None,
            customer=rng.random() < 0.2,
            named=rng.random() < 0.02,
            depth=depth,
        )


# ---------------------------------------------------------------------------- reps and territories


@dataclass
class Roster:
    """Rep emails by job: sellers per territory name, account managers per region."""

    revops: str = "revops@bench.example.com"
    managers: list[str] = field(default_factory=list)
    sellers: dict[str, list[str]] = field(default_factory=dict)
    account_managers: dict[int, list[str]] = field(default_factory=dict)
    success: list[str] = field(default_factory=list)


def territory_names(region: Region) -> list[str]:
    return [region.name] + [f"{region.name} {label}" for label, _group in INDUSTRY_GROUPS]


def territory_of(row_region: int, industry: str) -> str | None:
    """The territory the published map routes an account of this region and industry to."""
    if row_region < 0:
        return None
    region = REGIONS_MAP[row_region]
    for label, group in INDUSTRY_GROUPS:
        if industry in group:
            return f"{region.name} {label}"
    return region.name


def roster() -> Roster:
    r = Roster()
    seller = 0
    for i, region in enumerate(REGIONS_MAP):
        r.managers.append(f"manager{i}@bench.example.com")
        for name in territory_names(region):
            r.sellers[name] = [f"seller{seller + k}@bench.example.com" for k in range(SELLERS_PER_TERRITORY)]
            seller += SELLERS_PER_TERRITORY
        r.account_managers[i] = [
            f"am{i * ACCOUNT_MANAGERS_PER_REGION + k}@bench.example.com" for k in range(ACCOUNT_MANAGERS_PER_REGION)
        ]
    total = 1 + len(r.managers) + seller + sum(len(v) for v in r.account_managers.values())
    r.success = [f"cs{k}@bench.example.com" for k in range(500 - total)]
    return r


def reps_csv(r: Roster, rng: random.Random) -> str:
    lines = ["email,name,role,manager_email,capacity,status,territories"]
    lines.append(f"{r.revops},Rita RevOps,REVOPS,,,ACTIVE,")
    for i, region in enumerate(REGIONS_MAP):
        manager = r.managers[i]
        lines.append(f"{manager},{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)},MANAGER,{r.revops},,ACTIVE,")
        for name in territory_names(region):
            for k, email in enumerate(r.sellers[name]):
                role = "SDR" if k == SELLERS_PER_TERRITORY - 1 else "AE"
                status = "OUT_OF_OFFICE" if rng.random() < 0.02 else "ACTIVE"
                person = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
                lines.append(f'{email},{person},{role},{manager},{REP_CAPACITY},{status},"{name}"')
        for email in r.account_managers[i]:
            person = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
            lines.append(f'{email},{person},ACCOUNT_MANAGER,{manager},{REP_CAPACITY},ACTIVE,"{region.name}"')
    for k, email in enumerate(r.success):
        manager = r.managers[k % len(r.managers)]
        lines.append(f"{email},{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)},CUSTOMER_SUCCESS,{manager},,ACTIVE,")
    return "\n".join(lines) + "\n"


def territories_yaml(r: Roster) -> str:
    import yaml

    territories: list[dict[str, Any]] = []
    for i, region in enumerate(REGIONS_MAP):
        match: dict[str, Any] = {"countries": [region.country]}
        if region.subdivision:
            match["subdivisions"] = [region.subdivision]
        territories.append(
            {
                "name": region.name,
                "distribution": "round_robin",
                "members": r.sellers[region.name],
                "match": match,
            }
        )
        for k, (label, group) in enumerate(INDUSTRY_GROUPS):
            name = f"{region.name} {label}"
            distribution = ["round_robin", "load_balanced", "round_robin"][k]
            if k == 2 and i % 5 == 4:
                distribution = "claim_queue"
            territories.append(
                {
                    "name": name,
                    "parent": region.name,
                    "distribution": distribution,
                    "members": r.sellers[name],
                    "match": {"industries": list(group)},
                }
            )
    document = {"calendar": "US", "territories": territories}
    return yaml.safe_dump(document, sort_keys=False)


# ---------------------------------------------------------------------------- database


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}", flush=True)


def clone_database(source_url: str, target_url: str) -> float:
    """Drop the target and create it as a file copy of the source (a template): seconds taken."""
    import psycopg

    source = urlsplit(source_url).path.lstrip("/")
    target = urlsplit(target_url).path.lstrip("/")
    if "bench" not in target:
        raise SystemExit(f"refusing to overwrite {target}: a bench database's name contains 'bench'")
    admin = urlunsplit(urlsplit(target_url)._replace(path="/postgres"))
    started = time.perf_counter()
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in (source, target):
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
        conn.execute(f'DROP DATABASE IF EXISTS "{target}"')
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}" STRATEGY FILE_COPY')
    return time.perf_counter() - started


def setup_django(url: str, *, migrate: bool = True) -> bool:
    """Django on the database at `url`, migrated unless told not to; True when a migration ran."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadowner.settings")
    os.environ.setdefault("DEBUG", "0")  # DEBUG would record every query in memory
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    if not migrate:
        return False
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    call_command("migrate", verbosity=0, skip_checks=True)
    return bool(pending)


MARKER_TABLE = "bench_book"


def book_marker(cursor: Any) -> tuple[int, int, int] | None:
    """(accounts, seed, generator version) of the book in this database, or None."""
    cursor.execute("SELECT to_regclass(%s)", [MARKER_TABLE])
    if cursor.fetchone()[0] is None:
        return None
    cursor.execute(f"SELECT accounts, seed, version FROM {MARKER_TABLE}")  # noqa: S608
    row = cursor.fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row else None


def already_filled(cursor: Any, count: int, seed: int) -> bool:
    return book_marker(cursor) == (count, seed, GENERATOR_VERSION)


BOOK_TABLES = [
    "routing_account",
    "routing_accountdomain",
    "routing_accountalias",
    "routing_opportunity",
    "routing_lead",
    "routing_ownership",
    "routing_ownershipchange",
    "routing_activity",
]


def _plain_indexes(cursor: Any, tables: list[str]) -> list[tuple[str, str]]:
    """(name, definition) of the indexes that back no constraint: rebuilt after the load."""
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
        [tables],
    )
    return list(cursor.fetchall())


def _ts(moment: datetime) -> str:
    return moment.isoformat()


@dataclass
class Counts:
    accounts: int = 0
    subsidiaries: int = 0
    domains: int = 0
    aliases: int = 0
    opportunities: int = 0
    leads: int = 0
    ownerships: int = 0
    history: int = 0
    activities: int = 0

    def __str__(self) -> str:
        return ", ".join(f"{v:,} {k}" for k, v in vars(self).items())


def _person_email(rng: random.Random, domain: str, n: int) -> tuple[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
    return f"{first.lower()}.{last.lower()}{n}@{domain}", f"{first} {last}"


def fill(count: int, seed: int, *, now: datetime | None = None) -> Counts:
    """Erase the book tables and fill them: reps and territories through the services, the rest by COPY."""
    from django.db import connection, transaction
    from django.utils import timezone

    from routing.models import DecisionStep, OwnerRole
    from territories.models import Rep
    from territories.services import import_reps, import_rule_set, publish_rule_set

    now = now or timezone.now().replace(minute=0, second=0, microsecond=0)
    rng = random.Random(seed * 7919 + 17)
    started = time.perf_counter()
    counts = Counts()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {MARKER_TABLE}")
        cursor.execute(
            "TRUNCATE routing_account, routing_lead, territories_rep, territories_ruleset, "
            "territories_distributioncounter RESTART IDENTITY CASCADE"
        )
    r = roster()
    import_reps(reps_csv(r, rng), actor="bench", now=now)
    rule_set = import_rule_set(territories_yaml(r), actor="bench", now=now)
    rule_set = publish_rule_set(version=rule_set.version, actor="bench", now=now)
    version = rule_set.version
    rep_ids = dict(Rep.objects.values_list("email", "id"))
    sellers = {name: [rep_ids[e] for e in emails] for name, emails in r.sellers.items()}
    account_managers = {i: [rep_ids[e] for e in emails] for i, emails in r.account_managers.items()}
    success = [rep_ids[e] for e in r.success]
    print(f"  500 reps, 100 territories (rule set v{version}) ({time.perf_counter() - started:.0f} s)", flush=True)

    with connection.cursor() as cursor:
        indexes = _plain_indexes(cursor, BOOK_TABLES)
    with transaction.atomic(), connection.cursor() as cursor:
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper, for COPY
        at_now = _ts(now)
        accounts: list[Row] = []
        ownership_rows: list[tuple[Any, ...]] = []
        history_rows: list[tuple[Any, ...]] = []
        activity_rows: list[tuple[Any, ...]] = []
        sales_owner: dict[int, int] = {}

        def own(
            account_id: int | None, lead_id: int | None, role: str, rep: int, step: str, since: datetime, why: str
        ) -> None:
            ownership_rows.append((account_id, lead_id, role, rep, None, step, _ts(since), None, None, version))
            history_rows.append(
                (_ts(since), account_id, lead_id, role, None, rep, None, None, step, why, "bench", version)
            )

        with raw.copy(
            "COPY routing_account (id, name, normalized_name, parent_id, country, subdivision, city, postal_code, "
            "industry, employees, annual_revenue, type, named_account, origin, created_at, updated_at) FROM STDIN"
        ) as copy:
            for row in generate(count, seed):
                region = REGIONS_MAP[row.region] if row.region >= 0 else OUTSIDE
                city, postal = region.cities[row.city]
                created = _ts(now - timedelta(days=rng.randrange(30, 1500)))
                copy.write_row(
                    (
                        row.id,
                        row.name,
                        row.normalized,
                        row.parent_id,
                        region.country,
                        region.subdivision,
                        city,
                        postal,
                        row.industry,
                        row.employees,
                        row.revenue,
                        "CUSTOMER" if row.customer else "PROSPECT",
                        row.named,
                        "IMPORT",
                        created,
                        created,
                    )
                )
                accounts.append(Row(row.id, "", row.normalized, row.parent_id, row.domains, row.aliases, row.region))
                accounts[-1].industry, accounts[-1].customer = row.industry, row.customer
                counts.accounts += 1
                counts.subsidiaries += row.parent_id is not None
                territory = territory_of(row.region, row.industry)
                since = now - timedelta(days=rng.randrange(1, 700), minutes=rng.randrange(1440))
                if territory is not None and (row.named or row.customer or rng.random() < 0.45):
                    rep = rng.choice(sellers[territory])
                    sales_owner[row.id] = rep
                    step = DecisionStep.NAMED_ACCOUNT if row.named else DecisionStep.TERRITORY
                    own(row.id, None, OwnerRole.SALES, rep, step, since, f"territory '{territory}' (bench book)")
                if row.customer and row.region >= 0:
                    am = rng.choice(account_managers[row.region])
                    own(row.id, None, OwnerRole.ACCOUNT_MANAGER, am, DecisionStep.CUSTOMER_OWNER, since, "customer")
                    if rng.random() < 0.25:
                        cs = rng.choice(success)
                        own(row.id, None, OwnerRole.CUSTOMER_SUCCESS, cs, DecisionStep.MANUAL, since, "onboarding")
                if row.id in sales_owner and rng.random() < 0.12:
                    at = now - timedelta(days=rng.randrange(0, 200), minutes=rng.randrange(1440))
                    kind = rng.choice(["CALL", "EMAIL", "MEETING"])
                    activity_rows.append((sales_owner[row.id], None, row.id, kind, _ts(at), "", _ts(at)))
                if row.id % 200_000 == 0:
                    print(f"  generated {row.id:,} accounts ({time.perf_counter() - started:.0f} s)", flush=True)
        with raw.copy("COPY routing_accountdomain (account_id, domain, position) FROM STDIN") as copy:
            for row in accounts:
                for i, domain in enumerate(row.domains):
                    copy.write_row((row.id, domain, i))
                    counts.domains += 1
        with raw.copy("COPY routing_accountalias (account_id, alias, normalized_alias, position) FROM STDIN") as copy:
            from routing.normalize import normalize_company

            for row in accounts:
                seen: set[str] = set()
                for i, alias in enumerate(row.aliases):
                    normalized = normalize_company(alias)
                    if normalized and normalized not in seen:
                        seen.add(normalized)
                        copy.write_row((row.id, alias, normalized, i))
                        counts.aliases += 1
        with raw.copy(
            "COPY routing_opportunity (account_id, name, owner_id, status, amount, created_at, closed_at) FROM STDIN"
        ) as copy:
            for owned_id, rep in sales_owner.items():
                odds = rng.random()
                if odds < 0.05:
                    opened = now - timedelta(days=rng.randrange(1, 300))
                    status, closed = ("OPEN", None) if odds < 0.03 else ("WON", _ts(opened + timedelta(days=30)))
                    amount = f"{rng.randrange(5_000, 500_000)}.00"
                    copy.write_row((owned_id, f"Deal {owned_id}", rep, status, amount, _ts(opened), closed))
                    counts.opportunities += 1
        print(f"  accounts copied ({time.perf_counter() - started:.0f} s)", flush=True)

        lead_count = max(1, count // 4)
        with raw.copy(
            "COPY routing_lead (id, email, email_domain, name, title, company, normalized_company, country, "
            "subdivision, city, postal_code, industry, employees, source, product_interest, requested_rep_email, "
            "account_id, stage, stage_before_pause, received_at, assigned_at, first_assigned_at, first_touch_at, "
            "last_activity_at, decision, created_at) FROM STDIN"
        ) as copy:
            for lead_id in range(1, lead_count + 1):
                account = accounts[rng.randrange(len(accounts))]
                pick = rng.random()
                if pick < 0.65:  # from the account's own domain
                    domain = account.domains[-1]
                    company, normalized = account.normalized.title(), account.normalized
                    account_id: int | None = account.id
                elif pick < 0.9:  # free mail, the company typed by hand
                    domain = rng.choice(FREE_MAIL)
                    company, normalized = account.normalized.title(), account.normalized
                    account_id = account.id
                else:  # nobody we know
                    made_up, slug = company_name(rng)
                    domain = f"{slug}-{lead_id}.example"
                    company, normalized, account_id = made_up, made_up.lower(), None
                email, person = _person_email(rng, domain, lead_id)
                region = REGIONS_MAP[account.region] if account.region >= 0 else OUTSIDE
                city, postal = region.cities[rng.randrange(2)]
                received = now - timedelta(minutes=rng.randrange(60 * 24 * 60))
                territory = territory_of(account.region, account.industry)
                assigned: datetime | None = None
                first_touch: datetime | None = None
                last_activity: datetime | None = None
                stage = "NEW"
                if territory is not None and rng.random() < 0.85:
                    rep = rng.choice(sellers[territory])
                    assigned = received + timedelta(minutes=rng.randrange(1, 30))
                    own(None, lead_id, OwnerRole.SALES, rep, DecisionStep.TERRITORY, assigned, f"'{territory}'")
                    for _ in range(rng.choice([0, 0, 1, 1, 2])):
                        at = assigned + timedelta(hours=rng.randrange(1, 24 * 20))
                        if at >= now:
                            continue
                        kind_of = rng.choice(["CALL", "EMAIL", "MEETING", "NOTE"])
                        activity_rows.append((rep, lead_id, account_id, kind_of, _ts(at), "", _ts(at)))
                        if kind_of != "NOTE":
                            first_touch = min(first_touch or at, at)
                            last_activity = max(last_activity or at, at)
                            stage = "WORKING"
                copy.write_row(
                    (
                        lead_id,
                        email,
                        domain,
                        person,
                        rng.choice(TITLES),
                        company,
                        normalized,
                        region.country,
                        region.subdivision,
                        city,
                        postal,
                        account.industry,
                        None,
                        rng.choice(["INBOUND", "INBOUND", "WEB", "EVENT"]),
                        "",
                        "",
                        account_id,
                        stage,
                        "",
                        _ts(received),
                        _ts(assigned) if assigned else None,
                        _ts(assigned) if assigned else None,  # first_assigned_at: routed once, at arrival
                        _ts(first_touch) if first_touch else None,
                        _ts(last_activity) if last_activity else None,
                        None,
                        _ts(received),
                    )
                )
                counts.leads += 1
        with raw.copy(
            "COPY routing_ownership (account_id, lead_id, role, rep_id, partner_id, reason, since, expires_at, "
            "ended_at, rule_set_version) FROM STDIN"
        ) as copy:
            for ownership in ownership_rows:
                copy.write_row(ownership)
        with raw.copy(
            "COPY routing_ownershipchange (at, account_id, lead_id, role, from_rep_id, to_rep_id, from_partner_id, "
            "to_partner_id, step, reason, actor, rule_set_version) FROM STDIN"
        ) as copy:
            for change in history_rows:
                copy.write_row(change)
        with raw.copy(
            "COPY routing_activity (rep_id, lead_id, account_id, kind, occurred_at, note, created_at) FROM STDIN"
        ) as copy:
            for activity in activity_rows:
                copy.write_row(activity)
        counts.ownerships, counts.history, counts.activities = (
            len(ownership_rows),
            len(history_rows),
            len(activity_rows),
        )
        for rows in (accounts, ownership_rows, history_rows, activity_rows):
            rows.clear()  # type: ignore[attr-defined]
        print(f"  copied ({time.perf_counter() - started:.0f} s); rebuilding {len(indexes)} indexes", flush=True)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check the foreign keys now, before indexing
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        for _name, definition in indexes:
            cursor.execute(definition)
        for table in BOOK_TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            )
        cursor.execute(
            f"CREATE TABLE {MARKER_TABLE} (accounts integer, seed integer, version integer, "
            "book_now timestamptz, seconds double precision, counts text)"
        )
        cursor.execute(
            f"INSERT INTO {MARKER_TABLE} VALUES (%s, %s, %s, %s, %s, %s)",  # noqa: S608
            [count, seed, GENERATOR_VERSION, at_now, time.perf_counter() - started, str(counts)],
        )
    print(f"  filled in {time.perf_counter() - started:.0f} s: {counts}", flush=True)
    return counts


def vacuum_analyze(tables: list[str] | None = None) -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
        for table in tables or BOOK_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"  vacuum analyze: {time.perf_counter() - started:.1f} s", flush=True)


def ensure_book(url: str, accounts: int, seed: int, *, refill: bool = False) -> bool:
    """Fill the database at `url` with the book unless it holds it already; True when it filled."""
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the book lives in PostgreSQL: give a postgres:// URL")
    if "bench" not in urlsplit(url).path:
        raise SystemExit("the book's database is erased and refilled: its name must contain 'bench'")
    ensure_database(url)
    migrated = setup_django(url)
    from django.db import connection

    with connection.cursor() as cursor:
        filled = already_filled(cursor, accounts, seed)
    if filled and not refill:
        print(f"{urlsplit(url).path.lstrip('/')} already holds the book of {accounts:,} accounts, seed {seed}")
        if migrated:
            # A migration that rewrote rows (routing 0010 filled every lead owner's flag) leaves
            # their pages unmarked in the visibility map, and index-only scans then read the
            # table for every row (the open loads: 121,176 heap fetches, 84 ms): as after a fill.
            vacuum_analyze()
        return False
    print(f"filling {urlsplit(url).path.lstrip('/')}: {accounts:,} accounts, seed {seed}", flush=True)
    fill(accounts, seed)
    vacuum_analyze()
    connection.close()
    return True


def digest(accounts: int, seed: int) -> str:
    """A short name for a book (used in file names)."""
    return hashlib.blake2b(f"{accounts}:{seed}:{GENERATOR_VERSION}".encode(), digest_size=4).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000, help="10000, 100000, 1000000 or any count")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--database-url", help="postgres://...; default lo_bench_<scale>_book on the local server")
    parser.add_argument("--refill", action="store_true", help="erase and fill again even if already filled")
    args = parser.parse_args()
    started = time.perf_counter()
    ensure_book(args.database_url or book_url(args.accounts), args.accounts, args.seed, refill=args.refill)
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

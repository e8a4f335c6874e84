"""accounts.csv and opportunities.csv imports: all-or-nothing, every bad row reported, fast.

An accounts.csv of 100,000 rows must import in well under a minute, so the whole file
is checked in memory against a handful of batched lookups, then written in one
transaction with bulk inserts. Ownership from the owner columns is written here in
bulk rather than through routing.services.ownership.set_owner (one row at a time),
keeping the same guarantees: the old owner is ended with a conditional update (a row
someone else changed meanwhile makes the whole import fail with CONFLICT), the
partial unique index refuses a second current owner, and every change writes its
history row in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, TypeVar

from django.db import IntegrityError, transaction

from leadowner.bulk_sql import insert_rows
from leadowner.csvio import (
    CsvRow,
    ImportFailed,
    ImportReport,
    Progress,
    RowError,
    check_refused,
    collector_paused,
    read_csv,
    split_list,
)
from leadowner.errors import ErrorCode, ServiceError
from routing.models import (
    Account,
    AccountAlias,
    AccountDomain,
    AccountOrigin,
    AccountType,
    DecisionStep,
    Opportunity,
    OpportunityStatus,
    OwnerRole,
    Ownership,
    OwnershipChange,
)
from routing.normalize import is_free_mail, normalize_company, registered_domain, subdivision_code
from routing.selectors.exports import (
    ACCOUNTS_COLUMNS,
    ACCOUNTS_NUMERIC,
    OPPORTUNITIES_COLUMNS,
    OPPORTUNITIES_NUMERIC,
    OWNER_COLUMNS,
    rows_where_in,
)
from territories.models import Rep, RepStatus
from territories.services import iso_country

ACCOUNTS_ACTOR = "import: accounts.csv"
BATCH = 2000
LOOKUP_CHUNK = 5000
PROGRESS_EVERY = 1000
MAX_INT = 2_147_483_647
MAX_BIGINT = 9_223_372_036_854_775_807
# Why each owner column's owner owns: the step of the ownership hierarchy it stands for.
OWNER_REASONS: dict[str, str] = {
    OwnerRole.SALES: DecisionStep.NAMED_ACCOUNT,
    OwnerRole.ACCOUNT_MANAGER: DecisionStep.CUSTOMER_OWNER,
    OwnerRole.CUSTOMER_SUCCESS: DecisionStep.CUSTOMER_OWNER,
}
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0", ""}

_ACCOUNT_TYPES = tuple(AccountType.values)
_OPPORTUNITY_STATUSES = tuple(OpportunityStatus.values)

T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _tick(progress: Progress | None, phase: str, done: int, total: int) -> None:
    if progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
        progress(phase, done, total)


# --- cells ---------------------------------------------------------------------------------


def clean_domain(value: str) -> str:
    """A lower-cased company domain (`ibm.com`), or ValueError with the reason."""
    domain = value.strip().lower().rstrip(".")
    if not _DOMAIN.match(domain):
        raise ValueError(f"{value!r} is not a domain (write it as example.com)")
    if not registered_domain(domain):
        raise ValueError(f"{value!r} has no known public suffix")
    if is_free_mail(domain):
        raise ValueError(f"{domain} is a free-mail provider, not a company domain")
    return domain


def _text(value: str, max_length: int, *, required: bool = False) -> str:
    if required and not value:
        raise ValueError("is required")
    if len(value) > max_length:
        raise ValueError(f"is longer than {max_length} characters")
    return value


def whole_number(value: str, maximum: int) -> int | None:
    """A cell's whole number of 0 or more, None when empty, or ValueError with the reason."""
    if not value:
        return None
    if not value.isdigit() or not value.isascii():
        raise ValueError(f"{value!r} is not a whole number of 0 or more")
    number = int(value)
    if number > maximum:
        raise ValueError(f"{number} is too large")
    return number


def _email(value: str) -> str:
    email = value.lower()
    if email and ("@" not in email or len(email) > 254 or " " in email):
        raise ValueError(f"{value!r} is not an email address")
    return email


def _flag(value: str) -> bool:
    key = value.lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError(f"{value!r} must be true or false")


def choice_of(value: str, choices: Iterable[str], default: str) -> str:
    """A cell's choice (any case; empty: `default`), or ValueError listing the choices."""
    options = list(choices)
    key = value.upper()
    if not key:
        return default
    if key not in options:
        raise ValueError(f"{value!r} is not one of {', '.join(o.lower() for o in options)}")
    return key


@dataclass(slots=True)
class _AccountRow:
    line: int
    name: str
    domains: list[str]
    aliases: list[str]
    parent: str
    country: str
    subdivision: str
    city: str
    postal_code: str
    industry: str
    employees: int | None
    annual_revenue: int | None
    type: str
    named_account: bool
    owners: dict[str, str]  # role -> rep email
    account_id: int | None = None  # the existing account this row updates
    parent_row: int | None = None  # index of the parent row in this file
    parent_id: int | None = None  # the parent account already in the database


def _parse_account(row: CsvRow, errors: list[RowError]) -> _AccountRow | None:
    v = row.values
    problems: list[tuple[str, str]] = []

    def check(column: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(v[column], *args, **kwargs)
        except ValueError as exc:
            problems.append((column, str(exc)))
            return None

    name = check("name", _text, 300, required=True)
    domains: list[str] = []
    raw_domains = split_list(v["domains"])
    if not raw_domains:
        problems.append(("domains", "is required (the first domain is the account's key)"))
    for raw in raw_domains:
        try:
            domain = clean_domain(raw)
        except ValueError as exc:
            problems.append(("domains", str(exc)))
            continue
        if domain in domains:
            problems.append(("domains", f"{domain} is listed twice"))
        else:
            domains.append(domain)
    aliases: list[str] = []
    seen_aliases: dict[str, str] = {}
    for alias in split_list(v["aliases"]):
        if len(alias) > 300:
            problems.append(("aliases", f"{alias[:40]!r}… is longer than 300 characters"))
            continue
        normal = normalize_company(alias)
        if not normal:
            problems.append(("aliases", f"{alias!r} has no letters or digits"))
        elif normal in seen_aliases:
            problems.append(("aliases", f"{alias!r} is the same name as {seen_aliases[normal]!r}"))
        else:
            seen_aliases[normal] = alias
            aliases.append(alias)
    parent = ""
    if v["parent"]:
        try:
            parent = clean_domain(v["parent"])
        except ValueError as exc:
            problems.append(("parent", str(exc)))
        if parent and parent in domains:
            problems.append(("parent", "an account cannot be its own parent"))
    country = ""
    if v["country"]:
        country = iso_country(v["country"]) or ""
        if not country:
            problems.append(("country", f"unknown country {v['country']!r} (use an ISO 3166-1 code such as US)"))
    subdivision = ""
    if v["subdivision"]:
        subdivision = subdivision_code(v["subdivision"], country or None) or ""
        if not subdivision:
            problems.append(
                ("subdivision", f"unknown subdivision {v['subdivision']!r} (use an ISO 3166-2 code such as CA-QC)")
            )
        elif country and not subdivision.startswith(country + "-"):
            problems.append(("subdivision", f"{subdivision} is not in {country}"))
        elif not country:
            country = subdivision.split("-")[0]
    city = check("city", _text, 120)
    postal_code = check("postal_code", _text, 20)
    industry = check("industry", _text, 120)
    employees = check("employees", whole_number, MAX_INT)
    annual_revenue = check("annual_revenue", whole_number, MAX_BIGINT)
    account_type = check("type", choice_of, _ACCOUNT_TYPES, AccountType.PROSPECT)
    named = check("named_account", _flag)
    owners: dict[str, str] = {}
    for column, role in OWNER_COLUMNS.items():
        email = check(column, _email)
        if email:
            owners[role] = email
    if problems:
        errors.extend(RowError(row.line, column, message) for column, message in problems)
        return None
    return _AccountRow(
        line=row.line,
        name=name,
        domains=domains,
        aliases=aliases,
        parent=parent,
        country=country,
        subdivision=subdivision,
        city=city,
        postal_code=postal_code,
        industry=industry,
        employees=employees,
        annual_revenue=annual_revenue,
        type=account_type,
        named_account=named,
        owners=owners,
    )


# --- accounts.csv: checks across rows and against the database -------------------------------


def _domain_owners(domains: Iterable[str]) -> dict[str, int]:
    """domain -> account id, for the domains already registered."""
    rows = rows_where_in("routing_accountdomain", ("domain", "account_id"), "domain", set(domains))
    return {domain: account_id for domain, account_id in rows}


def _account_labels(ids: Iterable[int]) -> dict[int, str]:
    return {pk: name for pk, name in rows_where_in("routing_account", ("id", "name"), "id", set(ids))}


def _parent_loops(rows: list[_AccountRow], by_account: dict[int, int]) -> set[int]:
    """Indexes of rows whose parent chain (through the file and the database) loops."""
    # Nodes: ("f", row index) for rows of the file, ("d", account id) for other accounts.
    parent_of: dict[tuple[str, int], tuple[str, int] | None] = {}
    for i, r in enumerate(rows):
        if r.parent_row is not None:
            parent_of[("f", i)] = ("f", r.parent_row)
        elif r.parent_id is not None:
            parent_of[("f", i)] = ("f", by_account[r.parent_id]) if r.parent_id in by_account else ("d", r.parent_id)
        else:
            parent_of[("f", i)] = None
    frontier = {p[1] for p in parent_of.values() if p is not None and p[0] == "d"}
    while frontier:  # load the database part of the chains, level by level
        fetched = {pk: parent for pk, parent in rows_where_in("routing_account", ("id", "parent_id"), "id", frontier)}
        frontier = set()
        for account_id, parent_id in fetched.items():
            if parent_id is None:
                parent_of[("d", account_id)] = None
            elif parent_id in by_account:
                parent_of[("d", account_id)] = ("f", by_account[parent_id])
            else:
                parent_of[("d", account_id)] = ("d", parent_id)
                if ("d", parent_id) not in parent_of:
                    frontier.add(parent_id)
    looping: set[int] = set()
    settled: set[tuple[str, int]] = set()
    for start in list(parent_of):
        path: list[tuple[str, int]] = []
        where: dict[tuple[str, int], int] = {}
        node: tuple[str, int] | None = start
        while node is not None and node not in settled:
            if node in where:
                looping.update(n[1] for n in path[where[node] :] if n[0] == "f")
                break
            where[node] = len(path)
            path.append(node)
            node = parent_of.get(node)
        settled.update(path)
    return looping


def _check_accounts(
    table_rows: list[CsvRow], partial: list[CsvRow], errors: list[RowError], progress: Progress | None
) -> tuple[list[_AccountRow], dict[str, int]]:
    check_refused(partial, _parse_account, errors)
    rows: list[_AccountRow] = []
    refused = list(partial)
    total = len(table_rows)
    for done, csv_row in enumerate(table_rows, 1):
        parsed = _parse_account(csv_row, errors)
        if parsed is not None:
            rows.append(parsed)
        else:
            refused.append(csv_row)
        _tick(progress, "checking", done, total)

    # Domains in this file: each names exactly one row. A reference to a refused row
    # is not reported again: the row's own errors say what to fix.
    file_domains: dict[str, int] = {}
    bad_row_domains: set[str] = set()
    for csv_row in refused:
        for raw in split_list(csv_row.values.get("domains", "")):
            bad_row_domains.add(raw.lower().rstrip("."))
    for i, r in enumerate(rows):
        for domain in r.domains:
            if domain in file_domains:
                other = rows[file_domains[domain]]
                errors.append(RowError(r.line, "domains", f"{domain} is also on line {other.line}"))
            else:
                file_domains[domain] = i

    owners = _domain_owners([*file_domains, *(r.parent for r in rows if r.parent)])
    # The existing account each row updates: the one its first domain belongs to.
    by_account: dict[int, int] = {}
    for i, r in enumerate(rows):
        account_id = owners.get(r.domains[0])
        if account_id is None:
            continue
        if account_id in by_account:
            other = rows[by_account[account_id]]
            errors.append(
                RowError(
                    r.line,
                    "domains",
                    f"{r.domains[0]} is a domain of the same account as {other.domains[0]} on line {other.line}",
                )
            )
            continue
        by_account[account_id] = i
        r.account_id = account_id
    conflicts: list[tuple[int, str, int]] = []
    for i, r in enumerate(rows):
        for domain in r.domains:
            holder = owners.get(domain)
            if holder is not None and holder != r.account_id and holder not in by_account:
                conflicts.append((i, domain, holder))
    if conflicts:
        labels = _account_labels(h for _, _, h in conflicts)
        for i, domain, holder in conflicts:
            errors.append(
                RowError(rows[i].line, "domains", f"{domain} already belongs to another account ({labels[holder]})")
            )

    # Parents: another row of this file (any order), else an account in the database
    # whose domain this file does not take away.
    for r in rows:
        if not r.parent:
            continue
        if r.parent in file_domains:
            r.parent_row = file_domains[r.parent]
        elif r.parent in bad_row_domains:
            continue  # the parent's own row is refused; its errors say why
        elif r.parent in owners and owners[r.parent] not in by_account:
            r.parent_id = owners[r.parent]
        else:
            errors.append(RowError(r.line, "parent", f"no account has the domain {r.parent}"))
    for i in sorted(_parent_loops(rows, by_account)):
        errors.append(RowError(rows[i].line, "parent", f"parent chain loops back to {rows[i].domains[0]}"))

    # Owners: reps that exist and have not departed.
    emails = {email for r in rows for email in r.owners.values()}
    reps = {e: (pk, st) for e, pk, st in rows_where_in("territories_rep", ("email", "id", "status"), "email", emails)}
    columns: dict[str, str] = {role.value: column for column, role in OWNER_COLUMNS.items()}
    for r in rows:
        for role, email in r.owners.items():
            if email not in reps:
                errors.append(RowError(r.line, columns[role], f"{email} is not a rep"))
            elif reps[email][1] == RepStatus.DEPARTED:
                errors.append(RowError(r.line, columns[role], f"{email} has departed"))
    return rows, {email: pk for email, (pk, _) in reps.items()}


# --- accounts.csv: writing -------------------------------------------------------------------


_ACCOUNT_FIELDS = (
    "name",
    "normalized_name",
    "parent",
    "country",
    "subdivision",
    "city",
    "postal_code",
    "industry",
    "employees",
    "annual_revenue",
    "type",
    "named_account",
)


# The same fields by column name (attname), in _fields_of's order.
_ACCOUNT_COLUMNS = tuple("parent_id" if f == "parent" else f for f in _ACCOUNT_FIELDS)


def _fields_of(r: _AccountRow, parent_id: int | None, normalized_name: str) -> dict[str, Any]:
    return {
        "name": r.name,
        "normalized_name": normalized_name,
        "parent_id": parent_id,
        "country": r.country,
        "subdivision": r.subdivision,
        "city": r.city,
        "postal_code": r.postal_code,
        "industry": r.industry,
        "employees": r.employees,
        "annual_revenue": r.annual_revenue,
        "type": r.type,
        "named_account": r.named_account,
    }


def _depths(rows: list[_AccountRow], new: list[int]) -> list[list[int]]:
    """New rows in levels: a row's parent (if it is a new row too) is in an earlier level."""
    depth: dict[int, int] = {}

    def depth_of(i: int) -> int:
        chain = []
        node: int | None = i
        while node is not None and node not in depth:
            chain.append(node)
            parent = rows[node].parent_row
            node = parent if parent is not None and rows[parent].account_id is None else None
        level = depth[node] + 1 if node is not None else 0
        for n in reversed(chain):
            depth[n] = level
            level += 1
        return depth[i]

    levels: dict[int, list[int]] = {}
    for i in new:
        levels.setdefault(depth_of(i), []).append(i)
    return [levels[k] for k in sorted(levels)]


class _Owner(NamedTuple):
    pk: int
    rep_id: int | None
    partner_id: int | None


def _existing_state(
    ids: list[int],
) -> tuple[dict[int, tuple[Any, ...]], dict[int, list[str]], dict[int, list[str]], dict[tuple[int, str], _Owner]]:
    """What the database holds for the accounts a file updates: fields (in _ACCOUNT_COLUMNS
    order), domains and aliases in order, and current owners in the owner-column roles."""
    fields = {row[0]: row[1:] for row in rows_where_in("routing_account", ("id", *_ACCOUNT_COLUMNS), "id", ids)}
    domains: dict[int, list[str]] = {}
    for account_id, domain in rows_where_in(
        "routing_accountdomain", ("account_id", "domain"), "account_id", ids, order_by=("account_id", "position", "id")
    ):
        domains.setdefault(account_id, []).append(domain)
    aliases: dict[int, list[str]] = {}
    for account_id, alias in rows_where_in(
        "routing_accountalias", ("account_id", "alias"), "account_id", ids, order_by=("account_id", "position", "id")
    ):
        aliases.setdefault(account_id, []).append(alias)
    roles = ", ".join(f"'{role.value}'" for role in OWNER_COLUMNS.values())
    current = {
        (account_id, role): _Owner(pk, rep_id, partner_id)
        for pk, account_id, role, rep_id, partner_id in rows_where_in(
            "routing_ownership",
            ("id", "account_id", "role", "rep_id", "partner_id"),
            "account_id",
            ids,
            where=f"ended_at IS NULL AND role IN ({roles})",
        )
    }
    return fields, domains, aliases, current


def _write_accounts(
    rows: list[_AccountRow], reps: dict[str, int], *, actor: str, now: datetime, progress: Progress | None
) -> ImportReport:
    report = ImportReport()
    new = [i for i, r in enumerate(rows) if r.account_id is None]
    existing_ids = [r.account_id for r in rows if r.account_id is not None]
    stored, old_domains, old_aliases, current = _existing_state(existing_ids)
    ids: dict[int, int] = {i: r.account_id for i, r in enumerate(rows) if r.account_id is not None}
    total = len(rows)
    written = 0

    # New accounts, parents before their subsidiaries, so parent_id is set on insert.
    for level in _depths(rows, new):
        for chunk in _chunks(level, BATCH):
            values = []
            for i in chunk:
                r = rows[i]
                parent_id = ids[r.parent_row] if r.parent_row is not None else r.parent_id
                fields = _fields_of(r, parent_id, normalize_company(r.name))
                values.append((*fields.values(), AccountOrigin.IMPORT, now, now))
            insert_columns = [*_ACCOUNT_COLUMNS, "origin", "created_at", "updated_at"]
            new_ids = insert_rows(Account, insert_columns, values, returning_ids=True)
            ids.update(zip(chunk, new_ids, strict=True))
            written += len(chunk)
            _tick(progress, "writing", written, total)
    report.created = len(new)

    # Existing accounts: update what differs.
    changed_accounts: list[Account] = []
    replace_domains: list[int] = []
    replace_aliases: list[int] = []
    changed_rows: set[int] = set()
    for i, r in enumerate(rows):
        if r.account_id is None:
            continue
        before = dict(zip(_ACCOUNT_COLUMNS, stored[r.account_id], strict=True))
        parent_id = ids[r.parent_row] if r.parent_row is not None else r.parent_id
        normalized = before["normalized_name"] if before["name"] == r.name else normalize_company(r.name)
        wanted = _fields_of(r, parent_id, normalized)
        if any(before[k] != val for k, val in wanted.items()):
            changed_accounts.append(Account(pk=r.account_id, **wanted, updated_at=now))
            changed_rows.add(i)
        if old_domains.get(r.account_id, []) != r.domains:
            replace_domains.append(i)
            changed_rows.add(i)
        if old_aliases.get(r.account_id, []) != r.aliases:
            replace_aliases.append(i)
            changed_rows.add(i)
    for batch in _chunks(changed_accounts, BATCH):
        Account.objects.bulk_update(batch, [*_ACCOUNT_FIELDS, "updated_at"])

    # Domains and aliases: replaced whole for changed accounts (deletes first, so a
    # domain can move between two accounts of the same file).
    for chunk in _chunks([ids[i] for i in replace_domains], LOOKUP_CHUNK):
        AccountDomain.objects.filter(account_id__in=chunk).delete()
    for chunk in _chunks([ids[i] for i in replace_aliases], LOOKUP_CHUNK):
        AccountAlias.objects.filter(account_id__in=chunk).delete()
    insert_rows(
        AccountDomain,
        ["account_id", "domain", "position"],
        [(ids[i], d, p) for i in [*new, *replace_domains] for p, d in enumerate(rows[i].domains)],
    )
    insert_rows(
        AccountAlias,
        ["account_id", "alias", "normalized_alias", "position"],
        [(ids[i], a, normalize_company(a), p) for i in [*new, *replace_aliases] for p, a in enumerate(rows[i].aliases)],
    )

    # Owners: a new current Ownership and a history row for every owner that changes.
    to_end: list[_Owner] = []
    ownerships: list[tuple[Any, ...]] = []
    history: list[tuple[Any, ...]] = []
    columns: dict[str, str] = {role.value: column for column, role in OWNER_COLUMNS.items()}
    for i, r in enumerate(rows):
        account_id = ids[i]
        for role, email in r.owners.items():
            rep_id = reps[email]
            owner = current.get((account_id, role)) if r.account_id is not None else None
            if owner is not None and owner.rep_id == rep_id:
                continue
            if owner is not None:
                to_end.append(owner)
            step = OWNER_REASONS[role]
            ownerships.append((account_id, role, rep_id, step, now))
            history.append(
                (
                    now,
                    account_id,
                    role,
                    owner.rep_id if owner else None,
                    owner.partner_id if owner else None,
                    rep_id,
                    step,
                    f"{columns[role]} in accounts.csv, line {r.line}",
                    actor[:200],
                )
            )
            if r.account_id is not None:
                changed_rows.add(i)
    for ending in _chunks(to_end, LOOKUP_CHUNK):
        ended = Ownership.objects.filter(pk__in=[o.pk for o in ending], ended_at__isnull=True).update(ended_at=now)
        if ended != len(ending):
            raise ServiceError(ErrorCode.CONFLICT, "owners changed while the file was imported; import it again")
    try:
        with transaction.atomic():
            insert_rows(Ownership, ["account_id", "role", "rep_id", "reason", "since"], ownerships)
    except IntegrityError:
        raise ServiceError(
            ErrorCode.CONFLICT, "an account got an owner while the file was imported; import it again"
        ) from None
    insert_rows(
        OwnershipChange,
        ["at", "account_id", "role", "from_rep_id", "from_partner_id", "to_rep_id", "step", "reason", "actor"],
        history,
    )

    report.updated = len(changed_rows)
    report.unchanged = len(existing_ids) - report.updated
    if progress is not None:
        progress("writing", total, total)
    return report


def import_accounts(
    data: bytes | str,
    *,
    actor: str = ACCOUNTS_ACTOR,
    now: datetime,
    progress: Progress | None = None,
) -> ImportReport:
    """Import accounts.csv: upsert keyed by the first domain, all or nothing.

    Raises ImportFailed with every bad row (nothing written), or ServiceError(CONFLICT)
    when a concurrent change to the same accounts got in first.
    """
    with collector_paused():
        table = read_csv(data, columns=ACCOUNTS_COLUMNS, numeric=ACCOUNTS_NUMERIC)
        errors = list(table.errors)
        rows, reps = _check_accounts(table.rows, table.partial, errors, progress)
        if errors:
            raise ImportFailed(errors, filename="accounts.csv")
        try:
            with transaction.atomic():
                return _write_accounts(rows, reps, actor=actor, now=now, progress=progress)
        except IntegrityError as exc:
            # A concurrent import registered one of these domains first.
            raise ServiceError(ErrorCode.CONFLICT, f"accounts changed while the file was imported: {exc}") from None


# --- opportunities.csv -----------------------------------------------------------------------


@dataclass(slots=True)
class _OpportunityRow:
    line: int
    domain: str
    name: str
    owner: str
    status: str
    amount: Decimal | None
    created_at: datetime
    account_id: int = 0
    owner_id: int | None = None


def parse_time(value: str) -> datetime:
    """ISO 8601: `2025-03-01T09:30:00Z`, with an offset, or a date (midnight UTC). No offset means UTC."""
    if not value:
        raise ValueError("is required (ISO 8601, e.g. 2025-03-01T09:30:00Z)")
    try:
        if len(value) == 10:
            return datetime.combine(datetime.fromisoformat(value).date(), time(0), tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 time (e.g. 2025-03-01T09:30:00Z)") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _amount(value: str) -> Decimal | None:
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount (e.g. 12000.50)") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{value!r} must be 0 or more")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"{value!r} has more than 2 decimal places")
    if amount >= Decimal("1e12"):
        raise ValueError(f"{value!r} is too large")
    return amount


def _parse_opportunity(row: CsvRow, errors: list[RowError]) -> _OpportunityRow | None:
    v = row.values
    problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for column, fn in (
        ("account", clean_domain),
        ("name", lambda s: _text(s, 300, required=True)),
        ("owner", _email),
        ("status", lambda s: choice_of(s, _OPPORTUNITY_STATUSES, OpportunityStatus.OPEN)),
        ("amount", _amount),
        ("created_at", parse_time),
    ):
        try:
            values[column] = fn(v[column])
        except ValueError as exc:
            problems.append((column, str(exc)))
    if problems:
        errors.extend(RowError(row.line, c, m) for c, m in problems)
        return None
    return _OpportunityRow(
        line=row.line,
        domain=values["account"],
        name=values["name"],
        owner=values["owner"],
        status=values["status"],
        amount=values["amount"],
        created_at=values["created_at"],
    )


def import_opportunities(
    data: bytes | str, *, actor: str = "import: opportunities.csv", now: datetime, progress: Progress | None = None
) -> ImportReport:
    """Import opportunities.csv: upsert by (account, name), all or nothing."""
    table = read_csv(data, columns=OPPORTUNITIES_COLUMNS, numeric=OPPORTUNITIES_NUMERIC)
    errors = list(table.errors)
    check_refused(table.partial, _parse_opportunity, errors)
    rows: list[_OpportunityRow] = []
    total = len(table.rows)
    for done, csv_row in enumerate(table.rows, 1):
        parsed = _parse_opportunity(csv_row, errors)
        if parsed is not None:
            rows.append(parsed)
        _tick(progress, "checking", done, total)
    accounts = _domain_owners(r.domain for r in rows)
    emails = {r.owner for r in rows if r.owner}
    reps: dict[str, int] = {}
    for chunk in _chunks(sorted(emails), LOOKUP_CHUNK):
        reps.update(Rep.objects.filter(email__in=chunk).values_list("email", "id"))
    seen: dict[tuple[int, str], int] = {}
    good: list[_OpportunityRow] = []
    for r in rows:
        ok = True
        if r.domain not in accounts:
            errors.append(RowError(r.line, "account", f"no account has the domain {r.domain}"))
            ok = False
        else:
            r.account_id = accounts[r.domain]
            key = (r.account_id, r.name)
            if key in seen:
                errors.append(RowError(r.line, "name", f"{r.name!r} of this account is also on line {seen[key]}"))
                ok = False
            seen.setdefault(key, r.line)
        if r.owner:
            if r.owner not in reps:
                errors.append(RowError(r.line, "owner", f"{r.owner} is not a rep"))
                ok = False
            else:
                r.owner_id = reps[r.owner]
        if ok:
            good.append(r)
    existing: dict[tuple[int, str], list[Opportunity]] = {}
    for account_ids in _chunks(sorted({r.account_id for r in good}), LOOKUP_CHUNK):
        for opportunity in Opportunity.objects.filter(account_id__in=account_ids).order_by("id"):
            existing.setdefault((opportunity.account_id, opportunity.name), []).append(opportunity)
    for r in good:
        if len(existing.get((r.account_id, r.name), [])) > 1:
            errors.append(RowError(r.line, "name", f"the account already has several opportunities named {r.name!r}"))
    if errors:
        raise ImportFailed(errors, filename="opportunities.csv")

    report = ImportReport()
    with transaction.atomic():
        new: list[Opportunity] = []
        changed: list[Opportunity] = []
        for r in good:
            found = existing.get((r.account_id, r.name))
            closed_at = None if r.status == OpportunityStatus.OPEN else now
            if not found:
                new.append(
                    Opportunity(
                        account_id=r.account_id,
                        name=r.name,
                        owner_id=r.owner_id,
                        status=r.status,
                        amount=r.amount,
                        created_at=r.created_at,
                        closed_at=closed_at,
                    )
                )
                continue
            o = found[0]
            wanted: dict[str, Any] = {
                "owner_id": r.owner_id,
                "status": r.status,
                "amount": r.amount,
                "created_at": r.created_at,
            }
            diff = {k: val for k, val in wanted.items() if getattr(o, k) != val}
            if "status" in diff:
                diff["closed_at"] = closed_at if o.closed_at is None or closed_at is None else o.closed_at
            if diff:
                for k, val in diff.items():
                    setattr(o, k, val)
                changed.append(o)
                report.updated += 1
            else:
                report.unchanged += 1
        Opportunity.objects.bulk_create(new, batch_size=BATCH)
        Opportunity.objects.bulk_update(
            changed, ["owner", "status", "amount", "created_at", "closed_at"], batch_size=BATCH
        )
        report.created = len(new)
    return report


__all__ = [
    "ACCOUNTS_ACTOR",
    "clean_domain",
    "import_accounts",
    "import_opportunities",
    "parse_time",
]

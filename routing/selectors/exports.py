"""accounts.csv and opportunities.csv exports: exactly the formats the imports read.

Rows come out in a canonical order (accounts by first domain; opportunities by their
account's first domain, then name), so exporting what an import wrote gives back the
same bytes. Accounts are read in bounded chunks, never all rows and relations at once.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from django.db import connection

from leadowner.csvio import write_csv
from routing.models import Account, AccountDomain, Opportunity, OwnerRole
from territories.models import Rep

ACCOUNTS_COLUMNS = (
    "name",
    "domains",
    "aliases",
    "parent",
    "country",
    "subdivision",
    "city",
    "postal_code",
    "industry",
    "employees",
    "annual_revenue",
    "type",
    "sales_owner",
    "account_manager",
    "customer_success",
    "named_account",
)
ACCOUNTS_NUMERIC = ("employees", "annual_revenue")
# The owner columns of accounts.csv and the ownership role each one holds.
OWNER_COLUMNS = {
    "sales_owner": OwnerRole.SALES,
    "account_manager": OwnerRole.ACCOUNT_MANAGER,
    "customer_success": OwnerRole.CUSTOMER_SUCCESS,
}
OPPORTUNITIES_COLUMNS = ("account", "name", "owner", "status", "amount", "created_at")
OPPORTUNITIES_NUMERIC = ("amount",)
CHUNK = 5000
IN_CHUNK = 900  # under SQLite's oldest limit of 999 bound parameters


@dataclass(frozen=True)
class ExportReport:
    rows: int
    skipped: int = 0  # records the format cannot hold (an account without a domain)


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with a Z: `2025-03-01T09:30:00Z`."""
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def rows_where_in(
    table: str,
    columns: Sequence[str],
    key: str,
    values: Collection[Any],
    *,
    where: str = "",
    order_by: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Rows (tuples of `columns`) of `table` whose `key` is one of `values`.

    For the bulk paths: one `key = ANY(array)` query on PostgreSQL, however many values
    (an IN list of 100,000 placeholders costs more to build than to run), IN chunks
    elsewhere. `order_by` orders the rows of each key (all rows of one key come from
    one query). `table`, `columns`, `key`, `where` and `order_by` are our own constants.
    """
    if not values:
        return []
    quote = connection.ops.quote_name
    select = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)} WHERE "  # noqa: S608
    extra = f" AND ({where})" if where else ""
    order = f" ORDER BY {', '.join(quote(c) for c in order_by)}" if order_by else ""
    items = list(values)
    out: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"{select}{quote(key)} = ANY(%s){extra}{order}", [items])
            return [tuple(row) for row in cursor.fetchall()]
        for start in range(0, len(items), IN_CHUNK):
            part = items[start : start + IN_CHUNK]
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(f"{select}{quote(key)} IN ({marks}){extra}{order}", part)
            out.extend(tuple(row) for row in cursor.fetchall())
    return out


def _first_domains() -> dict[int, str]:
    """Each account's first domain (lowest position)."""
    first: dict[int, str] = {}
    rows = AccountDomain.objects.order_by("account_id", "position", "id").values_list("account_id", "domain")
    for account_id, domain in rows.iterator(chunk_size=10_000):
        first.setdefault(account_id, domain)
    return first


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


_EXPORTED = (
    "id",
    "name",
    "parent_id",
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


def _account_rows(first: dict[int, str], ids: list[int]) -> Iterator[list[str]]:
    roles = ", ".join(f"'{role.value}'" for role in OWNER_COLUMNS.values())
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        accounts = {row[0]: row for row in rows_where_in("routing_account", _EXPORTED, "id", chunk)}
        domains: dict[int, list[str]] = {}
        for account_id, domain in rows_where_in(
            "routing_accountdomain",
            ("account_id", "domain"),
            "account_id",
            chunk,
            order_by=("account_id", "position", "id"),
        ):
            domains.setdefault(account_id, []).append(domain)
        aliases: dict[int, list[str]] = {}
        for account_id, alias in rows_where_in(
            "routing_accountalias",
            ("account_id", "alias"),
            "account_id",
            chunk,
            order_by=("account_id", "position", "id"),
        ):
            aliases.setdefault(account_id, []).append(alias)
        owners: dict[tuple[int, str], int] = {}
        for account_id, role, rep_id in rows_where_in(
            "routing_ownership",
            ("account_id", "role", "rep_id"),
            "account_id",
            chunk,
            where=f"ended_at IS NULL AND rep_id IS NOT NULL AND role IN ({roles})",
        ):
            owners[(account_id, role)] = rep_id
        emails = dict(Rep.objects.filter(pk__in=set(owners.values())).values_list("id", "email"))
        for account_id in chunk:
            (_, name, parent_id, country, subdivision, city, postal, industry, employees, revenue, kind, named) = (
                accounts[account_id]
            )
            yield [
                name,
                ";".join(domains.get(account_id, [])),
                ";".join(aliases.get(account_id, [])),
                first.get(parent_id, "") if parent_id else "",
                country,
                subdivision,
                city,
                postal,
                industry,
                _number(employees),
                _number(revenue),
                kind,
                *(
                    emails[owners[(account_id, role)]] if (account_id, role) in owners else ""
                    for role in OWNER_COLUMNS.values()
                ),
                "true" if named else "false",
            ]


def write_accounts(out: TextIO) -> ExportReport:
    """Write accounts.csv of every account that has a domain (the key of the format)."""
    first = _first_domains()
    ids = sorted(first, key=first.__getitem__)
    skipped = Account.objects.count() - len(ids)
    rows = write_csv(out, columns=ACCOUNTS_COLUMNS, rows=_account_rows(first, ids), numeric=ACCOUNTS_NUMERIC)
    return ExportReport(rows=rows, skipped=skipped)


def export_accounts() -> str:
    out = io.StringIO(newline="")
    write_accounts(out)
    return out.getvalue()


def _opportunity_rows(first: dict[int, str], skipped: list[int]) -> Iterator[list[str]]:
    rows = (
        Opportunity.objects.select_related("owner")
        .only("account_id", "name", "owner__email", "status", "amount", "created_at")
        .order_by("account_id", "name", "created_at", "id")
    )
    opportunities = []
    for opportunity in rows.iterator(chunk_size=CHUNK):
        if opportunity.account_id not in first:
            skipped.append(opportunity.pk)
            continue
        opportunities.append(opportunity)
    opportunities.sort(key=lambda o: (first[o.account_id], o.name, o.created_at, o.pk))
    for o in opportunities:
        yield [
            first[o.account_id],
            o.name,
            o.owner.email if o.owner else "",
            o.status.lower(),
            "" if o.amount is None else str(o.amount),
            format_time(o.created_at),
        ]


def write_opportunities(out: TextIO) -> ExportReport:
    """Write opportunities.csv (opportunities of accounts without a domain cannot be keyed: skipped)."""
    skipped: list[int] = []
    rows = write_csv(
        out,
        columns=OPPORTUNITIES_COLUMNS,
        rows=_opportunity_rows(_first_domains(), skipped),
        numeric=OPPORTUNITIES_NUMERIC,
    )
    return ExportReport(rows=rows, skipped=len(skipped))


def export_opportunities() -> str:
    out = io.StringIO(newline="")
    write_opportunities(out)
    return out.getvalue()

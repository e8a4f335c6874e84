"""accounts.csv and opportunities.csv exports: exactly the formats the imports read.

Rows come out in a canonical order (accounts by first domain; opportunities by their
account's first domain, then name), so exporting what an import wrote gives back the
same bytes. Accounts are read in bounded chunks, never all rows and relations at once.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from leadowner.csvio import write_csv
from routing.models import Account, AccountAlias, AccountDomain, Opportunity, OwnerRole, Ownership

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
CHUNK = 2000


@dataclass(frozen=True)
class ExportReport:
    rows: int
    skipped: int = 0  # records the format cannot hold (an account without a domain)


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with a Z: `2025-03-01T09:30:00Z`."""
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def _first_domains() -> dict[int, str]:
    """Each account's first domain (lowest position)."""
    first: dict[int, str] = {}
    rows = AccountDomain.objects.order_by("account_id", "position", "id").values_list("account_id", "domain")
    for account_id, domain in rows.iterator(chunk_size=10_000):
        first.setdefault(account_id, domain)
    return first


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def _account_rows(first: dict[int, str], ids: list[int]) -> Iterator[list[str]]:
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        accounts = Account.objects.in_bulk(chunk)
        domains: dict[int, list[str]] = {}
        for account_id, domain in (
            AccountDomain.objects.filter(account_id__in=chunk)
            .order_by("account_id", "position", "id")
            .values_list("account_id", "domain")
        ):
            domains.setdefault(account_id, []).append(domain)
        aliases: dict[int, list[str]] = {}
        for account_id, alias in (
            AccountAlias.objects.filter(account_id__in=chunk)
            .order_by("account_id", "position", "id")
            .values_list("account_id", "alias")
        ):
            aliases.setdefault(account_id, []).append(alias)
        owners: dict[tuple[int, str], str] = {}
        for account_id, role, email in Ownership.objects.filter(
            account_id__in=chunk, ended_at__isnull=True, role__in=list(OWNER_COLUMNS.values()), rep__isnull=False
        ).values_list("account_id", "role", "rep__email"):
            owners[(account_id, role)] = email
        for account_id in chunk:
            a = accounts[account_id]
            yield [
                a.name,
                ";".join(domains.get(account_id, [])),
                ";".join(aliases.get(account_id, [])),
                first.get(a.parent_id, "") if a.parent_id else "",
                a.country,
                a.subdivision,
                a.city,
                a.postal_code,
                a.industry,
                _number(a.employees),
                _number(a.annual_revenue),
                a.type,
                *(owners.get((account_id, role), "") for role in OWNER_COLUMNS.values()),
                "true" if a.named_account else "false",
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

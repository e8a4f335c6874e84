"""Reads about accounts: search and list filters, their corporate family (parents) and their
owners, with roll-up.

A subsidiary without an owner in a role is owned, in that role, by its nearest ancestor
that has one (Olive Garden without a SALES owner -> Darden Restaurants' SALES owner).

The chain of parents is read in one query, a recursive CTE that PostgreSQL and SQLite
both run. It is bounded (MAX_DEPTH levels) and stops at the first account seen twice, so
bad data with a cycle (A -> B -> A) ends the walk instead of looping.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When

from leadowner.lookups import among
from leadowner.prepared import Prepared, PreparedIn
from routing.models import Account, AccountAlias, AccountDomain, Ownership
from routing.normalize import normalize_company, registered_domain

# Deeper corporate trees exist in data only by mistake; the walk stops here either way.
MAX_DEPTH = 12


def _current() -> QuerySet[Ownership]:
    return Ownership.objects.filter(ended_at__isnull=True)


def search_accounts(qs: QuerySet[Account], text: str) -> QuerySet[Account]:
    """Accounts whose normalised name or alias contains the words, or whose domain matches.

    Name prefix matches rank first; ties keep the account order (name, id).
    """
    text = text.strip()
    if not text:
        return qs
    words = normalize_company(text)
    host = text.lower()
    condition = Q(Exists(AccountDomain.objects.filter(account_id=OuterRef("pk"), domain__startswith=host)))
    registered = registered_domain(host) if "." in host and " " not in host else ""
    if registered:
        condition |= Q(Exists(AccountDomain.objects.filter(account_id=OuterRef("pk"), domain=registered)))
    if words:
        condition |= Q(normalized_name__contains=words)
        condition |= Q(Exists(AccountAlias.objects.filter(account_id=OuterRef("pk"), normalized_alias__contains=words)))
        rank: Case | Value = Case(
            When(normalized_name__startswith=words, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    else:
        rank = Value(1, output_field=IntegerField())
    return qs.filter(condition).annotate(search_rank=rank).order_by("search_rank", "name", "id")


def accounts_filtered(
    *,
    search: str | None,
    territory_id: int | None,
    owner_rep_id: int | None,
    qs: QuerySet[Account],
) -> QuerySet[Account]:
    """`qs` narrowed: `territory_id` keeps accounts currently owned (any role) by a member of that
    territory, `owner_rep_id` those with a current owner (any role) that is this rep, `search` as
    search_accounts. None leaves a filter out; an id no row has (0) matches nothing.
    """
    if territory_id is not None:
        members = _current().filter(account_id=OuterRef("pk"), rep__memberships__territory_id=territory_id)
        qs = qs.filter(Exists(members))
    if owner_rep_id is not None:
        qs = qs.filter(Exists(_current().filter(account_id=OuterRef("pk"), rep_id=owner_rep_id)))
    if search:
        qs = search_accounts(qs, search)
    return qs


def ancestor_ids(account_ids: Iterable[int]) -> dict[int, list[int]]:
    """For each account id, the ids of its ancestors, nearest first (one query for all)."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    table = connection.ops.quote_name(Account._meta.db_table)
    # A batch's hundreds of ids as one array (leadowner.lookups); a lead's few as an IN list.
    where, params = among("id", ids, "bigint", short=True)
    sql = f"""
        WITH RECURSIVE chain(start_id, id, parent_id, depth) AS (
            SELECT id, id, parent_id, 0 FROM {table} WHERE {where}
            UNION ALL
            SELECT chain.start_id, parent.id, parent.parent_id, chain.depth + 1
            FROM {table} parent JOIN chain ON parent.id = chain.parent_id
            WHERE chain.depth < %s
        )
        SELECT start_id, id FROM chain WHERE depth > 0 ORDER BY start_id, depth
    """  # noqa: S608 -- only the table name and placeholders are formatted in
    chains: dict[int, list[int]] = {pk: [] for pk in ids}
    seen: dict[int, set[int]] = {pk: {pk} for pk in ids}
    stopped: set[int] = set()
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, MAX_DEPTH])
        for start_id, ancestor_id in cursor.fetchall():
            if start_id in stopped:
                continue
            if ancestor_id in seen[start_id]:  # a cycle: the family ends where it repeats
                stopped.add(start_id)
                continue
            seen[start_id].add(ancestor_id)
            chains[start_id].append(ancestor_id)
    return chains


def ancestors(account: Account) -> list[Account]:
    """The account's parent, grandparent, ... nearest first; empty for a top-level account.

    A top-level account (no parent_id) costs no query: most accounts are one.
    """
    if account.parent_id is None:
        return []
    chain = ancestor_ids([account.pk])[account.pk]
    if not chain:
        return []
    by_id = Account.objects.in_bulk(chain)
    return [by_id[pk] for pk in chain if pk in by_id]


def ultimate_parent(account: Account) -> Account:
    """The top of the account's corporate family; the account itself when it has no parent."""
    if account.parent_id is None:
        return account
    chain = ancestors(account)
    return chain[-1] if chain else account


def current_owners(account: Account) -> list[Ownership]:
    """The account's own current owners, one per role, with their rep or partner loaded."""
    return list(
        Ownership.objects.select_related("rep", "partner", "account")
        .filter(account=account, ended_at__isnull=True)
        .order_by("role")
    )


# ownerOf asks it for every top-level account it finds: compiled once (leadowner.prepared).
_OWN_CURRENT_OWNERS = Prepared(
    lambda account_id: Ownership.objects.select_related("rep", "partner").filter(
        account_id=account_id, ended_at__isnull=True
    ),
    (int,),
)


# The current owners of a chain of accounts (rep, partner and account loaded).
_CHAIN_OWNERS = PreparedIn(
    lambda ids: Ownership.objects.select_related("rep", "partner", "account").filter(
        account_id__in=ids, ended_at__isnull=True
    )
)
_ACCOUNT_BY_ID = Prepared(lambda pk: Account.objects.filter(pk=pk), (int,))


def account_by_id(pk: int) -> Account | None:
    """The account with this id, or None: a statement compiled once (every lookup and every lead asks it)."""
    found = _ACCOUNT_BY_ID(pk)
    return found[0] if found else None


def owners_up_the_chain(account: Account) -> tuple[dict[str, Ownership], list[int]]:
    """Current owner per role, rolled up, and the chain of ids it was read from (account first).

    Two queries whatever the depth: the chain of parents, then the owners of the chain; one
    for a top-level account, which has no chain to read (and whose owners' `account` is
    the account itself, not read again). For each role the account's own owner wins, else
    the nearest ancestor's. Each Ownership's `account` (loaded) says which account it came from.
    """
    if account.parent_id is None:
        own = _OWN_CURRENT_OWNERS(account.pk)
        for ownership in own:
            ownership.account = account
        return {o.role: o for o in sorted(own, key=lambda o: o.role)}, [account.pk]
    chain = [account.pk, *ancestor_ids([account.pk])[account.pk]]
    rank = {pk: i for i, pk in enumerate(chain)}
    best: dict[str, Ownership] = {}
    for ownership in _CHAIN_OWNERS(chain):
        assert ownership.account_id is not None
        held = best.get(ownership.role)
        if held is None or rank[ownership.account_id] < rank[held.account_id]:  # type: ignore[index]
            best[ownership.role] = ownership
    return dict(sorted(best.items())), chain


def effective_owners(account: Account) -> dict[str, Ownership]:
    """Current owner per role, rolled up: the account's own, else its nearest ancestor's."""
    return owners_up_the_chain(account)[0]


def effective_owner(account: Account, role: str) -> tuple[Ownership | None, Account | None]:
    """The owner of `account` in `role`, rolled up, and the account the owner came from.

    (own owner, account) when the account has one; (ancestor's owner, that ancestor) when
    only an ancestor has one (the nearest wins); (None, None) when nobody in the family does.
    """
    ownership = effective_owners(account).get(role)
    if ownership is None:
        return None, None
    return ownership, account if ownership.account_id == account.pk else ownership.account

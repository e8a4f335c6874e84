"""Console screens of the routing app: the ownership lookup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from leadowner.console import manager_required, render_page
from leadowner.errors import ServiceError
from routing.models import Account, AccountAlias, AccountDomain, OwnerRole, Ownership, OwnershipChange
from routing.selectors.accounts import ancestors
from routing.selectors.lookup import OwnerLookup, lookup_owner

HISTORY_PAGE_SIZE = 25
MAX_QUERY_LENGTH = 300


@dataclass(frozen=True)
class OwnerRow:
    role_label: str
    ownership: Ownership | None
    inherited_from: Account | None  # the ancestor the owner rolls up from, when not the account's own


@dataclass(frozen=True)
class Candidate:
    account: Account
    domains: list[str]


def parse_lookup_query(text: str) -> tuple[str, str]:
    """("domain", value) for an email, a host or a URL; ("company", value) for anything else.

    Something with a dot and no spaces (`ibm.com`, `jane@mail.ibm.com`, `https://ibm.com/x`)
    is a domain; `International Business Machines` or `IBM` is a company name.
    """
    text = text.strip()
    if "@" in text or ("." in text and " " not in text):
        return "domain", text
    return "company", text


def _lookup(query: str, account_id: int | None) -> tuple[str, OwnerLookup]:
    if account_id is not None:
        return "account", lookup_owner(account_id=account_id)
    kind, value = parse_lookup_query(query)
    if kind == "company":
        return kind, lookup_owner(company=value)
    found = lookup_owner(domain=value)
    if found.account is None and not found.match.ambiguous_ids and "@" not in value:
        # "J.P.Morgan" or "Amazon.com" may be a name rather than a domain we know.
        by_name = lookup_owner(company=value)
        if by_name.account is not None or by_name.match.ambiguous_ids:
            return "company", by_name
    return kind, found


def _owner_rows(account: Account, owners: list[Ownership]) -> list[OwnerRow]:
    by_role = {o.role: o for o in owners}
    rows = []
    for role, label in OwnerRole.choices:
        ownership = by_role.get(role)
        inherited = ownership.account if ownership is not None and ownership.account_id != account.pk else None
        rows.append(OwnerRow(str(label).replace("_", " ").capitalize(), ownership, inherited))
    return rows


def _candidates(ids: tuple[int, ...]) -> list[Candidate]:
    accounts = Account.objects.select_related("parent").in_bulk(ids)
    domains: dict[int, list[str]] = {}
    for account_id, domain in AccountDomain.objects.filter(account_id__in=ids).values_list("account_id", "domain"):
        domains.setdefault(account_id, []).append(domain)
    return [Candidate(accounts[pk], domains.get(pk, [])) for pk in ids if pk in accounts]


def _history(account: Account, page: str | None) -> Page[OwnershipChange]:
    changes = (
        OwnershipChange.objects.filter(account=account)
        .select_related("from_rep", "to_rep", "from_partner", "to_partner")
        .order_by("-at", "-id")
    )
    return Paginator(changes, HISTORY_PAGE_SIZE).get_page(page)


@require_GET
@manager_required
def lookup(request: HttpRequest) -> HttpResponse:
    """Who owns a domain, an email's company or a company name: the account, its owners and their history."""
    query = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    raw_account = request.GET.get("account", "").strip()
    context: dict[str, Any] = {"nav": "lookup", "q": query, "searched": bool(query or raw_account)}
    if not context["searched"]:
        return render_page(request, "routing/lookup.html", context, partial="results")
    if raw_account and not raw_account.isdigit():
        context["error"] = f"“{raw_account}” is not an account id."
        return render_page(request, "routing/lookup.html", context, partial="results", status=400)
    account_id = int(raw_account) if raw_account else None
    try:
        kind, found = _lookup(query, account_id)
    except ServiceError as error:
        context["error"] = error.message
        return render_page(request, "routing/lookup.html", context, partial="results", status=400)

    context.update(kind=kind, searched_for=query, match=found.match, account=found.account)
    if found.account is None:
        context["candidates"] = _candidates(found.match.ambiguous_ids)
        return render_page(request, "routing/lookup.html", context, partial="results")

    account = found.account
    keep = {"account": account.pk} if kind == "account" else {"q": query}
    context.update(
        chain=list(reversed(ancestors(account))) if account.parent_id else [],
        domains=list(AccountDomain.objects.filter(account=account).values_list("domain", flat=True)),
        aliases=list(AccountAlias.objects.filter(account=account).values_list("alias", flat=True)),
        owners=_owner_rows(account, found.owners),
        inherited=found.rolled_up_from is not None,
        history=_history(account, request.GET.get("page")),
        page_url=f"{reverse('console:lookup')}?{urlencode(keep)}&page=",
    )
    return render_page(request, "routing/lookup.html", context, partial="results")

"""Console screens of the routing app: the ownership lookup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from leadowner.console import manager_required, render_page
from leadowner.errors import ServiceError
from routing.models import Account, OwnerRole, Ownership
from routing.selectors.lookup import OwnerLookup, account_details, candidates, lookup_owner, lookup_text

MAX_QUERY_LENGTH = 300


@dataclass(frozen=True)
class OwnerRow:
    role_label: str
    ownership: Ownership | None
    inherited_from: Account | None  # the ancestor the owner rolls up from, when not the account's own


def _owner_rows(account: Account, owners: list[Ownership]) -> list[OwnerRow]:
    by_role = {o.role: o for o in owners}
    rows = []
    for role, label in OwnerRole.choices:
        ownership = by_role.get(role)
        inherited = ownership.account if ownership is not None and ownership.account_id != account.pk else None
        rows.append(OwnerRow(str(label).replace("_", " ").capitalize(), ownership, inherited))
    return rows


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
        found: OwnerLookup
        if account_id is not None:
            kind, found = "account", lookup_owner(account_id=account_id)
        else:
            kind, found = lookup_text(query)
    except ServiceError as error:
        context["error"] = error.message
        return render_page(request, "routing/lookup.html", context, partial="results", status=400)

    context.update(kind=kind, searched_for=query, match=found.match, account=found.account)
    if found.account is None:
        context["candidates"] = candidates(found.match.ambiguous_ids)
        return render_page(request, "routing/lookup.html", context, partial="results")

    account = found.account
    keep = {"account": account.pk} if kind == "account" else {"q": query}
    details = account_details(account, page=request.GET.get("page"))
    context.update(
        chain=details.chain,
        domains=details.domains,
        aliases=details.aliases,
        owners=_owner_rows(account, found.owners),
        inherited=found.rolled_up_from is not None,
        history=details.history,
        page_url=f"{reverse('console:lookup')}?{urlencode(keep)}&page=",
    )
    return render_page(request, "routing/lookup.html", context, partial="results")

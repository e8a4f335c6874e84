"""Reference views for `make bench`, mounted only when settings.BENCH_VIEWS is on.

They measure floors, not features: `bench/minimal` is the least a Django view on the
same server costs (the framework floor beside submitLead), `bench/accounts` returns the
rows and fields of the GraphQL `accounts` benchmark query (name order, domains, current
owners with their rep) as plain JSON, with the same bearer authentication, so the
GraphQL layer's cost is the difference.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from leadowner import permissions
from leadowner.auth import authenticate_request
from routing.models import Account, AccountDomain, OwnerRole, Ownership

MAX_ROWS = 1000
_ROLE_ORDER = {role: i for i, role in enumerate(OwnerRole.values)}


@csrf_exempt
def minimal(request: HttpRequest) -> JsonResponse:
    """The framework floor: routing, middleware, a JSON answer; no database, no authentication."""
    return JsonResponse({"ok": True, "size": len(request.body)})


def _owner(ownership: Ownership) -> dict[str, Any]:
    rep = ownership.rep
    return {
        "role": ownership.role,
        "since": ownership.since.isoformat(),
        "rep": {"id": str(rep.pk), "name": rep.name, "email": rep.email} if rep is not None else None,
    }


def accounts(request: HttpRequest) -> JsonResponse:
    """The first `first` accounts by name with their domains and current owners."""
    actor = authenticate_request(request).actor
    if not actor.is_authenticated:
        return JsonResponse({"error": "UNAUTHENTICATED"}, status=401)
    try:
        first = min(MAX_ROWS, max(0, int(request.GET.get("first", "50"))))
    except ValueError:
        return JsonResponse({"error": "first must be a number"}, status=400)
    current = Ownership.objects.filter(ended_at__isnull=True).select_related("rep", "partner")
    rows = (
        permissions.visible_accounts(actor, Account.objects.all())
        .order_by("name", "id")
        .prefetch_related(
            Prefetch("domain_rows", queryset=AccountDomain.objects.order_by("position")),
            Prefetch("ownerships", queryset=current, to_attr="current_owners"),
        )[:first]
    )
    data = [
        {
            "id": str(account.pk),
            "name": account.name,
            "type": account.type,
            "country": account.country or None,
            "industry": account.industry or None,
            "domains": [d.domain for d in account.domain_rows.all()],
            "owners": [_owner(o) for o in sorted(account.current_owners, key=lambda o: _ROLE_ORDER.get(o.role, 99))],  # type: ignore[attr-defined]
        }
        for account in rows
    ]
    return JsonResponse({"accounts": data})

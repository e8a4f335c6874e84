"""Console access log: every sign-in (and refused attempt) of a manager and every use of a manager's token.

The records are written by leadowner.audit; this screen reads them, newest first, one
table each, filtered by manager and paged. Only managers and RevOps reach it.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_GET

from leadowner.console import manager_required, render_page
from leadowner.models import SignInEvent, TokenUse
from routing.views_common import parse_int, query_url
from territories.models import Rep, RepRole

TEMPLATE = "console/access.html"
PAGE_SIZE = 50


def _managers() -> list[Rep]:
    return list(Rep.objects.filter(role__in=[RepRole.MANAGER, RepRole.REVOPS]).order_by("name", "id"))


def _page_url(url: str, key: str) -> str:
    """`url` ready for a page number of `key` (the pager appends the number)."""
    return f"{url}{'&' if '?' in url else '?'}{key}="


@require_GET
@manager_required
def access(request: HttpRequest) -> HttpResponse:
    """Sign-ins and token uses of managers, newest first; `rep` filters both, `signins`/`uses` page them."""
    managers = _managers()
    raw_rep = request.GET.get("rep", "").strip()
    rep_id = parse_int(raw_rep)
    errors: dict[str, str] = {}
    if raw_rep and rep_id not in {m.pk for m in managers}:
        errors["rep"] = "Choose a manager from the list."
        rep_id = None
    sign_ins = SignInEvent.objects.select_related("rep", "user")
    uses = TokenUse.objects.select_related("rep", "token")
    if rep_id is not None:
        sign_ins = sign_ins.filter(rep_id=rep_id)
        uses = uses.filter(rep_id=rep_id)
    params = {"rep": str(rep_id) if rep_id is not None else ""}
    base = reverse("console:access")
    sign_in_page = Paginator(sign_ins.order_by("-at", "-id"), PAGE_SIZE).get_page(request.GET.get("signins"))
    use_page = Paginator(uses.order_by("-at", "-id"), PAGE_SIZE).get_page(request.GET.get("uses"))
    context: dict[str, Any] = {
        "nav": "audit",
        "managers": managers,
        "rep_id": rep_id,
        "errors": errors,
        "sign_ins": sign_in_page,
        "uses": use_page,
        "sign_in_url": _page_url(query_url(base, params, uses=str(use_page.number)), "signins"),
        "use_url": _page_url(query_url(base, params, signins=str(sign_in_page.number)), "uses"),
    }
    return render_page(request, TEMPLATE, context, partial="log")


patterns: list[URLPattern] = [path("access/", access, name="access")]

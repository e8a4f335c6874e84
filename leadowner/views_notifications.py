"""Console notifications: the signed-in manager's own (mark read), and the log of everyone's.

Notifications are written by the services that change ownership (leadowner.notifications.notify);
this screen reads them (leadowner.selectors_notifications) and marks the manager's own read
(leadowner.notifications.mark_notifications_read, the same service as the API's
markNotificationsRead).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from leadowner.actors import Actor
from leadowner.console import console_actor, manager_required, render_page
from leadowner.errors import ServiceError, ServiceErrors
from leadowner.models import NotificationKind
from leadowner.notifications import mark_notifications_read
from leadowner.selectors_notifications import (
    EMAIL_STATES,
    READ_STATES,
    NotificationFilter,
    email_status,
    log_page,
    own_page,
    recipients,
)
from routing.views_common import parse_date_range, parse_int, query_url

TEMPLATE = "console/notifications.html"
MAX_TEXT = 40


@dataclass
class ParsedFilter:
    log: NotificationFilter
    form: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


def parse_filter(query: QueryDict) -> ParsedFilter:
    """The log's filter from the query string; a bad value is reported for its field and left out."""
    form = {key: query.get(key, "").strip()[:MAX_TEXT] for key in ("recipient", "kind", "read", "email", "from", "to")}
    errors: dict[str, str] = {}
    rep_id = partner_user_id = None
    if form["recipient"]:
        prefix, _, raw_id = form["recipient"].partition(":")
        pk = parse_int(raw_id)
        if prefix == "rep" and pk is not None:
            rep_id = pk
        elif prefix == "partner" and pk is not None:
            partner_user_id = pk
        else:
            errors["recipient"] = "Choose a recipient from the list."
    kind = form["kind"].upper()
    if kind and kind not in NotificationKind.values:
        errors["kind"] = "Choose a kind from the list."
        kind = ""
    read = form["read"]
    if read and read not in dict(READ_STATES):
        errors["read"] = "Choose read or unread."
        read = ""
    email = form["email"]
    if email and email not in dict(EMAIL_STATES):
        errors["email"] = "Choose an email status from the list."
        email = ""
    date_from, date_to = parse_date_range(form, errors)
    log = NotificationFilter(
        recipient_rep_id=rep_id,
        recipient_partner_user_id=partner_user_id,
        kind=kind,
        read=read,
        email=email,
        date_from=date_from,
        date_to=date_to,
    )
    return ParsedFilter(log, form, errors)


@dataclass(frozen=True)
class Row:
    """One notification as the screen shows it."""

    notification: Any
    email: str  # sent, failed, gave_up, pending


def _rows(page: Any) -> list[Row]:
    return [Row(n, email_status(n)) for n in page]


def _actor(request: HttpRequest) -> Actor:
    actor = console_actor(request)
    assert actor is not None  # manager_required let the request in
    return actor


def _context(request: HttpRequest, *, form_error: str = "") -> dict[str, Any]:
    actor = _actor(request)
    query = request.GET if request.method == "GET" else request.POST
    parsed = parse_filter(query)
    params = parsed.log.params()
    path = reverse("console:notifications")
    own = own_page(actor, query.get("mine"))
    log = log_page(actor, parsed.log, query.get("page"))
    reps, partner_users = recipients()
    mine = {"mine": str(own.number)} if own.number > 1 else {}
    at_log_page = {"page": str(log.number)} if log.number > 1 else {}
    own_url = query_url(path, params, **at_log_page)
    log_url = query_url(path, params, **mine)
    return {
        "nav": "notifications",
        "has_own": actor.rep is not None,
        "own": own,
        "own_rows": _rows(own),
        "log": log,
        "log_rows": _rows(log),
        "recipient_options": [
            (
                "Reps",
                [
                    (f"rep:{rep.pk}", f"{rep.name} ({rep.email}){', departed' if rep.status == 'DEPARTED' else ''}")
                    for rep in reps
                ],
            ),
            ("Partner users", [(f"partner:{u.pk}", f"{u.name} ({u.partner.name})") for u in partner_users]),
        ],
        "kinds": NotificationKind.choices,
        "read_states": READ_STATES,
        "email_states": EMAIL_STATES,
        "form": parsed.form,
        "errors": parsed.errors,
        "filtered": bool(params),
        "own_page_url": own_url + ("&" if "?" in own_url else "?") + "mine=",
        "log_page_url": log_url + ("&" if "?" in log_url else "?") + "page=",
        "return_to": query_url(path, params, **mine, **at_log_page),
        "form_error": form_error,
    }


def _partial(request: HttpRequest) -> str:
    """The section an htmx request refreshes: the manager's own list, or the log."""
    htmx = getattr(request, "htmx", None)
    return "own" if htmx and htmx.target == "own-notifications" else "log"


@require_GET
@manager_required
def notifications(request: HttpRequest) -> HttpResponse:
    """The manager's own notifications (unread first), then every notification, filtered and paged."""
    # Bad filter values are shown next to their fields (200: htmx swaps only successful answers).
    return render_page(request, TEMPLATE, _context(request), partial=_partial(request))


@manager_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    """Mark one of the manager's own notifications read (`notification`), or all of them (`all`)."""
    actor = _actor(request)
    ids: list[int | None] | None
    if request.POST.get("all") == "1":
        ids = None
    else:
        raw = request.POST.get("notification", "")
        ids = [parse_int(raw)]
    error = ""
    try:
        marked = mark_notifications_read(actor=actor, ids=ids, now=timezone.now())
    except (ServiceError, ServiceErrors) as exc:
        errors = exc.errors if isinstance(exc, ServiceErrors) else [exc]
        error = "; ".join(e.message for e in errors)
        marked = []
    htmx = getattr(request, "htmx", None)
    if htmx:
        context = _context(request, form_error=error)
        context["marked"] = len(marked)
        return render_page(request, TEMPLATE, context, partial="own")
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Marked {len(marked)} notification{'s' if len(marked) != 1 else ''} read.")
    home = reverse("console:notifications")
    back = request.POST.get("return_to", "")
    return redirect(back if back.startswith(home) and "//" not in back else home)


patterns: list[URLPattern | URLResolver] = [
    path("notifications/", notifications, name="notifications"),
    path("notifications/read/", mark_read, name="notifications_read"),
]

"""Console screens of the disputes domain: the queue by deadline, and one dispute with its resolve form.

The queue renders the time left in words on the server and polls itself every minute
(htmx), so the countdown and the overdue flags stay current without a script of ours.
Resolving answers with the dispute's `resolve` partial and an `HX-Trigger:
disputesChanged` header, on which the queue refreshes at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil
from django.views.decorators.http import require_http_methods
from django_htmx.http import trigger_client_event

from disputes.models import Dispute
from disputes.selectors import UNRESOLVED, dispute_for_review, disputes_by_ids, unresolved_disputes
from disputes.services import check_bulk_resolution, resolve_dispute, resolve_disputes
from leadowner.console import console_actor, manager_required, render_page
from leadowner.errors import ErrorCode, ServiceError
from routing.views_common import FORM, field_errors, parse_ids, parse_int

QUEUE_TEMPLATE = "disputes/queue.html"
DISPUTE_TEMPLATE = "disputes/dispute.html"
PAGE_SIZE = 50
POLL_SECONDS = 60
RESOLVE_FIELDS = ("winner", "resolution", FORM)


@dataclass(frozen=True)
class Deadline:
    """How long until a dispute is due, in words, or how long it is overdue."""

    words: str
    overdue: bool


def deadline(due_at: datetime, now: datetime) -> Deadline:
    if due_at <= now:
        return Deadline(f"overdue by {timesince(due_at, now, depth=2)}", True)
    return Deadline(f"{timeuntil(due_at, now, depth=2)} left", False)


@dataclass(frozen=True)
class QueueRow:
    dispute: Dispute
    deadline: Deadline
    error: str = ""  # why a bulk resolution refused this one


def _queue_context(
    request_page: str | None, *, row_errors: dict[int, str] | None = None, **extra: Any
) -> dict[str, Any]:
    now = timezone.now()
    page = Paginator(unresolved_disputes(), PAGE_SIZE).get_page(request_page)
    row_errors = row_errors or {}
    context: dict[str, Any] = {
        "nav": "disputes",
        "disputes": page,
        "rows": [QueueRow(d, deadline(d.due_at, now), row_errors.get(d.pk, "")) for d in page],
        "overdue": sum(1 for dispute in page if dispute.due_at <= now),
        "now": now,
        "poll_seconds": POLL_SECONDS,
        "page_url": f"{reverse('console:disputes')}?page=",
        "form": {"side": "", "resolution": ""},
        "errors": {},
    }
    context.update(extra)
    return context


@manager_required
@require_http_methods(["GET", "POST"])
def queue(request: HttpRequest) -> HttpResponse:
    """Open and escalated disputes, nearest deadline first, with the time left; refreshes itself every minute.

    POST resolves the ticked disputes the same way (each claimant wins, or each contested owner keeps the
    record), after a confirmation step naming each dispute, its parties and the outcome.
    """
    if request.method == "GET":
        return render_page(request, QUEUE_TEMPLATE, _queue_context(request.GET.get("page")), partial="queue")
    post = request.POST
    page = post.get("page")
    form = {"side": post.get("side", ""), "resolution": post.get("resolution", "")}
    ids = parse_ids(post.getlist("dispute"))
    actor = console_actor(request)
    assert actor is not None  # manager_required let the request in

    def respond(**extra: Any) -> HttpResponse:
        return render_page(request, QUEUE_TEMPLATE, _queue_context(page, form=form, **extra), partial="queue")

    try:
        if post.get("confirmed") != "1":
            ids = check_bulk_resolution(dispute_ids=ids, side=form["side"], resolution=form["resolution"], actor=actor)
            return respond(confirm={"disputes": disputes_by_ids(ids), "side": form["side"]})
        outcome = resolve_disputes(
            dispute_ids=ids, side=form["side"], resolution=form["resolution"], actor=actor, now=timezone.now()
        )
    except ServiceError as error:
        return respond(errors=field_errors(error, ("dispute", "side", "resolution")))
    response = respond(outcome=outcome, row_errors={item.record_id: item.message for item in outcome.refused})
    return trigger_client_event(response, "disputesChanged") if outcome.done else response


def _dispute_context(dispute: Dispute, **extra: Any) -> dict[str, Any]:
    now = timezone.now()
    context: dict[str, Any] = {
        "nav": "disputes",
        "dispute": dispute,
        "unresolved": dispute.status in UNRESOLVED,
        "deadline": deadline(dispute.due_at, now),
        "form": {"winner": "", "resolution": ""},
        "errors": {},
    }
    context.update(extra)
    return context


def _dispute_or_404(dispute_id: int) -> Dispute:
    dispute = dispute_for_review(dispute_id)
    if dispute is None:
        raise Http404(f"no dispute #{dispute_id}")
    return dispute


@manager_required
@require_http_methods(["GET", "POST"])
def dispute(request: HttpRequest, dispute_id: int) -> HttpResponse:
    """One dispute; POST resolves it: the winner (claimant or contested owner) owns the record."""
    if request.method == "GET":
        return render_page(request, DISPUTE_TEMPLATE, _dispute_context(_dispute_or_404(dispute_id)), partial="resolve")
    actor = console_actor(request)
    assert actor is not None  # manager_required let the request in
    form = {"winner": request.POST.get("winner", ""), "resolution": request.POST.get("resolution", "")}
    try:
        winner_id = parse_int(form["winner"])
        if winner_id is None:
            raise ServiceError(ErrorCode.INVALID, "choose who wins: the claimant or the contested owner", "winner")
        resolved = resolve_dispute(
            dispute_id=dispute_id,
            winner_rep_id=winner_id,
            resolution=form["resolution"],
            actor=actor,
            now=timezone.now(),
        )
    except ServiceError as error:
        context = _dispute_context(_dispute_or_404(dispute_id), form=form, errors=field_errors(error, RESOLVE_FIELDS))
        return render_page(request, DISPUTE_TEMPLATE, context, partial="resolve")
    winner = resolved.winner.name if resolved.winner else "the winner"
    done = f"Dispute #{resolved.pk} resolved: {winner} owns the {'account' if resolved.account_id else 'lead'} now."
    response = render_page(
        request, DISPUTE_TEMPLATE, _dispute_context(_dispute_or_404(dispute_id), done=done), partial="resolve"
    )
    return trigger_client_event(response, "disputesChanged")

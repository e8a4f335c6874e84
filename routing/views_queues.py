"""Console queues: unassigned leads, claim queues, deal registrations waiting for review.

A list is one paged selector read. Actions post to the list's own URL: a row's button
(`act=reroute:12`) acts on that record at once; a bulk button (`act=reroute` with the
ticked rows) first answers with a confirmation step naming every record and what will
happen to it, and acts only when that step is confirmed (`confirmed=1`). The answer is
the list again with what was done and what was refused, in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from leadowner.actors import Actor
from leadowner.console import console_actor, manager_required, render_page
from leadowner.errors import ServiceError
from routing.models import DealRegistrationStatus, Lead
from routing.selectors.console import (
    REGISTRATION_STATUSES,
    active_reps,
    claim_queue_leads,
    leads_by_ids,
    queue_page,
    queued_leads,
    registrations,
    registrations_by_ids,
    unassigned_leads,
)
from routing.services.queue_actions import (
    BatchOutcome,
    assign_leads_by_hand,
    check_assignment,
    check_batch,
    check_review,
    reroute_unassigned_leads,
    review_registrations,
)
from routing.views_common import FORM, field_errors, parse_ids, parse_int, query_url

UNASSIGNED_TEMPLATE = "routing/unassigned.html"
CLAIM_QUEUE_TEMPLATE = "routing/claim_queue.html"
REGISTRATIONS_TEMPLATE = "routing/registrations.html"
LEAD_ACTIONS = ("reroute", "assign")
REVIEW_ACTIONS = ("approve", "reject")


@dataclass(frozen=True)
class Act:
    """What a queue form asked for: the action, and the one record of a row button (None for bulk)."""

    name: str
    record_id: int | None

    @property
    def bulk(self) -> bool:
        return self.record_id is None


def parse_act(raw: str, allowed: tuple[str, ...]) -> Act | None:
    """`reroute` (bulk) or `reroute:12` (one row); None for anything else."""
    name, _, record = raw.partition(":")
    if name not in allowed:
        return None
    if not record:
        return Act(name, None)
    record_id = parse_int(record)
    return Act(name, record_id) if record_id is not None else None


def _actor(request: HttpRequest) -> Actor:
    actor = console_actor(request)
    assert actor is not None  # manager_required let the request in
    return actor


# --- Unassigned leads ----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A queue row as the template shows it: the record, what was typed for it, its refusal."""

    item: Any
    reason: str = ""
    error: str = ""


@dataclass(frozen=True)
class LeadQueue:
    """A queue of leads without a sales owner: which leads, which page, which words."""

    key: str  # "unassigned" or "claim" (the tabs)
    url_name: str
    template: str
    leads: Callable[[], QuerySet[Lead]]


LEAD_QUEUES = {
    "unassigned": LeadQueue("unassigned", "console:unassigned", UNASSIGNED_TEMPLATE, unassigned_leads),
    "claim": LeadQueue("claim", "console:claim_queue", CLAIM_QUEUE_TEMPLATE, claim_queue_leads),
}


def _lead_queue_context(
    queue: LeadQueue, request_page: str | None, *, row_errors: dict[int, str] | None = None, **extra: Any
) -> dict[str, Any]:
    page = queue_page(queue.leads(), request_page)
    row_errors = row_errors or {}
    context: dict[str, Any] = {
        "nav": "queues",
        "queue": queue.key,
        "queue_url": reverse(queue.url_name),
        "leads": page,
        "rows": [Row(queued, error=row_errors.get(queued.lead.pk, "")) for queued in queued_leads(page)],
        "reps": active_reps(),
        "now": timezone.now(),
        "form": {"rep": "", "reason": ""},
        "errors": {},
        "page_url": f"{reverse(queue.url_name)}?page=",
    }
    context.update(extra)
    return context


def _lead_action(act: Act, post: QueryDict, actor: Actor) -> BatchOutcome:
    ids = [act.record_id] if act.record_id is not None else parse_ids(post.getlist("lead"))
    now = timezone.now()
    if act.name == "reroute":
        return reroute_unassigned_leads(lead_ids=ids, actor=actor, now=now)
    return assign_leads_by_hand(
        lead_ids=ids, to_rep_id=parse_int(post.get("rep")), reason=post.get("reason", ""), actor=actor, now=now
    )


def _lead_confirmation(act: Act, post: QueryDict, actor: Actor) -> dict[str, Any]:
    """The confirmation step of a bulk action: the leads and what will happen to them (nothing changes yet)."""
    ids = parse_ids(post.getlist("lead"))
    if act.name == "reroute":
        check_batch(actor, ids, noun="lead", field_name="lead")
        return {"confirm": {"act": act.name, "leads": leads_by_ids(ids), "rep": None, "reason": ""}}
    reason = post.get("reason", "").strip()
    ids, rep = check_assignment(lead_ids=ids, to_rep_id=parse_int(post.get("rep")), reason=reason, actor=actor)
    return {"confirm": {"act": act.name, "leads": leads_by_ids(ids), "rep": rep, "reason": reason}}


def _lead_queue(request: HttpRequest, queue: LeadQueue) -> HttpResponse:
    """GET: the queue, oldest first. POST: re-run routing or assign by hand, one lead at once or several after
    a confirmation step."""

    def respond(**extra: Any) -> HttpResponse:
        context = _lead_queue_context(queue, page, **extra)
        return render_page(request, queue.template, context, partial="queue")

    if request.method == "GET":
        page = request.GET.get("page")
        return respond()
    post = request.POST
    page = post.get("page")
    form = {"rep": post.get("rep", ""), "reason": post.get("reason", "")}
    act = parse_act(post.get("act", ""), LEAD_ACTIONS)
    if act is None:
        return respond(form=form, errors={FORM: "Choose an action."})
    actor = _actor(request)
    try:
        if act.bulk and post.get("confirmed") != "1":
            return respond(form=form, **_lead_confirmation(act, post, actor))
        outcome = _lead_action(act, post, actor)
    except ServiceError as error:
        if act.record_id is not None and error.field not in ("rep", "reason"):
            return respond(form=form, row_errors={act.record_id: error.message})
        return respond(form=form, errors=field_errors(error, ("lead", "rep", "reason")))
    row_errors = {item.record_id: item.message for item in outcome.refused}
    return respond(form=form, outcome=outcome, row_errors=row_errors)


@manager_required
@require_http_methods(["GET", "POST"])
def unassigned(request: HttpRequest) -> HttpResponse:
    """Leads with no sales owner, oldest first; re-run routing or assign by hand, one or several at a time."""
    return _lead_queue(request, LEAD_QUEUES["unassigned"])


@manager_required
@require_http_methods(["GET", "POST"])
def claim_queue(request: HttpRequest) -> HttpResponse:
    """Leads waiting in a territory's claim queue for a member to claim them, oldest first; a manager may
    re-run routing or assign them by hand, one or several at a time (the same actions as the unassigned queue)."""
    return _lead_queue(request, LEAD_QUEUES["claim"])


# --- Deal registrations --------------------------------------------------------------------


def _status_filter(raw: str | None) -> str | None:
    """PENDING unless another status (or ALL) is asked for."""
    value = (raw or DealRegistrationStatus.PENDING).upper()
    if value == "ALL":
        return None
    return value if value in REGISTRATION_STATUSES else DealRegistrationStatus.PENDING


def _registrations_context(
    status: str | None,
    request_page: str | None,
    *,
    reasons: dict[str, str] | None = None,
    row_errors: dict[int, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    page = queue_page(registrations(status), request_page)  # type: ignore[arg-type]
    reasons, row_errors = reasons or {}, row_errors or {}
    filter_value = status or "ALL"
    context: dict[str, Any] = {
        "nav": "registrations",
        "status": filter_value,
        "statuses": [*REGISTRATION_STATUSES, "ALL"],
        "registrations": page,
        "rows": [Row(r, reasons.get(str(r.pk), ""), row_errors.get(r.pk, "")) for r in page.object_list],
        "reviewable": status == DealRegistrationStatus.PENDING,
        "now": timezone.now(),
        "form": {"reason": ""},
        "errors": {},
        "page_url": query_url(reverse("console:registrations"), {"status": filter_value}) + "&page=",
    }
    context.update(extra)
    return context


@manager_required
@require_http_methods(["GET", "POST"])
def registration_queue(request: HttpRequest) -> HttpResponse:
    """Deal registrations by status (PENDING first), with their conflicts; approve or reject, one or several."""
    if request.method == "GET":
        context = _registrations_context(_status_filter(request.GET.get("status")), request.GET.get("page"))
        return render_page(request, REGISTRATIONS_TEMPLATE, context, partial="registrations")
    post = request.POST
    status, page = _status_filter(post.get("status")), post.get("page")
    form = {"reason": post.get("reason", "")}
    reasons = {key.removeprefix("reason-"): str(value) for key, value in post.items() if key.startswith("reason-")}

    def respond(*, row_errors: dict[int, str] | None = None, **extra: Any) -> HttpResponse:
        context = _registrations_context(status, page, reasons=reasons, row_errors=row_errors, form=form, **extra)
        return render_page(request, REGISTRATIONS_TEMPLATE, context, partial="registrations")

    act = parse_act(post.get("act", ""), REVIEW_ACTIONS)
    if act is None:
        return respond(errors={FORM: "Choose approve or reject."})
    approve = act.name == "approve"
    if act.record_id is not None:
        ids, reason = [act.record_id], post.get(f"reason-{act.record_id}", "")
    else:
        ids, reason = parse_ids(post.getlist("registration")), post.get("reason", "")
    actor = _actor(request)
    try:
        if act.bulk and post.get("confirmed") != "1":
            ids = check_review(registration_ids=ids, approve=approve, reason=reason, actor=actor)
            return respond(
                confirm={"act": act.name, "registrations": registrations_by_ids(ids), "reason": reason.strip()}
            )
        outcome = review_registrations(
            registration_ids=ids, approve=approve, reason=reason, actor=actor, now=timezone.now()
        )
    except ServiceError as error:
        if act.record_id is not None:
            return respond(row_errors={act.record_id: error.message})
        return respond(errors=field_errors(error, ("registration", "reason")))
    return respond(outcome=outcome, row_errors={item.record_id: item.message for item in outcome.refused})

"""Console record pages: an account and a lead, with their owners, history and the actions on them.

Each page is one selector read (routing.selectors.console). The forms post to their own
URL, call one service (transfer_ownership, route_lead) and answer with the page's
`ownership` (account) or `routing` (lead) partial for htmx, or the whole page without
JavaScript. A service refusal is shown next to its field, with what was typed kept.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from leadowner.console import console_actor, manager_required, render_page
from leadowner.errors import ErrorCode, ServiceError
from routing.models import Account, Lead, OwnerRole
from routing.selectors.console import AccountPage, LeadPage, account_page, active_reps, lead_page, role_label
from routing.services.leads import route_lead
from routing.services.transfers import transfer_ownership
from routing.views_common import FORM, field_errors, parse_int
from territories.models import Rep

ACCOUNT_TEMPLATE = "routing/account.html"
LEAD_TEMPLATE = "routing/lead.html"
TRANSFER_FIELDS = ("role", "to_rep", "reason", FORM)
# The PARTNER role is given by approving a deal registration, never by a transfer.
TRANSFER_ROLES = [(role, role_label(role)) for role in OwnerRole.values if role != OwnerRole.PARTNER]


def _transfer_form(data: dict[str, str] | None = None) -> dict[str, str]:
    data = data or {}
    return {
        "role": data.get("role", OwnerRole.SALES),
        "to_rep": data.get("to_rep", ""),
        "reason": data.get("reason", ""),
    }


def _account_context(page: AccountPage, **extra: Any) -> dict[str, Any]:
    account = page.account
    context: dict[str, Any] = {
        "nav": "lookup",
        "page": page,
        "account": account,
        "reps": active_reps(),
        "roles": TRANSFER_ROLES,
        "form": _transfer_form(),
        "errors": {},
        "page_url": f"{reverse('console:account', args=[account.pk])}?page=",
    }
    context.update(extra)
    return context


def _account_or_404(account_id: int, history_page: str | None = None) -> AccountPage:
    page = account_page(account_id, history_page=history_page)
    if page is None:
        raise Http404(f"no account #{account_id}")
    return page


@require_GET
@manager_required
def account(request: HttpRequest, account_id: int) -> HttpResponse:
    """The account: identity, family, firmographics, owners per role, history, activity, deals, disputes."""
    page = _account_or_404(account_id, request.GET.get("page"))
    return render_page(request, ACCOUNT_TEMPLATE, _account_context(page), partial="ownership")


def _chosen_rep(raw: str | None) -> Rep:
    rep_id = parse_int(raw)
    if rep_id is None:
        raise ServiceError(ErrorCode.INVALID, "choose the rep who will own it", "to_rep")
    rep = Rep.objects.filter(pk=rep_id).first()
    if rep is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"no rep #{rep_id}", "to_rep")
    return rep


@manager_required
@require_POST
def account_transfer(request: HttpRequest, account_id: int) -> HttpResponse:
    """Transfer the account's owner in a role to an active rep, with a reason (transfer_ownership)."""
    record = get_object_or_404(Account, pk=account_id)
    actor = console_actor(request)
    assert actor is not None  # manager_required
    posted = {key: request.POST.get(key, "").strip() for key in ("role", "to_rep", "reason")}
    try:
        if posted["role"] not in dict(TRANSFER_ROLES):
            raise ServiceError(ErrorCode.INVALID, "choose a role", "role")
        ownership = transfer_ownership(
            account=record,
            to_rep=_chosen_rep(posted["to_rep"]),
            role=posted["role"],
            reason=posted["reason"],
            actor=actor,
            now=timezone.now(),
        )
    except ServiceError as error:
        errors = field_errors(error, TRANSFER_FIELDS)
        context = _account_context(_account_or_404(account_id), form=_transfer_form(posted), errors=errors)
        return render_page(request, ACCOUNT_TEMPLATE, context, partial="ownership")
    assert ownership.rep is not None
    done = f"{ownership.rep.name} now owns {record.name} as {role_label(ownership.role).lower()}."
    return render_page(
        request, ACCOUNT_TEMPLATE, _account_context(_account_or_404(account_id), done=done), partial="ownership"
    )


def _lead_context(page: LeadPage, **extra: Any) -> dict[str, Any]:
    lead = page.lead
    context: dict[str, Any] = {
        "nav": "lookup",
        "page": page,
        "lead": lead,
        "reps": active_reps(),
        "form": _transfer_form(),
        "errors": {},
        "page_url": f"{reverse('console:lead', args=[lead.pk])}?page=",
    }
    context.update(extra)
    return context


def _lead_or_404(lead_id: int, history_page: str | None = None) -> LeadPage:
    page = lead_page(lead_id, history_page=history_page)
    if page is None:
        raise Http404(f"no lead #{lead_id}")
    return page


@require_GET
@manager_required
def lead(request: HttpRequest, lead_id: int) -> HttpResponse:
    """The lead: fields, stage, times, owner, the routing decision and its trace, history, activity, disputes."""
    page = _lead_or_404(lead_id, request.GET.get("page"))
    return render_page(request, LEAD_TEMPLATE, _lead_context(page), partial="routing")


@manager_required
@require_POST
def lead_reroute(request: HttpRequest, lead_id: int) -> HttpResponse:
    """Run routing again for the lead now (route_lead): a new decision, a new owner if the rules say so."""
    record = get_object_or_404(Lead, pk=lead_id)
    actor = console_actor(request)
    assert actor is not None
    try:
        decision = route_lead(lead=record, actor=actor, now=timezone.now())
    except ServiceError as error:
        context = _lead_context(_lead_or_404(lead_id), reroute_error=error.message)
        return render_page(request, LEAD_TEMPLATE, context, partial="routing")
    step = decision.step.lower().replace("_", " ")
    done = f"Routed again: {step}." if decision.owner else f"Routed again: {step}; no owner."
    return render_page(request, LEAD_TEMPLATE, _lead_context(_lead_or_404(lead_id), done=done), partial="routing")


@manager_required
@require_POST
def lead_transfer(request: HttpRequest, lead_id: int) -> HttpResponse:
    """Give the lead to an active rep by hand, with a reason (transfer_ownership, SALES role)."""
    record = get_object_or_404(Lead, pk=lead_id)
    actor = console_actor(request)
    assert actor is not None
    posted = {key: request.POST.get(key, "").strip() for key in ("to_rep", "reason")}
    try:
        ownership = transfer_ownership(
            lead=record,
            to_rep=_chosen_rep(posted["to_rep"]),
            role=OwnerRole.SALES,
            reason=posted["reason"],
            actor=actor,
            now=timezone.now(),
        )
    except ServiceError as error:
        errors = field_errors(error, TRANSFER_FIELDS)
        context = _lead_context(_lead_or_404(lead_id), form=_transfer_form(posted), errors=errors)
        return render_page(request, LEAD_TEMPLATE, context, partial="routing")
    assert ownership.rep is not None
    done = f"{ownership.rep.name} now owns {record.email}."
    return render_page(request, LEAD_TEMPLATE, _lead_context(_lead_or_404(lead_id), done=done), partial="routing")

"""Console rebalancing: the plans (built on publish by the sweep, or on demand), one plan's moves, apply or discard.

The services are routing.services.rebalancing (the same as the GraphQL mutations): a
manager builds a plan for the published rule set, reads it (counts per rep before and
after, the load variance, why records stay, every move), and applies it after a
confirmation step naming what will move; the moves are then applied in the background
in batches, with history. A DRAFT plan can be discarded.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from leadowner.console import console_actor, manager_required, render_page
from leadowner.errors import ErrorCode, ServiceError
from routing.models import RebalanceMove, RebalanceMoveStatus, RebalancePlan, RebalancePlanStatus
from routing.services.rebalancing import apply_rebalance_plan, build_rebalance_plan, discard_rebalance_plan
from territories.models import Territory
from territories.selectors import published_rule_set

LIST_TEMPLATE = "routing/rebalancing.html"
PLAN_TEMPLATE = "routing/rebalance_plan.html"
PLANS_PER_PAGE = 25
MOVES_PER_PAGE = 50
STAYED_WORDS = {
    "claimed": "under a claim",
    "engaged": "engaged within the idle window",
    "in_territory": "already with a member of their territory",
    "named_account": "named accounts",
    "no_territory": "no territory matches",
    "nobody_available": "nobody available in their territory",
    "not_routed_by_territory": "leads not given by territory",
    "open_opportunity": "protected by an open opportunity",
    "other_territory": "in territories this plan does not cover",
    "owner_departed": "owner departed (the departure job moves them)",
    "under_dispute": "under an open dispute",
}


def _status_counts() -> dict[str, Any]:
    return {
        "applied": Count("moves", filter=Q(moves__status=RebalanceMoveStatus.APPLIED)),
        "skipped": Count("moves", filter=Q(moves__status=RebalanceMoveStatus.SKIPPED)),
        "pending": Count("moves", filter=Q(moves__status=RebalanceMoveStatus.PENDING)),
    }


def _variance_words(summary: dict[str, Any]) -> str:
    before, after = summary.get("variance_before"), summary.get("variance_after")
    if before is None or after is None:
        return ""
    if after < before:
        return f"load variance {before:.1f} → {after:.1f}: lowers it by {before - after:.1f}"
    if after > before:
        return (
            f"load variance {before:.1f} → {after:.1f}: raises it by {after - before:.1f} "
            "(records follow their territory even where its members are busier)"
        )
    return f"load variance {before:.1f}, unchanged"


def _list_context(page_number: str | None, status: str | None = None, **extra: Any) -> dict[str, Any]:
    plans = RebalancePlan.objects.select_related("rule_set").annotate(**_status_counts()).order_by("-created_at", "-id")
    if status not in RebalancePlanStatus.values:
        status = None
    if status is not None:
        plans = plans.filter(status=status)
    page = Paginator(plans, PLANS_PER_PAGE).get_page(page_number)
    for plan in page:
        plan.variance_words = _variance_words(plan.summary)  # type: ignore[attr-defined]
    published = published_rule_set()
    territories = (
        list(Territory.objects.filter(rule_set=published).order_by("position", "name").only("pk", "name", "parent_id"))
        if published is not None
        else []
    )
    context: dict[str, Any] = {
        "nav": "rebalancing",
        "plans": page,
        "published": published,
        "territories": territories,
        "chosen": set(),
        "status": status,
        "status_label": RebalancePlanStatus(status).label.lower() if status else "",
        "page_url": f"{reverse('console:rebalancing')}?{urlencode({'status': status}) + '&' if status else ''}page=",
        "errors": {},
    }
    context.update(extra)
    return context


def _actor(request: HttpRequest) -> Any:
    actor = console_actor(request)
    assert actor is not None  # manager_required let the request in
    return actor


@require_GET
@manager_required
def rebalancing(request: HttpRequest) -> HttpResponse:
    """Every rebalancing plan (or those of one status), newest first, and the button that builds one."""
    context = _list_context(request.GET.get("page"), request.GET.get("status"))
    return render_page(request, LIST_TEMPLATE, context, partial="plans")


@manager_required  # the access rule first: anyone else gets 403 (or the login page), whatever the method
@require_POST
def rebalancing_build(request: HttpRequest) -> HttpResponse:
    """Build a plan for the published rule set, for every territory or the ticked ones (moves nothing); open it."""
    raw = request.POST.getlist("territory")
    chosen = {int(value) for value in raw if value.isdigit()}
    try:
        if len(chosen) != len(set(raw)):
            raise ServiceError(ErrorCode.INVALID, "tick territories from the list", "territoryIds")
        plan = build_rebalance_plan(actor=_actor(request), now=timezone.now(), territory_ids=chosen or None)
    except ServiceError as error:
        where = "territory" if error.field == "territoryIds" else "form"
        context = _list_context(None, errors={where: error.message}, chosen=chosen)
        return render_page(request, LIST_TEMPLATE, context, partial="plans", status=400)
    messages.success(request, f"Plan #{plan.pk} proposes {plan.summary.get('moves', 0)} moves. Nothing moved yet.")
    return redirect("console:rebalance_plan", plan_id=plan.pk)


def _plan_or_404(plan_id: int) -> RebalancePlan:
    plan = RebalancePlan.objects.select_related("rule_set").annotate(**_status_counts()).filter(pk=plan_id).first()
    if plan is None:
        raise Http404(f"no rebalancing plan #{plan_id}")
    return plan


def _plan_context(plan: RebalancePlan, page_number: str | None, **extra: Any) -> dict[str, Any]:
    moves = RebalanceMove.objects.filter(plan=plan).select_related("account", "lead", "from_rep", "to_rep")
    page = Paginator(moves.order_by("id"), MOVES_PER_PAGE).get_page(page_number)
    summary = plan.summary or {}
    reps = summary.get("reps", [])
    top = max([1] + [max(r["before"], r["after"]) for r in reps])
    rows = [
        {
            **r,
            "change": r["after"] - r["before"],
            "before_pct": 100 * r["before"] / top,
            "after_pct": 100 * r["after"] / top,
        }
        for r in reps
    ]
    published = published_rule_set()
    context: dict[str, Any] = {
        "nav": "rebalancing",
        "plan": plan,
        "summary": summary,
        "rep_rows": rows,
        "stayed": [(STAYED_WORDS.get(k, k.replace("_", " ")), n) for k, n in summary.get("stayed", {}).items()],
        "variance_words": _variance_words(summary),
        "moves": page,
        "page_url": f"{reverse('console:rebalance_plan', args=[plan.pk])}?page=",
        "is_draft": plan.status == RebalancePlanStatus.DRAFT,
        "stale": plan.status == RebalancePlanStatus.DRAFT and (published is None or published.pk != plan.rule_set_id),
        "confirm": False,
        "errors": {},
    }
    context.update(extra)
    return context


@require_GET
@manager_required
def rebalance_plan(request: HttpRequest, plan_id: int) -> HttpResponse:
    """One plan: per-rep load before and after, why records stay, every move (paged); apply or discard."""
    plan = _plan_or_404(plan_id)
    confirm = request.GET.get("confirm") == "apply" and plan.status == RebalancePlanStatus.DRAFT
    context = _plan_context(plan, request.GET.get("page"), confirm=confirm)
    return render_page(request, PLAN_TEMPLATE, context, partial="plan")


@manager_required  # the access rule first: anyone else gets 403 (or the login page), whatever the method
@require_POST
def rebalance_plan_apply(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Apply a DRAFT plan after its confirmation step: it becomes APPLYING; a worker moves the records."""
    plan = _plan_or_404(plan_id)
    if request.POST.get("confirmed") != "1":
        return render_page(request, PLAN_TEMPLATE, _plan_context(plan, None, confirm=True), partial="plan")
    try:
        apply_rebalance_plan(plan_id=plan.pk, actor=_actor(request), now=timezone.now())
    except ServiceError as error:
        context = _plan_context(_plan_or_404(plan_id), None, errors={"form": error.message})
        return render_page(request, PLAN_TEMPLATE, context, partial="plan", status=400)
    messages.success(request, f"Plan #{plan.pk} is being applied: its moves run in batches, with history.")
    return redirect("console:rebalance_plan", plan_id=plan.pk)


@manager_required  # the access rule first: anyone else gets 403 (or the login page), whatever the method
@require_POST
def rebalance_plan_discard(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Discard a DRAFT plan: nothing moves."""
    plan = _plan_or_404(plan_id)
    try:
        discard_rebalance_plan(plan_id=plan.pk, actor=_actor(request), now=timezone.now())
    except ServiceError as error:
        context = _plan_context(plan, None, errors={"form": error.message})
        return render_page(request, PLAN_TEMPLATE, context, partial="plan", status=400)
    messages.success(request, f"Plan #{plan.pk} was discarded; nothing moved.")
    return redirect("console:rebalance_plan", plan_id=plan.pk)


patterns: list[URLPattern] = [
    path("rebalancing/", rebalancing, name="rebalancing"),
    path("rebalancing/build/", rebalancing_build, name="rebalancing_build"),
    path("rebalancing/<int:plan_id>/", rebalance_plan, name="rebalance_plan"),
    path("rebalancing/<int:plan_id>/apply/", rebalance_plan_apply, name="rebalance_plan_apply"),
    path("rebalancing/<int:plan_id>/discard/", rebalance_plan_discard, name="rebalance_plan_discard"),
]

"""Console screens of the territories domain: the territory map (versions, diff, drafts, import,
export, validate, publish) and the roster (load, out of office, capacity, departures).

Views parse the request, call one service or selector and shape the page; a refused
change (ServiceError) is shown next to its field with the form again, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadowner.actors import Actor
from leadowner.console import console_actor, manager_required, render_page, url_if_exists
from leadowner.errors import ErrorCode, ServiceError, ServiceErrors
from leadowner.metrics import forfeit_risk
from leadowner.selectors_jobs import departure_preview
from routing.distribution import is_out_of_office
from routing.selectors.loads import open_load_annotation
from routing.services.departures import mark_rep_departed
from territories.diff import rule_set_diff
from territories.matching import criteria_in_words
from territories.models import (
    DistributionMethod,
    Rep,
    RepRole,
    RepStatus,
    RuleSet,
    RuleSetStatus,
    Territory,
    TerritoryMember,
)
from territories.roster import set_capacity, set_out_of_office
from territories.selectors import CRITERIA_KEYS, published_rule_set, rule_set_by_version, territories_of
from territories.services import (
    MAX_WEIGHT,
    RuleSetInvalid,
    RuleSetProblem,
    create_draft_from,
    export_rule_set,
    import_rule_set,
    publish_rule_set,
    update_territory,
    validate_rule_set,
)

LIST_CRITERIA = ("countries", "subdivisions", "cities", "postal_prefixes", "industries")
RANGE_CRITERIA = ("employees", "annual_revenue")
CRITERIA_LABELS = {
    "countries": ("Countries", "ISO 3166-1 code or name: GB, Germany"),
    "subdivisions": ("Subdivisions", "ISO 3166-2 code: CA-QC, US-NY"),
    "cities": ("Cities", "New York"),
    "postal_prefixes": ("Postal-code prefixes", "100, SW1"),
    "industries": ("Industries", "Financial Services"),
    "employees": ("Employees", "a range"),
    "annual_revenue": ("Annual revenue", "a range"),
}
VERSIONS_SHOWN = 50
ROSTER_PAGE_SIZE = 50
MAX_UPLOAD_BYTES = 4_000_000


def _actor(request: HttpRequest) -> Actor:
    actor = console_actor(request)
    if actor is None:  # manager_required let the request in, so this cannot happen
        raise ServiceError(ErrorCode.FORBIDDEN, "the console is for managers and RevOps")
    return actor


def _status_for_errors(request: HttpRequest) -> int:
    """400 for a refused form, but 200 to htmx, which swaps only successful answers into the page."""
    return 200 if getattr(request, "htmx", False) else 400


def _errors(exc: ServiceError | ServiceErrors, *, shown: tuple[str, ...]) -> dict[str, str]:
    """Messages by field; a field the form does not show (or none) goes to `__all__`, above the form.

    `shown`: the fields the page writes errors next to (`employees` covers `employees.min`).
    Several messages on one field are joined.
    """
    out: dict[str, str] = {}
    for error in exc.errors if isinstance(exc, ServiceErrors) else [exc]:
        field = error.field or ""
        key = field if field.split(".")[0] in shown else "__all__"
        out[key] = f"{out[key]} {error.message}" if key in out else error.message
    return out


EDIT_FIELDS = (*CRITERIA_KEYS, "distribution", "priority", "parent", "members", "weight")
REP_FIELDS = ("capacity", "start", "end")
DEPART_FIELDS = ("effective_at",)


def _words(value: str) -> str:
    return value.replace("_", " ").lower()


# --- the territory map ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TerritoryRow:
    territory: Territory
    depth: int
    criteria_words: str
    members: list[TerritoryMember]
    parent_name: str


def _tree(territories: list[Territory]) -> list[TerritoryRow]:
    """Territories as a tree: each parent followed by its children (file order among siblings), with depth."""
    ids = {t.pk for t in territories}
    children: dict[int | None, list[Territory]] = {}
    for t in territories:
        parent = t.parent_id if t.parent_id in ids else None
        children.setdefault(parent, []).append(t)
    rows: list[TerritoryRow] = []
    seen: set[int] = set()

    def walk(parent: int | None, depth: int) -> None:
        for t in children.get(parent, []):
            if t.pk in seen:  # a loop in bad data: show each territory once
                continue
            seen.add(t.pk)
            members = sorted(t.memberships.all(), key=lambda m: (m.position, m.pk))
            rows.append(
                TerritoryRow(t, depth, criteria_in_words(t.criteria or {}), members, t.parent.name if t.parent else "")
            )
            walk(t.pk, depth + 1)

    walk(None, 0)
    rows.extend(  # territories on a parent loop are never reached from the top: list them last
        TerritoryRow(t, 0, criteria_in_words(t.criteria or {}), list(t.memberships.all()), t.parent.name)
        for t in territories
        if t.pk not in seen and t.parent is not None
    )
    return rows


def _versions() -> list[RuleSet]:
    return list(RuleSet.objects.annotate(territory_count=Count("territories")).order_by("-version")[:VERSIONS_SHOWN])


def _chosen_rule_set(request: HttpRequest) -> tuple[RuleSet | None, str]:
    """(the rule set to show, an error): ?version=N, else the published one, else the newest."""
    raw = request.GET.get("version", "").strip()
    if raw:
        if not raw.isdigit():
            return None, f"“{raw}” is not a version number."
        found = rule_set_by_version(int(raw))
        return found, "" if found else f"There is no rule set v{raw}."
    return published_rule_set() or RuleSet.objects.order_by("-version").first(), ""


@require_GET
@manager_required
def territory_map(request: HttpRequest) -> HttpResponse:
    """Every territory of a version: criteria in words, members and weights, distribution, parent, priority."""
    rule_set, error = _chosen_rule_set(request)
    versions = _versions()
    published = next((v for v in versions if v.status == RuleSetStatus.PUBLISHED), None)
    context: dict[str, Any] = {
        "nav": "territories",
        "rule_set": rule_set,
        "error": error,
        "versions": versions,
        "published": published,
        "rows": _tree(territories_of(rule_set)) if rule_set else [],
        "is_draft": rule_set is not None and rule_set.status == RuleSetStatus.DRAFT,
        "simulate_url": url_if_exists("console:simulate"),
    }
    return render_page(request, "territories/map.html", context, partial="map", status=404 if error else 200)


def _version_or_404(version: int) -> RuleSet:
    rule_set = rule_set_by_version(version)
    if rule_set is None:
        raise Http404(f"there is no rule set v{version}")
    return rule_set


@require_GET
@manager_required
def territory_diff(request: HttpRequest) -> HttpResponse:
    """What changes between version a and version b, in plain words."""
    versions = _versions()
    error = ""
    a_raw, b_raw = request.GET.get("a", "").strip(), request.GET.get("b", "").strip()
    published = next((v for v in versions if v.status == RuleSetStatus.PUBLISHED), None)
    a: RuleSet | None = None
    b: RuleSet | None = None
    if a_raw or b_raw:
        if not (a_raw.isdigit() and b_raw.isdigit()):
            error = "Choose two versions to compare."
        else:
            a, b = rule_set_by_version(int(a_raw)), rule_set_by_version(int(b_raw))
            if a is None or b is None:
                error = f"There is no rule set v{a_raw if a is None else b_raw}."
    else:
        a = published
        b = next((v for v in versions if v.status == RuleSetStatus.DRAFT), None)
    changes = rule_set_diff(a, b) if a is not None and b is not None and not error else []
    general = [c for c in changes if c.territory is None]
    by_territory: dict[str, list[str]] = {}
    for change in changes:
        if change.territory is not None:
            by_territory.setdefault(change.territory, []).append(change.text)
    context = {
        "nav": "territories",
        "versions": versions,
        "a": a,
        "b": b,
        "error": error,
        "compared": a is not None and b is not None and not error,
        "general": general,
        "by_territory": sorted(by_territory.items()),
        "change_count": len(changes),
    }
    status = _status_for_errors(request) if error else 200
    return render_page(request, "territories/diff.html", context, partial="changes", status=status)


@require_GET
@manager_required
def territory_export(request: HttpRequest, version: int) -> HttpResponse:
    """territories.yaml of a version: what the import reads, so a round trip is exact."""
    rule_set = _version_or_404(version)
    response = HttpResponse(export_rule_set(rule_set), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="territories-v{rule_set.version}.yaml"'
    return response


@manager_required
@require_POST
def territory_draft(request: HttpRequest, version: int) -> HttpResponse:
    """A new draft copying `version` (the published one to change it, an older one to roll back)."""
    try:
        draft = create_draft_from(version=version, actor=_actor(request), now=timezone.now())
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(f"{reverse('console:territories')}?version={version}")
    messages.success(request, f"Draft v{draft.version} is a copy of v{version}. Change it, test it, then publish it.")
    if request.POST.get("next") == "settings":
        return redirect("console:settings")
    return redirect(f"{reverse('console:territories')}?version={draft.version}")


@require_GET
@manager_required
def territory_validate(request: HttpRequest, version: int) -> HttpResponse:
    """Every problem that would stop a version from publishing, with its line in the version's yaml."""
    rule_set = _version_or_404(version)
    context = {"nav": "territories", "rule_set": rule_set, "problems": validate_rule_set(rule_set)}
    return render_page(request, "territories/validate.html", context, partial="problems")


@require_http_methods(["GET", "POST"])
@manager_required
def territory_publish(request: HttpRequest, version: int) -> HttpResponse:
    """Confirm, then publish a draft: what changes against the published version, and its problems first."""
    rule_set = _version_or_404(version)
    published = published_rule_set()
    problems: list[RuleSetProblem] = []
    error = ""
    status = 200
    if request.method == "POST":
        try:
            done = publish_rule_set(version=version, actor=_actor(request).label, now=timezone.now())
        except RuleSetInvalid as exc:
            problems, error, status = exc.problems, exc.message, 400
        except ServiceError as exc:
            error, status = exc.message, 400
        else:
            before = f"; v{published.version} is archived" if published is not None else ""
            messages.success(request, f"v{done.version} is published and routes every new lead now{before}.")
            return redirect(f"{reverse('console:territories')}?version={done.version}")
    elif rule_set.status == RuleSetStatus.DRAFT:
        problems = validate_rule_set(rule_set)
    changes = rule_set_diff(published, rule_set) if published is not None and published.pk != rule_set.pk else []
    context = {
        "nav": "territories",
        "rule_set": rule_set,
        "published": published,
        "problems": problems,
        "error": error,
        "changes": changes,
        "can_publish": rule_set.status == RuleSetStatus.DRAFT and not problems,
    }
    return render_page(request, "territories/publish.html", context, partial="confirm", status=status)


@require_http_methods(["GET", "POST"])
@manager_required
def territory_import(request: HttpRequest) -> HttpResponse:
    """Upload territories.yaml: a new draft, or every problem with its line and nothing created."""
    context: dict[str, Any] = {"nav": "territories", "problems": [], "error": ""}
    if request.method == "GET":
        return render_page(request, "territories/import.html", context, partial="outcome")
    upload = request.FILES.get("file")
    if upload is None:
        context["error"] = "Choose a territories.yaml file to upload."
    elif upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        context["error"] = f"The file is larger than {MAX_UPLOAD_BYTES // 1_000_000} MB."
    else:
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            context["error"] = "The file is not UTF-8 text."
        else:
            try:
                draft = import_rule_set(text, actor=_actor(request).label, now=timezone.now())
            except RuleSetInvalid as exc:
                context["error"] = f"{upload.name}: {exc.message}; nothing was imported."
                context["problems"] = exc.problems
            except ServiceError as exc:
                context["error"] = exc.message
            else:
                messages.success(
                    request, f"{upload.name} is now draft v{draft.version}. Check it, test it, publish it."
                )
                return redirect(f"{reverse('console:territories')}?version={draft.version}")
    return render_page(
        request, "territories/import.html", context, partial="outcome", status=_status_for_errors(request)
    )


# --- editing one territory of a draft ---------------------------------------------------------------


def _int(raw: str, fld: str) -> int:
    text = raw.strip()
    try:
        return int(text)
    except ValueError:
        raise ServiceError(ErrorCode.INVALID, f"“{text}” is not a whole number", fld) from None


def _optional_int(raw: str, fld: str) -> int | None:
    return _int(raw, fld) if raw.strip() else None


def _territory_change(post: dict[str, str]) -> dict[str, Any]:
    """The update_territory arguments of one posted form (the `action` field names which)."""
    action = post.get("action", "")
    key = post.get("key", "")
    if action == "settings":
        parent = post.get("parent", "").strip()
        return {
            "distribution": post.get("distribution", ""),
            "priority": _int(post.get("priority", ""), "priority"),
            "parent_id": _int(parent, "parent") if parent else None,
        }
    if action == "add_value":
        values = [v for v in (part.strip() for part in post.get("value", "").split(",")) if v]
        if not values:
            raise ServiceError(ErrorCode.INVALID, "type a value to add", key or "__all__")
        return {"add_criteria": {key: values}}
    if action == "remove_value":
        return {"remove_criteria": {key: [post.get("value", "")]}}
    if action == "range":
        low = _optional_int(post.get("min", ""), f"{key}.min")
        high = _optional_int(post.get("max", ""), f"{key}.max")
        return {"ranges": {key: None if low is None and high is None else {"min": low, "max": high}}}
    if action == "add_member":
        rep = post.get("rep", "").strip()
        if not rep:
            raise ServiceError(ErrorCode.INVALID, "choose a rep to add", "members")
        return {"add_members": [(_int(rep, "members"), _int(post.get("weight", "1") or "1", "weight"))]}
    if action == "remove_member":
        return {"remove_members": [_int(post.get("rep", ""), "members")]}
    if action == "weight":
        return {"weights": {_int(post.get("rep", ""), "members"): _int(post.get("weight", ""), "weight")}}
    raise ServiceError(ErrorCode.INVALID, "unknown change", "__all__")


@require_http_methods(["GET", "POST"])
@manager_required
def territory_edit(request: HttpRequest, territory_id: int) -> HttpResponse:
    """One territory of a draft: add or remove criteria values and members, weights, distribution, priority, parent."""
    territory = Territory.objects.select_related("rule_set", "parent").filter(pk=territory_id).first()
    if territory is None:
        raise Http404("no such territory")
    errors: dict[str, str] = {}
    posted: dict[str, str] = {}
    saved = ""
    status = 200
    if request.method == "POST":
        posted = {k: request.POST.get(k, "") for k in ("action", "key", "rep", "value", "min", "max", "weight")}
        try:
            change = _territory_change(request.POST.dict())
            territory = update_territory(territory_id=territory.pk, actor=_actor(request), now=timezone.now(), **change)
        except (ServiceError, ServiceErrors) as exc:
            errors = _errors(exc, shown=EDIT_FIELDS)
            status = _status_for_errors(request)
        else:
            saved = "Saved."
            if not getattr(request, "htmx", False):
                messages.success(request, f"Saved {territory.name}.")
                return redirect("console:territory_edit", territory_id=territory.pk)
            territory = Territory.objects.select_related("rule_set", "parent").get(pk=territory.pk)
    return render_page(
        request,
        "territories/edit.html",
        _edit_context(territory, errors=errors, posted=posted, saved=saved),
        partial="editor",
        status=status,
    )


@dataclass(frozen=True)
class CriterionRow:
    key: str
    label: str
    example: str
    values: list[str]
    low: int | None
    high: int | None
    is_range: bool
    error: str


def _edit_context(
    territory: Territory, *, errors: dict[str, str], posted: dict[str, str], saved: str
) -> dict[str, Any]:
    criteria = territory.criteria or {}
    rows = []
    for key in CRITERIA_KEYS:
        label, example = CRITERIA_LABELS[key]
        bounds = criteria.get(key) if isinstance(criteria.get(key), dict) else {}
        error = " ".join(v for k, v in errors.items() if k == key or k.startswith(f"{key}."))
        rows.append(
            CriterionRow(
                key=key,
                label=label,
                example=example,
                values=[str(v) for v in criteria.get(key) or []] if key in LIST_CRITERIA else [],
                low=bounds.get("min") if bounds else None,
                high=bounds.get("max") if bounds else None,
                is_range=key in RANGE_CRITERIA,
                error=error,
            )
        )
    members = list(TerritoryMember.objects.filter(territory=territory).select_related("rep").order_by("position", "pk"))
    member_ids = {m.rep_id for m in members}
    return {
        "nav": "territories",
        "territory": territory,
        "rule_set": territory.rule_set,
        "is_draft": territory.rule_set.status == RuleSetStatus.DRAFT,
        "criteria_words": criteria_in_words(criteria),
        "criteria_rows": rows,
        "members": members,
        "candidates": [
            rep
            for rep in Rep.objects.exclude(status=RepStatus.DEPARTED).order_by("name", "pk").only("pk", "name", "email")
            if rep.pk not in member_ids
        ],
        "parents": list(
            Territory.objects.filter(rule_set_id=territory.rule_set_id)
            .exclude(pk=territory.pk)
            .order_by("position", "name")
            .only("pk", "name")
        ),
        "distributions": [(m.value, m.label.lower()) for m in DistributionMethod],
        "errors": errors,
        "form_error": errors.get("__all__", ""),
        "posted": posted,
        "saved": saved,
        "max_weight": MAX_WEIGHT,
    }


# --- the roster ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterRow:
    rep: Rep
    load: int
    at_risk: int
    territories: list[str]
    status_words: str
    over_capacity: bool


def status_words(rep: Rep, today: date) -> str:
    """`active`, `out of office until 2024-06-20`, `away 2024-07-01 to 2024-07-14 (planned)`, `departed`."""
    if rep.status == RepStatus.DEPARTED:
        return f"departed {rep.departed_at:%Y-%m-%d}" if rep.departed_at else "departed"
    start, end = rep.out_of_office_from, rep.out_of_office_until
    if is_out_of_office(rep, today):
        return f"out of office until {end.isoformat()}" if end else "out of office"
    words = "active"
    if start is not None and start > today:
        words += f"; away {start.isoformat()}" + (f" to {end.isoformat()}" if end else "") + " (planned)"
    if rep.departed_at is not None:
        words += f"; departs {rep.departed_at:%Y-%m-%d %H:%M} UTC"
    return words


def _roster_reps(*, now: datetime) -> QuerySet[Rep]:
    """Reps with manager, open load, leads at risk of forfeit and published memberships: three queries a page."""
    at_risk = (
        forfeit_risk(now=now)
        .filter(rep_id=OuterRef("pk"))
        .order_by()
        .values("rep_id")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    published = TerritoryMember.objects.filter(territory__rule_set__status=RuleSetStatus.PUBLISHED).select_related(
        "territory"
    )
    return (
        Rep.objects.select_related("manager")
        .annotate(
            load=open_load_annotation(), at_risk=Coalesce(Subquery(at_risk, output_field=IntegerField()), Value(0))
        )
        .prefetch_related(Prefetch("memberships", queryset=published, to_attr="published_memberships"))
        .order_by("name", "pk")
    )


ROSTER_STATUSES = (("", "Not departed"), ("ACTIVE", "Active"), ("OUT_OF_OFFICE", "Out of office"),
                   ("DEPARTED", "Departed"), ("all", "Everyone"))  # fmt: skip
ATTENTION = {"at_risk": "with leads about to be forfeited", "over_capacity": "over capacity"}


@require_GET
@manager_required
def roster(request: HttpRequest) -> HttpResponse:
    """Reps: role, manager, territories, open load against capacity, status; filter by status and manager."""
    now = timezone.now()
    today = timezone.localdate(now)
    status = request.GET.get("status", "")
    manager = request.GET.get("manager", "").strip()
    attention = request.GET.get("attention", "")
    reps = _roster_reps(now=now)
    if status == "all":
        pass
    elif status in RepStatus.values:
        reps = reps.filter(status=status)
    else:
        status = ""
        reps = reps.exclude(status=RepStatus.DEPARTED)
    if manager.isdigit():
        reps = reps.filter(manager_id=int(manager))
    else:
        manager = ""
    if attention == "at_risk":
        reps = reps.filter(at_risk__gt=0)  # type: ignore[misc]  # annotated in _roster_reps
    elif attention == "over_capacity":
        reps = reps.filter(capacity__isnull=False, load__gt=F("capacity"))  # type: ignore[misc]
    else:
        attention = ""
    page = Paginator(reps, ROSTER_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        RosterRow(
            rep=rep,
            load=rep.load,  # type: ignore[attr-defined]
            at_risk=rep.at_risk,  # type: ignore[attr-defined]
            territories=[m.territory.name for m in rep.published_memberships],  # type: ignore[attr-defined]
            status_words=status_words(rep, today),
            over_capacity=rep.capacity is not None and rep.load > rep.capacity,  # type: ignore[attr-defined]
        )
        for rep in page
    ]
    keep = {k: v for k, v in (("status", status), ("manager", manager), ("attention", attention)) if v}
    managers = list(
        Rep.objects.filter(Q(role__in=(RepRole.MANAGER, RepRole.REVOPS)) | Q(reports__isnull=False))
        .distinct()
        .order_by("name", "pk")
        .only("pk", "name")
    )
    context = {
        "nav": "roster",
        "rows": rows,
        "page": page,
        "statuses": ROSTER_STATUSES,
        "status": status,
        "managers": managers,
        "manager": manager,
        "attention": ATTENTION.get(attention, ""),
        "page_url": f"{reverse('console:roster')}?{urlencode({**keep, 'page': ''})}",
    }
    return render_page(request, "territories/roster.html", context, partial="reps")


def _parse_day(raw: str, fld: str) -> date | None:
    text = raw.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ServiceError(ErrorCode.INVALID, f"“{text}” is not a date (YYYY-MM-DD)", fld) from None


def _rep_or_404(rep_id: int) -> Rep:
    rep = _roster_reps(now=timezone.now()).filter(pk=rep_id).first()
    if rep is None:
        raise Http404("no such rep")
    return rep


@require_http_methods(["GET", "POST"])
@manager_required
def roster_rep(request: HttpRequest, rep_id: int) -> HttpResponse:
    """One rep: change capacity, set or clear out-of-office dates, start a departure."""
    rep = _rep_or_404(rep_id)
    errors: dict[str, str] = {}
    posted: dict[str, str] = {}
    saved = ""
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        posted = {k: request.POST.get(k, "") for k in ("action", "capacity", "start", "end")}
        now = timezone.now()
        try:
            actor = _actor(request)
            if action == "capacity":
                capacity = _optional_int(posted["capacity"], "capacity")
                set_capacity(rep_id=rep.pk, capacity=capacity, actor=actor, now=now)
                saved = "Capacity saved."
            elif action == "out_of_office":
                start = _parse_day(posted["start"], "start")
                end = _parse_day(posted["end"], "end")
                if start is None and end is None:
                    raise ServiceError(ErrorCode.INVALID, "give the first day away", "start")
                set_out_of_office(rep_id=rep.pk, start=start, end=end, actor=actor, now=now)
                saved = "Out-of-office dates saved."
            elif action == "back":
                set_out_of_office(rep_id=rep.pk, start=None, end=None, actor=actor, now=now)
                saved = "Out-of-office dates cleared."
            else:
                raise ServiceError(ErrorCode.INVALID, "unknown change", "__all__")
        except ServiceError as exc:
            errors = _errors(exc, shown=REP_FIELDS)
            status = _status_for_errors(request)
        else:
            if not getattr(request, "htmx", False):
                messages.success(request, f"{rep.name}: {saved}")
                return redirect("console:roster_rep", rep_id=rep.pk)
            rep = _rep_or_404(rep.pk)
    today = timezone.localdate()
    context = {
        "nav": "roster",
        "rep": rep,
        "row": RosterRow(
            rep=rep,
            load=rep.load,  # type: ignore[attr-defined]
            at_risk=rep.at_risk,  # type: ignore[attr-defined]
            territories=[m.territory.name for m in rep.published_memberships],  # type: ignore[attr-defined]
            status_words=status_words(rep, today),
            over_capacity=rep.capacity is not None and rep.load > rep.capacity,  # type: ignore[attr-defined]
        ),
        "errors": errors,
        "form_error": errors.get("__all__", ""),
        "posted": posted,
        "saved": saved,
        "departed": rep.status == RepStatus.DEPARTED,
    }
    return render_page(request, "territories/rep.html", context, partial="rep", status=status)


# The preview names every record a departing rep owns; a rep with 10,000 accounts gets pages.
DEPARTURE_MOVES_PER_PAGE = 100


def _parse_moment(raw: str) -> datetime | None:
    """A `datetime-local` value (UTC), or None when empty."""
    text = raw.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ServiceError(ErrorCode.INVALID, f"“{text}” is not a date and time", "effective_at") from None
    return timezone.make_aware(moment, timezone.get_default_timezone()) if timezone.is_naive(moment) else moment


@require_http_methods(["GET", "POST"])
@manager_required
def roster_depart(request: HttpRequest, rep_id: int) -> HttpResponse:
    """Mark a rep departed: first the preview (every record and where it goes), then the confirmation."""
    rep = Rep.objects.select_related("manager").filter(pk=rep_id).first()
    if rep is None:
        raise Http404("no such rep")
    now = timezone.now()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            effective = _parse_moment(request.POST.get("effective_at", ""))
            mark_rep_departed(rep_id=rep.pk, effective_at=effective, actor=_actor(request), now=now)
        except ServiceError as exc:
            errors = _errors(exc, shown=DEPART_FIELDS)
            status = 400
        else:
            when = "now" if effective is None or effective <= now else f"on {effective:%Y-%m-%d %H:%M} UTC"
            messages.success(request, f"{rep.name} departs {when}; their records are being reassigned.")
            return redirect("console:roster_rep", rep_id=rep.pk)
    plan = departure_preview(rep_id=rep.pk, now=now)
    kinds = ("account", "claim", "lead", "opportunity")
    moves = Paginator(plan.moves, DEPARTURE_MOVES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "nav": "roster",
        "rep": rep,
        "plan": plan,
        "moves": moves,
        "page_url": f"{reverse('console:roster_depart', args=[rep.pk])}?page=",
        "summary": [(kind, sorted(plan.counts().get(kind, {}).items())) for kind in kinds if kind in plan.counts()],
        "departed": rep.status == RepStatus.DEPARTED,
        "errors": errors,
        "form_error": errors.get("__all__", ""),
        "effective_error": errors.get("effective_at", ""),
        "effective_value": request.POST.get("effective_at", "") if request.method == "POST" else "",
    }
    return render_page(request, "territories/depart.html", context, partial="preview", status=status)

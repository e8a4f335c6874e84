"""Console screens that cut across the domains: home, jobs, metrics and settings.

Login and logout are Django's auth views (see web_urls). The figures come from
leadowner.metrics, the sweeps from leadowner.beat, the policy edits from
territories.services; views parse the request, call one of those and shape the page.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadowner import metrics
from leadowner.beat import JOBS_BY_NAME
from leadowner.charts import Chart, Series, bar_chart, line_chart, plain
from leadowner.concurrent_reads import run_side_by_side
from leadowner.console import console_actor, manager_required, render_page, url_if_exists
from leadowner.csvio import escape_cell
from leadowner.errors import ServiceError, ServiceErrors
from leadowner.metrics import Period
from leadowner.selectors_jobs import last_runs_per_job
from leadowner.tasks import send_now
from routing.models import Account, Lead
from territories.models import Rep, RuleSet, RuleSetStatus
from territories.policy import INBOUND_OVERRIDE_CHOICES, Policy
from territories.selectors import published_rule_set
from territories.services import update_policy


def invalid_status(request: HttpRequest) -> int:
    """400 for a refused form, but 200 to htmx, which swaps only successful answers into the page."""
    return 200 if getattr(request, "htmx", False) else 400


@dataclass(frozen=True)
class Count:
    label: str
    value: int
    url: str | None  # the screen that lists them, once it exists
    hint: str = ""


# --- home ---------------------------------------------------------------------------------------------


@require_GET
@manager_required
def home(request: HttpRequest) -> HttpResponse:
    """What needs a manager now, each count linking to the queue that clears it; then the book's size."""
    now = timezone.now()
    attention = metrics.needs_attention(now=now)
    hours = metrics.DISPUTE_WARNING_BUSINESS_HOURS
    disputes_url = url_if_exists("console:disputes")
    needs = [
        Count(
            "Unassigned leads",
            attention.unassigned_leads,
            url_if_exists("console:unassigned"),
            "no sales owner yet: assign or route them",
        ),
        Count("Disputes past deadline", attention.disputes_overdue, disputes_url, "escalating now: resolve them"),
        Count(
            "Disputes due soon",
            attention.disputes_due_soon,
            disputes_url,
            f"deadline within {hours} business hours",
        ),
        Count(
            "Registrations to review",
            attention.registrations_pending,
            url_if_exists("console:registrations"),
            "partner deal registrations waiting for a decision",
        ),
        Count(
            "Leads about to be forfeited",
            attention.leads_at_risk,
            _roster_url(attention="at_risk"),
            "within 2 days of the activity window: nudge their owners",
        ),
        Count(
            "Reps over capacity",
            attention.reps_over_capacity,
            _roster_url(attention="over_capacity"),
            "more open leads than their capacity",
        ),
        Count(
            "Rebalancing plans to review",
            attention.rebalance_plans_pending,
            _rebalancing_url(status="DRAFT"),
            "proposed moves: apply or discard them",
        ),
    ]
    counts = [
        Count("Accounts", Account.objects.count(), url_if_exists("console:accounts")),
        Count("Leads", Lead.objects.count(), url_if_exists("console:leads")),
        Count("Unassigned leads", attention.unassigned_leads, url_if_exists("console:unassigned")),
        Count("Reps", Rep.objects.count(), url_if_exists("console:roster")),
    ]
    return render(request, "console/home.html", {"needs": needs, "counts": counts, "nav": "home"})


def _rebalancing_url(**query: str) -> str | None:
    url = url_if_exists("console:rebalancing")
    return f"{url}?{urlencode(query)}" if url is not None else None


def _roster_url(**query: str) -> str | None:
    url = url_if_exists("console:roster")
    return f"{url}?{urlencode(query)}" if url is not None else None


# --- jobs ---------------------------------------------------------------------------------------------


def _duration_words(delta: timedelta | None) -> str:
    if delta is None:
        return ""
    seconds = delta.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class JobRow:
    name: str
    description: str
    started_at: datetime | None
    finished_at: datetime | None
    duration: str
    counts: list[tuple[str, int]]
    errors: list[str]
    status: str  # "ok", "failed", "running", "never run"
    can_run: bool


@require_GET
@manager_required
def jobs(request: HttpRequest) -> HttpResponse:
    """The last run of every sweep: when, how long, what it did, what went wrong."""
    rows = []
    for job in last_runs_per_job():
        run = job.last_run
        if run is None:
            status = "never run"
        elif run.finished_at is None:
            status = "running"
        else:
            status = "ok" if run.ok else "failed"
        rows.append(
            JobRow(
                name=job.name,
                description=job.description,
                started_at=run.started_at if run else None,
                finished_at=run.finished_at if run else None,
                duration=_duration_words(run.finished_at - run.started_at) if run and run.finished_at else "",
                counts=sorted((k.replace("_", " "), v) for k, v in (run.counts if run else {}).items()),
                errors=[str(e) for e in (run.errors if run else [])],
                status=status,
                can_run=job.name in JOBS_BY_NAME,
            )
        )
    return render_page(request, "console/jobs.html", {"nav": "jobs", "rows": rows}, partial="runs")


@manager_required
@require_POST
def run_job(request: HttpRequest, job: str) -> HttpResponse:
    """Send one sweep to the worker now (the same task beat sends every minute)."""
    found = JOBS_BY_NAME.get(job)
    if found is None:
        raise Http404("no such sweep")
    if send_now(import_string(found.task)):
        messages.success(request, f"{found.name} was sent to the worker; its run appears below when it finishes.")
    else:
        messages.error(request, f"The task queue is not answering: {found.name} was not sent. Try again shortly.")
    return redirect("console:jobs")


# --- metrics ------------------------------------------------------------------------------------------

PERIOD_CHOICES = (7, 30, 90)
DEFAULT_DAYS = 30
MAX_PERIOD_DAYS = 366
TOP_ROWS = 15  # bars drawn per chart; the table and the CSV have every row


def human_duration(value: timedelta | float | None) -> str:
    """`3 min`, `2.5 h`, `1.2 days` (value in seconds when a number)."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def money(value: float | Decimal) -> str:
    return f"{value:,.0f}"


def _seconds(value: timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds():.0f}"


@dataclass
class MetricBlock:
    slug: str
    title: str
    explanation: str
    figures: list[tuple[str, str]]
    chart: Chart
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]  # the numbers behind the chart, unformatted, for the CSV
    csv_url: str = field(default="")


def _duration_block(slug: str, title: str, explanation: str, stats: metrics.DurationStats) -> MetricBlock:
    chart = bar_chart(
        title=f"{title}: leads per duration",
        description=f"{stats.count} leads; median {human_duration(stats.median)}, 90th percentile "
        f"{human_duration(stats.p90)}.",
        labels=[label for label, _ in stats.buckets],
        series=[Series("Leads", [n for _, n in stats.buckets])],
    )
    return MetricBlock(
        slug,
        title,
        explanation,
        [
            ("Leads", f"{stats.count:,}"),
            ("Median", human_duration(stats.median)),
            ("90th percentile", human_duration(stats.p90)),
        ],
        chart,
        ("bucket", "leads"),
        [
            *stats.buckets,
            ("total", stats.count),
            ("median_seconds", _seconds(stats.median)),
            ("p90_seconds", _seconds(stats.p90)),
        ],
    )


def _assignment(period: Period, now: datetime) -> MetricBlock:
    return _duration_block(
        "time-to-assignment",
        "Time to assignment",
        "From a lead's arrival to its first owner, for leads received in the period that have had one.",
        metrics.time_to_assignment(period),
    )


def _first_touch(period: Period, now: datetime) -> MetricBlock:
    return _duration_block(
        "time-to-first-touch",
        "Time to first touch",
        "From a lead's first assignment to the first call, email, meeting or note on it, for leads received in "
        "the period that were touched.",
        metrics.time_to_first_touch(period),
    )


def _unassigned(period: Period, now: datetime) -> MetricBlock:
    days = metrics.leads_by_day(period)
    chart = line_chart(
        title="Leads received per day, and how many of them are still unassigned",
        description=f"{len(days)} days from {days[0].day:%Y-%m-%d} to {days[-1].day:%Y-%m-%d}." if days else "No days.",
        labels=[d.day.isoformat() for d in days],
        series=[
            Series("Received", [d.received for d in days]),
            Series("Still unassigned", [d.unassigned for d in days]),
        ],
    )
    return MetricBlock(
        "unassigned",
        "Unassigned leads",
        "Leads with no sales owner now: the unassigned queue. The chart shows the period's leads by the day they "
        "arrived.",
        [
            ("Unassigned now", f"{metrics.unassigned_leads_count():,}"),
            ("Received in the period", f"{sum(d.received for d in days):,}"),
        ],
        chart,
        ("day", "received", "unassigned"),
        [(d.day.isoformat(), d.received, d.unassigned) for d in days],
    )


def _reassignment(period: Period, now: datetime) -> MetricBlock:
    stats = metrics.reassignments(period)
    labels = ["Never assigned", "Routed once, never moved", "Moved at least once"]
    values = [stats.never_assigned, stats.routed_once, stats.moved]
    chart = bar_chart(
        title="Leads received in the period by how often their sales owner changed",
        description=f"{stats.leads} leads; reassignment rate {percent(stats.rate)}, assignment accuracy "
        f"{percent(stats.accuracy)}.",
        labels=labels,
        series=[Series("Leads", values)],
    )
    return MetricBlock(
        "reassignment",
        "Reassignment rate and assignment accuracy",
        "Reassignment rate: leads whose sales owner changed more than once (any move after routing, a forfeit "
        "included) out of all leads received. Accuracy: leads routed once and never moved, out of those assigned.",
        [
            ("Leads", f"{stats.leads:,}"),
            ("Reassignment rate", percent(stats.rate)),
            ("Assignment accuracy", percent(stats.accuracy)),
        ],
        chart,
        ("outcome", "leads"),
        [
            *zip(labels, values, strict=True),
            ("total", stats.leads),
            ("reassignment_rate", "" if stats.rate is None else f"{stats.rate:.4f}"),
            ("assignment_accuracy", "" if stats.accuracy is None else f"{stats.accuracy:.4f}"),
        ],
    )


def _disputes(period: Period, now: datetime) -> MetricBlock:
    stats = metrics.dispute_stats(period, now=now)
    labels = ["Opened", "Resolved in time", "Resolved late or escalated", "Past deadline now"]
    values = [stats.opened, stats.resolved_on_time, stats.resolved - stats.resolved_on_time, stats.overdue_now]
    chart = bar_chart(
        title="Disputes in the period",
        description=f"Dispute rate {percent(stats.rate)} of {stats.owned_records} owned records; SLA compliance "
        f"{percent(stats.sla_compliance)}.",
        labels=labels,
        series=[Series("Disputes", values)],
    )
    return MetricBlock(
        "disputes",
        "Dispute rate and SLA compliance",
        "Dispute rate: disputes opened in the period out of the accounts and leads that have an owner now. "
        "SLA compliance: disputes resolved in the period by their deadline and never escalated, out of those "
        "resolved.",
        [
            ("Dispute rate", percent(stats.rate)),
            ("SLA compliance", percent(stats.sla_compliance)),
            ("Past deadline now", f"{stats.overdue_now:,}"),
        ],
        chart,
        ("disputes", "count"),
        [
            *zip(labels, values, strict=True),
            ("owned_records", stats.owned_records),
            ("dispute_rate", "" if stats.rate is None else f"{stats.rate:.4f}"),
            ("sla_compliance", "" if stats.sla_compliance is None else f"{stats.sla_compliance:.4f}"),
        ],
    )


def _forfeits(period: Period, now: datetime) -> MetricBlock:
    rows = metrics.forfeits_per_rep(period)
    shown = rows[:TOP_ROWS]
    chart = bar_chart(
        title="Leads forfeited per rep",
        description=f"{sum(r.value for r in rows)} leads forfeited by {len(rows)} reps in the period"
        + (f"; the {TOP_ROWS} with most shown." if len(rows) > TOP_ROWS else "."),
        labels=[r.name for r in shown],
        series=[Series("Forfeited", [r.value for r in shown])],
    )
    return MetricBlock(
        "forfeits",
        "Forfeits per rep",
        "Leads the forfeit job took from a rep in the period because they were not worked within the activity window.",
        [("Forfeited", f"{sum(r.value for r in rows):,}")],
        chart,
        ("rep_id", "rep", "forfeited"),
        [(r.rep_id, r.name, r.value) for r in rows],
    )


def _loads(period: Period, now: datetime) -> MetricBlock:
    rows = metrics.loads_against_capacity()
    over = [r for r in rows if r.capacity is not None and r.load > r.capacity]
    busiest = sorted(rows, key=lambda r: (-(r.load / r.capacity if r.capacity else r.load), r.name))[:TOP_ROWS]
    chart = bar_chart(
        title="Open load against capacity per rep",
        description=f"{len(rows)} reps; {len(over)} over capacity"
        + (f"; the {TOP_ROWS} fullest shown." if len(rows) > TOP_ROWS else "."),
        labels=[r.name for r in busiest],
        series=[
            Series("Open leads", [r.load for r in busiest]),
            Series("Capacity", [r.capacity or 0 for r in busiest]),
        ],
    )
    return MetricBlock(
        "load",
        "Open load against capacity",
        "Open leads each rep owns now, next to the most they take (no bar: no limit). Not tied to the period.",
        [("Reps", f"{len(rows):,}"), ("Over capacity", f"{len(over):,}")],
        chart,
        ("rep_id", "rep", "status", "open_leads", "capacity"),
        [(r.rep_id, r.name, r.status, r.load, "" if r.capacity is None else r.capacity) for r in rows],
    )


def _pipeline(period: Period, now: datetime) -> MetricBlock:
    found = metrics.pipeline()
    shown = found.per_owner[:TOP_ROWS]
    chart = bar_chart(
        title="Open pipeline per owner",
        description=f"{money(found.total)} in {found.opportunities} open opportunities"
        + (f"; the {TOP_ROWS} largest owners shown." if len(found.per_owner) > TOP_ROWS else "."),
        labels=[r.name for r in shown],
        series=[Series("Open amount", [float(r.amount) for r in shown])],
        fmt=money,
    )
    return MetricBlock(
        "pipeline",
        "Pipeline",
        "The sum of the amounts of every open opportunity, per owner. Not tied to the period.",
        [("Open pipeline", money(found.total)), ("Open opportunities", f"{found.opportunities:,}")],
        chart,
        ("owner_id", "owner", "opportunities", "amount"),
        [(r.rep_id or "", r.name, r.opportunities, f"{r.amount:.2f}") for r in found.per_owner],
    )


def _territory_load(period: Period, now: datetime) -> MetricBlock:
    found = metrics.territory_loads()
    rows = found.territories
    with_members = [t for t in rows if t.members]
    chart = bar_chart(
        title="Open leads per member, per published territory",
        description=f"{len(with_members)} territories with members; load variance "
        + ("—" if found.variance is None else f"{found.variance:.2f}")
        + ".",
        labels=[t.name for t in with_members],
        series=[Series("Open leads per member", [t.per_member or 0.0 for t in with_members])],
        fmt=plain,
    )
    return MetricBlock(
        "territory-load",
        "Load variance across territories",
        "Open leads per member in each territory of the published map; the variance across territories is the "
        "rebalancing signal (0: evenly spread). A rep in two territories counts in both. Not tied to the period.",
        [("Load variance", "—" if found.variance is None else f"{found.variance:.2f}")],
        chart,
        ("territory_id", "territory", "members", "capacity", "open_leads", "per_member"),
        [
            (
                t.territory_id,
                t.name,
                t.members,
                "" if t.capacity is None else t.capacity,
                t.load,
                "" if t.per_member is None else f"{t.per_member:.2f}",
            )
            for t in rows
        ],
    )


METRICS: dict[str, Callable[[Period, datetime], MetricBlock]] = {
    "time-to-assignment": _assignment,
    "time-to-first-touch": _first_touch,
    "unassigned": _unassigned,
    "reassignment": _reassignment,
    "disputes": _disputes,
    "forfeits": _forfeits,
    "load": _loads,
    "pipeline": _pipeline,
    "territory-load": _territory_load,
}

# The metrics page's figures in parts that run side by side on PostgreSQL
# (leadowner.concurrent_reads), heaviest first; figures that share a read are in one part
# (the two durations are one query, load and territory load share the reps' open loads).
# Measured on the 400k-account bench book (100,000 leads), per part: ~140, ~125, ~120, ~80 ms.
METRIC_PARTS: tuple[tuple[str, ...], ...] = (
    ("time-to-assignment", "time-to-first-touch", "load", "territory-load"),
    ("unassigned",),
    ("reassignment", "pipeline", "forfeits"),
    ("disputes",),
)


def _build_metrics(slugs: tuple[str, ...], period: Period, now: datetime) -> dict[str, MetricBlock]:
    return {slug: METRICS[slug](period, now) for slug in slugs}


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def parse_period(query: dict[str, str], *, now: datetime) -> tuple[Period, dict[str, str], dict[str, str]]:
    """(period, the query that reproduces it, errors by field). Bad input falls back to the last 30 days."""
    errors: dict[str, str] = {}
    first_raw, last_raw = query.get("from", "").strip(), query.get("to", "").strip()
    if first_raw or last_raw:
        first, last = _parse_date(first_raw), _parse_date(last_raw)
        if first is None:
            errors["from"] = "Give the first day as YYYY-MM-DD."
        if last is None:
            errors["to"] = "Give the last day as YYYY-MM-DD."
        if first is not None and last is not None:
            if last < first:
                errors["to"] = "The last day is before the first."
            elif (last - first).days >= MAX_PERIOD_DAYS:
                errors["to"] = f"At most {MAX_PERIOD_DAYS} days at a time."
            else:
                return Period.between(first, last), {"from": first.isoformat(), "to": last.isoformat()}, errors
    raw_days = query.get("days", "").strip()
    days = DEFAULT_DAYS
    if raw_days.isdigit() and int(raw_days) in PERIOD_CHOICES:
        days = int(raw_days)
    elif raw_days:
        errors["days"] = f"Choose {', '.join(str(d) for d in PERIOD_CHOICES)} days."
    return Period.last_days(days, now=now), {"days": str(days)}, errors


@require_GET
@manager_required
def metrics_page(request: HttpRequest) -> HttpResponse:
    """Every metric for a period, each a chart with its numbers as a table and as CSV."""
    now = timezone.now()
    period, keep, errors = parse_period(request.GET.dict(), now=now)
    query = urlencode(keep)
    with metrics.one_page():
        built: dict[str, MetricBlock] = {}
        for part in run_side_by_side([partial(_build_metrics, slugs, period, now) for slugs in METRIC_PARTS]):
            built |= part
    blocks = []
    for slug in METRICS:
        block = built[slug]
        block.csv_url = f"{reverse('console:metrics_csv', args=[slug])}?{query}"
        blocks.append(block)
    context = {
        "nav": "metrics",
        "period": period,
        "keep": keep,
        "errors": errors,
        "choices": PERIOD_CHOICES,
        "blocks": blocks,
        "from_value": request.GET.get("from", ""),
        "to_value": request.GET.get("to", ""),
    }
    return render_page(
        request, "console/metrics.html", context, partial="board", status=invalid_status(request) if errors else 200
    )


@require_GET
@manager_required
def metrics_csv(request: HttpRequest, metric: str) -> HttpResponse:
    """The numbers behind one metric's chart, for a spreadsheet."""
    build = METRICS.get(metric)
    if build is None:
        raise Http404("no such metric")
    now = timezone.now()
    period, _keep, _errors = parse_period(request.GET.dict(), now=now)
    block = build(period, now)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = f"{period.start:%Y%m%d}-{period.end:%Y%m%d}"
    response["Content-Disposition"] = f'attachment; filename="{metric}-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow([escape_cell(str(c)) for c in block.columns])
    for row in block.rows:
        cells = [*row, *[""] * (len(block.columns) - len(row))]
        # Names (territories, reps) come from imports and forms: never a cell a spreadsheet runs.
        writer.writerow([c if isinstance(c, int | float) else escape_cell(str(c)) for c in cells])
    return response


# --- settings: the draft's policy ----------------------------------------------------------------------

POLICY_HELP: dict[str, tuple[str, str, str]] = {
    # key: (label, unit, what it does)
    "activity_window_days": (
        "Activity window",
        "days",
        "A lead whose owner logs no call, email or meeting for this long is forfeited and routed again.",
    ),
    "first_touch_sla_hours": (
        "First-touch SLA",
        "business hours",
        "A new lead untouched this long after assignment is reassigned.",
    ),
    "dispute_sla_hours": (
        "Dispute SLA",
        "business hours",
        "An open dispute past this deadline escalates to the next manager up.",
    ),
    "departure_business_days": (
        "Departure deadline",
        "business days",
        "Everything a departed rep owns is reassigned within this many business days (0: the same day).",
    ),
    "engagement_lookback_days": (
        "Engagement lookback",
        "days",
        "A rep's activity on an account this recent makes them its owner for new leads.",
    ),
    "inbound_override": (
        "Inbound override",
        "",
        "When a prospect asks for a rep: keep the existing owner, or give it to the rep they asked for.",
    ),
    "claim_days": ("Claim lifetime", "days", "An outbound claim lapses after this long without activity."),
    "registration_days": (
        "Registration lifetime",
        "days",
        "A partner's deal registration expires after this long without progress.",
    ),
    "rebalance_idle_days": (
        "Rebalancing idle time",
        "days",
        "Accounts without engagement this long may move when territories are rebalanced.",
    ),
    "fuzzy_threshold": (
        "Fuzzy match threshold",
        "score 50–100",
        "How close a company name must be to an account's name to match it.",
    ),
    "duplicate_window_minutes": (
        "Duplicate window",
        "minutes",
        "The same email submitted again within this long is the same lead.",
    ),
}


@dataclass(frozen=True)
class PolicyField:
    key: str
    label: str
    unit: str
    help: str
    value: Any
    error: str
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)


def _policy_fields(values: dict[str, Any], errors: dict[str, str]) -> list[PolicyField]:
    out = []
    for f in fields(Policy):
        label, unit, help_text = POLICY_HELP.get(f.name, (f.name.replace("_", " ").capitalize(), "", ""))
        out.append(
            PolicyField(
                key=f.name,
                label=label,
                unit=unit,
                help=help_text,
                value=values.get(f.name, ""),
                error=errors.get(f.name, ""),
                choices=tuple((c, c.replace("_", " ").capitalize()) for c in INBOUND_OVERRIDE_CHOICES)
                if f.name == "inbound_override"
                else (),
            )
        )
    return out


def _current_draft() -> RuleSet | None:
    return RuleSet.objects.filter(status=RuleSetStatus.DRAFT).order_by("-version").first()


def _form_value(raw: str) -> Any:
    """A whole number when the text is one; anything else goes to Policy.from_dict as typed, to be refused there."""
    text = raw.strip()
    return int(text) if text.isdigit() else text


@require_http_methods(["GET", "POST"])
@manager_required
def settings_page(request: HttpRequest) -> HttpResponse:
    """The policy of the newest draft rule set, edited with per-field errors; without a draft, offer one."""
    draft = _current_draft()
    published = published_rule_set()
    errors: dict[str, str] = {}
    saved = ""
    values: dict[str, Any] = dict(draft.policy or {}) if draft else dict(published.policy if published else {})
    calendar = draft.calendar if draft else (published.calendar if published else "US")
    status = 200
    if request.method == "POST":
        if draft is None:
            errors["__all__"] = "There is no draft to change: make one from the published rule set first."
            status = invalid_status(request)
        else:
            actor = console_actor(request)
            assert actor is not None  # manager_required
            values = {f.name: _form_value(request.POST.get(f.name, "")) for f in fields(Policy)}
            calendar = request.POST.get("calendar", "").strip().upper()
            try:
                update_policy(version=draft.version, values=values, calendar=calendar, actor=actor, now=timezone.now())
            except ServiceErrors as exc:
                errors = {e.field or "__all__": e.message for e in exc.errors}
                status = invalid_status(request)
            except ServiceError as exc:
                errors = {exc.field if exc.field in values or exc.field == "calendar" else "__all__": exc.message}
                status = invalid_status(request)
            else:
                saved = f"Saved the policy of draft v{draft.version}."
                if not getattr(request, "htmx", False):
                    messages.success(request, saved)
                    return redirect("console:settings")
                draft.refresh_from_db()
                values, calendar = dict(draft.policy), draft.calendar
    context = {
        "nav": "settings",
        "draft": draft,
        "published": published,
        "policy_fields": _policy_fields(values, errors),
        "calendar": calendar,
        "calendar_error": errors.get("calendar", ""),
        "form_error": errors.get("__all__", ""),
        "saved": saved,
        "error_count": len(errors),
        "territories_url": url_if_exists("console:territories"),
        "new_draft_url": url_if_exists("console:territory_draft", published.version) if published else None,
    }
    return render_page(request, "console/settings.html", context, partial="policy", status=status)


# Cross-domain console screens register here; see web_urls.
ops_patterns: list[URLPattern | URLResolver] = [
    path("jobs/", jobs, name="jobs"),
    path("jobs/<slug:job>/run/", run_job, name="job_run"),
    path("metrics/", metrics_page, name="metrics"),
    path("metrics/<slug:metric>.csv", metrics_csv, name="metrics_csv"),
    path("settings/", settings_page, name="settings"),
]

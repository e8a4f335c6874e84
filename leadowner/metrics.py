"""What managers measure, and what needs them now: pure reads, each a few aggregate queries.

Nothing here loops over leads in Python: every figure is one SQL aggregate (grouped by
day, rep or territory at most), so a screen costs the same number of queries whatever
the size of the book. Percentiles are *nearest rank*: the smallest observed value with
at least p of the values at or below it (CUME_DIST() >= p), the same on PostgreSQL and
SQLite, and always a time some lead really took.

Definitions (the screen repeats them in words):

- **time to assignment**: from a lead's arrival (`received_at`) to its first SALES owner
  (`first_assigned_at`, stamped once by the ownership writes; routing 0008 filled it in
  from the history for older leads), for leads received in the period;
- **time to first touch**: from that first assignment to the first activity on the lead
  (`first_touch_at`; a touch before the assignment counts as zero);
- **unassigned**: leads with no current SALES owner (the unassigned queue);
- **reassignment rate**: leads received in the period with more than one SALES ownership
  change / leads received in the period; **assignment accuracy**: leads routed once and
  never moved (exactly one change) / leads assigned at all;
- **dispute rate**: disputes opened in the period / records (accounts and leads) with a
  current owner; **SLA compliance**: disputes resolved in the period by their deadline
  and never escalated / disputes resolved in the period;
- **forfeits per rep**: history rows of the forfeit job that take a lead from a rep;
- **open load**: current SALES ownership of leads in an open stage (routing's load);
- **pipeline**: the sum of OPEN opportunity amounts;
- **load variance across territories**: the population variance, over the published
  territories with members, of open leads per member (the rebalancing signal).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, CumeDist, TruncDate

from disputes.models import Dispute, DisputeStatus
from leadowner.calendar import add_business_hours
from routing.models import (
    DealRegistration,
    DealRegistrationStatus,
    Lead,
    Opportunity,
    OpportunityStatus,
    OwnerRole,
    Ownership,
    OwnershipChange,
    RebalancePlan,
    RebalancePlanStatus,
)
from routing.selectors.loads import open_load_annotation, open_load_counts
from routing.services.forfeits import FORFEIT_ACTOR, due_forfeits
from territories.models import Rep, RepStatus, RuleSetStatus, Territory, TerritoryMember
from territories.selectors import policy_of, published_rule_set

UNRESOLVED = (DisputeStatus.OPEN, DisputeStatus.ESCALATED)
DISPUTE_WARNING_BUSINESS_HOURS = 8
FORFEIT_WARNING = timedelta(days=2)
DEFAULT_CALENDAR = "US"

# Histogram buckets of a duration: (upper bound, exclusive; None = no bound), label.
DURATION_BUCKETS: tuple[tuple[timedelta | None, str], ...] = (
    (timedelta(minutes=5), "under 5 minutes"),
    (timedelta(hours=1), "5 to 60 minutes"),
    (timedelta(hours=4), "1 to 4 hours"),
    (timedelta(days=1), "4 to 24 hours"),
    (timedelta(days=3), "1 to 3 days"),
    (None, "3 days or more"),
)


@dataclass(frozen=True)
class Period:
    """[start, end): the metrics screen's period, in UTC."""

    start: datetime
    end: datetime
    label: str

    @classmethod
    def last_days(cls, days: int, *, now: datetime) -> Period:
        return cls(now - timedelta(days=days), now, f"last {days} days")

    @classmethod
    def between(cls, first: date, last: date) -> Period:
        """Whole UTC days from `first` to `last`, both included."""
        start = datetime.combine(first, time(0), tzinfo=UTC)
        end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)
        return cls(start, end, f"{first.isoformat()} to {last.isoformat()}")

    def days(self) -> list[date]:
        first, last = self.start.astimezone(UTC).date(), (self.end - timedelta(microseconds=1)).astimezone(UTC).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def ratio(part: int | float | Decimal, whole: int | float | Decimal) -> float | None:
    """part / whole, or None when there is nothing to divide by."""
    return float(part) / float(whole) if whole else None


# --- the shared rules -----------------------------------------------------------------------------


def unassigned_leads() -> QuerySet[Lead]:
    """Leads with no current SALES owner: the unassigned queue managers watch."""
    owned = Ownership.objects.filter(lead=OuterRef("pk"), role=OwnerRole.SALES, ended_at__isnull=True)
    return Lead.objects.filter(~Exists(owned))


def unassigned_leads_count() -> int:
    return unassigned_leads().count()


def forfeit_risk(*, now: datetime, window_days: int | None = None) -> QuerySet[Ownership]:
    """Owned leads the forfeit job will take within two days if nothing happens: about to be forfeited.

    The forfeit job's own rule (routing.services.forfeits.due_forfeits: only the owner's
    calls, emails and meetings reset the clock; an open opportunity protects), asked two
    days ahead, so the home count and the job can never disagree.
    """
    if window_days is None:
        window_days = policy_of(published_rule_set()).activity_window_days
    return due_forfeits(now=now + FORFEIT_WARNING, window=timedelta(days=window_days))


def over_capacity_reps() -> QuerySet[Rep]:
    """Reps still here whose open load is above their capacity."""
    return (
        Rep.objects.exclude(status=RepStatus.DEPARTED)
        .filter(capacity__isnull=False)
        .alias(load=open_load_annotation())
        .filter(load__gt=F("capacity"))
    )


_page: ContextVar[dict[str, Any] | None] = ContextVar("metrics_page", default=None)


@contextmanager
def one_page() -> Iterator[None]:
    """Within the block, a figure several metrics use (the reps' open loads) is read once."""
    token = _page.set({})
    try:
        yield
    finally:
        _page.reset(token)


def open_loads_by_rep() -> dict[int, int]:
    """Every rep's open load, {rep id: open leads}, in one grouped read (reps with none are absent).

    Measured on the 1M bench book (500 reps, 165k open lead ownerships): 54 ms, where asking
    each rep's load in a correlated subquery (open_load_annotation) took 251 ms for all of them. Read
    once per `one_page()` (the metrics page's rep loads and territory loads share it).
    """
    page = _page.get()
    if page is not None and "open_loads" in page:
        return dict(page["open_loads"])
    rows = open_load_counts()
    loads = {rep_id: n for rep_id, n in rows if rep_id is not None}
    if page is not None:
        page["open_loads"] = dict(loads)
    return loads


def over_capacity_count() -> int:
    """How many reps over_capacity_reps() lists, in two grouped reads instead of a count per rep."""
    loads = open_loads_by_rep()
    capacities = Rep.objects.exclude(status=RepStatus.DEPARTED).filter(capacity__isnull=False)
    over = [pk for pk, capacity in capacities.values_list("pk", "capacity") if loads.get(pk, 0) > (capacity or 0)]
    return len(over)


# --- home: what needs a manager now ----------------------------------------------------------------


@dataclass(frozen=True)
class Attention:
    unassigned_leads: int
    disputes_overdue: int
    disputes_due_soon: int  # due within DISPUTE_WARNING_BUSINESS_HOURS business hours, not yet overdue
    registrations_pending: int
    leads_at_risk: int
    reps_over_capacity: int
    rebalance_plans_pending: int  # DRAFT plans: proposed moves waiting for a manager to apply or discard


def needs_attention(*, now: datetime) -> Attention:
    """The home screen's counts: seven queries (the published rule set, then one per figure or two)."""
    rule_set = published_rule_set()
    calendar = rule_set.calendar if rule_set is not None else DEFAULT_CALENDAR
    soon = add_business_hours(now, DISPUTE_WARNING_BUSINESS_HOURS, country=calendar)
    disputes = Dispute.objects.filter(status__in=UNRESOLVED).aggregate(
        overdue=Count("pk", filter=Q(due_at__lte=now)),
        soon=Count("pk", filter=Q(due_at__gt=now, due_at__lt=soon)),
    )
    return Attention(
        unassigned_leads=unassigned_leads_count(),
        disputes_overdue=disputes["overdue"],
        disputes_due_soon=disputes["soon"],
        registrations_pending=DealRegistration.objects.filter(status=DealRegistrationStatus.PENDING).count(),
        # .order_by(): the sweep's order is for taking leads oldest first; a count needs no sort.
        leads_at_risk=forfeit_risk(now=now, window_days=policy_of(rule_set).activity_window_days).order_by().count(),
        reps_over_capacity=over_capacity_count(),
        rebalance_plans_pending=RebalancePlan.objects.filter(status=RebalancePlanStatus.DRAFT).count(),
    )


# --- durations -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DurationStats:
    count: int
    median: timedelta | None
    p90: timedelta | None
    buckets: list[tuple[str, int]]


class PercentileDisc(Aggregate):
    """PostgreSQL's nearest-rank percentile: the first value at or past fraction p of the ordered values."""

    function = "PERCENTILE_DISC"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


def _bucket_counts(d: str, only: Q) -> dict[str, Count]:
    """The histogram of duration `d` as conditional counts: {"b0": Count, ...} over rows matching `only`."""
    counts: dict[str, Count] = {}
    lower: timedelta | None = None
    for i, (upper, _label) in enumerate(DURATION_BUCKETS):
        condition = only
        if lower is not None:
            condition &= Q(**{f"{d}__gte": lower})
        if upper is not None:
            condition &= Q(**{f"{d}__lt": upper})
        counts[f"b{i}"] = Count("received_at", filter=condition)
        lower = upper
    return counts


def _stats_of(row: dict[str, Any], prefix: str = "") -> DurationStats:
    return DurationStats(
        count=row[f"{prefix}n"],
        median=row[f"{prefix}p50"],
        p90=row[f"{prefix}p90"],
        buckets=[(label, row[f"{prefix}b{i}"]) for i, (_upper, label) in enumerate(DURATION_BUCKETS)],
    )


def _duration_stats(leads: QuerySet[Lead], duration: Any) -> DurationStats:
    """Count, nearest-rank median and p90, and the histogram of `duration` over `leads` (one query).

    SQLite's way (PostgreSQL's is `_durations_on_postgresql`): CUME_DIST() over a window, the
    same definition as PERCENTILE_DISC: the smallest value with at least p of the values at
    or below it.
    """
    ranked = leads.annotate(d=duration).annotate(cume=Window(CumeDist(), order_by=F("d").asc()))
    row = ranked.aggregate(
        n=Count("pk"),
        p50=Min("d", filter=Q(cume__gte=0.5)),
        p90=Min("d", filter=Q(cume__gte=0.9)),
        **_bucket_counts("d", Q(pk__isnull=False)),
    )
    return _stats_of(row)


def _durations_on_postgresql(period: Period) -> tuple[DurationStats, DurationStats]:
    """Time to assignment and time to first touch in one pass over the period's leads.

    PostgreSQL ranks with PERCENTILE_DISC (one sort per figure) and takes both figures
    from the same scan of the period's leads, each over its own leads (FILTER): on the
    400k-account bench book (100,000 leads) two queries took 58 + 45 ms. On the 1M book
    the window SQLite uses cost 0.39 s of the 0.75 s this took for 125k leads.
    """
    assigned = Q(first_assigned_at__isnull=False)
    touched = assigned & Q(first_touch_at__isnull=False)
    aggregates: dict[str, Any] = {}
    for prefix, d, only in (("a_", "assignment", assigned), ("t_", "touch", touched)):
        aggregates[f"{prefix}n"] = Count("received_at", filter=only)
        aggregates |= {f"{prefix}{key}": count for key, count in _bucket_counts(d, only).items()}
        for name, fraction in (("p50", 0.5), ("p90", 0.9)):
            aggregates[f"{prefix}{name}"] = PercentileDisc(d, fraction, filter=only, output_field=DurationField())
    row = _received_in(period).annotate(assignment=_assignment_wait(), touch=_touch_wait()).aggregate(**aggregates)
    return _stats_of(row, "a_"), _stats_of(row, "t_")


def _durations(period: Period) -> tuple[DurationStats, DurationStats]:
    """(time to assignment, time to first touch) of the period, read once per `one_page()`."""
    page = _page.get()
    key = f"durations {period.start.isoformat()} {period.end.isoformat()}"
    if page is not None and key in page:
        return page[key]
    found = _durations_on_postgresql(period)
    if page is not None:
        page[key] = found
    return found


def _received_in(period: Period) -> QuerySet[Lead]:
    return Lead.objects.filter(received_at__gte=period.start, received_at__lt=period.end)


def _assignment_wait() -> Case:
    """Arrival to first owner (a first owner stamped before the arrival counts as zero)."""
    waited = ExpressionWrapper(F("first_assigned_at") - F("received_at"), output_field=DurationField())
    return Case(
        When(first_assigned_at__lt=F("received_at"), then=Value(timedelta(0))),
        default=waited,
        output_field=DurationField(),
    )


def _touch_wait() -> Case:
    """First assignment to first touch (a touch before the assignment counts as zero)."""
    waited = ExpressionWrapper(F("first_touch_at") - F("first_assigned_at"), output_field=DurationField())
    return Case(
        When(first_touch_at__lt=F("first_assigned_at"), then=Value(timedelta(0))),
        default=waited,
        output_field=DurationField(),
    )


def time_to_assignment(period: Period) -> DurationStats:
    """Arrival to first owner, for the leads received in the period that got one (one query)."""
    if connection.vendor == "postgresql":
        return _durations(period)[0]
    return _duration_stats(_received_in(period).filter(first_assigned_at__isnull=False), _assignment_wait())


def time_to_first_touch(period: Period) -> DurationStats:
    """First assignment to first activity, for the leads received in the period that were touched (one query)."""
    if connection.vendor == "postgresql":
        return _durations(period)[1]
    leads = _received_in(period).filter(first_touch_at__isnull=False, first_assigned_at__isnull=False)
    return _duration_stats(leads, _touch_wait())


# --- leads per day, reassignments ------------------------------------------------------------------


@dataclass(frozen=True)
class DayCount:
    day: date
    received: int
    unassigned: int


def leads_by_day(period: Period) -> list[DayCount]:
    """Per day of the period: leads received, and how many of them have no SALES owner now (two queries).

    Two grouped reads, not one with a conditional count: counting "no owner" inside the
    day's count made PostgreSQL probe the owners once per lead (a subplan), where the
    unassigned leads alone are an anti-join it hashes; on the 400k-account bench book
    (50k leads in 30 days) 95 ms -> 18 + 53 ms.
    """
    day = TruncDate("received_at", tzinfo=UTC)
    received = dict(
        _received_in(period).annotate(day=day).order_by().values("day").annotate(n=Count("*")).values_list("day", "n")
    )
    owned = Ownership.objects.filter(lead=OuterRef("pk"), role=OwnerRole.SALES, ended_at__isnull=True)
    unassigned = dict(
        _received_in(period)
        .filter(~Exists(owned))
        .annotate(day=day)
        .order_by()
        .values("day")
        .annotate(n=Count("*"))
        .values_list("day", "n")
    )
    return [DayCount(d, received.get(d, 0), unassigned.get(d, 0)) for d in period.days()]


@dataclass(frozen=True)
class Reassignments:
    leads: int
    never_assigned: int  # no SALES ownership change at all
    routed_once: int  # exactly one: routed once and never moved
    moved: int  # more than one

    @property
    def rate(self) -> float | None:
        return ratio(self.moved, self.leads)

    @property
    def accuracy(self) -> float | None:
        return ratio(self.routed_once, self.routed_once + self.moved)


def reassignments(period: Period) -> Reassignments:
    """SALES ownership changes per lead received in the period, counted up to the period's end (one query)."""
    changes = Count(
        "ownership_changes",
        filter=Q(ownership_changes__role=OwnerRole.SALES, ownership_changes__at__lt=period.end),
    )
    row = (
        _received_in(period)
        .annotate(n=changes)
        .aggregate(
            leads=Count("pk"),
            zero=Count("pk", filter=Q(n=0)),
            once=Count("pk", filter=Q(n=1)),
            moved=Count("pk", filter=Q(n__gt=1)),
        )
    )
    return Reassignments(leads=row["leads"], never_assigned=row["zero"], routed_once=row["once"], moved=row["moved"])


# --- disputes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisputeStats:
    opened: int
    owned_records: int
    resolved: int
    resolved_on_time: int
    overdue_now: int

    @property
    def rate(self) -> float | None:
        return ratio(self.opened, self.owned_records)

    @property
    def sla_compliance(self) -> float | None:
        return ratio(self.resolved_on_time, self.resolved)


def dispute_stats(period: Period, *, now: datetime) -> DisputeStats:
    """Disputes opened and resolved in the period, against the records owned now (three queries)."""
    # Distinct records from the one-owner-per-record-and-role indexes (index-only scans): a
    # COUNT(DISTINCT) of both columns over every current ownership took 80-95 ms at 400k
    # ownerships, these two 46 + 10 ms.
    current = Ownership.objects.filter(ended_at__isnull=True).order_by()
    owned = {
        "accounts": current.filter(account__isnull=False).values("account_id").distinct().count(),
        "leads": current.filter(lead__isnull=False).values("lead_id").distinct().count(),
    }
    in_period = Q(resolved_at__gte=period.start, resolved_at__lt=period.end)
    row = Dispute.objects.aggregate(
        opened=Count("pk", filter=Q(opened_at__gte=period.start, opened_at__lt=period.end)),
        resolved=Count("pk", filter=in_period),
        on_time=Count("pk", filter=in_period & Q(resolved_at__lte=F("due_at"), escalated_at__isnull=True)),
        overdue=Count("pk", filter=Q(status__in=UNRESOLVED, due_at__lte=now)),
    )
    return DisputeStats(
        opened=row["opened"],
        owned_records=owned["accounts"] + owned["leads"],
        resolved=row["resolved"],
        resolved_on_time=row["on_time"],
        overdue_now=row["overdue"],
    )


# --- per rep ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepCount:
    rep_id: int | None
    name: str
    value: int


def forfeits_per_rep(period: Period) -> list[RepCount]:
    """Leads the forfeit job took from each rep in the period, most first (one query)."""
    rows = (
        OwnershipChange.objects.filter(
            actor=FORFEIT_ACTOR, from_rep__isnull=False, at__gte=period.start, at__lt=period.end
        )
        .order_by()
        .values("from_rep_id", "from_rep__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "from_rep__name", "from_rep_id")
    )
    return [RepCount(row["from_rep_id"], row["from_rep__name"], row["n"]) for row in rows]


@dataclass(frozen=True)
class RepLoad:
    rep_id: int
    name: str
    status: str
    load: int
    capacity: int | None


def loads_against_capacity() -> list[RepLoad]:
    """Open load and capacity of every rep still here who has a capacity or a load (two queries)."""
    loads = open_loads_by_rep()
    reps = (
        Rep.objects.exclude(status=RepStatus.DEPARTED)
        .order_by("name", "pk")
        .values_list("pk", "name", "status", "capacity")
    )
    return [
        RepLoad(pk, name, status, loads.get(pk, 0), capacity)
        for pk, name, status, capacity in reps
        if capacity is not None or loads.get(pk, 0) > 0
    ]


@dataclass(frozen=True)
class RepAmount:
    rep_id: int | None
    name: str
    opportunities: int
    amount: Decimal


@dataclass(frozen=True)
class Pipeline:
    total: Decimal
    opportunities: int
    per_owner: list[RepAmount]


def pipeline() -> Pipeline:
    """Open opportunities' amounts, in total and per owner, largest first (one query)."""
    rows = (
        Opportunity.objects.filter(status=OpportunityStatus.OPEN)
        .order_by()
        .values("owner_id", "owner__name")
        .annotate(n=Count("pk"), amount=Coalesce(Sum("amount"), Value(Decimal(0))))
        .order_by("-amount", "owner__name", "owner_id")
    )
    per_owner = [
        RepAmount(row["owner_id"], row["owner__name"] or "no owner", row["n"], Decimal(row["amount"])) for row in rows
    ]
    return Pipeline(
        total=sum((r.amount for r in per_owner), Decimal(0)),
        opportunities=sum(r.opportunities for r in per_owner),
        per_owner=per_owner,
    )


# --- territories -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TerritoryLoad:
    territory_id: int
    name: str
    members: int
    capacity: int | None  # None when a member has no limit
    load: int

    @property
    def per_member(self) -> float | None:
        return ratio(self.load, self.members)


@dataclass(frozen=True)
class TerritoryLoads:
    territories: list[TerritoryLoad]

    @property
    def variance(self) -> float | None:
        """Population variance of open leads per member across the territories with members."""
        values = [t.per_member for t in self.territories if t.per_member is not None]
        return round(statistics.pvariance(values), 4) if len(values) > 1 else None


def territory_loads() -> TerritoryLoads:
    """Each published territory's members (not departed), their capacity and open load (three queries).

    A rep in two territories counts in both: each territory is judged by the people it routes to.
    """
    here = Q(memberships__rep__status__in=(RepStatus.ACTIVE, RepStatus.OUT_OF_OFFICE))
    territories = list(
        Territory.objects.filter(rule_set__status=RuleSetStatus.PUBLISHED)
        .annotate(
            member_count=Count("memberships", filter=here),
            capacity=Sum("memberships__rep__capacity", filter=here),
            unlimited=Count("memberships", filter=here & Q(memberships__rep__capacity__isnull=True)),
        )
        .order_by("position", "name")
        .values("pk", "name", "member_count", "capacity", "unlimited")
    )
    rep_loads = open_loads_by_rep()
    members = TerritoryMember.objects.filter(
        territory__rule_set__status=RuleSetStatus.PUBLISHED,
        rep__status__in=(RepStatus.ACTIVE, RepStatus.OUT_OF_OFFICE),
    ).values_list("territory_id", "rep_id")
    loads: dict[int, int] = {}
    for territory_id, rep_id in members:
        loads[territory_id] = loads.get(territory_id, 0) + rep_loads.get(rep_id, 0)
    return TerritoryLoads(
        [
            TerritoryLoad(
                territory_id=t["pk"],
                name=t["name"],
                members=t["member_count"],
                capacity=None if t["unlimited"] else int(t["capacity"] or 0),
                load=loads.get(t["pk"], 0),
            )
            for t in territories
        ]
    )

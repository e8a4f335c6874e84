"""Metrics: exact figures on a small factory-built book, charts that explain themselves, CSV, constant queries."""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse

from leadowner import metrics
from leadowner.actors import Actor
from leadowner.charts import Series, bar_chart, line_chart
from leadowner.metrics import Period
from leadowner.views import parse_period
from routing.models import Lead, OwnershipChange
from routing.services.forfeits import FORFEIT_ACTOR
from territories.models import Rep
from tests.factories import (
    AccountFactory,
    DisputeFactory,
    LeadFactory,
    ManagerFactory,
    OpportunityFactory,
    OwnershipFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2024, 6, 12, 12, 0, tzinfo=UTC)  # a Wednesday
WEEK = Period.last_days(7, now=NOW)
# The screens take the real clock: whole days around NOW hold the same leads as WEEK.
BOOK_DAYS = {"from": "2024-06-05", "to": "2024-06-12"}


@dataclass
class Book:
    ada: Rep
    bo: Rep
    cy: Rep


def _changed(
    lead: Lead, at: datetime, *, to: Rep | None = None, frm: Rep | None = None, actor: str = "routing"
) -> None:
    OwnershipChange.objects.create(
        lead=lead, at=at, role="SALES", from_rep=frm, to_rep=to, step="TERRITORY", reason="test", actor=actor
    )


def _lead(received: datetime, **extra: object) -> Lead:
    return LeadFactory(received_at=received, **extra)


@pytest.fixture
def book() -> Book:
    ada = RepFactory(name="Ada", capacity=2)
    bo = RepFactory(name="Bo", capacity=10)
    cy = RepFactory(name="Cy", capacity=None)

    # L1: assigned after 2 minutes, touched an hour later; routed once.
    r1 = NOW - timedelta(days=3)
    l1 = _lead(
        r1,
        assigned_at=r1 + timedelta(minutes=2),
        first_assigned_at=r1 + timedelta(minutes=2),
        first_touch_at=r1 + timedelta(minutes=62),
    )
    _changed(l1, r1 + timedelta(minutes=2), to=ada)
    OwnershipFactory(account=None, lead=l1, rep=ada, since=r1 + timedelta(minutes=2))
    # L2: assigned after 30 minutes, touched 3 hours later, then forfeited from Ada and routed to Bo.
    r2 = NOW - timedelta(days=2)
    l2 = _lead(
        r2,
        assigned_at=r2 + timedelta(days=1),
        first_assigned_at=r2 + timedelta(minutes=30),
        first_touch_at=r2 + timedelta(minutes=210),
        stage="CONTACTED",
    )
    _changed(l2, r2 + timedelta(minutes=30), to=ada)
    _changed(l2, r2 + timedelta(days=1), frm=ada, actor=FORFEIT_ACTOR)
    _changed(l2, r2 + timedelta(days=1), to=bo, actor=FORFEIT_ACTOR)
    OwnershipFactory(account=None, lead=l2, rep=bo, since=r2 + timedelta(days=1))
    # L3: assigned after 2 hours, never touched.
    r3 = NOW - timedelta(days=1)
    l3 = _lead(r3, assigned_at=r3 + timedelta(hours=2), first_assigned_at=r3 + timedelta(hours=2))
    _changed(l3, r3 + timedelta(hours=2), to=ada)
    OwnershipFactory(account=None, lead=l3, rep=ada, since=r3 + timedelta(hours=2))
    # L4: never assigned.
    _lead(NOW - timedelta(hours=20))
    # L6: assigned after 10 hours (touched before that), then transferred to Cy; won.
    r6 = NOW - timedelta(days=4)
    l6 = _lead(
        r6,
        assigned_at=r6 + timedelta(hours=11),
        first_assigned_at=r6 + timedelta(hours=10),
        first_touch_at=r6 + timedelta(hours=1),
        stage="WON",
    )
    _changed(l6, r6 + timedelta(hours=10), to=bo)
    _changed(l6, r6 + timedelta(hours=11), frm=bo, to=cy, actor=ada.email)
    OwnershipFactory(account=None, lead=l6, rep=cy, since=r6 + timedelta(hours=11))
    # L5: received before the period: in no period figure.
    r5 = NOW - timedelta(days=10)
    l5 = _lead(
        r5,
        assigned_at=r5 + timedelta(seconds=5),
        first_assigned_at=r5 + timedelta(seconds=5),
        first_touch_at=r5 + timedelta(seconds=6),
    )
    _changed(l5, r5 + timedelta(seconds=5), to=bo)
    # L7: received before the period, forfeited from Ada inside it, nobody took it.
    l7 = _lead(r5, first_assigned_at=r5)
    _changed(l7, r5, to=ada)
    _changed(l7, NOW - timedelta(days=1), frm=ada, actor=FORFEIT_ACTOR)
    # An older forfeit, before the period.
    _changed(l7, NOW - timedelta(days=9), frm=bo, actor=FORFEIT_ACTOR)

    # An account owned in two roles: one owned record.
    account = AccountFactory()
    OwnershipFactory(account=account, role="SALES", rep=ada)
    OwnershipFactory(account=account, role="ACCOUNT_MANAGER", rep=bo)
    return Book(ada, bo, cy)


def test_time_to_assignment_is_arrival_to_first_owner_with_nearest_rank_percentiles(book: Book) -> None:
    stats = metrics.time_to_assignment(WEEK)
    # 2 min, 30 min, 2 h, 10 h: the first assignment, not L2's or L6's later owner.
    assert stats.count == 4
    assert stats.median == timedelta(minutes=30)
    assert stats.p90 == timedelta(hours=10)
    assert stats.buckets == [
        ("under 5 minutes", 1),
        ("5 to 60 minutes", 1),
        ("1 to 4 hours", 1),
        ("4 to 24 hours", 1),
        ("1 to 3 days", 0),
        ("3 days or more", 0),
    ]


def test_time_to_first_touch_runs_from_the_first_assignment_and_an_earlier_touch_counts_as_zero(book: Book) -> None:
    stats = metrics.time_to_first_touch(WEEK)
    # L1 1 h, L2 3 h, L6 touched before it was assigned: 0. L3 was never touched.
    assert stats.count == 3
    assert stats.median == timedelta(hours=1)
    assert stats.p90 == timedelta(hours=3)
    assert dict(stats.buckets)["under 5 minutes"] == 1
    assert dict(stats.buckets)["1 to 4 hours"] == 2


def test_durations_without_leads_have_no_median() -> None:
    stats = metrics.time_to_assignment(WEEK)
    assert (stats.count, stats.median, stats.p90) == (0, None, None)


def test_unassigned_counts_leads_without_a_current_sales_owner_and_per_day(book: Book) -> None:
    assert metrics.unassigned_leads_count() == 3  # L4, L5 (never owned), L7 (forfeited, nobody took it)
    days = metrics.leads_by_day(WEEK)
    assert (days[0].day, days[-1].day) == (date(2024, 6, 5), date(2024, 6, 12))
    by_day = {d.day: (d.received, d.unassigned) for d in days}
    assert by_day[date(2024, 6, 11)] == (2, 1)  # L3 owned, L4 not
    assert by_day[date(2024, 6, 9)] == (1, 0)
    assert sum(d.received for d in days) == 5


def test_reassignment_rate_and_assignment_accuracy(book: Book) -> None:
    stats = metrics.reassignments(WEEK)
    assert (stats.leads, stats.never_assigned, stats.routed_once, stats.moved) == (5, 1, 2, 2)
    assert stats.rate == pytest.approx(0.4)  # L2 and L6 moved, of 5 leads
    assert stats.accuracy == pytest.approx(0.5)  # L1 and L3 routed once and never moved, of 4 assigned


def test_dispute_rate_and_sla_compliance(book: Book) -> None:
    ada, bo = book.ada, book.bo
    opened = NOW - timedelta(days=3)
    due = opened + timedelta(days=2)
    DisputeFactory(claimant=ada, opened_at=opened, due_at=due, status="RESOLVED", resolved_at=due - timedelta(hours=1))
    DisputeFactory(claimant=ada, opened_at=opened, due_at=due, status="RESOLVED", resolved_at=due + timedelta(hours=1))
    DisputeFactory(  # resolved before its (new) deadline, but it had escalated: the SLA was missed
        claimant=bo, opened_at=opened, due_at=due, status="RESOLVED", resolved_at=due - timedelta(hours=2),
        escalated_at=opened + timedelta(days=1),
    )  # fmt: skip
    DisputeFactory(claimant=bo, opened_at=opened, due_at=NOW - timedelta(hours=1), status="OPEN")
    DisputeFactory(  # opened before the period, resolved in it, in time
        claimant=bo, opened_at=NOW - timedelta(days=20), due_at=NOW - timedelta(days=1), status="RESOLVED",
        resolved_at=NOW - timedelta(days=2),
    )  # fmt: skip

    stats = metrics.dispute_stats(WEEK, now=NOW)
    # Owned records: leads L1, L2, L3, L6 and one account (owned in two roles).
    assert (stats.opened, stats.owned_records, stats.resolved, stats.resolved_on_time, stats.overdue_now) == (
        4,
        5,
        4,
        2,
        1,
    )
    assert stats.rate == pytest.approx(0.8)
    assert stats.sla_compliance == pytest.approx(0.5)


def test_forfeits_per_rep_count_what_the_forfeit_job_took_in_the_period(book: Book) -> None:
    rows = metrics.forfeits_per_rep(WEEK)
    assert [(r.name, r.value) for r in rows] == [("Ada", 2)]  # L2 and L7; Bo's forfeit is older
    assert rows[0].rep_id == book.ada.pk


def test_open_load_against_capacity_counts_open_sales_leads(book: Book) -> None:
    rows = {r.name: (r.load, r.capacity) for r in metrics.loads_against_capacity()}
    # Ada: L1, L3; Bo: L2 (contacted); Cy: L6 is won (not open) and Cy has no limit: not listed.
    assert rows == {"Ada": (2, 2), "Bo": (1, 10)}
    assert list(metrics.over_capacity_reps()) == []
    assert metrics.over_capacity_count() == 0
    # One more open lead makes Ada over capacity.
    OwnershipFactory(account=None, lead=LeadFactory(received_at=NOW), rep=book.ada)
    assert list(metrics.over_capacity_reps()) == [book.ada]
    assert metrics.over_capacity_count() == 1


def test_pipeline_sums_open_opportunity_amounts_per_owner(book: Book) -> None:
    OpportunityFactory(owner=book.ada, amount=Decimal("1000.00"))
    OpportunityFactory(owner=book.ada, amount=Decimal("500.50"))
    OpportunityFactory(owner=book.bo, amount=Decimal("200.00"))
    OpportunityFactory(owner=book.bo, amount=Decimal("9999.00"), status="WON")
    OpportunityFactory(owner=None, amount=Decimal("50.00"))
    OpportunityFactory(owner=book.cy, amount=None)

    found = metrics.pipeline()
    assert found.total == Decimal("1750.50")
    assert found.opportunities == 5
    assert [(r.name, r.opportunities, r.amount) for r in found.per_owner] == [
        ("Ada", 2, Decimal("1500.50")),
        ("Bo", 1, Decimal("200.00")),
        ("no owner", 1, Decimal("50.00")),
        ("Cy", 1, Decimal("0")),
    ]


def test_load_variance_across_published_territories(book: Book) -> None:
    published = RuleSetFactory(status="PUBLISHED")
    t1 = TerritoryFactory(rule_set=published, name="T1", position=0)
    t2 = TerritoryFactory(rule_set=published, name="T2", position=1)
    TerritoryFactory(rule_set=published, name="T3 empty", position=2)
    t4 = TerritoryFactory(rule_set=published, name="T4 departed", position=3)
    TerritoryMemberFactory(territory=t1, rep=book.ada)
    TerritoryMemberFactory(territory=t1, rep=book.bo)
    TerritoryMemberFactory(territory=t2, rep=book.cy)
    TerritoryMemberFactory(territory=t4, rep=RepFactory(status="DEPARTED"))
    draft = TerritoryFactory(rule_set=RuleSetFactory(status="DRAFT"), name="T1")
    TerritoryMemberFactory(territory=draft, rep=book.ada)  # drafts do not count

    found = metrics.territory_loads()
    rows = {t.name: (t.members, t.capacity, t.load, t.per_member) for t in found.territories}
    assert rows == {
        "T1": (2, 12, 3, 1.5),
        "T2": (1, None, 0, 0.0),  # Cy has no limit; the won lead is not open
        "T3 empty": (0, 0, 0, None),
        "T4 departed": (0, 0, 0, None),
    }
    assert found.variance == pytest.approx(0.5625)  # of [1.5, 0.0]


def test_a_period_is_whole_utc_days_or_the_last_n_days() -> None:
    period, keep, errors = parse_period({"from": "2024-06-01", "to": "2024-06-03"}, now=NOW)
    assert (period.start, period.end) == (datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 6, 4, tzinfo=UTC))
    assert keep == {"from": "2024-06-01", "to": "2024-06-03"} and errors == {}
    assert len(period.days()) == 3

    period, keep, errors = parse_period({"days": "90"}, now=NOW)
    assert period.start == NOW - timedelta(days=90) and keep == {"days": "90"}

    period, _keep, errors = parse_period({"from": "2024-06-03", "to": "2024-06-01"}, now=NOW)
    assert errors == {"to": "The last day is before the first."}
    assert period.start == NOW - timedelta(days=30)
    _period, _keep, errors = parse_period({"days": "12"}, now=NOW)
    assert "days" in errors
    _period, _keep, errors = parse_period({"from": "yesterday", "to": "2024-06-01"}, now=NOW)
    assert "from" in errors


def test_a_bar_chart_is_an_image_with_a_title_and_values_written_as_text() -> None:
    chart = bar_chart(
        title="Forfeits <per rep>",
        description="Two reps.",
        labels=["Ada", "Bo & Co"],
        series=[Series("Forfeited", [3, 1])],
    )
    svg = str(chart.svg)
    assert 'role="img"' in svg and "aria-labelledby=" in svg
    assert "<title id=" in svg and "Forfeits &lt;per rep&gt;" in svg
    assert "Bo &amp; Co" in svg
    assert ">3</text>" in svg and ">1</text>" in svg
    assert chart.rows == [("Ada", ["3"]), ("Bo & Co", ["1"])]


def test_a_line_chart_tells_series_apart_by_dash_and_marker_not_only_colour() -> None:
    chart = line_chart(
        title="Leads",
        description="",
        labels=["d1", "d2", "d3"],
        series=[Series("A", [1, 2, 3]), Series("B", [0, 1, 0])],
    )
    svg = str(chart.svg)
    assert svg.count("<polyline") == 2
    assert 'stroke-dasharray="6 4"' in svg
    assert "<rect" in svg and "<circle" in svg  # square and round markers
    assert ">A</text>" in svg and ">B</text>" in svg  # a legend in words


@pytest.fixture
def client() -> Client:
    user = User.objects.create_user(username="mia", password="x")
    ManagerFactory(user=user)
    client = Client()
    client.force_login(user)
    return client


def test_the_metrics_page_draws_every_metric_with_a_hidden_table_and_a_csv_link(client: Client, book: Book) -> None:
    response = client.get(reverse("console:metrics"), BOOK_DAYS)
    html = response.content.decode()
    assert response.status_code == 200
    slugs = [block.slug for block in response.context["blocks"]]
    assert slugs == [
        "time-to-assignment",
        "time-to-first-touch",
        "unassigned",
        "reassignment",
        "disputes",
        "forfeits",
        "load",
        "pipeline",
        "territory-load",
    ]
    # No open opportunity and no published territory in this book: two charts have nothing to draw.
    assert html.count('role="img"') == 7
    assert html.count('<table class="visually-hidden">') == 7
    assert html.count("Nothing to chart.") == 2
    assert 'href="/metrics/forfeits.csv?from=2024-06-05&amp;to=2024-06-12"' in html
    figures = {block.slug: dict(block.figures) for block in response.context["blocks"]}
    assert figures["time-to-assignment"] == {"Leads": "4", "Median": "30 min", "90th percentile": "10.0 h"}
    assert figures["reassignment"]["Reassignment rate"] == "40.0%"
    assert figures["reassignment"]["Assignment accuracy"] == "50.0%"
    assert '<th scope="row">Ada</th><td>2</td>' in html  # forfeits, in the accessible table
    assert 'aria-current="page">Metrics<' in html


def test_the_period_picker_offers_7_30_and_90_days(client: Client) -> None:
    html = client.get(reverse("console:metrics"), {"days": "7"}).content.decode()
    assert '<input type="radio" name="days" value="7" checked>' in html
    assert 'name="days" value="90"' in html
    assert '<label for="period-from">From</label>' in html


def test_the_metrics_csv_has_the_numbers_behind_the_chart(client: Client, book: Book) -> None:
    response = client.get(reverse("console:metrics_csv", args=["time-to-assignment"]), BOOK_DAYS)
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="time-to-assignment-20240605-20240613.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["bucket", "leads"]
    assert ["under 5 minutes", "1"] in rows
    assert ["median_seconds", "1800"] in rows and ["p90_seconds", "36000"] in rows

    forfeits = client.get(reverse("console:metrics_csv", args=["forfeits"]), BOOK_DAYS)
    rows = list(csv.reader(io.StringIO(forfeits.content.decode())))
    assert rows == [["rep_id", "rep", "forfeited"], [str(book.ada.pk), "Ada", "2"]]
    assert client.get("/metrics/nonsense.csv").status_code == 404


def test_a_bad_period_says_why_and_shows_the_last_30_days(client: Client) -> None:
    response = client.get(reverse("console:metrics"), {"from": "2024-06-09", "to": "2024-06-01"})
    assert response.status_code == 400
    assert "The last day is before the first." in response.content.decode()
    assert response.context["period"].label == "last 30 days"
    htmx = client.get(reverse("console:metrics"), {"from": "x", "to": "y"}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200  # htmx swaps only successful answers
    assert "<html" not in htmx.content.decode()


def _bigger_book(n: int) -> None:
    reps = RepFactory.create_batch(n)
    published = RuleSetFactory(status="PUBLISHED")
    for i, rep in enumerate(reps):
        territory = TerritoryFactory(rule_set=published)
        TerritoryMemberFactory(territory=territory, rep=rep)
        at = NOW - timedelta(hours=i)
        lead = LeadFactory(received_at=NOW - timedelta(hours=i + 1), assigned_at=at, first_assigned_at=at)
        OwnershipFactory(account=None, lead=lead, rep=rep)
        _changed(lead, NOW - timedelta(hours=i), to=rep)
        _changed(lead, NOW - timedelta(hours=i), frm=rep, actor=FORFEIT_ACTOR)
        OpportunityFactory(owner=rep, amount=Decimal(100 * i))
        DisputeFactory(claimant=rep, opened_at=NOW - timedelta(days=1), due_at=NOW)


@pytest.mark.parametrize("size", [1, 12])
def test_the_metrics_page_costs_the_same_queries_whatever_the_book(
    client: Client, size: int, django_assert_num_queries: object
) -> None:
    _bigger_book(size)
    # session, user, rep | assignment and first touch (one query on PostgreSQL, two on SQLite) |
    # received by day, unassigned by day, unassigned count | reassignments | owned accounts, owned
    # leads, disputes | forfeits | loads by rep, reps | pipeline | territories, memberships | the
    # navigation's unread notifications. Loads are grouped reads (not a query per rep), read once.
    expected = 18 if connection.vendor == "postgresql" else 19
    with django_assert_num_queries(expected):  # type: ignore[operator]
        response = client.get(reverse("console:metrics"), {"days": "30"})
    assert response.status_code == 200


def test_a_metrics_csv_never_writes_a_cell_a_spreadsheet_would_run(client: Client, book: Book) -> None:
    Rep.objects.filter(name="Ada").update(name="=HYPERLINK(1)")
    body = client.get(reverse("console:metrics_csv", args=["forfeits"]), BOOK_DAYS).content.decode()
    assert "'=HYPERLINK(1)" in body
    assert not any(line.startswith("=") for line in body.splitlines())


def test_a_lead_s_first_assignment_is_stamped_once_whoever_gives_it_its_owner() -> None:
    from routing.services.forfeits import sweep_forfeits
    from routing.services.leads import LeadData, submit_lead
    from routing.services.queue_actions import assign_leads_by_hand
    from tests.factories import ManagerFactory
    from tests.jobs_support import us_map

    manager = ManagerFactory()
    ada, bo = RepFactory(name="Ada", manager=manager), RepFactory(name="Bo", manager=manager)
    us_map(ada, bo)
    routed, _ = submit_lead(
        data=LeadData(email="a@acme.example", country="US"), actor=Actor.system_actor("test"), now=NOW
    )
    waiting, _ = submit_lead(
        data=LeadData(email="b@nowhere.example", country="FR"), actor=Actor.system_actor("test"), now=NOW
    )
    assert (routed.first_assigned_at, waiting.first_assigned_at) == (NOW, None)

    later = NOW + timedelta(days=20)  # the routed lead is forfeited and routed again: its first assignment stays
    assert sweep_forfeits(now=later).counts == {"forfeited": 1}
    routed.refresh_from_db()
    assert (routed.first_assigned_at, routed.assigned_at) == (NOW, later)

    outcome = assign_leads_by_hand(
        lead_ids=[waiting.pk], to_rep_id=bo.pk, reason="French lead", actor=Actor(rep=manager), now=later
    )
    assert not outcome.refused, outcome
    waiting.refresh_from_db()
    assert waiting.first_assigned_at == later
    assert metrics.time_to_assignment(Period(NOW - timedelta(days=1), later, "both")).count == 2


def test_the_migration_fills_first_assignment_from_the_history_else_assigned_at(book: Book) -> None:
    import importlib

    from django.db import connection

    backfill = importlib.import_module("routing.migrations.0008_lead_first_assigned_at").BACKFILL
    expected = dict(Lead.objects.values_list("pk", "first_assigned_at"))
    Lead.objects.update(first_assigned_at=None)
    with connection.cursor() as cursor:
        cursor.execute(backfill)
    # The book's stamps are its history's first assignments; a lead with neither history nor
    # assigned_at (L4) stays empty.
    assert dict(Lead.objects.values_list("pk", "first_assigned_at")) == expected


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_metrics_page_reads_its_figures_side_by_side_with_the_same_answers(
    book: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside a transaction (as a served request) the page's parts run on connections of their own
    (leadowner.concurrent_reads); the figures are those of the same page read one part after the other."""
    from leadowner import concurrent_reads, views

    user = User.objects.create_user(username="mia-side", password="x")
    ManagerFactory(user=user)
    browser = Client()
    browser.force_login(user)
    threads: set[str] = set()
    build = views._build_metrics

    def spied(slugs: tuple[str, ...], period: Period, now: datetime) -> dict[str, Any]:
        threads.add(threading.current_thread().name)
        return build(slugs, period, now)

    monkeypatch.setattr(views, "_build_metrics", spied)
    load_reads = []
    read_loads = metrics.open_load_counts

    def counted() -> Any:
        load_reads.append(threading.current_thread().name)
        return read_loads()

    monkeypatch.setattr(metrics, "open_load_counts", counted)
    side_by_side = browser.get(reverse("console:metrics"), BOOK_DAYS)
    assert side_by_side.status_code == 200
    assert threads and all(name.startswith("side-by-side") for name in threads)
    # The page's cache (metrics.one_page) reaches the threads: the reps' open loads, which
    # two figures use, are read once.
    assert len(load_reads) == 1 and load_reads[0].startswith("side-by-side")

    threads.clear()
    monkeypatch.setattr(concurrent_reads, "side_by_side_possible", lambda: False)
    in_turn = browser.get(reverse("console:metrics"), BOOK_DAYS)
    assert threads == {threading.current_thread().name}

    def figures(response: Any) -> dict[str, tuple[list[tuple[str, str]], list[tuple[Any, ...]]]]:
        return {b.slug: (b.figures, b.rows) for b in response.context["blocks"]}

    assert figures(side_by_side) == figures(in_turn)
    assert figures(side_by_side)["time-to-assignment"][0] == [  # the book's figures, as the page above
        ("Leads", "4"),
        ("Median", "30 min"),
        ("90th percentile", "10.0 h"),
    ]


def test_the_metrics_page_parts_hold_every_metric_once() -> None:
    from leadowner.views import METRIC_PARTS, METRICS

    listed = [slug for part in METRIC_PARTS for slug in part]
    assert sorted(listed) == sorted(METRICS) and len(listed) == len(set(listed))

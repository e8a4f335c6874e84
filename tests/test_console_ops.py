"""Home (what needs a manager now), the jobs screen and the settings screen (the draft's policy)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from leadowner import metrics
from leadowner.beat import JOBS
from leadowner.celery import app
from leadowner.models import JobRun
from routing.models import RebalancePlan
from territories.models import RuleSet
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    DealRegistrationFactory,
    DisputeFactory,
    LeadFactory,
    ManagerFactory,
    OpportunityFactory,
    OwnershipFactory,
    RepFactory,
    RuleSetFactory,
)

pytestmark = pytest.mark.django_db

# A Friday evening: 8 business hours later is Monday 04:00 (the weekend does not count).
FRIDAY = datetime(2024, 6, 14, 20, 0, tzinfo=UTC)


@pytest.fixture
def client() -> Client:
    user = User.objects.create_user(username="mia", password="x")
    ManagerFactory(user=user)
    client = Client()
    client.force_login(user)
    return client


def _owned_lead(
    rep: object, *, since: datetime, last_activity: datetime | None = None, stage: str = "NEW", kind: str = "CALL"
) -> None:
    lead = LeadFactory(received_at=since, assigned_at=since, last_activity_at=last_activity, stage=stage)
    OwnershipFactory(account=None, lead=lead, rep=rep, since=since)
    if last_activity is not None:
        ActivityFactory(rep=rep, lead=lead, kind=kind, occurred_at=last_activity)


def test_disputes_due_within_8_business_hours_or_past_deadline_need_a_manager() -> None:
    RuleSetFactory(status="PUBLISHED", calendar="US")
    DisputeFactory(due_at=FRIDAY - timedelta(minutes=1))  # overdue
    DisputeFactory(due_at=FRIDAY + timedelta(hours=3))  # Friday 23:00: 3 business hours left
    DisputeFactory(due_at=FRIDAY + timedelta(days=1, hours=16))  # Sunday noon: 4 business hours left
    DisputeFactory(due_at=FRIDAY + timedelta(days=2, hours=7))  # Monday 03:00: 7 business hours left
    DisputeFactory(due_at=FRIDAY + timedelta(days=2, hours=9))  # Monday 05:00: 9, not yet
    DisputeFactory(due_at=FRIDAY - timedelta(days=1), status="RESOLVED")  # done
    found = metrics.needs_attention(now=FRIDAY)
    assert (found.disputes_overdue, found.disputes_due_soon) == (1, 3)


def test_leads_within_two_days_of_the_activity_window_are_about_to_be_forfeited(now: datetime) -> None:
    RuleSetFactory(status="PUBLISHED", policy={"activity_window_days": 14})
    rep = RepFactory()
    _owned_lead(rep, since=now - timedelta(days=12))  # at risk (12 + 2 >= 14)
    _owned_lead(rep, since=now - timedelta(days=20))  # past the window: next sweep takes it
    _owned_lead(rep, since=now - timedelta(days=11, hours=23))  # not yet
    _owned_lead(rep, since=now - timedelta(days=30), last_activity=now - timedelta(days=3))  # worked lately
    # A note is no meaningful activity (the forfeit job's rule): the lead is still at risk.
    _owned_lead(rep, since=now - timedelta(days=30), last_activity=now - timedelta(days=1), kind="NOTE")
    _owned_lead(rep, since=now - timedelta(days=30), stage="WON")  # closed
    protected = LeadFactory(received_at=now, account=AccountFactory())
    OpportunityFactory(account=protected.account)
    OwnershipFactory(account=None, lead=protected, rep=rep, since=now - timedelta(days=20))  # open deal: protected
    assert metrics.needs_attention(now=now).leads_at_risk == 3


def test_home_counts_what_needs_a_manager_now_each_linking_to_its_queue(client: Client, now: datetime) -> None:
    rule_set = RuleSetFactory(status="PUBLISHED")
    for status in ("DRAFT", "DISCARDED"):
        RebalancePlan.objects.create(rule_set=rule_set, status=status, created_at=now, created_by="Manager")
    LeadFactory.create_batch(2)  # unassigned
    DealRegistrationFactory.create_batch(3)  # pending
    DealRegistrationFactory(status="APPROVED")
    full = RepFactory(capacity=1)
    _owned_lead(full, since=now)
    _owned_lead(full, since=now - timedelta(days=13))  # over capacity, and one at risk
    DisputeFactory(due_at=now - timedelta(hours=1))

    response = client.get(reverse("console:home"))
    html = response.content.decode()
    needs = {count.label: count for count in response.context["needs"]}
    assert {label: count.value for label, count in needs.items()} == {
        "Unassigned leads": 2,
        "Disputes past deadline": 1,
        "Disputes due soon": 0,
        "Registrations to review": 3,
        "Leads about to be forfeited": 1,
        "Reps over capacity": 1,
        "Rebalancing plans to review": 1,
    }
    assert needs["Rebalancing plans to review"].url == "/rebalancing/?status=DRAFT"
    assert needs["Reps over capacity"].url == "/roster/?attention=over_capacity"
    assert needs["Leads about to be forfeited"].url == "/roster/?attention=at_risk"
    for count in needs.values():
        if count.url:
            assert f'href="{count.url}"' in html.replace("&amp;", "&")
    assert "Nothing to do: deadline within 8 business hours" in html


@pytest.mark.parametrize("size", [1, 10])
def test_home_costs_the_same_queries_whatever_the_book(
    client: Client, now: datetime, size: int, django_assert_num_queries: object
) -> None:
    for _ in range(size):
        rep = RepFactory(capacity=0)
        _owned_lead(rep, since=now - timedelta(days=13))
        DisputeFactory(due_at=now)
        DealRegistrationFactory()
    # session, user, rep | published rule set | disputes | unassigned | registrations | at risk |
    # over capacity (loads, capacities) | draft rebalancing plans | accounts, leads, reps: 15
    # (+1: the navigation counts the manager's unread notifications.)
    with django_assert_num_queries(15):  # type: ignore[operator]
        client.get(reverse("console:home"))


# --- jobs -------------------------------------------------------------------------------------------------


def test_the_jobs_screen_lists_every_sweep_with_its_last_run(client: Client) -> None:
    start = timezone.now() - timedelta(minutes=5)
    JobRun.objects.create(job="forfeits", started_at=start - timedelta(minutes=1), finished_at=start, ok=True)
    JobRun.objects.create(
        job="forfeits", started_at=start, finished_at=start + timedelta(seconds=2, milliseconds=500), ok=True,
        counts={"forfeited": 3, "changed_meanwhile": 1},
    )  # fmt: skip
    JobRun.objects.create(
        job="departures", started_at=start, finished_at=start + timedelta(seconds=1), ok=False,
        errors=["lead #4: the owner changed meanwhile", "Traceback (most recent call last): ..."],
    )  # fmt: skip
    JobRun.objects.create(job="claim_expiry", started_at=start)

    response = client.get(reverse("console:jobs"))
    html = response.content.decode()
    rows = {row.name: row for row in response.context["rows"]}
    assert [row.name for row in response.context["rows"]][: len(JOBS)] == [job.name for job in JOBS]
    assert rows["forfeits"].status == "ok" and rows["forfeits"].duration == "2.5 s"
    assert rows["forfeits"].counts == [("changed meanwhile", 1), ("forfeited", 3)]
    assert rows["departures"].status == "failed"
    assert rows["claim_expiry"].status == "running"
    assert rows["rebalancing"].status == "never run"
    assert '<span class="status status-failed">failed</span>' in html  # the status in words, not only colour
    assert "<summary>2 errors</summary>" in html and "the owner changed meanwhile" in html
    assert 'action="/jobs/forfeits/run/"' in html


def test_run_now_sends_the_sweep_to_the_worker(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    app.loader.import_default_modules()
    monkeypatch.setitem(app.conf, "task_always_eager", True)  # the "worker" runs it in this process
    response = client.post(reverse("console:job_run", args=["notification_emails"]))
    assert response.status_code == 302 and response["Location"] == reverse("console:jobs")
    run = JobRun.objects.get(job="notification_emails")
    assert run.ok and run.finished_at is not None
    assert "notification_emails was sent to the worker" in client.get(reverse("console:jobs")).content.decode()
    assert client.post(reverse("console:job_run", args=["nonsense"])).status_code == 404
    assert client.get(reverse("console:job_run", args=["forfeits"])).status_code == 405


def test_the_jobs_screen_refreshes_its_table_with_htmx(client: Client) -> None:
    page = client.get(reverse("console:jobs")).content.decode()
    # Every 15 s, but never while the keyboard is in the table or an error list is open (static/jobs.js:
    # an hx-trigger filter would be evaluated as a string, which the CSP refuses; tests/browser checks it).
    assert 'hx-trigger="every 15s"' in page and "/static/jobs.js" in page
    part = client.get(reverse("console:jobs"), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in part and "<caption>Last run of every sweep" in part


# --- settings -----------------------------------------------------------------------------------------------


def test_without_a_draft_settings_offers_one_from_the_published_rule_set(client: Client) -> None:
    published = RuleSetFactory(version=3, status="PUBLISHED")
    html = client.get(reverse("console:settings")).content.decode()
    assert "No draft to edit" in html and "Create draft from v3" in html
    response = client.post(reverse("console:territory_draft", args=[3]), {"next": "settings"})
    assert response["Location"] == reverse("console:settings")
    draft = RuleSet.objects.get(status="DRAFT")
    assert draft.policy == published.policy
    assert "Policy of draft v4" in client.get(reverse("console:settings")).content.decode()


def test_settings_edits_the_newest_drafts_policy(client: Client) -> None:
    RuleSetFactory(version=1, status="PUBLISHED")
    RuleSetFactory(version=2, status="DRAFT")
    draft = RuleSetFactory(version=3, status="DRAFT")
    page = client.get(reverse("console:settings")).content.decode()
    assert '<label for="id_activity_window_days">Activity window <span class="unit">(days)</span></label>' in page
    assert '<option value="existing_owner" selected>Existing owner</option>' in page

    values = {key: str(value) for key, value in draft.policy.items()}
    values.update(activity_window_days="21", calendar="de", inbound_override="requested_rep")
    response = client.post(reverse("console:settings"), values)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.calendar, draft.policy["activity_window_days"], draft.policy["inbound_override"]) == (
        "DE",
        21,
        "requested_rep",
    )
    assert RuleSet.objects.get(version=2).policy["activity_window_days"] == 14


def test_each_bad_setting_is_named_next_to_its_field_and_nothing_is_saved(client: Client) -> None:
    draft = RuleSetFactory(version=2, status="DRAFT")
    values = {key: str(value) for key, value in draft.policy.items()}
    values.update(activity_window_days="two weeks", fuzzy_threshold="30", calendar="Narnia")
    response = client.post(reverse("console:settings"), values)
    html = response.content.decode()
    assert response.status_code == 400
    assert "3 settings need fixing; nothing was saved." in html
    assert 'id="activity_window_days-error">must be a whole number' in html
    assert 'id="fuzzy_threshold-error">must be between 50 and 100<' in html
    assert 'id="calendar-error">unknown country' in html
    assert 'value="two weeks"' in html  # what was typed stays
    draft.refresh_from_db()
    assert draft.policy["fuzzy_threshold"] == 90

    htmx = client.post(reverse("console:settings"), values, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and "<html" not in htmx.content.decode()


@pytest.mark.parametrize("drafts", [1, 6])
def test_settings_cost_the_same_queries_whatever_the_versions(
    client: Client, drafts: int, django_assert_num_queries: object
) -> None:
    RuleSetFactory(status="PUBLISHED")
    RuleSetFactory.create_batch(drafts, status="DRAFT")
    # session, user, rep | newest draft | published | unread notifications (the navigation)
    with django_assert_num_queries(6):  # type: ignore[operator]
        client.get(reverse("console:settings"))


@pytest.mark.parametrize("runs", [1, 20])
def test_jobs_cost_the_same_queries_whatever_the_runs(
    client: Client, runs: int, django_assert_num_queries: object
) -> None:
    for job in JOBS:
        for i in range(runs):
            JobRun.objects.create(job=job.name, started_at=timezone.now() - timedelta(minutes=i), ok=True)
    # session, user, rep | latest ids | runs | unread notifications (the navigation)
    with django_assert_num_queries(6):  # type: ignore[operator]
        client.get(reverse("console:jobs"))

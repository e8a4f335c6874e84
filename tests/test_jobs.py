"""How jobs run: one beat schedule, thin reliable tasks, recorded runs, run_jobs, expiries; each change once."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

import disputes.tasks  # noqa: F401 -- registers the tasks, as the worker's autodiscovery does
from disputes.models import Dispute
from disputes.services import open_dispute
from leadowner.actors import Actor
from leadowner.beat import BEAT_SCHEDULE, JOBS, SWEEP_INTERVAL_SECONDS
from leadowner.celery import app
from leadowner.jobs import SweepResult, run_recorded, time_budget
from leadowner.models import JobRun
from leadowner.selectors_jobs import last_runs_per_job
from leadowner.tasks import run_sweep_task
from routing.models import DealRegistration, OwnershipChange
from routing.services.claims import claim_account
from routing.services.expiry import sweep_claim_expiry, sweep_registration_expiry
from routing.services.registrations import review_deal_registration
from routing.tasks import reassign_departed_rep
from territories.models import Rep
from tests.factories import (
    AccountFactory,
    DealRegistrationFactory,
    ManagerFactory,
    OwnershipFactory,
    PartnerUserFactory,
    RepFactory,
)
from tests.jobs_support import current_owner_of, owned_account, owned_lead, us_map

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday
LATER = T0 + timedelta(days=100)


def test_every_sweep_is_on_the_one_beat_schedule_every_minute():
    assert app.conf.beat_schedule == BEAT_SCHEDULE
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled == {job.task for job in JOBS}
    for entry in app.conf.beat_schedule.values():
        assert entry["schedule"] == SWEEP_INTERVAL_SECONDS == 60.0
        assert entry["options"]["expires"] < SWEEP_INTERVAL_SECONDS  # no backlog of identical sweeps after an outage
    assert {job.task for job in JOBS} <= set(app.tasks)


def test_every_task_acks_late_is_rejected_back_when_its_worker_dies_and_retries_with_backoff():
    ours = [t for name, t in app.tasks.items() if name.split(".")[0] in ("routing", "disputes", "leadowner")]
    assert len(ours) >= len(JOBS) + 3
    for task in ours:
        assert (task.name, task.acks_late, task.reject_on_worker_lost) == (task.name, True, True)
        assert OperationalError in task.autoretry_for
        assert task.retry_backoff and task.retry_jitter and task.max_retries == 5


@pytest.mark.redis
def test_a_task_held_by_a_killed_worker_is_delivered_again_within_seconds_not_the_default_hour():
    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] <= 60
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 5
    assert app.conf.worker_prefetch_multiplier == 1
    # A run stops and re-queues itself well before Redis would hand its message to another worker.
    assert time_budget() * 3 <= options["visibility_timeout"]


@pytest.mark.django_db
def test_every_run_is_recorded_with_its_start_finish_counts_and_errors():
    def fine(*, now: datetime) -> SweepResult:
        return SweepResult(counts={"done": 2}, errors=["lead #9: changed"], more=True)

    def broken(*, now: datetime) -> SweepResult:
        raise ValueError("boom")

    ok = run_recorded("fine", fine, now=T0)
    failed = run_recorded("broken", broken, now=T0)
    assert (ok.counts, ok.errors, ok.ok) == ({"done": 2, "more_due": 1}, ["lead #9: changed"], False)
    assert ok.started_at <= ok.finished_at
    assert (failed.ok, failed.errors[0]) == (False, "ValueError: boom")
    assert failed.finished_at is not None


@pytest.mark.django_db
def test_a_sweep_task_re_queues_itself_while_more_is_due_and_not_after():
    task = mock.Mock(name="task")
    results = iter([SweepResult(counts={"done": 5}, more=True), SweepResult(counts={"done": 1})])

    def sweep(*, now: datetime, batch_size: int) -> SweepResult:
        return next(results)

    with mock.patch("leadowner.tasks.send_now") as send:
        assert run_sweep_task(task, "test sweep", sweep, batch_size=5) == {"done": 5, "more_due": 1}
        assert send.call_args_list == [mock.call(task, batch_size=5)]
        assert run_sweep_task(task, "test sweep", sweep, batch_size=5) == {"done": 1}
        assert send.call_count == 1
    assert JobRun.objects.filter(job="test sweep").count() == 2


@pytest.mark.django_db
def test_tasks_take_ids_and_call_the_same_services_as_the_api():
    manager = ManagerFactory()
    dan = RepFactory(manager=manager, status="DEPARTED")
    account, _ = owned_account(dan, T0, country="FR")
    counts = reassign_departed_rep.apply(args=(dan.pk,)).get()
    assert counts == {"accounts_unowned": 1}
    assert current_owner_of(account=account) is None
    run = JobRun.objects.get(job="departure")
    assert (run.counts, run.ok) == ({"accounts_unowned": 1}, True)


@pytest.mark.django_db
def test_claims_and_registrations_expire_after_their_lifetimes_without_activity():
    us_map(policy={"claim_days": 30, "registration_days": 90})
    claimant = RepFactory()
    claimed = AccountFactory()
    claim_account(account=claimed, actor=Actor(rep=claimant), now=T0)
    registration = DealRegistrationFactory(partner=PartnerUserFactory().partner, expires_at=T0 + timedelta(days=90))
    review_deal_registration(
        registration_id=registration.pk, approve=True, reason="", actor=Actor(rep=ManagerFactory()), now=T0
    )
    registration.refresh_from_db()
    assert sweep_claim_expiry(now=T0 + timedelta(days=30) - timedelta(seconds=1)).counts == {"claims_expired": 0}
    assert sweep_claim_expiry(now=T0 + timedelta(days=30)).counts == {"claims_expired": 1}
    assert current_owner_of(account=claimed) is None
    due = registration.expires_at
    assert sweep_registration_expiry(now=due - timedelta(seconds=1)).counts == {"registrations_expired": 0}
    assert sweep_registration_expiry(now=due).counts == {"registrations_expired": 1}
    registration.refresh_from_db()
    assert registration.status == "EXPIRED"
    assert current_owner_of(account=registration.account, role="PARTNER") is None


def _everything_due():
    """One record due for every sweep (at LATER)."""
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    manager = ManagerFactory(name="Manager")
    dan = RepFactory(name="Dan", manager=manager)
    us_map(ada, bo)
    forfeit_lead, _ = owned_lead(ada, T0)
    claimed = AccountFactory()
    claim_account(account=claimed, actor=Actor(rep=bo), now=T0)
    registration = DealRegistrationFactory(partner=PartnerUserFactory().partner, expires_at=T0 + timedelta(days=30))
    owner_manager = ManagerFactory(name="Owner Manager")
    owner = RepFactory(manager=owner_manager)
    contested = AccountFactory()
    OwnershipFactory(account=contested, rep=owner, since=T0)
    dispute = open_dispute(account=contested, reason="mine", actor=Actor(rep=ada), now=T0)
    departed_account, _ = owned_account(dan, T0, country="FR")
    Rep.objects.filter(pk=dan.pk).update(status="DEPARTED")
    return {
        "forfeit_lead": forfeit_lead,
        "claimed": claimed,
        "registration": registration,
        "dispute": dispute,
        "departed_account": departed_account,
        "owner_manager": owner_manager,
        "bo": bo,
    }


@pytest.mark.django_db
def test_run_jobs_runs_every_sweep_now_records_each_run_and_prints_the_counts():
    due = _everything_due()
    out = io.StringIO()
    with mock.patch("django.utils.timezone.now", return_value=LATER), mock.patch("leadowner.tasks.send_now"):
        call_command("run_jobs", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines == [
        "forfeits: forfeited 1; 1 run(s), ok",
        "first_touch_sla: nothing due; 1 run(s), ok",
        "dispute_escalations: escalated 1; 1 run(s), ok",
        "claim_expiry: claims expired 1; 1 run(s), ok",
        "registration_expiry: registrations expired 1; 1 run(s), ok",
        "departures: accounts unowned 1, reps 1; 1 run(s), ok",
        "rebalancing: plans proposed 1; 1 run(s), ok",
        "notification_emails: nothing due; 1 run(s), ok",  # new rows are the on-commit task's for 2 minutes
    ]
    assert set(JobRun.objects.values_list("job", flat=True)) == {job.name for job in JOBS}
    assert current_owner_of(lead=due["forfeit_lead"]) == due["bo"]
    assert Dispute.objects.get(pk=due["dispute"].pk).escalated_to == due["owner_manager"]
    assert DealRegistration.objects.get(pk=due["registration"].pk).status == "EXPIRED"
    assert current_owner_of(account=due["claimed"]) is None
    assert current_owner_of(account=due["departed_account"]) is None


@pytest.mark.django_db
def test_running_every_sweep_twice_changes_each_record_once():
    _everything_due()
    with mock.patch("django.utils.timezone.now", return_value=LATER), mock.patch("leadowner.tasks.send_now"):
        call_command("run_jobs", stdout=io.StringIO())
        changes = OwnershipChange.objects.count()
        escalated_at = list(Dispute.objects.values_list("escalated_at", flat=True))
        out = io.StringIO()
        call_command("run_jobs", stdout=out)
    assert OwnershipChange.objects.count() == changes
    assert list(Dispute.objects.values_list("escalated_at", flat=True)) == escalated_at
    assert "forfeits: nothing due; 1 run(s), ok" in out.getvalue()
    assert "departures: nothing due; 1 run(s), ok" in out.getvalue()


@pytest.mark.django_db
def test_run_jobs_only_runs_the_named_sweeps_and_refuses_unknown_names():
    _everything_due()
    out = io.StringIO()
    with mock.patch("django.utils.timezone.now", return_value=LATER), mock.patch("leadowner.tasks.send_now"):
        call_command("run_jobs", "--only", "claim_expiry", stdout=out)
    assert out.getvalue() == "claim_expiry: claims expired 1; 1 run(s), ok\n"
    assert list(JobRun.objects.values_list("job", flat=True)) == ["claim_expiry"]
    with pytest.raises(CommandError, match="unknown job forfeit: choose among forfeits, first_touch_sla"):
        call_command("run_jobs", "--only", "forfeit")


@pytest.mark.django_db
def test_run_jobs_drains_a_sweep_that_reports_more_due():
    ada, bo = RepFactory(), RepFactory()
    us_map(ada, bo)
    for _ in range(3):
        owned_lead(ada, T0)
    out = io.StringIO()
    with (
        mock.patch("django.utils.timezone.now", return_value=LATER),
        mock.patch("leadowner.tasks.send_now"),
        mock.patch("routing.services.forfeits.sweep_forfeits.__kwdefaults__", {"batch_size": 2}),
    ):
        call_command("run_jobs", "--only", "forfeits", stdout=out)
    assert out.getvalue() == "forfeits: forfeited 3; 2 run(s), ok\n"


@pytest.mark.django_db
def test_the_jobs_screen_lists_every_scheduled_sweep_with_its_latest_run():
    run_recorded("forfeits", lambda *, now: SweepResult(counts={"forfeited": 1}), now=T0)
    latest = run_recorded("forfeits", lambda *, now: SweepResult(counts={"forfeited": 2}), now=T0)
    run_recorded("departure", lambda *, now: SweepResult(), now=T0)
    rows = last_runs_per_job()
    assert [r.name for r in rows] == [job.name for job in JOBS] + ["departure"]
    by_name = {r.name: r for r in rows}
    assert by_name["forfeits"].last_run == latest
    assert by_name["dispute_escalations"].last_run is None

"""Real Celery workers on real Redis: sweeps run end to end, each change happens once, a killed worker loses nothing.

Each test starts its own redis-server (tests.celery_support) and workers: in this process
(`celery.contrib.testing.worker.start_worker`, solo pool) or as subprocesses that can be
SIGKILLed. Workers run with a 5-second visibility timeout (CELERY_VISIBILITY_TIMEOUT), so
a message held by a killed worker comes back within seconds.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from disputes.models import DisputeEscalation
from leadowner.beat import JOBS
from leadowner.celery import app
from leadowner.models import JobRun, Notification
from routing.models import DealRegistration, Opportunity, Ownership, OwnershipChange, RebalancePlan
from routing.services.departures import departure_actor, remaining_of
from routing.services.forfeits import FORFEIT_ACTOR, SLA_ACTOR
from routing.tasks import reassign_departed_rep, sweep_forfeits
from territories.models import Rep
from tests.celery_support import (
    RedisServer,
    WorkerProcess,
    broker,
    close_other_connections,
    needs_redis_server,
    wait_until,
)
from tests.factories import (
    DealRegistrationFactory,
    DisputeFactory,
    ManagerFactory,
    OpportunityFactory,
    RepFactory,
    TerritoryMemberFactory,
)
from tests.jobs_support import current_owner_of, owned_account, owned_lead, us_map

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    needs_redis_server,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def redis_server(tmp_path: Path):
    server = RedisServer(tmp_path)
    server.start()
    try:
        with broker(server.url):
            yield server
    finally:
        server.stop()
        close_other_connections()


@pytest.fixture
def in_process_worker(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CELERY_SKIP_CHECKS", "1")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
        yield worker
    close_other_connections()


def test_a_sweep_runs_end_to_end_on_a_real_worker(in_process_worker, redis_server):
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    lead, _ = owned_lead(ada, timezone.now() - timedelta(days=15))
    sweep_forfeits.delay()
    wait_until(lambda: current_owner_of(lead=lead) == bo, timeout=30, what="the forfeit")
    run = wait_until(
        lambda: JobRun.objects.filter(job="forfeits", finished_at__isnull=False).first(), timeout=10, what="run"
    )
    assert (run.counts, run.ok) == ({"forfeited": 1}, True)
    # The notifications written with the change were emailed by the task sent on commit.
    wait_until(
        lambda: not Notification.objects.filter(lead=lead, emailed_at__isnull=True).exists(),
        timeout=30,
        what="the notification emails",
    )
    assert Notification.objects.filter(lead=lead, email_attempts=1).count() == 2
    wait_until(lambda: redis_server.pending_messages() == 0, timeout=10, what="an empty queue")


def _book_due_for_every_sweep(now):
    """Records due for each sweep at `now` (the workers use the real clock)."""
    ada, bo, cy = RepFactory(name="Ada"), RepFactory(name="Bo"), RepFactory(name="Cy")
    us_map(ada, bo, cy)
    due = {
        "forfeit": [owned_lead(ada, now - timedelta(days=20), stage="CONTACTED")[0] for _ in range(8)],
        "first_touch": [owned_lead(bo, now - timedelta(days=6))[0] for _ in range(4)],
        "claims": [],
        "disputes": [],
    }
    for _ in range(3):
        account, _ = owned_account(cy, now - timedelta(days=40), reason="ACCOUNT_CLAIM")
        Ownership.objects.filter(account=account).update(expires_at=now - timedelta(hours=1))
        due["claims"].append(account)
    boss = ManagerFactory(name="Boss")
    owner = RepFactory(name="Olga", manager=boss)
    for _ in range(3):
        account, _ = owned_account(owner, now - timedelta(days=40), country="FR")
        due["disputes"].append(
            DisputeFactory(account=account, claimant=ada, current_owner=owner, due_at=now - timedelta(hours=1))
        )
    for _ in range(2):
        DealRegistrationFactory(expires_at=now - timedelta(hours=1))
    dan = RepFactory(name="Dan", manager=boss, status="DEPARTED")
    due["departed"] = [owned_account(dan, now - timedelta(days=40), country="FR")[0] for _ in range(15)]
    return due


def test_every_sweep_sent_twice_to_two_workers_at_once_changes_each_record_once(redis_server, tmp_path):
    due = _book_due_for_every_sweep(timezone.now())
    workers = [WorkerProcess(broker_url=redis_server.url, name=f"w{i}", logdir=tmp_path) for i in range(2)]
    try:
        for _ in range(2):
            for job in JOBS:
                app.send_task(job.task)
        wait_until(
            lambda: (
                JobRun.objects.filter(finished_at__isnull=False).count() >= 2 * len(JOBS)
                and not JobRun.objects.filter(finished_at__isnull=True).exists()
                and redis_server.pending_messages() == 0
            ),
            timeout=120,
            what="both rounds of sweeps on both workers",
        )
    finally:
        for worker in workers:
            worker.stop()
    assert all(b"succeeded" in w.log() for w in workers), "both workers took part"
    for lead in due["forfeit"]:
        assert OwnershipChange.objects.filter(lead=lead, actor=FORFEIT_ACTOR, to_rep__isnull=True).count() == 1
    for lead in due["first_touch"]:
        assert OwnershipChange.objects.filter(lead=lead, actor=SLA_ACTOR, to_rep__isnull=True).count() == 1
    for account in due["claims"]:
        assert OwnershipChange.objects.filter(account=account).count() == 1
        assert current_owner_of(account=account) is None
    for dispute in due["disputes"]:
        assert DisputeEscalation.objects.filter(dispute=dispute).count() == 1
    for account in due["departed"]:
        assert OwnershipChange.objects.filter(account=account).count() == 1
    assert DealRegistration.objects.filter(status="EXPIRED").count() == 2
    assert RebalancePlan.objects.count() == 1
    assert not JobRun.objects.exclude(errors=[]).exists()


def test_a_worker_killed_mid_departure_leaves_each_record_moved_once_or_not_yet_and_a_new_worker_finishes(
    redis_server, tmp_path
):
    manager = ManagerFactory(name="Mona")
    dan = RepFactory(name="Dan", manager=manager)
    hunters = [RepFactory(name=f"Hunter {i}") for i in range(3)]
    farmer = RepFactory(name="Farmer", role="ACCOUNT_MANAGER")
    _, territory = us_map(dan, *hunters)
    TerritoryMemberFactory(territory=territory, rep=farmer, position=9)
    since = timezone.now() - timedelta(days=30)
    accounts = [owned_account(dan, since)[0] for _ in range(45)]
    accounts += [owned_account(dan, since, type="CUSTOMER")[0] for _ in range(15)]
    leads = [owned_lead(dan, since)[0] for _ in range(5)]
    opportunities = [OpportunityFactory(owner=dan, status="OPEN") for _ in range(3)]
    Rep.objects.filter(pk=dan.pk).update(status="DEPARTED", departed_at=timezone.now())
    records = [{"account": a} for a in accounts] + [{"lead": lead} for lead in leads]

    def moved(record) -> int:
        return OwnershipChange.objects.filter(**record, from_rep=dan).count()

    slow = {"LEADOWNER_TEST_DEPARTURE_BATCH_DELAY_MS": "400"}
    first = WorkerProcess(broker_url=redis_server.url, name="doomed", logdir=tmp_path, env=slow)
    try:
        reassign_departed_rep.apply_async(kwargs={"rep_id": dan.pk, "batch_size": 5})
        wait_until(lambda: OwnershipChange.objects.filter(from_rep=dan).count() >= 10, timeout=60, what="a few batches")
    finally:
        first.kill()
    # Every record is either moved exactly once or still the departed rep's, never half-moved.
    pending = 0
    for record in records:
        owner = current_owner_of(**record)
        if owner == dan:
            assert moved(record) == 0
            pending += 1
        else:
            assert moved(record) == 1
    assert pending > 0, "the worker was killed after the job ended: nothing was left to prove"
    assert Ownership.objects.filter(rep=dan, ended_at__isnull=True).count() == pending

    second = WorkerProcess(broker_url=redis_server.url, name="rescuer", logdir=tmp_path)
    try:
        wait_until(
            lambda: remaining_of(dan.pk) == {"accounts": 0, "leads": 0, "opportunities": 0},
            timeout=90,
            what="the redelivered departure to finish",
        )
    finally:
        second.stop()
    for record in records:
        assert moved(record) == 1
        assert current_owner_of(**record) != dan
    assert OwnershipChange.objects.filter(actor=departure_actor(dan), account__in=accounts).count() == len(accounts)
    assert all(o.owner == manager for o in Opportunity.objects.filter(pk__in=[o.pk for o in opportunities]))
    # The rescuer finished the very message the killed worker held: Redis delivered it again.
    held = re.findall(rb"reassign_departed_rep\[([0-9a-f-]+)\] received", first.log())
    assert held and held[-1] in second.log()

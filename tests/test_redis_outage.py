"""With Redis stopped, mutations still succeed and nothing is lost; when Redis returns, the pending work runs.

The test runs its own redis-server (never the shared one) and stops it. Every job's due
state is in the database (a departed rep's current ownerships, an unsent notification),
so a task that could not be sent is only a delay: the sweeps find the work.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from leadowner.actors import Actor
from leadowner.celery import app
from leadowner.models import Notification
from leadowner.tasks import sweep_notification_emails
from routing.models import DealRegistration
from routing.services.departures import departed_reps_with_records, mark_rep_departed, remaining_of
from routing.services.registrations import review_deal_registration
from routing.tasks import sweep_departures
from tests.celery_support import RedisServer, broker, close_other_connections, needs_redis_server, wait_until
from tests.factories import DealRegistrationFactory, ManagerFactory, PartnerUserFactory, RepFactory
from tests.jobs_support import current_owner_of, owned_account, us_map

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    needs_redis_server,
    pytest.mark.django_db(transaction=True),
]


def test_with_redis_stopped_mutations_succeed_nothing_is_lost_and_the_pending_work_runs_when_it_returns(
    tmp_path, caplog, monkeypatch
):
    hank = RepFactory(name="Hank")
    mona = ManagerFactory(name="Mona")
    dan = RepFactory(name="Dan", manager=mona)
    us_map(dan, hank)
    accounts = [owned_account(dan, timezone.now() - timedelta(days=30))[0] for _ in range(6)]
    submitter = PartnerUserFactory()
    registration = DealRegistrationFactory(
        partner=submitter.partner, submitted_by=submitter, expires_at=timezone.now() + timedelta(days=90)
    )
    server = RedisServer(tmp_path)
    server.start()
    try:
        with broker(server.url):
            server.stop()
            assert not server.answers()
            caplog.set_level(logging.WARNING, logger="leadowner.tasks")
            started = time.monotonic()
            departed = mark_rep_departed(rep_id=dan.pk, actor=Actor(rep=mona), now=timezone.now())
            approved = review_deal_registration(
                registration_id=registration.pk, approve=True, reason="", actor=Actor(rep=mona), now=timezone.now()
            )
            assert time.monotonic() - started < 5, "a broker outage must not hold requests"
            # Both mutations committed; the tasks they asked for could not be sent, and said so.
            assert departed.status == "DEPARTED"
            assert DealRegistration.objects.get(pk=approved.pk).status == "APPROVED"
            unsent = [r.getMessage() for r in caplog.records if "broker unavailable" in r.getMessage()]
            assert any("reassign_departed_rep" in line for line in unsent)
            assert any("send_notification_emails" in line for line in unsent)
            # Nothing is lost: the work is still due in the database.
            assert departed_reps_with_records() == [dan.pk]
            assert remaining_of(dan.pk)["accounts"] == 6
            waiting = Notification.objects.filter(emailed_at__isnull=True)
            assert waiting.filter(recipient_partner_user=submitter).exists()
            assert waiting.filter(recipient_rep=mona).exists()

            server.start()  # Redis is back, on the same port
            monkeypatch.setenv("CELERY_SKIP_CHECKS", "1")
            with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
                # A few minutes later beat sends the sweeps again (its schedule is every minute).
                Notification.objects.update(created_at=timezone.now() - timedelta(minutes=3))
                sweep_departures.delay()
                sweep_notification_emails.delay()
                wait_until(
                    lambda: remaining_of(dan.pk) == {"accounts": 0, "leads": 0, "opportunities": 0},
                    timeout=60,
                    what="the departure to run",
                )
                wait_until(
                    lambda: not Notification.objects.filter(emailed_at__isnull=True).exists(),
                    timeout=60,
                    what="every notification to be emailed",
                )
            close_other_connections()
    finally:
        server.stop()
    assert all(current_owner_of(account=a) == hank for a in accounts)
    assert set(Notification.objects.values_list("email_attempts", flat=True)) == {1}

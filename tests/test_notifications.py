"""Notifications: a row in the change's transaction, an email through Django's mail backend after commit."""

from __future__ import annotations

import contextlib
import smtplib
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import transaction

from leadowner.actors import Actor
from leadowner.models import Notification
from leadowner.notifications import (
    EMAIL_LEASE,
    MAX_EMAIL_ATTEMPTS,
    SWEEP_GRACE,
    mark_read,
    notifications_for,
    notify,
    send_notification_email,
    sweep_notification_emails,
)
from routing.services.forfeits import sweep_forfeits
from routing.services.registrations import review_deal_registration
from tests.factories import DealRegistrationFactory, ManagerFactory, PartnerUserFactory, RepFactory, RuleSetFactory
from tests.jobs_support import current_owner_of, owned_account, owned_lead, us_map

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 5, 5, 9, 0, tzinfo=UTC)


def tell(*recipients, **fields) -> list[Notification]:
    """notify() the recipients; the rows it wrote (it answers their ids)."""
    ids = notify(
        recipients=recipients, kind="REASSIGNMENT", subject="A lead for you", body="Details", now=NOW, **fields
    )
    return list(Notification.objects.filter(pk__in=ids).order_by("pk"))


def test_notify_writes_one_row_per_distinct_recipient_and_leaves_out_departed_reps():
    ada, gone = RepFactory(name="Ada"), RepFactory(status="DEPARTED")
    partner_user = PartnerUserFactory()
    rows = tell(ada, ada, None, gone, partner_user)
    assert [(n.recipient_rep, n.recipient_partner_user) for n in rows] == [(ada, None), (None, partner_user)]
    assert Notification.objects.count() == 2
    stored = Notification.objects.get(recipient_rep=ada)
    assert (stored.kind, stored.subject, stored.body, stored.created_at) == (
        "REASSIGNMENT",
        "A lead for you",
        "Details",
        NOW,
    )
    assert (stored.emailed_at, stored.read_at, stored.email_error) == (None, None, "")


def test_a_rolled_back_change_leaves_no_notification_and_sends_no_email(django_capture_on_commit_callbacks):
    ada = RepFactory()
    with (
        mock.patch("leadowner.tasks.send_now") as send,
        django_capture_on_commit_callbacks(execute=True),
        contextlib.suppress(RuntimeError),
        transaction.atomic(),
    ):
        tell(ada)
        raise RuntimeError("the change failed")
    assert Notification.objects.count() == 0
    assert send.call_count == 0


def test_the_emails_are_asked_for_only_after_the_change_commits(django_capture_on_commit_callbacks):
    ada, bo = RepFactory(), RepFactory()
    with mock.patch("leadowner.tasks.send_now") as send:
        with django_capture_on_commit_callbacks() as callbacks:
            rows = tell(ada, bo)
            assert send.call_count == 0
        assert len(callbacks) == 1
        callbacks[0]()  # the commit
    ((task, ids),) = [c.args for c in send.call_args_list]
    assert (task.name, ids) == ("leadowner.tasks.send_notification_emails", [n.pk for n in rows])


def test_a_notification_is_emailed_through_djangos_mail_backend(mailoutbox):
    ada = RepFactory(email="ada@example.com")
    (row,) = tell(ada)
    assert send_notification_email(notification_id=row.pk, now=NOW) is True
    (message,) = mailoutbox
    assert (message.to, message.subject, message.body) == (["ada@example.com"], "[leadowner] A lead for you", "Details")
    row.refresh_from_db()
    assert (row.emailed_at, row.email_attempts, row.email_error) == (NOW, 1, "")


def test_a_partner_users_notification_is_emailed_to_the_partner_user(mailoutbox):
    partner_user = PartnerUserFactory(email="pat@partner.example")
    (row,) = tell(partner_user)
    send_notification_email(notification_id=row.pk, now=NOW)
    assert mailoutbox[0].to == ["pat@partner.example"]


def test_a_notification_is_emailed_once_however_often_it_is_sent(mailoutbox):
    (row,) = tell(RepFactory())
    assert send_notification_email(notification_id=row.pk, now=NOW) is True
    assert send_notification_email(notification_id=row.pk, now=NOW) is False
    assert sweep_notification_emails(now=NOW + timedelta(days=1)).counts == {}
    assert len(mailoutbox) == 1


def test_a_notification_being_sent_by_another_worker_is_not_sent_again_until_its_lease_lapses(mailoutbox):
    (row,) = tell(RepFactory())
    Notification.objects.filter(pk=row.pk).update(email_claimed_at=NOW)  # another sender holds it
    assert send_notification_email(notification_id=row.pk, now=NOW + EMAIL_LEASE - timedelta(seconds=1)) is False
    assert send_notification_email(notification_id=row.pk, now=NOW + EMAIL_LEASE) is True
    assert len(mailoutbox) == 1


def test_a_failed_send_records_the_error_and_never_raises():
    (row,) = tell(RepFactory())
    with mock.patch("leadowner.notifications.send_mail", side_effect=smtplib.SMTPException("mail server down")):
        assert send_notification_email(notification_id=row.pk, now=NOW) is False
    row.refresh_from_db()
    assert (row.emailed_at, row.email_attempts, row.email_error) == (None, 1, "SMTPException: mail server down")


def test_a_failed_send_never_undoes_the_ownership_change_it_reports(django_capture_on_commit_callbacks):
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    us_map(ada, bo)
    lead, _ = owned_lead(ada, NOW)
    broken = mock.patch("leadowner.notifications.send_mail", side_effect=ConnectionRefusedError("no SMTP"))
    # No broker here: the email task runs in-process when the change commits.
    inline = mock.patch("leadowner.tasks.send_now", side_effect=lambda task, *a, **k: task.run(*a, **k))
    with broken, inline, django_capture_on_commit_callbacks(execute=True):
        sweep_forfeits(now=NOW + timedelta(days=14))
    assert current_owner_of(lead=lead) == bo
    failed = Notification.objects.filter(lead=lead)
    assert failed.count() == 2  # Ada (forfeited) and Bo (new owner)
    assert {n.email_error for n in failed} == {"ConnectionRefusedError: no SMTP"}


def test_the_sweep_sends_emails_whose_task_was_lost_after_a_grace_period(mailoutbox):
    tell(RepFactory())
    assert sweep_notification_emails(now=NOW + SWEEP_GRACE - timedelta(seconds=1)).counts == {}
    assert sweep_notification_emails(now=NOW + SWEEP_GRACE).counts == {"emailed": 1}
    assert len(mailoutbox) == 1


def test_the_sweep_retries_a_failed_email_after_its_lease_up_to_the_attempt_limit(mailoutbox):
    (row,) = tell(RepFactory())
    at = NOW + SWEEP_GRACE
    with mock.patch("leadowner.notifications.send_mail", side_effect=smtplib.SMTPException("down")):
        for attempt in range(MAX_EMAIL_ATTEMPTS):
            assert sweep_notification_emails(now=at + attempt * EMAIL_LEASE).counts == {"failed": 1}
    assert sweep_notification_emails(now=at + 10 * EMAIL_LEASE).counts == {}
    row.refresh_from_db()
    assert (row.email_attempts, row.emailed_at) == (MAX_EMAIL_ATTEMPTS, None)
    assert mailoutbox == []


def test_partner_users_are_told_of_registration_decisions_and_the_accounts_rep_of_approvals():
    RuleSetFactory()
    manager = ManagerFactory()
    rep = RepFactory(name="Direct Rep")
    account, _ = owned_account(rep, NOW - timedelta(days=5))
    submitter = PartnerUserFactory()
    approved = DealRegistrationFactory(
        partner=submitter.partner, submitted_by=submitter, account=account, expires_at=NOW + timedelta(days=90)
    )
    rejected = DealRegistrationFactory(
        partner=submitter.partner, submitted_by=submitter, expires_at=NOW + timedelta(days=90)
    )
    review_deal_registration(registration_id=approved.pk, approve=True, reason="", actor=Actor(rep=manager), now=NOW)
    review_deal_registration(
        registration_id=rejected.pk, approve=False, reason="not a real deal", actor=Actor(rep=manager), now=NOW
    )
    to_partner = Notification.objects.filter(recipient_partner_user=submitter).order_by("id")
    assert [n.subject for n in to_partner] == [
        f"Deal registration #{approved.pk} ({approved.company}) approved",
        f"Deal registration #{rejected.pk} ({rejected.company}) rejected",
    ]
    assert to_partner[1].body.endswith("Reason: not a real deal")
    to_rep = Notification.objects.get(recipient_rep=rep)
    assert (to_rep.kind, to_rep.account_id) == ("REGISTRATION_DECISION", account.pk)


def test_notifications_are_queryable_per_recipient_and_marked_read_once():
    ada, bo = RepFactory(), RepFactory()
    (first,) = tell(ada)
    tell(ada, bo)
    assert len(notifications_for(rep=ada)) == 2
    assert mark_read(notification_id=first.pk, rep=bo, now=NOW) is False  # not Bo's
    assert mark_read(notification_id=first.pk, rep=ada, now=NOW) is True
    assert mark_read(notification_id=first.pk, rep=ada, now=NOW + timedelta(hours=1)) is False
    assert [n.pk for n in notifications_for(rep=ada, unread_only=True)] != [first.pk]
    assert len(notifications_for(rep=ada, unread_only=True)) == 1
    first.refresh_from_db()
    assert first.read_at == NOW

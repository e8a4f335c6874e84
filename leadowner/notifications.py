"""Telling people: a Notification row in the caller's transaction, an email after commit.

- `notify` writes one row per recipient inside the transaction of the change it
  reports, so a rolled-back change notifies nobody, and asks for the emails only after
  commit (`enqueue_on_commit`).
- `send_notification_email` sends one row's email at most once at a time: it leases
  the row with a conditional update (`emailed_at IS NULL AND lease free`), sends, and
  records `emailed_at`, or the error and the attempt. It never raises: a broken mail
  server cannot undo or block an ownership change, which committed long before.
- `sweep_notification_emails` is the safety net: rows whose email was never sent (the
  broker was down at commit, a worker died mid-send, the mail server failed) are sent
  by the periodic sweep, at most `MAX_EMAIL_ATTEMPTS` times.

Departed reps are not notified (they are gone, and their address may be too).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from leadowner import permissions
from leadowner.actors import Actor
from leadowner.bulk_sql import insert_rows
from leadowner.errors import ErrorCode, ServiceError, ServiceErrors
from leadowner.jobs import Deadline, SweepResult
from leadowner.models import Notification
from territories.models import PartnerUser, Rep, RepStatus

logger = logging.getLogger(__name__)

MAX_EMAIL_ATTEMPTS = 3
# A sender holds a row this long; a sender that died releases it by timing out.
EMAIL_LEASE = timedelta(minutes=5)
# The sweep leaves fresh rows to the on-commit task that was sent for them.
SWEEP_GRACE = timedelta(minutes=2)
SUBJECT_PREFIX = "[leadowner] "

Recipient = Rep | PartnerUser


@dataclass(frozen=True)
class Note:
    """One message to tell: its recipients and what it is about (see `notify_many`)."""

    recipients: Sequence[Recipient | None]
    kind: str
    subject: str
    body: str
    account_id: int | None = None
    lead_id: int | None = None
    dispute_id: int | None = None


def notify(
    *,
    recipients: Iterable[Recipient | None],
    kind: str,
    subject: str,
    body: str,
    now: datetime,
    account_id: int | None = None,
    lead_id: int | None = None,
    dispute_id: int | None = None,
) -> list[int]:
    """One notification per distinct recipient (None and departed reps left out), emailed after commit;
    the new rows' ids."""
    note = Note(list(recipients), kind, subject, body, account_id=account_id, lead_id=lead_id, dispute_id=dispute_id)
    return notify_many([note], now=now)


def _recipients(note: Note) -> list[tuple[int | None, int | None]]:
    """(rep id, partner user id) of each distinct recipient; None and departed reps left out."""
    out: list[tuple[int | None, int | None]] = []
    for recipient in note.recipients:
        if recipient is None:
            continue
        if isinstance(recipient, Rep):
            if recipient.status == RepStatus.DEPARTED:
                continue
            key: tuple[int | None, int | None] = (recipient.pk, None)
        else:
            key = (None, recipient.pk)
        if key not in out:
            out.append(key)
    return out


_COLUMNS = (
    "recipient_rep_id",
    "recipient_partner_user_id",
    "kind",
    "subject",
    "body",
    "account_id",
    "lead_id",
    "dispute_id",
    "created_at",
    "email_error",
    "email_attempts",
)


def notify_many(notes: Iterable[Note], *, now: datetime) -> list[int]:
    """`notify` for many messages at once (a sweep's batch): one INSERT (COPY for many), one email task
    after commit. Returns the new rows' ids. Rows are written as plain values: a sweep's batch
    notifies hundreds, and building a model instance for each took longer than writing it."""
    rows = [
        (
            rep_id,
            partner_user_id,
            str(note.kind),
            note.subject[:200],
            note.body,
            note.account_id,
            note.lead_id,
            note.dispute_id,
            now,
            "",
            0,
        )
        for note in notes
        for rep_id, partner_user_id in _recipients(note)
    ]
    if not rows:
        return []
    ids = insert_rows(Notification, _COLUMNS, rows, returning_ids=True)
    from leadowner.tasks import enqueue_on_commit, send_notification_emails

    enqueue_on_commit(send_notification_emails, ids)
    return ids


def _address(notification: Notification) -> str:
    if notification.recipient_rep is not None:
        return notification.recipient_rep.email
    if notification.recipient_partner_user is not None:
        return notification.recipient_partner_user.email
    return ""


def send_notification_email(*, notification_id: int, now: datetime | None = None) -> bool:
    """Email one notification unless it was sent, is being sent, or ran out of attempts.

    Returns whether this call sent it. Never raises for a failed send: the error and
    the attempt are written on the row, and the sweep tries again later.
    """
    now = now or timezone.now()
    leased = (
        Notification.objects.filter(pk=notification_id, emailed_at__isnull=True, email_attempts__lt=MAX_EMAIL_ATTEMPTS)
        .filter(Q(email_claimed_at__isnull=True) | Q(email_claimed_at__lte=now - EMAIL_LEASE))
        .update(email_claimed_at=now)
    )
    if leased == 0:
        return False
    notification = (
        Notification.objects.select_related("recipient_rep", "recipient_partner_user").filter(pk=notification_id).get()
    )
    address = _address(notification)
    try:
        if not address:
            raise ValueError("the recipient has no email address")
        send_mail(
            subject=f"{SUBJECT_PREFIX}{notification.subject}",
            message=notification.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[address],
            fail_silently=False,
        )
    except Exception as exc:  # any mail failure is data on the row, never an error for the change
        logger.warning("notification %s: email to %s failed: %s", notification_id, address, exc)
        Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(
            email_error=f"{type(exc).__name__}: {exc}"[:2000],
            email_attempts=notification.email_attempts + 1,
        )
        return False
    Notification.objects.filter(pk=notification_id).update(
        emailed_at=now,
        email_error="",
        email_attempts=notification.email_attempts + 1,
    )
    return True


def send_notification_emails(*, notification_ids: Iterable[int], now: datetime | None = None) -> SweepResult:
    result = SweepResult()
    for notification_id in notification_ids:
        if send_notification_email(notification_id=notification_id, now=now):
            result.add("emailed")
        else:
            result.add("not_sent")
    return result


def sweep_notification_emails(*, now: datetime, batch_size: int = 200) -> SweepResult:
    """Send the emails that were never sent: older than the grace period, attempts left, lease free."""
    ids = list(
        Notification.objects.filter(
            emailed_at__isnull=True,
            email_attempts__lt=MAX_EMAIL_ATTEMPTS,
            created_at__lte=now - SWEEP_GRACE,
        )
        .filter(Q(email_claimed_at__isnull=True) | Q(email_claimed_at__lte=now - EMAIL_LEASE))
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    result = SweepResult()
    deadline = Deadline()
    for position, notification_id in enumerate(ids):
        if position and deadline.passed:  # a slow mail server: stop in time, the task re-queues itself
            result.more = True
            return result
        if send_notification_email(notification_id=notification_id, now=now):
            result.add("emailed")
        else:
            result.add("failed")
    result.more = len(ids) == batch_size and result.counts.get("emailed", 0) > 0
    return result


# --- reads for the console and the API ---------------------------------------------------------


def notifications_for(
    *, rep: Rep | None = None, partner_user: PartnerUser | None = None, unread_only: bool = False, limit: int = 100
) -> list[Notification]:
    """A rep's or a partner user's notifications, newest first."""
    if (rep is None) == (partner_user is None):
        raise ValueError("give exactly one of a rep or a partner user")
    rows = (
        Notification.objects.filter(recipient_rep=rep)
        if rep
        else Notification.objects.filter(recipient_partner_user=partner_user)
    )
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    return list(rows.order_by("-created_at", "-id")[:limit])


def mark_read(
    *, notification_id: int, rep: Rep | None = None, partner_user: PartnerUser | None = None, now: datetime
) -> bool:
    """The recipient read it (the first read time is kept). Returns whether this call marked it."""
    rows = Notification.objects.filter(pk=notification_id, read_at__isnull=True)
    rows = rows.filter(recipient_rep=rep) if rep is not None else rows.filter(recipient_partner_user=partner_user)
    return rows.update(read_at=now) > 0


# At most this many ids in one markNotificationsRead (a client marking "all" sends no ids).
MAX_MARK_IDS = 500


def unread_count(actor: Actor) -> int:
    """How many of the actor's own notifications are unread (0 for the system and anonymous)."""
    return permissions.visible_notifications(actor, Notification.objects.filter(read_at__isnull=True)).count()


def mark_notifications_read(*, actor: Actor, ids: Sequence[int | None] | None, now: datetime) -> list[int]:
    """The actor read these of their own notifications (all their unread ones when `ids` is None).

    All or nothing: an id that is not one of the actor's notifications (someone else's, or
    none at all: the two read alike) is NOT_FOUND on `ids.<position>` and nothing is marked.
    A notification read before keeps its first read time. Returns the ids this call marked.
    `ids` holds None where the caller's id could not be one (malformed): that is NOT_FOUND too.
    """
    own = permissions.visible_notifications(actor, Notification.objects.all())
    with transaction.atomic():
        if ids is None:
            unread = own.filter(read_at__isnull=True).select_for_update()
            marked = list(unread.order_by("pk").values_list("pk", flat=True))
            Notification.objects.filter(pk__in=marked).update(read_at=now)
            return marked
        if len(ids) > MAX_MARK_IDS:
            raise ServiceError(ErrorCode.INVALID, f"at most {MAX_MARK_IDS} ids at once, got {len(ids)}", "ids")
        wanted = [pk for pk in ids if pk is not None]
        found = set(own.filter(pk__in=wanted).values_list("pk", flat=True))
        missing = [
            ServiceError(ErrorCode.NOT_FOUND, f"no notification #{pk}" if pk else "not a notification id", f"ids.{i}")
            for i, pk in enumerate(ids)
            if pk is None or pk not in found
        ]
        if missing:
            raise ServiceErrors(missing)
        unread = own.filter(pk__in=found, read_at__isnull=True).select_for_update()
        marked = list(unread.order_by("pk").values_list("pk", flat=True))
        Notification.objects.filter(pk__in=marked).update(read_at=now)
        return marked

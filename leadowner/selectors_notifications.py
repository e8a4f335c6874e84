"""Reads of notifications for the console: a manager's own, and the log of everyone's.

The writes (notify, the emails, marking read) are leadowner.notifications; who may read
what is leadowner.permissions. Each page is read in a fixed number of queries whatever
its size: the names and records a row shows are joined in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import timezone

from leadowner import permissions
from leadowner.actors import Actor
from leadowner.models import Notification
from leadowner.notifications import MAX_EMAIL_ATTEMPTS
from territories.models import PartnerUser, Rep

OWN_PAGE_SIZE = 20
LOG_PAGE_SIZE = 50

READ_STATES = (("unread", "Unread"), ("read", "Read"))
EMAIL_STATES = (
    ("sent", "Sent"),
    ("failed", "Failed (the sweep retries)"),
    ("gave_up", f"Failed {MAX_EMAIL_ATTEMPTS} times (no more tries)"),
    ("pending", "Not sent yet"),
)

# What every row shows: who it is for, and the records it links to.
_ROW_RELATIONS = ("recipient_rep", "recipient_partner_user__partner", "account", "lead", "dispute")


def email_status(notification: Notification) -> str:
    """sent, failed (attempts left), gave_up (no attempts left) or pending (never tried)."""
    if notification.emailed_at is not None:
        return "sent"
    if notification.email_attempts >= MAX_EMAIL_ATTEMPTS:
        return "gave_up"
    if notification.email_error:
        return "failed"
    return "pending"


def _email_condition(state: str) -> Q:
    unsent = Q(emailed_at__isnull=True)
    return {
        "sent": Q(emailed_at__isnull=False),
        "failed": unsent & Q(email_attempts__lt=MAX_EMAIL_ATTEMPTS) & ~Q(email_error=""),
        "gave_up": unsent & Q(email_attempts__gte=MAX_EMAIL_ATTEMPTS),
        "pending": unsent & Q(email_attempts__lt=MAX_EMAIL_ATTEMPTS) & Q(email_error=""),
    }[state]


def own_notifications(actor: Actor) -> QuerySet[Notification]:
    """The actor's own notifications, unread first, then newest first."""
    rows = permissions.visible_notifications(actor, Notification.objects.all())
    read = ExpressionWrapper(Q(read_at__isnull=False), output_field=BooleanField())
    return rows.select_related(*_ROW_RELATIONS).order_by(read.asc(), "-created_at", "-id")  # unread (false) first


def own_page(actor: Actor, page: str | int | None) -> Page[Notification]:
    return Paginator(own_notifications(actor), OWN_PAGE_SIZE).get_page(page)


@dataclass(frozen=True)
class NotificationFilter:
    recipient_rep_id: int | None = None
    recipient_partner_user_id: int | None = None
    kind: str = ""
    read: str = ""  # "", "unread", "read"
    email: str = ""  # "", or one of EMAIL_STATES
    date_from: date | None = None  # inclusive, UTC
    date_to: date | None = None  # inclusive, UTC

    def params(self) -> dict[str, str]:
        """The filter as query parameters (for page links)."""
        recipient = ""
        if self.recipient_rep_id is not None:
            recipient = f"rep:{self.recipient_rep_id}"
        elif self.recipient_partner_user_id is not None:
            recipient = f"partner:{self.recipient_partner_user_id}"
        values: dict[str, Any] = {
            "recipient": recipient,
            "kind": self.kind,
            "read": self.read,
            "email": self.email,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
        }
        return {key: str(value) for key, value in values.items() if value}


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def notification_log(actor: Actor, log: NotificationFilter) -> QuerySet[Notification]:
    """Everyone's notifications matching the filter, newest first (managers and RevOps only)."""
    if not permissions.may_read_notification_log(actor):
        return Notification.objects.none()
    rows = Notification.objects.select_related(*_ROW_RELATIONS).order_by("-created_at", "-id")
    if log.recipient_rep_id is not None:
        rows = rows.filter(recipient_rep_id=log.recipient_rep_id)
    if log.recipient_partner_user_id is not None:
        rows = rows.filter(recipient_partner_user_id=log.recipient_partner_user_id)
    if log.kind:
        rows = rows.filter(kind=log.kind)
    if log.read == "unread":
        rows = rows.filter(read_at__isnull=True)
    elif log.read == "read":
        rows = rows.filter(read_at__isnull=False)
    if log.email:
        rows = rows.filter(_email_condition(log.email))
    if log.date_from is not None:
        rows = rows.filter(created_at__gte=_start_of(log.date_from))
    if log.date_to is not None:
        rows = rows.filter(created_at__lt=_start_of(log.date_to + timedelta(days=1)))
    return rows


def log_page(actor: Actor, log: NotificationFilter, page: str | int | None) -> Page[Notification]:
    return Paginator(notification_log(actor, log), LOG_PAGE_SIZE).get_page(page)


def recipients() -> tuple[list[Rep], list[PartnerUser]]:
    """Everyone a notification can be for, for the log's recipient filter: reps (departed too), partner users."""
    reps = list(Rep.objects.order_by("name", "pk"))
    partner_users = list(PartnerUser.objects.select_related("partner").order_by("partner__name", "email", "pk"))
    return reps, partner_users

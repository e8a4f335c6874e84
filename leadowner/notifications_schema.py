"""GraphQL: the viewer's own notifications, and marking them read.

Anyone signed in (a rep of any role, a manager, RevOps, a partner user) reads only what
was addressed to them (permissions.visible_notifications); the console has the log of
everyone's. The records a notification links to are shown only when the viewer may read
them (a lead forfeited away from a rep is no longer theirs to read): the visibility of a
page's leads and disputes is asked once per page, not once per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum

import strawberry
import strawberry_django
from strawberry import auto

from disputes.models import Dispute
from disputes.schema import DisputeNode
from leadowner import permissions
from leadowner.graphql.context import Context, Info
from leadowner.graphql.errors import UserError, payload_or_errors
from leadowner.graphql.ids import parse_id
from leadowner.graphql.loaders import BatchLoader
from leadowner.graphql.pagination import Connection, paginate
from leadowner.models import Notification, NotificationKind
from leadowner.notifications import mark_notifications_read, unread_count
from leadowner.selectors_notifications import email_status
from routing.graphql_types import AccountNode, LeadNode, related
from routing.models import Account, Lead

strawberry.enum(
    NotificationKind, name="NotificationKind", description="What a notification reports: a forfeit, an escalation ..."
)


@strawberry.enum(name="NotificationEmailStatus", description="Where the notification's email is.")
class NotificationEmailStatus(Enum):
    SENT = "sent"
    FAILED = "failed"  # the last try failed; the sweep tries again
    GAVE_UP = "gave_up"  # every try failed: no more tries
    PENDING = "pending"  # not tried yet


# Per request: which of the announced leads and disputes the viewer may read.
_LEADS_ATTR = "_notification_visible_leads"
_DISPUTES_ATTR = "_notification_visible_disputes"


def _visible(ctx: Context, attr: str) -> BatchLoader[int, bool]:
    loader: BatchLoader[int, bool] | None = getattr(ctx, attr, None)
    if loader is None:
        actor = ctx.actor

        def fetch(ids: list[int]) -> Mapping[int, bool]:
            if attr == _LEADS_ATTR:
                rows: Iterable[int] = permissions.visible_leads(actor, Lead.objects.filter(pk__in=ids)).values_list(
                    "pk", flat=True
                )
            else:
                rows = permissions.visible_disputes(actor, Dispute.objects.filter(pk__in=ids)).values_list(
                    "pk", flat=True
                )
            return dict.fromkeys(rows, True)

        loader = BatchLoader(fetch, default=lambda: False)
        setattr(ctx, attr, loader)
    return loader


@strawberry_django.type(
    Notification,
    name="Notification",
    description="Something the viewer was told (a forfeit, an escalation, a reassignment, a registration decision).",
)
class NotificationNode:
    id: auto
    kind: NotificationKind
    subject: str
    body: str
    created_at: datetime
    read_at: datetime | None = strawberry_django.field(description="When the viewer first read it; null while unread")

    @strawberry_django.field(description="Whether the viewer has read it")
    def read(self, root: Notification) -> bool:
        return root.read_at is not None

    @strawberry_django.field(description="Whether its email went out")
    def email_status(self, root: Notification) -> NotificationEmailStatus:
        return NotificationEmailStatus(email_status(root))

    @strawberry_django.field(
        prefetch_related=[related("account", Account)],
        description="The account it is about, when there is one and the viewer may read it",
    )
    def account(self, root: Notification, info: Info) -> AccountNode | None:
        if root.account_id is None or not info.context.can_view_account(root.account_id):
            return None
        return root.account  # type: ignore[return-value]

    @strawberry_django.field(
        prefetch_related=[related("lead", Lead)],
        description="The lead it is about, when there is one and the viewer may still read it",
    )
    def lead(self, root: Notification, info: Info) -> LeadNode | None:
        if root.lead_id is None or not _visible(info.context, _LEADS_ATTR).load(root.lead_id):
            return None
        return root.lead  # type: ignore[return-value]

    @strawberry_django.field(
        prefetch_related=[related("dispute", Dispute)],
        description="The dispute it is about (an escalation), when the viewer may read it",
    )
    def dispute(self, root: Notification, info: Info) -> DisputeNode | None:
        if root.dispute_id is None or not _visible(info.context, _DISPUTES_ATTR).load(root.dispute_id):
            return None
        return root.dispute  # type: ignore[return-value]


@strawberry.type
class MarkNotificationsReadPayload:
    notifications: list[NotificationNode] | None = strawberry.field(
        default=None, description="The notifications this call marked read (none when all were read already)"
    )
    unread_count: int | None = strawberry.field(default=None, description="The viewer's unread notifications now")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Query:
    @strawberry.field(
        description=(
            "The viewer's own notifications, newest first: a rep's, a manager's or a partner user's, never"
            " anyone else's. unreadOnly leaves out those read."
        )
    )
    def notifications(
        self,
        info: Info,
        unread_only: bool | None = False,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[NotificationNode]:
        ctx = info.context
        qs = permissions.visible_notifications(ctx.actor, Notification.objects.all()).order_by("-created_at", "-id")
        if unread_only:
            qs = qs.filter(read_at__isnull=True)

        def announce(rows: list[Notification]) -> None:
            _visible(ctx, _LEADS_ATTR).want(n.lead_id for n in rows)
            _visible(ctx, _DISPUTES_ATTR).want(n.dispute_id for n in rows)

        return paginate(qs, info, first=first, after=after, prepare=announce)

    @strawberry.field(description="How many of the viewer's own notifications are unread.")
    def unread_notification_count(self, info: Info) -> int:
        return unread_count(info.context.actor)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "The viewer read these of their own notifications, or all of them when ids is null. All or"
            " nothing: an id that is not one of the viewer's is NOT_FOUND (ids.<position>) and nothing is"
            " marked. The first read time is kept."
        )
    )
    def mark_notifications_read(
        self, info: Info, ids: list[strawberry.ID] | None = None
    ) -> MarkNotificationsReadPayload:
        ctx = info.context

        def run() -> MarkNotificationsReadPayload:
            parsed = None if ids is None else [parse_id(value) for value in ids]
            marked = mark_notifications_read(actor=ctx.actor, ids=parsed, now=ctx.now)
            rows = list(Notification.objects.filter(pk__in=marked).order_by("-created_at", "-id"))
            return MarkNotificationsReadPayload(
                notifications=rows,  # type: ignore[arg-type]
                unread_count=unread_count(ctx.actor),
            )

        return payload_or_errors(MarkNotificationsReadPayload, run)

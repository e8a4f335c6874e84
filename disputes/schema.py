"""GraphQL type and query of the disputes app."""

from __future__ import annotations

from datetime import datetime

import strawberry
import strawberry_django
from strawberry import auto

from disputes.models import Dispute
from leadowner import permissions
from leadowner.graphql.context import Info
from leadowner.graphql.enums import DisputeStatus
from leadowner.graphql.errors import UserError
from leadowner.graphql.pagination import Connection, paginate
from routing.graphql_types import AccountNode, LeadNode
from territories.schema import RepNode


@strawberry_django.type(Dispute, name="Dispute", description="A claimant contests the owner of an account or a lead.")
class DisputeNode:
    id: auto
    account: AccountNode | None
    lead: LeadNode | None
    claimant: RepNode
    current_owner: RepNode | None
    status: DisputeStatus
    reason: auto
    opened_at: datetime
    due_at: datetime
    escalated_to: RepNode | None
    winner: RepNode | None

    @strawberry_django.field
    def resolution(self, root: Dispute) -> str | None:
        return root.resolution or None


@strawberry.input
class DisputeInput:
    reason: str
    account_id: strawberry.ID | None = None
    lead_id: strawberry.ID | None = None


@strawberry.type
class DisputePayload:
    dispute: DisputeNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


DISPUTE_PAYLOAD_TYPES: tuple[type, ...] = (DisputeInput, DisputePayload)


@strawberry.type
class Query:
    @strawberry.field(
        description=(
            "Disputes, soonest due first: managers and RevOps see all, reps those they are party to"
            " (claimant or contested owner), partner users none."
        )
    )
    def disputes(
        self,
        info: Info,
        status: DisputeStatus | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[DisputeNode]:
        qs = permissions.visible_disputes(info.context.actor, Dispute.objects.all())
        if status is not None:
            qs = qs.filter(status=status)
        return paginate(qs, info, first=first, after=after)

"""GraphQL type, query and mutations of the disputes app."""

from __future__ import annotations

from datetime import datetime

import strawberry
import strawberry_django
from strawberry import auto

from disputes import services
from disputes.models import Dispute
from leadowner import permissions
from leadowner.graphql.context import Info
from leadowner.graphql.enums import DisputeStatus
from leadowner.graphql.errors import UserError, payload_or_errors
from leadowner.graphql.ids import optional_visible, parse_id, visible_or_not_found
from leadowner.graphql.pagination import Connection, paginate
from routing.graphql_types import AccountNode, LeadNode
from routing.models import Account, Lead
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


@strawberry.type
class Query:
    @strawberry.field(
        description=(
            "Disputes, soonest due first: RevOps see all, managers their team's (claimant or contested owner"
            " in it) and those escalated to them, reps those they are party to, partner users none."
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


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "The acting rep contests the sales owner of an account or a lead (exactly one). It is due in"
            " the policy's dispute SLA (business hours) and escalates when missed."
        )
    )
    def open_dispute(self, info: Info, input: DisputeInput) -> DisputePayload:
        ctx = info.context

        def run() -> DisputePayload:
            accounts = permissions.visible_accounts(ctx.actor, Account.objects.all())
            leads = permissions.visible_leads(ctx.actor, Lead.objects.all())
            account = optional_visible(accounts, input.account_id, noun="account", field="accountId")
            lead = optional_visible(leads, input.lead_id, noun="lead", field="leadId")
            dispute = services.open_dispute(
                account=account, lead=lead, reason=input.reason, actor=ctx.actor, now=ctx.now
            )
            return DisputePayload(dispute=dispute)  # type: ignore[arg-type]

        return payload_or_errors(DisputePayload, run)

    @strawberry.mutation(
        description=(
            "A manager of the claimant or of the contested owner (or whoever it escalated to, or RevOps) names"
            " the winner, one of the two; the winner becomes the owner."
        )
    )
    def resolve_dispute(
        self, info: Info, id: strawberry.ID, winner_rep_id: strawberry.ID, resolution: str
    ) -> DisputePayload:
        ctx = info.context

        def run() -> DisputePayload:
            visible = permissions.visible_disputes(ctx.actor, Dispute.objects.all())
            found = visible_or_not_found(visible, id, noun="dispute", field="id")
            dispute = services.resolve_dispute(
                dispute_id=found.pk,
                # A malformed id names no party: the service answers INVALID on winnerRepId.
                winner_rep_id=parse_id(winner_rep_id) or 0,
                resolution=resolution,
                actor=ctx.actor,
                now=ctx.now,
            )
            return DisputePayload(dispute=dispute)  # type: ignore[arg-type]

        return payload_or_errors(DisputePayload, run)

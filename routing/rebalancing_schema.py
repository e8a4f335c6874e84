"""GraphQL: rebalancing plans for managers and RevOps (the console's rebalancing screens, as an API).

Reads and writes are for managers and RevOps only: anyone else gets FORBIDDEN, never an
empty list. The mutations call the same services as the console
(routing.services.rebalancing): build a plan for the published rule set (moves
nothing), apply a DRAFT plan (its moves run in the background, in batches, with
history), discard a DRAFT plan.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
import strawberry_django
from django.db.models import Count, Prefetch, QuerySet
from strawberry import auto

from leadowner import permissions
from leadowner.errors import ErrorCode, ServiceError
from leadowner.graphql.context import Info
from leadowner.graphql.enums import OwnerRole
from leadowner.graphql.errors import UserError, forbidden, payload_or_errors
from leadowner.graphql.ids import parse_id, visible_or_not_found
from leadowner.graphql.pagination import Connection, NestedPage, paginate
from routing.graphql_types import AccountNode, LeadNode
from routing.models import RebalanceMove, RebalanceMoveStatus, RebalancePlan, RebalancePlanStatus, RebalanceTrigger
from routing.services import rebalancing
from territories.schema import RepNode

strawberry.enum(RebalancePlanStatus, name="RebalancePlanStatus", description="DRAFT, APPLYING, APPLIED or DISCARDED")
strawberry.enum(RebalanceMoveStatus, name="RebalanceMoveStatus", description="PENDING, APPLIED or SKIPPED")
strawberry.enum(RebalanceTrigger, name="RebalanceTrigger", description="PUBLISH (made by the sweep) or ON_DEMAND")

FORBIDDEN_WORDS = "Rebalancing plans are for managers and RevOps."
MOVE_COUNT_ATTR = "move_total"
PLAN_MOVES = NestedPage[RebalanceMove](relation="moves", parent_field="plan_id", ordering=("id",))


def _moves_prefetch(info: Info) -> Prefetch:
    return PLAN_MOVES.prefetch(info, RebalanceMove.objects.all())


@strawberry.type(description="A rep's load (SALES accounts and open leads) before and after a plan")
class RebalanceRepLoad:
    rep_id: strawberry.ID
    name: str
    before: int
    after: int


@strawberry.type(description="How many records a plan leaves where they are, for one reason")
class RebalanceStayCount:
    reason: str = strawberry.field(description="in_territory, open_opportunity, named_account, engaged, ...")
    count: int


@strawberry_django.type(
    RebalanceMove, name="RebalanceMove", description="One record a plan moves from one rep to another"
)
class RebalanceMoveNode:
    id: auto
    role: OwnerRole
    territory_name: auto
    why: auto
    status: RebalanceMoveStatus
    skipped_reason: auto
    applied_at: datetime | None
    account: AccountNode | None
    lead: LeadNode | None
    from_rep: RepNode
    to_rep: RepNode


@strawberry_django.type(
    RebalancePlan, name="RebalancePlan", description="Proposed moves of owned records to their territory"
)
class RebalancePlanNode:
    id: auto
    trigger: RebalanceTrigger
    status: RebalancePlanStatus
    created_at: datetime
    created_by: auto
    applied_by: auto
    apply_started_at: datetime | None
    applied_at: datetime | None

    @strawberry_django.field(only=["rule_set__version"], select_related=["rule_set"])
    def rule_set_version(self, root: RebalancePlan) -> int:
        return root.rule_set.version

    @strawberry_django.field(description="The territories the plan covers, by name (empty: every territory)")
    def territories(self, root: RebalancePlan) -> list[str]:
        return list(root.summary.get("territories", []))

    @strawberry_django.field(description="How many moves the plan proposes")
    def move_count(self, root: RebalancePlan) -> int:
        return int(root.summary.get("moves", 0))

    @strawberry_django.field(description="Load variance across the reps concerned, before the plan")
    def variance_before(self, root: RebalancePlan) -> float | None:
        return root.summary.get("variance_before")

    @strawberry_django.field(
        description="Load variance after the plan (higher than before when a realignment loads a territory more)"
    )
    def variance_after(self, root: RebalancePlan) -> float | None:
        return root.summary.get("variance_after")

    @strawberry_django.field(description="Each rep's load before and after")
    def reps(self, root: RebalancePlan) -> list[RebalanceRepLoad]:
        return [
            RebalanceRepLoad(
                rep_id=strawberry.ID(str(r["rep_id"])), name=r["name"], before=r["before"], after=r["after"]
            )
            for r in root.summary.get("reps", [])
        ]

    @strawberry_django.field(description="What stays where it is, and why")
    def stayed(self, root: RebalancePlan) -> list[RebalanceStayCount]:
        return [RebalanceStayCount(reason=k, count=v) for k, v in sorted(root.summary.get("stayed", {}).items())]

    @strawberry_django.field(
        prefetch_related=[_moves_prefetch],
        annotate={MOVE_COUNT_ATTR: Count("moves")},
        description="The plan's moves, in order, with their status",
    )
    def moves(
        self, root: RebalancePlan, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[RebalanceMoveNode]:
        qs = RebalanceMove.objects.filter(plan_id=root.pk).order_by("id")
        count: int | None = getattr(root, MOVE_COUNT_ATTR, None)
        return PLAN_MOVES.resolve(
            root, info, qs, first=first, after=after, count=(lambda: count) if count is not None else None
        )


@strawberry.type
class RebalancePlanPayload:
    plan: RebalancePlanNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _plans(info: Info) -> QuerySet[RebalancePlan]:
    if not permissions.may_rebalance(info.context.actor):
        raise forbidden(FORBIDDEN_WORDS)
    return RebalancePlan.objects.all()


@strawberry.type
class Query:
    @strawberry.field(description="Rebalancing plans, newest first; status narrows them. Managers and RevOps only.")
    def rebalance_plans(
        self,
        info: Info,
        status: RebalancePlanStatus | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[RebalancePlanNode]:
        qs = _plans(info).order_by("-created_at", "-id")
        if status is not None:
            qs = qs.filter(status=status)
        return paginate(qs, info, first=first, after=after)

    @strawberry.field(description="One rebalancing plan (null when there is no such plan). Managers and RevOps only.")
    def rebalance_plan(self, info: Info, id: strawberry.ID) -> RebalancePlanNode | None:
        qs = _plans(info)
        try:
            pk = int(id)
        except ValueError:
            return None
        return qs.filter(pk=pk).first()  # type: ignore[return-value]


def _plan_for_mutation(info: Info, plan_id: strawberry.ID) -> RebalancePlan:
    """The plan a mutation names; FORBIDDEN (in the payload) for anyone but managers and RevOps."""
    if not permissions.may_rebalance(info.context.actor):
        raise ServiceError(ErrorCode.FORBIDDEN, FORBIDDEN_WORDS)
    return visible_or_not_found(RebalancePlan.objects.all(), plan_id, noun="rebalancing plan", field="planId")


def _plan_payload(run: Any) -> RebalancePlanPayload:
    return payload_or_errors(RebalancePlanPayload, lambda: RebalancePlanPayload(plan=run()))  # type: ignore[arg-type]


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Propose the moves of a rebalancing to the published rule set: accounts with an open opportunity,"
            " named accounts, claims, disputed records and records engaged within the idle window stay; the rest"
            " go to their territory's distribution, whatever that does to the load variance (reported). Moves"
            " nothing. `territoryIds` (of the published rule set) limits it to the records that belong to those"
            " territories or their sub-territories; left out, every territory. INVALID (field territoryIds) for an"
            " empty list or a territory not in the published rule set. Managers and RevOps only."
        )
    )
    def build_rebalance_plan(
        self, info: Info, territory_ids: list[strawberry.ID] | None = None
    ) -> RebalancePlanPayload:
        ctx = info.context

        def run() -> RebalancePlan:
            if not permissions.may_rebalance(ctx.actor):
                raise ServiceError(ErrorCode.FORBIDDEN, FORBIDDEN_WORDS)
            ids: list[int] | None = None
            if territory_ids is not None:
                parsed = [parse_id(pk) for pk in territory_ids]
                ids = [pk for pk in parsed if pk is not None]
                if len(ids) != len(parsed):
                    raise ServiceError(ErrorCode.INVALID, "territoryIds must be territory ids", "territoryIds")
            return rebalancing.build_rebalance_plan(actor=ctx.actor, now=ctx.now, territory_ids=ids)

        return _plan_payload(run)

    @strawberry.mutation(
        description=(
            "Apply a DRAFT plan made for the published rule set: it becomes APPLYING and its moves run in the"
            " background in batches, each with history; a record that changed since the plan is SKIPPED with its"
            " reason. INVALID_TRANSITION for a plan that is not a DRAFT."
        )
    )
    def apply_rebalance_plan(self, info: Info, plan_id: strawberry.ID) -> RebalancePlanPayload:
        ctx = info.context

        def run() -> RebalancePlan:
            plan = _plan_for_mutation(info, plan_id)
            return rebalancing.apply_rebalance_plan(plan_id=plan.pk, actor=ctx.actor, now=ctx.now)

        return _plan_payload(run)

    @strawberry.mutation(description="Discard a DRAFT plan: nothing moves. INVALID_TRANSITION for any other plan.")
    def discard_rebalance_plan(self, info: Info, plan_id: strawberry.ID) -> RebalancePlanPayload:
        ctx = info.context

        def run() -> RebalancePlan:
            plan = _plan_for_mutation(info, plan_id)
            return rebalancing.discard_rebalance_plan(plan_id=plan.pk, actor=ctx.actor, now=ctx.now)

        return _plan_payload(run)

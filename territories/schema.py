"""GraphQL types and queries of the territories app: reps, partners, territories."""

from __future__ import annotations

from datetime import datetime

import strawberry
import strawberry_django
from django.db.models import Prefetch, QuerySet
from strawberry import auto

from leadowner import permissions
from leadowner.graphql.context import Info
from leadowner.graphql.enums import DistributionMethod, RepRole, RepStatus
from leadowner.graphql.errors import UserError
from leadowner.graphql.loaders import published_territories
from leadowner.graphql.pagination import optimized
from routing.selectors.loads import open_load_annotation
from territories import matching
from territories.models import Partner, Rep, Territory

OPEN_LOAD_ATTR = "open_load_count"
PUBLISHED_TERRITORIES_ATTR = "published_territory_list"


def _published_territories_prefetch(info: Info) -> Prefetch:
    return Prefetch(
        "territories", queryset=optimized(published_territories(), info), to_attr=PUBLISHED_TERRITORIES_ATTR
    )


@strawberry_django.type(Rep, name="Rep", description="A seller, manager or RevOps member.")
class RepNode:
    id: auto
    email: auto
    name: auto
    role: RepRole
    status: RepStatus
    capacity: int | None
    manager: RepNode | None

    @strawberry_django.field(
        annotate={OPEN_LOAD_ATTR: lambda info: open_load_annotation()},
        description="Open leads the rep owns now (sales owner, lead in an open stage).",
    )
    def open_load(self, root: Rep, info: Info) -> int:
        value: int | None = getattr(root, OPEN_LOAD_ATTR, None)
        if value is None:
            value = info.context.loaders.rep_open_load.load(root.pk)
        return value or 0

    @strawberry_django.field(
        prefetch_related=[_published_territories_prefetch],
        description="Territories of the published rule set the rep is a member of.",
    )
    def territories(self, root: Rep, info: Info) -> list[TerritoryNode]:
        if not permissions.can_view_territories(info.context.actor):
            return []
        prefetched: list[Territory] | None = getattr(root, PUBLISHED_TERRITORIES_ATTR, None)
        if prefetched is None:
            prefetched = info.context.loaders.rep_territories.load(root.pk) or []
        return prefetched  # type: ignore[return-value]


@strawberry_django.type(Partner, name="Partner", description="A channel partner organisation.")
class PartnerNode:
    id: auto
    name: auto


@strawberry_django.type(Territory, name="Territory")
class TerritoryNode:
    id: auto
    name: auto
    distribution: DistributionMethod
    priority: int = strawberry_django.field(description="Higher wins between equally specific matches")
    members: list[RepNode]
    parent: TerritoryNode | None

    @strawberry_django.field(description="The hard criteria in plain words, as published")
    def criteria(self, root: Territory) -> str:
        return matching.criteria_in_words(root.criteria)


@strawberry.type
class DeparturePayload:
    rep: RepNode | None = None
    reassignment_due_at: datetime | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _reps(info: Info) -> QuerySet[Rep]:
    return permissions.visible_reps(info.context.actor, Rep.objects.all())


@strawberry.type
class Query:
    @strawberry_django.field(description="The signed-in rep; null for partner users.")
    def me(self, info: Info) -> RepNode | None:
        actor = info.context.actor
        if actor.rep is None:
            return None
        return optimized(_reps(info).filter(pk=actor.rep.pk), info).first()  # type: ignore[return-value]

    @strawberry_django.field(description="The roster (not for partner users).")
    def reps(self, info: Info, status: RepStatus | None = None) -> list[RepNode]:
        qs = _reps(info)
        if status is not None:
            qs = qs.filter(status=status)
        return qs  # type: ignore[return-value]

    @strawberry_django.field(description="The territories of the published rule set (not for partner users).")
    def territories(self, info: Info) -> list[TerritoryNode]:
        return permissions.visible_territories(info.context.actor, published_territories())  # type: ignore[return-value]

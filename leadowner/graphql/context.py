"""The typed context of one GraphQL request: who asks, when, and the request's loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import strawberry
from strawberry.django.context import StrawberryDjangoContext

from leadowner import permissions
from leadowner.actors import Actor
from leadowner.graphql.loaders import Loaders


@dataclass
class Context(StrawberryDjangoContext):
    actor: Actor
    now: datetime
    loaders: Loaders = field(default_factory=Loaders)

    @cached_property
    def partner_account_ids(self) -> frozenset[int]:
        """For a partner user: the accounts their partner has registrations on (read once per request)."""
        return permissions.partner_account_ids(self.actor)

    def can_view_account(self, account_id: int | None) -> bool:
        return permissions.can_view_account(
            self.actor, account_id, partner_accounts=self.partner_account_ids if self.actor.is_partner else None
        )


Info = strawberry.Info[Context, None]

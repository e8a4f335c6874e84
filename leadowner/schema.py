"""The root GraphQL schema: each app's Query and Mutation merged, one set of extensions.

Apps own their types, queries and mutations (territories/schema.py, routing/schema.py,
disputes/schema.py); this module only assembles them. `python manage.py export_schema`
prints the result, kept as schema.graphql at the repository root.
"""

from __future__ import annotations

import strawberry
from django.db import connection
from graphql import GraphQLError
from strawberry.extensions import ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from disputes.schema import Mutation as DisputesMutation
from disputes.schema import Query as DisputesQuery
from leadowner.graphql.caches import MAXSIZE, CachedParsing
from leadowner.graphql.extensions import AuthenticationExtension
from leadowner.graphql.limits import MaskUnexpectedErrors, RequestLimits, log_errors
from leadowner.graphql.root_fields import RootDjangoOptimizerExtension
from leadowner.notifications_schema import Mutation as NotificationsMutation
from leadowner.notifications_schema import Query as NotificationsQuery
from routing.rebalancing_schema import Mutation as RebalancingMutation
from routing.rebalancing_schema import Query as RebalancingQuery
from routing.schema import Mutation as RoutingMutation
from routing.schema import Query as RoutingQuery
from territories.schema import Query as TerritoriesQuery


@strawberry.type
class HealthQuery:
    @strawberry.field(description='"ok" when the service and its database answer. Needs no authentication.')
    def health(self) -> str:
        connection.ensure_connection()
        return "ok"


class CachedNameConverter(NameConverter):
    """Strawberry's camelCasing, remembered: it converts every argument's Python name at
    every resolve (`get_arguments`, a regex each), ~1% of a submitLead's Python. The names
    are the schema's own, a fixed few hundred."""

    def __init__(self) -> None:
        super().__init__(auto_camel_case=True)
        self._names: dict[str, str] = {}

    def apply_naming_config(self, name: str) -> str:
        found = self._names.get(name)
        if found is None:
            found = self._names[name] = super().apply_naming_config(name)
        return found


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log bugs with their traceback and request id; an error with a code (UNAUTHENTICATED ...) is an answer."""
        unexpected = [e for e in errors if not (e.extensions or {}).get("code")]
        log_errors(unexpected, execution_context)


Query = merge_types(
    "Query", (HealthQuery, TerritoriesQuery, RoutingQuery, DisputesQuery, NotificationsQuery, RebalancingQuery)
)
Mutation = merge_types("Mutation", (RoutingMutation, DisputesMutation, NotificationsMutation, RebalancingMutation))

schema = Schema(
    query=Query,
    mutation=Mutation,
    # Batches are on; the view bounds them by settings.GRAPHQL_MAX_BATCH (read per request).
    config=StrawberryConfig(batching_config={"max_operations": 1000}, name_converter=CachedNameConverter()),
    extensions=[
        # Depth, aliases, tokens and introspection, before anything runs (docs/security.md).
        RequestLimits,
        # Parsed and validated documents, kept per process: a client sends the same few
        # documents with new variables. Keyed by the text, the parse options (the limits
        # above) and the validation rules, so a changed limit is never skipped. Profiled:
        # parsing and validating submitLead's document was a fifth of its request.
        CachedParsing,
        lambda: ValidationCache(maxsize=MAXSIZE),
        AuthenticationExtension,
        # `only()` is off: a custom resolver reading a column the optimizer did not
        # see would cost one query per row; whole rows are cheaper than that risk.
        lambda: RootDjangoOptimizerExtension(enable_only_optimization=False),
        MaskUnexpectedErrors,
    ],
)

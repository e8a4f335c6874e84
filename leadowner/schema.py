"""The root GraphQL schema: each app's Query merged, one set of extensions.

Apps own their types and queries (territories/schema.py, routing/schema.py,
disputes/schema.py); this module only assembles them. `python manage.py export_schema`
prints the result, kept as schema.graphql at the repository root.
"""

from __future__ import annotations

import strawberry
from django.db import connection
from graphql import GraphQLError
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry_django.optimizer import DjangoOptimizerExtension

from disputes.schema import DISPUTE_PAYLOAD_TYPES
from disputes.schema import Query as DisputesQuery
from leadowner.graphql.errors import UserError
from leadowner.graphql.extensions import AuthenticationExtension, mask_unexpected_errors
from routing.graphql_types import ROUTING_PAYLOAD_TYPES
from routing.schema import Query as RoutingQuery
from territories.schema import DeparturePayload
from territories.schema import Query as TerritoriesQuery


@strawberry.type
class HealthQuery:
    @strawberry.field(description='"ok" when the service and its database answer. Needs no authentication.')
    def health(self) -> str:
        connection.ensure_connection()
        return "ok"


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log bugs with their traceback; an error with a code (UNAUTHENTICATED ...) is an answer, not a bug."""
        unexpected = [e for e in errors if not (e.extensions or {}).get("code")]
        super().process_errors(unexpected, execution_context)


Query = merge_types("Query", (HealthQuery, TerritoriesQuery, RoutingQuery, DisputesQuery))

schema = Schema(
    query=Query,
    # Payload and input types of the mutations to come: part of the contract already.
    types=[UserError, DeparturePayload, *ROUTING_PAYLOAD_TYPES, *DISPUTE_PAYLOAD_TYPES],
    extensions=[
        AuthenticationExtension,
        # `only()` is off: a custom resolver reading a column the optimizer did not
        # see would cost one query per row; whole rows are cheaper than that risk.
        lambda: DjangoOptimizerExtension(enable_only_optimization=False),
        mask_unexpected_errors,
    ],
)

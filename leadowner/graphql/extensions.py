"""Schema extensions: authentication at the root, and no internals leaked in errors.

Authentication is checked once per root field, here, rather than by a permission
class on each field: a field added later is protected without anyone remembering to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from graphql import GraphQLError, GraphQLResolveInfo, OperationType
from strawberry.extensions import MaskErrors, SchemaExtension

from leadowner.graphql.errors import forbidden, unauthenticated
from leadowner.graphql.root_fields import wrap_root_fields
from leadowner.models import TokenScope

# Root fields anyone may ask without signing in. Introspection (__schema, __type,
# __typename) is public too: the contract is a public document.
PUBLIC_ROOT_FIELDS = frozenset({"health"})


def _authenticated(resolver: Callable[..., Any]) -> Callable[..., Any]:
    def resolve(root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any) -> Any:
        actor = info.context.actor
        if info.field_name not in PUBLIC_ROOT_FIELDS and not actor.is_authenticated:
            raise unauthenticated()
        if info.operation.operation == OperationType.MUTATION and actor.scope == TokenScope.READ_ONLY:
            raise forbidden("This token is read-only.")
        return resolver(root, info, *args, **kwargs)

    return resolve


class AuthenticationExtension(SchemaExtension):
    """Refuse every root field but the public ones to an anonymous actor (UNAUTHENTICATED),
    and every mutation to a READ_ONLY token (FORBIDDEN).

    The check wraps the root fields' resolvers (once per process, see
    leadowner.graphql.root_fields), not every field as a `resolve` hook would.
    """

    def on_execute(self) -> Iterator[None]:
        wrap_root_fields(self.execution_context.schema._schema, "authentication", _authenticated)
        yield


def _is_unexpected(error: GraphQLError) -> bool:
    """An exception that is not a GraphQL error is a bug: its message may hold internals.

    strawberry logs every error with its traceback (logger "strawberry.execution").
    """
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    return not settings.DEBUG


def mask_unexpected_errors() -> MaskErrors:
    return MaskErrors(should_mask_error=_is_unexpected, error_message="Internal server error.")

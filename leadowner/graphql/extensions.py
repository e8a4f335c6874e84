"""Schema extensions: authentication at the root, and no internals leaked in errors.

Authentication is checked once per root field, here, rather than by a permission
class on each field: a field added later is protected without anyone remembering to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from graphql import GraphQLError, GraphQLResolveInfo, OperationType
from strawberry.extensions import MaskErrors, SchemaExtension

from leadowner.graphql.errors import forbidden, unauthenticated
from leadowner.models import TokenScope

# Root fields anyone may ask without signing in. Introspection (__schema, __type,
# __typename) is public too: the contract is a public document.
PUBLIC_ROOT_FIELDS = frozenset({"health"})


class AuthenticationExtension(SchemaExtension):
    """Refuse every root field but the public ones to an anonymous actor (UNAUTHENTICATED),
    and every mutation to a READ_ONLY token (FORBIDDEN)."""

    def resolve(self, _next: Callable[..., Any], root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any) -> Any:
        if info.path.prev is None and not info.field_name.startswith("__"):
            actor = info.context.actor
            if info.field_name not in PUBLIC_ROOT_FIELDS and not actor.is_authenticated:
                raise unauthenticated()
            if info.operation.operation == OperationType.MUTATION and actor.scope == TokenScope.READ_ONLY:
                raise forbidden("This token is read-only.")
        return _next(root, info, *args, **kwargs)


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

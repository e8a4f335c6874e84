"""Errors are data: business outcomes become `UserError`s in a payload; the rest are GraphQL errors.

Two kinds, never mixed:
- A payload's `errors: [UserError!]!` for expected outcomes (already owned, expired,
  not allowed, invalid input): raised by services as ServiceError / ServiceErrors and
  turned into data by `payload_or_errors`.
- A GraphQL error (top-level `errors`, with `extensions.code`) for a request that cannot
  be served at all: no authentication (UNAUTHENTICATED), a token whose scope forbids the
  operation (FORBIDDEN), malformed arguments such as a bad cursor (BAD_USER_INPUT).

The pattern for a payload mutation (the workflow mutations follow it):

    @strawberry.mutation
    def claim_account(self, info: Info, account_id: strawberry.ID) -> ClaimAccountPayload:
        def run() -> ClaimAccountPayload:
            ownership = claims.claim_account(actor=info.context.actor, account_id=int(account_id), now=...)
            return ClaimAccountPayload(account=ownership.account, owner=ownership, ...)
        return payload_or_errors(ClaimAccountPayload, run)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError

from leadowner.errors import ServiceError, ServiceErrors

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
BAD_USER_INPUT = "BAD_USER_INPUT"


@strawberry.type(description="An expected business outcome, as data: the request was understood but not done.")
class UserError:
    field: str | None = strawberry.field(description="The input path, null when not about one field")
    code: str = strawberry.field(description="Stable, machine-readable: ALREADY_OWNED, NOT_FOUND, FORBIDDEN ...")
    message: str = strawberry.field(description="Human-readable")

    @classmethod
    def from_service_error(cls, error: ServiceError) -> UserError:
        return cls(field=_camel(error.field), code=error.code.value, message=error.message)


def _camel(path: str | None) -> str | None:
    """Service errors name Python fields (`account_id`); the API names GraphQL ones (`accountId`)."""
    if path is None:
        return None
    return ".".join(_camel_part(p) for p in path.split("."))


def _camel_part(part: str) -> str:
    head, *rest = part.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def user_errors(error: ServiceError | ServiceErrors) -> list[UserError]:
    if isinstance(error, ServiceErrors):
        return [UserError.from_service_error(e) for e in error.errors]
    return [UserError.from_service_error(error)]


P = TypeVar("P")


def payload_or_errors(payload_type: Callable[..., P], action: Callable[[], P]) -> P:
    """Run a mutation's action; an expected failure becomes `payload_type(errors=[...])`.

    `payload_type` is the strawberry payload class: every field but `errors` must default
    to None. Anything else raised is a bug and stays a GraphQL error.
    """
    try:
        return action()
    except (ServiceError, ServiceErrors) as error:
        return payload_type(errors=user_errors(error))


def graphql_error(code: str, message: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def unauthenticated() -> GraphQLError:
    return graphql_error(UNAUTHENTICATED, "Authentication required: send Authorization: Bearer <token>.")


def forbidden(message: str) -> GraphQLError:
    return graphql_error(FORBIDDEN, message)


def bad_input(message: str, argument: str | None = None) -> GraphQLError:
    if argument is None:
        return graphql_error(BAD_USER_INPUT, message)
    return graphql_error(BAD_USER_INPUT, message, argument=argument)

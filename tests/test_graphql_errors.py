"""Expected outcomes are payload data (UserError); bugs are masked GraphQL errors; scopes are enforced."""

from __future__ import annotations

import pytest
import strawberry
from django.test import RequestFactory
from django.utils import timezone

from leadowner.actors import ANONYMOUS, Actor
from leadowner.errors import ErrorCode, ServiceError, ServiceErrors
from leadowner.graphql.context import Context, Info
from leadowner.graphql.errors import UserError, payload_or_errors
from leadowner.graphql.extensions import AuthenticationExtension, mask_unexpected_errors
from tests.factories import RepFactory

pytestmark = pytest.mark.django_db


@strawberry.type
class ThingPayload:
    thing: str | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Query:
    @strawberry.field
    def ping(self) -> str:
        return "pong"


@strawberry.type
class Mutation:
    @strawberry.mutation
    def make_thing(self, info: Info, outcome: str) -> ThingPayload:
        def run() -> ThingPayload:
            if outcome == "taken":
                raise ServiceError(ErrorCode.ALREADY_OWNED, "Acme is already owned by Ada", "account_id")
            if outcome == "invalid":
                raise ServiceErrors(
                    [
                        ServiceError(ErrorCode.INVALID, "email is missing", "input.email"),
                        ServiceError(ErrorCode.INVALID, "country XX is unknown", "input.country_code"),
                    ]
                )
            if outcome == "bug":
                raise RuntimeError("secret connection string in this message")
            return ThingPayload(thing=f"made by {info.context.actor.label}")

        return payload_or_errors(ThingPayload, run)


schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=[AuthenticationExtension, mask_unexpected_errors])
MUTATION = "mutation($o: String!) { makeThing(outcome: $o) { thing errors { field code message } } }"


def _run(actor: Actor, outcome: str) -> strawberry.types.ExecutionResult:
    context = Context(request=RequestFactory().post("/graphql"), response=None, actor=actor, now=timezone.now())  # type: ignore[arg-type]
    return schema.execute_sync(MUTATION, variable_values={"o": outcome}, context_value=context)


def test_a_mutation_that_works_has_no_errors():
    rep = RepFactory(email="ada@example.com")
    result = _run(Actor(rep=rep), "ok")
    assert result.errors is None
    assert result.data == {"makeThing": {"thing": "made by ada@example.com", "errors": []}}


def test_a_service_error_becomes_a_user_error_with_its_code_and_the_api_field_name():
    result = _run(Actor(rep=RepFactory()), "taken")
    assert result.errors is None
    assert result.data == {
        "makeThing": {
            "thing": None,
            "errors": [{"field": "accountId", "code": "ALREADY_OWNED", "message": "Acme is already owned by Ada"}],
        }
    }


def test_several_service_errors_become_several_user_errors():
    result = _run(Actor(rep=RepFactory()), "invalid")
    assert result.errors is None
    assert result.data is not None
    assert result.data["makeThing"]["errors"] == [
        {"field": "input.email", "code": "INVALID", "message": "email is missing"},
        {"field": "input.countryCode", "code": "INVALID", "message": "country XX is unknown"},
    ]


def test_a_bug_is_a_graphql_error_that_leaks_nothing():
    result = _run(Actor(rep=RepFactory()), "bug")
    assert result.errors is not None
    assert [e.message for e in result.errors] == ["Internal server error."]
    assert "secret" not in str(result.errors[0].formatted)


def test_a_mutation_without_authentication_is_unauthenticated():
    result = _run(ANONYMOUS, "ok")
    assert result.errors is not None
    assert [e.extensions for e in result.errors] == [{"code": "UNAUTHENTICATED"}]


def test_a_read_only_token_cannot_mutate():
    result = _run(Actor(rep=RepFactory(), scope="READ_ONLY"), "ok")
    assert result.errors is not None
    assert [e.extensions for e in result.errors] == [{"code": "FORBIDDEN"}]

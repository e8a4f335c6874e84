"""schemathesis against the live /graphql endpoint, as a manager and as a partner user.

The schema is our own snapshot (schema.graphql, the one the contract test pins), so the
fuzzer covers every Query field and Mutation of the contract. For each operation
hypothesis generates documents with arbitrary arguments (ids, strings, enums, dates,
nested inputs) and sends them over HTTP to a live server thread. Every answer must be:

- not a 5xx (schemathesis' `not_a_server_error` check, which also reads GraphQL errors
  for masked bugs: an "Internal server error" is a failure here too);
- well-formed GraphQL over HTTP: a JSON object with `data` and/or `errors`, every error
  an object with a string `message` and, when it has them, object `extensions`.

`make test` runs a few cases per operation (FUZZ_EXAMPLES, default 3); `make fuzz` runs
the slow variant with many more.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadowner.actors import Actor
from leadowner.errors import ErrorCode
from leadowner.tokens import issue_token
from routing.models import DealRegistration
from routing.services.registrations import DealRegistrationData, register_deal
from tests.celery_support import close_other_connections
from tests.factories import (
    AccountFactory,
    DisputeFactory,
    ManagerFactory,
    OpportunityFactory,
    PartnerUserFactory,
    RepFactory,
)
from tests.jobs_support import owned_account, owned_lead, us_map

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = schemathesis.graphql.from_path(ROOT / "schema.graphql")
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]

pytestmark = [pytest.mark.django_db(transaction=True)]

# The long runs are for `make fuzz` (which sets LEADOWNER_FUZZ_LONG=1); `make test` runs the bounded ones.
LONG_RUN = pytest.mark.skipif(not os.environ.get("LEADOWNER_FUZZ_LONG"), reason="the long run: make fuzz")


# GraphQL errors that are answers, not bugs (leadowner.graphql.errors, limits, ratelimit, the view).
# The service codes (leadowner.errors.ErrorCode) are answers too, when a query raises one as a GraphQL error.
ANSWER_CODES = frozenset(
    {"UNAUTHENTICATED", "FORBIDDEN", "BAD_USER_INPUT", "QUERY_LIMIT", "RATE_LIMITED", "BAD_REQUEST"}
    | {code.value for code in ErrorCode}
)


def _world() -> dict[str, str]:
    """A small book with something behind most ids: reps, a team, accounts, leads, a registration, a dispute."""
    now = timezone.now()
    manager = ManagerFactory(name="Mona")
    ada = RepFactory(name="Ada", manager=manager)
    bo = RepFactory(name="Bo", manager=manager)
    us_map(ada, bo)
    account, _ = owned_account(ada, now - timedelta(days=3), name="Acme", domains=["acme.example"])
    owned_lead(bo, now - timedelta(days=1), account=account)
    AccountFactory(name="Globex", domains=["globex.example"], parent=account)
    OpportunityFactory(account=account, owner=ada)
    DisputeFactory(account=account, claimant=bo, current_owner=ada)
    partner_user = PartnerUserFactory()
    register_deal(
        data=DealRegistrationData(company="Initech", domain="initech.com"),
        actor=Actor(partner_user=partner_user),
        now=now,
    )
    _t1, manager_token = issue_token(rep=manager)
    _t2, partner_token = issue_token(partner_user=partner_user)
    return {"manager": manager_token, "partner": partner_token}


def _well_formed(body: Any) -> None:
    assert isinstance(body, dict | list), body
    for item in body if isinstance(body, list) else [body]:
        assert isinstance(item, dict) and ("data" in item or "errors" in item), item
        assert set(item) <= {"data", "errors", "extensions"}, item
        assert item.get("data") is None or isinstance(item["data"], dict), item
        for error in item.get("errors") or []:
            assert isinstance(error, dict) and isinstance(error.get("message"), str), error
            extensions = error.get("extensions", {})
            assert isinstance(extensions, dict), error
            # A document the schema refuses has no path; an error raised while running one
            # is an answer with a code of the contract. Anything else is a bug (masked or not).
            if "path" in error:
                assert extensions.get("code") in ANSWER_CODES, error
            else:
                assert extensions.get("code") in (None, *ANSWER_CODES), error


def _fuzz(base_url: str, token: str, examples: int) -> None:
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    answered: set[str] = set()  # operations that got data back, not only refusals

    @settings(
        max_examples=examples * len(OPERATIONS),
        deadline=None,
        database=None,
        derandomize=os.environ.get("FUZZ_SEED") is None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        operation = data.draw(st.sampled_from(OPERATIONS), label="operation")
        case = data.draw(operation.as_strategy(), label="case")
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        assert response.status_code < 500, response.text
        # Malformed JSON, a non-object answer, or data that breaks the schema (a null in a non-null field).
        SCHEMA.validate_response(operation, response, case=case)
        content_type = (response.headers.get("content-type") or [""])[0]  # lower-case keys, list values
        assert content_type.startswith("application/json"), response.text[:500]
        body = response.json()
        _well_formed(body)
        if isinstance(body, dict) and body.get("data"):
            answered.add(operation.label)

    run()
    # Not vacuous: the generated documents reach the resolvers of many operations.
    assert len(answered) >= len(OPERATIONS) // 3, sorted(answered)


@pytest.fixture
def world(settings: Any) -> Iterator[dict[str, str]]:
    settings.DEBUG = False
    settings.AUTH_RATE_LIMIT_FAILURES = 10_000  # the fuzzer's own requests are not an attack
    cache.clear()
    yield _world()
    close_other_connections()  # the live server thread's connection, so the database can be flushed


EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))


@pytest.mark.parametrize("who", ["manager", "partner"])
def test_no_generated_request_gets_a_server_error_or_a_malformed_answer(live_server, world, who):
    _fuzz(f"{live_server.url}/graphql", world[who], EXAMPLES)


@pytest.mark.slow
@LONG_RUN
@pytest.mark.parametrize("who", ["manager", "partner"])
def test_fuzz_long_run_no_server_error_or_malformed_answer(live_server, world, who):
    _fuzz(f"{live_server.url}/graphql", world[who], int(os.environ.get("FUZZ_LONG_EXAMPLES", "40")))


def test_a_registration_worth_more_than_the_column_holds_is_invalid_not_a_server_error():
    """Found by the partner fuzzer: estimatedValue 1e15 overflowed numeric(14, 2) as a 500."""
    from tests.graphql_support import gql, payload_of, user_error_codes

    token = issue_token(partner_user=PartnerUserFactory())[1]
    body = gql(
        'mutation { registerDeal(input: {company: "Initech", estimatedValue: 1e15}) { errors { field code } } }',
        token=token,
    )
    assert user_error_codes(payload_of(body, "registerDeal")) == [("INVALID", "estimatedValue")]


@pytest.mark.parametrize("field", ["company", "note", "domain", "country"])
def test_a_registration_text_with_a_nul_character_is_refused_not_a_server_error(field):
    """Found by the partner fuzzer: a NUL in company or note reached PostgreSQL, which refuses it.

    Now every request is checked at the door (leadowner.graphql.view): a 400 naming the
    place, and the service's own check stays as a second line for callers outside GraphQL.
    """
    token = issue_token(partner_user=PartnerUserFactory())[1]
    values = {"company": "Initech", field: "Ini\u0000tech"}
    query = "mutation($input: DealRegistrationInput!) { registerDeal(input: $input) { errors { field code } } }"
    response = Client().post(
        "/graphql",
        data=json.dumps({"query": query, "variables": {"input": values}}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert f"NUL character (variables.input.{field})" in response.json()["errors"][0]["message"]
    assert not DealRegistration.objects.exists()

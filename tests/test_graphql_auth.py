"""GraphQL authentication: no valid token, no data; session cookies keep their CSRF protection."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from graphql import GraphQLNonNull, GraphQLObjectType, get_named_type

from leadowner.models import ApiToken
from leadowner.schema import schema
from leadowner.tokens import issue_token, revoke_token
from tests.factories import AccountFactory, RepFactory
from tests.graphql_support import assert_no_errors, error_codes, gql, token_for

pytestmark = pytest.mark.django_db

PUBLIC_FIELDS = {"health"}


def _sample_value(type_: object) -> str:
    named = get_named_type(type_)  # type: ignore[arg-type]
    return {"ID": '"1"', "String": '"x"', "Int": "1", "Boolean": "true"}.get(named.name, "null")


def _query_for(field_name: str) -> str:
    """A minimal query of one root field: its required arguments and `__typename` if it is an object."""
    field = schema._schema.query_type.fields[field_name]
    required = [
        f"{name}: {_sample_value(arg.type)}" for name, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull)
    ]
    if field_name == "simulateRouting":
        required = ['leads: [{email: "a@b.example"}]']
    args = f"({', '.join(required)})" if required else ""
    selection = " { __typename }" if isinstance(get_named_type(field.type), GraphQLObjectType) else ""
    return f"{{ {field_name}{args}{selection} }}"


PROTECTED_FIELDS = sorted(set(schema._schema.query_type.fields) - PUBLIC_FIELDS)


@pytest.mark.parametrize("field_name", PROTECTED_FIELDS)
def test_every_query_field_but_health_answers_unauthenticated_without_a_token(field_name):
    AccountFactory()
    body = gql(_query_for(field_name))
    assert error_codes(body) == ["UNAUTHENTICATED"], body
    assert body["errors"][0]["path"] == [field_name]
    assert body["data"] is None or body["data"].get(field_name) is None


def test_health_answers_without_a_token():
    assert assert_no_errors(gql("{ health }")) == {"health": "ok"}


@override_settings(GRAPHQL_INTROSPECTION=True)  # off in production unless enabled: tests/test_graphql_limits.py
def test_introspection_is_public_when_enabled():
    data = assert_no_errors(gql("{ __schema { queryType { name } } }"))
    assert data["__schema"]["queryType"]["name"] == "Query"


def test_each_protected_field_of_one_request_gets_its_own_error():
    body = gql('{ health me { id } account(id: "1") { id } }')  # nullable fields: the rest of data survives
    assert body["data"] == {"health": "ok", "me": None, "account": None}
    assert sorted(e["path"][0] for e in body["errors"]) == ["account", "me"]
    assert set(error_codes(body)) == {"UNAUTHENTICATED"}


def test_valid_token_reads():
    rep = RepFactory(name="Ada")
    data = assert_no_errors(gql("{ me { name } }", token=token_for(rep=rep)))
    assert data == {"me": {"name": "Ada"}}


def test_revoked_token_is_unauthenticated(now):
    token, raw = issue_token(rep=RepFactory())
    revoke_token(prefix=token.prefix, now=now)
    body = gql("{ me { name } }", token=raw)
    assert error_codes(body) == ["UNAUTHENTICATED"]


def test_expired_token_is_unauthenticated(now):
    token, raw = issue_token(rep=RepFactory(), expires_at=now + timedelta(minutes=5), now=now)
    assert_no_errors(gql("{ me { name } }", token=raw))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=now - timedelta(seconds=1))
    body = gql("{ me { name } }", token=raw)
    assert error_codes(body) == ["UNAUTHENTICATED"]


def test_garbage_token_is_unauthenticated():
    body = gql("{ reps { id } }", token="lo_0123456789ab_not-the-secret")
    assert error_codes(body) == ["UNAUTHENTICATED"]


def test_departed_reps_token_is_unauthenticated():
    rep = RepFactory()
    raw = token_for(rep=rep)
    rep.status = "DEPARTED"
    rep.save()
    assert error_codes(gql("{ me { id } }", token=raw)) == ["UNAUTHENTICATED"]


def _session_client(*, enforce_csrf: bool = True) -> tuple[Client, object]:
    user = get_user_model().objects.create_user("ada", password="pw-123456789")
    rep = RepFactory(user=user, name="Ada")
    client = Client(enforce_csrf_checks=enforce_csrf)
    client.force_login(user)
    return client, rep


def _post(client: Client, query: str, **headers: str) -> object:
    return client.post("/graphql", data=json.dumps({"query": query}), content_type="application/json", headers=headers)


def test_session_post_without_csrf_token_is_refused():
    client, _ = _session_client()
    response = _post(client, "{ me { name } }")
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert b"CSRF" in response.content  # type: ignore[attr-defined]


def test_session_post_with_csrf_token_reads_as_the_sessions_rep():
    client, _ = _session_client()
    secret = "Abc123" * 5 + "xy"  # a 32-character CSRF secret, as the console's pages set it
    client.cookies["csrftoken"] = secret
    response = _post(client, "{ me { name } }", **{"X-CSRFToken": secret})
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert response.json() == {"data": {"me": {"name": "Ada"}}}  # type: ignore[attr-defined]


def test_session_get_query_needs_no_csrf_token():
    client, _ = _session_client()
    response = client.get("/graphql", {"query": "{ me { name } }"})
    assert response.json() == {"data": {"me": {"name": "Ada"}}}


def test_bearer_post_needs_no_csrf_token():
    rep = RepFactory(name="Bo")
    client = Client(enforce_csrf_checks=True)
    response = _post(client, "{ me { name } }", Authorization=f"Bearer {token_for(rep=rep)}")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert response.json() == {"data": {"me": {"name": "Bo"}}}  # type: ignore[attr-defined]


def test_junk_bearer_header_does_not_make_a_session_post_csrf_exempt():
    client, _ = _session_client()
    response = _post(client, "{ me { name } }", Authorization="Bearer junk")
    # Not refused for CSRF, but not the session's rep either: the bad token makes it anonymous.
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]  # type: ignore[attr-defined]


def test_anonymous_post_of_health_needs_no_csrf_token():
    response = _post(Client(enforce_csrf_checks=True), "{ health }")
    assert response.json() == {"data": {"health": "ok"}}  # type: ignore[attr-defined]


@override_settings(GRAPHIQL=False)
def test_graphiql_is_off_unless_configured():
    response = Client().get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 404


@override_settings(GRAPHIQL=True)
def test_graphiql_is_served_when_configured():
    response = Client().get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert b"graphiql" in response.content.lower()


def test_read_only_token_may_query(now):
    raw = token_for(rep=RepFactory(name="Cy"), scope="READ_ONLY")
    assert assert_no_errors(gql("{ me { name } }", token=raw)) == {"me": {"name": "Cy"}}

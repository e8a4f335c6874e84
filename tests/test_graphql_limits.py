"""Nothing a caller sends to /graphql may take the service down: every document is bounded.

Depth, aliases, tokens, document length, page size and batch size are limited (each
from settings, read per request); GET never runs a mutation; introspection is off unless
enabled; a bug answers "Internal server error" with a request id the log repeats with
the traceback; a malformed request answers a GraphQL-shaped 4xx, never a 5xx.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client, override_settings

from leadowner import schema as root_schema
from routing.models import Account, Lead
from tests.factories import AccountFactory, ManagerFactory, RepFactory
from tests.graphql_support import assert_no_errors, error_codes, gql, token_for

pytestmark = pytest.mark.django_db


def _post(body: Any, *, token: str | None = None, client: Client | None = None) -> Any:
    client = client or Client()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/graphql", data=json.dumps(body), content_type="application/json", headers=headers)


def _limit_errors(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["limit"] for e in body["errors"] if e.get("extensions", {}).get("code") == "QUERY_LIMIT"]


def _nested_parents(levels: int) -> str:
    inner = "id"
    for _ in range(levels):
        inner = f"parent {{ {inner} }}"
    return f'query {{ account(id: "1") {{ {inner} }} }}'


@override_settings(GRAPHQL_MAX_DEPTH=6)
def test_a_query_deeper_than_the_limit_is_refused_before_it_runs(django_assert_num_queries):
    token = token_for(rep=RepFactory())
    with django_assert_num_queries(2):  # the token lookup and its last_used_at: no resolver ran
        body = gql(_nested_parents(8), token=token)
    assert body.get("data") is None
    assert _limit_errors(body) == ["depth"]
    assert "exceeds maximum operation depth of 6" in body["errors"][0]["message"]


@override_settings(GRAPHQL_MAX_DEPTH=6)
def test_a_query_within_the_depth_limit_runs():
    top = AccountFactory(name="Top")
    child = AccountFactory(name="Child", parent=top)
    token = token_for(rep=RepFactory())
    data = assert_no_errors(gql(f'{{ account(id: "{child.pk}") {{ parent {{ name }} }} }}', token=token))
    assert data == {"account": {"parent": {"name": "Top"}}}


def test_the_depth_limit_is_read_from_settings_per_request():
    query = _nested_parents(4)
    token = token_for(rep=RepFactory())
    with override_settings(GRAPHQL_MAX_DEPTH=3):
        assert _limit_errors(gql(query, token=token)) == ["depth"]
    with override_settings(GRAPHQL_MAX_DEPTH=10):
        assert "errors" not in gql(query, token=token)


@override_settings(GRAPHQL_MAX_ALIASES=5)
def test_more_aliases_than_the_limit_are_refused():
    refused = gql("{ " + " ".join(f"a{i}: health" for i in range(6)) + " }")
    assert refused.get("data") is None
    assert _limit_errors(refused) == ["aliases"]
    allowed = gql("{ " + " ".join(f"a{i}: health" for i in range(5)) + " }")
    assert allowed == {"data": {f"a{i}": "ok" for i in range(5)}}


@override_settings(GRAPHQL_MAX_TOKENS=100)
def test_a_document_with_more_tokens_than_the_limit_is_refused_while_parsing():
    body = gql("{ " + "health " * 150 + "}")
    assert body.get("data") is None
    assert _limit_errors(body) == ["tokens"]
    assert "more than 100 tokens" in body["errors"][0]["message"]


@override_settings(GRAPHQL_MAX_QUERY_CHARS=2000)
def test_a_document_longer_than_the_limit_is_refused_unread():
    body = gql('{ ownerOf(company: "' + "x" * 3000 + '") { found } }')
    assert _limit_errors(body) == ["tokens"]
    assert "more than 2000 code points" in body["errors"][0]["message"]


def test_a_page_larger_than_the_maximum_is_refused(settings):
    settings.GRAPHQL_MAX_PAGE_SIZE = 100
    token = token_for(rep=RepFactory())
    body = gql("{ accounts(first: 101) { totalCount } }", token=token)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "between 0 and 100" in body["errors"][0]["message"]
    assert gql("{ accounts(first: 100) { totalCount } }", token=token)["data"] == {"accounts": {"totalCount": 0}}


@override_settings(GRAPHQL_MAX_BATCH=3)
def test_a_batch_runs_each_operation_up_to_the_limit():
    response = _post([{"query": "{ health }"}, {"query": "{ h: health }"}])
    assert response.status_code == 200
    assert response.json() == [{"data": {"health": "ok"}}, {"data": {"h": "ok"}}]


@override_settings(GRAPHQL_MAX_BATCH=3)
def test_a_batch_over_the_limit_is_refused_whole_and_nothing_runs():
    manager = ManagerFactory()
    token = token_for(rep=manager)
    submit = {"query": 'mutation { submitLead(input: {email: "a@b.example"}) { errors { code } } }'}
    response = _post([submit] * 4, token=token)
    assert response.status_code == 400
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "at most 3 operations" in body["errors"][0]["message"]
    assert not Lead.objects.exists()


def test_a_mutation_over_get_is_refused_and_writes_nothing():
    token = token_for(rep=ManagerFactory())
    response = Client().get(
        "/graphql",
        {"query": 'mutation { submitLead(input: {email: "get@b.example"}) { errors { code } } }'},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert not Lead.objects.exists()


def test_a_query_over_get_runs():
    response = Client().get("/graphql", {"query": "{ health }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"health": "ok"}}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("5", "application/json"),
        ('"a string"', "application/json"),
        ("[1, 2]", "application/json"),
        ('{"query": 5}', "application/json"),
        ('{"query": "{ health }", "variables": []}', "application/json"),
        ("query=%7Bhealth%7D", "application/x-www-form-urlencoded"),
        ("", "application/json"),
    ],
)
def test_a_malformed_request_is_a_json_4xx_never_a_server_error(body, content_type):
    response = Client().post("/graphql", data=body, content_type=content_type)
    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/json")
    payload = response.json()
    assert payload["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert payload["errors"][0]["extensions"]["requestId"] == response["X-Request-ID"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
def test_a_body_over_the_upload_limit_is_413_in_json():
    response = _post({"query": "{ health }", "variables": {"pad": "x" * 20_000}})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


@override_settings(GRAPHQL_INTROSPECTION=False)
def test_introspection_is_off_unless_enabled():
    body = gql("{ __schema { queryType { name } } }")
    assert body.get("data") is None
    assert "introspection has been disabled" in body["errors"][0]["message"]
    # __typename is not introspection of the schema: clients use it to tell types apart.
    assert gql("{ __typename }") == {"data": {"__typename": "Query"}}


def test_introspection_defaults_to_debug_and_graphiql_too():
    from leadowner import settings as project_settings

    assert project_settings.GRAPHQL_INTROSPECTION is project_settings.DEBUG
    assert project_settings.GRAPHIQL is project_settings.DEBUG


def _break_health(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise RuntimeError("could not connect to postgres://admin:hunter2@db.internal/leadowner")

    monkeypatch.setattr(root_schema.connection, "ensure_connection", broken)


@override_settings(DEBUG=False)
def test_a_bug_shows_the_client_a_request_id_and_the_log_the_traceback_with_it(monkeypatch, caplog):
    _break_health(monkeypatch)
    caplog.set_level(logging.ERROR, logger="leadowner.graphql")
    response = _post({"query": "{ health }"})
    assert response.status_code == 200  # GraphQL over HTTP: the operation failed, the request did not
    body = response.json()
    request_id = response["X-Request-ID"]
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert request_id in error["message"]
    assert "hunter2" not in response.content.decode()
    [record] = [r for r in caplog.records if r.name == "leadowner.graphql"]
    assert request_id in record.getMessage()
    assert record.exc_info is not None and "hunter2" in str(record.exc_info[1])


@override_settings(DEBUG=True)
def test_with_debug_on_a_bug_is_shown_as_it_is(monkeypatch):
    _break_health(monkeypatch)
    body = _post({"query": "{ health }"}).json()
    assert "could not connect" in body["errors"][0]["message"]


def test_a_refused_document_changes_nothing():
    token = token_for(rep=ManagerFactory())
    with override_settings(GRAPHQL_MAX_ALIASES=1):
        body = gql(
            'mutation { a: submitLead(input: {email: "x@y.example"}) { errors { code } } '
            'b: submitLead(input: {email: "z@y.example"}) { errors { code } } }',
            token=token,
        )
    assert _limit_errors(body) == ["aliases"]
    assert not Lead.objects.exists() and not Account.objects.exists()


def test_a_nul_character_in_any_text_input_is_refused_as_a_malformed_request_and_writes_nothing():
    token = token_for(rep=ManagerFactory())
    mutation = "mutation($input: LeadInput!) { submitLead(input: $input) { errors { code } } }"
    response = _post(
        {"query": mutation, "variables": {"input": {"email": "a@b.example", "title": "CTO\x00"}}}, token=token
    )
    assert response.status_code == 400
    assert "NUL character (variables.input.title)" in response.json()["errors"][0]["message"]
    literal = 'mutation { submitLead(input: {email: "a@b.example", company: "Acme\\u0000"}) { errors { code } } }'
    response = _post({"query": literal}, token=token)
    assert response.status_code == 400
    assert "NUL character (query)" in response.json()["errors"][0]["message"]
    assert not Lead.objects.exists()

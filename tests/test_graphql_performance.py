"""GraphQL costs the profiles found: documents kept per process, checks on root fields only."""

from __future__ import annotations

import pytest
from django.test import override_settings

from leadowner.graphql.caches import _parse
from tests.graphql_support import gql


@pytest.mark.django_db
def test_the_same_document_is_parsed_once_and_answers_alike() -> None:
    query = "query CacheProbe { health }"
    first = gql(query)
    hits = _parse.cache_info().hits
    second = gql(query)
    assert first == second == {"data": {"health": "ok"}}
    assert _parse.cache_info().hits == hits + 1


@pytest.mark.django_db
def test_a_syntax_error_is_reported_as_a_syntax_error_every_time() -> None:
    for _ in range(2):
        body = gql("{ health ")
        assert body.get("data") is None
        assert "Syntax Error" in body["errors"][0]["message"]


@pytest.mark.django_db
def test_a_limit_lowered_after_a_document_was_cached_still_refuses_it() -> None:
    query = "{ " + "health " * 40 + "}"
    assert gql(query)["data"] == {"health": "ok"}
    with override_settings(GRAPHQL_MAX_TOKENS=20):
        body = gql(query)
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["limit"] == "tokens"


def test_no_extension_wraps_every_field_of_every_row() -> None:
    from leadowner.schema import schema

    hooks = []
    for extension in schema.extensions:
        instance = extension() if callable(extension) and not isinstance(extension, type) else extension
        kind = instance if isinstance(instance, type) else type(instance)
        if kind._implements_resolve():
            hooks.append(kind.__name__)
    assert hooks == []


@pytest.mark.django_db
def test_an_anonymous_caller_still_gets_unauthenticated_on_each_root_field_and_health_answers() -> None:
    body = gql('{ health account(id: "1") { id } }')
    assert body["data"]["health"] == "ok"
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert body["errors"][0]["path"] == ["account"]

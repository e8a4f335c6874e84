"""Parsed and validated documents are kept per process; errors and limits are never cached away."""

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

"""Helpers for the GraphQL tests: post a query as a token holder, read errors."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from leadowner.tokens import issue_token
from territories.models import PartnerUser, Rep


def token_for(*, rep: Rep | None = None, partner_user: PartnerUser | None = None, scope: str | None = None) -> str:
    _, raw = issue_token(rep=rep, partner_user=partner_user, scope=scope)
    return raw


def gql(
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    client: Client | None = None,
) -> dict[str, Any]:
    """POST a GraphQL request; returns the decoded JSON body (asserting a JSON answer)."""
    client = client or Client()
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = client.post(
        "/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
        headers=headers,
    )
    assert response["Content-Type"].startswith("application/json"), response.content
    body: dict[str, Any] = response.json()
    return body


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


def assert_no_errors(body: dict[str, Any]) -> dict[str, Any]:
    assert not body.get("errors"), body.get("errors")
    data: dict[str, Any] = body["data"]
    return data


def payload_of(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The payload of mutation `name`, asserting the request itself raised no GraphQL error."""
    data = assert_no_errors(body)
    result: dict[str, Any] = data[name]
    return result


def user_error_codes(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    """A payload's UserErrors as (code, field) pairs."""
    return [(e["code"], e["field"]) for e in payload["errors"]]

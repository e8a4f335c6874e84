"""The exported GraphQL schema is a compatible superset of the public contract, and its snapshot is current."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from graphql import (
    DangerousChangeType,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
)

from leadowner.management.commands.export_schema import schema_sdl
from leadowner.schema import schema

REPO = Path(settings.BASE_DIR)
CONTRACT = REPO / "docs" / "api-contract.graphql"  # a copy of ../shared/docs/api-contract.graphql
SHARED_CONTRACT = REPO.parent / "shared" / "docs" / "api-contract.graphql"
SNAPSHOT = REPO / "schema.graphql"

# The contract says adding enum values, optional arguments and optional input fields is free.
FREE_DANGEROUS_CHANGES = frozenset(
    {
        DangerousChangeType.VALUE_ADDED_TO_ENUM,
        DangerousChangeType.OPTIONAL_ARG_ADDED,
        DangerousChangeType.OPTIONAL_INPUT_FIELD_ADDED,
    }
)


@pytest.fixture(scope="module")
def contract() -> GraphQLSchema:
    return build_schema(CONTRACT.read_text(encoding="utf-8"))


def test_schema_has_no_breaking_change_against_the_contract(contract):
    """The whole contract, queries and mutations: nothing is missing, renamed or narrowed."""
    assert [c.description for c in find_breaking_changes(contract, schema._schema)] == []


def test_schema_has_no_dangerous_change_beyond_the_free_ones(contract):
    dangerous = [c for c in find_dangerous_changes(contract, schema._schema) if c.type not in FREE_DANGEROUS_CHANGES]
    assert [c.description for c in dangerous] == []


def test_the_breaking_change_check_catches_a_renamed_field(contract):
    """The guard itself works: a schema missing a built contract field is reported."""
    sdl = schema_sdl().replace("  openLoad: Int!\n", "  currentLoad: Int!\n")
    assert "currentLoad" in sdl
    changes = find_breaking_changes(contract, build_schema(sdl))
    assert "Field Rep.openLoad was removed." in [c.description for c in changes]


def test_the_breaking_change_check_catches_a_renamed_mutation(contract):
    sdl = schema_sdl().replace("  markRepDeparted(", "  markRepGone(")
    assert "markRepGone" in sdl
    changes = find_breaking_changes(contract, build_schema(sdl))
    assert "Field Mutation.markRepDeparted was removed." in [c.description for c in changes]


def test_snapshot_file_is_the_current_export():
    assert SNAPSHOT.read_text(encoding="utf-8") == schema_sdl(), (
        "schema.graphql is stale: run `python manage.py export_schema --output schema.graphql` and commit it"
    )


@pytest.mark.skipif(not SHARED_CONTRACT.exists(), reason="the shared contract is not checked out next to the repo")
def test_vendored_contract_is_the_shared_contract():
    assert CONTRACT.read_text(encoding="utf-8") == SHARED_CONTRACT.read_text(encoding="utf-8")


def test_export_schema_prints_the_sdl_or_writes_it(tmp_path):
    out = StringIO()
    call_command("export_schema", stdout=out)
    assert out.getvalue() == schema_sdl()
    target = tmp_path / "schema.graphql"
    call_command("export_schema", "--output", str(target), stdout=StringIO(), stderr=StringIO())
    assert target.read_text(encoding="utf-8") == schema_sdl()

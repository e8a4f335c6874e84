"""Abuse limits on every GraphQL operation, and bugs masked behind a request id.

A partner's portal reaches /graphql from outside: no document it sends may cost the
service more than a bounded amount of work. Before anything executes:

- the document's length and its lexical tokens are bounded while it is parsed
  (graphql-core's `max_source_length` / `max_lexical_tokens`, what strawberry's
  `MaxTokensLimiter` sets), so a huge document is refused before it is built;
- its depth (strawberry's `QueryDepthLimiter` rule; introspection fields do not count)
  and its aliases (strawberry's `MaxAliasesLimiter` rule) are bounded at validation;
- introspection is refused unless `settings.GRAPHQL_INTROSPECTION` (default: DEBUG).

Page sizes are bounded by `leadowner.graphql.pagination` and batches by the view. Each
limit is read from settings for every operation (not once at import), so the values a
deployment sets in its environment, or a test in `override_settings`, are the ones in
force. A refused document answers a GraphQL error with `extensions.code` QUERY_LIMIT
and the limit's name, never a 5xx.

Bugs: an exception that is not a GraphQL error may carry internals in its message. With
DEBUG off the client sees "Internal server error" with the request id
(`extensions.requestId`, also the X-Request-ID response header); the log has the same id
with the traceback (`log_errors`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from django.conf import settings
from graphql import ASTValidationRule, GraphQLError, ValidationContext
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as aliases_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.types import ExecutionContext

QUERY_LIMIT = "QUERY_LIMIT"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
REQUEST_ID_ATTR = "request_id"

logger = logging.getLogger("leadowner.graphql")


class _TaggingContext:
    """A validation context whose reported errors carry `code: QUERY_LIMIT` and the limit's name."""

    def __init__(self, context: ValidationContext, limit: str) -> None:
        self._context = context
        self._limit = limit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def report_error(self, error: GraphQLError) -> None:
        self._context.report_error(
            GraphQLError(
                error.message,
                error.nodes,
                extensions={**(error.extensions or {}), "code": QUERY_LIMIT, "limit": self._limit},
            )
        )


def _tagged(rule: type[ASTValidationRule], limit: str) -> type[ASTValidationRule]:
    class Tagged(rule):  # type: ignore[valid-type,misc]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(_TaggingContext(context, limit))

    Tagged.__name__ = f"{limit.title()}Limit"
    return Tagged


@lru_cache(maxsize=16)
def depth_rule(max_depth: int) -> type[ASTValidationRule]:
    return _tagged(depth_validator(max_depth, None), "depth")


@lru_cache(maxsize=16)
def aliases_rule(max_aliases: int) -> type[ASTValidationRule]:
    return _tagged(aliases_validator(max_aliases), "aliases")


def _token_error(error: GraphQLError) -> bool:
    # graphql-core's parser, stopped by max_lexical_tokens / max_source_length.
    return "Parsing aborted" in error.message


class RequestLimits(SchemaExtension):
    """Depth, aliases, tokens, document length and introspection, from settings, per operation."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        # strawberry's ParseOptions type names only max_tokens; graphql-core 3.3 takes these too.
        options: dict[str, Any] = context.parse_options  # type: ignore[assignment]
        options["max_lexical_tokens"] = settings.GRAPHQL_MAX_TOKENS
        options["max_source_length"] = settings.GRAPHQL_MAX_QUERY_CHARS
        # Comments are tokens the parser keeps too: as many as the document may have tokens.
        options["max_comments"] = settings.GRAPHQL_MAX_TOKENS
        rules: list[type[ASTValidationRule]] = [
            depth_rule(settings.GRAPHQL_MAX_DEPTH),
            aliases_rule(settings.GRAPHQL_MAX_ALIASES),
        ]
        if not settings.GRAPHQL_INTROSPECTION:
            rules.append(NoSchemaIntrospectionCustomRule)
        context.validation_rules = (*context.validation_rules, *rules)
        yield
        result = context.result
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [_tag_token_error(e) for e in errors]  # type: ignore[union-attr]


def _tag_token_error(error: GraphQLError) -> GraphQLError:
    if error.original_error is not None or (error.extensions or {}).get("code") or not _token_error(error):
        return error
    return GraphQLError(
        error.message,
        error.nodes,
        error.source,
        error.positions,
        error.path,
        extensions={"code": QUERY_LIMIT, "limit": "tokens"},
    )


# Request ids and masking ----------------------------------------------------------------


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_of(context: Any) -> str:
    """The id of the request a GraphQL context serves (set by the view); a fresh one if missing."""
    request = getattr(context, "request", None)
    rid = getattr(request, REQUEST_ID_ATTR, None)
    if not rid:
        rid = new_request_id()
        if request is not None:
            setattr(request, REQUEST_ID_ATTR, rid)
    return str(rid)


def is_unexpected(error: GraphQLError) -> bool:
    """An exception that is not a GraphQL error is a bug (its message may hold internals)."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """With DEBUG off, a bug reads "Internal server error" with the request id, and nothing else."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._should_mask, error_message="Internal server error.")

    @staticmethod
    def _should_mask(error: GraphQLError) -> bool:
        return is_unexpected(error) and not settings.DEBUG

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        rid = request_id_of(self.execution_context.context)
        return GraphQLError(
            message=f"Internal server error. Quote request id {rid} when you report it.",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": INTERNAL_SERVER_ERROR, "requestId": rid},
        )


def log_errors(errors: list[GraphQLError], execution_context: ExecutionContext | None) -> None:
    """A bug is logged with its traceback and the request id the client saw; a refused document briefly."""
    rid = request_id_of(execution_context.context) if execution_context is not None else "-"
    for error in errors:
        if is_unexpected(error):
            original = error.original_error
            assert original is not None
            logger.error(
                "GraphQL bug (request id %s) at %s: %s",
                rid,
                ".".join(str(p) for p in error.path or ()),
                error.message,
                exc_info=(type(original), original, original.__traceback__),
            )
        else:
            logger.info("GraphQL request refused (request id %s): %s", rid, error.message)

"""Per-process caches of parsed and validated GraphQL documents.

Clients send the same few documents with new variables; parsing and validating one
again for every request was a fifth of a submitLead request (bench/profile.py). The
parsed document is kept by its text and parse options (the token and length limits of
leadowner.graphql.limits, read per operation), the validation result by the document
and the validation rules (the depth and alias limits): a changed limit is never skipped.
Both caches are bounded (least recently used documents leave first).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from graphql import GraphQLError, parse
from strawberry.extensions import SchemaExtension

MAXSIZE = 256
_parse = lru_cache(maxsize=MAXSIZE)(parse)


class CachedParsing(SchemaExtension):
    """strawberry's ParserCache, but a document that fails to parse is left to strawberry.

    A syntax error or a refused limit raised here would escape strawberry's parse-error
    path (the client would see a masked bug): the document is then parsed again, uncached,
    where strawberry reports it as usual. Errors are never cached.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None:
            try:
                context.graphql_document = _parse(context.query, **context.parse_options)
            except GraphQLError:
                context.graphql_document = None
        yield

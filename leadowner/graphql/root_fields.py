"""Checks that belong to the root fields only, installed on the root fields only.

A schema extension's `resolve` hook is graphql-core middleware: it wraps the resolver of
every field of every row, not just the root fields. A page of 1,000 accounts with their
domains and owners resolves ~20,000 fields, and two such hooks (authentication, and
strawberry-django's optimizer, which only acts on resolvers returning a QuerySet) were
~30% of the request's CPU (bench/profile.py accounts). Both act at the root here: the
root fields' resolvers are wrapped once per process, and nested fields run bare.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from graphql import GraphQLSchema, default_field_resolver
from strawberry.extensions import SchemaExtension
from strawberry_django.optimizer import DjangoOptimizerExtension, optimizer

Resolver = Callable[..., Any]
_WRAPPED_ATTR = "_leadowner_root_wrappers"


def wrap_root_fields(schema: GraphQLSchema, key: str, wrap: Callable[[Resolver], Resolver]) -> None:
    """Wrap the resolver of every field of the Query, Mutation and Subscription types, once per `key`.

    Introspection fields (__schema, __type, __typename) are not fields of these types.
    """
    for root in (schema.query_type, schema.mutation_type, schema.subscription_type):
        if root is None:
            continue
        for field in root.fields.values():
            resolver = field.resolve or default_field_resolver
            done: tuple[str, ...] = getattr(resolver, _WRAPPED_ATTR, ())
            if key in done:
                continue
            wrapped = wrap(resolver)
            setattr(wrapped, _WRAPPED_ATTR, (*done, key))
            field.resolve = wrapped


def _optimizing(resolver: Resolver) -> Resolver:
    def resolve(root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        extension = optimizer.get()
        if extension is None:
            return resolver(root, info, *args, **kwargs)
        return DjangoOptimizerExtension.resolve(extension, resolver, root, info, *args, **kwargs)

    return resolve


class RootDjangoOptimizerExtension(DjangoOptimizerExtension):
    """strawberry-django's optimizer without its per-field hook: the hook runs on root fields only.

    Nested fields lose nothing: strawberry-django fields optimize their own querysets
    (StrawberryDjangoField.get_queryset asks the optimizer), and relations come from the
    prefetches planned at the root; our custom nested resolvers return rows, not querysets.
    """

    resolve = SchemaExtension.resolve  # type: ignore[assignment]

    def on_execute(self) -> Generator[None]:
        wrap_root_fields(self.execution_context.schema._schema, "optimizer", _optimizing)
        yield from super().on_execute()

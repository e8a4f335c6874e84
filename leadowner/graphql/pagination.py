# mypy: disable-error-code="type-var"
# (strawberry's relay Edge bounds its node to relay.Node; our nodes are plain Django types with database ids.)
"""Relay-style connections: `first`/`after`, opaque cursors, `pageInfo`, `totalCount`.

`Connection[Account]` is named `AccountConnection` and its edges `AccountEdge`, as the
contract spells them. Connection subclasses strawberry's relay Connection so the
DjangoOptimizerExtension sees through `edges { node { ... } }` and optimizes the
node queryset (select/prefetch/annotate) from what the client selected.

Cursors are opaque offsets in a deterministic ordering (every paginated model orders
by a unique key last). `first` above settings.GRAPHQL_MAX_PAGE_SIZE, a negative
`first` or a malformed `after` is refused with a BAD_USER_INPUT GraphQL error rather
than silently clamped: a client asking for 5000 rows should learn it gets fewer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, cast

import strawberry
from django.conf import settings
from django.db.models import F, Model, OrderBy, Prefetch, QuerySet, Window
from django.db.models.functions import RowNumber
from graphql import Undefined, value_from_ast
from strawberry import relay
from strawberry.relay.utils import from_base64, to_base64
from strawberry_django.optimizer import optimizer

from leadowner.graphql.errors import bad_input

NodeType = TypeVar("NodeType")
M = TypeVar("M", bound=Model)

DEFAULT_PAGE_SIZE = 50
_CURSOR_PREFIX = "offset"


def optimized(qs: QuerySet[M], info: Any) -> QuerySet[M]:
    """Apply the request's optimizer (with its configuration) to `qs` for the field of `info`."""
    extension = optimizer.get()
    if extension is None:
        return qs
    return extension.optimize(qs, info)


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    maximum: int = settings.GRAPHQL_MAX_PAGE_SIZE
    if first < 0 or first > maximum:
        raise bad_input(f"first must be between 0 and {maximum}, got {first}", "first")
    return first


def encode_cursor(offset: int) -> str:
    return to_base64(_CURSOR_PREFIX, offset)


def decode_cursor(after: str | None) -> int:
    """The offset of the first row after the `after` cursor (0 without one)."""
    if after is None:
        return 0
    try:
        prefix, value = from_base64(after)
        offset = int(value)
    except ValueError:
        raise bad_input("after is not a cursor of this connection", "after") from None
    if prefix != _CURSOR_PREFIX or offset < 0:
        raise bad_input("after is not a cursor of this connection", "after")
    return offset + 1


@strawberry.type(name="Connection", description="One page of a list, Relay style.")
class Connection(relay.Connection[NodeType]):
    count: strawberry.Private[Callable[[], int]]

    @strawberry.field(description="How many items the whole list has, across pages")
    def total_count(self) -> int:
        return self.count()

    @classmethod
    def from_page(cls, rows: Sequence[Any], *, offset: int, limit: int, count: Callable[[], int]) -> Connection[Any]:
        """Build a page from up to `limit + 1` rows read from `offset` (the extra row means a next page)."""
        has_next = len(rows) > limit
        rows = rows[:limit]
        edges: list[relay.Edge[Any]] = [
            relay.Edge(node=row, cursor=encode_cursor(offset + i)) for i, row in enumerate(rows)
        ]
        page_info = relay.PageInfo(
            has_next_page=has_next,
            has_previous_page=offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        )
        return cls(edges=edges, page_info=page_info, count=count)


def paginate(
    qs: QuerySet[M],
    info: Any,
    *,
    first: int | None,
    after: str | None,
    prepare: Callable[[list[M]], None] | None = None,
) -> Connection[Any]:
    """One page of `qs` (already filtered for the actor), optimized for the selected node fields.

    `prepare` sees the page's rows before they are resolved: it announces ids to the loaders.
    """
    limit = page_size(first)
    offset = decode_cursor(after)
    if not qs.ordered:
        qs = qs.order_by("pk")
    rows = list(optimized(qs, info)[offset : offset + limit + 1])
    if prepare is not None:
        prepare(rows)
    return Connection.from_page(rows, offset=offset, limit=limit, count=qs.count)


def field_arguments(info: Any) -> dict[str, Any]:
    """The arguments of the field `info` is about, coerced (variables applied, defaults filled)."""
    raw = info._raw_info
    definition = raw.parent_type.fields[raw.field_name]
    variables = getattr(raw.variable_values, "coerced", raw.variable_values) or {}
    given = {node.name.value: node.value for node in raw.field_nodes[0].arguments or ()}
    arguments: dict[str, Any] = {}
    for name, argument in definition.args.items():
        value = value_from_ast(given[name], argument.type, variables) if name in given else Undefined
        if value is Undefined:
            value = argument.default_value
        if value is not Undefined:
            arguments[name] = value
    return arguments


class NestedPage(Generic[M]):
    """A connection nested in each node of a list (Account.history), read for all nodes at once.

    The optimizer calls `prefetch(info)` once for the list; it reads the field's own
    `first`/`after`, numbers each parent's rows with a window function and keeps only
    the requested page, stored under an attribute named after the page. `resolve`
    builds the connection from it, or queries directly when nothing was prefetched
    (a single record, or the same field asked twice with different arguments).
    """

    def __init__(self, *, relation: str, parent_field: str, ordering: Sequence[str]) -> None:
        self.relation = relation
        self.parent_field = parent_field
        self.ordering = tuple(ordering)

    def _order_by(self) -> list[OrderBy]:
        return [F(f[1:]).desc() if f.startswith("-") else F(f).asc() for f in self.ordering]

    def _attr(self, offset: int, limit: int) -> str:
        return f"_page_{self.relation}_{offset}_{limit}"

    def prefetch(self, info: Any, qs: QuerySet[M]) -> Prefetch:
        arguments = field_arguments(info)
        limit = page_size(arguments.get("first", DEFAULT_PAGE_SIZE))
        offset = decode_cursor(arguments.get("after"))
        numbered = cast(
            "QuerySet[M]",
            qs.annotate(
                _row=Window(RowNumber(), partition_by=[F(self.parent_field)], order_by=self._order_by()),
            ).filter(_row__gt=offset, _row__lte=offset + limit + 1),
        )
        page = optimized(numbered, info).order_by(*self.ordering)
        return Prefetch(self.relation, queryset=page, to_attr=self._attr(offset, limit))

    def resolve(
        self,
        parent: Model,
        info: Any,
        qs: QuerySet[M],
        *,
        first: int | None,
        after: str | None,
        count: Callable[[], int] | None = None,
    ) -> Connection[Any]:
        """The page for `parent`; `count` gives a precomputed total (an annotation) instead of a COUNT."""
        limit = page_size(first)
        offset = decode_cursor(after)
        rows: list[M] | None = getattr(parent, self._attr(offset, limit), None)
        if rows is None:
            connection = paginate(qs, info, first=first, after=after)
        else:
            connection = Connection.from_page(rows, offset=offset, limit=limit, count=qs.count)
        if count is not None:
            connection.count = count
        return connection

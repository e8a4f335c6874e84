"""Querysets compiled to SQL once per process, for the few statements every request runs.

Django builds and compiles a queryset's SQL anew at every evaluation. For the statements
every API request runs (the token behind the request, the owners an `ownerOf` answers
with) that compilation cost more than the statement itself: measured at 1M accounts,
0.5 ms to build and compile the token lookup (three joins for `select_related`) and
0.48 ms the owners of an account, each answered by PostgreSQL in ~0.1-0.2 ms.

`Prepared(build)` calls `build` once (per database alias and vendor) with placeholder
arguments, compiles the queryset, and remembers where each placeholder landed among the
SQL parameters; every call then runs the same SQL with the real arguments and builds the
model instances the way Django's own ModelIterable does (`from_db`, the `select_related`
populators, the backend's converters). The statement goes through Django's cursor, so
query logging, `assert_num_queries` and transactions see it as any other.

Only str, int and datetime arguments, each given to a lookup with one parameter, can be
prepared: a list for `__in` would change the SQL with its length (PreparedIn compiles
once per length). A `values_list()` queryset gives tuples.

On PostgreSQL these statements (and the few others written by hand for every routed lead)
run through `statement_cursor`, which has the server keep them prepared per connection from
their second run: PostgreSQL plans them for their values five times, then keeps a generic
plan when it costs no more. The members' open-load join alone spent 1.6 ms planning for
2 ms of execution. Only these statements: Django's own cursor binds everything else
client-side and never prepares, as is its default, and the preparing cursor refuses a
`LIKE`, whose prefix a generic plan cannot turn into index bounds (the console's search;
the fuzzy neighbours bound their ranges themselves). `DB_PREPARED_STATEMENTS=0` turns it
off, for a pooler in transaction mode that cannot carry prepared statements (PgBouncer
before 1.22, docs/deployment.md).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import QuerySet
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators
from django.db.models.sql.compiler import SQLCompiler

_logger = logging.getLogger("django.db.backends")  # where Django's debug cursor logs statements

M = TypeVar("M")  # a model, or a tuple for values_list()


def _placeholder(kind: type, index: int) -> Any:
    """A value no caller passes, standing for argument `index` while the SQL is compiled."""
    if kind is int:
        return -(2**62) - index  # a bigint no id or count takes
    if kind is str:
        # The characters a lookup would escape or fold (LIKE wildcards, a backslash, capitals):
        # an argument transformed on its way to the SQL cannot reach it unchanged.
        return f"\x00Prepared_%\\Argument-{index}\x00"
    if kind is datetime:
        return datetime(1, 1, 2, tzinfo=UTC) + timedelta(microseconds=index)
    raise TypeError(f"a prepared query takes str, int and datetime arguments, not {kind.__name__}")


_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


def out_of_bigint(value: Any) -> bool:
    """An integer no id or count column holds: `__in` matches nothing with it, and so do these."""
    return type(value) is int and not _BIGINT_MIN <= value <= _BIGINT_MAX


@dataclass
class _Compiled:
    """The statement and what turns its rows into results, worked out once."""

    sql: str
    params: list[Any]
    slots: list[tuple[int, int]]  # (position among the SQL parameters, argument index)
    compiler: SQLCompiler
    converters: dict[int, Any]  # the backend's and the fields' converters, per column
    tuples: bool  # a values_list(): rows as tuples, no model to build
    using: str
    model: Any = None
    start: int = 0
    end: int = 0
    init_list: list[str] | None = None
    populators: list[Any] | None = None

    @classmethod
    def of(
        cls,
        sql: str,
        params: list[Any],
        slots: list[tuple[int, int]],
        compiler: SQLCompiler,
        *,
        tuples: bool,
        using: str,
    ) -> _Compiled:
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        compiled = cls(sql, params, slots, compiler, compiler.get_converters(fields), tuples, using)
        if not tuples:
            # Django's ModelIterable works these out for every evaluation; they depend on the
            # statement only, so once here.
            klass_info = compiler.klass_info
            assert klass_info is not None
            select_fields = klass_info["select_fields"]
            compiled.model = klass_info["model"]
            compiled.start, compiled.end = select_fields[0], select_fields[-1] + 1
            compiled.init_list = [f[0].target.attname for f in compiler.select[compiled.start : compiled.end]]
            compiled.populators = get_related_populators(klass_info, compiler.select, using)  # type: ignore[call-arg]
        return compiled

    def results(self, rows: list[Any]) -> list[Any]:
        """Rows as values_list() tuples, or as model instances with their select_related objects."""
        converted = self.compiler.apply_converters(rows, self.converters) if self.converters else rows
        if self.tuples:
            return [tuple(row) for row in converted]
        assert self.init_list is not None and self.populators is not None
        objects = []
        for row in converted:
            obj = self.model.from_db(self.using, self.init_list, row[self.start : self.end])
            for populator in self.populators:
                populator.populate(row, obj)
            for attr_name, col_pos in (self.compiler.annotation_col_map or {}).items():
                setattr(obj, attr_name, row[col_pos])
            objects.append(obj)
        return objects


@contextmanager
def statement_cursor(using: str = "default") -> Iterator[CursorWrapper]:
    """A cursor of Django's on `using` (query logging, error translation, transactions as any
    other) whose statements PostgreSQL keeps prepared on the connection, for statements run
    for every request with parameters only: never a `LIKE %s` (see the module's docstring).
    Elsewhere, or with `DB_PREPARED_STATEMENTS` off, Django's own cursor."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        with connection.cursor() as cursor:
            yield cursor
        return
    # What Django's cursor() does before it makes its own (BaseDatabaseWrapper._cursor and
    # _prepare_cursor), without making one: every statement here would otherwise build two
    # psycopg cursors. Each execute still checks for a broken transaction (CursorWrapper).
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    wrapper = _PreparedDebugWrapper if connection.queries_logged else CursorWrapper
    with connection.wrap_database_errors:
        raw = _preparing_cursor(connection)
    with wrapper(raw, connection) as preparing:
        yield preparing


class _PreparedDebugWrapper(CursorDebugWrapper):
    """Logs the statement with its parameters, as Django's debug cursor does for its own
    (which asks psycopg for the last query: a prepared execution does not keep it)."""

    def execute(self, sql: Any, params: Any = None) -> Any:
        start = time.monotonic()
        try:
            return CursorWrapper.execute(self, sql, params)
        finally:
            duration = time.monotonic() - start
            try:
                logged = self.db.ops.compose_sql(sql, params)
            except Exception:  # values psycopg cannot quote (as Django's own log, keep the SQL)
                logged = sql
            self.db.queries_log.append({"sql": logged, "time": f"{duration:.3f}"})
            _logger.debug(
                "(%.3f) %s; args=%s; alias=%s",
                duration,
                logged,
                params,
                self.db.alias,
                extra={"duration": duration, "sql": logged, "params": params, "alias": self.db.alias},
            )


def _preparing_cursor(connection: Any) -> Any:
    """A server-binding psycopg cursor that prepares each statement from its second run on the
    connection, with the timezone loader Django's create_cursor would give it."""
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    cursor = _preparing_class()(connection.connection)
    tzloader = connection.connection.adapters.get_loader(_timestamptz_oid(), Format.TEXT)
    if connection.timezone != tzloader.timezone:
        register_tzloader(connection.timezone, cursor)
    return cursor


# How many prepared statements psycopg keeps per connection (its default: 100), least
# recently used first out. submitLead alone uses ~60 on the bench book (PreparedIn compiles
# one per length), and a web process also answers ownerOf and the GraphQL lists.
PREPARED_PER_CONNECTION = 256
# A statement is prepared at its second run on a connection: one that runs once (the last
# chunk of a batch, a short-lived connection) costs no extra round trip to prepare.
_PREPARE_AFTER = 1


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    """connection_created: room for the statements a process keeps prepared (see above)."""
    if connection.vendor == "postgresql" and settings.DB_PREPARED_STATEMENTS:
        connection.connection.prepared_max = PREPARED_PER_CONNECTION


# LIKE or ILIKE as an SQL word (not inside a name such as "likelihood").
_LIKE = re.compile(r"\bI?LIKE\b", re.IGNORECASE)


def _refuse_like(sql: str) -> None:
    if _has_like(sql):
        raise ValueError("a LIKE with a parameter cannot be prepared: a generic plan would not bound the index")


@lru_cache(maxsize=1024)
def _has_like(sql: str) -> bool:
    """Remembered per text: these statements are few and run for every request (searching a
    long SELECT anew was ~1.7% of a submitLead's CPU, py-spy)."""
    return _LIKE.search(sql) is not None


@cache
def _preparing_class() -> type:
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):  # type: ignore[misc,valid-type]
        """Binds on the server and lets psycopg prepare the statement from its second run.

        Django leaves the connection's prepare_threshold at None (nothing prepared, nothing
        counted), and it stays so for Django's own cursors: set only while this cursor runs
        a statement, so that only these statements are counted, prepared and kept."""

        def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: Any = None) -> Any:
            _refuse_like(query)
            conn = self.connection  # type: ignore[attr-defined]
            at_rest = conn.prepare_threshold
            if at_rest is None:
                conn.prepare_threshold = _PREPARE_AFTER
            try:
                return super().execute(query, params, prepare=prepare, binary=binary)  # type: ignore[misc]
            finally:
                if at_rest is None:
                    conn.prepare_threshold = None

    return PreparingCursor


@cache
def _timestamptz_oid() -> int:
    from psycopg import adapters

    return int(adapters.types["timestamptz"].oid)


class Prepared(Generic[M]):
    """`Prepared(lambda a, b: Model.objects.filter(x=a, y=b), (str, int))("x", 2)`: the rows, compiled once.

    `kinds` gives each argument's type (str, int or datetime); `build` must pass each one,
    unchanged, to a lookup with a single parameter. A build that drops or transforms a str
    or int argument is refused when it is first compiled; where the backend transforms a
    datetime (SQLite keeps them as text) the query is asked through the ORM as usual.
    """

    def __init__(self, build: Callable[..., QuerySet[Any, M]], kinds: tuple[type, ...]) -> None:
        self._build = build
        self._kinds = kinds
        self._compiled: dict[tuple[str, str], _Compiled | None] = {}  # None: asked through the ORM

    def _compile(self, alias: str) -> _Compiled | None:
        placeholders = [_placeholder(kind, i) for i, kind in enumerate(self._kinds)]
        queryset = self._build(*placeholders)
        if queryset._iterable_class not in (ModelIterable, ValuesListIterable):
            raise TypeError("a prepared query gives model instances or values_list() tuples (not flat or named)")
        query = queryset.query
        fields = getattr(queryset, "_fields", None)
        if queryset._iterable_class is ValuesListIterable and fields:
            selected = [*query.extra_select, *query.values_select, *query.annotation_select]
            if list(fields) != selected:
                raise TypeError("a prepared values_list() must name its columns in the order they are selected")
        compiler = query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = [
            (position, index)
            for position, value in enumerate(params)
            for index, placeholder in enumerate(placeholders)
            if type(value) is type(placeholder) and value == placeholder
        ]
        missing = set(range(len(placeholders))) - {index for _position, index in slots}
        if missing and all(self._kinds[i] is datetime for i in missing):
            return None  # the backend stores datetimes as text (SQLite): no statement to reuse there
        if missing:
            raise ValueError("every argument of a prepared query must reach the SQL unchanged, as a parameter")
        _refuse_like(sql)  # on every database, so that the SQLite suite sees it too
        tuples = queryset._iterable_class is ValuesListIterable
        return _Compiled.of(sql, list(params), slots, compiler, tuples=tuples, using=alias)

    def __call__(self, *args: Any, using: str = "default") -> list[M]:
        if len(args) != len(self._kinds) or not all(isinstance(a, k) for a, k in zip(args, self._kinds, strict=True)):
            raise TypeError(f"this prepared query takes ({', '.join(k.__name__ for k in self._kinds)}), not {args!r}")
        if any(out_of_bigint(a) for a in args):
            return []  # as Django's lookups: an integer no column can hold matches nothing
        connection = connections[using]
        key = (using, connection.vendor)
        if key not in self._compiled:
            self._compiled[key] = self._compile(using)
        compiled = self._compiled[key]
        if compiled is None:
            return list(self._build(*args).using(using))
        params = list(compiled.params)
        for position, index in compiled.slots:
            params[position] = args[index]
        with statement_cursor(using) as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        return compiled.results(rows)


class PreparedIn(Generic[M]):
    """A Prepared query whose first argument is a list of ids given to an `__in`, compiled once per length.

    `build(ids, *args)` must AND the `__in` into the whole query (no rows when `ids` is
    empty: none are read). Lists longer than `longest` are asked through the ORM as usual.
    Repeated ids count once, as Django's `__in` does.
    """

    def __init__(
        self, build: Callable[..., QuerySet[Any, M]], kinds: tuple[type, ...] = (), *, longest: int = 16
    ) -> None:
        self._build = build
        self._kinds = kinds
        self._longest = longest
        self._by_length: dict[int, Prepared[M]] = {}

    def __call__(self, ids: Iterable[int], *args: Any) -> list[M]:
        # Repeated ids count once and an id no column can hold matches nothing, as Django's `__in`.
        unique = [i for i in dict.fromkeys(ids) if not out_of_bigint(i)]
        if not unique:
            return []
        n = len(unique)
        if n > self._longest:
            return list(self._build(unique, *args))
        prepared = self._by_length.get(n)
        if prepared is None:
            build = self._build
            prepared = self._by_length[n] = Prepared(
                lambda *values: build(list(values[:n]), *values[n:]), (int,) * n + self._kinds
            )
        return prepared(*unique, *args)

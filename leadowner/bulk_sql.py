"""Set-based writes Django's ORM spells slowly: many rows' new values in one UPDATE, many new rows by COPY.

`QuerySet.bulk_update` builds a CASE WHEN per row and field; for a sweep's batch of a
hundred leads it spent ~2 ms per row compiling expressions (profile in
docs/performance.md). `update_from_values` sends the rows as one JSON document, unpacked
into a recordset joined on the key: one statement, compiled by hand, on PostgreSQL; on
SQLite (the embedded default, where sweeps are small) it falls back to `bulk_update`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connection, models
from django.db.models import Field, Model

from leadowner.prepared import statement_cursor


def update_from_values(
    model: type[Model],
    *,
    key: Sequence[str],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    objects: Sequence[Model] | None = None,
    increment: bool = False,
) -> int:
    """Set `fields` of the `model` rows matching `key` to each row's values; returns rows updated.

    `rows`: tuples of the key's values then the fields' values, as the database takes them
    (Python values through each field's `get_db_prep_value`). `increment`: add the values to
    the columns instead of setting them. `objects`: the same rows as model instances, for
    the `bulk_update` fallback (required on other databases, and only for plain sets).
    """
    if not rows:
        return 0
    meta = model._meta
    columns: list[Field[Any, Any]] = []
    for name in (*key, *fields):
        field = meta.get_field(name)
        if not isinstance(field, Field):
            raise ValueError(f"{name} is not a column of {meta.label}")
        columns.append(field)
    if connection.vendor != "postgresql":
        if objects is None or increment:
            return _update_rowwise(model, key=key, fields=fields, rows=rows, increment=increment)
        model._default_manager.bulk_update(objects, list(fields))  # type: ignore[attr-defined]
        return len(objects)
    qn = connection.ops.quote_name
    keys = [f.column or f.name for f in columns]
    names = [qn(k) for k in keys]
    # The rows travel as one JSON document, unpacked by json_to_recordset: a statement of a
    # few hundred characters and one parameter, where a VALUES list of a batch's rows had
    # psycopg split the statement at thousands of placeholders and quote every value on its
    # own (the larger part of this function's time in a forfeit sweep's profile).
    convert = [_json_converter(f) for f in columns]
    document = [{k: c(v) for k, c, v in zip(keys, convert, row, strict=True)} for row in rows]
    record = ", ".join(f"{n} {f.db_type(connection)}" for n, f in zip(names, columns, strict=True))
    table = qn(meta.db_table)
    sets = ", ".join(f"{n} = t.{n} + v.{n}" if increment else f"{n} = v.{n}" for n in names[len(key) :])
    match = " AND ".join(f"t.{n} = v.{n}" for n in names[: len(key)])
    sql = f"UPDATE {table} AS t SET {sets} FROM json_to_recordset(%s::json) AS v({record}) WHERE {match}"  # noqa: S608
    with connection.cursor() as cursor:
        # No `default`: a value JSON cannot carry inside a JSONField's document raises, as Django's own write would.
        cursor.execute(sql, [json.dumps(document, separators=(",", ":"))])
        return cursor.rowcount


def _json_converter(field: Field[Any, Any]) -> Callable[[Any], Any]:
    """How a value of `field` goes into the JSON document. A JSONField's document is nested as
    it is (through its encoder when it has one). A column's value is what Django would send
    (`get_db_prep_value`, skipped for plain values of plain fields, as insert_objects skips
    it), as a JSON scalar whose text PostgreSQL casts back to the column's type."""
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        if encoder is None:
            return lambda value: value
        return lambda value: None if value is None else json.loads(json.dumps(value, cls=encoder))
    as_is = _takes_as_is(field)

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if _needs_preparing(value, as_is):
            value = field.get_db_prep_value(value, connection)
        return _json_scalar(value)

    return convert


def _json_scalar(value: Any) -> Any:
    if value is None or type(value) in (int, str, bool):
        return value
    if isinstance(value, float):  # JSON has no NaN or infinities; PostgreSQL reads them as text
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()  # bytea's hex input
    if isinstance(value, int | str):  # subclasses: enum members, lazy strings resolved by str()
        return int(value) if isinstance(value, int) else str(value)
    raise TypeError(f"update_from_values cannot send a {type(value).__name__}")


def _update_rowwise(
    model: type[Model], *, key: Sequence[str], fields: Sequence[str], rows: Sequence[Sequence[Any]], increment: bool
) -> int:
    from django.db.models import F

    done = 0
    for row in rows:
        where = dict(zip(key, row[: len(key)], strict=True))
        values = dict(zip(fields, row[len(key) :], strict=True))
        if increment:
            values = {name: F(name) + n for name, n in values.items()}
        done += model._default_manager.filter(**where).update(**values)  # type: ignore[attr-defined]
    return done


_BATCH = 2000
# Fewer rows than this go in one INSERT (COPY takes two statements: the ids, then the rows).
_COPY_FROM = 20
_PLAIN_TYPES = frozenset({int, str, bool, float, Decimal, date, datetime})


def insert_rows(
    model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, returning_ids: bool = False
) -> list[int]:
    """Insert rows (values in `columns` order, column names = attnames); the new ids if asked.

    PostgreSQL: COPY ... FROM STDIN, with ids drawn from the table's sequence first
    (several times faster than INSERT for a file of 100,000 accounts; constraints and
    deferred foreign keys are checked all the same, and a violation raises Django's
    IntegrityError as an INSERT's would); fewer than `_COPY_FROM` rows go in one INSERT
    (it beats reading the ids, then the COPY), the values as given either way. Elsewhere:
    bulk_create in batches.
    """
    if not rows:
        return []
    if connection.vendor == "postgresql" and len(rows) < _COPY_FROM:
        return _insert_values(model, columns, rows, returning_ids=returning_ids)
    if connection.vendor != "postgresql":
        objs = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model._default_manager.bulk_create(objs, batch_size=_BATCH)
        if returning_ids:
            assert all(o.pk is not None for o in objs), "the database must return ids of bulk inserts"
        return [int(o.pk) for o in objs] if returning_ids else []
    table = connection.ops.quote_name(model._meta.db_table)
    ids: list[int] = []
    with connection.cursor() as cursor, connection.wrap_database_errors:
        if returning_ids:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [model._meta.db_table, len(rows)],
            )
            ids = [int(row[0]) for row in cursor.fetchall()]
            columns = ["id", *columns]
        names = ", ".join(connection.ops.quote_name(c) for c in columns)
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            if returning_ids:
                for new_id, row in zip(ids, rows, strict=True):
                    copy.write_row((new_id, *row))
            else:
                for row in rows:
                    copy.write_row(row)
    return ids


def _insert_values(
    model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, returning_ids: bool
) -> list[int]:
    """insert_rows' few rows on PostgreSQL: one INSERT ... VALUES (...), (...) [RETURNING id]."""
    qn = connection.ops.quote_name
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) "  # noqa: S608
        f"VALUES {', '.join([marks] * len(rows))}" + (" RETURNING id" if returning_ids else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])
        return [int(found[0]) for found in cursor.fetchall()] if returning_ids else []


def insert_objects(objs: Sequence[Model]) -> None:
    """Insert new instances of one model, as bulk_create does (their pk set, their state saved),
    through insert_rows: COPY on PostgreSQL. Foreign keys to instances saved meanwhile are
    taken up, and auto_now_add fields filled, as bulk_create would."""
    if not objs:
        return
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    if connection.vendor != "postgresql" or len(objs) < _COPY_FROM:
        model._default_manager.bulk_create(objs, batch_size=_BATCH)  # type: ignore[attr-defined]
        return
    plain = [_takes_as_is(f) for f in fields]
    rows = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
        rows.append(_values(obj, fields, plain))
    ids = insert_rows(model, [f.attname for f in fields], rows, returning_ids=True)
    for obj, pk in zip(objs, ids, strict=True):
        _inserted(obj, pk)


_AS_IS = (
    models.IntegerField,
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.DecimalField,
    models.FloatField,
    models.DateField,  # and DateTimeField: aware datetimes (USE_TZ) go to the driver as they are
    models.ForeignKey,  # the related id (every key here is an integer)
)


def _needs_preparing(value: Any, as_is: bool) -> bool:
    """Whether a value must go through its field: anything but None or a plain type in a column
    that takes it unchanged (_takes_as_is), and a naive datetime (made aware, with Django's warning)."""
    if type(value) is datetime and value.tzinfo is None:
        return True
    return not (as_is and (value is None or type(value) in _PLAIN_TYPES))


def _values(obj: Model, fields: Sequence[Field[Any, Any]], plain: Sequence[bool]) -> list[Any]:
    """The instance's values for `fields`, as Django's INSERT sends them.

    Values of plain types in columns that send them unchanged are read straight off the
    instance; anything else (auto_now, JSON, a lazy string, a naive datetime, an enum
    member) goes through the field."""
    row = []
    for f, as_is in zip(fields, plain, strict=True):
        value = getattr(obj, f.attname)
        if _needs_preparing(value, as_is):
            value = f.get_db_prep_save(f.pre_save(obj, add=True), connection)
        row.append(value)
    return row


# Per database alias and model: the INSERT ... RETURNING of insert_one, its fields, which are plain.
_INSERT_ONE: dict[tuple[str, type[Model]], tuple[str, list[Field[Any, Any]], list[bool]]] = {}
# Per database alias and models: the statement of insert_together.
_INSERT_TOGETHER: dict[tuple[str, tuple[type[Model], ...]], str] = {}


def _insert_one_sql(model: type[Model]) -> tuple[str, list[Field[Any, Any]], list[bool]]:
    key = (connection.alias, model)
    compiled = _INSERT_ONE.get(key)
    if compiled is None:
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not f.primary_key]
        qn = connection.ops.quote_name
        columns = [f.column for f in (*fields, meta.pk)]
        if not all(isinstance(c, str) for c in columns):
            raise TypeError(f"{meta.label} has a field without a column")
        *names, pk = [qn(str(c)) for c in columns]
        sql = (
            f"INSERT INTO {qn(meta.db_table)} ({', '.join(names)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {pk}"
        )
        compiled = _INSERT_ONE[key] = (sql, fields, [_takes_as_is(f) for f in fields])
    return compiled


def _inserted(obj: Model, pk: Any) -> None:
    """An instance written by one of these inserts, as save() leaves it: its id, saved, on this database."""
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias


def insert_one(obj: Model) -> None:
    """Insert one new instance as `obj.save(force_insert=True)` would (its pk set, its state
    saved; no signals: none of our models has receivers), by an INSERT ... RETURNING compiled
    once per model on PostgreSQL. Django's save compiled each INSERT anew, ~0.3 ms each (a
    submitLead inserts its lead so; its owner and history go by `insert_together`).
    Elsewhere: `save()`."""
    if connection.vendor != "postgresql":
        obj.save(force_insert=True)
        return
    sql, fields, plain = _insert_one_sql(type(obj))
    obj._prepare_related_fields_for_save(operation_name="save")  # type: ignore[attr-defined]
    values = _values(obj, fields, plain)
    with statement_cursor(connection.alias) as cursor:
        cursor.execute(sql, values)
        _inserted(obj, cursor.fetchone()[0])


def insert_together(*objs: Model) -> None:
    """Insert a few new instances, of any models, as `insert_one` each would, in one statement
    on PostgreSQL (a data-modifying CTE per row): a new owner and its history row cost one
    round trip instead of two. The rows must not refer to each other (their ids are known
    only once the statement ran); a trigger of one row sees what earlier statements wrote,
    not the other row. Elsewhere: `save()` each, in order."""
    if connection.vendor != "postgresql":
        for obj in objs:
            obj.save(force_insert=True)
        return
    models_ = tuple(type(obj) for obj in objs)
    parts = [_insert_one_sql(model) for model in models_]
    key = (connection.alias, models_)
    sql = _INSERT_TOGETHER.get(key)
    if sql is None:
        names = [f"inserted_{i}" for i in range(len(objs))]
        ctes = ", ".join(f"{name} AS ({part[0]})" for name, part in zip(names, parts, strict=True))
        pks = ", ".join(
            f"(SELECT {connection.ops.quote_name(str(m._meta.pk.column))} FROM {name})"  # noqa: S608 -- names only
            for name, m in zip(names, models_, strict=True)
        )
        sql = _INSERT_TOGETHER[key] = f"WITH {ctes} SELECT {pks}"
    values: list[Any] = []
    for obj, (_sql, fields, plain) in zip(objs, parts, strict=True):
        obj._prepare_related_fields_for_save(operation_name="save")  # type: ignore[attr-defined]
        values += _values(obj, fields, plain)
    with statement_cursor(connection.alias) as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    for obj, pk in zip(objs, row, strict=True):
        _inserted(obj, pk)


def _takes_as_is(field: Field[Any, Any]) -> bool:
    """Whether the driver takes this field's Python value as Django's INSERT would send it."""
    if isinstance(field, models.DateField) and (field.auto_now or field.auto_now_add):
        return False
    return (isinstance(field, _AS_IS) and type(field).get_db_prep_save is Field.get_db_prep_save) or isinstance(
        field, models.ForeignKey
    )

"""Set-based writes Django's ORM spells slowly: many rows' new values in one UPDATE.

`QuerySet.bulk_update` builds a CASE WHEN per row and field; for a sweep's batch of a
hundred leads it spent ~2 ms per row compiling expressions (profile in
docs/performance.md). `update_from_values` sends the rows as a VALUES list joined on
the key instead: one statement, compiled by hand, on PostgreSQL; on SQLite (the
embedded default, where sweeps are small) it falls back to `bulk_update`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, Model


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
    names = [qn(f.column or f.name) for f in columns]
    types = [f.db_type(connection) for f in columns]
    values_sql = ", ".join("(" + ", ".join(f"%s::{t}" for t in types) + ")" for _ in rows)
    params: list[Any] = []
    for row in rows:
        params.extend(f.get_db_prep_value(v, connection) for f, v in zip(columns, row, strict=True))
    table = qn(meta.db_table)
    sets = ", ".join(f"{n} = t.{n} + v.{n}" if increment else f"{n} = v.{n}" for n in names[len(key) :])
    match = " AND ".join(f"t.{n} = v.{n}" for n in names[: len(key)])
    sql = f"UPDATE {table} AS t SET {sets} FROM (VALUES {values_sql}) AS v({', '.join(names)}) WHERE {match}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


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

"""`field__any_of=values`: `__in` for the long lists of batch reads, one array parameter on PostgreSQL.

Django writes `__in` as one placeholder per value, and psycopg binds client-side: for every
statement it splits the SQL at each placeholder and quotes each value, and Django prepares
each value on its own first. The batch router's reads send hundreds to thousands of ids
(the accounts of 500 leads, their leads, their owners' leads), and that work was about a
tenth of bulk routing's time (py-spy, 10,000 leads at 1M accounts). Measured on the 1M book,
500 ids: `id IN (%s, ... )` 3.1-4.2 ms and 1.7-2.3 ms of CPU, `id = ANY(%s::bigint[])`
1.3-1.8 ms and 0.5-0.7 ms of CPU. PostgreSQL plans `= ANY(array)` as an index condition,
in a BitmapOr too, as it does an IN list.

Same answers as `__in` (None is left out, an empty list matches nothing); elsewhere than
PostgreSQL it is `__in`. Registered on every field in leadowner.apps; `among` writes the
same condition into hand-written SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import AutoField, ForeignKey, IntegerField
from django.db.models.lookups import In
from django.utils.datastructures import OrderedSet

from leadowner.prepared import out_of_bigint


class AnyOf(In):
    lookup_name = "any_of"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        if connection.vendor != "postgresql" or not self.rhs_is_direct_value():
            sql, params = super().as_sql(compiler, connection)
            return sql, list(params)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        try:
            unique = OrderedSet(self.rhs)
            unique.discard(None)
            values = list(unique)
        except TypeError:  # unhashable values
            values = [v for v in self.rhs if v is not None]
        if not values:
            raise EmptyResultSet
        field = self.lhs.output_field
        integers = isinstance(field, IntegerField | AutoField | ForeignKey)
        if not (integers and all(type(v) is int for v in values)):  # ids need no preparing
            values = [field.get_db_prep_value(v, connection, prepared=True) for v in values]
        cast = field.cast_db_type(connection)
        if integers:  # as `__in` (and leadowner.prepared): an integer no column can hold matches nothing
            values = [v for v in values if not out_of_bigint(v)]
            if not values:
                raise EmptyResultSet
        elif cast.startswith(("varchar", "char")):
            cast = "text"  # a cast to varchar(n) would cut a longer value down to one that matches
        return f"{lhs} = ANY(%s::{cast}[])", [*lhs_params, values]


# Lists this long or shorter stay IN lists in `among(short=True)`: one lead's few ids, whose
# statements are kept prepared per length (leadowner.prepared, routing.matching._select).
SHORT_LIST = 16


def among(column: str, values: Sequence[Any], cast: str, *, short: bool = False) -> tuple[str, list[Any]]:
    """`column` among `values` in SQL written by hand, as `__any_of` writes it: the condition and its
    parameters. PostgreSQL: `column = ANY(%s::cast[])`, one parameter; elsewhere `column IN (%s, ...)`.
    `short`: a list of at most SHORT_LIST values is written as an IN list on PostgreSQL too."""
    if connection.vendor == "postgresql" and not (short and len(values) <= SHORT_LIST):
        return f"{column} = ANY(%s::{cast}[])", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)

"""IDs from the API: parse them, and find the record behind one the actor may read.

A record the actor may not read answers exactly like a missing one (same code, same
message, same field), so ids leak nothing about what exists.
"""

from __future__ import annotations

from typing import TypeVar

import strawberry
from django.db.models import Model, QuerySet

from leadowner.errors import ErrorCode, ServiceError

M = TypeVar("M", bound=Model)


def parse_id(value: strawberry.ID | str | None) -> int | None:
    """A database id from an ID argument; None when it cannot be one.

    Filters use `parse_id(x) or 0`: no row has id 0, so a malformed id matches nothing.
    """
    if value is None:
        return None
    try:
        pk = int(str(value).strip())
    except ValueError:
        return None
    return pk if pk > 0 else None


def not_found(noun: str, value: strawberry.ID | str | int | None, field: str) -> ServiceError:
    """The one answer for an id that names nothing the actor may read."""
    return ServiceError(ErrorCode.NOT_FOUND, f"no {noun} #{value}", field)


def visible_or_not_found(qs: QuerySet[M], value: strawberry.ID | str, *, noun: str, field: str) -> M:
    """The record of `qs` (already narrowed by leadowner.permissions) with this id, else NOT_FOUND."""
    pk = parse_id(value)
    found = qs.filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise not_found(noun, value, field)
    return found


def optional_visible(qs: QuerySet[M], value: strawberry.ID | str | None, *, noun: str, field: str) -> M | None:
    """Like visible_or_not_found, for an optional id argument: None when it was not given."""
    if value is None:
        return None
    return visible_or_not_found(qs, value, noun=noun, field=field)

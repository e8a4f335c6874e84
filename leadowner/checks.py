"""System checks (`manage.py check`, and before `migrate` and `runserver`/`serve`).

The embedded database needs SQLite 3.35 or later: the set-based writers read back what they
wrote with RETURNING (new ids in bulk, the ownership rows a bulk move ended). Django 5.2
itself runs on 3.31, so without this check an older SQLite (some long-term-support
distributions build Python against one) would fail later, in the middle of an import or
a departure, instead of at start.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from django.core.checks import Error, register
from django.db import connections

SQLITE_NEEDED = (3, 35, 0)


@register()
def sqlite_supports_returning(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Error]:
    """An error for every SQLite database when the library is older than SQLITE_NEEDED."""
    if sqlite3.sqlite_version_info >= SQLITE_NEEDED:
        return []
    needed = ".".join(map(str, SQLITE_NEEDED))
    return [
        Error(
            f"the database {alias!r} is SQLite {sqlite3.sqlite_version}; leadowner needs {needed} or later "
            "(UPDATE/INSERT ... RETURNING)",
            hint="Use a Python built against a newer SQLite, or PostgreSQL (DATABASE_URL=postgres://...).",
            id="leadowner.E001",
        )
        for alias in connections
        if connections[alias].vendor == "sqlite"
    ]

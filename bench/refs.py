"""Reference tables for COPY floors: the same columns, indexes, checks AND foreign keys.

`CREATE TABLE ... (LIKE t INCLUDING ALL)` copies columns, defaults, indexes and check
constraints but not foreign keys, so a COPY into it skipped the checks every real write
pays (Django's foreign keys on PostgreSQL are DEFERRABLE INITIALLY DEFERRED: checked at
commit). A floor that skips work the application cannot skip flatters the floor; these
tables carry the same foreign keys, pointing at the reference copy of the referenced
table when it is one of the copied tables, at the real table otherwise.
"""

from __future__ import annotations

from typing import Any


def create_reference_tables(cursor: Any, tables: list[str], prefix: str) -> None:
    """Create `<prefix><table>` for each table: LIKE ... INCLUDING ALL plus the table's foreign keys."""
    for table in tables:
        cursor.execute(f"CREATE TABLE {prefix}{table} (LIKE {table} INCLUDING ALL)")
    for table in tables:
        cursor.execute(
            "SELECT conname, confrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = %s::regclass ORDER BY conname",
            [table],
        )
        for name, referenced, definition in cursor.fetchall():
            target = f"{prefix}{referenced}" if referenced in tables else referenced
            definition = definition.replace(f"REFERENCES {referenced}(", f"REFERENCES {target}(", 1)
            cursor.execute(f"ALTER TABLE {prefix}{table} ADD CONSTRAINT {prefix}{name[:40]} {definition}")

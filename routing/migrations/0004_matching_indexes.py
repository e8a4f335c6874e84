"""Trigram indexes for fuzzy account matching on PostgreSQL (pg_trgm, GIN).

Exact lookups use the b-tree indexes the models already declare (normalized_name,
normalized_alias, the unique domain). Fuzzy candidates on PostgreSQL come from these GIN
trigram indexes, so matching never scans every account. SQLite has no trigram index: its
fuzzy blocking uses ranges on the b-tree indexes (routing.matching), so nothing to do there.
"""

from django.db import migrations

INDEXES = (
    ("routing_account_normalized_name_trgm", "routing_account", "normalized_name"),
    ("routing_accountalias_normalized_alias_trgm", "routing_accountalias", "normalized_alias"),
)


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)")


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    # The extension stays: other objects may use it, and it costs nothing idle.


class Migration(migrations.Migration):
    dependencies = [("routing", "0003_ownership_manual_step")]
    operations = [migrations.RunPython(forwards, backwards)]

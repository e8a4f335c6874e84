"""Indexes for fuzzy account matching on PostgreSQL: names and aliases read backwards.

Exact lookups and sorted-neighbour reads from the front use the indexes the models
already declare (normalized_name and normalized_alias, whose `_like` pattern indexes sort
by bytes whatever the collation; the unique domain). Reading the neighbours of a query
from the end (routing.matching._probes: a typo near the start leaves the end intact)
needs the reversed text indexed the same way.

A first version of this migration made GIN trigram indexes (pg_trgm) for `%` similarity
search; measured at a million accounts that search took 290 ms at p95 against 20 ms
wanted (bench/bench_matching.py), so it gave way to sorted neighbours, and the trigram
indexes are dropped where that version made them. SQLite has no reverse(): it reads
neighbours from the front only, nothing to do there.
"""

from django.db import migrations

INDEXES = (
    ("routing_account_name_reversed_like", "routing_account", "normalized_name"),
    ("routing_accountalias_alias_reversed_like", "routing_accountalias", "normalized_alias"),
)
FIRST_VERSION_INDEXES = ("routing_account_normalized_name_trgm", "routing_accountalias_normalized_alias_trgm")


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in FIRST_VERSION_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    for name, table, column in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} (reverse({column}) text_pattern_ops)")


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("routing", "0003_ownership_manual_step")]
    operations = [migrations.RunPython(forwards, backwards)]

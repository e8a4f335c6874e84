"""The ownership history refuses UPDATE at the database level, on both backends."""

from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            """
            CREATE OR REPLACE FUNCTION routing_history_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'ownership history is append-only';
            END;
            $$ LANGUAGE plpgsql;
            """
        )
        schema_editor.execute(
            "CREATE TRIGGER routing_ownershipchange_no_update BEFORE UPDATE ON routing_ownershipchange "
            "FOR EACH ROW EXECUTE FUNCTION routing_history_append_only();"
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            "CREATE TRIGGER routing_ownershipchange_no_update BEFORE UPDATE ON routing_ownershipchange "
            "BEGIN SELECT RAISE(ABORT, 'ownership history is append-only'); END;"
        )


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS routing_ownershipchange_no_update"
        + (" ON routing_ownershipchange" if vendor == "postgresql" else "")
    )
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS routing_history_append_only()")


class Migration(migrations.Migration):
    dependencies = [("routing", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]

"""Owner rows carry their lead's openness (Ownership.lead_open), kept by the database.

A rep's open load (routing.distribution.open_loads, the metrics, the team screens) counts
the rep's current SALES owner rows of leads in an open stage. It joined each of those rows
to its lead's stage: at a million accounts 4-7 ms per routed lead in a load-balanced
territory, the costliest read of routing. Now the flag on the owner row answers it, from
one partial index.

The flag is written by triggers, on both backends, so every path (the ORM, COPY, raw SQL,
QuerySet.update of a stage) keeps it:

- an owner row written for a lead (INSERT, or an UPDATE that changes its lead or the flag
  itself: a stale `save()` of an instance) takes the flag from its lead's stage. On
  PostgreSQL it reads the lead `FOR NO KEY UPDATE`, the lock an UPDATE of the lead takes:
  a concurrent stage change either committed before (and is read) or waits for this
  transaction to commit (and then updates this row with the rule below). (`FOR SHARE`
  would do for that, but two claims of one lead would both hold it, and the winner's
  UPDATE of the lead would then wait on the loser, who waits on the winner's row in the
  unique index: a deadlock.) The writers lock the lead before its owner rows anyway
  (route_lead's order; routing.services.ownership.lock_lead), so the trigger's lock is
  normally one the transaction already holds. SQLite runs one write transaction at a time.
- a lead whose stage crosses between open and closed sets the flag on all its owner rows.

The open stages are written out here as they were (routing.models.OPEN_LEAD_STAGES):
changing that list needs a migration that replaces these functions. On SQLite, a later
migration that rebuilds routing_lead or routing_ownership (Django remakes a table for many
column changes) drops their triggers; it must create them again.
tests/test_lead_open.py, which runs on both backends after every migration, checks every
stage, every writing path and, on PostgreSQL, the races; it fails when a trigger is gone.
"""

from django.db import migrations, models

OPEN_STAGES = ("NEW", "CONTACTED", "QUALIFIED", "PROPOSAL", "NEGOTIATION")
_OPEN = "({})".format(", ".join(f"'{stage}'" for stage in OPEN_STAGES))

POSTGRESQL = [
    f"""
    CREATE FUNCTION routing_ownership_lead_open() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.lead_id IS NULL THEN
            NEW.lead_open := false;
        ELSE
            SELECT l.stage IN {_OPEN} INTO NEW.lead_open FROM routing_lead l WHERE l.id = NEW.lead_id
                FOR NO KEY UPDATE;
            NEW.lead_open := coalesce(NEW.lead_open, false);
        END IF;
        RETURN NEW;
    END;
    $$
    """,
    "CREATE TRIGGER routing_ownership_lead_open_insert BEFORE INSERT ON routing_ownership FOR EACH ROW "
    "WHEN (NEW.lead_id IS NOT NULL OR NEW.lead_open) EXECUTE FUNCTION routing_ownership_lead_open()",
    "CREATE TRIGGER routing_ownership_lead_open_update BEFORE UPDATE OF lead_id, lead_open ON routing_ownership "
    "FOR EACH ROW WHEN (NEW.lead_id IS DISTINCT FROM OLD.lead_id OR NEW.lead_open IS DISTINCT FROM OLD.lead_open) "
    "EXECUTE FUNCTION routing_ownership_lead_open()",
    f"""
    CREATE FUNCTION routing_lead_stage_open() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE routing_ownership SET lead_open = (NEW.stage IN {_OPEN})
        WHERE lead_id = NEW.id AND lead_open IS DISTINCT FROM (NEW.stage IN {_OPEN});
        RETURN NULL;
    END;
    $$
    """,
    "CREATE TRIGGER routing_lead_stage_open AFTER UPDATE OF stage ON routing_lead FOR EACH ROW "
    f"WHEN ((OLD.stage IN {_OPEN}) IS DISTINCT FROM (NEW.stage IN {_OPEN})) "
    "EXECUTE FUNCTION routing_lead_stage_open()",
]

_SQLITE_FLAG = f"coalesce((SELECT l.stage IN {_OPEN} FROM routing_lead l WHERE l.id = NEW.lead_id), 0)"
SQLITE = [
    "CREATE TRIGGER routing_ownership_lead_open_insert AFTER INSERT ON routing_ownership FOR EACH ROW "
    f"WHEN NEW.lead_id IS NOT NULL OR NEW.lead_open BEGIN "
    f"UPDATE routing_ownership SET lead_open = {_SQLITE_FLAG} WHERE id = NEW.id; END",
    "CREATE TRIGGER routing_ownership_lead_open_update AFTER UPDATE OF lead_id, lead_open ON routing_ownership "
    f"FOR EACH ROW WHEN NEW.lead_open IS NOT {_SQLITE_FLAG} BEGIN "
    f"UPDATE routing_ownership SET lead_open = {_SQLITE_FLAG} WHERE id = NEW.id; END",
    "CREATE TRIGGER routing_lead_stage_open AFTER UPDATE OF stage ON routing_lead FOR EACH ROW "
    f"WHEN (OLD.stage IN {_OPEN}) IS NOT (NEW.stage IN {_OPEN}) BEGIN "
    f"UPDATE routing_ownership SET lead_open = (NEW.stage IN {_OPEN}) WHERE lead_id = NEW.id; END",
]

BACKFILL = (
    "UPDATE routing_ownership SET lead_open = true WHERE lead_id IN "
    f"(SELECT id FROM routing_lead WHERE stage IN {_OPEN})"
)


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRESQL, "sqlite": SQLITE}.get(vendor)
    if statements is None:
        raise RuntimeError(f"routing 0010 knows PostgreSQL and SQLite, not {vendor}")
    if vendor == "postgresql":
        # Until the lead trigger exists, a stage changed by the code still running would not
        # reach the flags: hold the leads' writes until this migration commits.
        schema_editor.execute("LOCK TABLE routing_lead IN SHARE MODE")
    schema_editor.execute(BACKFILL)
    for statement in statements:
        schema_editor.execute(statement)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    on = {"postgresql": " ON {}", "sqlite": ""}[schema_editor.connection.vendor]
    for trigger, table in (
        ("routing_ownership_lead_open_insert", "routing_ownership"),
        ("routing_ownership_lead_open_update", "routing_ownership"),
        ("routing_lead_stage_open", "routing_lead"),
    ):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}" + on.format(table))
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS routing_ownership_lead_open()")
        schema_editor.execute("DROP FUNCTION IF EXISTS routing_lead_stage_open()")


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0009_lead_period_times"),
        ("territories", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="ownership",
            name="lead_open",
            field=models.BooleanField(db_default=False, default=False, editable=False),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveIndex(model_name="ownership", name="ownership_sales_leads_by_rep"),
        migrations.AddIndex(
            model_name="ownership",
            index=models.Index(
                condition=models.Q(("ended_at__isnull", True), ("lead_open", True), ("role", "SALES")),
                fields=["rep"],
                name="ownership_open_leads_by_rep",
            ),
        ),
    ]

"""Drop the single-column indexes that a composite index already leads with.

Django indexes every foreign key by itself. Where the model also declares an index that
starts with the same column, the single-column one answers nothing the composite cannot
(PostgreSQL and SQLite both search a composite by its first column, and the cascades
and PROTECT checks of a deleted rep, lead or account ask by that column alone), and every
INSERT still writes it:

- routing_ownershipchange: account, lead, from_rep and to_rep, each covered by its
  `(column, at)` index. The history takes a row for every change of ownership (a routed
  lead, a forfeit, a departure); with 8 indexes instead of 12, inserting 20,000 history
  rows on the 1M bench book took ~210 ms instead of ~435 ms (docs/performance.md);
- routing_activity: account, lead and rep, each covered by its `(column, occurred_at)`;
- routing_accountalias: account, covered by the unique `(account, normalized_alias)`;
- routing_lead: email_domain and its pattern index, asked by no query (matching asks the
  account domains, not the leads' domains).

The indexes are dropped with their exact names (and created again on the way back), not
by Django's AlterField: on SQLite, AlterField remakes the table, which would drop the
triggers of routing_lead (routing 0010) and routing_ownershipchange (routing 0002).

On PostgreSQL each index is dropped `CONCURRENTLY`, outside a transaction (the migration
is not atomic): a plain DROP INDEX locks its table against reads and writes, and one
transaction dropping the history's, activity's, aliases' and leads' indexes would hold
those locks together, in an order that can deadlock with a submitLead of the code still
running (lead, owner, history). `IF EXISTS` makes a run that stopped half-way safe to run
again. The way back builds them `CONCURRENTLY` too.
"""

from django.db import migrations, models
import django.db.models.deletion

# (model, field) whose own index goes.
COVERED = [
    ("ownershipchange", "account"),
    ("ownershipchange", "lead"),
    ("ownershipchange", "from_rep"),
    ("ownershipchange", "to_rep"),
    ("activity", "account"),
    ("activity", "lead"),
    ("activity", "rep"),
    ("accountalias", "account"),
    ("lead", "email_domain"),
]


def _names(schema_editor, model, field):
    """The names Django gave the field's index (and, on PostgreSQL, its pattern index)."""
    table = model._meta.db_table
    names = [schema_editor._create_index_name(table, [field.column], suffix="")]
    if schema_editor.connection.vendor == "postgresql" and field.get_internal_type() in ("CharField", "TextField"):
        names.append(schema_editor._create_index_name(table, [field.column], suffix="_like"))
    return names


def drop(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for model_name, field_name in COVERED:
        model = apps.get_model("routing", model_name)
        for name in _names(schema_editor, model, model._meta.get_field(field_name)):
            schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {schema_editor.quote_name(name)}")


def create(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for model_name, field_name in COVERED:
        model = apps.get_model("routing", model_name)
        field = model._meta.get_field(field_name)
        if not postgresql:
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))
            continue
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field], concurrently=True))
        like = schema_editor._create_like_index_sql(model, field)
        if like is not None:
            schema_editor.execute(str(like).replace("CREATE INDEX ", "CREATE INDEX CONCURRENTLY ", 1))


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY runs outside a transaction (see above)

    dependencies = [
        ("routing", "0010_ownership_lead_open"),
        ("territories", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ownershipchange",
                    name="account",
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="ownership_changes", to="routing.account"),
                ),
                migrations.AlterField(
                    model_name="ownershipchange",
                    name="lead",
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="ownership_changes", to="routing.lead"),
                ),
                migrations.AlterField(
                    model_name="ownershipchange",
                    name="from_rep",
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="territories.rep"),
                ),
                migrations.AlterField(
                    model_name="ownershipchange",
                    name="to_rep",
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="territories.rep"),
                ),
                migrations.AlterField(
                    model_name="activity",
                    name="account",
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="activities", to="routing.account"),
                ),
                migrations.AlterField(
                    model_name="activity",
                    name="lead",
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="activities", to="routing.lead"),
                ),
                migrations.AlterField(
                    model_name="activity",
                    name="rep",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="activities", to="territories.rep"),
                ),
                migrations.AlterField(
                    model_name="accountalias",
                    name="account",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="alias_rows", to="routing.account"),
                ),
                migrations.AlterField(
                    model_name="lead",
                    name="email_domain",
                    field=models.CharField(blank=True, max_length=253),
                ),
            ],
            database_operations=[migrations.RunPython(drop, create)],
        ),
    ]

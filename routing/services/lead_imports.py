"""leads.csv: leads brought in bulk (a trade show's scans, a list bought, last quarter's form
fills), each routed at entry exactly as `submitLead` routes one.

Columns: `email,name,title,company,country,subdivision,city,postal_code,industry,employees,
source,product_interest,requested_rep_email,received_at` (the contract's LeadInput; only
`email` is required; `source` defaults to import, `received_at` to the time of the import).

The whole file is checked first: every bad row is reported with its line, column and
reason, and a file with any bad row writes nothing. The checked leads are then routed in
chunks of LEAD_CHUNK through `routing.services.batch_routing.submit_clean_leads` (the batch
router: a few dozen statements per chunk instead of a few dozen per lead), each chunk its
own transaction, so live routing waits for one chunk at most (a chunk holds the
distribution locks of its territories until it commits, as one submitted lead holds its
territory's). A lead repeating the email of an earlier lead within the duplicate window,
in the file or already stored, attaches to it as `submitLead` does, so loading the same
file again attaches its leads (for a file without `received_at`, when loaded again within
the window): nothing is routed twice. Should writing a chunk fail after the check (a lost
connection), the error names the line it stopped at; the chunks before it stay routed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import DatabaseError

from leadowner.actors import Actor
from leadowner.csvio import CsvRow, ImportFailed, ImportReport, Progress, RowError, check_refused, read_csv
from leadowner.errors import ErrorCode, ServiceError, ServiceErrors
from routing.enrich import CleanLead, LeadData, clean_lead
from routing.models import LeadSource
from routing.services.batch_routing import submit_clean_leads
from routing.services.imports import MAX_INT, choice_of, parse_time, whole_number

LEADS_FILENAME = "leads.csv"
LEADS_ACTOR = "import: leads.csv"
LEADS_COLUMNS = (
    "email",
    "name",
    "title",
    "company",
    "country",
    "subdivision",
    "city",
    "postal_code",
    "industry",
    "employees",
    "source",
    "product_interest",
    "requested_rep_email",
    "received_at",
)
LEADS_NUMERIC = ("employees",)
# Leads routed per transaction: big enough that the batch reads pay off, small enough that a
# chunk holds its territories' locks for well under a second.
LEAD_CHUNK = 500
# The contract's camelCase field names (clean_lead's errors) -> the file's columns.
_COLUMN_OF = {"".join(p if i == 0 else p.title() for i, p in enumerate(c.split("_"))): c for c in LEADS_COLUMNS}


@dataclass
class LeadImportReport(ImportReport):
    """`created`: leads routed; `unchanged`: rows that attached to an earlier lead (duplicates)."""

    steps: Counter[str] = field(default_factory=Counter)  # routed leads by the step that decided

    def __str__(self) -> str:
        routed = f"{self.created} leads routed"
        if self.steps:
            routed += " (" + ", ".join(f"{step.lower()} {n}" for step, n in self.steps.most_common()) + ")"
        return f"{routed}, {self.unchanged} attached to an earlier lead with the same email"


def _parse_lead(row: CsvRow, errors: list[RowError], now: datetime) -> CleanLead | None:
    """The row as a submitted lead, checked as submitLead checks one (every problem reported)."""
    v = row.values
    problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for column, parse in (
        ("employees", lambda s: whole_number(s, MAX_INT)),
        ("source", lambda s: choice_of(s, LeadSource.values, LeadSource.IMPORT)),
        ("received_at", lambda s: parse_time(s) if s else None),
    ):
        try:
            values[column] = parse(v[column])
        except ValueError as exc:
            problems.append((column, str(exc)))
    if not v["email"]:
        problems.append(("email", "is required"))
    data = LeadData(
        email=v["email"],
        name=v["name"],
        title=v["title"],
        company=v["company"],
        country=v["country"],
        subdivision=v["subdivision"],
        city=v["city"],
        postal_code=v["postal_code"],
        industry=v["industry"],
        employees=values.get("employees"),
        source=values.get("source", ""),
        product_interest=v["product_interest"],
        requested_rep_email=v["requested_rep_email"],
        received_at=values.get("received_at"),
    )
    clean = None
    try:
        clean = clean_lead(data, now=now)
    except ServiceErrors as exc:
        known = {column for column, _m in problems}
        for error in exc.errors:
            column = _COLUMN_OF.get(error.field or "", error.field or "")
            if column not in known:  # a cell already refused above is reported once
                problems.append((column, error.message))
    if problems:
        errors.extend(RowError(row.line, column, message) for column, message in problems)
        return None
    return clean


def import_leads(
    data: bytes | str,
    *,
    actor: str = LEADS_ACTOR,
    now: datetime,
    progress: Progress | None = None,
    chunk: int = LEAD_CHUNK,
) -> LeadImportReport:
    """Import leads.csv: check every row, then route the leads in chunks (see the module)."""
    table = read_csv(data, columns=LEADS_COLUMNS, numeric=LEADS_NUMERIC)
    errors = list(table.errors)
    check_refused(table.partial, lambda row, found: _parse_lead(row, found, now), errors)
    leads: list[CleanLead] = []
    lines: list[int] = []  # each lead's line in the file
    total = len(table.rows)
    for done, row in enumerate(table.rows, 1):
        parsed = _parse_lead(row, errors, now)
        if parsed is not None:
            leads.append(parsed)
            lines.append(row.line)
        if progress is not None and (done % 1000 == 0 or done == total):
            progress("checking", done, total)
    if errors:
        raise ImportFailed(errors, filename=LEADS_FILENAME)

    report = LeadImportReport()
    who = Actor.system_actor(actor)
    for start in range(0, len(leads), chunk):
        try:
            submitted_chunk = submit_clean_leads(leads[start : start + chunk], actor=who, now=now)
        except (ServiceError, DatabaseError) as exc:
            # The check passed, but writing a chunk failed (a lost connection, a constraint):
            # the chunks before it are routed and stay; say where it stopped.
            reason = exc.message if isinstance(exc, ServiceError) else str(exc).splitlines()[0]
            raise ServiceError(
                exc.code if isinstance(exc, ServiceError) else ErrorCode.INVALID,
                f"{LEADS_FILENAME}: routing stopped at line {lines[start]} ({reason}); the {start} leads before "
                "it are routed. Load the file again to route the rest: within the duplicate window the leads "
                "already routed attach as repeats of themselves (give received_at to make that certain)",
            ) from exc
        for submitted in submitted_chunk:
            if submitted.attached:
                report.unchanged += 1
            else:
                report.created += 1
                report.steps[submitted.decision.step] += 1
        if progress is not None:
            progress("routing", min(start + chunk, len(leads)), len(leads))
    return report


__all__ = ["LEADS_COLUMNS", "LeadImportReport", "import_leads"]

"""Console "Test your rules": sample leads as CSV, routed under the published rules and under a draft.

The view reads the CSV (pasted or uploaded), reports bad rows with their line numbers,
and shows each lead's decision under both rule sets side by side
(routing.selectors.console.simulate_side_by_side, which writes nothing).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from leadowner.console import manager_required, render_page
from leadowner.csvio import RowError, decode, read_csv
from routing.models import LeadSource
from routing.selectors.console import RowProblem, SampleRow, draft_rule_sets, simulate_side_by_side
from routing.services.lead_imports import LEADS_COLUMNS
from routing.services.leads import LeadData
from routing.views_common import parse_int
from territories.models import RuleSet, RuleSetStatus

TEMPLATE = "routing/simulate.html"
# The contract's LeadInput fields in snake_case, as leads.csv has them (receivedAt aside: a simulation runs now).
SAMPLE_COLUMNS = tuple(c for c in LEADS_COLUMNS if c != "received_at")
MAX_ROWS = 500
MAX_UPLOAD_BYTES = 2 * 1024 * 1024


@dataclass
class SampleLeads:
    rows: list[SampleRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


def _problem(error: RowError) -> RowProblem:
    return RowProblem(error.line, error.column, error.message)


def _header(text: str) -> list[str]:
    try:
        first = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:
        return []
    return [name.strip() for name in first]


def parse_sample_leads(data: bytes | str, *, max_rows: int = MAX_ROWS) -> SampleLeads:
    """Sample leads from CSV: `email` and any other LeadInput columns, one lead a row; bad rows with their lines.

    Columns may come in any order and any subset that has `email`; an unknown column is
    an error of line 1. More than `max_rows` rows is refused as a whole.
    """
    text, _ = decode(data)
    header = _header(text)
    present = [name for name in header if name in SAMPLE_COLUMNS]
    columns = present if "email" in present else ["email", *present]
    table = read_csv(data, columns=columns, numeric=("employees",))
    result = SampleLeads(problems=[_problem(error) for error in table.errors])
    if any(problem.line == 1 for problem in result.problems):
        return result  # the header is wrong: no row can be read
    count = len(table.rows) + len(table.partial)
    if count > max_rows:
        result.problems.append(RowProblem(0, "file", f"has {count} leads; at most {max_rows} can be tried at once"))
        return result
    if count == 0:
        result.problems.append(RowProblem(0, "file", "has no leads: give a header line, then one lead a line"))
        return result
    for row in table.rows:
        values = {name: row.values.get(name, "") for name in SAMPLE_COLUMNS}
        employees = None
        if values["employees"]:
            employees = parse_int(values["employees"].replace(",", "").replace("_", ""))
            if employees is None:
                result.problems.append(RowProblem(row.line, "employees", "is not a whole number"))
                continue
        source = values["source"].upper() or LeadSource.INBOUND
        lead = LeadData(
            email=values["email"],
            name=values["name"] or None,
            title=values["title"] or None,
            company=values["company"] or None,
            country=values["country"] or None,
            subdivision=values["subdivision"] or None,
            city=values["city"] or None,
            postal_code=values["postal_code"] or None,
            industry=values["industry"] or None,
            employees=employees,
            source=source,
            product_interest=values["product_interest"] or None,
            requested_rep_email=values["requested_rep_email"] or None,
        )
        result.rows.append(SampleRow(row.line, lead))
    return result


def _draft(raw: str | None) -> RuleSet | None:
    version = parse_int(raw)
    if version is None:
        return None
    return RuleSet.objects.filter(version=version, status=RuleSetStatus.DRAFT).first()


def _context(**extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "nav": "simulate",
        "drafts": draft_rule_sets(),
        "columns": ",".join(SAMPLE_COLUMNS),
        "max_rows": MAX_ROWS,
        "form": {"csv": "", "draft": ""},
        "errors": {},
    }
    context.update(extra)
    return context


@manager_required
@require_http_methods(["GET", "POST"])
def simulate(request: HttpRequest) -> HttpResponse:
    """Try a draft rule set on sample leads: each decision under the published rules and the draft. Writes nothing."""
    if request.method == "GET":
        # The territory map links here with ?draft=N: that draft comes pre-selected.
        preselected = _draft(request.GET.get("draft"))
        form = {"csv": "", "draft": str(preselected.version) if preselected else ""}
        return render_page(request, TEMPLATE, _context(form=form), partial="result")
    form = {"csv": request.POST.get("csv", ""), "draft": request.POST.get("draft", "")}
    errors: dict[str, str] = {}
    draft = _draft(form["draft"])
    if draft is None:
        errors["draft"] = "Choose a draft rule set."
    upload = request.FILES.get("file")
    data: bytes | str = form["csv"]
    if upload is not None and upload.size:
        if upload.size > MAX_UPLOAD_BYTES:
            errors["file"] = f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB."
        else:
            data = upload.read()
    elif not form["csv"].strip():
        errors["csv"] = "Paste sample leads as CSV, or choose a file."
    if errors:
        return render_page(request, TEMPLATE, _context(form=form, errors=errors), partial="result")
    assert draft is not None
    sample = parse_sample_leads(data)
    if not sample.rows:
        return render_page(request, TEMPLATE, _context(form=form, problems=sample.problems), partial="result")
    report = simulate_side_by_side(rows=sample.rows, draft=draft, now=timezone.now())
    problems = sorted([*sample.problems, *report.problems], key=lambda p: (p.line, p.column))
    context = _context(form=form, report=report, draft=draft, problems=problems, tried=True)
    return render_page(request, TEMPLATE, context, partial="result")

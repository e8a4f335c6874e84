"""Console audit log: every ownership change, filterable, paged, and downloadable as CSV.

The download streams the filtered rows straight from the database (StreamingHttpResponse
over a chunked iterator), with every cell neutralised against spreadsheet formula
injection by leadowner.csvio.escape_cell, so a reason typed as `=HYPERLINK(...)` is text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from leadowner.console import manager_required, render_page
from leadowner.csvio import escape_cell
from routing.models import DecisionStep
from routing.selectors.console import AUDIT_COLUMNS, AUDIT_NUMERIC, AuditFilter, all_reps, audit_page, audit_rows
from routing.views_common import parse_date_range, parse_int, query_url

TEMPLATE = "routing/audit.html"
MAX_TEXT = 200


@dataclass
class ParsedFilter:
    audit: AuditFilter
    form: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


def parse_audit_filter(query: QueryDict) -> ParsedFilter:
    """The audit filter from the query string; a bad value is reported for its field and left out."""
    form = {
        key: query.get(key, "").strip()[:MAX_TEXT]
        for key in ("rep", "account", "step", "reason", "actor", "from", "to")
    }
    errors: dict[str, str] = {}
    rep_id = parse_int(form["rep"])
    if form["rep"] and rep_id is None:
        errors["rep"] = "Choose a rep from the list."
    account_id = parse_int(form["account"]) if form["account"].isdigit() else None
    step = form["step"].upper()
    if step and step not in DecisionStep.values:
        errors["step"] = "Choose a step from the list."
        step = ""
    date_from, date_to = parse_date_range(form, errors)
    audit = AuditFilter(
        rep_id=rep_id,
        account_id=account_id,
        account_text="" if account_id is not None else form["account"],
        step=step,
        reason_text=form["reason"],
        actor=form["actor"],
        date_from=date_from,
        date_to=date_to,
    )
    return ParsedFilter(audit, form, errors)


@require_GET
@manager_required
def audit(request: HttpRequest) -> HttpResponse:
    """Every ownership change, newest first, filtered by rep, account, reason, actor and dates."""
    parsed = parse_audit_filter(request.GET)
    params = parsed.audit.params()
    path = reverse("console:audit")
    context: dict[str, Any] = {
        "nav": "audit",
        "changes": audit_page(parsed.audit, request.GET.get("page")),
        "reps": all_reps(),
        "steps": DecisionStep.choices,
        "form": parsed.form,
        "errors": parsed.errors,
        "filtered": bool(params),
        "page_url": query_url(path, params) + ("&" if params else "?") + "page=",
        "csv_url": query_url(reverse("console:audit_csv"), params),
    }
    # Bad filter values are shown next to their fields (200: htmx swaps only successful answers).
    return render_page(request, TEMPLATE, context, partial="results")


class _Line:
    """A file-like object whose write returns what it was given: csv.writer's output, one row at a time."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterator[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Line(), lineterminator="\n")
    yield writer.writerow(AUDIT_COLUMNS)
    numeric = [column in AUDIT_NUMERIC for column in AUDIT_COLUMNS]
    for row in rows:
        yield writer.writerow([escape_cell(value, numeric=flag) for value, flag in zip(row, numeric, strict=True)])


@require_GET
@manager_required
def audit_csv(request: HttpRequest) -> HttpResponse:
    """The filtered ownership changes as CSV, streamed."""
    parsed = parse_audit_filter(request.GET)
    if parsed.errors:
        text = "\n".join(f"{name}: {message}" for name, message in parsed.errors.items())
        return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(_csv_lines(audit_rows(parsed.audit)), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="ownership-changes-{stamp}.csv"'
    # manager_required is typed for HttpResponse; a streaming answer passes through it unchanged.
    return cast(HttpResponse, response)

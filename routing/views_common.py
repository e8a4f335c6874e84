"""Small input-parsing helpers the console views share (no business rules here)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date
from urllib.parse import urlencode

from leadowner.errors import ServiceError

FORM = "form"  # the key of an error that belongs to no one field

# The API's field names (ServiceError.field) as the console forms name their inputs.
SERVICE_FIELDS: Mapping[str, str] = {
    "toRepId": "to_rep",
    "winnerRepId": "winner",
    "leadId": "lead",
    "id": FORM,
}


def parse_int(raw: str | None) -> int | None:
    """A positive whole number typed or posted, or None for anything else."""
    text = (raw or "").strip()
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def parse_ids(values: Iterable[str]) -> list[int]:
    """The ids posted (checkboxes, hidden inputs), in order, without repeats; junk is left out."""
    ids = (parse_int(value) for value in values)
    return list(dict.fromkeys(pk for pk in ids if pk is not None))


def field_errors(error: ServiceError, fields: Collection[str]) -> dict[str, str]:
    """{form field: message} for a service refusal: next to its field when the form has it, else for the form."""
    name = SERVICE_FIELDS.get(error.field or "", error.field or "")
    return {name if name in fields else FORM: error.message}


def query_url(path: str, params: Mapping[str, str], **extra: str) -> str:
    """`path?params&extra`, leaving out empty values."""
    merged = {key: value for key, value in {**params, **extra}.items() if value}
    return f"{path}?{urlencode(merged)}" if merged else path


def parse_date_range(form: Mapping[str, str], errors: dict[str, str]) -> tuple[date | None, date | None]:
    """The `from` and `to` dates of a filter form (YYYY-MM-DD, `to` inclusive); a bad one is reported in
    `errors` at its field and left out, as is a `to` before `from`."""

    def day(name: str) -> date | None:
        raw = form.get(name, "")
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors[name] = f"“{raw}” is not a date; use YYYY-MM-DD."
            return None

    date_from, date_to = day("from"), day("to")
    if date_from and date_to and date_to < date_from:
        errors["to"] = "The end date is before the start date."
        date_to = None
    return date_from, date_to

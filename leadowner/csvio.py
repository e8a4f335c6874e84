"""CSV machinery shared by every import and export: one reading, one writing, one error shape.

Reading: UTF-8 (a byte-order mark is tolerated), a header that must name exactly the
expected columns (in any order), rows with the 1-based line of the file they start on.
Bytes that are not UTF-8 become row errors at their line and column, never a crash.

Spreadsheets execute a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return (CSV injection). Imports refuse such cells (a leading `-` is fine in a numeric
column); exports never write one: the writer puts a `'` before it, the convention
spreadsheets show as text, and the reader takes that `'` off again, so a round trip
through export and import is exact.
"""

from __future__ import annotations

import csv
import gc
import io
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from leadowner.errors import ErrorCode, ServiceError

MAX_FIELD_CHARS = 10_000
FORMULA_START = frozenset("=+-@\t\r")
NUMERIC_FORMULA_START = FORMULA_START - {"-"}
ESCAPE = "'"
_BAD_BYTES = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of bytes that are not UTF-8

# A progress callback: (phase, rows done so far, rows in total).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RowError:
    """One bad cell (or row, or file) of an import: where it is and what is wrong."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}: {self.message}"


@dataclass
class ImportReport:
    """What an import did. `errors` is empty for an import that was written."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


class ImportFailed(ServiceError):
    """A file was refused as a whole (imports are all-or-nothing); carries every row error."""

    def __init__(self, errors: Sequence[RowError], *, filename: str = "file") -> None:
        ordered = sorted(errors, key=lambda e: (e.line, e.column))
        noun = "error" if len(ordered) == 1 else "errors"
        super().__init__(
            ErrorCode.INVALID, f"{filename}: {len(ordered)} {noun}, nothing was imported", ordered[0].column
        )
        self.errors = ordered
        self.filename = filename

    def __str__(self) -> str:
        return "\n".join([self.message, *(str(e) for e in self.errors)])


@dataclass(frozen=True)
class CsvRow:
    line: int  # the line of the file the row starts on (the header is line 1)
    values: dict[str, str]  # the good cells, stripped (a bad cell is absent)
    bad: frozenset[str] = frozenset()  # columns whose cell was refused

    def __getitem__(self, column: str) -> str:
        return self.values[column]

    def with_blanks(self) -> CsvRow:
        """The row with its refused cells empty, to check the other cells of a refused row."""
        return CsvRow(self.line, {**dict.fromkeys(self.bad, ""), **self.values}, self.bad)


def check_refused(
    rows: Iterable[CsvRow], parse: Callable[[CsvRow, list[RowError]], object], errors: list[RowError]
) -> None:
    """Report the other bad cells of rows already refused for a bad cell (the parse result is dropped)."""
    for row in rows:
        found: list[RowError] = []
        parse(row.with_blanks(), found)
        errors.extend(e for e in found if e.column not in row.bad)


@dataclass
class CsvTable:
    rows: list[CsvRow]  # rows whose every cell was readable
    errors: list[RowError]
    # Rows with a refused cell: never written, but their good cells (a key such as an
    # email or a domain) still count when other rows refer to them, so a reference to a
    # bad row is not reported as a second, misleading error.
    partial: list[CsvRow] = field(default_factory=list)


def _needs_escape(value: str, starts: frozenset[str]) -> bool:
    """True when a spreadsheet would execute `value`, or when it would lose a `'` on reading."""
    if not value:
        return False
    if value[0] in starts:
        return True
    return value[0] == ESCAPE and _needs_escape(value[1:], starts)


def escape_cell(value: str, *, numeric: bool = False) -> str:
    """The cell as written: a leading `'` where a spreadsheet would otherwise execute it."""
    return ESCAPE + value if _needs_escape(value, NUMERIC_FORMULA_START if numeric else FORMULA_START) else value


def unescape_cell(value: str, *, numeric: bool = False) -> str:
    """Inverse of `escape_cell`."""
    starts = NUMERIC_FORMULA_START if numeric else FORMULA_START
    if value.startswith(ESCAPE) and _needs_escape(value[1:], starts):
        return value[1:]
    return value


def decode(data: bytes | str) -> tuple[str, bool]:
    """Text of the file and whether every byte was UTF-8. Bad bytes survive as lone surrogates."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff"), True
    try:
        return data.decode("utf-8-sig"), True
    except UnicodeDecodeError:
        return data.decode("utf-8-sig", errors="surrogateescape"), False


def _bad_bytes_message(value: str) -> str | None:
    found = _BAD_BYTES.search(value)
    if found is None:
        return None
    byte = ord(found.group()) - 0xDC00
    return f"not valid UTF-8 (byte 0x{byte:02x}); save the file as UTF-8"


def iter_csv(
    data: bytes | str,
    *,
    columns: Sequence[str],
    errors: list[RowError],
    numeric: Collection[str] = (),
    max_field: int = MAX_FIELD_CHARS,
) -> Iterator[CsvRow]:
    """Yield the rows of a CSV file; append every problem found to `errors`.

    Cells are stripped of surrounding spaces. A row with a bad cell is yielded with that
    column in `bad` and without its value. A header problem stops the reading (the
    columns cannot be trusted), and so does a row the csv module cannot read.
    """
    text, clean = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    last_line = 0
    try:
        header = next(reader, None)
    except csv.Error as exc:
        errors.append(RowError(1, "header", f"cannot read the header: {exc}"))
        return
    if header is None or not any(h.strip() for h in header):
        errors.append(RowError(1, "header", f"the file is empty; the first line must be: {','.join(columns)}"))
        return
    names = [h.strip() for h in header]
    header_errors: list[RowError] = []
    for name in names:
        encoding = None if clean else _bad_bytes_message(name)
        if encoding:
            header_errors.append(RowError(1, "header", encoding))
    seen: set[str] = set()
    for name in names:
        if name in seen:
            header_errors.append(RowError(1, name, "column appears twice in the header"))
        seen.add(name)
    for name in columns:
        if name not in seen:
            header_errors.append(RowError(1, name, "missing column"))
    for name in names:
        if name not in columns:
            header_errors.append(RowError(1, name or "(blank)", f"unknown column (expected: {','.join(columns)})"))
    if header_errors:
        errors.extend(header_errors)
        return
    last_line = reader.line_num
    width = len(names)
    while True:
        start = last_line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append(RowError(start, "row", f"cannot read the row: {exc}; nothing after it was read"))
            return
        last_line = reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # blank line
        if len(cells) != width:
            errors.append(RowError(start, "row", f"has {len(cells)} cells, the header has {width}"))
            continue
        bad: set[str] = set()
        values: dict[str, str] = {}
        for name, raw in zip(names, cells, strict=True):
            is_numeric = name in numeric
            problem = _cell_problem(raw, numeric=is_numeric, max_field=max_field, clean=clean)
            if problem:
                errors.append(RowError(start, name, problem))
                bad.add(name)
                continue
            values[name] = unescape_cell(raw.strip(), numeric=is_numeric)
        yield CsvRow(start, values, frozenset(bad))


def _cell_problem(raw: str, *, numeric: bool, max_field: int, clean: bool) -> str | None:
    if not raw:
        return None
    if not clean:
        bad = _bad_bytes_message(raw)
        if bad:
            return bad
    if len(raw) > max_field:
        return f"is {len(raw):,} characters long; the limit is {max_field:,}"
    if "\x00" in raw:
        return "contains a NUL character"
    starts = NUMERIC_FORMULA_START if numeric else FORMULA_START
    first = raw[0]
    if first in starts:
        return f"starts with {first!r}, which a spreadsheet would run as a formula"
    if first.isspace():  # " =1+1": some spreadsheets trim before they evaluate
        stripped = raw.strip()
        if stripped and stripped[0] in starts:
            return f"starts with {stripped[0]!r}, which a spreadsheet would run as a formula"
    return None


def read_csv(
    data: bytes | str,
    *,
    columns: Sequence[str],
    numeric: Collection[str] = (),
    max_field: int = MAX_FIELD_CHARS,
) -> CsvTable:
    table = CsvTable(rows=[], errors=[])
    for row in iter_csv(data, columns=columns, errors=table.errors, numeric=numeric, max_field=max_field):
        (table.partial if row.bad else table.rows).append(row)
    return table


def write_csv(
    out: TextIO,
    *,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    numeric: Collection[str] = (),
) -> int:
    """Write a header and rows with `\\n` line endings; no cell a spreadsheet would execute. Returns rows."""
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    # QUOTE_MINIMAL quotes a cell holding "\n" but not one holding a lone "\r": unquoted, the
    # "\r" ends the row for every reader, and what follows it starts a row of its own (where
    # "=cmd|..." would run). A row with such a cell is written fully quoted.
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(columns)
    flags = [c in numeric for c in columns]
    count = 0
    for row in rows:
        cells = [escape_cell(v, numeric=n) for v, n in zip(row, flags, strict=True)]
        (quoted if any("\r" in c for c in cells) else writer).writerow(cells)
        count += 1
    return count


def csv_text(*, columns: Sequence[str], rows: Iterable[Sequence[str]], numeric: Collection[str] = ()) -> str:
    out = io.StringIO(newline="")
    write_csv(out, columns=columns, rows=rows, numeric=numeric)
    return out.getvalue()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a large import.

    An import holds hundreds of thousands of small rows until it ends; the collector
    would walk all of them again at every collection (about a third of the parse time
    for 100,000 accounts). Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def split_list(value: str, sep: str = ";") -> list[str]:
    """`a; b;;c` -> [a, b, c]: the `;`-separated list cells of reps.csv and accounts.csv."""
    return [part.strip() for part in value.split(sep) if part.strip()]

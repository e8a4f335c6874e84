"""The CSV machinery every import and export shares (no database)."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from leadowner.csvio import (
    MAX_FIELD_CHARS,
    ImportFailed,
    RowError,
    csv_text,
    escape_cell,
    read_csv,
    unescape_cell,
    write_csv,
)

COLUMNS = ("name", "amount")


def test_rows_carry_the_line_they_start_on_even_after_a_multi_line_cell():
    table = read_csv('name,amount\n"two\nlines",1\n\nthird,3\n', columns=COLUMNS, numeric=("amount",))
    assert [(r.line, r["name"]) for r in table.rows] == [(2, "two\nlines"), (5, "third")]
    assert table.errors == []


def test_a_byte_order_mark_is_tolerated():
    table = read_csv("\ufeffname,amount\nAcme,1\n".encode(), columns=COLUMNS)
    assert table.errors == []
    assert table.rows[0].values == {"name": "Acme", "amount": "1"}


def test_header_reports_missing_unknown_and_repeated_columns():
    table = read_csv("name,colour,colour\nAcme,red,blue\n", columns=COLUMNS)
    assert table.rows == []
    assert {(e.column, e.message.split(" (")[0]) for e in table.errors} == {
        ("amount", "missing column"),
        ("colour", "unknown column"),
        ("colour", "column appears twice in the header"),
    }
    assert all(e.line == 1 for e in table.errors)


def test_columns_may_come_in_any_order():
    table = read_csv("amount,name\n5,Acme\n", columns=COLUMNS)
    assert table.rows[0].values == {"name": "Acme", "amount": "5"}


def test_an_empty_file_is_an_error_not_a_crash():
    assert read_csv(b"", columns=COLUMNS).errors[0].column == "header"


def test_cells_a_spreadsheet_would_execute_are_row_errors():
    text = "name,amount\n=HYPERLINK(1),1\n+1,1\n@SUM(A1),1\n-2+3,1\n\tx,1\n ok ,-5\n"
    table = read_csv(text, columns=COLUMNS, numeric=("amount",))
    assert [(e.line, e.column) for e in table.errors] == [
        (2, "name"),
        (3, "name"),
        (4, "name"),
        (5, "name"),
        (6, "name"),
    ]
    assert "formula" in table.errors[0].message
    # A leading minus is fine in a numeric column; surrounding spaces are trimmed.
    assert [r.values for r in table.rows] == [{"name": "ok", "amount": "-5"}]


def test_a_carriage_return_at_the_start_of_a_cell_is_refused():
    table = read_csv('name,amount\n"\rcmd",1\n', columns=COLUMNS)
    assert [(e.line, e.column) for e in table.errors] == [(2, "name")]


def test_mis_encoded_bytes_are_an_error_at_their_line_and_column():
    data = b"name,amount\nAcme,1\n" + b"Caf\xe9,2\nZed,3\n"
    table = read_csv(data, columns=COLUMNS)
    assert table.errors == [RowError(3, "name", "not valid UTF-8 (byte 0xe9); save the file as UTF-8")]
    assert [r["name"] for r in table.rows] == ["Acme", "Zed"]
    assert table.partial[0].line == 3 and "name" in table.partial[0].bad


def test_a_huge_field_is_a_row_error():
    table = read_csv(f"name,amount\n{'x' * (MAX_FIELD_CHARS + 1)},1\nok,2\n", columns=COLUMNS)
    assert [(e.line, e.column) for e in table.errors] == [(2, "name")]
    assert "limit" in table.errors[0].message
    assert [r["name"] for r in table.rows] == ["ok"]


def test_a_row_with_the_wrong_number_of_cells_is_reported():
    table = read_csv("name,amount\nAcme\nB,1,extra\n", columns=COLUMNS)
    assert [(e.line, e.column) for e in table.errors] == [(2, "row"), (3, "row")]


def test_the_writer_never_writes_an_executable_cell_and_uses_newlines():
    text = csv_text(columns=COLUMNS, rows=[["=1+1", "-3"], ["a,b", "4"], ["'=x", "5"]], numeric=("amount",))
    assert text == "name,amount\n'=1+1,-3\n\"a,b\",4\n''=x,5\n"
    assert "\r" not in text


def test_what_the_writer_escapes_the_reader_reads_back():
    text = csv_text(columns=COLUMNS, rows=[["=1+1", "1"], ["@home", "2"], ["'=x", "3"], ["'plain", "4"]])
    table = read_csv(text, columns=COLUMNS)
    assert table.errors == []
    assert [r["name"] for r in table.rows] == ["=1+1", "@home", "'=x", "'plain"]


@given(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40))
def test_escaping_is_reversible_for_any_text(value):
    assert unescape_cell(escape_cell(value)) == value
    escaped = escape_cell(value)
    assert not escaped or escaped[0] not in "=+-@\t\r"


@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\x00\r", blacklist_categories=("Cs",)), max_size=20).map(
            str.strip
        ),
        min_size=1,
        max_size=5,
    )
)
def test_write_then_read_gives_back_every_trimmed_value(values):
    out = io.StringIO(newline="")
    write_csv(out, columns=("name",), rows=[[v] for v in values])
    table = read_csv(out.getvalue(), columns=("name",))
    assert table.errors == []
    assert [r["name"] for r in table.rows] == [v for v in values if v]


def test_import_failed_lists_every_error_in_file_order():
    exc = ImportFailed([RowError(5, "b", "bad"), RowError(2, "a", "worse")], filename="x.csv")
    assert str(exc).splitlines() == ["x.csv: 2 errors, nothing was imported", "line 2: a: worse", "line 5: b: bad"]

"""The CSV and YAML importers under hypothesis: any input gives a report, never a crash, never a half import.

Malformed, truncated, mis-encoded, huge-field and formula-injection (`=cmd|...`) files
either import whole or raise ImportFailed / RuleSetInvalid with row-level problems (a
line and a column each) and write nothing. Exports never write a cell a spreadsheet
would execute, whatever text is stored, and read back to the same text.

`make test` runs a bounded number of examples (IMPORT_FUZZ_EXAMPLES, default 25); the
slow variant under `make fuzz` many more.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadowner.csvio import FORMULA_START, NUMERIC_FORMULA_START, ImportFailed, unescape_cell
from routing.models import Account, AccountAlias, AccountDomain, Lead, Opportunity, Ownership, OwnershipChange
from routing.selectors.exports import ACCOUNTS_NUMERIC, export_accounts, export_opportunities
from routing.services.imports import import_accounts, import_opportunities
from routing.services.lead_imports import import_leads
from territories.models import Partner, PartnerUser, Rep, RuleSet, Territory, TerritoryMember
from territories.selectors import REPS_NUMERIC, export_partners, export_reps
from territories.services import RuleSetInvalid, import_partners, import_reps, import_rule_set
from tests.factories import AccountFactory, OpportunityFactory, PartnerUserFactory, RepFactory

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("IMPORT_FUZZ_EXAMPLES", "25"))
LONG = int(os.environ.get("IMPORT_FUZZ_LONG_EXAMPLES", "400"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)

VALID = {
    "reps": (
        "email,name,role,manager_email,capacity,status,territories\n"
        "dana@example.com,Dana Kim,MANAGER,,,ACTIVE,\n"
        "ada@example.com,Ada Lovelace,AE,dana@example.com,60,ACTIVE,US East\n"
    ),
    "partners": "partner,email,name\nNorthwind,jo@northwind.example,Jo Bauer\n",
    "accounts": (
        "name,domains,aliases,parent,country,subdivision,city,postal_code,industry,employees,annual_revenue,"
        "type,sales_owner,account_manager,customer_success,named_account\n"
        "Acme Corp,acme.com;acme.io,Acme,,US,US-CA,San Jose,95113,Technology,1200,50000000,PROSPECT,,,,false\n"
        "Acme Labs,labs-acme.com,,acme.com,US,,,,,,,PROSPECT,,,,false\n"
    ),
    "opportunities": (
        "account,name,owner,status,amount,created_at\n"
        "fuzz-existing.com,Enterprise licence,,open,700000.99,2025-05-17T14:58:00Z\n"
    ),
    "leads": (
        "email,name,title,company,country,subdivision,city,postal_code,industry,employees,source,"
        "product_interest,requested_rep_email,received_at\n"
        "ann@fuzz-existing.com,Ann Lee,CTO,Fuzz Existing,US,NY,New York,10001,Software,40,event,crm,,"
        "2025-05-17T14:58:00Z\n"
    ),
}
IMPORTERS: dict[str, Callable[..., Any]] = {
    "reps": import_reps,
    "partners": import_partners,
    "accounts": import_accounts,
    "opportunities": import_opportunities,
    "leads": import_leads,
}
MODELS = (
    Rep,
    Partner,
    PartnerUser,
    Account,
    AccountDomain,
    AccountAlias,
    Opportunity,
    Lead,
    Ownership,
    OwnershipChange,
)
FORMULAS = ("=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1", '=HYPERLINK("http://x")')

# The long runs are for `make fuzz` (which sets LEADOWNER_FUZZ_LONG=1); `make test` runs the bounded ones.
LONG_RUN = pytest.mark.skipif(not os.environ.get("LEADOWNER_FUZZ_LONG"), reason="the long run: make fuzz")


def _snapshot() -> dict[str, list[tuple[Any, ...]]]:
    return {m.__name__: sorted(m.objects.values_list(), key=repr) for m in MODELS}  # type: ignore[attr-defined]


def _run_import(kind: str, data: bytes | str) -> None:
    """Import `data`: a whole import, or a refusal with row-level errors that changed nothing."""
    before = _snapshot()
    with transaction.atomic():
        try:
            IMPORTERS[kind](data, actor="fuzz", now=timezone.now())
        except ImportFailed as failed:
            assert failed.errors, "a refused file names its problems"
            for error in failed.errors:
                assert error.line >= 1 and isinstance(error.column, str) and error.message, error
            assert _snapshot() == before, "a refused file changed something"
        transaction.set_rollback(True)  # the next example starts from the same database


def _cells(kind: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(VALID[kind])))


def _to_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    # "\r\n": Python's writer then quotes a cell holding a lone "\r" (with "\n" it would not).
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


@st.composite
def damaged(draw: st.DrawFn, kind: str) -> bytes:
    """A valid file of `kind`, damaged in one or more of the ways real files are."""
    rows = _cells(kind)
    for _ in range(draw(st.integers(0, 3))):
        r = draw(st.integers(1, len(rows) - 1))
        c = draw(st.integers(0, len(rows[r]) - 1))
        rows[r][c] = draw(
            st.one_of(
                st.sampled_from(FORMULAS),
                st.text(max_size=40),
                st.text(min_size=10_001, max_size=10_050, alphabet="x"),  # over the field limit
                st.just(""),
                st.sampled_from(["-1", "1e9999", "NaN", "９９", "0x10", "2025-13-45T99:00:00Z", "a;;b", "x" * 300]),
            )
        )
    if draw(st.booleans()):
        rows.append(draw(st.lists(st.text(max_size=20), max_size=len(rows[0]) + 2)))  # a ragged row
    if draw(st.integers(0, 9)) == 0:
        rows[0] = draw(st.permutations(rows[0]))[: draw(st.integers(0, len(rows[0])))]  # a header that lost columns
    data = _to_csv(rows).encode("utf-8")
    how = draw(st.sampled_from(["as is", "truncated", "latin-1", "bad bytes", "bom", "nul", "crlf"]))
    if how == "truncated":
        data = data[: draw(st.integers(0, len(data)))]
    elif how == "latin-1":
        data = _to_csv(rows).replace("a", "é").encode("latin-1", errors="replace")
    elif how == "bad bytes":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    elif how == "bom":
        data = b"\xef\xbb\xbf" + data
    elif how == "nul":
        data = data.replace(b",", b"\x00,", 1)
    elif how == "crlf":
        data = data.replace(b"\n", b"\r\n")
    return data


def _with_an_account_for_opportunities() -> None:
    AccountFactory(name="Fuzz Existing", domains=["fuzz-existing.com"])


@pytest.mark.parametrize("kind", list(IMPORTERS))
def test_a_valid_file_imports(kind):
    _with_an_account_for_opportunities()
    report = IMPORTERS[kind](VALID[kind], actor="fuzz", now=timezone.now())
    assert report.created >= 1 and not report.errors


@pytest.mark.parametrize("kind", list(IMPORTERS))
def test_a_damaged_csv_file_gives_row_level_errors_and_imports_nothing(kind):
    _with_an_account_for_opportunities()

    @FUZZ
    @given(data=damaged(kind))
    def run(data: bytes) -> None:
        _run_import(kind, data)

    run()


@pytest.mark.parametrize("kind", list(IMPORTERS))
def test_random_bytes_give_row_level_errors_and_import_nothing(kind):
    @FUZZ
    @given(data=st.binary(max_size=2000) | st.text(max_size=500))
    def run(data: bytes | str) -> None:
        _run_import(kind, data)

    run()


@pytest.mark.parametrize("formula", FORMULAS)
def test_a_formula_in_a_text_cell_is_refused_at_its_line_and_nothing_is_imported(formula):
    rows = _cells("accounts")
    rows[2][0] = formula  # the name of the second account, on line 3
    with pytest.raises(ImportFailed) as refused:
        import_accounts(_to_csv(rows), now=timezone.now())
    assert [(e.line, e.column) for e in refused.value.errors] == [(3, "name")]
    assert not Account.objects.exists()


# Exports ------------------------------------------------------------------------------------


def _executable(cell: str, *, numeric: bool) -> bool:
    return bool(cell) and cell[0] in (NUMERIC_FORMULA_START if numeric else FORMULA_START)


def _assert_nothing_executes(text: str, numeric: tuple[str, ...]) -> list[dict[str, str]]:
    """Every cell of an export is safe to open; returns the rows as the importer reads them (unescaped)."""
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for row in rows:
        for column, cell in row.items():
            assert not _executable(cell, numeric=column in numeric), (column, cell)
            if column in numeric and cell.startswith("-"):
                float(cell)  # a negative number, never "-2+3"
    return [{k: unescape_cell(v, numeric=k in numeric) for k, v in row.items()} for row in rows]


text_cells = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=60
).filter(lambda s: s.strip() == s and s.strip())


def test_exports_never_write_a_cell_a_spreadsheet_would_execute_and_read_back_the_same():
    @FUZZ
    @given(name=st.one_of(st.sampled_from(FORMULAS).map(str.strip), text_cells), rep_name=text_cells)
    def run(name: str, rep_name: str) -> None:
        with transaction.atomic():
            rep = RepFactory(name=rep_name)
            account = AccountFactory(name=name, domains=["export-fuzz.com"])
            OpportunityFactory(account=account, name=name, owner=rep)
            PartnerUserFactory(name=rep_name, partner__name=name)
            accounts = _assert_nothing_executes(export_accounts(), ACCOUNTS_NUMERIC)
            assert [r["name"] for r in accounts] == [name]
            _assert_nothing_executes(export_opportunities(), ("amount",))
            reps = _assert_nothing_executes(export_reps(), REPS_NUMERIC)
            assert [r["name"] for r in reps] == [rep_name]
            _assert_nothing_executes(export_partners(), ())
            # Round trip: the escaped export imports back to exactly the stored text.
            exported = export_accounts()
            Account.objects.filter(pk=account.pk).update(name="placeholder")
            report = import_accounts(exported, now=timezone.now())
            assert Account.objects.get(pk=account.pk).name == name, report
            transaction.set_rollback(True)

    run()


def test_an_export_cell_with_a_lone_carriage_return_stays_in_its_row():
    """Found by the export fuzzer: csv's QUOTE_MINIMAL left a lone "\r" unquoted, so the rest of
    the cell became a row of its own, and a spreadsheet would run the "=cmd|..." after it."""
    AccountFactory(name="Acme\r=cmd|' /C calc'!A0", domains=["cr-acme.com"])
    RepFactory(name="Ann\rBee")
    accounts = _assert_nothing_executes(export_accounts(), ACCOUNTS_NUMERIC)
    assert [(r["name"], r["domains"]) for r in accounts] == [("Acme\r=cmd|' /C calc'!A0", "cr-acme.com")]
    assert [r["name"] for r in _assert_nothing_executes(export_reps(), REPS_NUMERIC)] == ["Ann\rBee"]


# territories.yaml ---------------------------------------------------------------------------

VALID_YAML = """\
calendar: US
policy:
  activity_window_days: 14
territories:
  - name: Enterprise EMEA
    priority: 10
    distribution: round_robin
    members: [ada@example.com]
    match:
      countries: [GB, DE]
      employees: {min: 2000}
"""
BILLION_LAUGHS = (
    "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n"
    + "".join(f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    + "territories:\n  - name: Bomb\n    members: *i\n    match: {countries: *i, cities: *i}\n"
)


def _run_yaml(text: str) -> None:
    before = (RuleSet.objects.count(), Territory.objects.count(), TerritoryMember.objects.count())
    with transaction.atomic():
        try:
            import_rule_set(text, actor="fuzz", now=timezone.now())
        except RuleSetInvalid as invalid:
            assert invalid.problems
            for problem in invalid.problems:
                assert problem.line is None or problem.line >= 1, problem
                assert problem.message, problem
            assert (RuleSet.objects.count(), Territory.objects.count(), TerritoryMember.objects.count()) == before
        transaction.set_rollback(True)


@st.composite
def damaged_yaml(draw: st.DrawFn) -> str:
    lines = VALID_YAML.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        change = draw(st.sampled_from(["drop", "dup", "indent", "replace", "truncate"]))
        if change == "drop":
            del lines[i]
        elif change == "dup":
            lines.insert(i, lines[i])
        elif change == "indent":
            lines[i] = " " * draw(st.integers(1, 3)) + lines[i]
        elif change == "replace":
            key = lines[i].split(":")[0]
            value = draw(
                st.one_of(
                    st.sampled_from(["[", "{", "*nope", "&a", "!!python/object:os.system", "~", "-1", "1e999"]),
                    st.sampled_from(FORMULAS),
                    st.text(max_size=30),
                )
            )
            lines[i] = f"{key}: {value}"
        else:
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        if not lines:
            break
    return "\n".join(lines)


def test_a_damaged_territories_yaml_gives_problems_with_lines_and_creates_nothing():
    RepFactory(email="ada@example.com")

    @FUZZ
    @given(text=damaged_yaml() | st.text(max_size=300))
    def run(text: str) -> None:
        _run_yaml(text)

    run()


def test_a_yaml_alias_bomb_is_refused_quickly_and_creates_nothing():
    import time

    started = time.monotonic()
    with pytest.raises(RuleSetInvalid):
        import_rule_set(BILLION_LAUGHS, actor="fuzz", now=timezone.now())
    assert time.monotonic() - started < 5
    assert not RuleSet.objects.exists()


def test_a_control_character_in_territories_yaml_is_a_problem_at_its_line_not_a_crash():
    """Found by the YAML fuzzer: PyYAML's ReaderError (not a MarkedYAMLError) escaped the parser."""
    with pytest.raises(RuleSetInvalid) as invalid:
        import_rule_set("calendar: US\nterritories:\n  - name: Bad\x1f\n", actor="fuzz", now=timezone.now())
    [problem] = invalid.value.problems
    assert problem.line == 3 and "#x001f is not allowed" in problem.message
    assert not RuleSet.objects.exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("!!python/object:os.system", "could not determine a constructor"),
        ("2025-13-45", "month must be in 1..12"),
        ("!!timestamp 'x'", "not valid YAML"),
        ("!!binary 'zz'", "failed to decode base64"),
    ],
)
def test_a_yaml_value_its_tag_cannot_build_is_a_problem_at_its_line_not_a_crash(value, expected):
    """Found by the YAML fuzzer: PyYAML's constructors raised out of the parser."""
    with pytest.raises(RuleSetInvalid) as invalid:
        import_rule_set(f"calendar: US\nnote: {value}\nterritories: []\n", actor="fuzz", now=timezone.now())
    assert any(p.line == 2 and expected in p.message for p in invalid.value.problems), invalid.value.problems
    assert not RuleSet.objects.exists()


def test_a_policy_window_longer_than_ten_years_is_refused():
    """Found by the YAML fuzzer: activity_window_days: 10**25 was stored, then overflowed every sweep."""
    text = "calendar: US\npolicy:\n  activity_window_days: 10000000000000000000000000\nterritories: []\n"
    with pytest.raises(RuleSetInvalid) as invalid:
        import_rule_set(text, actor="fuzz", now=timezone.now())
    assert any("at most 3,650" in p.message for p in invalid.value.problems), invalid.value.problems
    assert not RuleSet.objects.exists()


def test_a_python_tag_in_yaml_is_refused_never_constructed():
    with pytest.raises(RuleSetInvalid):
        import_rule_set("!!python/object/apply:os.system ['true']\n", actor="fuzz", now=timezone.now())
    assert not RuleSet.objects.exists()


@pytest.mark.slow
@LONG_RUN
@pytest.mark.parametrize("kind", list(IMPORTERS))
def test_fuzz_long_run_damaged_csv_files(kind):
    _with_an_account_for_opportunities()

    @settings(FUZZ, max_examples=LONG, derandomize=False)
    @given(data=damaged(kind) | st.binary(max_size=4000))
    def run(data: bytes) -> None:
        _run_import(kind, data)

    run()


@pytest.mark.slow
@LONG_RUN
def test_fuzz_long_run_damaged_yaml():
    RepFactory(email="ada@example.com")

    @settings(FUZZ, max_examples=LONG, derandomize=False)
    @given(text=damaged_yaml() | st.text(max_size=1000))
    def run(text: str) -> None:
        _run_yaml(text)

    run()

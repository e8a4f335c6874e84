"""The import_* / export_* / publish commands: every bad row printed, non-zero exit, nothing changed."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from routing.models import Account
from routing.selectors.exports import ACCOUNTS_COLUMNS, export_accounts
from territories.models import Rep, RuleSet
from territories.selectors import export_reps
from tests.factories import RepFactory
from tests.test_imports_reps import REPS
from tests.test_rule_sets import CANONICAL

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(*args: str) -> tuple[str, str]:
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(*args, stdout=io.StringIO(), stderr=err)
    return str(caught.value), err.getvalue()


def test_import_reps_command_imports_and_reports_counts(tmp_path):
    path = tmp_path / "reps.csv"
    path.write_text(REPS)
    out, _ = run("import_reps", str(path))
    assert out.strip() == "reps.csv: 5 created, 0 updated, 0 unchanged"
    assert Rep.objects.count() == 5


def test_an_import_command_prints_every_bad_row_and_fails_changing_nothing(tmp_path):
    path = tmp_path / "reps.csv"
    path.write_text(
        "email,name,role,manager_email,capacity,status,territories\n"
        "a@example.com,A,AE,,,ACTIVE,\n"
        "b@example.com,B,KING,,,ACTIVE,\n"
        "c@example.com,=1+1,AE,,x,ACTIVE,\n"
    )
    message, err = run_failing("import_reps", str(path))
    assert err.splitlines() == [
        "line 3: role: 'KING' is not one of SDR, AE, ACCOUNT_MANAGER, CUSTOMER_SUCCESS, MANAGER, REVOPS",
        "line 4: capacity: 'x' is not a whole number of 0 or more",
        "line 4: name: starts with '=', which a spreadsheet would run as a formula",
    ]
    assert message == "reps.csv: 3 errors, nothing was imported"
    assert Rep.objects.count() == 0


def test_an_import_command_reads_standard_input(monkeypatch):
    class Stdin:
        buffer = io.BytesIO(REPS.encode())

    monkeypatch.setattr("sys.stdin", Stdin())
    out, _ = run("import_reps", "-")
    assert out.strip() == "reps.csv: 5 created, 0 updated, 0 unchanged"


def test_an_import_command_reports_a_missing_file():
    message, _ = run_failing("import_accounts", "/nonexistent/accounts.csv")
    assert message.startswith("cannot read /nonexistent/accounts.csv")


def test_export_commands_write_the_import_format_to_stdout_or_a_file(tmp_path, now):
    RepFactory(email="x@example.com", name="X", capacity=None)
    out, _ = run("export_reps")
    assert out == export_reps()
    target = tmp_path / "reps.csv"
    run("export_reps", "--output", str(target))
    assert target.read_bytes() == export_reps().encode()


def test_a_large_import_shows_a_progress_bar_unless_told_not_to(tmp_path):
    rows = "".join(f"Co {i},co-{i}.com,,,US,,,,,,,PROSPECT,,,,false\n" for i in range(1200))
    path = tmp_path / "accounts.csv"
    path.write_text(",".join(ACCOUNTS_COLUMNS) + "\n" + rows)
    _, err = run("import_accounts", str(path))
    assert "checking" in err and "/1200" in err
    _, quiet = run("import_accounts", str(path), "--no-progress")
    assert quiet == ""
    assert Account.objects.count() == 1200
    assert run("export_accounts")[0] == export_accounts()


def test_import_territories_prints_the_new_draft_and_publish_publishes_it(tmp_path):
    for name in ("ada", "bo", "cy"):
        RepFactory(email=f"{name}@example.com")
    path = tmp_path / "territories.yaml"
    path.write_text(CANONICAL)
    out, _ = run("import_territories", str(path))
    assert out.startswith("draft v1: 4 territories, no problems")
    out, _ = run("publish_rule_set", "--version", "1")
    assert out.strip() == "published v1"
    run("import_territories", str(path))
    out, _ = run("publish_rule_set", "--version", "2")
    assert out.strip() == "published v2 (v1 archived)"
    assert run("export_territories")[0] == CANONICAL
    assert run("export_territories", "--version", "1")[0] == CANONICAL


def test_import_territories_prints_every_problem_with_its_line(tmp_path):
    path = tmp_path / "territories.yaml"
    path.write_text("territories:\n  - name: A\n    members: [ghost@example.com]\n    match: {countries: [XX]}\n")
    message, err = run_failing("import_territories", str(path))
    assert err.splitlines() == [
        "line 3: territory 'A': members: unknown rep ghost@example.com",
        "line 4: territory 'A': match.countries: unknown country 'XX' (use an ISO 3166-1 code such as US)",
    ]
    assert "nothing was imported" in message
    assert RuleSet.objects.count() == 0


def test_publish_of_a_missing_version_fails():
    message, _ = run_failing("publish_rule_set", "--version", "7")
    assert message == "there is no rule set v7"

"""opportunities.csv: upsert by (account, name), all-or-nothing, exact round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from leadowner.csvio import ImportFailed
from routing.models import Opportunity
from routing.selectors.exports import export_opportunities
from routing.services.imports import import_opportunities
from tests.factories import AccountFactory, OpportunityFactory, RepFactory

pytestmark = pytest.mark.django_db

HEADER = "account,name,owner,status,amount,created_at\n"
# Canonical: by account's first domain, then name.
OPPORTUNITIES = (
    HEADER
    + "darden.com,Olive Garden POS rollout,ada@example.com,open,250000.00,2025-02-01T09:30:00Z\n"
    + "darden.com,Renewal 2024,cy@example.com,won,1200000.50,2024-01-15T00:00:00Z\n"
    + 'ibm.com,"Pilot, phase 2",,lost,,2024-11-30T17:05:09Z\n'
)


@pytest.fixture
def book(db):
    RepFactory(email="ada@example.com")
    RepFactory(email="cy@example.com")
    return {
        "darden": AccountFactory(name="Darden Restaurants", domains=["darden.com"]),
        "ibm": AccountFactory(name="IBM", domains=["ibm.com", "ibm.co.uk"]),
    }


def test_a_good_opportunities_file_imports(book, now):
    report = import_opportunities(OPPORTUNITIES, now=now)
    assert report.created == 3
    pos = Opportunity.objects.get(name="Olive Garden POS rollout")
    assert (pos.account, pos.owner.email, pos.status, pos.amount) == (
        book["darden"],
        "ada@example.com",
        "OPEN",
        Decimal("250000.00"),
    )
    assert pos.created_at == datetime(2025, 2, 1, 9, 30, tzinfo=UTC)
    assert pos.closed_at is None
    pilot = Opportunity.objects.get(name="Pilot, phase 2")
    assert (pilot.owner, pilot.status, pilot.amount, pilot.closed_at) == (None, "LOST", None, now)


def test_opportunities_export_of_an_import_is_byte_exact(book, now):
    import_opportunities(OPPORTUNITIES, now=now)
    assert export_opportunities() == OPPORTUNITIES


def test_reimporting_opportunities_is_idempotent(book, now):
    import_opportunities(OPPORTUNITIES, now=now)
    report = import_opportunities(OPPORTUNITIES, now=now + timedelta(hours=1))
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert Opportunity.objects.count() == 3


def test_opportunities_are_updated_by_account_and_name(book, now):
    existing = OpportunityFactory(account=book["darden"], name="Renewal 2024", status="OPEN", amount=None)
    changed_at = now + timedelta(days=1)
    report = import_opportunities(OPPORTUNITIES, now=changed_at)
    assert (report.created, report.updated) == (2, 1)
    existing.refresh_from_db()
    assert (existing.status, existing.amount, existing.owner.email) == ("WON", Decimal("1200000.50"), "cy@example.com")
    assert existing.closed_at == changed_at


def test_any_domain_of_the_account_finds_it(book, now):
    import_opportunities(HEADER + "ibm.co.uk,Via second domain,,open,,2025-01-01\n", now=now)
    opportunity = Opportunity.objects.get(name="Via second domain")
    assert opportunity.account == book["ibm"]
    assert opportunity.created_at == datetime(2025, 1, 1, tzinfo=UTC)


def test_an_opportunities_file_with_a_bad_row_changes_nothing_and_names_the_line(book, now):
    bad = OPPORTUNITIES.replace("ibm.com,", "unknown-corp.com,")
    with pytest.raises(ImportFailed) as caught:
        import_opportunities(bad, now=now)
    assert [str(e) for e in caught.value.errors] == ["line 4: account: no account has the domain unknown-corp.com"]
    assert Opportunity.objects.count() == 0


def test_every_bad_opportunities_row_is_reported(book, now):
    bad = (
        HEADER
        + "darden.com,,ada@example.com,open,1,2025-01-01\n"
        + "darden.com,A,ghost@example.com,open,1,2025-01-01\n"
        + "darden.com,B,,pending,1,2025-01-01\n"
        + "darden.com,C,,open,12.345,2025-01-01\n"
        + "darden.com,D,,open,-4,2025-01-01\n"
        + "darden.com,E,,open,1,yesterday\n"
        + "darden.com,F,,open,1,2025-01-01\n"
        + "darden.com,F,,won,1,2025-01-01\n"
    )
    with pytest.raises(ImportFailed) as caught:
        import_opportunities(bad, now=now)
    assert [(e.line, e.column) for e in caught.value.errors] == [
        (2, "name"),
        (3, "owner"),
        (4, "status"),
        (5, "amount"),
        (6, "amount"),
        (7, "created_at"),
        (9, "name"),
    ]


def test_a_formula_cell_in_opportunities_is_refused(book, now):
    with pytest.raises(ImportFailed) as caught:
        import_opportunities(HEADER + "darden.com,+1-800-CALL,,open,,2025-01-01\n", now=now)
    assert (caught.value.errors[0].line, caught.value.errors[0].column) == (2, "name")


def test_a_mis_encoded_opportunities_file_is_refused_cleanly(book, now):
    data = HEADER.encode() + b"darden.com,Men\xfc,,open,,2025-01-01\n"
    with pytest.raises(ImportFailed) as caught:
        import_opportunities(data, now=now)
    assert str(caught.value.errors[0]) == "line 2: name: not valid UTF-8 (byte 0xfc); save the file as UTF-8"
    assert Opportunity.objects.count() == 0


def test_a_time_with_an_offset_is_stored_in_utc(book, now):
    import_opportunities(HEADER + "darden.com,Offset,,open,,2025-03-01T10:00:00+02:00\n", now=now)
    assert Opportunity.objects.get(name="Offset").created_at == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)

"""accounts.csv: upsert by first domain, owners with history, all-or-nothing, exact round trip."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leadowner.csvio import ImportFailed
from leadowner.errors import ErrorCode, ServiceError
from routing.models import Account, AccountAlias, AccountDomain, Ownership, OwnershipChange
from routing.selectors.exports import ACCOUNTS_COLUMNS, export_accounts
from routing.services.imports import import_accounts
from tests.factories import AccountFactory, OwnershipFactory, RepFactory

pytestmark = pytest.mark.django_db

HEADER = ",".join(ACCOUNTS_COLUMNS) + "\n"
# Canonical (by first domain). Olive Garden Canada names its parent on a later line.
ACCOUNTS = (
    HEADER + "Darden Restaurants,darden.com,Darden,,US,US-FL,Orlando,32837,Restaurants,190000,11400000000,CUSTOMER,"
    "ada@example.com,cy@example.com,,true\n"
    + '"Acme Widgets, Inc.",acme-widgets.com,,,GB,,London,EC1A,Manufacturing,,,PROSPECT,,,,false\n'
    + "International Business Machines,ibm.com;ibm.co.uk,IBM;Big Blue,,US,US-NY,Armonk,10504,Technology,"
    "280000,61000000000,CUSTOMER,,cy@example.com,dee@example.com,false\n"
    + "Olive Garden Canada,olivegarden.ca,,olivegarden.com,CA,CA-QC,Montréal,H3B,Restaurants,1200,,PROSPECT,"
    "bo@example.com,,,false\n"
    + "Olive Garden,olivegarden.com,,darden.com,US,US-FL,Orlando,32837,Restaurants,90000,,CUSTOMER,,,,false\n"
)


def canonical(text: str) -> str:
    """The rows sorted by first domain, as the export writes them."""
    header, *rows = text.splitlines(keepends=True)
    import csv

    return header + "".join(sorted(rows, key=lambda r: next(csv.reader([r]))[1].split(";")[0]))


@pytest.fixture
def reps(db):
    return {
        name: RepFactory(email=f"{name}@example.com", name=name.title()) for name in ("ada", "bo", "cy", "dee", "eve")
    }


def test_a_good_accounts_file_imports_accounts_domains_aliases_parents_and_owners(reps, now):
    report = import_accounts(ACCOUNTS, now=now)
    assert (report.created, report.updated, report.unchanged) == (5, 0, 0)
    ibm = AccountDomain.objects.get(domain="ibm.com").account
    assert ibm.normalized_name == "international business machines"
    assert list(ibm.domain_rows.values_list("domain", "position")) == [("ibm.com", 0), ("ibm.co.uk", 1)]
    assert list(AccountAlias.objects.filter(account=ibm).values_list("alias", "normalized_alias")) == [
        ("IBM", "ibm"),
        ("Big Blue", "big blue"),
    ]
    canada = AccountDomain.objects.get(domain="olivegarden.ca").account
    assert canada.parent.name == "Olive Garden"
    assert canada.parent.parent.name == "Darden Restaurants"
    assert (canada.country, canada.subdivision, canada.city) == ("CA", "CA-QC", "Montréal")
    darden = canada.parent.parent
    assert darden.named_account and darden.type == "CUSTOMER" and darden.annual_revenue == 11_400_000_000


def test_owner_columns_become_current_ownership_with_history(reps, now):
    import_accounts(ACCOUNTS, now=now)
    darden = AccountDomain.objects.get(domain="darden.com").account
    owners = {o.role: (o.rep.email, o.reason) for o in Ownership.objects.filter(account=darden, ended_at=None)}
    assert owners == {
        "SALES": ("ada@example.com", "NAMED_ACCOUNT"),
        "ACCOUNT_MANAGER": ("cy@example.com", "CUSTOMER_OWNER"),
    }
    history = OwnershipChange.objects.filter(account=darden).order_by("role")
    assert [(h.role, h.from_rep, h.to_rep.email, h.actor) for h in history] == [
        ("ACCOUNT_MANAGER", None, "cy@example.com", "import: accounts.csv"),
        ("SALES", None, "ada@example.com", "import: accounts.csv"),
    ]
    assert OwnershipChange.objects.count() == 5


def test_accounts_export_of_an_import_is_byte_exact(reps, now):
    import_accounts(ACCOUNTS, now=now)
    assert export_accounts() == canonical(ACCOUNTS)


def test_a_canonical_accounts_file_round_trips_exactly(reps, now):
    text = canonical(ACCOUNTS)
    import_accounts(text, now=now)
    assert export_accounts() == text


def test_reimporting_accounts_is_idempotent_and_writes_no_history(reps, now):
    import_accounts(ACCOUNTS, now=now)
    counts = (Account.objects.count(), AccountDomain.objects.count(), AccountAlias.objects.count())
    history = OwnershipChange.objects.count()
    report = import_accounts(ACCOUNTS, now=now + timedelta(days=1))
    assert (report.created, report.updated, report.unchanged) == (0, 0, 5)
    assert (Account.objects.count(), AccountDomain.objects.count(), AccountAlias.objects.count()) == counts
    assert OwnershipChange.objects.count() == history
    assert Ownership.objects.count() == 5


def test_a_reimport_that_changes_an_owner_ends_the_old_ownership_and_writes_history(reps, now):
    import_accounts(ACCOUNTS, now=now)
    later = now + timedelta(days=3)
    changed = ACCOUNTS.replace("ada@example.com,cy@example.com,,true", "eve@example.com,cy@example.com,,true")
    report = import_accounts(changed, now=later)
    assert (report.updated, report.unchanged) == (1, 4)
    darden = AccountDomain.objects.get(domain="darden.com").account
    old = Ownership.objects.get(account=darden, role="SALES", rep=reps["ada"])
    assert old.ended_at == later
    assert Ownership.objects.get(account=darden, role="SALES", ended_at=None).rep == reps["eve"]
    last = OwnershipChange.objects.filter(account=darden, role="SALES").order_by("-at").first()
    assert (last.from_rep, last.to_rep, last.at) == (reps["ada"], reps["eve"], later)


def test_an_empty_owner_cell_leaves_the_current_owner_alone(reps, now):
    account = AccountFactory(name="Acme Widgets, Inc.", domains=["acme-widgets.com"])
    OwnershipFactory(account=account, role="SALES", rep=reps["bo"], reason="TERRITORY", since=now)
    import_accounts(ACCOUNTS, now=now)
    assert Ownership.objects.get(account=account, ended_at=None).rep == reps["bo"]


def test_accounts_are_updated_by_their_first_domain(reps, now):
    account = AccountFactory(name="Old IBM", domains=["ibm.com", "ibm.net"], aliases=["Old"])
    report = import_accounts(ACCOUNTS, now=now)
    assert (report.created, report.updated) == (4, 1)
    account.refresh_from_db()
    assert (account.name, account.normalized_name) == (
        "International Business Machines",
        "international business machines",
    )
    assert list(account.domain_rows.values_list("domain", flat=True)) == ["ibm.com", "ibm.co.uk"]
    assert list(account.alias_rows.values_list("alias", flat=True)) == ["IBM", "Big Blue"]
    assert not AccountDomain.objects.filter(domain="ibm.net").exists()


def test_a_parent_may_be_an_account_already_in_the_database(reps, now):
    AccountFactory(name="Parent Co", domains=["parent-co.com"])
    import_accounts(HEADER + "Child,child-co.com,,parent-co.com,US,,,,,,,PROSPECT,,,,false\n", now=now)
    assert AccountDomain.objects.get(domain="child-co.com").account.parent.name == "Parent Co"


def test_an_accounts_file_with_one_bad_row_changes_nothing_and_names_the_line(reps, now):
    bad = ACCOUNTS.replace(
        "Olive Garden,olivegarden.com,,darden.com,US", "Olive Garden,olivegarden.com,,darden.com,Atlantis"
    )
    with pytest.raises(ImportFailed) as caught:
        import_accounts(bad, now=now)
    assert [str(e) for e in caught.value.errors] == [
        "line 6: country: unknown country 'Atlantis' (use an ISO 3166-1 code such as US)"
    ]
    assert Account.objects.count() == 0 and Ownership.objects.count() == 0 and OwnershipChange.objects.count() == 0


def test_every_bad_accounts_row_is_reported(reps, now):
    bad = (
        HEADER
        + "No Domain,,,,US,,,,,,,PROSPECT,,,,false\n"
        + "Free Mail,gmail.com,,,US,,,,,,,PROSPECT,,,,false\n"
        + "Bad Numbers,bad-numbers.com,,,US,,,,,lots,-5,PROSPECT,,,,maybe\n"
        + "Wrong Type,wrong-type.com,,,US,US-ZZ,,,,,,PARTNER,,,,false\n"
        + "Ghost Owner,ghost-owner.com,,,US,,,,,,,PROSPECT,ghost@example.com,,,false\n"
        + "Orphan,orphan.com,,nowhere.com,US,,,,,,,PROSPECT,,,,false\n"
        + "Twin,orphan.com,,,US,,,,,,,PROSPECT,,,,false\n"
    )
    with pytest.raises(ImportFailed) as caught:
        import_accounts(bad, now=now)
    assert [(e.line, e.column) for e in caught.value.errors] == [
        (2, "domains"),
        (3, "domains"),
        (4, "annual_revenue"),
        (4, "employees"),
        (4, "named_account"),
        (5, "subdivision"),
        (5, "type"),
        (6, "sales_owner"),
        (7, "parent"),
        (8, "domains"),
    ]
    assert "free-mail" in caught.value.errors[1].message
    assert caught.value.errors[-1].message == "orphan.com is also on line 7"
    assert Account.objects.count() == 0


def test_an_unknown_or_departed_owner_email_is_an_error(reps, now):
    RepFactory(email="gone@example.com", status="DEPARTED")
    bad = ACCOUNTS.replace("bo@example.com,,,false", "gone@example.com,,nobody@example.com,false")
    with pytest.raises(ImportFailed) as caught:
        import_accounts(bad, now=now)
    assert [str(e) for e in caught.value.errors] == [
        "line 5: customer_success: nobody@example.com is not a rep",
        "line 5: sales_owner: gone@example.com has departed",
    ]


def test_a_parent_cycle_is_an_error(reps, now):
    looped = (
        HEADER
        + "A,a-corp.com,,b-corp.com,US,,,,,,,PROSPECT,,,,false\n"
        + "B,b-corp.com,,c-corp.com,US,,,,,,,PROSPECT,,,,false\n"
        + "C,c-corp.com,,a-corp.com,US,,,,,,,PROSPECT,,,,false\n"
        + "D,d-corp.com,,a-corp.com,US,,,,,,,PROSPECT,,,,false\n"
    )
    with pytest.raises(ImportFailed) as caught:
        import_accounts(looped, now=now)
    assert [(e.line, e.column) for e in caught.value.errors] == [(2, "parent"), (3, "parent"), (4, "parent")]
    assert Account.objects.count() == 0


def test_a_parent_cycle_through_the_database_is_an_error(reps, now):
    top = AccountFactory(name="Top", domains=["top-corp.com"])
    AccountFactory(name="Middle", domains=["middle-corp.com"], parent=top)
    # Top would become a subsidiary of its own subsidiary.
    with pytest.raises(ImportFailed) as caught:
        import_accounts(HEADER + "Top,top-corp.com,,middle-corp.com,US,,,,,,,PROSPECT,,,,false\n", now=now)
    assert (caught.value.errors[0].line, caught.value.errors[0].column) == (2, "parent")
    top.refresh_from_db()
    assert top.parent is None


def test_an_account_cannot_be_its_own_parent(reps, now):
    with pytest.raises(ImportFailed) as caught:
        import_accounts(HEADER + "Self,self-corp.com;self.net,,self.net,US,,,,,,,PROSPECT,,,,false\n", now=now)
    assert str(caught.value.errors[0]) == "line 2: parent: an account cannot be its own parent"


def test_a_domain_of_another_account_is_an_error(reps, now):
    AccountFactory(name="Real IBM", domains=["ibm-real.com", "ibm.co.uk"])
    with pytest.raises(ImportFailed) as caught:
        import_accounts(ACCOUNTS, now=now)
    assert [str(e) for e in caught.value.errors] == [
        "line 4: domains: ibm.co.uk already belongs to another account (Real IBM)"
    ]


def test_a_domain_may_move_between_two_accounts_of_the_same_file(reps, now):
    AccountFactory(name="A", domains=["a-corp.com", "shared-brand.com"])
    AccountFactory(name="B", domains=["b-corp.com"])
    moved = (
        HEADER
        + "A,a-corp.com,,,US,,,,,,,PROSPECT,,,,false\n"
        + "B,b-corp.com;shared-brand.com,,,US,,,,,,,PROSPECT,,,,false\n"
    )
    report = import_accounts(moved, now=now)
    assert report.updated == 2
    assert AccountDomain.objects.get(domain="shared-brand.com").account.name == "B"


def test_a_formula_cell_in_accounts_is_refused(reps, now):
    bad = ACCOUNTS.replace("Olive Garden Canada,", "@SUM(1+1)*cmd|' /C calc'!A0,")
    with pytest.raises(ImportFailed) as caught:
        import_accounts(bad, now=now)
    assert (caught.value.errors[0].line, caught.value.errors[0].column) == (5, "name")
    assert "formula" in caught.value.errors[0].message
    assert Account.objects.count() == 0


def test_a_mis_encoded_accounts_file_is_refused_cleanly(reps, now):
    data = ACCOUNTS.encode("latin-1")  # Montréal is one byte in Latin-1, not UTF-8
    with pytest.raises(ImportFailed) as caught:
        import_accounts(data, now=now)
    assert [str(e) for e in caught.value.errors] == [
        "line 5: city: not valid UTF-8 (byte 0xe9); save the file as UTF-8"
    ]
    assert Account.objects.count() == 0


def test_a_subdivision_fills_in_its_country(reps, now):
    import_accounts(HEADER + "Quebec Co,quebec-co.com,,,,Quebec,,,,,,PROSPECT,,,,false\n", now=now)
    account = AccountDomain.objects.get(domain="quebec-co.com").account
    assert (account.country, account.subdivision) == ("CA", "CA-QC")


def test_a_concurrent_owner_change_makes_the_import_fail_with_conflict(reps, now, monkeypatch):
    import_accounts(ACCOUNTS, now=now)
    from routing.services import imports

    real = imports._existing_state

    def stale(ids):  # the owners read, then someone else ends one before the import writes
        state = real(ids)
        Ownership.objects.filter(rep=reps["ada"]).update(ended_at=now)
        return state

    monkeypatch.setattr(imports, "_existing_state", stale)
    changed = ACCOUNTS.replace("ada@example.com,cy@example.com,,true", "eve@example.com,cy@example.com,,true")
    with pytest.raises(ServiceError) as caught:
        import_accounts(changed, now=now)
    assert caught.value.code == ErrorCode.CONFLICT
    assert not Ownership.objects.filter(rep=reps["eve"]).exists()


def test_importing_many_accounts_takes_a_bounded_number_of_queries(reps, now, django_assert_max_num_queries):
    rows = [
        f"Company {i},company-{i}.com,Co {i},{'company-0.com' if i else ''},US,,,,,,,PROSPECT,"
        f"{'ada@example.com' if i % 2 else ''},,,false\n"
        for i in range(600)
    ]
    with django_assert_max_num_queries(40):
        report = import_accounts(HEADER + "".join(rows), now=now)
    assert report.created == 600
    assert Account.objects.filter(parent__isnull=False).count() == 599
    assert Ownership.objects.count() == 300 and OwnershipChange.objects.count() == 300

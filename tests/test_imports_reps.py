"""reps.csv and partners.csv: all-or-nothing imports, every bad row reported, exact round trips."""

from __future__ import annotations

import pytest

from leadowner.csvio import ImportFailed
from territories.models import Partner, PartnerUser, Rep
from territories.selectors import export_partners, export_reps
from territories.services import import_partners, import_reps
from tests.factories import ManagerFactory, RepFactory

pytestmark = pytest.mark.django_db

HEADER = "email,name,role,manager_email,capacity,status,territories\n"
# Canonical: sorted by email, as the export writes it. The VP comes after her reports.
REPS = (
    HEADER
    + "ada@example.com,Ada Lovelace,AE,vp@example.com,40,ACTIVE,US East;US East - NYC\n"
    + "bo@example.com,Bo Diddley,SDR,ada@example.com,,OUT_OF_OFFICE,\n"
    + 'cy@example.com,"Cy Young, Jr.",ACCOUNT_MANAGER,vp@example.com,25,DEPARTED,US West\n'
    + "rita@example.com,Rita RevOps,REVOPS,,,ACTIVE,\n"
    + "vp@example.com,Val Price,MANAGER,,,ACTIVE,\n"
)
PARTNERS = (
    "partner,email,name\n"
    + "Acme Resellers,jo@acme-resellers.example,Jo Reseller\n"
    + "Acme Resellers,max@acme-resellers.example,Max Reseller\n"
    + "Zeta Channel,zed@zeta.example,Zed Z\n"
)


def test_a_good_reps_file_imports_with_managers_capacity_and_territories(now):
    report = import_reps(REPS, actor="test", now=now)
    assert (report.created, report.updated, report.unchanged) == (5, 0, 0)
    ada = Rep.objects.get(email="ada@example.com")
    assert ada.manager is not None and ada.manager.email == "vp@example.com"
    assert ada.capacity == 40
    assert ada.territory_names == ["US East", "US East - NYC"]
    assert Rep.objects.get(email="bo@example.com").capacity is None
    cy = Rep.objects.get(email="cy@example.com")
    assert cy.status == "DEPARTED" and cy.departed_at == now


def test_a_manager_later_in_the_same_file_is_found(now):
    # ada's manager vp@ is on a later line: the import is order-independent.
    import_reps(REPS, actor="test", now=now)
    assert Rep.objects.get(email="bo@example.com").manager.email == "ada@example.com"


def test_reps_export_of_an_import_is_byte_exact(now):
    import_reps(REPS, actor="test", now=now)
    assert export_reps() == REPS


def test_reimporting_reps_is_idempotent(now):
    import_reps(REPS, actor="test", now=now)
    ids = dict(Rep.objects.values_list("email", "id"))
    report = import_reps(REPS, actor="test", now=now)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 5)
    assert dict(Rep.objects.values_list("email", "id")) == ids


def test_reps_import_upserts_by_email(now):
    RepFactory(email="ada@example.com", name="Old Name", role="SDR", capacity=1)
    report = import_reps(REPS, actor="test", now=now)
    assert (report.created, report.updated) == (4, 1)
    ada = Rep.objects.get(email="ada@example.com")
    assert (ada.name, ada.role, ada.capacity) == ("Ada Lovelace", "AE", 40)


def test_a_reps_file_with_one_bad_row_changes_nothing_and_names_the_line(now):
    bad = REPS.replace("bo@example.com,Bo Diddley,SDR", "bo@example.com,Bo Diddley,WIZARD")
    with pytest.raises(ImportFailed) as caught:
        import_reps(bad, actor="test", now=now)
    assert [str(e) for e in caught.value.errors] == [
        "line 3: role: 'WIZARD' is not one of SDR, AE, ACCOUNT_MANAGER, CUSTOMER_SUCCESS, MANAGER, REVOPS"
    ]
    assert Rep.objects.count() == 0


def test_every_bad_reps_row_is_reported(now):
    bad = (
        HEADER
        + "not-an-email,A,AE,,,ACTIVE,\n"
        + "b@example.com,,AE,,,ACTIVE,\n"
        + "c@example.com,C,AE,,lots,ACTIVE,\n"
        + "d@example.com,D,AE,,,ASLEEP,\n"
        + "e@example.com,E,AE,,-3,ACTIVE,\n"
        + "e@example.com,E again,AE,,,ACTIVE,\n"
    )
    with pytest.raises(ImportFailed) as caught:
        import_reps(bad, actor="test", now=now)
    assert [(e.line, e.column) for e in caught.value.errors] == [
        (2, "email"),
        (3, "name"),
        (4, "capacity"),
        (5, "status"),
        (6, "capacity"),
        (7, "email"),
    ]


def test_an_unknown_manager_is_an_error(now):
    with pytest.raises(ImportFailed) as caught:
        import_reps(HEADER + "a@example.com,A,AE,ghost@example.com,,ACTIVE,\n", actor="test", now=now)
    assert str(caught.value.errors[0]) == "line 2: manager_email: ghost@example.com is not a rep (here or already)"


def test_a_manager_already_in_the_database_is_found(now):
    ManagerFactory(email="boss@example.com")
    import_reps(HEADER + "a@example.com,A,AE,boss@example.com,,ACTIVE,\n", actor="test", now=now)
    assert Rep.objects.get(email="a@example.com").manager.email == "boss@example.com"


def test_a_manager_cycle_is_an_error_and_nothing_is_written(now):
    looped = (
        HEADER
        + "a@example.com,A,AE,b@example.com,,ACTIVE,\n"
        + "b@example.com,B,MANAGER,c@example.com,,ACTIVE,\n"
        + "c@example.com,C,MANAGER,a@example.com,,ACTIVE,\n"
        + "d@example.com,D,AE,a@example.com,,ACTIVE,\n"
    )
    with pytest.raises(ImportFailed) as caught:
        import_reps(looped, actor="test", now=now)
    assert [(e.line, e.column) for e in caught.value.errors] == [
        (2, "manager_email"),
        (3, "manager_email"),
        (4, "manager_email"),
    ]
    assert "a@example.com -> b@example.com -> c@example.com -> a@example.com" in caught.value.errors[0].message
    assert Rep.objects.count() == 0


def test_a_cycle_through_a_rep_already_in_the_database_is_an_error(now):
    boss = ManagerFactory(email="boss@example.com")
    RepFactory(email="a@example.com", manager=boss)
    # boss now reports to a, who reports to boss.
    with pytest.raises(ImportFailed) as caught:
        import_reps(HEADER + "boss@example.com,Boss,MANAGER,a@example.com,,ACTIVE,\n", actor="test", now=now)
    assert caught.value.errors[0].column == "manager_email"
    assert Rep.objects.get(email="boss@example.com").manager is None


def test_a_rep_cannot_manage_themselves(now):
    with pytest.raises(ImportFailed) as caught:
        import_reps(HEADER + "a@example.com,A,AE,a@example.com,,ACTIVE,\n", actor="test", now=now)
    assert caught.value.errors[0].message == "a rep cannot be their own manager"


def test_a_formula_cell_in_reps_is_refused(now):
    with pytest.raises(ImportFailed) as caught:
        import_reps(HEADER + 'a@example.com,"=HYPERLINK(""http://x"")",AE,,,ACTIVE,\n', actor="test", now=now)
    assert (caught.value.errors[0].line, caught.value.errors[0].column) == (2, "name")
    assert Rep.objects.count() == 0


def test_a_mis_encoded_reps_file_is_refused_cleanly(now):
    data = (HEADER + "a@example.com,Andr").encode() + b"\xe9,AE,,,ACTIVE,\n"
    with pytest.raises(ImportFailed) as caught:
        import_reps(data, actor="test", now=now)
    assert str(caught.value.errors[0]) == "line 2: name: not valid UTF-8 (byte 0xe9); save the file as UTF-8"
    assert Rep.objects.count() == 0


def test_a_formula_name_written_by_another_path_is_exported_safely(now):
    RepFactory(email="x@example.com", name="=cmd|' /C calc'!A0", role="AE", capacity=None)
    text = export_reps()
    assert ",'=cmd" in text
    Rep.objects.all().delete()
    import_reps(text, actor="test", now=now)
    assert Rep.objects.get(email="x@example.com").name == "=cmd|' /C calc'!A0"


# --- partners.csv ---------------------------------------------------------------------------


def test_a_good_partners_file_creates_partners_and_their_users(now):
    report = import_partners(PARTNERS, actor="test", now=now)
    assert report.created == 3
    assert sorted(Partner.objects.values_list("name", flat=True)) == ["Acme Resellers", "Zeta Channel"]
    assert PartnerUser.objects.get(email="max@acme-resellers.example").partner.name == "Acme Resellers"


def test_partners_export_of_an_import_is_byte_exact(now):
    import_partners(PARTNERS, actor="test", now=now)
    assert export_partners() == PARTNERS


def test_reimporting_partners_is_idempotent(now):
    import_partners(PARTNERS, actor="test", now=now)
    report = import_partners(PARTNERS, actor="test", now=now)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert PartnerUser.objects.count() == 3 and Partner.objects.count() == 2


def test_a_partners_file_with_a_bad_row_changes_nothing(now):
    bad = PARTNERS + "Zeta Channel,not-an-email,Nobody\n" + ",x@y.example,Orphan\n"
    with pytest.raises(ImportFailed) as caught:
        import_partners(bad, actor="test", now=now)
    assert [str(e) for e in caught.value.errors] == [
        "line 5: email: 'not-an-email' is not an email address",
        "line 6: partner: is required",
    ]
    assert Partner.objects.count() == 0 and PartnerUser.objects.count() == 0


def test_a_partner_user_is_updated_by_email(now):
    import_partners(PARTNERS, actor="test", now=now)
    moved = PARTNERS.replace("Zeta Channel,zed@zeta.example,Zed Z", "Acme Resellers,zed@zeta.example,Zed Zulu")
    report = import_partners(moved, actor="test", now=now)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    zed = PartnerUser.objects.get(email="zed@zeta.example")
    assert (zed.partner.name, zed.name) == ("Acme Resellers", "Zed Zulu")

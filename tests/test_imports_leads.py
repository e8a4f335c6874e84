"""leads.csv: every row checked first (all-or-nothing), then every lead routed at entry as submitLead routes it."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from leadowner.actors import Actor
from leadowner.csvio import ImportFailed
from leadowner.errors import ServiceError
from routing.models import Lead, Ownership, OwnershipChange
from routing.services.lead_imports import import_leads
from routing.services.leads import LeadData, submit_lead
from tests.factories import (
    AccountFactory,
    OwnershipFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
HEADER = (
    "email,name,title,company,country,subdivision,city,postal_code,industry,employees,"
    "source,product_interest,requested_rep_email,received_at\n"
)


@pytest.fixture
def world():
    rule_set = RuleSetFactory(status="PUBLISHED")
    us = TerritoryFactory(rule_set=rule_set, name="US", criteria={"countries": ["US"]})
    reps = [RepFactory(name=f"Uma {i}", email=f"uma{i}@example.com") for i in range(2)]
    for position, rep in enumerate(reps):
        TerritoryMemberFactory(territory=us, rep=rep, position=position)
    ibm = AccountFactory(name="International Business Machines", domains=["ibm.com"], aliases=["IBM"])
    owner = RepFactory(name="Nora Named", email="nora@example.com")
    OwnershipFactory(account=ibm, rep=owner, role="SALES", reason="NAMED_ACCOUNT")
    return {"reps": reps, "ibm": ibm, "owner": owner}


def test_a_leads_file_routes_every_lead_and_attaches_repeats(world):
    data = (
        HEADER
        + "ann@ibm.com,Ann,CTO,,US,,,,,,,,,2025-06-01T10:00:00Z\n"
        + "bo@gmail.com,Bo,,IBM,,,,,,,event,,,\n"
        + "cy@startup.example,Cy,,Startup Widgets,United States,NY,New York,,Software,40,,crm,,2025-06-02\n"
        + "di@startup2.example,Di,,Other Widgets,US,,,,,,,,,\n"
        + "ANN@ibm.com,Ann again,,,,,,,,,,,,2025-06-01T10:20:00Z\n"
    )
    report = import_leads(data, now=NOW)
    assert (report.created, report.unchanged) == (4, 1)
    assert str(report).startswith("4 leads routed (")
    leads = {lead.email: lead for lead in Lead.objects.all()}
    assert set(leads) == {"ann@ibm.com", "bo@gmail.com", "cy@startup.example", "di@startup2.example"}
    assert leads["ann@ibm.com"].decision["step"] == "NAMED_ACCOUNT"
    assert leads["ann@ibm.com"].account == world["ibm"]
    assert leads["bo@gmail.com"].account == world["ibm"]  # free mail, matched by the alias
    assert leads["bo@gmail.com"].source == "EVENT"
    assert leads["cy@startup.example"].source == "IMPORT"
    assert leads["cy@startup.example"].received_at == datetime(2025, 6, 2, tzinfo=UTC)
    assert leads["cy@startup.example"].subdivision == "US-NY"
    assert leads["di@startup2.example"].received_at == NOW  # no received_at: the time of the import
    # The two unknown US companies went round robin, one each.
    territory_owners = {leads[e].decision["owner"]["rep_id"] for e in ("cy@startup.example", "di@startup2.example")}
    assert territory_owners == {r.pk for r in world["reps"]}
    assert Ownership.objects.filter(lead__isnull=False, ended_at__isnull=True).count() == 4
    assert OwnershipChange.objects.filter(lead__isnull=False, actor="routing").count() == 4
    assert leads["ann@ibm.com"].decision["trace"][0] == "received: from import: leads.csv (IMPORT)"


def test_a_file_with_bad_rows_reports_every_one_and_writes_nothing(world):
    data = (
        HEADER
        + "good@ibm.com,,,,,,,,,,,,,\n"
        + "not-an-email,,,,,,,,,,,,,\n"
        + ",,,No Email Co,,,,,,,,,,\n"
        + "x@ibm.com,,,,Narnia,,,,,many,pigeon,,,yesterday\n"
        + "y@ibm.com,,,,,,,,,,,,not an email,2999-01-01T00:00:00Z\n"
    )
    with pytest.raises(ImportFailed) as caught:
        import_leads(data, now=NOW)
    found = [(e.line, e.column) for e in caught.value.errors]
    assert found == [
        (3, "email"),
        (4, "email"),
        (5, "country"),
        (5, "employees"),
        (5, "received_at"),
        (5, "source"),
        (6, "received_at"),
        (6, "requested_rep_email"),
    ]
    assert "nothing was imported" in caught.value.message
    assert not Lead.objects.exists()


def test_loading_the_same_file_again_routes_nothing_twice(world):
    data = HEADER + "ann@ibm.com,,,,,,,,,,,,,2025-06-01T10:00:00Z\ncy@startup.example,,,Startup,US,,,,,,,,,\n"
    import_leads(data, now=NOW)
    again = import_leads(data, now=NOW + timedelta(minutes=5))
    assert (again.created, again.unchanged) == (0, 2)
    assert Lead.objects.count() == 2
    assert Ownership.objects.filter(lead__isnull=False).count() == 2


def test_a_lead_already_submitted_is_not_imported_again(world):
    submitted, _ = submit_lead(data=LeadData(email="ann@ibm.com"), actor=Actor.system_actor("web"), now=NOW)
    report = import_leads(HEADER + "ann@ibm.com,,,,,,,,,,,,,\n", now=NOW + timedelta(minutes=10))
    assert (report.created, report.unchanged) == (0, 1)
    assert list(Lead.objects.values_list("pk", flat=True)) == [submitted.pk]


def test_chunks_route_like_one_batch(world):
    rows = "".join(f"p{i}@co{i}.example,,,Company {i},US,,,,,,,,,\n" for i in range(9))
    report = import_leads(HEADER + rows, now=NOW, chunk=4)
    assert report.created == 9
    owners = list(Lead.objects.order_by("pk").values_list("decision__owner__rep_id", flat=True))
    first, second = (r.pk for r in world["reps"])
    assert owners == [first, second] * 4 + [first]  # the rotation carries on across chunks


def test_the_command_prints_the_report_and_every_bad_row(world, tmp_path):
    good = tmp_path / "leads.csv"
    good.write_text(HEADER + "ann@ibm.com,,,,,,,,,,,,,\n")
    out = io.StringIO()
    call_command("import_leads", str(good), "--no-progress", stdout=out)
    assert "leads.csv: 1 leads routed (named_account 1), 0 attached" in out.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "nope,,,,,,,,,,,,,\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 error, nothing was imported"):
        call_command("import_leads", str(bad), "--no-progress", stderr=err)
    assert "line 2: email: 'nope' is not an email address" in err.getvalue()


def test_values_the_columns_cannot_hold_are_reported_not_written(world):
    long_email = "a" * 250 + "@ibm.com"
    data = (
        HEADER
        + f"{long_email},,,,,,,,,,,,,\n"
        + "ok@ibm.com,,,{},,,,,,,,,,\n".format("ß" * 300)
        + "old@ibm.com,,,,,,,,,,,,,0001-01-01\n"
        + "rep@ibm.com,,,,,,,,,,,,{},\n".format("r" * 250 + "@example.com")
    )
    with pytest.raises(ImportFailed) as caught:
        import_leads(data, now=NOW)
    assert [(e.line, e.column) for e in caught.value.errors] == [
        (2, "email"),
        (3, "company"),
        (4, "received_at"),
        (5, "requested_rep_email"),
    ]
    assert "once normalised" in caught.value.errors[1].message
    assert not Lead.objects.exists()


def test_a_chunk_that_fails_to_write_names_the_line_it_stopped_at(world, monkeypatch):
    from django.db import DatabaseError

    from routing.services import lead_imports

    real = lead_imports.submit_clean_leads
    calls = []

    def second_chunk_fails(leads, **kwargs):
        calls.append(len(leads))
        if len(calls) == 2:
            raise DatabaseError("server closed the connection unexpectedly")
        return real(leads, **kwargs)

    monkeypatch.setattr(lead_imports, "submit_clean_leads", second_chunk_fails)
    rows = "".join(f"p{i}@co{i}.example,,,Company {i},US,,,,,,,,,\n" for i in range(5))
    with pytest.raises(ServiceError) as caught:
        import_leads(HEADER + rows, now=NOW, chunk=2)
    assert "routing stopped at line 4 (server closed the connection unexpectedly); the 2 leads before" in (
        caught.value.message
    )
    assert Lead.objects.count() == 2
    monkeypatch.setattr(lead_imports, "submit_clean_leads", real)
    again = import_leads(HEADER + rows, now=NOW + timedelta(minutes=1), chunk=2)
    assert (again.created, again.unchanged) == (3, 2)

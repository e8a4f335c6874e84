"""A partner user sees their partner's world only: another partner's data is indistinguishable from missing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from routing.models import Ownership, OwnershipChange
from tests.factories import (
    AccountFactory,
    DealRegistrationFactory,
    DisputeFactory,
    LeadFactory,
    OwnershipFactory,
    PartnerFactory,
    PartnerUserFactory,
    RepFactory,
    TerritoryFactory,
)
from tests.graphql_support import assert_no_errors, gql, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(now):
    """Partner A registered `ours`; partner B registered and owns `theirs`; B once owned `ours` too."""
    a, b = PartnerFactory(name="Alpha Resellers"), PartnerFactory(name="Beta Partners")
    holding = AccountFactory(name="Holding Group", domains=["holding.example"])
    ours = AccountFactory(name="Ours Ltd", domains=["ours.example"], parent=holding)
    theirs = AccountFactory(name="Theirs Ltd", domains=["theirs.example"])
    DealRegistrationFactory(partner=a, account=ours, status="PENDING")
    DealRegistrationFactory(partner=b, account=theirs, status="APPROVED")
    rep = RepFactory(name="Direct Rep")
    OwnershipFactory(account=ours, role="SALES", rep=rep)
    Ownership.objects.create(account=ours, role="PARTNER", partner=b, reason="DEAL_REGISTRATION", since=now)
    Ownership.objects.create(account=theirs, role="PARTNER", partner=b, reason="DEAL_REGISTRATION", since=now)
    OwnershipChange.objects.create(
        at=now - timedelta(days=2), account=ours, role="SALES", to_rep=rep, reason="territory", actor="routing"
    )
    OwnershipChange.objects.create(
        at=now - timedelta(days=1), account=ours, role="PARTNER", to_partner=b, reason="beta approved", actor="x"
    )
    OwnershipChange.objects.create(
        at=now - timedelta(days=3), account=ours, role="PARTNER", from_partner=a, reason="alpha expired", actor="x"
    )
    OwnershipChange.objects.create(
        at=now, account=theirs, role="PARTNER", to_partner=b, reason="beta approved", actor="x"
    )
    token = token_for(partner_user=PartnerUserFactory(partner=a))
    return {"a": a, "b": b, "ours": ours, "theirs": theirs, "holding": holding, "rep": rep, "token": token}


def test_partner_gets_null_for_an_account_of_another_partner(world):
    for account in (world["theirs"], world["holding"]):
        data = assert_no_errors(
            gql("query($id: ID!) { account(id: $id) { id name } }", {"id": str(account.pk)}, token=world["token"])
        )
        assert data == {"account": None}


def test_partner_reads_an_account_they_registered(world):
    data = assert_no_errors(
        gql("query($id: ID!) { account(id: $id) { name } }", {"id": str(world["ours"].pk)}, token=world["token"])
    )
    assert data == {"account": {"name": "Ours Ltd"}}


def test_partner_lists_only_accounts_with_their_registrations(world):
    data = assert_no_errors(gql("{ accounts { totalCount edges { node { name } } } }", token=world["token"]))
    assert data["accounts"] == {"totalCount": 1, "edges": [{"node": {"name": "Ours Ltd"}}]}
    data = assert_no_errors(gql('{ accounts(search: "theirs") { totalCount } }', token=world["token"]))
    assert data["accounts"]["totalCount"] == 0


def test_partner_does_not_see_another_partner_among_owners(world):
    data = assert_no_errors(
        gql(
            "query($id: ID!) { account(id: $id) { owners { role rep { name } partner { name } } } }",
            {"id": str(world["ours"].pk)},
            token=world["token"],
        )
    )
    # Neither the other partner nor the direct rep: partner users see nothing of the direct pipeline.
    assert data["account"]["owners"] == []


def test_partner_does_not_see_the_parent_of_their_account_when_it_is_not_theirs(world):
    data = assert_no_errors(
        gql(
            "query($id: ID!) { account(id: $id) { parent { name } ultimateParent { name } } }",
            {"id": str(world["ours"].pk)},
            token=world["token"],
        )
    )
    assert data == {"account": {"parent": None, "ultimateParent": None}}


def test_partner_history_leaves_out_changes_naming_another_partner(world):
    data = assert_no_errors(
        gql(
            """query($id: ID!) { account(id: $id) {
                history { totalCount edges { node { reason toPartner { name } } } } } }""",
            {"id": str(world["ours"].pk)},
            token=world["token"],
        )
    )
    assert data["account"]["history"] == {
        "totalCount": 1,
        "edges": [{"node": {"reason": "alpha expired", "toPartner": None}}],
    }


def test_partner_history_in_a_list_leaves_out_changes_naming_another_partner(world):
    data = assert_no_errors(
        gql(
            "{ accounts { edges { node { history { totalCount edges { node { reason } } } } } } }", token=world["token"]
        )
    )
    assert data["accounts"]["edges"] == [
        {"node": {"history": {"totalCount": 1, "edges": [{"node": {"reason": "alpha expired"}}]}}}
    ]


def test_owner_lookup_by_a_partner_hides_an_account_of_another_partner(world):
    query = """query($d: String) { ownerOf(domain: $d) {
        account { name } owners { role partner { name } } match { method account { name } } } }"""
    data = assert_no_errors(gql(query, {"d": "theirs.example"}, token=world["token"]))["ownerOf"]
    assert data["account"] is None
    assert data["owners"] == []
    assert data["match"]["account"] is None and data["match"]["method"] == "NONE"
    by_id = assert_no_errors(
        gql(
            "query($id: ID) { ownerOf(accountId: $id) { account { name } match { account { name } } } }",
            {"id": str(world["theirs"].pk)},
            token=world["token"],
        )
    )["ownerOf"]
    assert by_id == {"account": None, "match": {"account": None}}


def test_owner_lookup_by_a_partner_on_their_account_hides_the_other_partner(world):
    query = """query($d: String) { ownerOf(domain: $d) {
        account { name } owners { role rep { name } partner { name } } match { account { name } } } }"""
    data = assert_no_errors(gql(query, {"d": "ours.example"}, token=world["token"]))["ownerOf"]
    assert data["account"] == {"name": "Ours Ltd"}
    assert data["match"]["account"] == {"name": "Ours Ltd"}
    assert data["owners"] == []


def test_partner_sees_only_their_partners_deal_registrations(world):
    data = assert_no_errors(
        gql(
            "{ dealRegistrations { totalCount edges { node { partner { name } account { name } } } } }",
            token=world["token"],
        )
    )
    assert data["dealRegistrations"] == {
        "totalCount": 1,
        "edges": [{"node": {"partner": {"name": "Alpha Resellers"}, "account": {"name": "Ours Ltd"}}}],
    }


def test_partner_sees_no_leads_reps_territories_or_disputes(world):
    lead = LeadFactory(account=world["ours"])
    TerritoryFactory()
    DisputeFactory(account=world["ours"])
    query = """query($id: ID!) { lead(id: $id) { id } leads { totalCount } reps { id } territories { id }
        disputes { totalCount } me { id } }"""
    data = assert_no_errors(gql(query, {"id": str(lead.pk)}, token=world["token"]))
    assert data == {
        "lead": None,
        "leads": {"totalCount": 0},
        "reps": [],
        "territories": [],
        "disputes": {"totalCount": 0},
        "me": None,
    }


def test_a_rep_sees_every_account_and_every_owner(world):
    token = token_for(rep=RepFactory())
    data = assert_no_errors(
        gql(
            "query($d: String) { accounts { totalCount } ownerOf(domain: $d) { owners { role partner { name } } } }",
            {"d": "ours.example"},
            token=token,
        )
    )
    assert data["accounts"]["totalCount"] == 3
    assert {"role": "PARTNER", "partner": {"name": "Beta Partners"}} in data["ownerOf"]["owners"]

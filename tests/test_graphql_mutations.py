"""Mutations over HTTP with tokens: each one's happy path, its main refusals as typed UserErrors, and no write
when it refuses."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils.dateparse import parse_datetime

from disputes.models import Dispute
from routing.models import Activity, DealRegistration, Lead, Ownership, OwnershipChange
from territories.models import Rep
from tests.factories import (
    AccountFactory,
    DealRegistrationFactory,
    DisputeFactory,
    LeadFactory,
    ManagerFactory,
    OwnershipFactory,
    PartnerFactory,
    PartnerUserFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)
from tests.graphql_support import error_codes, gql, payload_of, token_for, user_error_codes

pytestmark = pytest.mark.django_db


class Org:
    """RevOps at the top; a manager with two reps; another manager with one rep; a US round-robin territory."""

    def __init__(self) -> None:
        self.revops = RepFactory(name="Rex RevOps", role="REVOPS")
        self.manager = ManagerFactory(name="Mia Manager", manager=self.revops)
        self.rep = RepFactory(name="Rita Rep", manager=self.manager)
        self.teammate = RepFactory(name="Tom Teammate", manager=self.manager)
        self.other_manager = ManagerFactory(name="Olga Other", manager=self.revops)
        self.other_rep = RepFactory(name="Oscar Other", manager=self.other_manager)
        self.rule_set = RuleSetFactory(status="PUBLISHED", policy={"claim_days": 30, "registration_days": 90})
        self.us = TerritoryFactory(rule_set=self.rule_set, name="US", criteria={"countries": ["US"]})
        for i, member in enumerate((self.rep, self.teammate)):
            TerritoryMemberFactory(territory=self.us, rep=member, position=i)

    def token(self, rep: Rep) -> str:
        return token_for(rep=rep)


@pytest.fixture
def org() -> Org:
    return Org()


def _owned_lead(rep: Rep, **fields: Any) -> Lead:
    lead = LeadFactory(**fields)
    Ownership.objects.create(lead=lead, role="SALES", rep=rep, reason="TERRITORY", since=lead.received_at)
    return lead


def _when(value: str) -> datetime:
    parsed = parse_datetime(value)
    assert parsed is not None, value
    return parsed


# submitLead -------------------------------------------------------------------------------------

SUBMIT = """mutation($input: LeadInput!) { submitLead(input: $input) {
    lead { id email name stage source owner { role rep { name } } account { name } }
    decision { step ruleSetVersion trace owner { role reason rep { name } } territory { name }
               match { method account { name } } }
    errors { field code message } } }"""


def test_submit_lead_routes_the_lead_and_answers_its_owner_and_the_decision(org):
    body = gql(
        SUBMIT,
        {"input": {"email": "Jane@NewCo.example", "name": "Jane", "country": "United States", "source": "EVENT"}},
        token=org.token(org.manager),
    )
    payload = payload_of(body, "submitLead")
    assert payload["errors"] == []
    decision = payload["decision"]
    assert (decision["step"], decision["territory"], decision["ruleSetVersion"]) == (
        "TERRITORY",
        {"name": "US"},
        org.rule_set.version,
    )
    assert decision["owner"] == {"role": "SALES", "reason": "TERRITORY", "rep": {"name": "Rita Rep"}}
    assert decision["trace"], "a decision explains itself"
    lead = payload["lead"]
    assert (lead["email"], lead["name"], lead["stage"], lead["source"]) == (
        "jane@newco.example",
        "Jane",
        "NEW",
        "EVENT",
    )
    assert lead["owner"] == {"role": "SALES", "rep": {"name": "Rita Rep"}}
    stored = Lead.objects.get(pk=lead["id"])
    assert stored.country == "US"
    assert Ownership.objects.get(lead=stored, ended_at__isnull=True).rep == org.rep


def test_submit_lead_answers_with_the_rep_and_territory_routing_loaded_without_reading_them_again(org):
    """The decision's rep and territory come from what routing loaded (routing.graphql_types.prime_choice):
    no read of the reps or territories by id once the lead is written."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    query = """mutation($input: LeadInput!) { submitLead(input: $input) {
        decision { owner { rep { id name email } } territory { id name } } errors { code } } }"""
    with CaptureQueriesContext(connection) as queries:
        body = gql(query, {"input": {"email": "primed@newco.example", "country": "US"}}, token=org.token(org.manager))
    decision = payload_of(body, "submitLead")["decision"]
    assert decision["owner"]["rep"]["name"] == "Rita Rep" and decision["territory"]["name"] == "US"
    statements = [q["sql"] for q in queries.captured_queries]
    written = next(i for i, sql in enumerate(statements) if sql.startswith('INSERT INTO "routing_lead"'))
    by_id = [
        sql
        for sql in statements[written:]
        if 'WHERE "territories_rep"."id" IN' in sql or 'WHERE "territories_territory"."id" IN' in sql
    ]
    assert by_id == []


def test_submit_lead_reports_every_invalid_field_and_creates_nothing(org):
    body = gql(SUBMIT, {"input": {"email": "not-an-email", "employees": -3}}, token=org.token(org.manager))
    payload = payload_of(body, "submitLead")
    assert (payload["lead"], payload["decision"]) == (None, None)
    assert user_error_codes(payload) == [("INVALID", "email"), ("INVALID", "employees")]
    assert not Lead.objects.exists()


def test_a_rep_whose_submitted_lead_goes_to_another_rep_gets_the_decision_but_not_the_lead(org):
    body = gql(SUBMIT, {"input": {"email": "first@one.example", "country": "US"}}, token=org.token(org.other_rep))
    payload = payload_of(body, "submitLead")
    assert payload["errors"] == []
    assert payload["decision"]["owner"]["rep"] == {"name": "Rita Rep"}
    assert payload["lead"] is None  # Oscar may not read Rita's leads
    assert Lead.objects.filter(email="first@one.example").count() == 1


def test_a_repeat_submission_attaches_to_the_first_lead(org):
    token = org.token(org.manager)
    first = payload_of(gql(SUBMIT, {"input": {"email": "dup@co.example", "country": "US"}}, token=token), "submitLead")
    again = payload_of(gql(SUBMIT, {"input": {"email": "dup@co.example", "country": "US"}}, token=token), "submitLead")
    assert again["errors"] == []
    assert again["lead"]["id"] == first["lead"]["id"]
    assert again["decision"]["owner"] == first["decision"]["owner"]
    assert "duplicate" in again["decision"]["trace"][-1]
    assert Lead.objects.count() == 1


def test_a_partner_user_cannot_submit_leads(org):
    token = token_for(partner_user=PartnerUserFactory())
    payload = payload_of(gql(SUBMIT, {"input": {"email": "x@co.example"}}, token=token), "submitLead")
    assert user_error_codes(payload) == [("FORBIDDEN", None)]
    assert not Lead.objects.exists()


# submitLeads ------------------------------------------------------------------------------------

SUBMIT_MANY = """mutation($leads: [LeadInput!]!) { submitLeads(leads: $leads) {
    results { attached lead { id email owner { rep { name } } } decision { step trace owner { rep { name } } } }
    errors { field code message } } }"""


def test_submit_leads_routes_each_lead_in_order_and_attaches_repeats(org):
    leads = [
        {"email": "a@one.example", "country": "US"},
        {"email": "b@two.example", "country": "US"},
        {"email": "A@one.example", "country": "US"},
        {"email": "c@three.example", "country": "FR"},
    ]
    body = gql(SUBMIT_MANY, {"leads": leads}, token=org.token(org.manager))
    payload = payload_of(body, "submitLeads")
    assert payload["errors"] == []
    results = payload["results"]
    assert [r["attached"] for r in results] == [False, False, True, False]
    assert [r["decision"]["step"] for r in results] == ["TERRITORY", "TERRITORY", "TERRITORY", "UNASSIGNED"]
    assert [r["decision"]["owner"]["rep"]["name"] for r in results[:3]] == ["Rita Rep", "Tom Teammate", "Rita Rep"]
    assert results[2]["lead"]["id"] == results[0]["lead"]["id"]
    assert "duplicate" in results[2]["decision"]["trace"][-1]
    assert results[0]["lead"]["owner"] == {"rep": {"name": "Rita Rep"}}
    assert Lead.objects.count() == 3
    assert OwnershipChange.objects.filter(lead__isnull=False).count() == 2


def test_submit_leads_reports_every_invalid_lead_and_creates_nothing(org):
    leads = [{"email": "fine@one.example"}, {"email": "nope"}, {"email": "x@two.example", "employees": -1}]
    payload = payload_of(gql(SUBMIT_MANY, {"leads": leads}, token=org.token(org.manager)), "submitLeads")
    assert payload["results"] == []
    assert user_error_codes(payload) == [("INVALID", "leads.1.email"), ("INVALID", "leads.2.employees")]
    assert not Lead.objects.exists()


def test_submit_leads_hides_the_leads_a_rep_may_not_read_and_refuses_partners_and_oversized_batches(org):
    body = gql(SUBMIT_MANY, {"leads": [{"email": "z@one.example", "country": "US"}]}, token=org.token(org.other_rep))
    payload = payload_of(body, "submitLeads")
    assert payload["results"][0]["lead"] is None  # Oscar may not read Rita's lead
    assert payload["results"][0]["decision"]["owner"]["rep"] == {"name": "Rita Rep"}
    token = token_for(partner_user=PartnerUserFactory())
    refused = payload_of(gql(SUBMIT_MANY, {"leads": [{"email": "p@co.example"}]}, token=token), "submitLeads")
    assert user_error_codes(refused) == [("FORBIDDEN", None)]
    many = [{"email": f"m{i}@co.example"} for i in range(501)]
    too_many = payload_of(gql(SUBMIT_MANY, {"leads": many}, token=org.token(org.manager)), "submitLeads")
    assert user_error_codes(too_many) == [("INVALID", "leads")]
    assert Lead.objects.count() == 1


# claimAccount -----------------------------------------------------------------------------------

CLAIM = """mutation($id: ID!) { claimAccount(accountId: $id) {
    account { name owners { role rep { name } } } owner { role reason since rep { name } } expiresAt
    errors { field code message } } }"""


def test_a_rep_claims_an_unowned_account_until_it_lapses(org):
    account = AccountFactory(name="Free Co")
    payload = payload_of(gql(CLAIM, {"id": str(account.pk)}, token=org.token(org.rep)), "claimAccount")
    assert payload["errors"] == []
    assert payload["account"] == {"name": "Free Co", "owners": [{"role": "SALES", "rep": {"name": "Rita Rep"}}]}
    assert (payload["owner"]["role"], payload["owner"]["reason"], payload["owner"]["rep"]) == (
        "SALES",
        "ACCOUNT_CLAIM",
        {"name": "Rita Rep"},
    )
    assert _when(payload["expiresAt"]) - _when(payload["owner"]["since"]) == timedelta(days=30)


def test_claiming_an_owned_account_is_refused_with_who_owns_it(org):
    account = AccountFactory(name="Taken Co")
    OwnershipFactory(account=account, rep=org.other_rep)
    payload = payload_of(gql(CLAIM, {"id": str(account.pk)}, token=org.token(org.rep)), "claimAccount")
    assert user_error_codes(payload) == [("ALREADY_OWNED", "accountId")]
    assert "Oscar Other" in payload["errors"][0]["message"]
    assert payload["owner"] is None
    assert Ownership.objects.get(account=account, ended_at__isnull=True).rep == org.other_rep


@pytest.mark.parametrize("account_id", ["999999", "abc", "-1"])
def test_claiming_an_unknown_account_is_not_found_on_its_field(org, account_id):
    payload = payload_of(gql(CLAIM, {"id": account_id}, token=org.token(org.rep)), "claimAccount")
    assert payload["errors"] == [{"field": "accountId", "code": "NOT_FOUND", "message": f"no account #{account_id}"}]


# registerDeal and reviewDealRegistration ------------------------------------------------------------

REGISTER = """mutation($input: DealRegistrationInput!) { registerDeal(input: $input) {
    registration { id status partner { name } account { name domains } submittedAt expiresAt decidedAt reason }
    errors { field code message } } }"""

REVIEW = """mutation($id: ID!, $approve: Boolean!, $reason: String) {
    reviewDealRegistration(id: $id, approve: $approve, reason: $reason) {
    registration { id status decidedAt reason account { owners { role partner { name } } } }
    errors { field code message } } }"""


def test_a_partner_registers_a_deal_on_a_new_prospect(org):
    user = PartnerUserFactory(partner=PartnerFactory(name="Alpha Resellers"))
    body = gql(
        REGISTER,
        {"input": {"company": "Brand New GmbH", "domain": "www.brandnew.com", "estimatedValue": 0.1}},
        token=token_for(partner_user=user),
    )
    payload = payload_of(body, "registerDeal")
    assert payload["errors"] == []
    registration = payload["registration"]
    assert registration["status"] == "PENDING"
    assert registration["partner"] == {"name": "Alpha Resellers"}
    assert registration["account"] == {"name": "Brand New GmbH", "domains": ["brandnew.com"]}
    assert _when(registration["expiresAt"]) - _when(registration["submittedAt"]) == timedelta(days=90)
    assert (registration["decidedAt"], registration["reason"]) == (None, None)
    assert str(DealRegistration.objects.get(pk=registration["id"]).estimated_value) == "0.10"


def test_a_registration_refuses_a_free_mail_domain_and_a_second_live_one(org):
    token = token_for(partner_user=PartnerUserFactory())
    free = payload_of(gql(REGISTER, {"input": {"company": "X", "domain": "gmail.com"}}, token=token), "registerDeal")
    assert user_error_codes(free) == [("INVALID", "domain")]
    first = payload_of(gql(REGISTER, {"input": {"company": "Y", "domain": "y-corp.com"}}, token=token), "registerDeal")
    assert first["errors"] == []
    second = payload_of(gql(REGISTER, {"input": {"company": "Y", "domain": "y-corp.com"}}, token=token), "registerDeal")
    assert user_error_codes(second) == [("CONFLICT", "company")]
    assert DealRegistration.objects.count() == 1


def test_reps_do_not_register_deals(org):
    payload = payload_of(gql(REGISTER, {"input": {"company": "Z"}}, token=org.token(org.rep)), "registerDeal")
    assert user_error_codes(payload) == [("FORBIDDEN", None)]


def test_a_manager_approves_a_registration_and_the_partner_becomes_owner(org):
    registration = DealRegistrationFactory(partner=PartnerFactory(name="Alpha Resellers"), status="PENDING")
    variables = {"id": str(registration.pk), "approve": True, "reason": "strong partner"}
    result = payload_of(gql(REVIEW, variables, token=org.token(org.manager)), "reviewDealRegistration")
    assert result["errors"] == []
    assert (result["registration"]["status"], result["registration"]["reason"]) == ("APPROVED", "strong partner")
    assert result["registration"]["decidedAt"] is not None
    assert result["registration"]["account"]["owners"] == [{"role": "PARTNER", "partner": {"name": "Alpha Resellers"}}]


def test_a_rejection_needs_a_reason_and_a_decided_registration_cannot_be_reviewed_again(org):
    registration = DealRegistrationFactory(status="PENDING")
    token = org.token(org.manager)
    variables: dict[str, Any] = {"id": str(registration.pk), "approve": False}
    no_reason = payload_of(gql(REVIEW, variables, token=token), "reviewDealRegistration")
    assert user_error_codes(no_reason) == [("INVALID", "reason")]
    rejected = payload_of(gql(REVIEW, {**variables, "reason": "duplicate"}, token=token), "reviewDealRegistration")
    assert rejected["registration"]["status"] == "REJECTED"
    again = payload_of(gql(REVIEW, {**variables, "approve": True}, token=token), "reviewDealRegistration")
    assert user_error_codes(again) == [("INVALID_TRANSITION", None)]
    assert DealRegistration.objects.get(pk=registration.pk).status == "REJECTED"


def test_reviewing_an_unknown_registration_is_not_found(org):
    variables = {"id": "424242", "approve": True}
    payload = payload_of(gql(REVIEW, variables, token=org.token(org.manager)), "reviewDealRegistration")
    assert user_error_codes(payload) == [("NOT_FOUND", "id")]


# logActivity and updateLeadStage ---------------------------------------------------------------------

LOG = """mutation($input: ActivityInput!) { logActivity(input: $input) { ok errors { field code message } } }"""
STAGE = """mutation($id: ID!, $stage: LeadStage!) { updateLeadStage(leadId: $id, stage: $stage) {
    lead { id stage } errors { field code message } } }"""


def test_the_owner_logs_a_call_on_their_lead_and_it_is_its_first_touch(org):
    lead = _owned_lead(org.rep)
    occurred = "2024-03-04T10:00:00+00:00"
    lead.received_at = _when("2024-03-01T09:00:00+00:00")
    lead.save()
    variables = {"input": {"leadId": str(lead.pk), "kind": "CALL", "note": " left a message ", "occurredAt": occurred}}
    payload = payload_of(gql(LOG, variables, token=org.token(org.rep)), "logActivity")
    assert payload == {"ok": True, "errors": []}
    activity = Activity.objects.get(lead=lead)
    assert (activity.rep, activity.kind, activity.note) == (org.rep, "CALL", "left a message")
    lead.refresh_from_db()
    assert lead.first_touch_at == _when(occurred)


def test_activity_cannot_be_in_the_future_and_needs_a_lead_or_an_account(org):
    lead = _owned_lead(org.rep)
    token = org.token(org.rep)
    future = {"input": {"leadId": str(lead.pk), "kind": "EMAIL", "occurredAt": "2999-01-01T00:00:00+00:00"}}
    assert user_error_codes(payload_of(gql(LOG, future, token=token), "logActivity")) == [("INVALID", "occurredAt")]
    nothing = payload_of(gql(LOG, {"input": {"kind": "NOTE"}}, token=token), "logActivity")
    assert (nothing["ok"], user_error_codes(nothing)) == (False, [("INVALID", "leadId")])
    assert not Activity.objects.exists()


def test_account_activity_is_for_its_owners_and_their_managers_or_anyone_on_an_unowned_account(org):
    """Account activity is engagement, and engagement routes the account's next leads."""
    theirs = AccountFactory(name="Oscar's Co")
    OwnershipFactory(account=theirs, rep=org.other_rep)
    unowned = AccountFactory(name="Nobody's Co")

    def log(account, rep):
        variables = {"input": {"accountId": str(account.pk), "kind": "MEETING"}}
        return payload_of(gql(LOG, variables, token=org.token(rep)), "logActivity")

    refused = log(theirs, org.rep)
    assert user_error_codes(refused) == [("FORBIDDEN", "accountId")]
    assert log(theirs, org.other_rep)["ok"] is True
    assert log(theirs, org.other_manager)["ok"] is True
    assert user_error_codes(log(theirs, org.manager)) == [("FORBIDDEN", "accountId")]
    assert log(theirs, org.revops)["ok"] is True
    assert log(unowned, org.rep)["ok"] is True
    assert sorted(Activity.objects.values_list("account__name", "rep__name")) == [
        ("Nobody's Co", "Rita Rep"),
        ("Oscar's Co", "Olga Other"),
        ("Oscar's Co", "Oscar Other"),
        ("Oscar's Co", "Rex RevOps"),
    ]


def test_the_owner_moves_their_lead_forward_but_never_back(org):
    lead = _owned_lead(org.rep)
    token = org.token(org.rep)
    forward = payload_of(gql(STAGE, {"id": str(lead.pk), "stage": "QUALIFIED"}, token=token), "updateLeadStage")
    assert forward == {"lead": {"id": str(lead.pk), "stage": "QUALIFIED"}, "errors": []}
    back = payload_of(gql(STAGE, {"id": str(lead.pk), "stage": "CONTACTED"}, token=token), "updateLeadStage")
    assert back["lead"] is None
    assert user_error_codes(back) == [("INVALID_TRANSITION", None)]
    assert "QUALIFIED to CONTACTED" in back["errors"][0]["message"]
    assert Lead.objects.get(pk=lead.pk).stage == "QUALIFIED"


def test_a_rep_cannot_change_the_stage_of_a_queue_lead_they_can_see_but_do_not_own(org):
    queued = LeadFactory()
    payload = payload_of(
        gql(STAGE, {"id": str(queued.pk), "stage": "CONTACTED"}, token=org.token(org.rep)), "updateLeadStage"
    )
    assert user_error_codes(payload) == [("FORBIDDEN", None)]
    manager = payload_of(
        gql(STAGE, {"id": str(queued.pk), "stage": "CONTACTED"}, token=org.token(org.manager)), "updateLeadStage"
    )
    assert manager["lead"]["stage"] == "CONTACTED"


# openDispute and resolveDispute ---------------------------------------------------------------------

OPEN = """mutation($input: DisputeInput!) { openDispute(input: $input) {
    dispute { id status reason openedAt dueAt claimant { name } currentOwner { name } account { name } lead { id } }
    errors { field code message } } }"""
RESOLVE = """mutation($id: ID!, $winner: ID!, $resolution: String!) {
    resolveDispute(id: $id, winnerRepId: $winner, resolution: $resolution) {
    dispute { status resolution winner { name } account { owners { role rep { name } } } }
    errors { field code message } } }"""


def test_a_rep_contests_the_owner_of_an_account_and_the_dispute_is_due_within_its_sla(org):
    account = AccountFactory(name="Contested Co")
    OwnershipFactory(account=account, rep=org.other_rep)
    variables = {"input": {"accountId": str(account.pk), "reason": "I met them at the fair first"}}
    dispute = payload_of(gql(OPEN, variables, token=org.token(org.rep)), "openDispute")["dispute"]
    assert (dispute["status"], dispute["reason"], dispute["lead"]) == ("OPEN", "I met them at the fair first", None)
    assert (dispute["claimant"], dispute["currentOwner"], dispute["account"]) == (
        {"name": "Rita Rep"},
        {"name": "Oscar Other"},
        {"name": "Contested Co"},
    )
    assert _when(dispute["dueAt"]) > _when(dispute["openedAt"])
    again = payload_of(gql(OPEN, variables, token=org.token(org.teammate)), "openDispute")
    assert user_error_codes(again) == [("CONFLICT", None)]
    assert Dispute.objects.count() == 1


def test_a_dispute_names_exactly_one_record_owned_by_someone_else(org):
    mine = AccountFactory()
    OwnershipFactory(account=mine, rep=org.rep)
    lead = _owned_lead(org.rep)
    token = org.token(org.rep)
    own = payload_of(gql(OPEN, {"input": {"accountId": str(mine.pk), "reason": "x"}}, token=token), "openDispute")
    assert user_error_codes(own) == [("INVALID", None)]
    both = {"input": {"accountId": str(mine.pk), "leadId": str(lead.pk), "reason": "x"}}
    assert user_error_codes(payload_of(gql(OPEN, both, token=token), "openDispute")) == [("INVALID", "accountId")]
    assert not Dispute.objects.exists()


def test_a_manager_of_a_party_resolves_the_dispute_and_the_winner_owns_the_account(org, now):
    account = AccountFactory()
    OwnershipFactory(account=account, rep=org.other_rep)
    dispute = DisputeFactory(account=account, claimant=org.rep, current_owner=org.other_rep, status="OPEN")
    variables = {"id": str(dispute.pk), "winner": str(org.rep.pk), "resolution": "Rita's meeting came first"}
    payload = payload_of(gql(RESOLVE, variables, token=org.token(org.manager)), "resolveDispute")
    assert payload["errors"] == []
    assert payload["dispute"] == {
        "status": "RESOLVED",
        "resolution": "Rita's meeting came first",
        "winner": {"name": "Rita Rep"},
        "account": {"owners": [{"role": "SALES", "rep": {"name": "Rita Rep"}}]},
    }
    change = OwnershipChange.objects.get(account=account)
    assert (change.from_rep, change.to_rep) == (org.other_rep, org.rep)
    assert f"dispute #{dispute.pk}" in change.reason


def test_the_winner_is_one_of_the_parties_and_a_resolution_says_how(org):
    account = AccountFactory()
    OwnershipFactory(account=account, rep=org.other_rep)
    dispute = DisputeFactory(account=account, claimant=org.rep, current_owner=org.other_rep, status="OPEN")
    token = org.token(org.revops)
    outsider = {"id": str(dispute.pk), "winner": str(org.teammate.pk), "resolution": "neither"}
    assert user_error_codes(payload_of(gql(RESOLVE, outsider, token=token), "resolveDispute")) == [
        ("INVALID", "winnerRepId")
    ]
    blank = {"id": str(dispute.pk), "winner": str(org.rep.pk), "resolution": "  "}
    assert user_error_codes(payload_of(gql(RESOLVE, blank, token=token), "resolveDispute")) == [
        ("INVALID", "resolution")
    ]
    assert Dispute.objects.get(pk=dispute.pk).status == "OPEN"


# transferOwnership ------------------------------------------------------------------------------------

TRANSFER = """mutation($account: ID, $lead: ID, $to: ID!, $role: OwnerRole, $reason: String!) {
    transferOwnership(accountId: $account, leadId: $lead, toRepId: $to, role: $role, reason: $reason) {
    account { name owners { role rep { name } } history(first: 1) { edges { node { reason actor } } } }
    lead { id owner { rep { name } } }
    errors { field code message } } }"""


def test_a_manager_moves_an_account_within_their_team_with_history(org):
    account = AccountFactory(name="Moving Co")
    OwnershipFactory(account=account, rep=org.rep)
    variables = {"account": str(account.pk), "to": str(org.teammate.pk), "reason": "Rita is on leave"}
    payload = payload_of(gql(TRANSFER, variables, token=org.token(org.manager)), "transferOwnership")
    assert payload["errors"] == []
    assert payload["lead"] is None
    assert payload["account"] == {
        "name": "Moving Co",
        "owners": [{"role": "SALES", "rep": {"name": "Tom Teammate"}}],
        "history": {
            "edges": [{"node": {"reason": "transferred to Tom Teammate: Rita is on leave", "actor": org.manager.email}}]
        },
    }


def test_a_lead_is_transferred_in_a_role(org):
    lead = _owned_lead(org.rep)
    variables = {"lead": str(lead.pk), "to": str(org.teammate.pk), "role": "SALES", "reason": "speaks German"}
    payload = payload_of(gql(TRANSFER, variables, token=org.token(org.revops)), "transferOwnership")
    assert payload["lead"] == {"id": str(lead.pk), "owner": {"rep": {"name": "Tom Teammate"}}}


def test_a_manager_neither_takes_another_teams_account_nor_hands_theirs_to_another_team(org):
    theirs = AccountFactory()
    OwnershipFactory(account=theirs, rep=org.other_rep)
    ours = AccountFactory()
    OwnershipFactory(account=ours, rep=org.rep)
    token = org.token(org.manager)
    take = {"account": str(theirs.pk), "to": str(org.rep.pk), "reason": "mine now"}
    assert user_error_codes(payload_of(gql(TRANSFER, take, token=token), "transferOwnership")) == [("FORBIDDEN", None)]
    give = {"account": str(ours.pk), "to": str(org.other_rep.pk), "reason": "yours now"}
    assert user_error_codes(payload_of(gql(TRANSFER, give, token=token), "transferOwnership")) == [
        ("FORBIDDEN", "toRepId")
    ]
    current = dict(Ownership.objects.filter(ended_at__isnull=True).values_list("account_id", "rep_id"))
    assert current == {theirs.pk: org.other_rep.pk, ours.pk: org.rep.pk}


def test_a_transfer_goes_to_a_known_active_rep_and_names_one_record(org):
    account = AccountFactory()
    OwnershipFactory(account=account, rep=org.rep)
    token = org.token(org.revops)
    away = RepFactory(status="OUT_OF_OFFICE", manager=org.manager)
    to_away = {"account": str(account.pk), "to": str(away.pk), "reason": "cover"}
    assert user_error_codes(payload_of(gql(TRANSFER, to_away, token=token), "transferOwnership")) == [
        ("INVALID", "toRepId")
    ]
    unknown = {"account": str(account.pk), "to": "987654", "reason": "cover"}
    assert user_error_codes(payload_of(gql(TRANSFER, unknown, token=token), "transferOwnership")) == [
        ("NOT_FOUND", "toRepId")
    ]
    neither = {"to": str(org.teammate.pk), "reason": "cover"}
    assert user_error_codes(payload_of(gql(TRANSFER, neither, token=token), "transferOwnership")) == [("INVALID", None)]
    assert Ownership.objects.get(account=account, ended_at__isnull=True).rep == org.rep


# markRepDeparted ------------------------------------------------------------------------------------------

DEPART = """mutation($id: ID!, $at: DateTime) { markRepDeparted(repId: $id, effectiveAt: $at) {
    rep { id status } reassignmentDueAt errors { field code message } } }"""


def test_a_manager_marks_a_report_departed_and_their_token_stops_at_once(org):
    leaving_token = org.token(org.teammate)
    payload = payload_of(gql(DEPART, {"id": str(org.teammate.pk)}, token=org.token(org.manager)), "markRepDeparted")
    assert payload["errors"] == []
    assert payload["rep"] == {"id": str(org.teammate.pk), "status": "DEPARTED"}
    org.teammate.refresh_from_db()
    assert org.teammate.reassignment_due_at is not None
    assert _when(payload["reassignmentDueAt"]) == org.teammate.reassignment_due_at
    assert org.teammate.reassignment_due_at > org.teammate.departed_at
    assert error_codes(gql("{ me { id } }", token=leaving_token)) == ["UNAUTHENTICATED"]


def test_a_future_departure_is_pending_and_due_after_it_takes_effect(org, now):
    effective = now + timedelta(days=7)
    variables = {"id": str(org.rep.pk), "at": effective.isoformat()}
    payload = payload_of(gql(DEPART, variables, token=org.token(org.revops)), "markRepDeparted")
    assert payload["rep"]["status"] == "ACTIVE"
    assert _when(payload["reassignmentDueAt"]) > effective


def test_a_rep_departs_once(org):
    org.teammate.status = "DEPARTED"
    org.teammate.save()
    payload = payload_of(gql(DEPART, {"id": str(org.teammate.pk)}, token=org.token(org.manager)), "markRepDeparted")
    assert user_error_codes(payload) == [("INVALID_TRANSITION", None)]
    unknown = payload_of(gql(DEPART, {"id": "777777"}, token=org.token(org.manager)), "markRepDeparted")
    assert unknown["errors"] == [{"field": "repId", "code": "NOT_FOUND", "message": "no rep #777777"}]

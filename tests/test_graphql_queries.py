"""GraphQL queries answer what the contract promises, for a signed-in rep or manager."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import override_settings

from routing.models import Ownership, OwnershipChange
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
from tests.graphql_support import assert_no_errors, error_codes, gql, token_for

pytestmark = pytest.mark.django_db

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")


@pytest.fixture
def manager() -> Rep:
    return ManagerFactory()


@pytest.fixture
def manager_token(manager) -> str:
    return token_for(rep=manager)


def _lead_on(rep, *, stage: str = "NEW", **kwargs):
    lead = LeadFactory(stage=stage, **kwargs)
    Ownership.objects.create(lead=lead, role="SALES", rep=rep, reason="TERRITORY", since=lead.received_at)
    return lead


# me, reps, territories ---------------------------------------------------------------


def test_me_is_the_tokens_rep_with_role_and_status():
    rep = RepFactory(name="Ada", role="SDR", capacity=30)
    data = assert_no_errors(gql("{ me { id name email role status capacity } }", token=token_for(rep=rep)))
    assert data["me"] == {
        "id": str(rep.pk),
        "name": "Ada",
        "email": rep.email,
        "role": "SDR",
        "status": "ACTIVE",
        "capacity": 30,
    }


def test_me_is_null_for_a_partner_user():
    data = assert_no_errors(gql("{ me { id } }", token=token_for(partner_user=PartnerUserFactory())))
    assert data == {"me": None}


def test_open_load_counts_current_sales_ownership_of_open_leads_only(manager_token, now):
    rep = RepFactory()
    _lead_on(rep, stage="NEW")
    _lead_on(rep, stage="NEGOTIATION")
    _lead_on(rep, stage="WON")  # closed: not load
    _lead_on(rep, stage="PAUSED")  # paused: not open
    ended = _lead_on(rep, stage="CONTACTED")
    Ownership.objects.filter(lead=ended).update(ended_at=now)  # no longer theirs
    other_role = LeadFactory()
    Ownership.objects.create(lead=other_role, role="CUSTOMER_SUCCESS", rep=rep, reason="TERRITORY", since=now)
    data = assert_no_errors(gql("{ reps { id openLoad } }", token=manager_token))
    loads = {r["id"]: r["openLoad"] for r in data["reps"]}
    assert loads[str(rep.pk)] == 2


def test_open_load_is_the_same_through_an_owner_and_through_the_roster(manager_token):
    rep = RepFactory()
    _lead_on(rep)
    account = AccountFactory()
    OwnershipFactory(account=account, rep=rep)
    data = assert_no_errors(
        gql(
            "query($id: ID!) { account(id: $id) { owners { rep { openLoad } } } reps { id openLoad } }",
            {"id": str(account.pk)},
            token=manager_token,
        )
    )
    assert data["account"]["owners"] == [{"rep": {"openLoad": 1}}]
    assert {r["id"]: r["openLoad"] for r in data["reps"]}[str(rep.pk)] == 1


def test_rep_territories_are_those_of_the_published_rule_set_only(manager_token):
    rep = RepFactory()
    published = TerritoryFactory(name="EMEA", criteria={"countries": ["GB", "DE"]})
    draft = TerritoryFactory(name="EMEA draft", rule_set=RuleSetFactory(status="DRAFT"))
    TerritoryMemberFactory(territory=published, rep=rep)
    TerritoryMemberFactory(territory=draft, rep=rep)
    data = assert_no_errors(
        gql(
            "{ reps { id territories { name criteria distribution members { id } } } territories { name } }",
            token=manager_token,
        )
    )
    mine = next(r for r in data["reps"] if r["id"] == str(rep.pk))
    assert mine["territories"] == [
        {
            "name": "EMEA",
            "criteria": "country is GB or DE",
            "distribution": "ROUND_ROBIN",
            "members": [{"id": str(rep.pk)}],
        }
    ]
    assert data["territories"] == [{"name": "EMEA"}]


def test_reps_filter_by_status(manager_token):
    away = RepFactory(status="OUT_OF_OFFICE")
    RepFactory(status="ACTIVE")
    data = assert_no_errors(gql("{ reps(status: OUT_OF_OFFICE) { id status } }", token=manager_token))
    assert data["reps"] == [{"id": str(away.pk), "status": "OUT_OF_OFFICE"}]


def test_rep_manager_is_a_rep(manager_token):
    boss = ManagerFactory(name="Boss")
    rep = RepFactory(manager=boss)
    data = assert_no_errors(gql("{ reps { id manager { name } } }", token=manager_token))
    assert {r["id"]: r["manager"] for r in data["reps"]}[str(rep.pk)] == {"name": "Boss"}


# accounts ----------------------------------------------------------------------------


def test_account_has_ordered_domains_parent_ultimate_parent_and_owners(manager_token):
    top = AccountFactory(name="Darden Restaurants")
    middle = AccountFactory(name="Darden Casual", parent=top)
    account = AccountFactory(
        name="Olive Garden", parent=middle, domains=["olivegarden.com", "og.example"], country="US", industry=""
    )
    sales = OwnershipFactory(account=account, role="SALES")
    am = OwnershipFactory(account=account, role="ACCOUNT_MANAGER")
    partner = PartnerFactory(name="Reseller")
    Ownership.objects.create(
        account=account, role="PARTNER", partner=partner, reason="DEAL_REGISTRATION", since=am.since
    )
    query = """query($id: ID!) { account(id: $id) {
        id name domains type country subdivision industry employees
        parent { name } ultimateParent { name }
        owners { role reason since rep { id } partner { name } } } }"""
    data = assert_no_errors(gql(query, {"id": str(account.pk)}, token=manager_token))["account"]
    assert data["domains"] == ["olivegarden.com", "og.example"]
    assert data["parent"] == {"name": "Darden Casual"}
    assert data["ultimateParent"] == {"name": "Darden Restaurants"}
    assert (data["type"], data["country"], data["subdivision"], data["industry"]) == ("PROSPECT", "US", None, None)
    assert [o["role"] for o in data["owners"]] == ["SALES", "ACCOUNT_MANAGER", "PARTNER"]
    assert data["owners"][0]["rep"] == {"id": str(sales.rep_id)}
    assert data["owners"][0]["reason"] == "NAMED_ACCOUNT"
    assert ISO_WITH_OFFSET.match(data["owners"][0]["since"])
    assert data["owners"][2] == {
        "role": "PARTNER",
        "reason": "DEAL_REGISTRATION",
        "since": data["owners"][2]["since"],
        "rep": None,
        "partner": {"name": "Reseller"},
    }


def test_top_level_account_has_no_ultimate_parent(manager_token):
    account = AccountFactory()
    data = assert_no_errors(
        gql(
            "query($id: ID!) { account(id: $id) { ultimateParent { id } } }",
            {"id": str(account.pk)},
            token=manager_token,
        )
    )
    assert data == {"account": {"ultimateParent": None}}


def test_ended_ownership_is_not_an_owner(manager_token, now):
    account = AccountFactory()
    ended = OwnershipFactory(account=account, role="SALES")
    Ownership.objects.filter(pk=ended.pk).update(ended_at=now)
    data = assert_no_errors(
        gql("query($id: ID!) { account(id: $id) { owners { role } } }", {"id": str(account.pk)}, token=manager_token)
    )
    assert data == {"account": {"owners": []}}


@pytest.mark.parametrize("bad_id", ["999999", "abc", "-1"])
def test_missing_account_is_null(manager_token, bad_id):
    assert assert_no_errors(
        gql("query($id: ID!) { account(id: $id) { id } }", {"id": bad_id}, token=manager_token)
    ) == {"account": None}


def test_account_history_is_newest_first_and_paged(manager_token, now):
    account = AccountFactory()
    reps = [RepFactory(name=f"R{i}") for i in range(5)]
    for i, rep in enumerate(reps):
        OwnershipChange.objects.create(
            at=now + timedelta(minutes=i),
            account=account,
            role="SALES",
            from_rep=reps[i - 1] if i else None,
            to_rep=rep,
            reason=f"step {i}",
            actor="routing",
        )
    query = """query($id: ID!, $after: String) { account(id: $id) { history(first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { cursor node {
            at reason actor role fromRep { name } toRep { name } account { id } lead { id } } } } } }"""
    first = assert_no_errors(gql(query, {"id": str(account.pk)}, token=manager_token))["account"]["history"]
    assert first["totalCount"] == 5
    assert [e["node"]["reason"] for e in first["edges"]] == ["step 4", "step 3"]
    assert first["edges"][0]["node"]["fromRep"] == {"name": "R3"}
    assert first["edges"][0]["node"]["toRep"] == {"name": "R4"}
    assert first["edges"][0]["node"]["account"] == {"id": str(account.pk)}
    assert first["pageInfo"] == {"hasNextPage": True, "endCursor": first["edges"][1]["cursor"]}
    second = assert_no_errors(
        gql(query, {"id": str(account.pk), "after": first["pageInfo"]["endCursor"]}, token=manager_token)
    )["account"]["history"]
    assert [e["node"]["reason"] for e in second["edges"]] == ["step 2", "step 1"]
    third = assert_no_errors(
        gql(query, {"id": str(account.pk), "after": second["pageInfo"]["endCursor"]}, token=manager_token)
    )["account"]["history"]
    assert [e["node"]["reason"] for e in third["edges"]] == ["step 0"]
    assert third["pageInfo"]["hasNextPage"] is False


def test_history_in_a_list_of_accounts_is_paged_per_account(manager_token, now):
    one, two = AccountFactory(name="A one"), AccountFactory(name="B two")
    for account, n in ((one, 3), (two, 1)):
        for i in range(n):
            OwnershipChange.objects.create(
                at=now + timedelta(minutes=i), account=account, role="SALES", reason=f"{account.name} {i}", actor="x"
            )
    query = """query($n: Int) { accounts { edges { node {
        name history(first: $n) { totalCount edges { node { reason } } } } } } }"""
    edges = assert_no_errors(gql(query, {"n": 2}, token=manager_token))["accounts"]["edges"]
    histories = {e["node"]["name"]: e["node"]["history"] for e in edges}
    assert histories["A one"]["totalCount"] == 3
    assert [e["node"]["reason"] for e in histories["A one"]["edges"]] == ["A one 2", "A one 1"]
    assert [e["node"]["reason"] for e in histories["B two"]["edges"]] == ["B two 0"]


def test_accounts_are_paged_with_opaque_cursors(manager_token):
    for i in range(5):
        AccountFactory(name=f"Acct {i}")
    query = """query($after: String) { accounts(first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { name } } } }"""
    names, after = [], None
    while True:
        page = assert_no_errors(gql(query, {"after": after}, token=manager_token))["accounts"]
        assert page["totalCount"] == 5
        names += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert not after.isdigit()
    assert names == [f"Acct {i}" for i in range(5)]


@override_settings(GRAPHQL_MAX_PAGE_SIZE=3)
def test_first_above_the_maximum_page_size_is_refused(manager_token):
    body = gql("{ accounts(first: 4) { totalCount } }", token=manager_token)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "between 0 and 3" in body["errors"][0]["message"]
    assert_no_errors(gql("{ accounts(first: 3) { totalCount } }", token=manager_token))


def test_a_malformed_cursor_is_refused(manager_token):
    body = gql('{ accounts(after: "not-a-cursor") { totalCount } }', token=manager_token)
    assert error_codes(body) == ["BAD_USER_INPUT"]


def test_accounts_search_by_name_ignores_legal_suffix_case_and_a_leading_the(manager_token):
    AccountFactory(name="Acme Corporation")
    AccountFactory(name="The Acme Works GmbH")
    AccountFactory(name="Globex Inc")
    data = assert_no_errors(gql('{ accounts(search: "ACME corp.") { edges { node { name } } } }', token=manager_token))
    assert [e["node"]["name"] for e in data["accounts"]["edges"]] == ["Acme Corporation", "The Acme Works GmbH"]


def test_accounts_search_ranks_name_prefix_matches_first(manager_token):
    AccountFactory(name="Aardvark Acme")
    AccountFactory(name="Acme Works")
    data = assert_no_errors(gql('{ accounts(search: "acme") { edges { node { name } } } }', token=manager_token))
    assert [e["node"]["name"] for e in data["accounts"]["edges"]] == ["Acme Works", "Aardvark Acme"]


def test_accounts_search_by_domain_and_sub_domain(manager_token):
    AccountFactory(name="International Business Machines", domains=["ibm.com"])
    AccountFactory(name="Other", domains=["other.com"])
    for search in ("ibm.com", "mail.ibm.com", "IBM"):
        data = assert_no_errors(
            gql(
                "query($s: String) { accounts(search: $s) { edges { node { name } } } }",
                {"s": search},
                token=manager_token,
            )
        )
        assert [e["node"]["name"] for e in data["accounts"]["edges"]] == ["International Business Machines"], search


def test_accounts_search_by_alias(manager_token):
    AccountFactory(name="International Business Machines", aliases=["Big Blue"])
    data = assert_no_errors(gql('{ accounts(search: "big blue") { totalCount } }', token=manager_token))
    assert data["accounts"]["totalCount"] == 1


def test_accounts_owned_by_a_rep(manager_token, now):
    rep = RepFactory()
    mine = AccountFactory(name="Mine")
    OwnershipFactory(account=mine, rep=rep, role="ACCOUNT_MANAGER")
    was_mine = AccountFactory(name="Was mine")
    ended = OwnershipFactory(account=was_mine, rep=rep)
    Ownership.objects.filter(pk=ended.pk).update(ended_at=now)
    OwnershipFactory(account=AccountFactory(name="Theirs"))
    data = assert_no_errors(
        gql(
            "query($r: ID) { accounts(ownerRepId: $r) { edges { node { name } } } }",
            {"r": str(rep.pk)},
            token=manager_token,
        )
    )
    assert [e["node"]["name"] for e in data["accounts"]["edges"]] == ["Mine"]


def test_accounts_of_a_territory_are_those_its_members_own(manager_token):
    member, outsider = RepFactory(), RepFactory()
    territory = TerritoryFactory()
    TerritoryMemberFactory(territory=territory, rep=member)
    OwnershipFactory(account=AccountFactory(name="In"), rep=member)
    OwnershipFactory(account=AccountFactory(name="Out"), rep=outsider)
    data = assert_no_errors(
        gql(
            "query($t: ID) { accounts(territoryId: $t) { edges { node { name } } } }",
            {"t": str(territory.pk)},
            token=manager_token,
        )
    )
    assert [e["node"]["name"] for e in data["accounts"]["edges"]] == ["In"]


# leads -------------------------------------------------------------------------------


def test_lead_has_its_sales_owner_and_its_decision_rebuilt(manager, manager_token):
    rep = RepFactory(name="Ada", manager=manager)
    territory = TerritoryFactory(name="West")
    account = AccountFactory(name="Acme")
    lead = LeadFactory(
        account=account,
        name="",
        company="Acme Inc",
        source="PARTNER",
        decision={
            "step": "TERRITORY",
            "match": {"account_id": account.pk, "method": "DOMAIN", "score": 1.0, "explanation": "acme.com is Acme"},
            "rule_set_version": 7,
            "owner": {"role": "SALES", "rep_id": rep.pk, "partner_id": None},
            "territory_id": territory.pk,
            "trace": ["no open opportunity", "territory West matched"],
        },
    )
    Ownership.objects.create(lead=lead, role="SALES", rep=rep, reason="TERRITORY", since=lead.received_at)
    query = """query($id: ID!) { lead(id: $id) {
        id email name company stage source receivedAt assignedAt firstTouchAt
        account { name } owner { role reason rep { name } }
        decision { step ruleSetVersion trace owner { role reason since rep { name } partner { name } }
                   territory { name } match { method score explanation account { name } } } } }"""
    data = assert_no_errors(gql(query, {"id": str(lead.pk)}, token=manager_token))["lead"]
    assert (data["name"], data["company"], data["stage"], data["source"]) == (None, "Acme Inc", "NEW", "PARTNER")
    assert ISO_WITH_OFFSET.match(data["receivedAt"]) and data["assignedAt"] is None
    assert data["account"] == {"name": "Acme"}
    assert data["owner"] == {"role": "SALES", "reason": "TERRITORY", "rep": {"name": "Ada"}}
    decision = data["decision"]
    assert decision["step"] == "TERRITORY" and decision["ruleSetVersion"] == 7
    assert decision["trace"] == ["no open opportunity", "territory West matched"]
    assert decision["owner"]["rep"] == {"name": "Ada"} and decision["owner"]["partner"] is None
    assert decision["owner"]["since"] == data["receivedAt"]
    assert decision["territory"] == {"name": "West"}
    assert decision["match"] == {
        "method": "DOMAIN",
        "score": 1.0,
        "explanation": "acme.com is Acme",
        "account": {"name": "Acme"},
    }


def test_unrouted_lead_has_no_decision_and_no_owner(manager_token):
    lead = LeadFactory()
    data = assert_no_errors(
        gql(
            "query($id: ID!) { lead(id: $id) { owner { role } decision { step } } }",
            {"id": str(lead.pk)},
            token=manager_token,
        )
    )
    assert data == {"lead": {"owner": None, "decision": None}}


def test_leads_filter_by_stage_owner_and_unassigned(manager, manager_token):
    ada, bo = RepFactory(manager=manager), RepFactory(manager=manager)
    a1 = _lead_on(ada, stage="NEW")
    a2 = _lead_on(ada, stage="QUALIFIED")
    b1 = _lead_on(bo, stage="NEW")
    waiting = LeadFactory(stage="NEW")

    def ids(args: str) -> set[str]:
        data = assert_no_errors(
            gql(f"{{ leads({args}) {{ totalCount edges {{ node {{ id }} }} }} }}", token=manager_token)
        )
        assert data["leads"]["totalCount"] == len(data["leads"]["edges"])
        return {e["node"]["id"] for e in data["leads"]["edges"]}

    assert ids("stage: NEW") == {str(a1.pk), str(b1.pk), str(waiting.pk)}
    assert ids(f'ownerRepId: "{ada.pk}"') == {str(a1.pk), str(a2.pk)}
    assert ids("unassigned: true") == {str(waiting.pk)}
    assert ids("unassigned: false") == {str(a1.pk), str(a2.pk), str(b1.pk)}
    assert ids(f'stage: NEW, ownerRepId: "{bo.pk}"') == {str(b1.pk)}


def test_a_manager_sees_their_teams_leads_the_queue_and_leads_on_their_teams_accounts_not_other_teams(now):
    mia = ManagerFactory()
    ada = RepFactory(manager=mia)
    deep = RepFactory(manager=RepFactory(role="MANAGER", manager=mia))  # two levels down is still her team
    outsider = RepFactory(manager=ManagerFactory())
    mine = _lead_on(mia)
    adas = _lead_on(ada)
    deeper = _lead_on(deep)
    queue = LeadFactory()
    account = AccountFactory()
    OwnershipFactory(account=account, rep=ada)
    on_team_account = _lead_on(outsider, account=account)
    theirs = _lead_on(outsider)
    token = token_for(rep=mia)
    data = assert_no_errors(gql("{ leads { totalCount edges { node { id } } } }", token=token))
    expected = {str(lead.pk) for lead in (mine, adas, deeper, queue, on_team_account)}
    assert {e["node"]["id"] for e in data["leads"]["edges"]} == expected
    assert data["leads"]["totalCount"] == len(expected)
    assert assert_no_errors(gql(f'{{ lead(id: "{theirs.pk}") {{ id }} }}', token=token)) == {"lead": None}
    revops = token_for(rep=RepFactory(role="REVOPS"))
    assert assert_no_errors(gql("{ leads { totalCount } }", token=revops))["leads"] == {"totalCount": 6}


def test_leads_are_newest_first(manager_token, now):
    old = LeadFactory(received_at=now - timedelta(days=2))
    new = LeadFactory(received_at=now)
    data = assert_no_errors(gql("{ leads { edges { node { id } } } }", token=manager_token))
    assert [e["node"]["id"] for e in data["leads"]["edges"]] == [str(new.pk), str(old.pk)]


def test_a_rep_sees_their_leads_the_queue_and_leads_on_their_accounts_not_others(now):
    ada, bo = RepFactory(), RepFactory()
    mine = _lead_on(ada)
    theirs = _lead_on(bo)
    queue = LeadFactory()
    account = AccountFactory()
    OwnershipFactory(account=account, rep=ada)
    on_my_account = _lead_on(bo, account=account)
    token = token_for(rep=ada)
    data = assert_no_errors(gql("{ leads { edges { node { id } } } }", token=token))
    assert {e["node"]["id"] for e in data["leads"]["edges"]} == {str(mine.pk), str(queue.pk), str(on_my_account.pk)}
    assert assert_no_errors(gql(f'{{ lead(id: "{theirs.pk}") {{ id }} }}', token=token)) == {"lead": None}


# deal registrations and disputes -----------------------------------------------------


def test_deal_registrations_for_a_manager(manager_token):
    registration = DealRegistrationFactory(status="APPROVED", reason="")
    DealRegistrationFactory(status="PENDING")
    data = assert_no_errors(
        gql(
            """{ dealRegistrations(status: APPROVED) { totalCount edges { node {
                id status reason partner { name } account { name } submittedAt decidedAt expiresAt } } } }""",
            token=manager_token,
        )
    )
    assert data["dealRegistrations"]["totalCount"] == 1
    node = data["dealRegistrations"]["edges"][0]["node"]
    assert node["id"] == str(registration.pk)
    assert node["partner"] == {"name": registration.partner.name}
    assert node["reason"] is None and ISO_WITH_OFFSET.match(node["submittedAt"])


def test_a_rep_sees_registrations_on_accounts_they_own_only():
    ada = RepFactory()
    account = AccountFactory()
    OwnershipFactory(account=account, rep=ada)
    on_mine = DealRegistrationFactory(account=account)
    DealRegistrationFactory()
    data = assert_no_errors(gql("{ dealRegistrations { edges { node { id } } } }", token=token_for(rep=ada)))
    assert [e["node"]["id"] for e in data["dealRegistrations"]["edges"]] == [str(on_mine.pk)]


def test_disputes_a_rep_is_party_to(now):
    ada, bo, cy = RepFactory(), RepFactory(), RepFactory()
    claimed = DisputeFactory(claimant=ada, current_owner=bo, due_at=now + timedelta(hours=1))
    contested = DisputeFactory(claimant=cy, current_owner=ada, due_at=now + timedelta(hours=2), resolution="")
    DisputeFactory(claimant=bo, current_owner=cy)
    query = """{ disputes { totalCount edges { node {
        id status reason claimant { id } currentOwner { id } openedAt dueAt escalatedTo { id } resolution
        winner { id } account { id } lead { id } } } } }"""
    data = assert_no_errors(gql(query, token=token_for(rep=ada)))["disputes"]
    assert [e["node"]["id"] for e in data["edges"]] == [str(claimed.pk), str(contested.pk)]
    node = data["edges"][1]["node"]
    assert node["status"] == "OPEN" and node["resolution"] is None and node["winner"] is None
    assert node["claimant"] == {"id": str(cy.pk)} and node["account"]["id"] == str(contested.account_id)
    revops = token_for(rep=RepFactory(role="REVOPS"))
    assert assert_no_errors(gql("{ disputes { totalCount } }", token=revops))["disputes"] == {"totalCount": 3}


def test_a_manager_sees_the_disputes_of_their_team_and_those_escalated_to_them(now):
    mia = ManagerFactory()
    ada, outsider = RepFactory(manager=mia), RepFactory(manager=ManagerFactory())
    claimed = DisputeFactory(claimant=ada, current_owner=outsider, due_at=now + timedelta(hours=1))
    contested = DisputeFactory(claimant=outsider, current_owner=ada, due_at=now + timedelta(hours=2))
    escalated = DisputeFactory(
        claimant=outsider, current_owner=RepFactory(), escalated_to=mia, due_at=now + timedelta(hours=3)
    )
    DisputeFactory(claimant=outsider, current_owner=RepFactory())
    data = assert_no_errors(gql("{ disputes { totalCount edges { node { id } } } }", token=token_for(rep=mia)))
    assert [e["node"]["id"] for e in data["disputes"]["edges"]] == [str(d.pk) for d in (claimed, contested, escalated)]
    assert data["disputes"]["totalCount"] == 3


def test_disputes_filter_by_status(manager, manager_token):
    DisputeFactory(status="ESCALATED", claimant=RepFactory(manager=manager))
    DisputeFactory(status="OPEN", claimant=RepFactory(manager=manager))
    data = assert_no_errors(gql("{ disputes(status: ESCALATED) { edges { node { status } } } }", token=manager_token))
    assert [e["node"]["status"] for e in data["disputes"]["edges"]] == ["ESCALATED"]


# ownerOf -----------------------------------------------------------------------------

OWNER_OF = """query($d: String, $c: String, $id: ID) { ownerOf(domain: $d, company: $c, accountId: $id) {
    account { name } match { method score explanation account { name } } owners { role rep { name } } } }"""


def test_any_rep_can_look_up_the_owner_by_domain_company_or_id():
    account = AccountFactory(name="Globex Corporation", domains=["globex.example"])
    OwnershipFactory(account=account, role="SALES", rep=RepFactory(name="Hank"))
    token = token_for(rep=RepFactory(role="SDR"))
    for variables in ({"d": "sales@globex.example"}, {"c": "Globex Corp."}, {"id": str(account.pk)}):
        data = assert_no_errors(gql(OWNER_OF, variables, token=token))["ownerOf"]
        assert data["account"] == {"name": "Globex Corporation"}, variables
        assert data["match"]["account"] == {"name": "Globex Corporation"}
        assert data["match"]["explanation"]
        assert data["owners"] == [{"role": "SALES", "rep": {"name": "Hank"}}]


def test_owner_lookup_of_a_subsidiary_rolls_up_to_the_parents_owner(manager_token):
    parent = AccountFactory(name="Darden Restaurants")
    OwnershipFactory(account=parent, role="SALES", rep=RepFactory(name="Parent Owner"))
    child = AccountFactory(name="Olive Garden", parent=parent)
    data = assert_no_errors(gql(OWNER_OF, {"id": str(child.pk)}, token=manager_token))["ownerOf"]
    assert data["account"] == {"name": "Olive Garden"}
    assert data["owners"] == [{"role": "SALES", "rep": {"name": "Parent Owner"}}]


def test_owner_lookup_without_a_match_says_why(manager_token):
    for variables in ({"d": "nobody.example"}, {"id": "424242"}, {"id": "not-an-id"}):
        data = assert_no_errors(gql(OWNER_OF, variables, token=manager_token))["ownerOf"]
        assert data["account"] is None and data["owners"] == []
        assert data["match"]["method"] == "NONE" and data["match"]["explanation"], variables


def test_owner_lookup_with_nothing_to_look_up_is_an_invalid_request(manager_token):
    body = gql(OWNER_OF, {}, token=manager_token)
    assert error_codes(body) == ["INVALID"]

"""simulateRouting over the API: writes nothing, refuses bad leads as one BAD_USER_INPUT error naming every
field, reads rule-set versions by the read rules, and decides exactly what submitLead then does."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadowner.demo.load import DEMO_LEADS
from routing.models import Account, DecisionStep, Lead
from territories.models import PartnerUser, Rep, RepRole, RuleSetStatus, Territory
from territories.selectors import published_rule_set
from tests.factories import (
    AccountFactory,
    ManagerFactory,
    OwnershipFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)
from tests.graphql_support import assert_no_errors, error_codes, gql, token_for

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "TRUNCATE", "REPLACE")

DECISION = """step ruleSetVersion trace
    territory { id name }
    owner { role reason rep { id name } partner { id name } }
    match { method score explanation account { id name } }"""
SIMULATE = f"""query($leads: [LeadInput!]!, $version: Int) {{
    simulateRouting(leads: $leads, ruleSetVersion: $version) {{ {DECISION} }} }}"""
CLAIM = "mutation($id: ID!) { claimAccount(accountId: $id) { errors { code message } } }"
REGISTER = """mutation($input: DealRegistrationInput!) { registerDeal(input: $input) {
    registration { id account { id } } errors { code message } } }"""
REVIEW = """mutation($id: ID!) { reviewDealRegistration(id: $id, approve: true) { errors { code message } } }"""
LOG = """mutation($id: ID!) { logActivity(input: {accountId: $id, kind: MEETING}) { errors { code message } } }"""
SUBMIT = f"""mutation($input: LeadInput!) {{ submitLead(input: $input) {{
    lead {{ id }} decision {{ {DECISION} }} errors {{ field code message }} }} }}"""


# The access audit records each request made with a manager's token: a record of the
# request itself, written whatever the request does, not something the simulation wrote.
ACCESS_AUDIT = {"leadowner.TokenUse"}


def _snapshot() -> dict[str, list[tuple[Any, ...]]]:
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values_list())
        for model in apps.get_models(include_auto_created=True)
        if model._meta.label not in ACCESS_AUDIT
    }


@pytest.fixture
def book():
    """A published map (US round robin: Ada then Bo), a draft (US West: Zed), a named account."""
    published = RuleSetFactory(version=1, status="PUBLISHED")
    us = TerritoryFactory(rule_set=published, name="US", criteria={"countries": ["US"]})
    ada, bo = RepFactory(name="Ada"), RepFactory(name="Bo")
    for i, rep in enumerate((ada, bo)):
        TerritoryMemberFactory(territory=us, rep=rep, position=i)
    draft = RuleSetFactory(version=2, status="DRAFT", published_at=None)
    zed = RepFactory(name="Zed")
    TerritoryMemberFactory(
        territory=TerritoryFactory(rule_set=draft, name="US West", criteria={"subdivisions": ["US-CA"]}), rep=zed
    )
    acme = AccountFactory(name="Acme", domains=["acme.com"])
    OwnershipFactory(account=acme, rep=RepFactory(name="Nadia Named"), reason="NAMED_ACCOUNT")
    return {"ada": ada, "bo": bo, "zed": zed, "acme": acme}


def _simulate(leads: list[dict[str, Any]], token: str, version: int | None = None) -> dict[str, Any]:
    return gql(SIMULATE, {"leads": leads, "version": version}, token=token)


def test_simulation_over_the_api_writes_nothing_and_round_robin_advances_in_memory(book):
    token = token_for(rep=ManagerFactory())
    gql("{ health }", token=token)  # the token's last use is written once a minute: now, not in the simulation
    leads = [
        {"email": "a@one.com", "country": "US"},
        {"email": "b@two.com", "country": "US"},
        {"email": "cfo@acme.com"},
        {"email": "c@three.com", "country": "Japan"},
        {"email": "a@one.com", "country": "US"},
    ]
    before = _snapshot()
    with CaptureQueriesContext(connection) as queries:
        decisions = assert_no_errors(_simulate(leads, token))["simulateRouting"]
    assert _snapshot() == before
    written = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]
    assert [sql for sql in written if '"leadowner_tokenuse"' not in sql] == []  # the access audit aside
    assert [(d["step"], (d["owner"] or {}).get("rep", {}).get("name")) for d in decisions] == [
        ("TERRITORY", "Ada"),
        ("TERRITORY", "Bo"),
        ("NAMED_ACCOUNT", "Nadia Named"),
        ("UNASSIGNED", None),
        ("TERRITORY", "Ada"),  # the repeat attaches to the first
    ]
    assert decisions[2]["match"] == {
        "method": "DOMAIN",
        "score": 1.0,
        "explanation": decisions[2]["match"]["explanation"],
        "account": {"id": str(book["acme"].pk), "name": "Acme"},
    }
    assert decisions[0]["trace"][0] == "simulation: nothing is written"
    assert decisions[4]["trace"][-1].startswith("duplicate: a@one.com appears earlier in this batch")
    assert not Lead.objects.exists()


def test_invalid_leads_are_one_bad_user_input_error_naming_every_field(book):
    token = token_for(rep=RepFactory())
    leads = [{"email": "ok@fine.com"}, {"email": "nope"}, {"email": "x@y.com", "employees": -5, "country": "Atlantis"}]
    body = _simulate(leads, token)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "leads.1.email"
    problems = [(p["field"], p["code"]) for p in error["extensions"]["problems"]]
    assert problems == [("leads.1.email", "INVALID"), ("leads.2.employees", "INVALID"), ("leads.2.country", "INVALID")]
    assert "leads.1.email" in error["message"] and "leads.2.employees" in error["message"]


def test_a_batch_above_the_limit_is_refused(book, settings):
    from routing.schema import SIMULATION_MAX_LEADS

    body = _simulate([{"email": f"p{i}@co.com"} for i in range(SIMULATION_MAX_LEADS + 1)], token_for(rep=RepFactory()))
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["argument"] == "leads"


def test_a_draft_is_simulated_by_managers_and_is_a_missing_version_to_a_rep(book):
    lead = [{"email": "west@coast.com", "country": "US", "subdivision": "CA"}]
    manager = _simulate(lead, token_for(rep=ManagerFactory()), version=2)
    [decision] = assert_no_errors(manager)["simulateRouting"]
    assert (decision["ruleSetVersion"], decision["territory"]["name"], decision["owner"]["rep"]["name"]) == (
        2,
        "US West",
        "Zed",
    )
    rep_token = token_for(rep=RepFactory())
    draft = _simulate(lead, rep_token, version=2)
    missing = _simulate(lead, rep_token, version=99)
    assert error_codes(draft) == error_codes(missing) == ["NOT_FOUND"]
    assert draft["errors"][0]["message"].replace("2", "<v>") == missing["errors"][0]["message"].replace("99", "<v>")
    [published] = assert_no_errors(_simulate(lead, rep_token, version=1))["simulateRouting"]
    assert (published["ruleSetVersion"], published["territory"]["name"]) == (1, "US")


# simulateRouting and submitLead agree, on the demo book ---------------------------------------------------


def _ancestors(territory: Territory) -> list[Territory]:
    chain, seen = [], {territory.pk}
    current = territory.parent
    while current is not None and current.pk not in seen:
        chain.append(current)
        seen.add(current.pk)
        current = current.parent
    return chain


def _facts_for(territory: Territory) -> dict[str, Any]:
    """Lead facts that meet a territory's hard criteria (its ancestors' too, the territory's own winning)."""
    criteria: dict[str, Any] = {}
    for level in [*reversed(_ancestors(territory)), territory]:
        criteria.update(level.criteria or {})
    facts: dict[str, Any] = {}
    if criteria.get("countries"):
        facts["country"] = criteria["countries"][-1]
    if criteria.get("subdivisions"):
        facts["subdivision"] = criteria["subdivisions"][0]
        facts["country"] = criteria["subdivisions"][0].split("-")[0]
    if criteria.get("cities"):
        facts["city"] = criteria["cities"][0]
    if criteria.get("postal_prefixes"):
        facts["postalCode"] = f"{criteria['postal_prefixes'][0]}01"
    if criteria.get("industries"):
        facts["industry"] = criteria["industries"][0]
    if criteria.get("employees"):
        facts["employees"] = criteria["employees"].get("min") or 1
    return facts


def _book_leads() -> list[dict[str, Any]]:
    """Leads covering every territory of the published map (three each: rotation and load), one at every
    account of the book by its domain, the demo's own inbound leads, a requested rep, a free-mail
    company, nothing to match, and repeats."""
    serial = itertools.count()
    leads: list[dict[str, Any]] = []
    rule_set = published_rule_set()
    assert rule_set is not None
    territories = Territory.objects.filter(rule_set=rule_set).order_by("position", "name")
    for territory in territories:
        for _ in range(3):
            n = next(serial)
            leads.append({"email": f"buyer{n}@prospect{n}-corp.com", **_facts_for(territory)})
    accounts = Account.objects.filter(domain_rows__isnull=False).distinct().order_by("name")
    for account in accounts:  # every account of the book
        domain = account.domain_rows.order_by("position").first()
        assert domain is not None
        leads.append({"email": f"someone.{next(serial)}@{domain.domain}"})
    # The demo's own inbound leads (Quebec, mail.ibm.com, Olive Garden, Puerto Rico, free mail ...),
    # under a new address each so they are routed afresh, not attached to the demo's copies.
    for email, name, company, country, sub, city, industry, employees, asked in DEMO_LEADS:
        local, _, host = email.partition("@")
        lead: dict[str, Any] = {"email": f"{local}.again{next(serial)}@{host}", "name": name}
        for key, value in (
            ("company", company),
            ("country", country),
            ("subdivision", sub),
            ("city", city),
            ("industry", industry),
            ("requestedRepEmail", asked),
        ):
            if value:
                lead[key] = value
        if employees is not None:
            lead["employees"] = employees
        leads.append(lead)
    ae = Rep.objects.filter(role=RepRole.AE, status="ACTIVE").order_by("email").first()
    assert ae is not None
    leads.append({"email": f"asked{next(serial)}@askingco.com", "country": "US", "requestedRepEmail": ae.email})
    leads.append({"email": f"fan{next(serial)}@gmail.com", "company": "IBM", "country": "US"})
    leads.append({"email": f"far{next(serial)}@faraway-corp.com", "country": "JP"})
    leads.append(dict(leads[0]))  # a repeat inside the batch
    leads.append(dict(leads[1]))
    return leads


def _work_the_book(revops_token: str) -> list[dict[str, Any]]:
    """Through the API: a rep claims a prospect, a partner's registration is approved on another, a rep
    engages a third. Returns a lead on each (the hierarchy steps the demo book does not hold)."""
    free = (
        Account.objects.filter(
            type="PROSPECT",
            parent__isnull=True,
            subsidiaries__isnull=True,
            ownerships__isnull=True,
            opportunities__isnull=True,
            registrations__isnull=True,
            domain_rows__isnull=False,
        )
        .distinct()
        .order_by("name")
    )
    claimed, registered, engaged = free[:3]
    aes = list(Rep.objects.filter(role=RepRole.AE, status="ACTIVE").order_by("email")[:2])
    claim = gql(CLAIM, {"id": str(claimed.pk)}, token=token_for(rep=aes[0]))
    assert assert_no_errors(claim)["claimAccount"]["errors"] == []
    partner_token = token_for(partner_user=PartnerUser.objects.order_by("pk").first())
    domain = registered.domain_rows.order_by("position").first()
    assert domain is not None
    registration = assert_no_errors(
        gql(REGISTER, {"input": {"company": registered.name, "domain": domain.domain}}, token=partner_token)
    )["registerDeal"]
    assert registration["errors"] == [] and registration["registration"]["account"]["id"] == str(registered.pk)
    review = gql(REVIEW, {"id": registration["registration"]["id"]}, token=revops_token)
    assert assert_no_errors(review)["reviewDealRegistration"]["errors"] == []
    activity = gql(LOG, {"id": str(engaged.pk)}, token=token_for(rep=aes[1]))
    assert assert_no_errors(activity)["logActivity"]["errors"] == []
    leads = []
    for i, account in enumerate((claimed, registered, engaged)):
        row = account.domain_rows.order_by("position").first()
        assert row is not None
        leads.append({"email": f"worked{i}@{row.domain}"})
    return leads


def _comparable(decision: dict[str, Any]) -> dict[str, Any]:
    """Everything a decision says but its first trace line, which names the mode (simulated or received)."""
    return {**decision, "trace": decision["trace"][1:]}


def _without_duplicate_line(decision: dict[str, Any]) -> dict[str, Any]:
    """A repeat's decision is the first lead's, plus a line saying so (worded for a batch or for the store)."""
    last = decision["trace"][-1]
    assert last.startswith("duplicate: "), last
    return {**decision, "trace": decision["trace"][:-1]}


def test_simulating_the_demo_book_decides_exactly_what_submitting_it_in_the_same_order_does():
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    rule_set = published_rule_set()
    assert rule_set is not None and rule_set.status == RuleSetStatus.PUBLISHED
    revops = Rep.objects.filter(role=RepRole.REVOPS).order_by("pk").first()
    assert revops is not None
    token = token_for(rep=revops)
    worked = _work_the_book(token)
    book = _book_leads()
    leads = [*worked, *book]

    simulated = assert_no_errors(_simulate(leads, token))["simulateRouting"]
    assert len(simulated) == len(leads)
    submitted = []
    for lead in leads:
        payload = assert_no_errors(gql(SUBMIT, {"input": lead}, token=token))["submitLead"]
        assert payload["errors"] == [], (lead, payload["errors"])
        submitted.append(payload["decision"])

    first_of = {}
    for i, (lead, sim, sub) in enumerate(zip(leads, simulated, submitted, strict=True)):
        if lead["email"] in first_of:  # a repeat: the first one's decision, and a line saying so
            sim, sub = _without_duplicate_line(sim), _without_duplicate_line(sub)
            assert _comparable(sim) == _comparable(simulated[first_of[lead["email"]]])
        first_of.setdefault(lead["email"], i)
        assert _comparable(sim) == _comparable(sub), f"lead {i} ({lead['email']}) was simulated differently"
    assert len(first_of) == len(leads) - 2

    # The sample is worth comparing: every territory decided something, and so did most of the hierarchy.
    territory_ids = {str(pk) for pk in Territory.objects.filter(rule_set=rule_set).values_list("pk", flat=True)}
    assert {d["territory"]["id"] for d in submitted if d["territory"]} == territory_ids
    assert [d["step"] for d in submitted[:3]] == ["ACCOUNT_CLAIM", "DEAL_REGISTRATION", "RECENT_ENGAGEMENT"]
    assert {d["step"] for d in submitted} == set(DecisionStep.values) - {DecisionStep.MANUAL}
    rotated = [d["owner"]["rep"]["id"] for d in submitted if d["owner"] and d["step"] == "TERRITORY"]
    assert len(set(rotated)) > 3, "round robin and load balancing spread the territory leads"

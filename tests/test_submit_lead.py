"""submitLead: validate, normalise, enrich, route and own a lead in one transaction; re-route; duplicates."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from django.db import connection

import routing.services.leads as leads_service
from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError, ServiceErrors
from routing.models import Lead, Ownership, OwnershipChange
from routing.services.leads import LeadData, route_lead, submit_lead
from territories.models import DistributionCounter, RuleSet, Territory
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    OwnershipFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)

SYSTEM = Actor.system_actor("test")


def _territory(rule_set: RuleSet, name: str, criteria: dict, rep_name: str, **kwargs: object) -> Territory:
    territory = TerritoryFactory(rule_set=rule_set, name=name, criteria=criteria, **kwargs)
    TerritoryMemberFactory(territory=territory, rep=RepFactory(name=rep_name))
    return territory


@pytest.fixture
def world_map() -> RuleSet:
    """A published map that names Puerto Rico, Quebec, New York City and Israel."""
    rs = RuleSetFactory(status="PUBLISHED")
    _territory(rs, "Puerto Rico", {"countries": ["PR"]}, "Paz")
    _territory(rs, "US", {"countries": ["US"]}, "Uma")
    _territory(rs, "Quebec", {"subdivisions": ["CA-QC"]}, "Quinn")
    _territory(rs, "Canada", {"countries": ["CA"]}, "Cal")
    east = _territory(rs, "US East", {"subdivisions": ["US-NY", "US-NJ", "US-MA"]}, "Eve")
    _territory(rs, "NYC", {"cities": ["New York"]}, "Nia", parent=east)
    _territory(rs, "EMEA", {"countries": ["GB", "DE", "FR", "IL"]}, "Emil")
    return rs


def _route(now: datetime, **fields: object) -> tuple[Lead, object]:
    fields.setdefault("email", "someone@prospect.example")
    return submit_lead(data=LeadData(**fields), actor=SYSTEM, now=now)  # type: ignore[arg-type]


def _owner_name(lead: Lead) -> str:
    return Ownership.objects.get(lead=lead, ended_at__isnull=True).rep.name


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("where", "territory", "owner"),
    [
        ({"country": "Puerto Rico"}, "Puerto Rico", "Paz"),
        ({"country": "US", "subdivision": "PR"}, "Puerto Rico", "Paz"),
        ({"subdivision": "Quebec"}, "Quebec", "Quinn"),
        ({"country": "Canada", "subdivision": "QC", "city": "Montréal"}, "Quebec", "Quinn"),
        ({"country": "Canada", "subdivision": "ON"}, "Canada", "Cal"),
        ({"country": "USA", "subdivision": "NY", "city": "New York City"}, "NYC", "Nia"),
        ({"country": "US", "subdivision": "US-NY", "city": "Albany"}, "US East", "Eve"),
        ({"country": "Israel"}, "EMEA", "Emil"),
        ({"country": "US", "subdivision": "TX"}, "US", "Uma"),
    ],
)
def test_places_named_by_the_territory_map_route_to_their_territory(
    now: datetime, world_map: RuleSet, where: dict, territory: str, owner: str
) -> None:
    lead, decision = _route(now, **where)
    assert decision.step == "TERRITORY"
    assert decision.territory_id == Territory.objects.get(rule_set=world_map, name=territory).pk
    assert _owner_name(lead) == owner


@pytest.mark.django_db
def test_puerto_rico_is_its_own_country_not_a_us_subdivision(now: datetime, world_map: RuleSet) -> None:
    lead, decision = _route(now, country="US", subdivision="Puerto Rico")
    assert (lead.country, lead.subdivision) == ("PR", "")
    assert "normalise: US-PR is the country PR (ISO 3166-1), not a US subdivision" in decision.trace


@pytest.mark.django_db
def test_quebec_implies_canada(now: datetime, world_map: RuleSet) -> None:
    lead, decision = _route(now, subdivision="Quebec")
    assert (lead.country, lead.subdivision) == ("CA", "CA-QC")
    assert "normalise: subdivision CA-QC implies country CA" in decision.trace


@pytest.mark.django_db
def test_new_york_city_goes_to_the_child_territory_and_says_so(now: datetime, world_map: RuleSet) -> None:
    _, decision = _route(now, country="US", subdivision="US-NY", city="New York")
    assert "territory: 'US East' also matches but is less specific" in decision.trace
    assert decision.trace[-1] == (
        "territory: 'NYC' (child of 'US East') matched on city New York; "
        "round robin picked Nia (1 of 1 leads, weight 1)"
    )


@pytest.mark.django_db
def test_a_free_mail_lead_without_company_matches_no_account_and_routes_by_territory(
    now: datetime, world_map: RuleSet
) -> None:
    AccountFactory(name="Gmail Inc", domains=["gmail.com"])  # even a registered free-mail domain names no company
    lead, decision = _route(now, email="Pat.Doe@Gmail.com", country="IL")
    assert lead.email == "pat.doe@gmail.com"
    assert lead.email_domain == "gmail.com"
    assert lead.account is None
    assert decision.match.method == "NONE"
    assert "normalise: gmail.com is a free-mail provider: the email names no company" in decision.trace
    assert "account: none; free-mail address and no company: nothing to match an account on" in decision.trace
    assert decision.step == "TERRITORY"


@pytest.mark.django_db
def test_a_free_mail_lead_with_company_text_matches_the_account_by_name(now: datetime, world_map: RuleSet) -> None:
    acme = AccountFactory(name="Acme Corporation", domains=["acme.com"])
    owner = OwnershipFactory(account=acme, rep=RepFactory(name="Olga"), reason="NAMED_ACCOUNT").rep
    lead, decision = _route(now, email="pat@gmail.com", company="ACME Corp.", country="IL")
    assert lead.account == acme
    assert lead.normalized_company == "acme"
    assert decision.match.account_id == acme.pk
    assert decision.match.method == "NAME"
    assert decision.step == "NAMED_ACCOUNT"
    assert decision.owner is not None and decision.owner.rep_id == owner.pk


@pytest.mark.django_db
def test_missing_firmographics_are_filled_from_the_account_before_territory_rules(
    now: datetime, world_map: RuleSet
) -> None:
    AccountFactory(
        name="Acme",
        domains=["acme.com"],
        country="US",
        subdivision="US-NY",
        city="New York",
        industry="Software",
        employees=5000,
    )
    lead, decision = _route(now, email="cto@acme.com")
    assert (
        "enrich: filled country US, subdivision US-NY, city New York, industry Software, employees 5,000 from Acme"
        in (decision.trace)
    )
    assert _owner_name(lead) == "Nia"
    assert (lead.country, lead.city) == ("", "")  # the lead keeps what it said; the trace says what was borrowed


@pytest.mark.django_db
def test_an_account_elsewhere_does_not_lend_its_location(now: datetime, world_map: RuleSet) -> None:
    AccountFactory(name="Acme", domains=["acme.com"], country="US", subdivision="US-NY", city="New York")
    lead, decision = _route(now, email="cto@acme.com", country="CA")
    assert _owner_name(lead) == "Cal"
    assert "enrich: kept the lead's location; Acme is elsewhere, so its subdivision and city were not used" in (
        decision.trace
    )


@pytest.mark.django_db
def test_invalid_input_reports_every_problem_with_its_field_and_writes_nothing(
    now: datetime, world_map: RuleSet
) -> None:
    with pytest.raises(ServiceErrors) as caught:
        _route(now, email="not-an-email", country="Atlantis", employees=-1, source="CARRIER_PIGEON")
    problems = {(e.field, e.code) for e in caught.value.errors}
    assert problems == {
        ("email", ErrorCode.INVALID),
        ("country", ErrorCode.INVALID),
        ("employees", ErrorCode.INVALID),
        ("source", ErrorCode.INVALID),
    }
    with pytest.raises(ServiceErrors) as mismatch:
        _route(now, country="US", subdivision="CA-QC")
    assert [e.message for e in mismatch.value.errors] == ["subdivision CA-QC is not in US"]
    assert not Lead.objects.exists()


@pytest.mark.django_db
def test_the_same_email_within_the_duplicate_window_attaches_to_the_first_lead(
    now: datetime, world_map: RuleSet
) -> None:
    first, decision = _route(now, email="pat@prospect.example", country="US")
    again, repeat = _route(now + timedelta(minutes=30), email="PAT@prospect.example", country="CA")
    assert again.pk == first.pk
    assert repeat.owner == decision.owner
    assert repeat.trace[-1].startswith("duplicate: pat@prospect.example was already submitted 30 minutes apart")
    assert Lead.objects.count() == 1
    assert Ownership.objects.count() == 1
    later, _ = _route(now + timedelta(minutes=61), email="pat@prospect.example", country="US")
    assert later.pk != first.pk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_submissions_of_one_email_create_one_lead(now: datetime) -> None:
    rs = RuleSetFactory(status="PUBLISHED")
    _territory(rs, "US", {"countries": ["US"]}, "Uma")
    barrier = threading.Barrier(8)

    def submit(_: int) -> int:
        try:
            barrier.wait()
            lead, _decision = submit_lead(
                data=LeadData(email="same@prospect.example", country="US"), actor=SYSTEM, now=now
            )
            return lead.pk
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        ids = Counter(pool.map(submit, range(8)))
    assert len(ids) == 1
    assert Lead.objects.count() == 1
    assert Ownership.objects.count() == 1


@pytest.mark.django_db
def test_a_failure_while_writing_the_owner_leaves_no_lead_and_no_counter(
    now: datetime, world_map: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ServiceError(ErrorCode.CONFLICT, "simulated failure")

    monkeypatch.setattr(leads_service, "first_owner", broken)  # what a new lead's owner is written with
    with pytest.raises(ServiceError):
        _route(now, country="US")
    assert not Lead.objects.exists()
    assert not DistributionCounter.objects.filter(assigned__gt=0).exists()
    assert not OwnershipChange.objects.exists()


@pytest.mark.django_db
def test_without_a_published_rule_set_the_lead_is_routed_with_no_territory_map(now: datetime) -> None:
    RuleSetFactory(status="DRAFT")
    lead, decision = _route(now, country="US")
    assert decision.step == "UNASSIGNED"
    assert decision.rule_set_version == 0
    assert "rule set: no published rule set; routing with no territory map and the default policy" in decision.trace
    assert "territory: no published rule set, so there is no territory map" in decision.trace
    lead.refresh_from_db()
    assert lead.decision["step"] == "UNASSIGNED"
    assert lead.assigned_at is None


@pytest.mark.django_db
def test_the_decision_is_stored_with_the_owner_and_history_in_plain_words(now: datetime, world_map: RuleSet) -> None:
    lead, decision = _route(now, country="Israel")
    lead.refresh_from_db()
    assert lead.decision == decision.to_json()
    assert lead.assigned_at == now
    assert decision.rule_set_version == world_map.version
    change = OwnershipChange.objects.get(lead=lead)
    assert change.actor == "routing"
    assert change.step == "TERRITORY"
    assert change.reason == decision.trace[-1]
    assert change.rule_set_version == world_map.version


@pytest.mark.django_db
def test_a_forfeit_re_route_never_goes_back_to_the_forfeiting_rep(now: datetime) -> None:
    rs = RuleSetFactory(status="PUBLISHED")
    territory = TerritoryFactory(rule_set=rs, name="US", criteria={"countries": ["US"]})
    ada = TerritoryMemberFactory(territory=territory, rep=RepFactory(name="Ada"), position=0).rep
    bo = TerritoryMemberFactory(territory=territory, rep=RepFactory(name="Bo"), position=1).rep
    lead, first = _route(now, country="US")
    assert first.owner is not None and first.owner.rep_id == ada.pk
    ActivityFactory(
        lead=lead, rep=ada, occurred_at=now - timedelta(days=1)
    )  # her own engagement must not bring it back

    later = now + timedelta(days=15)
    decision = route_lead(lead=lead, actor=Actor.system_actor("forfeit job"), now=later, exclude_rep_ids=[ada.pk])
    assert decision.owner is not None and decision.owner.rep_id == bo.pk
    assert decision.trace[0] == "re-route: by forfeit job; current owner Ada; never back to Ada"
    assert (
        "recent engagement: passed over Ada, who is excluded from this routing (it was taken from them); "
        "nobody else engaged this lead within 90 days"
    ) in decision.trace
    current = Ownership.objects.get(lead=lead, ended_at__isnull=True)
    assert current.rep == bo
    change = OwnershipChange.objects.filter(lead=lead).order_by("-at", "-id").first()
    assert change is not None and (change.from_rep, change.to_rep, change.actor) == (ada, bo, "forfeit job")
    lead.refresh_from_db()
    assert lead.assigned_at == later
    assert lead.decision["owner"]["rep_id"] == bo.pk


@pytest.mark.django_db
def test_a_re_route_that_finds_nobody_ends_the_owner_and_leaves_the_lead_unassigned(now: datetime) -> None:
    rs = RuleSetFactory(status="PUBLISHED")
    territory = TerritoryFactory(rule_set=rs, name="US", criteria={"countries": ["US"]})
    ada = TerritoryMemberFactory(territory=territory, rep=RepFactory(name="Ada")).rep
    lead, _ = _route(now, country="US")
    decision = route_lead(lead=lead, actor=Actor.system_actor("forfeit job"), now=now, exclude_rep_ids=[ada.pk])
    assert decision.step == "UNASSIGNED"
    assert not Ownership.objects.filter(lead=lead, ended_at__isnull=True).exists()
    ended = OwnershipChange.objects.filter(lead=lead, to_rep__isnull=True).get()
    assert ended.from_rep == ada
    assert ended.reason == decision.trace[-1]


@pytest.mark.django_db
def test_a_re_route_keeps_the_account_the_lead_was_matched_to(now: datetime) -> None:
    rs = RuleSetFactory(status="PUBLISHED")
    territory = TerritoryFactory(rule_set=rs, name="US", criteria={"countries": ["US"]})
    ada = TerritoryMemberFactory(territory=territory, rep=RepFactory(name="Ada"), position=0).rep
    TerritoryMemberFactory(territory=territory, rep=RepFactory(name="Bo"), position=1)
    acme = AccountFactory(name="Acme", domains=["acme.com"], country="US")
    lead, _ = _route(now, email="pat@acme.com")
    acme.domain_rows.all().delete()  # the account's domain changed since; the lead stays linked
    decision = route_lead(lead=lead, actor=Actor.system_actor("forfeit job"), now=now, exclude_rep_ids=[ada.pk])
    assert decision.match.account_id == acme.pk
    assert "account: kept from when the lead arrived: email domain acme.com is a domain of Acme" in decision.trace
    lead.refresh_from_db()
    assert lead.account == acme


@pytest.mark.django_db
def test_an_unbroken_territory_tie_is_flagged_in_the_trace_never_silently_picked(now: datetime) -> None:
    rs = RuleSetFactory(status="PUBLISHED")
    first = _territory(rs, "US A", {"countries": ["US"]}, "Ada", position=0)
    _territory(rs, "US B", {"countries": ["US"]}, "Bo", position=1)
    _, decision = _route(now, country="US")
    assert decision.territory_id == first.pk
    assert (
        "territory: AMBIGUOUS: 'US B' matches as specifically and with the same priority as 'US A'; "
        "took 'US A' (first in the file); fix the territory map"
    ) in decision.trace


@pytest.mark.django_db
def test_a_routed_new_lead_is_written_once_with_its_decision_and_its_first_owner(
    now: datetime, world_map: RuleSet
) -> None:
    """One INSERT of the lead carrying its account, decision and assignment times; no UPDATE of
    it, no read of a current owner it cannot have, no savepoint (routing.services.ownership.first_owner)."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        lead, decision = _route(now, country="PR")
    statements = [q["sql"] for q in queries.captured_queries]
    inserts = [i for i, s in enumerate(statements) if s.startswith('INSERT INTO "routing_lead"')]
    assert len(inserts) == 1
    assert not [s for s in statements if s.startswith('UPDATE "routing_lead"')]
    # After the lead's INSERT: its owner and history, nothing else (no savepoint, no owner read);
    # on PostgreSQL both in one statement (leadowner.bulk_sql.insert_together).
    after = [s for s in statements[inserts[0] + 1 :] if not s.startswith("RELEASE SAVEPOINT")]
    if connection.vendor == "postgresql":
        assert len(after) == 1 and after[0].startswith("WITH inserted_0 AS (INSERT INTO")
        assert [part.split(" (")[0] for part in after[0].split("AS (")[1:]] == [
            'INSERT INTO "routing_ownership"',
            'INSERT INTO "routing_ownershipchange"',
        ]
    else:
        assert [s.split(" (")[0] for s in after] == [
            'INSERT INTO "routing_ownership"',
            'INSERT INTO "routing_ownershipchange"',
        ]
    stored = Lead.objects.get(pk=lead.pk)
    assert stored.assigned_at == stored.first_assigned_at == now
    assert stored.decision == decision.to_json()  # type: ignore[attr-defined]
    assert _owner_name(stored) == "Paz"
    change = OwnershipChange.objects.get(lead=stored)
    assert change.to_rep is not None and change.to_rep.name == "Paz" and change.from_rep is None


@pytest.mark.django_db(transaction=True)
def test_first_owner_is_only_for_a_record_inserted_in_the_callers_transaction(now: datetime) -> None:
    from routing.services.ownership import Record, first_owner
    from tests.factories import LeadFactory, RepFactory

    lead, rep = LeadFactory(), RepFactory()
    with pytest.raises(RuntimeError, match="inserted in the caller's transaction"):
        first_owner(Record(lead=lead), role="SALES", rep=rep, step="TERRITORY", why="test", actor="t", now=now)
    assert not Ownership.objects.exists()


@pytest.mark.django_db
def test_first_owner_answers_conflict_when_the_record_has_an_owner_already(now: datetime) -> None:
    from django.db import transaction

    from routing.services.ownership import Record, first_owner
    from tests.factories import LeadFactory, RepFactory

    lead, rep = LeadFactory(), RepFactory()
    fields = {"role": "SALES", "rep": rep, "step": "TERRITORY", "why": "test", "actor": "t", "now": now}
    first_owner(Record(lead=lead), **fields)  # type: ignore[arg-type]
    with pytest.raises(ServiceError) as caught, transaction.atomic():
        first_owner(Record(lead=lead), **fields)  # type: ignore[arg-type]
    assert caught.value.code == ErrorCode.CONFLICT
    with pytest.raises(ServiceError) as unknown:
        first_owner(Record(lead=lead), **{**fields, "role": "NOPE"})  # type: ignore[arg-type]
    assert unknown.value.code == ErrorCode.INVALID
    assert Ownership.objects.filter(lead=lead).count() == 1


@pytest.mark.django_db
def test_a_lead_matched_by_domain_reads_its_account_once(now: datetime, world_map: RuleSet) -> None:
    """The domain's statement brings the account whole (routing.matching._domain_rows): routing
    does not read it again by id."""
    from django.test.utils import CaptureQueriesContext

    acme = AccountFactory(name="Acme Rockets", domains=["acme.example"], country="US")
    with CaptureQueriesContext(connection) as queries:
        lead, decision = _route(now, email="wile@acme.example", company="Acme Rockets", country="US")
    assert lead.account_id == acme.pk and decision.match.method == "DOMAIN"  # type: ignore[attr-defined]
    account_reads = [q["sql"] for q in queries.captured_queries if 'FROM "routing_account" WHERE' in q["sql"]]
    assert account_reads == [], account_reads
    joined = 'FROM "routing_accountdomain" INNER JOIN "routing_account"'
    assert any(joined in q["sql"] for q in queries.captured_queries)

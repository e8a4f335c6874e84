"""territories.yaml: import as a draft, validate with line numbers, publish, export canonically."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection

from leadowner.errors import ErrorCode, ServiceError
from territories import services
from territories.models import Rep, RuleSet, Territory, TerritoryMember
from territories.policy import Policy
from territories.selectors import export_rule_set, policy_of, published_rule_set, rule_set_by_version
from territories.services import RuleSetInvalid, import_rule_set, publish_rule_set, validate_rule_set
from tests.factories import RepFactory

POLICY = """\
policy:
  activity_window_days: 10
  first_touch_sla_hours: 24
  dispute_sla_hours: 48
  departure_business_days: 1
  engagement_lookback_days: 90
  inbound_override: requested_rep
  claim_days: 30
  registration_days: 90
  rebalance_idle_days: 90
  fuzzy_threshold: 90
  duplicate_window_minutes: 60
"""
# Canonical: what export_rule_set writes (product.md key order, empty criteria left out).
CANONICAL = (
    "calendar: US\n"
    + POLICY
    + """\
territories:
  - name: US East
    priority: 0
    distribution: round_robin
    members: [ada@example.com, bo@example.com]
    match:
      countries: [US]
      subdivisions: [US-NY, US-NJ, US-MA]
  - name: US East - NYC
    parent: US East
    priority: 5
    distribution: round_robin
    members:
      - ada@example.com
      - {email: cy@example.com, weight: 3}
    match:
      cities: [New York]
  - name: Canada Quebec
    priority: 0
    distribution: load_balanced
    members: [bo@example.com]
    match:
      countries: [CA]
      subdivisions: [CA-QC]
      postal_prefixes: [H2, H3]
  - name: Enterprise EMEA
    priority: 10
    distribution: claim_queue
    members: [cy@example.com]
    match:
      countries: [GB, DE, IL]
      industries: [Financial Services]
      employees: {min: 2000}
      annual_revenue: {min: 0, max: 50000000}
"""
)


@pytest.fixture
def reps(db):
    return {name: RepFactory(email=f"{name}@example.com") for name in ("ada", "bo", "cy")}


def problems_of(text: str, now) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(RuleSetInvalid) as caught:
        import_rule_set(text, actor="test", now=now)
    return [(p.line, p.territory, p.field) for p in caught.value.problems]


@pytest.mark.django_db
def test_importing_territories_creates_a_new_draft_with_territories_and_members(reps, now):
    rule_set = import_rule_set(CANONICAL, actor="rita@example.com", now=now)
    assert (rule_set.version, rule_set.status, rule_set.calendar, rule_set.created_by) == (
        1,
        "DRAFT",
        "US",
        "rita@example.com",
    )
    assert rule_set.source == CANONICAL
    nyc = Territory.objects.get(rule_set=rule_set, name="US East - NYC")
    assert (nyc.parent.name, nyc.priority, nyc.criteria) == ("US East", 5, {"cities": ["New York"]})
    assert [(m.rep.email, m.weight) for m in nyc.memberships.order_by("position")] == [
        ("ada@example.com", 1),
        ("cy@example.com", 3),
    ]
    emea = Territory.objects.get(rule_set=rule_set, name="Enterprise EMEA")
    assert emea.distribution == "CLAIM_QUEUE"
    assert emea.criteria["employees"] == {"min": 2000}
    assert policy_of(rule_set) == Policy(activity_window_days=10, inbound_override="requested_rep")
    assert import_rule_set(CANONICAL, actor="test", now=now).version == 2


@pytest.mark.django_db
def test_names_of_countries_and_subdivisions_are_stored_as_iso_codes(reps, now):
    text = """\
territories:
  - name: Puerto Rico
    members: [ada@example.com]
    match: {countries: [Puerto Rico]}
  - name: Quebec
    members: [bo@example.com]
    match: {countries: [Canada], subdivisions: [Quebec]}
  - name: Israel
    members: [cy@example.com]
    match: {countries: IL}
"""
    rule_set = import_rule_set(text, actor="test", now=now)
    criteria = dict(Territory.objects.filter(rule_set=rule_set).values_list("name", "criteria"))
    assert criteria == {
        "Puerto Rico": {"countries": ["PR"]},
        "Quebec": {"countries": ["CA"], "subdivisions": ["CA-QC"]},
        "Israel": {"countries": ["IL"]},
    }
    assert rule_set.calendar == "US" and policy_of(rule_set) == Policy()


@pytest.mark.django_db
def test_territories_export_of_an_import_is_byte_exact(reps, now):
    assert export_rule_set(import_rule_set(CANONICAL, actor="test", now=now)) == CANONICAL


@pytest.mark.django_db
def test_yaml_problems_carry_line_numbers_and_territory_names_and_create_nothing(reps, now):
    text = """\
calendar: XX
policy:
  activity_window_days: -1
  coffee_breaks: 3
territories:
  - name: US East
    distribution: round_robbin
    members: [ada@example.com, ghost@example.com]
    match:
      countries: [US, Atlantis]
      subdivisions: [CA-QC]
      employees: {min: 500, max: 10}
      colours: [blue]
  - name: us east
    parent: Nowhere
    memebers: []
"""
    assert problems_of(text, now) == [
        (1, None, "calendar"),
        (3, None, "policy.activity_window_days"),
        (4, None, "policy.coffee_breaks"),
        (7, "US East", "distribution"),
        (8, "US East", "members"),
        (10, "US East", "match.countries"),
        (11, "US East", "match.subdivisions"),
        (12, "US East", "match.employees"),
        (13, "US East", "match.colours"),
        (14, "us east", "name"),
        (15, "us east", "parent"),
        (16, "us east", "memebers"),
    ]
    assert RuleSet.objects.count() == 0 and Territory.objects.count() == 0


@pytest.mark.django_db
def test_a_yaml_syntax_error_names_its_line(reps, now):
    text = "territories:\n  - name: A\n    members: [ada@example.com\n  - name: B\n"
    [(line, territory, _)] = problems_of(text, now)
    assert line is not None and line >= 3 and territory is None


@pytest.mark.django_db
def test_a_parent_cycle_in_territories_is_a_problem(reps, now):
    text = """\
territories:
  - name: A
    parent: B
  - name: B
    parent: A
  - name: C
    parent: C
"""
    assert problems_of(text, now) == [(3, "A", "parent"), (5, "B", "parent"), (7, "C", "parent")]


@pytest.mark.django_db
def test_a_territory_member_must_be_a_known_active_rep(reps, now):
    RepFactory(email="gone@example.com", status="DEPARTED")
    text = (
        "territories:\n  - name: A\n    members:\n      - gone@example.com\n      - {email: x@example.com, weight: 0}\n"
    )
    with pytest.raises(RuleSetInvalid) as caught:
        import_rule_set(text, actor="test", now=now)
    assert [str(p) for p in caught.value.problems] == [
        "line 4: territory 'A': members: gone@example.com has departed",
        "line 5: territory 'A': members.weight: 0 must be 1 to 1000",
    ]


@pytest.mark.django_db
def test_ambiguous_territories_are_a_problem_and_the_file_creates_nothing(reps, now):
    text = """\
territories:
  - name: Israel A
    members: [ada@example.com]
    match: {countries: [IL]}
  - name: Israel B
    members: [bo@example.com]
    match: {countries: [IL]}
"""
    with pytest.raises(RuleSetInvalid) as caught:
        import_rule_set(text, actor="test", now=now)
    [problem] = caught.value.problems
    assert (problem.line, problem.territory, problem.field) == (4, "Israel A", "match")
    assert "Israel B" in problem.message
    assert RuleSet.objects.count() == 0 and Territory.objects.count() == 0


@pytest.mark.django_db
def test_a_priority_settles_what_would_be_ambiguous(reps, now):
    text = """\
territories:
  - name: Israel A
    priority: 1
    match: {countries: [IL]}
  - name: Israel B
    match: {countries: [IL]}
"""
    assert validate_rule_set(import_rule_set(text, actor="test", now=now)) == []


@pytest.mark.django_db
def test_validate_reports_a_member_who_departed_after_the_import_with_the_line(reps, now):
    rule_set = import_rule_set(CANONICAL, actor="test", now=now)
    Rep.objects.filter(email="bo@example.com").update(status="DEPARTED")
    assert [str(p) for p in validate_rule_set(rule_set)] == [
        "line 18: territory 'US East': members: bo@example.com has departed",
        "line 34: territory 'Canada Quebec': members: bo@example.com has departed",
    ]


@pytest.mark.django_db
def test_validate_reports_a_rep_deleted_after_the_import_as_unknown(reps, now):
    rule_set = import_rule_set(CANONICAL, actor="test", now=now)
    reps["cy"].delete()  # cascades to the memberships
    assert {(p.line, p.territory, p.message) for p in validate_rule_set(rule_set)} == {
        (28, "US East - NYC", "unknown rep cy@example.com"),
        (42, "Enterprise EMEA", "unknown rep cy@example.com"),
    }


@pytest.mark.django_db
def test_publish_archives_the_previous_version(reps, now):
    first = import_rule_set(CANONICAL, actor="test", now=now)
    publish_rule_set(version=first.version, actor="test", now=now)
    second = import_rule_set(CANONICAL, actor="test", now=now)
    later = now + timedelta(hours=1)
    published = publish_rule_set(version=second.version, actor="test", now=later)
    assert (published.version, published.status, published.published_at) == (2, "PUBLISHED", later)
    assert rule_set_by_version(1).status == "ARCHIVED"
    assert published_rule_set() == published


@pytest.mark.django_db
def test_a_draft_with_problems_cannot_be_published(reps, now):
    draft = import_rule_set(CANONICAL, actor="test", now=now)
    Rep.objects.filter(email="ada@example.com").update(status="DEPARTED")
    with pytest.raises(RuleSetInvalid) as caught:
        publish_rule_set(version=draft.version, actor="test", now=now)
    assert all("ada@example.com has departed" in p.message for p in caught.value.problems)
    assert rule_set_by_version(draft.version).status == "DRAFT"
    assert published_rule_set() is None


@pytest.mark.django_db
def test_only_a_draft_can_be_published(reps, now):
    draft = import_rule_set(CANONICAL, actor="test", now=now)
    publish_rule_set(version=draft.version, actor="test", now=now)
    with pytest.raises(ServiceError) as caught:
        publish_rule_set(version=draft.version, actor="test", now=now)
    assert caught.value.code == ErrorCode.INVALID_TRANSITION
    with pytest.raises(ServiceError) as missing:
        publish_rule_set(version=99, actor="test", now=now)
    assert missing.value.code == ErrorCode.NOT_FOUND


def _race(drafts: list[int], now, monkeypatch) -> list[str]:
    """Publish each draft from its own thread, both having read the same current rule set."""
    barrier = threading.Barrier(len(drafts), timeout=20)
    real = services.published_rule_set

    def read_then_wait():
        current = real()
        barrier.wait()
        return current

    monkeypatch.setattr(services, "published_rule_set", read_then_wait)
    outcomes: list[str] = []

    def publish(version: int) -> None:
        try:
            publish_rule_set(version=version, actor="test", now=now)
            outcomes.append("published")
        except ServiceError as exc:
            outcomes.append(exc.code.value)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(v,)) for v in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return sorted(outcomes)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_publishes_exactly_one_wins(reps, now, monkeypatch):
    base = import_rule_set(CANONICAL, actor="test", now=now)
    publish_rule_set(version=base.version, actor="test", now=now)
    drafts = [import_rule_set(CANONICAL, actor="test", now=now).version for _ in range(2)]
    assert _race(drafts, now, monkeypatch) == ["CONFLICT", "published"]
    assert RuleSet.objects.filter(status="PUBLISHED").count() == 1
    assert rule_set_by_version(base.version).status == "ARCHIVED"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_first_publishes_exactly_one_wins(reps, now, monkeypatch):
    drafts = [import_rule_set(CANONICAL, actor="test", now=now).version for _ in range(2)]
    assert _race(drafts, now, monkeypatch) == ["CONFLICT", "published"]
    assert RuleSet.objects.filter(status="PUBLISHED").count() == 1
    assert RuleSet.objects.filter(status="DRAFT").count() == 1


@pytest.mark.django_db
def test_weighted_members_keep_their_order(reps, now):
    rule_set = import_rule_set(CANONICAL, actor="test", now=now)
    members = TerritoryMember.objects.filter(territory__rule_set=rule_set, territory__name="US East")
    assert [m.rep.email for m in members.order_by("position")] == ["ada@example.com", "bo@example.com"]


@pytest.mark.django_db
def test_a_territory_name_a_spreadsheet_would_run_is_a_problem(reps, now):
    text = "territories:\n  - name: \"=cmd|' /C calc'!A0\"\n    members: [ada@example.com]\n"
    with pytest.raises(RuleSetInvalid) as caught:
        import_rule_set(text, actor="test", now=now)
    [problem] = caught.value.problems
    assert (problem.line, problem.field) == (2, "name")
    assert "spreadsheet" in str(problem)

"""Draft rule sets: copy a version, edit its territories and policy; published versions never change."""

from __future__ import annotations

from datetime import datetime

import pytest

from leadowner.actors import Actor
from leadowner.errors import ServiceError, ServiceErrors
from territories.diff import rule_set_diff
from territories.models import RuleSet, Territory, TerritoryMember
from territories.services import (
    create_draft_from,
    export_rule_set,
    publish_rule_set,
    update_policy,
    update_territory,
    validate_rule_set,
)
from tests.factories import ManagerFactory, RepFactory, RuleSetFactory, TerritoryFactory, TerritoryMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager() -> Actor:
    return Actor(rep=ManagerFactory())


@pytest.fixture
def published() -> RuleSet:
    rule_set = RuleSetFactory(version=1, status="PUBLISHED", policy={"activity_window_days": 14})
    emea = TerritoryFactory(rule_set=rule_set, name="EMEA", criteria={"countries": ["GB", "DE"]}, position=0)
    uk = TerritoryFactory(
        rule_set=rule_set, name="UK Finance", parent=emea, priority=5, position=1,
        criteria={"countries": ["GB"], "industries": ["Financial Services"], "employees": {"min": 1000}},
    )  # fmt: skip
    TerritoryMemberFactory(territory=emea, rep=RepFactory(email="ada@example.com"), weight=3, position=0)
    TerritoryMemberFactory(territory=emea, rep=RepFactory(email="bo@example.com"), weight=1, position=1)
    TerritoryMemberFactory(territory=uk, rep=RepFactory(email="cy@example.com"), weight=1, position=0)
    return rule_set


def _draft(published: RuleSet, manager: Actor, now: datetime) -> RuleSet:
    return create_draft_from(version=published.version, actor=manager, now=now)


def _territory(rule_set: RuleSet, name: str) -> Territory:
    return Territory.objects.get(rule_set=rule_set, name=name)


def test_a_new_draft_copies_territories_parents_members_weights_and_policy(
    published: RuleSet, manager: Actor, now: datetime
) -> None:
    draft = _draft(published, manager, now)

    assert draft.version == 2 and draft.status == "DRAFT"
    assert draft.policy == published.policy and draft.calendar == published.calendar
    assert draft.created_by == manager.label
    uk = _territory(draft, "UK Finance")
    assert uk.parent == _territory(draft, "EMEA")  # the copy's parent, not the original's
    assert uk.priority == 5
    assert uk.criteria == {"countries": ["GB"], "industries": ["Financial Services"], "employees": {"min": 1000}}
    members = [
        (m.rep.email, m.weight)
        for m in TerritoryMember.objects.filter(territory__name="EMEA", territory__rule_set=draft)
    ]
    assert members == [("ada@example.com", 3), ("bo@example.com", 1)]
    assert rule_set_diff(published, draft) == []
    # The copy exports like the original (but for the note saying where it came from), and is valid.
    assert export_rule_set(draft) == export_rule_set(published).replace("policy:", "note: draft from v1\npolicy:", 1)
    assert validate_rule_set(draft) == []


def test_copying_a_missing_version_is_not_found(manager: Actor, now: datetime) -> None:
    with pytest.raises(ServiceError) as caught:
        create_draft_from(version=99, actor=manager, now=now)
    assert caught.value.code == "NOT_FOUND"


def test_only_managers_and_revops_make_drafts(published: RuleSet, now: datetime) -> None:
    with pytest.raises(ServiceError) as caught:
        create_draft_from(version=published.version, actor=Actor(rep=RepFactory()), now=now)
    assert caught.value.code == "FORBIDDEN"
    assert RuleSet.objects.count() == 1


def test_a_published_rule_set_is_immutable(published: RuleSet, manager: Actor, now: datetime) -> None:
    with pytest.raises(ServiceError) as caught:
        update_territory(territory_id=_territory(published, "EMEA").pk, priority=3, actor=manager, now=now)
    assert caught.value.code == "INVALID_TRANSITION"
    assert "make a new draft" in caught.value.message
    with pytest.raises(ServiceError):
        update_policy(version=published.version, values={}, calendar="US", actor=manager, now=now)
    assert _territory(published, "EMEA").priority == 0


def test_criteria_values_are_added_in_their_canonical_form_and_removed(
    published: RuleSet, manager: Actor, now: datetime
) -> None:
    draft = _draft(published, manager, now)
    emea = _territory(draft, "EMEA")

    update_territory(territory_id=emea.pk, add_criteria={"countries": ["France", "nl"]}, actor=manager, now=now)
    update_territory(territory_id=emea.pk, remove_criteria={"countries": ["de"]}, actor=manager, now=now)
    emea.refresh_from_db()

    assert emea.criteria == {"countries": ["GB", "FR", "NL"]}
    changes = [str(c) for c in rule_set_diff(published, draft)]
    assert "EMEA: countries added: FR, NL" in changes
    assert "EMEA: countries removed: DE" in changes
    assert "EMEA: now matches: country is GB, FR or NL" in changes


def test_a_bad_criteria_value_names_its_field_and_changes_nothing(
    published: RuleSet, manager: Actor, now: datetime
) -> None:
    draft = _draft(published, manager, now)
    emea = _territory(draft, "EMEA")
    with pytest.raises(ServiceErrors) as caught:
        update_territory(
            territory_id=emea.pk,
            add_criteria={"countries": ["Atlantis"], "cities": ["London"]},
            priority=7,
            actor=manager,
            now=now,
        )
    assert [(e.field, e.code) for e in caught.value.errors] == [("countries", "INVALID")]
    assert "unknown country 'Atlantis'" in caught.value.errors[0].message
    emea.refresh_from_db()
    assert emea.criteria == {"countries": ["GB", "DE"]} and emea.priority == 0


def test_removing_a_country_its_subdivisions_need_is_refused(published: RuleSet, manager: Actor, now: datetime) -> None:
    draft = _draft(published, manager, now)
    emea = _territory(draft, "EMEA")
    update_territory(territory_id=emea.pk, add_criteria={"subdivisions": ["GB-ENG"]}, actor=manager, now=now)
    with pytest.raises(ServiceErrors) as caught:
        update_territory(territory_id=emea.pk, remove_criteria={"countries": ["GB"]}, actor=manager, now=now)
    assert caught.value.errors[0].field == "subdivisions"
    assert "can never match" in caught.value.errors[0].message


def test_a_range_is_set_checked_and_cleared(published: RuleSet, manager: Actor, now: datetime) -> None:
    draft = _draft(published, manager, now)
    uk = _territory(draft, "UK Finance")
    with pytest.raises(ServiceErrors) as caught:
        update_territory(territory_id=uk.pk, ranges={"annual_revenue": {"min": 10, "max": 5}}, actor=manager, now=now)
    assert caught.value.errors[0].field == "annual_revenue"
    assert "min 10 is more than max 5" in caught.value.errors[0].message

    update_territory(
        territory_id=uk.pk, ranges={"annual_revenue": {"min": 0, "max": 5_000_000}}, actor=manager, now=now
    )
    update_territory(territory_id=uk.pk, ranges={"employees": None}, actor=manager, now=now)
    uk.refresh_from_db()
    assert uk.criteria["annual_revenue"] == {"min": 0, "max": 5_000_000}
    assert "employees" not in uk.criteria
    assert "UK Finance: employees: at least 1,000 → any" in [str(c) for c in rule_set_diff(published, draft)]


def test_members_are_added_with_a_weight_reweighted_and_removed(
    published: RuleSet, manager: Actor, now: datetime
) -> None:
    draft = _draft(published, manager, now)
    emea = _territory(draft, "EMEA")
    dee = RepFactory(email="dee@example.com")
    ada = TerritoryMember.objects.get(territory=emea, rep__email="ada@example.com").rep
    bo = TerritoryMember.objects.get(territory=emea, rep__email="bo@example.com").rep

    update_territory(territory_id=emea.pk, add_members=[(dee.pk, 2)], actor=manager, now=now)
    update_territory(territory_id=emea.pk, weights={ada.pk: 1}, remove_members=[bo.pk], actor=manager, now=now)

    members = [(m.rep.email, m.weight) for m in TerritoryMember.objects.filter(territory=emea).order_by("position")]
    assert members == [("ada@example.com", 1), ("dee@example.com", 2)]
    changes = [c.text for c in rule_set_diff(published, draft) if c.territory == "EMEA"]
    assert changes == [
        "member added: dee@example.com (weight 2)",
        "member removed: bo@example.com",
        "weight of ada@example.com: 3 → 1",
    ]
    # The published map still has the old members.
    assert TerritoryMember.objects.filter(territory__rule_set=published, rep=bo).exists()


def test_a_departed_rep_a_second_membership_or_a_bad_weight_is_refused(
    published: RuleSet, manager: Actor, now: datetime
) -> None:
    draft = _draft(published, manager, now)
    emea = _territory(draft, "EMEA")
    gone = RepFactory(status="DEPARTED")
    ada = TerritoryMember.objects.get(territory=emea, rep__email="ada@example.com").rep
    fresh = RepFactory()
    with pytest.raises(ServiceErrors) as caught:
        update_territory(
            territory_id=emea.pk, add_members=[(gone.pk, 1), (ada.pk, 1), (fresh.pk, 0)], actor=manager, now=now
        )
    assert [(e.field, e.code) for e in caught.value.errors] == [
        ("members", "INVALID"),
        ("members", "CONFLICT"),
        ("weight", "INVALID"),
    ]
    assert TerritoryMember.objects.filter(territory=emea).count() == 2


def test_distribution_priority_and_parent_change_and_a_parent_loop_is_refused(
    published: RuleSet, manager: Actor, now: datetime
) -> None:
    draft = _draft(published, manager, now)
    emea, uk = _territory(draft, "EMEA"), _territory(draft, "UK Finance")

    update_territory(
        territory_id=uk.pk, distribution="load_balanced", priority=9, parent_id=None, actor=manager, now=now
    )
    uk.refresh_from_db()
    assert (uk.distribution, uk.priority, uk.parent_id) == ("LOAD_BALANCED", 9, None)

    update_territory(territory_id=emea.pk, parent_id=uk.pk, actor=manager, now=now)
    with pytest.raises(ServiceErrors) as caught:
        update_territory(territory_id=uk.pk, parent_id=emea.pk, actor=manager, now=now)
    assert caught.value.errors[0].field == "parent" and "loop" in caught.value.errors[0].message
    with pytest.raises(ServiceErrors) as other:
        update_territory(territory_id=uk.pk, parent_id=_territory(published, "EMEA").pk, actor=manager, now=now)
    assert "same rule set" in other.value.errors[0].message
    with pytest.raises(ServiceErrors) as bad:
        update_territory(territory_id=uk.pk, distribution="lottery", actor=manager, now=now)
    assert bad.value.errors[0].field == "distribution"


def test_an_edited_draft_keeps_its_yaml_in_step_so_problems_name_real_lines(
    published: RuleSet, manager: Actor, now: datetime
) -> None:
    draft = _draft(published, manager, now)
    emea, uk = _territory(draft, "EMEA"), _territory(draft, "UK Finance")
    # Two equally specific, equally prioritised, overlapping territories: ambiguous.
    update_territory(territory_id=uk.pk, parent_id=None, priority=0, actor=manager, now=now)
    update_territory(territory_id=uk.pk, remove_criteria={"industries": ["Financial Services"]}, actor=manager, now=now)
    update_territory(territory_id=uk.pk, ranges={"employees": None}, actor=manager, now=now)
    update_territory(territory_id=emea.pk, remove_criteria={"countries": ["DE"]}, actor=manager, now=now)

    draft.refresh_from_db()
    assert draft.source == export_rule_set(draft)
    problems = validate_rule_set(draft)
    assert len(problems) == 1 and "ambiguous" in problems[0].message
    line = draft.source.splitlines()[problems[0].line - 1]
    assert line.strip() == "countries: [GB]"  # the match block of the first territory named


def test_the_draft_policy_is_validated_per_setting_and_saved_whole(
    published: RuleSet, manager: Actor, now: datetime
) -> None:
    draft = _draft(published, manager, now)
    with pytest.raises(ServiceErrors) as caught:
        update_policy(
            version=draft.version,
            values={"activity_window_days": "soon", "fuzzy_threshold": 20, "dispute_sla_hours": 24},
            calendar="XX",
            actor=manager,
            now=now,
        )
    by_field = {e.field: e.message for e in caught.value.errors}
    assert set(by_field) == {"calendar", "activity_window_days", "fuzzy_threshold"}
    assert "must be a whole number" in by_field["activity_window_days"]
    assert "between 50 and 100" in by_field["fuzzy_threshold"]
    draft.refresh_from_db()
    assert draft.policy == published.policy

    saved = update_policy(
        version=draft.version, values={"activity_window_days": 21, "inbound_override": "requested_rep"},
        calendar="gb", actor=manager, now=now,
    )  # fmt: skip
    assert saved.calendar == "GB"
    assert saved.policy["activity_window_days"] == 21 and saved.policy["inbound_override"] == "requested_rep"
    assert saved.policy["dispute_sla_hours"] == 48  # left out: the default
    texts = [c.text for c in rule_set_diff(published, saved)]
    assert "calendar: US → GB" in texts
    assert "policy activity window days: 14 → 21" in texts


def test_a_draft_edited_and_published_routes_with_the_edit(published: RuleSet, manager: Actor, now: datetime) -> None:
    draft = _draft(published, manager, now)
    update_territory(
        territory_id=_territory(draft, "EMEA").pk, add_criteria={"countries": ["FR"]}, actor=manager, now=now
    )
    publish_rule_set(version=draft.version, actor=manager.label, now=now)
    published.refresh_from_db()
    assert published.status == "ARCHIVED"
    with pytest.raises(ServiceError) as caught:
        update_territory(territory_id=_territory(draft, "EMEA").pk, priority=1, actor=manager, now=now)
    assert caught.value.code == "INVALID_TRANSITION"

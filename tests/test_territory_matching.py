"""Territory rules: hard criteria, inheritance, specificity, priority, ambiguity, words."""

from __future__ import annotations

import pytest

from territories.matching import (
    Facts,
    criteria_in_words,
    criteria_match,
    find_ambiguities,
    find_territory,
    specificity,
)
from tests.factories import RuleSetFactory, TerritoryFactory

pytestmark = pytest.mark.django_db


def test_every_key_given_must_hold_and_any_value_within_a_key_will_do() -> None:
    criteria = {"countries": ["US", "CA"], "industries": ["Software"]}
    assert criteria_match(criteria, Facts(country="CA", industry="software"))
    assert not criteria_match(criteria, Facts(country="CA", industry="Retail"))
    assert not criteria_match(criteria, Facts(country="MX", industry="Software"))


def test_a_missing_fact_fails_the_key_that_needs_it() -> None:
    assert not criteria_match({"employees": {"min": 10}}, Facts(country="US"))
    assert not criteria_match({"cities": ["Paris"]}, Facts(country="FR"))


def test_cities_compare_without_case_or_accents() -> None:
    assert criteria_match({"cities": ["Montréal"]}, Facts(city="MONTREAL"))
    assert criteria_match({"cities": ["New York"]}, Facts(city="new york city"))
    assert not criteria_match({"cities": ["New York"]}, Facts(city="Newark"))


def test_postal_prefixes_match_the_start_of_the_postal_code() -> None:
    criteria = {"postal_prefixes": ["100", "SW1"]}
    assert criteria_match(criteria, Facts(postal_code="10013"))
    assert criteria_match(criteria, Facts(postal_code="sw1a 1aa"))
    assert not criteria_match(criteria, Facts(postal_code="11001"))


def test_ranges_are_inclusive_at_both_ends() -> None:
    criteria = {"employees": {"min": 2000}, "annual_revenue": {"min": 0, "max": 50_000_000}}
    assert criteria_match(criteria, Facts(employees=2000, annual_revenue=50_000_000))
    assert criteria_match(criteria, Facts(employees=5000, annual_revenue=0))
    assert not criteria_match(criteria, Facts(employees=1999, annual_revenue=10))
    assert not criteria_match(criteria, Facts(employees=2000, annual_revenue=50_000_001))


def test_narrower_geography_and_more_keys_are_more_specific() -> None:
    city = specificity({"cities": ["New York"]})
    subdivision = specificity({"subdivisions": ["US-NY"]})
    country = specificity({"countries": ["US"]})
    assert city > subdivision > country > specificity({})
    assert specificity({"countries": ["US"], "industries": ["Software"]}) > specificity({"subdivisions": ["US-NY"]})
    assert specificity({"countries": ["IL"]}) > specificity({"countries": ["GB", "DE", "IL"]})


def test_a_child_is_more_specific_than_its_parent_even_with_the_same_criteria() -> None:
    parent = {"countries": ["US"]}
    assert specificity({"countries": ["US"]}, inherited=[parent], depth=1) > specificity(parent)
    assert specificity({}, inherited=[parent], depth=1) > specificity(parent)


def test_a_lead_in_new_york_city_goes_to_the_child_territory_not_its_parent() -> None:
    rs = RuleSetFactory()
    east = TerritoryFactory(rule_set=rs, name="US East", criteria={"subdivisions": ["US-NY", "US-NJ"]})
    nyc = TerritoryFactory(rule_set=rs, name="NYC", parent=east, criteria={"cities": ["New York"]})
    choice = find_territory(rs.territories.all(), Facts(country="US", subdivision="US-NY", city="New York"))
    assert choice.territory == nyc
    assert choice.matched_on == "city New York"
    assert "'US East' also matches but is less specific" in choice.considered
    upstate = find_territory(rs.territories.all(), Facts(country="US", subdivision="US-NY", city="Albany"))
    assert upstate.territory == east


def test_a_child_matches_only_when_its_parent_criteria_also_hold() -> None:
    rs = RuleSetFactory()
    east = TerritoryFactory(rule_set=rs, name="US East", criteria={"countries": ["US"]})
    TerritoryFactory(rule_set=rs, name="Paris-ish", parent=east, criteria={"cities": ["Paris"]})
    choice = find_territory(rs.territories.all(), Facts(country="FR", city="Paris"))
    assert choice.territory is None
    assert "'Paris-ish' does not match: its parent 'US East' does not" in choice.considered


def test_priority_breaks_a_tie_between_equally_specific_matches() -> None:
    rs = RuleSetFactory()
    TerritoryFactory(rule_set=rs, name="North America", criteria={"countries": ["US"]}, priority=0)
    strategic = TerritoryFactory(rule_set=rs, name="Strategic", criteria={"countries": ["US"]}, priority=5)
    choice = find_territory(rs.territories.all(), Facts(country="US"))
    assert choice.territory == strategic
    assert choice.tied == []
    assert "'North America' also matches but is lower priority (0 < 5)" in choice.considered


def test_an_unbroken_tie_is_reported_with_the_winner() -> None:
    rs = RuleSetFactory()
    first = TerritoryFactory(rule_set=rs, name="A", criteria={"countries": ["US"]}, position=0)
    second = TerritoryFactory(rule_set=rs, name="B", criteria={"countries": ["US"]}, position=1)
    choice = find_territory(rs.territories.all(), Facts(country="US"))
    assert choice.territory == first
    assert choice.tied == [second]


def test_overlapping_equally_specific_territories_of_equal_priority_are_ambiguous() -> None:
    rs = RuleSetFactory()
    TerritoryFactory(rule_set=rs, name="US East", criteria={"subdivisions": ["US-NY", "US-NJ"]})
    TerritoryFactory(rule_set=rs, name="US North", criteria={"subdivisions": ["US-NY", "US-MA"]})
    assert find_ambiguities(rs.territories.all()) == [
        "'US East' and 'US North' are equally specific with priority 0 and both match leads in US-NY; "
        "give one a higher priority or narrow its criteria"
    ]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"countries": ["US"]}, {"countries": ["CA"]}),
        ({"subdivisions": ["US-NY"]}, {"subdivisions": ["US-NJ"]}),
        ({"countries": ["CA"], "subdivisions": ["US-NY"]}, {"countries": ["CA"], "subdivisions": ["CA-QC"]}),
        ({"employees": {"max": 499}}, {"employees": {"min": 500}}),
        ({"postal_prefixes": ["100"]}, {"postal_prefixes": ["101", "11"]}),
        ({"industries": ["Retail"]}, {"industries": ["Software"]}),
        ({"cities": ["New York"]}, {"cities": ["Boston"]}),
    ],
)
def test_territories_whose_criteria_cannot_both_hold_are_not_ambiguous(a: dict, b: dict) -> None:
    rs = RuleSetFactory()
    TerritoryFactory(rule_set=rs, name="A", criteria=a)
    TerritoryFactory(rule_set=rs, name="B", criteria=b)
    assert find_ambiguities(rs.territories.all()) == []


def test_overlap_is_reasoned_per_key_for_prefixes_and_ranges() -> None:
    rs = RuleSetFactory()
    TerritoryFactory(rule_set=rs, name="A", criteria={"postal_prefixes": ["10"], "employees": {"max": 1000}})
    TerritoryFactory(rule_set=rs, name="B", criteria={"postal_prefixes": ["100"], "employees": {"min": 500}})
    [problem] = find_ambiguities(rs.territories.all())
    assert "with postal codes starting 100" in problem
    assert "with 500–1,000 employees" in problem


def test_different_priority_or_specificity_or_parent_child_is_not_ambiguous() -> None:
    rs = RuleSetFactory()
    us = TerritoryFactory(rule_set=rs, name="US", criteria={"countries": ["US"]})
    TerritoryFactory(rule_set=rs, name="US Strategic", criteria={"countries": ["US"]}, priority=1)
    TerritoryFactory(rule_set=rs, name="US child", parent=us, criteria={"countries": ["US"]})
    TerritoryFactory(rule_set=rs, name="New York", criteria={"subdivisions": ["US-NY"]})
    assert find_ambiguities(rs.territories.all()) == []


def test_children_inherit_criteria_when_checking_overlap() -> None:
    rs = RuleSetFactory()
    us = TerritoryFactory(rule_set=rs, name="US", criteria={"countries": ["US"]})
    ca = TerritoryFactory(rule_set=rs, name="CA", criteria={"countries": ["CA"]})
    TerritoryFactory(rule_set=rs, name="US Retail", parent=us, criteria={"industries": ["Retail"]})
    TerritoryFactory(rule_set=rs, name="CA Retail", parent=ca, criteria={"industries": ["Retail"]})
    assert find_ambiguities(rs.territories.all()) == []


def test_criteria_read_as_plain_words() -> None:
    words = criteria_in_words(
        {
            "countries": ["US", "CA"],
            "subdivisions": ["CA-QC"],
            "postal_prefixes": ["H2"],
            "industries": ["Financial Services"],
            "employees": {"min": 2000},
            "annual_revenue": {"min": 0, "max": 50_000_000},
        }
    )
    assert words == (
        "country is US or CA; subdivision is CA-QC; postal code starts with H2; industry is Financial Services; "
        "2,000+ employees; annual revenue 0–50,000,000"
    )
    assert criteria_in_words({}) == "every lead"
    small_nyc = criteria_in_words({"cities": ["New York"], "employees": {"max": 50}})
    assert small_nyc == "city is New York; up to 50 employees"


def test_an_index_finds_what_checking_every_territory_finds() -> None:
    """TerritoryIndex checks only the territories a lead's country admits: same choice, ties and words."""
    from territories.matching import TerritoryIndex

    rs = RuleSetFactory()
    americas = TerritoryFactory(rule_set=rs, name="Americas", criteria={"countries": ["US", "CA", "PR"]}, position=0)
    TerritoryFactory(rule_set=rs, name="US East", parent=americas, criteria={"subdivisions": ["US-NY"]}, position=1)
    TerritoryFactory(
        rule_set=rs, name="Quebec", parent=americas, criteria={"countries": ["CA"], "subdivisions": ["CA-QC"]}
    )
    TerritoryFactory(rule_set=rs, name="Puerto Rico", criteria={"countries": ["PR"]}, position=3)
    TerritoryFactory(rule_set=rs, name="Not US", parent=americas, criteria={"countries": ["FR"]}, position=4)
    TerritoryFactory(rule_set=rs, name="Big anywhere", criteria={"employees": {"min": 5000}}, position=5)
    TerritoryFactory(rule_set=rs, name="Software", criteria={"industries": ["Software"]}, priority=2, position=6)
    TerritoryFactory(rule_set=rs, name="Software twin", criteria={"industries": ["Software"]}, priority=2, position=7)
    TerritoryFactory(rule_set=rs, name="Everything", criteria={}, position=8)
    territories = list(rs.territories.all())
    index = TerritoryIndex(territories)
    facts = [
        Facts(country=country, subdivision=subdivision, industry=industry, employees=employees)
        for country, subdivision in (
            ("US", "US-NY"),
            ("us", "US-CA"),
            ("CA", "CA-QC"),
            ("PR", ""),
            ("FR", ""),
            ("", ""),
        )
        for industry in ("", "Software")
        for employees in (None, 10, 9000)
    ]
    for fact in facts:
        plain = find_territory(territories, fact, misses=False)
        indexed = find_territory(territories, fact, misses=False, index=index)
        assert (indexed.territory, indexed.tied, indexed.considered, indexed.matched_on) == (
            plain.territory,
            plain.tied,
            plain.considered,
            plain.matched_on,
        ), fact
        assert find_territory(territories, fact, index=index) == find_territory(territories, fact)  # every miss too
        quiet = find_territory(territories, fact, explain=False)  # bulk placement's way (routing.placement)
        assert find_territory(territories, fact, explain=False, index=index) == quiet
    assert len(index.candidates(Facts(country="FR"))) < len(territories)

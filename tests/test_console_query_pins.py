"""Every console screen has a test pinning its SQL count whatever the number of rows it shows.

The console's URLs are read from leadowner.web_urls: a new screen without a pin fails here,
so the rule cannot regress quietly. Actions (POST endpoints that answer with a redirect or a
screen already pinned) and file downloads are listed apart, each with why.
"""

from __future__ import annotations

import importlib

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from leadowner.web_urls import console_patterns

# url name -> (test module, test function) that pins its SQL count.
PINNED = {
    "home": ("tests.test_console_ops", "test_home_costs_the_same_queries_whatever_the_book"),
    "login": ("tests.test_console_query_pins", "test_the_sign_in_page_costs_no_query"),
    "lookup": ("tests.test_console_lookup", "test_the_lookup_page_costs_the_same_queries_whatever_the_history_length"),
    "account": (
        "tests.test_console_records",
        "test_the_account_page_costs_the_same_queries_whatever_the_size_of_the_record",
    ),
    "lead": ("tests.test_console_records", "test_the_lead_page_costs_the_same_queries_whatever_the_size_of_the_record"),
    "unassigned": ("tests.test_console_queues", "test_the_unassigned_queue_costs_the_same_queries_whatever_its_length"),
    "claim_queue": ("tests.test_console_queues", "test_the_claim_queue_costs_the_same_queries_whatever_its_length"),
    "registrations": (
        "tests.test_console_queues",
        "test_the_registrations_queue_costs_the_same_queries_whatever_its_length",
    ),
    "simulate": (
        "tests.test_console_simulate",
        "test_the_screen_adds_a_constant_number_of_queries_to_what_routing_reads_per_lead",
    ),
    "audit": ("tests.test_console_audit", "test_the_audit_log_costs_the_same_queries_whatever_its_length"),
    "rebalancing": ("tests.test_console_rebalancing", "test_the_plans_list_costs_the_same_queries_whatever_its_length"),
    "rebalance_plan": (
        "tests.test_console_rebalancing",
        "test_the_plan_page_costs_the_same_queries_whatever_its_moves",
    ),
    "territories": (
        "tests.test_console_territories",
        "test_the_map_costs_the_same_queries_whatever_the_number_of_territories",
    ),
    "territory_diff": (
        "tests.test_console_territories",
        "test_the_map_screens_cost_the_same_queries_whatever_the_number_of_territories",
    ),
    "territory_validate": (
        "tests.test_console_territories",
        "test_the_map_screens_cost_the_same_queries_whatever_the_number_of_territories",
    ),
    "territory_publish": (
        "tests.test_console_territories",
        "test_publishing_costs_the_same_queries_whatever_the_number_of_territories",
    ),
    "territory_import": (
        "tests.test_console_territories",
        "test_importing_costs_the_same_queries_whatever_the_number_of_territories",
    ),
    "territory_edit": (
        "tests.test_console_territories",
        "test_the_territory_editor_costs_the_same_queries_whatever_its_size",
    ),
    "roster": ("tests.test_console_roster", "test_the_roster_costs_the_same_queries_whatever_the_number_of_reps"),
    "roster_rep": ("tests.test_console_roster", "test_the_rep_page_costs_the_same_queries_whatever_the_rep_owns"),
    "roster_depart": (
        "tests.test_console_roster",
        "test_the_departure_preview_costs_the_same_queries_whatever_the_rep_owns",
    ),
    "disputes": ("tests.test_console_queues", "test_the_dispute_queue_costs_the_same_queries_whatever_its_length"),
    "dispute": (
        "tests.test_console_queues",
        "test_the_dispute_page_lists_its_escalations_and_costs_the_same_queries_whatever_their_number",
    ),
    "jobs": ("tests.test_console_ops", "test_jobs_cost_the_same_queries_whatever_the_runs"),
    "metrics": ("tests.test_console_metrics", "test_the_metrics_page_costs_the_same_queries_whatever_the_book"),
    "settings": ("tests.test_console_ops", "test_settings_cost_the_same_queries_whatever_the_versions"),
    "notifications": (
        "tests.test_console_notifications",
        "test_the_notifications_screen_costs_the_same_queries_whatever_its_length",
    ),
    "access": ("tests.test_console_access_log", "test_the_access_log_costs_the_same_queries_whatever_its_length"),
}

# Not screens: each answers with a redirect, or with a screen pinned above, or is a file.
NOT_SCREENS = {
    "logout": "signs out and redirects",
    "account_transfer": "an action: answers with the account page's ownership panel",
    "lead_reroute": "an action: answers with the lead page's routing panel",
    "lead_transfer": "an action: answers with the lead page's routing panel",
    "audit_csv": "a download: the audit log's rows streamed in chunks",
    "metrics_csv": "a download: one metric's numbers",
    "territory_export": "a download: a version's territories.yaml",
    "territory_draft": "an action: copies a version and redirects to the map",
    "rebalancing_build": "an action: builds a plan and redirects to it",
    "rebalance_plan_apply": "an action: redirects to the plan (its confirmation is the plan page, pinned)",
    "rebalance_plan_discard": "an action: redirects to the plan",
    "job_run": "an action: runs a sweep and redirects to the jobs screen",
    "notifications_read": "an action: marks read and redirects to the notifications screen",
}


def _console_url_names() -> set[str]:
    return {p.name for p in console_patterns if isinstance(p, URLPattern) and p.name}


def test_every_console_screen_has_a_query_pin_and_every_other_url_says_why_not() -> None:
    names = _console_url_names()
    assert names == set(PINNED) | set(NOT_SCREENS), {
        "no pin and no reason": sorted(names - set(PINNED) - set(NOT_SCREENS)),
        "listed but gone": sorted((set(PINNED) | set(NOT_SCREENS)) - names),
    }
    assert not set(PINNED) & set(NOT_SCREENS)


@pytest.mark.parametrize(("name", "where"), sorted(PINNED.items()))
def test_each_pin_named_here_exists(name: str, where: tuple[str, str]) -> None:
    module, function = where
    assert callable(getattr(importlib.import_module(module), function, None)), f"{name}: {module}.{function}"


@pytest.mark.django_db
def test_the_sign_in_page_costs_no_query(django_assert_num_queries: object) -> None:
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert Client().get(reverse("console:login")).status_code == 200

"""Console "Test your rules": sample leads routed under the published rules and a draft, side by side."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from routing.models import Lead, Ownership, OwnershipChange
from routing.views_simulate import SAMPLE_COLUMNS, parse_sample_leads
from territories.models import DistributionCounter, Rep, RuleSet
from tests.factories import ManagerFactory, RepFactory, RuleSetFactory, TerritoryFactory, TerritoryMemberFactory

pytestmark = pytest.mark.django_db

SIMULATE = "/simulate/"


@pytest.fixture
def client() -> Client:
    user = User.objects.create_user(username="mia", password="correct horse battery staple")
    ManagerFactory(user=user)
    client = Client()
    client.force_login(user)
    return client


def _html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


@pytest.fixture
def rules() -> dict[str, object]:
    """Published v1 sends US leads to Ada; draft v2 sends them to Bo and adds Canada (to Cy)."""
    published = RuleSetFactory(version=1, status="PUBLISHED")
    draft = RuleSetFactory(version=2, status="DRAFT", published_at=None, note="split North America")
    ada, bo, cy = RepFactory(name="Ada"), RepFactory(name="Bo"), RepFactory(name="Cy")
    TerritoryMemberFactory(
        territory=TerritoryFactory(rule_set=published, name="US", criteria={"countries": ["US"]}), rep=ada
    )
    TerritoryMemberFactory(
        territory=TerritoryFactory(rule_set=draft, name="US", criteria={"countries": ["US"]}), rep=bo
    )
    TerritoryMemberFactory(
        territory=TerritoryFactory(rule_set=draft, name="Canada", criteria={"countries": ["CA"]}), rep=cy
    )
    return {"published": published, "draft": draft, "ada": ada, "bo": bo, "cy": cy}


def _counts() -> tuple[int, ...]:
    return (
        Lead.objects.count(),
        Ownership.objects.count(),
        OwnershipChange.objects.count(),
        DistributionCounter.objects.count(),
    )


CSV = (
    "email,name,company,country,employees\n"
    "jane@alpha.example,Jane,Alpha Inc,US,120\n"
    "joe@beta.example,Joe,Beta Ltd,CA,\n"
    "kim@gamma.example,Kim,Gamma GmbH,DE,\n"
)


def test_the_url_of_the_screen() -> None:
    assert reverse("console:simulate") == SIMULATE


def test_the_screen_offers_every_draft_and_names_the_columns(client: Client, rules: dict[str, object]) -> None:
    RuleSetFactory(version=3, status="DRAFT", published_at=None)
    response = client.get(SIMULATE)
    html = _html(response)
    assert response.status_code == 200
    assert [rs.version for rs in response.context["drafts"]] == [3, 2]
    assert '<option value="2">v2: split North America' in html
    assert ",".join(SAMPLE_COLUMNS) in html
    assert '<label for="sim-csv">' in html and '<label for="sim-draft">' in html and '<label for="sim-file">' in html
    assert 'aria-current="page">Test rules<' in html


def test_without_a_draft_the_screen_says_how_to_make_one(client: Client) -> None:
    RuleSetFactory(status="PUBLISHED")
    html = _html(client.get(SIMULATE))
    assert "There is no draft rule set." in html


def test_each_lead_is_decided_under_both_rule_sets_side_by_side_with_differences_marked(
    client: Client, rules: dict[str, object]
) -> None:
    before = _counts()
    response = client.post(SIMULATE, {"csv": CSV, "draft": "2"}, HTTP_HX_REQUEST="true")
    html = _html(response)

    assert response.status_code == 200
    assert "<html" not in html
    assert _counts() == before  # nothing written
    assert "3 leads: 2 decided differently" in html
    assert "Published: v1" in html and "Draft: v2" in html
    # Line 2 (Jane, US): Ada under v1, Bo under the draft.
    assert re.search(r"<td class=\"nowrap\">2</td>\s*<th scope=\"row\">jane@alpha.example", html)
    assert "Ada &lt;" in html and "Bo &lt;" in html
    assert '<span class="diff-label">changed</span>' in html
    # Line 3 (Joe, CA): unassigned under v1, Canada under the draft; line 4 (Kim, DE) the same under both.
    assert "Canada" in html
    assert html.count("<details><summary>Trace</summary>") == 6
    assert "rule set: version 2 (draft)" in html and "rule set: version 1 (published)" in html
    assert "simulation: nothing is written" in html


def test_bad_rows_are_reported_with_their_line_numbers_and_the_good_rows_still_compared(
    client: Client, rules: dict[str, object]
) -> None:
    sample = (
        "email,country,employees\n"
        "good@alpha.example,US,\n"
        "not-an-email,US,\n"
        "many@beta.example,US,lots\n"
        "=cmd@evil.example,US,\n"
        "quebec@gamma.example,Atlantis,\n"
        "also-good@delta.example,US,5\n"
    )
    response = client.post(SIMULATE, {"csv": sample, "draft": "2"}, HTTP_HX_REQUEST="true")
    html = _html(response)
    assert "4 problems in the sample; those rows were left out" in html
    assert "Line 3, email: &#x27;not-an-email&#x27; is not an email address" in html
    assert "Line 4, employees: is not a whole number" in html
    assert "Line 5, email: starts with" in html
    assert "Line 6, country: unknown country" in html
    assert "2 leads: 2 decided differently" in html
    assert "good@alpha.example" in html and "also-good@delta.example" in html


def test_a_header_with_an_unknown_column_is_refused_at_line_1(client: Client, rules: dict[str, object]) -> None:
    response = client.post(SIMULATE, {"csv": "email,colour\na@b.example,red\n", "draft": "2"})
    html = _html(response)
    assert "Line 1, colour: unknown column" in html
    assert "decided differently" not in html


def test_more_than_500_leads_are_refused_as_a_whole(client: Client, rules: dict[str, object]) -> None:
    sample = "email\n" + "".join(f"p{i}@x{i}.example\n" for i in range(501))
    html = _html(client.post(SIMULATE, {"csv": sample, "draft": "2"}))
    assert "The file: has 501 leads; at most 500 can be tried at once" in html
    assert "decided differently" not in html


def test_a_draft_must_be_chosen_and_only_a_draft_can_be_tried(client: Client, rules: dict[str, object]) -> None:
    none = client.post(SIMULATE, {"csv": CSV, "draft": ""}, HTTP_HX_REQUEST="true")
    assert '<p id="sim-draft-error" class="error">Choose a draft rule set.</p>' in _html(none)
    assert "jane@alpha.example,Jane" in _html(none)  # the pasted sample is kept
    published = client.post(SIMULATE, {"csv": CSV, "draft": "1"}, HTTP_HX_REQUEST="true")
    assert '<p id="sim-draft-error" class="error">Choose a draft rule set.</p>' in _html(published)
    empty = client.post(SIMULATE, {"csv": "  ", "draft": "2"}, HTTP_HX_REQUEST="true")
    assert '<p id="sim-csv-error" class="error">Paste sample leads as CSV, or choose a file.</p>' in _html(empty)


def test_an_uploaded_file_is_used_instead_of_the_text(client: Client, rules: dict[str, object]) -> None:
    upload = SimpleUploadedFile("sample.csv", b"\xef\xbb\xbfemail,country\nup@load.example,US\n", "text/csv")
    response = client.post(SIMULATE, {"csv": "", "draft": "2", "file": upload}, HTTP_HX_REQUEST="true")
    html = _html(response)
    assert "1 lead: 1 decided differently" in html
    assert "up@load.example" in html


def test_the_sample_parser_takes_any_order_and_subset_of_columns() -> None:
    sample = parse_sample_leads('country,email,source,employees\nUS,a@b.example,referral,"1,200"\n')
    assert sample.problems == []
    (row,) = sample.rows
    assert (row.line, row.data.email, row.data.country, row.data.source, row.data.employees) == (
        2,
        "a@b.example",
        "US",
        "REFERRAL",
        1200,
    )
    missing_email = parse_sample_leads("country\nUS\n")
    assert [(p.line, p.column) for p in missing_email.problems] == [(1, "email")]


def _queries(client: Client, leads: int) -> int:
    sample = "email,country\n" + "".join(f"p{i}@x{i}.example,US\n" for i in range(leads))
    with CaptureQueriesContext(connection) as captured:
        response = client.post(SIMULATE, {"csv": sample, "draft": "2"})
    assert response.status_code == 200
    assert len(response.context["report"].comparisons) == leads
    return len(captured)


def test_the_screen_adds_a_constant_number_of_queries_to_what_routing_reads_per_lead(
    client: Client, rules: dict[str, object]
) -> None:
    """The names on the screen come in one query each (reps, territories, accounts) whatever the batch.

    Routing itself reads per lead (duplicates, matching); that cost is the engine's, and is the
    same per lead: ten leads cost exactly ten times one lead's extra reads.
    """
    _queries(client, 1)  # the published map's territories are read once per process (routing.territory_map)
    one, two, twelve = _queries(client, 1), _queries(client, 2), _queries(client, 12)
    per_lead = two - one
    assert twelve - one == 11 * per_lead


def test_draft_and_published_rule_sets_are_left_as_they_were(client: Client, rules: dict[str, object]) -> None:
    client.post(SIMULATE, {"csv": CSV, "draft": "2"})
    assert list(RuleSet.objects.order_by("version").values_list("version", "status")) == [
        (1, "PUBLISHED"),
        (2, "DRAFT"),
    ]
    assert Rep.objects.count() == 4  # Ada, Bo, Cy and the manager


def test_the_territory_map_link_preselects_its_draft(client: Client, rules: dict[str, object]) -> None:
    draft = rules["draft"]
    assert isinstance(draft, RuleSet)
    page = _html(client.get(reverse("console:simulate"), {"draft": draft.version}))
    assert f'<option value="{draft.version}" selected' in page
    assert " selected" not in _html(client.get(reverse("console:simulate")))

"""The territory map: versions, criteria in words, drafts edited in the console, diff, import, export, publish."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from territories.models import RuleSet, Territory, TerritoryMember
from territories.services import export_rule_set
from tests.factories import ManagerFactory, RepFactory, RuleSetFactory, TerritoryFactory, TerritoryMemberFactory

pytestmark = pytest.mark.django_db

MAP = "/territories/"

GOOD_YAML = """\
calendar: GB
policy:
  activity_window_days: 10
territories:
  - name: EMEA
    distribution: round_robin
    members: [ada@example.com]
    match:
      countries: [GB, DE]
  - name: London
    parent: EMEA
    members:
      - {email: bo@example.com, weight: 3}
    match:
      cities: [London]
"""

BAD_YAML = """\
territories:
  - name: EMEA
    members: [nobody@example.com]
    match:
      countries: [Atlantis]
"""


@pytest.fixture
def client() -> Client:
    user = User.objects.create_user(username="mia", password="x")
    ManagerFactory(user=user)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def published() -> RuleSet:
    rule_set = RuleSetFactory(version=1, status="PUBLISHED")
    emea = TerritoryFactory(rule_set=rule_set, name="EMEA", criteria={"countries": ["GB", "DE"]}, position=0)
    uk = TerritoryFactory(
        rule_set=rule_set, name="UK Finance", parent=emea, priority=5, position=1, distribution="LOAD_BALANCED",
        criteria={"countries": ["GB"], "industries": ["Financial Services"], "employees": {"min": 2000}},
    )  # fmt: skip
    TerritoryMemberFactory(territory=emea, rep=RepFactory(name="Ada", email="ada@example.com"), weight=3)
    TerritoryMemberFactory(territory=uk, rep=RepFactory(name="Bo", email="bo@example.com"))
    return rule_set


def _html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def _draft(client: Client, version: int = 1) -> RuleSet:
    response = client.post(reverse("console:territory_draft", args=[version]))
    assert response.status_code == 302
    return RuleSet.objects.order_by("-version").first()  # type: ignore[return-value]


def test_the_map_shows_the_published_version_in_plain_words_by_default(client: Client, published: RuleSet) -> None:
    RuleSetFactory(version=2, status="DRAFT")
    response = client.get(MAP)
    html = _html(response)

    assert response.context["rule_set"] == published
    rows = {row.territory.name: row for row in response.context["rows"]}
    assert [row.territory.name for row in response.context["rows"]] == ["EMEA", "UK Finance"]
    assert (rows["EMEA"].depth, rows["UK Finance"].depth) == (0, 1)  # children under their parent
    assert "country is GB or DE" in html
    assert "country is GB; industry is Financial Services; 2,000+ employees" in html
    assert "weight 3" in html and "ada@example.com" in html
    assert "load balanced" in html
    assert "inside EMEA" in html
    assert 'class="depth-1"' in html
    # Every version with its status; the shown one is marked.
    assert re.search(r'aria-current="page">v1</a>', html)
    assert "draft" in html and "published" in html


def test_any_version_is_shown_by_number_and_an_unknown_one_says_so(client: Client, published: RuleSet) -> None:
    draft = RuleSetFactory(version=2, status="DRAFT")
    TerritoryFactory(rule_set=draft, name="Draft Territory")
    assert "Draft Territory" in _html(client.get(MAP, {"version": 2}))
    missing = client.get(MAP, {"version": 9})
    assert missing.status_code == 404 and "There is no rule set v9." in _html(missing)


def test_a_published_version_offers_a_new_draft_but_no_editing(client: Client, published: RuleSet) -> None:
    html = _html(client.get(MAP))
    assert "New draft from v1" in html
    assert "/territories/territory/" not in html  # no edit links
    assert "Publish…" not in html


def test_a_new_draft_from_published_copies_it_and_opens_it(client: Client, published: RuleSet) -> None:
    response = client.post(reverse("console:territory_draft", args=[1]))
    assert response.status_code == 302 and response["Location"] == "/territories/?version=2"
    page = client.get(response["Location"])
    html = _html(page)
    assert "Draft v2 is a copy of v1" in html
    assert Territory.objects.filter(rule_set__version=2).count() == 2
    edit = Territory.objects.get(rule_set__version=2, name="EMEA")
    assert f'href="/territories/territory/{edit.pk}/"' in html
    assert 'href="/territories/v2/publish/"' in html


def test_editing_a_draft_adds_and_removes_criteria_and_members(client: Client, published: RuleSet) -> None:
    draft = _draft(client)
    emea = Territory.objects.get(rule_set=draft, name="EMEA")
    url = reverse("console:territory_edit", args=[emea.pk])
    dee = RepFactory(name="Dee", email="dee@example.com")

    assert client.post(url, {"action": "add_value", "key": "countries", "value": "France, nl"}).status_code == 302
    assert client.post(url, {"action": "remove_value", "key": "countries", "value": "DE"}).status_code == 302
    assert client.post(url, {"action": "range", "key": "employees", "min": "50", "max": ""}).status_code == 302
    assert client.post(url, {"action": "add_member", "rep": str(dee.pk), "weight": "2"}).status_code == 302
    ada = Territory.objects.get(pk=emea.pk).memberships.get(rep__email="ada@example.com").rep
    assert client.post(url, {"action": "weight", "rep": str(ada.pk), "weight": "1"}).status_code == 302
    assert (
        client.post(
            url, {"action": "settings", "distribution": "CLAIM_QUEUE", "priority": "4", "parent": ""}
        ).status_code
        == 302
    )

    emea.refresh_from_db()
    assert emea.criteria == {"countries": ["GB", "FR", "NL"], "employees": {"min": 50}}
    assert (emea.distribution, emea.priority) == ("CLAIM_QUEUE", 4)
    members = [(m.rep.email, m.weight) for m in TerritoryMember.objects.filter(territory=emea).order_by("position")]
    assert members == [("ada@example.com", 1), ("dee@example.com", 2)]

    response = client.post(url, {"action": "remove_member", "rep": str(dee.pk)}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "<html" not in _html(response) and "Saved." in _html(response)
    assert not TerritoryMember.objects.filter(territory=emea, rep=dee).exists()
    assert "country is GB, FR or NL; 50+ employees" in _html(client.get(url))


def test_a_bad_edit_is_shown_next_to_its_field_and_nothing_changes(client: Client, published: RuleSet) -> None:
    draft = _draft(client)
    emea = Territory.objects.get(rule_set=draft, name="EMEA")
    url = reverse("console:territory_edit", args=[emea.pk])

    response = client.post(url, {"action": "add_value", "key": "countries", "value": "Atlantis"})
    html = _html(response)
    assert response.status_code == 400
    assert '<p class="error" id="countries-error">unknown country' in html
    assert 'value="Atlantis"' in html  # what was typed stays in the field
    assert 'aria-describedby="countries-error"' in html

    priority = client.post(url, {"action": "settings", "distribution": "ROUND_ROBIN", "priority": "high", "parent": ""})
    assert 'id="priority-error">“high” is not a whole number<' in _html(priority)
    weight = client.post(url, {"action": "add_member", "rep": str(RepFactory().pk), "weight": "0"})
    assert 'id="weight-error"' in _html(weight)
    emea.refresh_from_db()
    assert emea.criteria == {"countries": ["GB", "DE"]} and emea.priority == 0


def test_a_published_territory_cannot_be_edited_from_the_console(client: Client, published: RuleSet) -> None:
    emea = Territory.objects.get(rule_set=published, name="EMEA")
    url = reverse("console:territory_edit", args=[emea.pk])
    page = _html(client.get(url))
    assert "cannot change" in page and "Add member" not in page
    response = client.post(url, {"action": "add_value", "key": "countries", "value": "FR"})
    assert response.status_code == 400
    assert '<p class="error" role="alert">v1 is published and cannot change; make a new draft from it</p>' in _html(
        response
    )
    emea.refresh_from_db()
    assert emea.criteria == {"countries": ["GB", "DE"]}


def test_what_changed_between_versions_in_plain_words(client: Client, published: RuleSet) -> None:
    draft = _draft(client)
    emea = Territory.objects.get(rule_set=draft, name="EMEA")
    client.post(
        reverse("console:territory_edit", args=[emea.pk]), {"action": "add_value", "key": "countries", "value": "FR"}
    )
    response = client.get(reverse("console:territory_diff"), {"a": 1, "b": draft.version})
    html = _html(response)
    assert "From v1 (published) to v2 (draft): 2 changes" in html
    assert "<h3>EMEA</h3>" in html
    assert "countries added: FR" in html
    assert "now matches: country is GB, DE or FR" in html
    # By default: published against the newest draft.
    assert client.get(reverse("console:territory_diff")).context["change_count"] == 2
    assert client.get(reverse("console:territory_diff"), {"a": 1, "b": 7}).status_code == 400


def test_validate_lists_each_problem_with_its_line(client: Client, published: RuleSet) -> None:
    draft = _draft(client)
    uk = Territory.objects.get(rule_set=draft, name="UK Finance")
    # Make UK Finance as specific as EMEA, same priority, overlapping: ambiguous.
    client.post(
        reverse("console:territory_edit", args=[uk.pk]),
        {"action": "settings", "distribution": "ROUND_ROBIN", "priority": "0", "parent": ""},
    )
    client.post(
        reverse("console:territory_edit", args=[uk.pk]),
        {"action": "remove_value", "key": "industries", "value": "Financial Services"},
    )
    client.post(
        reverse("console:territory_edit", args=[uk.pk]), {"action": "range", "key": "employees", "min": "", "max": ""}
    )
    client.post(
        reverse("console:territory_edit", args=[uk.pk]), {"action": "add_value", "key": "countries", "value": "DE"}
    )
    response = client.get(reverse("console:territory_validate", args=[draft.version]), HTTP_HX_REQUEST="true")
    html = _html(response)
    assert "<html" not in html
    assert "v2 has 1 problem" in html
    assert re.search(r'<span class="tag">line \d+</span>', html)
    assert "ambiguous" in html

    clean = _html(client.get(reverse("console:territory_validate", args=[1])))
    assert "No problems" in clean


def test_publishing_asks_for_confirmation_then_publishes(client: Client, published: RuleSet) -> None:
    draft = _draft(client)
    emea = Territory.objects.get(rule_set=draft, name="EMEA")
    client.post(
        reverse("console:territory_edit", args=[emea.pk]), {"action": "add_value", "key": "countries", "value": "FR"}
    )
    url = reverse("console:territory_publish", args=[draft.version])

    confirm = client.get(url)
    html = _html(confirm)
    assert "Publish v2?" in html and "Yes, publish v2" in html
    assert "countries added: FR" in html
    assert "v1, which routes now, is archived" in html
    draft.refresh_from_db()
    assert draft.status == "DRAFT"  # looking is not publishing

    done = client.post(url)
    assert done.status_code == 302 and done["Location"] == "/territories/?version=2"
    draft.refresh_from_db()
    published.refresh_from_db()
    assert (draft.status, published.status) == ("PUBLISHED", "ARCHIVED")
    assert "v2 is published" in _html(client.get(done["Location"]))
    again = client.post(url)
    assert again.status_code == 400 and "only a draft can be published" in _html(again)


def test_a_draft_with_problems_offers_no_publish_button(client: Client, published: RuleSet) -> None:
    draft = _draft(client)
    gone = Territory.objects.get(rule_set=draft, name="UK Finance").memberships.get().rep
    gone.status = "DEPARTED"
    gone.save()
    html = _html(client.get(reverse("console:territory_publish", args=[draft.version])))
    assert "1 problem to fix first" in html and "bo@example.com has departed" in html
    assert "Yes, publish" not in html
    refused = client.post(reverse("console:territory_publish", args=[draft.version]))
    assert refused.status_code == 400
    draft.refresh_from_db()
    assert draft.status == "DRAFT"


def test_importing_territories_yaml_makes_a_draft(client: Client) -> None:
    RepFactory(email="ada@example.com")
    RepFactory(email="bo@example.com")
    upload = SimpleUploadedFile("territories.yaml", GOOD_YAML.encode(), content_type="application/yaml")
    response = client.post(reverse("console:territory_import"), {"file": upload})
    assert response.status_code == 302
    draft = RuleSet.objects.get()
    assert (draft.status, draft.calendar, draft.policy["activity_window_days"]) == ("DRAFT", "GB", 10)
    assert response["Location"] == f"/territories/?version={draft.version}"
    london = Territory.objects.get(rule_set=draft, name="London")
    assert london.parent is not None and london.memberships.get().weight == 3


def test_a_bad_territories_yaml_lists_every_problem_with_its_line_and_creates_nothing(client: Client) -> None:
    upload = SimpleUploadedFile("territories.yaml", BAD_YAML.encode(), content_type="application/yaml")
    response = client.post(reverse("console:territory_import"), {"file": upload})
    html = _html(response)
    assert response.status_code == 400
    assert "nothing was imported" in html
    assert '<span class="tag">line 3</span>' in html and "unknown rep nobody@example.com" in html
    assert '<span class="tag">line 5</span>' in html and "unknown country" in html
    assert RuleSet.objects.count() == 0

    empty = client.post(reverse("console:territory_import"), {})
    assert empty.status_code == 400 and "Choose a territories.yaml file" in _html(empty)
    binary = client.post(reverse("console:territory_import"), {"file": SimpleUploadedFile("t.yaml", b"\xff\xfe\x00")})
    assert "not UTF-8" in _html(binary)


def test_download_yaml_is_the_export_the_import_reads(client: Client, published: RuleSet) -> None:
    response = client.get(reverse("console:territory_export", args=[1]))
    assert response["Content-Disposition"] == 'attachment; filename="territories-v1.yaml"'
    assert response.content.decode() == export_rule_set(published)
    assert client.get(reverse("console:territory_export", args=[5])).status_code == 404


def test_forms_need_the_csrf_token(published: RuleSet) -> None:
    user = User.objects.create_user(username="mia", password="x")
    ManagerFactory(user=user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(reverse("console:territory_draft", args=[1])).status_code == 403
    html = _html(client.get(MAP))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token is not None
    response = client.post(reverse("console:territory_draft", args=[1]), {"csrfmiddlewaretoken": token.group(1)})
    assert response.status_code == 302


@pytest.mark.parametrize("size", [2, 20])
def test_the_map_costs_the_same_queries_whatever_the_number_of_territories(
    client: Client, size: int, django_assert_num_queries: object
) -> None:
    rule_set = RuleSetFactory(status="PUBLISHED")
    parent = None
    for i in range(size):
        territory = TerritoryFactory(rule_set=rule_set, parent=parent if i % 2 else None, position=i)
        TerritoryMemberFactory(territory=territory)
        TerritoryMemberFactory(territory=territory)
        parent = territory
    RuleSetFactory.create_batch(size // 2, status="ARCHIVED")
    # session, user, rep | the published rule set | versions | territories, members, their reps: 9
    # (+1: the navigation counts the manager's unread notifications.)
    with django_assert_num_queries(9):  # type: ignore[operator]
        response = client.get(MAP)
    assert len(response.context["rows"]) == size


@pytest.mark.parametrize("size", [1, 12])
def test_the_territory_editor_costs_the_same_queries_whatever_its_size(
    client: Client, size: int, django_assert_num_queries: object
) -> None:
    draft = RuleSetFactory(status="DRAFT")
    territory = TerritoryFactory(rule_set=draft, criteria={"countries": ["GB"]})
    TerritoryFactory.create_batch(size, rule_set=draft)
    for _ in range(size):
        TerritoryMemberFactory(territory=territory)
    # session, user, rep | territory with rule set and parent | members | reps to add | parents: 8
    # (+1: the navigation counts the manager's unread notifications.)
    with django_assert_num_queries(8):  # type: ignore[operator]
        response = client.get(reverse("console:territory_edit", args=[territory.pk]))
    assert len(response.context["members"]) == size


def _book_of(size: int) -> tuple[RuleSet, RuleSet]:
    """A published version and a draft of `size` territories each, two members apiece, a parent every other."""
    published = RuleSetFactory(version=1, status="PUBLISHED")
    draft = RuleSetFactory(version=2, status="DRAFT", published_at=None)
    for rule_set in (published, draft):
        parent = None
        for i in range(size):
            territory = TerritoryFactory(
                rule_set=rule_set,
                name=f"T{i}",
                parent=parent if i % 2 else None,
                position=i,
                criteria={"countries": ["GB"], "cities": [f"City {i}" if rule_set is draft else f"Town {i}"]},
            )
            TerritoryMemberFactory(territory=territory)
            TerritoryMemberFactory(territory=territory)
            parent = territory
    return published, draft


def _yaml_of(size: int) -> str:
    lines = ["territories:"]
    for i in range(size):
        RepFactory(email=f"m{i}@example.com")
        lines += [f"  - name: T{i}", f"    members: [m{i}@example.com]", "    match:", f"      cities: [City {i}]"]
    return "\n".join(lines) + "\n"


# Each screen of the territory map costs the same SQL statements whatever the number of territories.
# The counts include session, user and rep, and the navigation's unread notifications on full pages.
@pytest.mark.parametrize("size", [2, 12])
@pytest.mark.parametrize(
    ("screen", "expected"),
    [("diff", 13), ("validate", 8), ("publish_confirm", 15)],
)
def test_the_map_screens_cost_the_same_queries_whatever_the_number_of_territories(
    client: Client, size: int, screen: str, expected: int, django_assert_num_queries: object
) -> None:
    _book_of(size)
    url = {
        "diff": reverse("console:territory_diff") + "?a=1&b=2",
        "validate": reverse("console:territory_validate", args=[2]),
        "publish_confirm": reverse("console:territory_publish", args=[2]),
    }[screen]
    with django_assert_num_queries(expected):  # type: ignore[operator]
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("size", [2, 12])
def test_publishing_costs_the_same_queries_whatever_the_number_of_territories(
    client: Client, size: int, django_assert_num_queries: object
) -> None:
    _book_of(size)
    with django_assert_num_queries(15):  # type: ignore[operator]
        assert client.post(reverse("console:territory_publish", args=[2])).status_code == 302


@pytest.mark.parametrize("size", [2, 12])
def test_importing_costs_the_same_queries_whatever_the_number_of_territories(
    client: Client, size: int, django_assert_num_queries: object
) -> None:
    upload = SimpleUploadedFile("territories.yaml", _yaml_of(size).encode(), content_type="application/yaml")
    with django_assert_num_queries(16):  # type: ignore[operator]
        assert client.post(reverse("console:territory_import"), {"file": upload}).status_code == 302
    with django_assert_num_queries(4):  # type: ignore[operator]
        assert client.get(reverse("console:territory_import")).status_code == 200

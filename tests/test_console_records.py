"""Console record pages: the account and the lead, their owners, history, decision trace and actions."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from leadowner.actors import Actor
from routing.models import Account, Lead, Ownership, OwnershipChange
from routing.services.leads import LeadData, submit_lead
from territories.models import Rep
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    DealRegistrationFactory,
    DisputeFactory,
    LeadFactory,
    ManagerFactory,
    OpportunityFactory,
    OwnershipFactory,
    PartnerFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager() -> Rep:
    user = User.objects.create_user(username="mia", password="correct horse battery staple")
    return ManagerFactory(user=user, name="Mia Manager")


@pytest.fixture
def client(manager: Rep) -> Client:
    client = Client()
    client.force_login(manager.user)
    return client


def _html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def _history(account: Account | None, count: int, *, lead: Lead | None = None) -> None:
    reps = RepFactory.create_batch(2)
    start = timezone.now() - timedelta(days=count + 1)
    OwnershipChange.objects.bulk_create(
        OwnershipChange(
            account=account,
            lead=lead,
            at=start + timedelta(days=i),
            role="SALES",
            from_rep=reps[i % 2] if i else None,
            to_rep=reps[(i + 1) % 2],
            step="TERRITORY",
            reason=f"change number {i}",
            actor="routing",
        )
        for i in range(count)
    )


@pytest.fixture
def family(manager: Rep) -> dict[str, object]:
    """Darden (owned) > Olive Garden (no sales owner of its own), with deals, activity, a dispute."""
    darden = AccountFactory(name="Darden Restaurants", domains=["darden.com"])
    ada = RepFactory(name="Ada Lovelace", email="ada@example.com", manager=manager)
    OwnershipFactory(account=darden, role="SALES", rep=ada, reason="NAMED_ACCOUNT")
    olive = AccountFactory(
        name="Olive Garden",
        domains=["olivegarden.com", "olive.example"],
        aliases=["OG"],
        parent=darden,
        type="CUSTOMER",
        country="US",
        subdivision="US-FL",
        city="Orlando",
        industry="Restaurants",
        employees=90000,
        annual_revenue=5_000_000_000,
    )
    AccountFactory(name="Olive Garden Canada", parent=olive)
    bo = RepFactory(name="Bo Farmer", manager=manager)
    OwnershipFactory(account=olive, role="ACCOUNT_MANAGER", rep=bo, reason="CUSTOMER_OWNER")
    OpportunityFactory(account=olive, name="Menu tablets", owner=bo, amount=12000)
    ActivityFactory(account=olive, rep=bo, kind="MEETING", note="quarterly review")
    DealRegistrationFactory(account=olive, partner=PartnerFactory(name="Big Channel Ltd"), status="PENDING")
    DisputeFactory(account=olive, claimant=RepFactory(name="Cy Claimant"), current_owner=bo, status="OPEN")
    return {"darden": darden, "olive": olive, "ada": ada, "bo": bo}


def test_the_account_page_shows_identity_family_firmographics_and_owners(
    client: Client, family: dict[str, object]
) -> None:
    olive = family["olive"]
    response = client.get(reverse("console:account", args=[olive.pk]))  # type: ignore[attr-defined]
    html = _html(response)
    assert response.status_code == 200
    assert "<h1>Olive Garden</h1>" in html
    assert "olivegarden.com, olive.example" in html
    assert "OG" in html
    assert "Orlando, US-FL, US" in html and "Restaurants" in html and "90000" in html
    assert f'href="/accounts/{family["darden"].pk}/">Darden Restaurants</a>' in html  # type: ignore[attr-defined]
    assert "Olive Garden Canada" in html
    owners = {row.role: row for row in response.context["page"].owners}
    assert owners["SALES"].ownership.rep.name == "Ada Lovelace"
    assert owners["SALES"].inherited_from == family["darden"]
    assert owners["ACCOUNT_MANAGER"].inherited_from is None
    assert "rolled up from" in html
    assert "Customer Owner" in html  # the reason step of the account manager's ownership
    assert "Menu tablets" in html and "12000" in html
    assert "quarterly review" in html
    assert "Big Channel Ltd" in html
    assert "Cy Claimant" in html


def test_the_account_history_is_paged_newest_first(client: Client, family: dict[str, object]) -> None:
    olive = family["olive"]
    _history(olive, 30)  # type: ignore[arg-type]
    url = reverse("console:account", args=[olive.pk])  # type: ignore[attr-defined]
    first = client.get(url)
    assert [c.reason for c in first.context["page"].history][:2] == ["change number 29", "change number 28"]
    assert "Page 1 of 2" in _html(first)
    second = client.get(url, {"page": 2}, HTTP_HX_REQUEST="true")
    html = _html(second)
    assert "<html" not in html and "change number 0" in html
    assert "Olive Garden Canada" not in html  # only the ownership partial


def test_a_transfer_from_the_account_page_moves_the_owner_and_writes_history(
    client: Client, family: dict[str, object], manager: Rep
) -> None:
    olive, bo = family["olive"], family["bo"]
    dee = RepFactory(name="Dee Keeper", manager=manager)
    response = client.post(
        reverse("console:account_transfer", args=[olive.pk]),  # type: ignore[attr-defined]
        {"role": "ACCOUNT_MANAGER", "to_rep": dee.pk, "reason": "Bo moved to EMEA"},
        HTTP_HX_REQUEST="true",
    )
    html = _html(response)
    assert response.status_code == 200
    assert "<html" not in html  # the ownership partial only
    assert "Dee Keeper now owns Olive Garden as account manager." in html
    current = Ownership.objects.get(account=olive, role="ACCOUNT_MANAGER", ended_at__isnull=True)
    assert current.rep == dee and current.reason == "MANUAL"
    change = OwnershipChange.objects.get(account=olive, role="ACCOUNT_MANAGER")
    assert (change.from_rep, change.to_rep, change.actor) == (bo, dee, manager.email)
    assert change.reason == "transferred to Dee Keeper: Bo moved to EMEA"
    assert "transferred to Dee Keeper: Bo moved to EMEA" in html  # the history in the partial


def test_a_transfer_without_a_reason_shows_the_error_at_the_reason_field_and_changes_nothing(
    client: Client, family: dict[str, object], manager: Rep
) -> None:
    olive = family["olive"]
    dee = RepFactory(name="Dee Keeper", manager=manager)
    response = client.post(
        reverse("console:account_transfer", args=[olive.pk]),  # type: ignore[attr-defined]
        {"role": "ACCOUNT_MANAGER", "to_rep": dee.pk, "reason": "  "},
        HTTP_HX_REQUEST="true",
    )
    html = _html(response)
    assert response.status_code == 200
    assert 'id="transfer-reason-error" class="error">a transfer needs a reason<' in html
    assert 'aria-invalid="true" aria-describedby="transfer-reason-error"' in html
    assert f'<option value="{dee.pk}" selected>' in html  # what was chosen is kept
    assert not OwnershipChange.objects.filter(account=olive).exists()


def test_a_transfer_to_a_rep_who_is_not_active_is_refused_at_the_rep_field(
    client: Client, family: dict[str, object], manager: Rep
) -> None:
    olive = family["olive"]
    away = RepFactory(name="Away Rep", manager=manager, status="OUT_OF_OFFICE")
    response = client.post(
        reverse("console:account_transfer", args=[olive.pk]),  # type: ignore[attr-defined]
        {"role": "SALES", "to_rep": away.pk, "reason": "coverage"},
    )
    assert response.status_code == 200
    assert "<html" in _html(response)  # without htmx: the whole page, with the error in place
    assert response.context["errors"] == {"to_rep": "Away Rep is out of office, not active"}
    assert 'id="transfer-rep-error"' in _html(response)
    assert f'<option value="{away.pk}"' not in _html(response)  # only active reps are offered


def test_a_transfer_outside_the_managers_team_is_refused_in_place(client: Client, family: dict[str, object]) -> None:
    olive = family["olive"]
    stranger = RepFactory(name="Somebody Else")  # in no team of this manager
    response = client.post(
        reverse("console:account_transfer", args=[olive.pk]),  # type: ignore[attr-defined]
        {"role": "SALES", "to_rep": stranger.pk, "reason": "why not"},  # Olive Garden has no sales owner of its own
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert re.search(r'<p id="transfer-rep-error" class="error">[^<]*not in your team</p>', _html(response))
    assert not OwnershipChange.objects.filter(account=olive).exists()


def test_a_transfer_in_the_partner_role_or_without_a_rep_is_refused(client: Client, family: dict[str, object]) -> None:
    url = reverse("console:account_transfer", args=[family["olive"].pk])  # type: ignore[attr-defined]
    partner_role = client.post(url, {"role": "PARTNER", "to_rep": family["bo"].pk, "reason": "x"})  # type: ignore[attr-defined]
    assert partner_role.context["errors"] == {"role": "choose a role"}
    no_rep = client.post(url, {"role": "SALES", "to_rep": "", "reason": "x"})
    assert no_rep.context["errors"] == {"to_rep": "choose the rep who will own it"}


def test_an_unknown_account_or_lead_is_a_404(client: Client) -> None:
    assert client.get(reverse("console:account", args=[987654])).status_code == 404
    assert client.get(reverse("console:lead", args=[987654])).status_code == 404
    assert client.post(reverse("console:lead_reroute", args=[987654])).status_code == 404


def test_transfer_and_reroute_only_accept_posts(client: Client, family: dict[str, object]) -> None:
    olive = family["olive"]
    assert client.get(reverse("console:account_transfer", args=[olive.pk])).status_code == 405  # type: ignore[attr-defined]


@pytest.fixture
def routed_lead(manager: Rep, now: datetime) -> Lead:
    rule_set = RuleSetFactory(status="PUBLISHED")
    territory = TerritoryFactory(rule_set=rule_set, name="North America", criteria={"countries": ["US"]})
    TerritoryMemberFactory(territory=territory, rep=RepFactory(name="Ray Router", manager=manager))
    lead, _ = submit_lead(
        data=LeadData(email="jane@prospect.example", name="Jane Doe", company="Prospect Inc", country="US"),
        actor=Actor.system_actor("test"),
        now=now,
    )
    return lead


def test_the_lead_page_shows_fields_times_owner_and_the_full_decision_trace(client: Client, routed_lead: Lead) -> None:
    ActivityFactory(lead=routed_lead, rep=RepFactory(name="Caller"), kind="CALL", note="left a voicemail")
    response = client.get(reverse("console:lead", args=[routed_lead.pk]))
    html = _html(response)
    assert response.status_code == 200
    assert "Jane Doe · jane@prospect.example" in html
    assert "Prospect Inc" in html
    assert "stage <strong>new</strong>" in html
    assert "Ray Router" in html
    view = response.context["page"].decision
    assert view.decision.step == "TERRITORY"
    assert view.territory.name == "North America"
    assert ">Territory<" in html
    assert f"rule set v{view.territory.rule_set.version}" in html
    for line in view.decision.trace:
        assert f"<li>{line}</li>".replace("'", "&#x27;") in html
    assert "left a voicemail" in html
    assert "Received (UTC)" in html and "Assigned (UTC)" in html and "First touch (UTC)" in html


def test_re_routing_a_lead_runs_the_rules_again_and_shows_the_new_decision(
    client: Client, routed_lead: Lead, manager: Rep
) -> None:
    Ownership.objects.filter(lead=routed_lead).update(ended_at=timezone.now())  # the owner left, say
    response = client.post(reverse("console:lead_reroute", args=[routed_lead.pk]), HTTP_HX_REQUEST="true")
    html = _html(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert "Routed again: territory." in html
    assert f"re-route: by {manager.email}" in html  # the new trace names who asked
    assert Ownership.objects.filter(lead=routed_lead, ended_at__isnull=True).get().rep.name == "Ray Router"


def test_assigning_a_lead_by_hand_writes_history_and_a_blank_reason_is_refused(
    client: Client, routed_lead: Lead, manager: Rep
) -> None:
    dee = RepFactory(name="Dee Keeper", manager=manager)
    url = reverse("console:lead_transfer", args=[routed_lead.pk])
    refused = client.post(url, {"to_rep": dee.pk, "reason": ""}, HTTP_HX_REQUEST="true")
    assert 'id="transfer-reason-error" class="error">a transfer needs a reason<' in _html(refused)

    done = client.post(url, {"to_rep": dee.pk, "reason": "speaks German"}, HTTP_HX_REQUEST="true")
    assert "Dee Keeper now owns jane@prospect.example." in _html(done)
    change = OwnershipChange.objects.filter(lead=routed_lead).order_by("-id").first()
    assert change is not None and change.to_rep == dee and change.step == "MANUAL"


@pytest.mark.parametrize("size", [1, 30])
def test_the_account_page_costs_the_same_queries_whatever_the_size_of_the_record(
    client: Client, manager: Rep, size: int, django_assert_num_queries: object
) -> None:
    top = AccountFactory(name="Top")
    account = AccountFactory(name="Middle", parent=top, domains=[f"d{i}.example" for i in range(size)])
    for i in range(size):
        AccountFactory(name=f"Child {i}", parent=account)
        OpportunityFactory(account=account)
        ActivityFactory(account=account, rep=manager)
        DealRegistrationFactory(account=account, status="REJECTED")
        DisputeFactory(account=account, status="RESOLVED")
    OwnershipFactory(account=account, role="SALES")
    OwnershipFactory(account=top, role="ACCOUNT_MANAGER")
    RepFactory.create_batch(size)
    _history(account, size)

    # session, user, rep | account | chain CTE, owners | parents | subsidiaries | activity | domains | aliases |
    # history count + page | opportunities | disputes | registrations | active reps: 18 whatever the size.
    # (+1: the navigation counts the manager's unread notifications.)
    with django_assert_num_queries(18):  # type: ignore[operator]
        response = client.get(reverse("console:account", args=[account.pk]))
    assert response.status_code == 200


@pytest.mark.parametrize("size", [1, 30])
def test_the_lead_page_costs_the_same_queries_whatever_the_size_of_the_record(
    client: Client, routed_lead: Lead, manager: Rep, size: int, django_assert_num_queries: object
) -> None:
    for _ in range(size):
        ActivityFactory(lead=routed_lead, rep=manager)
        DisputeFactory(account=None, lead=routed_lead, status="RESOLVED")
    RepFactory.create_batch(size)
    _history(None, size, lead=routed_lead)

    # session, user, rep | lead + account | owners | decision owner, territory | activity |
    # history count + page | disputes | active reps: 13 whatever the size.
    # (+1: the navigation counts the manager's unread notifications.)
    with django_assert_num_queries(13):  # type: ignore[operator]
        response = client.get(reverse("console:lead", args=[routed_lead.pk]))
    assert response.status_code == 200


def test_every_input_on_the_record_pages_has_a_label(client: Client, family: dict[str, object]) -> None:
    html = _html(client.get(reverse("console:account", args=[family["olive"].pk])))  # type: ignore[attr-defined]
    for found in re.finditer(r"<(?:select|input|textarea)\b[^>]*\bid=\"([^\"]+)\"", html):
        if 'type="hidden"' in found.group(0) or found.group(1) == "lookup-q":
            continue
        assert f'<label for="{found.group(1)}">' in html, found.group(1)


class _Structure(HTMLParser):
    """Balanced tags, unique ids, and the ids of labels and of form fields, from a rendered page."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.fields: list[str] = []  # ids of visible inputs, selects and textareas

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.append(str(found["id"]))
        if tag == "label" and found.get("for"):
            self.label_for.add(str(found["for"]))
        if tag in ("input", "select", "textarea") and found.get("type") not in ("hidden", "submit"):
            wrapped = "label" in self.open
            if not wrapped:
                self.fields.append(str(found.get("id") or f"<{tag} name={found.get('name')} without id>"))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.open[-1] if self.open else 'nothing'}>")
            if tag in self.open:
                while self.open and self.open.pop() != tag:
                    pass
            return
        self.open.pop()


def _check_structure(html: str, url: str) -> None:
    page = _Structure()
    page.feed(html)
    assert page.problems == [], (url, page.problems[:5])
    duplicates = {i for i in page.ids if page.ids.count(i) > 1}
    assert duplicates == set(), (url, duplicates)
    unlabelled = [f for f in page.fields if f not in page.label_for]
    assert unlabelled == [], (url, unlabelled)
    assert page.label_for <= set(page.ids), (url, page.label_for - set(page.ids))


def test_every_screen_is_well_formed_with_unique_ids_and_a_label_for_every_field(
    client: Client, family: dict[str, object], routed_lead: Lead, manager: Rep
) -> None:
    olive = family["olive"]
    dispute = olive.disputes.get()  # type: ignore[attr-defined]
    LeadFactory(decision={"step": "TERRITORY", "territory_id": 1})
    RuleSetFactory(version=99, status="DRAFT", published_at=None)
    _history(olive, 3)  # type: ignore[arg-type]
    urls = [
        reverse("console:account", args=[olive.pk]),  # type: ignore[attr-defined]
        reverse("console:lead", args=[routed_lead.pk]),
        reverse("console:unassigned"),
        reverse("console:claim_queue"),
        reverse("console:registrations"),
        reverse("console:disputes"),
        reverse("console:dispute", args=[dispute.pk]),
        reverse("console:simulate"),
        reverse("console:audit"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        _check_structure(_html(response), url)
    # The answers with errors and confirmations too.
    answers = [
        client.post(reverse("console:account_transfer", args=[olive.pk]), {"role": "SALES", "reason": ""}),  # type: ignore[attr-defined]
        client.post(reverse("console:unassigned"), {"act": "assign", "lead": [routed_lead.pk]}),
        client.post(reverse("console:registrations"), {"act": "reject", "registration": ["1"], "reason": ""}),
        client.post(reverse("console:simulate"), {"csv": "email\nnot-an-email\nok@x.example\n", "draft": "99"}),
    ]
    for response in answers:
        assert response.status_code == 200
        _check_structure(_html(response), response.request["PATH_INFO"])

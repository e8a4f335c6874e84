"""Console queues: unassigned leads, claim queues, deal registrations and disputes, with their actions."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from disputes.models import Dispute, DisputeEscalation
from routing.models import DealRegistration, Lead, Ownership, OwnershipChange
from territories.models import Rep, RuleSet, Territory
from tests.factories import (
    AccountFactory,
    DealRegistrationFactory,
    DisputeFactory,
    LeadFactory,
    ManagerFactory,
    OwnershipFactory,
    PartnerFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)

pytestmark = pytest.mark.django_db

UNASSIGNED = "/queues/unassigned/"
CLAIMS = "/queues/claim/"
REGISTRATIONS = "/registrations/"
DISPUTES = "/disputes/"


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


def _waiting(count: int, *, start: datetime | None = None, **fields: object) -> list[Lead]:
    """`count` leads without an owner, received a day apart, oldest first."""
    start = start or timezone.now() - timedelta(days=count + 1)
    return [
        LeadFactory(email=f"waiting{i}@prospect{i}.example", received_at=start + timedelta(days=i), **fields)
        for i in range(count)
    ]


@pytest.fixture
def us_territory(manager: Rep) -> tuple[RuleSet, Territory, Rep]:
    rule_set = RuleSetFactory(status="PUBLISHED")
    territory = TerritoryFactory(rule_set=rule_set, name="United States", criteria={"countries": ["US"]})
    rep = TerritoryMemberFactory(territory=territory, rep=RepFactory(name="Ray Router", manager=manager)).rep
    return rule_set, territory, rep


def test_the_urls_of_the_queues() -> None:
    assert reverse("console:unassigned") == UNASSIGNED
    assert reverse("console:claim_queue") == CLAIMS
    assert reverse("console:registrations") == REGISTRATIONS
    assert reverse("console:disputes") == DISPUTES


# --- Unassigned leads ----------------------------------------------------------------------


def test_the_unassigned_queue_lists_leads_without_a_sales_owner_oldest_first(client: Client) -> None:
    old, new = _waiting(2)
    owned = LeadFactory(email="owned@prospect.example")
    OwnershipFactory(account=None, lead=owned, role="SALES")
    ended = LeadFactory(email="ended@prospect.example")
    OwnershipFactory(account=None, lead=ended, role="SALES", ended_at=timezone.now())

    response = client.get(UNASSIGNED)
    html = _html(response)

    assert response.status_code == 200
    emails = [row.item.lead.email for row in response.context["rows"]]
    assert emails == [old.email, new.email, ended.email]
    assert "owned@prospect.example" not in html
    assert response.context["leads"].paginator.count == 3
    assert f'href="/leads/{old.pk}/"' in html
    assert 'aria-current="page">Queues<' in html


def test_the_unassigned_queue_is_paged_50_at_a_time(client: Client) -> None:
    _waiting(55)
    first = client.get(UNASSIGNED)
    assert len(first.context["rows"]) == 50
    assert "Page 1 of 2" in _html(first)
    second = client.get(UNASSIGNED, {"page": 2}, HTTP_HX_REQUEST="true")
    html = _html(second)
    assert "<html" not in html and 'id="queue"' not in html  # the partial that goes inside #queue
    assert html.count('name="lead" value=') == 5


def test_bulk_re_routing_asks_for_confirmation_naming_every_lead_and_changes_nothing_yet(
    client: Client, us_territory: tuple[RuleSet, Territory, Rep]
) -> None:
    leads = _waiting(3, country="US")
    response = client.post(UNASSIGNED, {"act": "reroute", "lead": [leads[0].pk, leads[2].pk]}, HTTP_HX_REQUEST="true")
    html = _html(response)
    assert response.status_code == 200
    assert "Re-route 2 leads?" in html
    assert leads[0].email in html and leads[2].email in html and leads[1].email not in html
    assert 'name="confirmed" value="1"' in html
    assert re.search(r"<h2 id=\"confirm-title\" tabindex=\"-1\" autofocus>", html)  # focus moves to the question
    assert not Ownership.objects.exists()

    done = client.post(
        UNASSIGNED, {"act": "reroute", "lead": [leads[0].pk, leads[2].pk], "confirmed": "1"}, HTTP_HX_REQUEST="true"
    )
    html = _html(done)
    assert "Done for 2 of 2" in html and "routed by territory" in html
    ray = us_territory[2]
    assert set(Ownership.objects.filter(ended_at__isnull=True).values_list("lead_id", "rep_id")) == {
        (leads[0].pk, ray.pk),
        (leads[2].pk, ray.pk),
    }
    # The queue again, without the routed leads.
    assert f'name="lead" value="{leads[1].pk}"' in html and f'name="lead" value="{leads[0].pk}"' not in html


def test_a_row_re_route_acts_at_once_without_a_confirmation_step(
    client: Client, us_territory: tuple[RuleSet, Territory, Rep]
) -> None:
    (lead,) = _waiting(1, country="US")
    response = client.post(UNASSIGNED, {"act": f"reroute:{lead.pk}"}, HTTP_HX_REQUEST="true")
    assert "Done for 1 of 1" in _html(response)
    assert Ownership.objects.get(lead=lead, ended_at__isnull=True).rep == us_territory[2]


def test_a_lead_taken_meanwhile_keeps_its_owner_and_the_others_are_re_routed(
    client: Client, us_territory: tuple[RuleSet, Territory, Rep]
) -> None:
    taken, free = _waiting(2, country="US")
    OwnershipFactory(account=None, lead=taken, role="SALES", rep=RepFactory(name="Quick Quentin"))
    response = client.post(
        UNASSIGNED, {"act": "reroute", "lead": [taken.pk, free.pk], "confirmed": "1"}, HTTP_HX_REQUEST="true"
    )
    html = _html(response)
    assert "Done for 1 of 2" in html
    assert f"{taken.email}: Quick Quentin owns it now; left as it is" in html
    assert Ownership.objects.get(lead=taken, ended_at__isnull=True).rep.name == "Quick Quentin"
    assert Ownership.objects.get(lead=free, ended_at__isnull=True).rep == us_territory[2]


def test_bulk_assign_needs_a_rep_and_a_reason_shown_at_their_fields(client: Client, manager: Rep) -> None:
    leads = _waiting(2)
    dee = RepFactory(name="Dee Keeper", manager=manager)

    no_rep = client.post(UNASSIGNED, {"act": "assign", "lead": [lead.pk for lead in leads], "reason": "x"})
    assert no_rep.status_code == 200
    assert '<p id="bulk-rep-error" class="error">choose the rep to assign to</p>' in _html(no_rep)

    no_reason = client.post(
        UNASSIGNED, {"act": "assign", "lead": [lead.pk for lead in leads], "rep": dee.pk}, HTTP_HX_REQUEST="true"
    )
    assert '<p id="bulk-reason-error" class="error">say why you assign these leads by hand</p>' in _html(no_reason)
    assert f'<option value="{dee.pk}" selected>' in _html(no_reason)

    nothing = client.post(UNASSIGNED, {"act": "assign", "rep": dee.pk, "reason": "x"}, HTTP_HX_REQUEST="true")
    assert "choose at least one lead" in _html(nothing)
    assert not Ownership.objects.exists()


def test_bulk_assign_after_confirmation_gives_every_lead_to_the_rep_with_history(client: Client, manager: Rep) -> None:
    leads = _waiting(3)
    dee = RepFactory(name="Dee Keeper", manager=manager)
    ids = [lead.pk for lead in leads]
    step = client.post(UNASSIGNED, {"act": "assign", "lead": ids, "rep": dee.pk, "reason": "German speakers"})
    html = _html(step)
    assert "Assign 3 leads to Dee Keeper?" in html
    assert "German speakers" in html
    assert not Ownership.objects.exists()

    client.post(
        UNASSIGNED, {"act": "assign", "lead": ids, "rep": dee.pk, "reason": "German speakers", "confirmed": "1"}
    )
    assert set(Ownership.objects.filter(ended_at__isnull=True).values_list("lead_id", "rep_id")) == {
        (pk, dee.pk) for pk in ids
    }
    changes = OwnershipChange.objects.filter(lead_id__in=ids)
    assert {(c.step, c.actor, c.reason) for c in changes} == {
        ("MANUAL", manager.email, "transferred to Dee Keeper: German speakers")
    }


def test_assigning_one_row_to_a_rep_outside_the_team_shows_the_refusal_on_that_row(
    client: Client, manager: Rep
) -> None:
    (lead,) = _waiting(1)
    stranger = RepFactory(name="Somebody Else")
    response = client.post(
        UNASSIGNED, {"act": f"assign:{lead.pk}", "rep": stranger.pk, "reason": "try"}, HTTP_HX_REQUEST="true"
    )
    html = _html(response)
    assert 'class="row-refused"' in html
    assert re.search(r"Refused</span> [^<]*not in your team", html)
    assert not Ownership.objects.exists()


@pytest.mark.parametrize("size", [2, 40])
def test_the_unassigned_queue_costs_the_same_queries_whatever_its_length(
    client: Client, us_territory: tuple[RuleSet, Territory, Rep], size: int, django_assert_num_queries: object
) -> None:
    leads = _waiting(size, account=AccountFactory(), decision={"step": "TERRITORY", "territory_id": 0})
    leads[0].decision = {"step": "TERRITORY", "territory_id": us_territory[1].pk}
    leads[0].save()
    RepFactory.create_batch(size)
    # session, user, rep | count, page (with accounts) | territory names | active reps: 8.
    # (+1: the navigation counts the manager's unread notifications.)
    with django_assert_num_queries(8):  # type: ignore[operator]
        response = client.get(UNASSIGNED)
    assert len(response.context["rows"]) == size


# --- Claim queues --------------------------------------------------------------------------


def test_the_claim_queue_lists_unowned_leads_routed_to_a_claim_queue_with_territory_and_age(
    client: Client, now: datetime
) -> None:
    territory = TerritoryFactory(name="Enterprise Claims", distribution="CLAIM_QUEUE")
    waiting = LeadFactory(
        email="queued@prospect.example",
        received_at=now - timedelta(hours=5),
        decision={"step": "TERRITORY", "territory_id": territory.pk, "owner": None},
    )
    claimed = LeadFactory(decision={"step": "TERRITORY", "territory_id": territory.pk, "owner": None})
    OwnershipFactory(account=None, lead=claimed, role="SALES")
    LeadFactory(email="nobody@prospect.example", decision={"step": "UNASSIGNED"})

    response = client.get(CLAIMS)
    html = _html(response)
    assert [row.item.lead for row in response.context["rows"]] == [waiting]
    assert "Enterprise Claims" in html
    assert "5\xa0hours" in html
    assert "nobody@prospect.example" not in html


@pytest.mark.parametrize("size", [1, 30])
def test_the_claim_queue_costs_the_same_queries_whatever_its_length(
    client: Client, size: int, django_assert_num_queries: object
) -> None:
    territories = TerritoryFactory.create_batch(2, rule_set=RuleSetFactory(), distribution="CLAIM_QUEUE")
    for i in range(size):
        LeadFactory(decision={"step": "TERRITORY", "territory_id": territories[i % 2].pk})
    # session, user, rep | count, page | territory names | the reps to assign to: 7.
    # (+1: the navigation counts the manager's unread notifications.)
    with django_assert_num_queries(8):  # type: ignore[operator]
        response = client.get(CLAIMS)
    assert len(response.context["rows"]) == size


def _in_claim_queue(count: int, territory: Territory) -> list[Lead]:
    return _waiting(count, country="US", decision={"step": "TERRITORY", "territory_id": territory.pk, "owner": None})


def test_bulk_assigning_claim_queue_leads_asks_for_confirmation_then_gives_each_to_the_rep_with_history(
    client: Client, manager: Rep
) -> None:
    territory = TerritoryFactory(name="Enterprise Claims", distribution="CLAIM_QUEUE")
    leads = _in_claim_queue(3, territory)
    dee = RepFactory(name="Dee Keeper", manager=manager)
    ids = [leads[0].pk, leads[2].pk]
    step = client.post(
        CLAIMS, {"act": "assign", "lead": ids, "rep": dee.pk, "reason": "big logos"}, HTTP_HX_REQUEST="true"
    )
    html = _html(step)
    assert "Assign 2 leads to Dee Keeper?" in html and leads[0].email in html and leads[1].email not in html
    assert f'hx-post="{CLAIMS}"' in html  # the confirmation posts back to the claim queue
    assert not Ownership.objects.exists()

    done = client.post(
        CLAIMS,
        {"act": "assign", "lead": ids, "rep": dee.pk, "reason": "big logos", "confirmed": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert "Done for 2 of 2" in _html(done)
    assert set(Ownership.objects.filter(ended_at__isnull=True).values_list("lead_id", "rep_id")) == {
        (pk, dee.pk) for pk in ids
    }
    assert OwnershipChange.objects.filter(lead_id__in=ids, step="MANUAL").count() == 2
    assert [row.item.lead for row in done.context["rows"]] == [leads[1]]  # the queue again, without them


def test_a_claim_queue_lead_claimed_meanwhile_keeps_its_claimant_and_the_others_proceed(
    client: Client, manager: Rep
) -> None:
    territory = TerritoryFactory(name="Enterprise Claims", distribution="CLAIM_QUEUE")
    taken, free = _in_claim_queue(2, territory)
    OwnershipFactory(account=None, lead=taken, role="SALES", rep=RepFactory(name="Quick Quentin"), reason="LEAD_CLAIM")
    dee = RepFactory(name="Dee Keeper", manager=manager)
    response = client.post(
        CLAIMS,
        {"act": "assign", "lead": [taken.pk, free.pk], "rep": dee.pk, "reason": "cover", "confirmed": "1"},
        HTTP_HX_REQUEST="true",
    )
    html = _html(response)
    assert "Done for 1 of 2" in html
    assert Ownership.objects.get(lead=taken, ended_at__isnull=True).rep.name == "Quick Quentin"
    assert Ownership.objects.get(lead=free, ended_at__isnull=True).rep == dee


def test_bulk_re_routing_claim_queue_leads_confirms_first_and_they_go_back_to_their_claim_queue(
    client: Client,
) -> None:
    rule_set = RuleSetFactory(status="PUBLISHED")
    territory = TerritoryFactory(
        rule_set=rule_set, name="US Claims", criteria={"countries": ["US"]}, distribution="CLAIM_QUEUE"
    )
    TerritoryMemberFactory(territory=territory, rep=RepFactory(name="Cam Claimer"))
    leads = _in_claim_queue(2, territory)
    ids = [lead.pk for lead in leads]
    step = client.post(CLAIMS, {"act": "reroute", "lead": ids}, HTTP_HX_REQUEST="true")
    assert "Re-route 2 leads?" in _html(step)
    done = client.post(CLAIMS, {"act": "reroute", "lead": ids, "confirmed": "1"}, HTTP_HX_REQUEST="true")
    assert "routed to a claim queue; it waits for a member to claim it" in _html(done)
    assert not Ownership.objects.filter(ended_at__isnull=True).exists()
    assert [row.item.lead for row in done.context["rows"]] == leads  # still waiting there


# --- Deal registrations --------------------------------------------------------------------


def _registration(**fields: object) -> DealRegistration:
    fields.setdefault("status", "PENDING")
    fields.setdefault("expires_at", timezone.now() + timedelta(days=90))
    return DealRegistrationFactory(**fields)


def test_pending_registrations_are_listed_oldest_first_with_their_conflicts(client: Client) -> None:
    old = _registration(
        partner=PartnerFactory(name="Old Channel"),
        submitted_at=timezone.now() - timedelta(days=3),
        conflicts=[{"kind": "CUSTOMER", "detail": "Acme is a customer: its account manager owns it"}],
    )
    new = _registration(partner=PartnerFactory(name="New Channel"))
    _registration(partner=PartnerFactory(name="Done Channel"), status="APPROVED")

    response = client.get(REGISTRATIONS)
    html = _html(response)
    assert [row.item for row in response.context["rows"]] == [old, new]
    assert "Acme is a customer: its account manager owns it" in html
    assert "1 conflict</span>" in html
    assert "Done Channel" not in html

    approved = client.get(REGISTRATIONS, {"status": "approved"}, HTTP_HX_REQUEST="true")
    assert "Done Channel" in _html(approved) and "Old Channel" not in _html(approved)
    assert "<html" not in _html(approved)
    everything = client.get(REGISTRATIONS, {"status": "ALL"})
    assert len(everything.context["rows"]) == 3


def test_approving_a_registration_makes_the_partner_the_partner_owner(client: Client, manager: Rep) -> None:
    registration = _registration(partner=PartnerFactory(name="Big Channel Ltd"))
    response = client.post(
        REGISTRATIONS, {"act": f"approve:{registration.pk}", f"reason-{registration.pk}": ""}, HTTP_HX_REQUEST="true"
    )
    assert "Done for 1 of 1" in _html(response)
    registration.refresh_from_db()
    assert registration.status == "APPROVED" and registration.decided_by == manager
    owner = Ownership.objects.get(account=registration.account, role="PARTNER", ended_at__isnull=True)
    assert owner.partner == registration.partner


def test_rejecting_without_a_reason_is_refused_on_that_row_and_with_one_it_is_rejected(client: Client) -> None:
    registration = _registration()
    other = _registration()
    refused = client.post(
        REGISTRATIONS,
        {"act": f"reject:{registration.pk}", f"reason-{registration.pk}": " ", f"reason-{other.pk}": "typed"},
        HTTP_HX_REQUEST="true",
    )
    html = _html(refused)
    assert f'<p id="row-error-{registration.pk}" class="error" role="alert">' in html
    assert "a rejection needs a reason" in html
    assert f'aria-invalid="true" aria-describedby="row-error-{registration.pk}"' in html
    assert 'value="typed"' in html  # what was typed on another row is kept
    registration.refresh_from_db()
    assert registration.status == "PENDING"

    client.post(REGISTRATIONS, {"act": f"reject:{registration.pk}", f"reason-{registration.pk}": "duplicate"})
    registration.refresh_from_db()
    assert (registration.status, registration.reason) == ("REJECTED", "duplicate")


def test_an_earlier_direct_claim_refuses_the_approval_in_place(client: Client) -> None:
    account = AccountFactory(name="Claimed Co")
    OwnershipFactory(
        account=account,
        role="SALES",
        rep=RepFactory(name="Early Bird"),
        reason="ACCOUNT_CLAIM",
        since=timezone.now() - timedelta(days=2),
        expires_at=timezone.now() + timedelta(days=20),
    )
    registration = _registration(account=account)
    response = client.post(REGISTRATIONS, {"act": f"approve:{registration.pk}"}, HTTP_HX_REQUEST="true")
    html = _html(response)
    assert "Early Bird claimed Claimed Co" in html
    assert 'class="row-refused"' in html
    registration.refresh_from_db()
    assert registration.status == "PENDING"


def test_bulk_review_asks_for_confirmation_then_decides_each_registration(client: Client) -> None:
    first, second = _registration(), _registration()
    ids = [first.pk, second.pk]
    step = client.post(REGISTRATIONS, {"act": "reject", "registration": ids, "reason": "no partner program there"})
    html = _html(step)
    assert "Reject 2 registrations?" in html and "no partner program there" in html
    assert DealRegistration.objects.filter(status="PENDING").count() == 2

    no_reason = client.post(REGISTRATIONS, {"act": "reject", "registration": ids, "reason": ""})
    assert '<p id="bulk-reason-error" class="error">a rejection needs a reason</p>' in _html(no_reason)

    client.post(
        REGISTRATIONS, {"act": "reject", "registration": ids, "reason": "no partner program there", "confirmed": "1"}
    )
    assert set(DealRegistration.objects.values_list("status", flat=True)) == {"REJECTED"}


@pytest.mark.parametrize("size", [1, 30])
def test_the_registrations_queue_costs_the_same_queries_whatever_its_length(
    client: Client, size: int, django_assert_num_queries: object
) -> None:
    for _ in range(size):
        _registration(conflicts=[{"kind": "CUSTOMER", "detail": "a customer"}])
    # session, user, rep | count, page (with partner, account, submitter, decider): 6.
    # (+1: the navigation counts the manager's unread notifications.)
    with django_assert_num_queries(6):  # type: ignore[operator]
        response = client.get(REGISTRATIONS)
    assert len(response.context["rows"]) == size


# --- Disputes ------------------------------------------------------------------------------


@pytest.fixture
def contested(manager: Rep) -> tuple[Dispute, Rep, Rep]:
    owner = RepFactory(name="Olga Owner", manager=manager)
    claimant = RepFactory(name="Cy Claimant", manager=manager)
    account = AccountFactory(name="Contested Co")
    OwnershipFactory(account=account, role="SALES", rep=owner)
    dispute = DisputeFactory(
        account=account,
        claimant=claimant,
        current_owner=owner,
        status="OPEN",
        due_at=timezone.now() + timedelta(hours=5, minutes=30),
    )
    return dispute, claimant, owner


def test_the_dispute_queue_is_sorted_by_deadline_with_time_left_in_words_and_overdue_flagged(
    client: Client, contested: tuple[Dispute, Rep, Rep]
) -> None:
    later = contested[0]
    overdue = DisputeFactory(status="ESCALATED", due_at=timezone.now() - timedelta(hours=3))
    DisputeFactory(status="RESOLVED")

    response = client.get(DISPUTES)
    html = _html(response)
    assert [row.dispute for row in response.context["rows"]] == [overdue, later]
    assert "overdue by 3\xa0hours" in html
    assert '<span class="status-flag status-bad">Overdue</span>' in html  # in words, not only colour
    assert "5\xa0hours, 29\xa0minutes left" in html or "5\xa0hours, 30\xa0minutes left" in html
    assert 'hx-trigger="every 60s, disputesChanged from:body"' in html
    assert "1 overdue" in html


def test_the_dispute_queue_poll_gets_only_the_list(client: Client, contested: tuple[Dispute, Rep, Rep]) -> None:
    response = client.get(DISPUTES, HTTP_HX_REQUEST="true")
    html = _html(response)
    assert html.strip().startswith('<div id="dispute-queue"')  # it replaces itself (outerHTML)
    assert "<html" not in html and "Contested Co" in html


def test_resolving_a_dispute_makes_the_winner_the_owner_and_refreshes_the_queue(
    client: Client, contested: tuple[Dispute, Rep, Rep], manager: Rep
) -> None:
    dispute, claimant, owner = contested
    url = reverse("console:dispute", args=[dispute.pk])
    form = client.get(url, HTTP_HX_REQUEST="true")
    assert "<html" not in _html(form) and "Who wins?" in _html(form)

    response = client.post(
        url, {"winner": claimant.pk, "resolution": "Cy logged the first meeting"}, HTTP_HX_REQUEST="true"
    )
    html = _html(response)
    assert response["HX-Trigger"] == '{"disputesChanged": {}}'
    assert "Cy Claimant owns the account now." in html
    dispute.refresh_from_db()
    assert (dispute.status, dispute.winner, dispute.loser, dispute.resolved_by) == (
        "RESOLVED",
        claimant,
        owner,
        manager,
    )
    assert Ownership.objects.get(account=dispute.account, role="SALES", ended_at__isnull=True).rep == claimant
    assert "Who wins?" not in html  # a resolved dispute has no form


def test_resolving_needs_a_winner_and_a_resolution_shown_at_their_fields(
    client: Client, contested: tuple[Dispute, Rep, Rep]
) -> None:
    dispute, claimant, _ = contested
    url = reverse("console:dispute", args=[dispute.pk])
    no_text = client.post(url, {"winner": claimant.pk, "resolution": ""}, HTTP_HX_REQUEST="true")
    assert '<p id="resolution-error" class="error">say how the dispute was resolved</p>' in _html(no_text)
    assert f'value="{claimant.pk}" required checked' in _html(no_text)

    no_winner = client.post(url, {"resolution": "settled"}, HTTP_HX_REQUEST="true")
    assert '<p id="winner-error" class="error">choose who wins' in _html(no_winner)
    assert ">settled</textarea>" in _html(no_winner)

    outsider = client.post(url, {"winner": RepFactory().pk, "resolution": "x"}, HTTP_HX_REQUEST="true")
    assert '<p id="winner-error" class="error">the winner is the claimant or the contested owner</p>' in _html(outsider)
    dispute.refresh_from_db()
    assert dispute.status == "OPEN"


def test_a_manager_outside_both_teams_is_refused_in_place(contested: tuple[Dispute, Rep, Rep]) -> None:
    dispute, claimant, _ = contested
    user = User.objects.create_user(username="other")
    ManagerFactory(user=user)
    client = Client()
    client.force_login(user)
    response = client.post(reverse("console:dispute", args=[dispute.pk]), {"winner": claimant.pk, "resolution": "mine"})
    assert response.status_code == 200
    assert "only a manager of the claimant or of the owner, or RevOps, resolves a dispute" in _html(response)


@pytest.mark.parametrize("size", [1, 30])
def test_the_dispute_queue_costs_the_same_queries_whatever_its_length(
    client: Client, size: int, django_assert_num_queries: object
) -> None:
    for i in range(size):
        if i % 2:
            DisputeFactory(account=None, lead=LeadFactory(), escalated_to=RepFactory(), status="ESCALATED")
        else:
            DisputeFactory(current_owner=RepFactory())
    # session, user, rep | count, page (with records and people): 6.
    # (+1: the navigation counts the manager's unread notifications.)
    with django_assert_num_queries(6):  # type: ignore[operator]
        response = client.get(DISPUTES)
    assert len(response.context["rows"]) == size


def _contested(manager: Rep, name: str) -> Dispute:
    owner = RepFactory(name=f"{name} Owner", manager=manager)
    claimant = RepFactory(name=f"{name} Claimant", manager=manager)
    account = AccountFactory(name=f"{name} Co")
    OwnershipFactory(account=account, role="SALES", rep=owner)
    return DisputeFactory(
        account=account,
        claimant=claimant,
        current_owner=owner,
        status="OPEN",
        due_at=timezone.now() + timedelta(days=1),
    )


def test_bulk_resolving_asks_for_confirmation_naming_each_dispute_its_parties_and_outcome(
    client: Client, manager: Rep
) -> None:
    first, second, untouched = (_contested(manager, n) for n in ("Ada", "Bo", "Cy"))
    ids = [first.pk, second.pk]
    step = client.post(
        DISPUTES, {"dispute": ids, "side": "claimant", "resolution": "claimants met them first"}, HTTP_HX_REQUEST="true"
    )
    html = _html(step)
    assert "Resolve 2 disputes for the claimants?" in html
    assert "Ada Claimant contests Ada Owner → <strong>Ada Claimant</strong>" in html
    assert "Bo Co" in html and "Cy Co" not in html and "claimants met them first" in html
    assert set(Dispute.objects.values_list("status", flat=True)) == {"OPEN"}

    done = client.post(
        DISPUTES,
        {"dispute": ids, "side": "claimant", "resolution": "claimants met them first", "confirmed": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert "Done for 2 of 2" in _html(done) and done["HX-Trigger"] == '{"disputesChanged": {}}'
    for dispute in (first, second):
        dispute.refresh_from_db()
        assert (dispute.status, dispute.winner, dispute.resolution) == (
            "RESOLVED",
            dispute.claimant,
            "claimants met them first",
        )
        assert Ownership.objects.get(account=dispute.account, ended_at__isnull=True).rep == dispute.claimant
    assert [row.dispute for row in done.context["rows"]] == [untouched]


def test_bulk_resolving_for_the_owners_keeps_each_record_with_its_owner(client: Client, manager: Rep) -> None:
    dispute = _contested(manager, "Ada")
    client.post(DISPUTES, {"dispute": [dispute.pk], "side": "owner", "resolution": "owner's deal", "confirmed": "1"})
    dispute.refresh_from_db()
    assert (dispute.status, dispute.winner) == ("RESOLVED", dispute.current_owner)
    assert Ownership.objects.get(account=dispute.account, ended_at__isnull=True).rep == dispute.current_owner


def test_bulk_resolving_needs_disputes_a_side_and_a_resolution_shown_at_their_fields(
    client: Client, manager: Rep
) -> None:
    dispute = _contested(manager, "Ada")
    no_side = client.post(DISPUTES, {"dispute": [dispute.pk], "resolution": "x"}, HTTP_HX_REQUEST="true")
    assert '<p id="bulk-side-error" class="error">choose who wins' in _html(no_side)
    no_text = client.post(DISPUTES, {"dispute": [dispute.pk], "side": "owner"}, HTTP_HX_REQUEST="true")
    assert '<p id="bulk-resolution-error" class="error">say how the disputes were resolved</p>' in _html(no_text)
    nothing = client.post(DISPUTES, {"side": "owner", "resolution": "x"}, HTTP_HX_REQUEST="true")
    assert "choose at least one dispute" in _html(nothing)
    dispute.refresh_from_db()
    assert dispute.status == "OPEN"


def test_a_dispute_outside_the_managers_teams_is_refused_on_its_row_and_the_others_are_resolved(
    client: Client, manager: Rep
) -> None:
    mine = _contested(manager, "Ada")
    theirs = _contested(ManagerFactory(name="Olga Other"), "Zed")
    response = client.post(
        DISPUTES,
        {"dispute": [mine.pk, theirs.pk], "side": "claimant", "resolution": "settled", "confirmed": "1"},
        HTTP_HX_REQUEST="true",
    )
    html = _html(response)
    assert "Done for 1 of 2" in html
    assert "only a manager of the claimant or of the owner, or RevOps, resolves a dispute" in html
    assert "row-refused" in html
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, theirs.status) == ("RESOLVED", "OPEN")


def test_a_dispute_resolved_meanwhile_is_reported_and_left_as_it_is(client: Client, manager: Rep) -> None:
    dispute = _contested(manager, "Ada")
    Dispute.objects.filter(pk=dispute.pk).update(status="RESOLVED")
    response = client.post(
        DISPUTES,
        {"dispute": [dispute.pk], "side": "owner", "resolution": "x", "confirmed": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert f"dispute #{dispute.pk} is already RESOLVED" in _html(response)


@pytest.mark.parametrize("size", [1, 20])
def test_the_dispute_confirmation_step_costs_the_same_queries_whatever_it_names(
    client: Client, manager: Rep, size: int, django_assert_num_queries: object
) -> None:
    ids = [_contested(manager, f"N{i}").pk for i in range(size)]
    client.get(DISPUTES)
    # session, user, rep | the named disputes | count, page of the queue behind it: 6 (an htmx request: no nav).
    with django_assert_num_queries(6):  # type: ignore[operator]
        response = client.post(DISPUTES, {"dispute": ids, "side": "owner", "resolution": "x"}, HTTP_HX_REQUEST="true")
    assert _html(response).count('<input type="hidden" name="dispute"') == size


@pytest.mark.parametrize("escalations", [0, 6])
def test_the_dispute_page_lists_its_escalations_and_costs_the_same_queries_whatever_their_number(
    client: Client, contested: tuple[Dispute, Rep, Rep], escalations: int, django_assert_num_queries: object
) -> None:
    dispute, _claimant, owner = contested
    for i in range(escalations):
        DisputeEscalation.objects.create(
            dispute=dispute,
            at=timezone.now() - timedelta(days=escalations - i),
            from_rep=owner,
            to_rep=RepFactory(name=f"Boss {i}"),
            due_before=timezone.now(),
            due_after=timezone.now() + timedelta(days=1),
        )
    url = reverse("console:dispute", args=[dispute.pk])
    # session, user | the dispute with its parties | its escalations | nav unread (rep cached): 6
    with django_assert_num_queries(6):  # type: ignore[operator]
        html = _html(client.get(url))
    assert html.count("past its deadline, from Olga Owner") == escalations

"""The console's main journeys in a real browser: clicks, typing and htmx swaps, then the database."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from disputes.models import Dispute
from disputes.services import open_dispute
from leadowner.actors import Actor
from routing.models import Lead, Ownership, OwnershipChange, RebalancePlan
from routing.services.departures import reassign_departed_rep
from routing.services.rebalancing import apply_rebalance_moves
from routing.services.registrations import DealRegistrationData, register_deal
from territories.models import Rep, RuleSet, Territory
from tests.factories import (
    AccountFactory,
    ManagerFactory,
    OpportunityFactory,
    OwnershipFactory,
    PartnerFactory,
    PartnerUserFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_typing_a_domain_in_the_header_search_shows_its_owners_without_pressing_enter(page: Page) -> None:
    owner = RepFactory(name="Peter Gibbons", email="peter@example.com")
    initech = AccountFactory(name="Initech LLC", domains=["initech.com"])
    OwnershipFactory(account=initech, role="SALES", rep=owner)
    changes = OwnershipChange.objects.count()

    page.goto("/")
    page.get_by_role("searchbox", name="Who owns").press_sequentially("jane@mail.initech.com", delay=15)

    results = page.get_by_role("region", name="Lookup results")
    expect(results.get_by_role("heading", name="Initech LLC")).to_be_visible()
    expect(results.get_by_role("row").filter(has_text="Peter Gibbons")).to_contain_text("Sales")
    expect(page).to_have_url(re.compile(r"/lookup/\?q=jane%40mail\.initech\.com$"))  # the result can be shared
    assert Ownership.objects.get(account=initech, ended_at__isnull=True).rep == owner
    assert OwnershipChange.objects.count() == changes  # looking up changes nothing


def test_a_draft_is_edited_validated_tested_on_sample_leads_and_published(page: Page) -> None:
    v1 = RuleSetFactory(version=1, status="PUBLISHED")
    emea = TerritoryFactory(rule_set=v1, name="EMEA", criteria={"countries": ["GB", "DE"]}, position=0)
    TerritoryMemberFactory(territory=emea, rep=RepFactory(name="Ada Lovelace", email="ada@example.com"))
    americas = TerritoryFactory(rule_set=v1, name="Americas", criteria={"countries": ["US"]}, position=1)
    TerritoryMemberFactory(territory=americas, rep=RepFactory(name="Bo Diddley", email="bo@example.com"))
    newcomer = RepFactory(name="Cy Newcomer", email="cy@example.com")

    page.goto("/territories/")
    expect(page.get_by_role("heading", name="v1 published")).to_be_visible()
    page.get_by_role("button", name="New draft from v1").click()
    expect(page.get_by_text("Draft v2 is a copy of v1")).to_be_visible()
    expect(page.get_by_role("heading", name="v2 draft")).to_be_visible()

    page.get_by_role("link", name="EMEA", exact=True).click()
    page.get_by_label("Add to countries").fill("FR")
    page.locator("#criterion-countries").get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.locator("#criterion-countries li > span")).to_have_text(["GB", "DE", "FR"])
    page.get_by_label("Add a member").select_option(label="Cy Newcomer (cy@example.com)")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("row").filter(has_text="Cy Newcomer")).to_be_visible()

    page.get_by_role("link", name="Back to v2").click()
    page.get_by_role("link", name="Validate").click()
    expect(page.locator("#problems")).to_have_text("No problems: v2 can be published.")

    page.get_by_role("link", name="Simulate").click()
    expect(page.get_by_label("Draft rule set")).to_have_value("2")  # the map's link names the draft
    page.get_by_label("Sample leads").fill(
        "email,company,country\nmarie@banque-paris.example,Banque Paris,FR\nhans@berlin-bank.example,Berlin Bank,DE\n"
    )
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", name="2 leads: 2 decided differently")).to_be_visible()
    marie = page.get_by_role("row").filter(has_text="marie@banque-paris.example")
    expect(marie.get_by_role("cell", name="EMEA", exact=False)).to_have_count(1)  # only the draft sends France there
    expect(marie).to_contain_text("Unassigned")
    hans = page.get_by_role("row").filter(has_text="hans@berlin-bank.example")
    expect(hans.get_by_role("cell", name="EMEA", exact=True)).to_have_count(2)  # Germany stays in EMEA...
    expect(hans).to_contain_text("changed Cy Newcomer")  # ...where the new member now takes the next turn
    assert not Lead.objects.exists() and not OwnershipChange.objects.exists()  # testing rules writes nothing

    page.goto("/territories/?version=2")
    page.get_by_role("link", name="Publish…").click()
    expect(page.get_by_role("heading", name="Publish v2?")).to_be_visible()
    expect(page.locator("ul.changes")).to_contain_text("FR")
    assert RuleSet.objects.get(version=2).status == "DRAFT"  # nothing happens before the confirmation
    page.get_by_role("button", name="Yes, publish v2").click()
    expect(page.get_by_text("v2 is published and routes every new lead now; v1 is archived.")).to_be_visible()

    statuses = dict(RuleSet.objects.values_list("version", "status"))
    assert statuses == {1: "ARCHIVED", 2: "PUBLISHED"}
    published_emea = Territory.objects.get(rule_set__version=2, name="EMEA")
    assert published_emea.criteria["countries"] == ["GB", "DE", "FR"]
    assert {m.rep for m in published_emea.memberships.all()} == {Rep.objects.get(email="ada@example.com"), newcomer}
    assert Territory.objects.get(rule_set__version=1, name="EMEA").criteria["countries"] == ["GB", "DE"]


def test_a_dispute_is_resolved_from_the_queue_and_the_winner_owns_the_account(page: Page, revops: Rep) -> None:
    owner = RepFactory(name="Olga Owner", email="olga@example.com")
    claimant = RepFactory(name="Cy Claimant", email="cy@example.com")
    account = AccountFactory(name="Contested Co")
    OwnershipFactory(account=account, role="SALES", rep=owner)
    dispute = open_dispute(
        account=account, reason="I ran the first meeting", actor=Actor(rep=claimant), now=timezone.now()
    )

    page.goto("/disputes/")
    queue = page.locator("#dispute-queue")
    expect(queue.get_by_role("row").filter(has_text="Contested Co")).to_contain_text("Cy Claimant")
    page.get_by_role("link", name=f"Resolve dispute #{dispute.pk}").click()
    page.get_by_role("radio", name="Cy Claimant (claimant)").check()
    page.get_by_label("Resolution (both parties see it)").fill("Cy logged the first meeting in March.")
    page.get_by_role("button", name="Resolve", exact=True).click()

    expect(page.get_by_role("status")).to_have_text(
        f"Dispute #{dispute.pk} resolved: Cy Claimant owns the account now."
    )
    expect(queue).to_contain_text("No open disputes.")  # the queue refreshed itself on the resolve
    dispute.refresh_from_db()
    assert (dispute.status, dispute.winner, dispute.resolved_by) == ("RESOLVED", claimant, revops)
    assert Ownership.objects.get(account=account, role="SALES", ended_at__isnull=True).rep == claimant


def test_two_disputes_are_resolved_at_once_after_a_confirmation_naming_them(page: Page, revops: Rep) -> None:
    disputes = []
    for name in ("Ada", "Bo"):
        owner = RepFactory(name=f"{name} Owner", email=f"{name.lower()}.owner@example.com")
        claimant = RepFactory(name=f"{name} Claimant", email=f"{name.lower()}.claimant@example.com")
        account = AccountFactory(name=f"{name} Co")
        OwnershipFactory(account=account, role="SALES", rep=owner)
        disputes.append(
            open_dispute(account=account, reason="I met them first", actor=Actor(rep=claimant), now=timezone.now())
        )

    page.goto("/disputes/")
    for dispute in disputes:
        page.get_by_label(f"Tick dispute #{dispute.pk}").check()
    page.get_by_label("Who wins").select_option("owner")
    page.get_by_label("Resolution").fill("The owners had the meetings on record.")
    page.get_by_role("button", name="Resolve ticked disputes…").click()
    expect(page.get_by_role("heading", name="Resolve 2 disputes for the contested owners?")).to_be_visible()
    expect(page.locator(".confirm-list")).to_contain_text("Ada Claimant contests Ada Owner → Ada Owner")
    assert {d.status for d in Dispute.objects.all()} == {"OPEN"}  # nothing decided before confirming

    page.get_by_role("button", name="Yes, resolve them").click()
    expect(page.get_by_text("Done for 2 of 2:")).to_be_visible()
    expect(page.locator("#dispute-queue")).to_contain_text("No open disputes.")
    for dispute in disputes:
        dispute.refresh_from_db()
        assert (dispute.status, dispute.winner) == ("RESOLVED", dispute.current_owner)


def test_a_pending_deal_registration_is_approved_and_the_partner_owns_the_account(page: Page, revops: Rep) -> None:
    AccountFactory(name="Globex Corporation", domains=["globex.com"])
    partner = PartnerFactory(name="Northwind Partners")
    registration = register_deal(
        data=DealRegistrationData(company="Globex Corporation", domain="globex.com", country="US"),
        actor=Actor(partner_user=PartnerUserFactory(partner=partner)),
        now=timezone.now(),
    )

    page.goto("/registrations/")
    expect(page.get_by_role("table")).to_contain_text("1 pending registration")
    row = page.get_by_role("row").filter(has_text=f"#{registration.pk} Northwind Partners")
    expect(row).to_contain_text("Globex Corporation")
    row.get_by_role("button", name=f"Approve registration #{registration.pk}").click()

    expect(page.get_by_role("status")).to_contain_text("Done for 1 of 1")
    expect(page.get_by_text("No pending registrations.")).to_be_visible()
    registration.refresh_from_db()
    assert (registration.status, registration.decided_by) == ("APPROVED", revops)
    ownership = Ownership.objects.get(account=registration.account, role="PARTNER", ended_at__isnull=True)
    assert ownership.partner == partner


def test_marking_a_rep_departed_shows_where_each_record_goes_then_moves_them_there(page: Page) -> None:
    manager = ManagerFactory(name="Mia Manager", email="mia@example.com")
    leaving = RepFactory(name="Dee Parting", email="dee@example.com", manager=manager)
    staying = RepFactory(name="Eve Staying", email="eve@example.com", manager=manager)
    v1 = RuleSetFactory(version=1, status="PUBLISHED")
    americas = TerritoryFactory(rule_set=v1, name="Americas", criteria={"countries": ["US"]})
    TerritoryMemberFactory(territory=americas, rep=leaving)
    TerritoryMemberFactory(territory=americas, rep=staying)
    accounts = [AccountFactory(name=f"Leftover {n} Inc", country="US") for n in (1, 2)]
    for account in accounts:
        OwnershipFactory(account=account, role="SALES", rep=leaving)

    page.goto("/roster/")
    page.get_by_role("link", name="Dee Parting").click()
    page.get_by_role("link", name="Mark departed…").click()
    expect(page.get_by_role("heading", name="Mark Dee Parting departed?")).to_be_visible()
    records = page.get_by_role("table").filter(has_text="Goes to").last
    preview = {}
    for account in accounts:
        row = records.get_by_role("row").filter(has_text=account.name)
        preview[account.pk] = row.get_by_role("cell").nth(2).inner_text().strip()
    assert all(preview.values())
    assert Rep.objects.get(pk=leaving.pk).status == "ACTIVE"  # the preview changes nothing

    page.get_by_role("button", name="Yes, mark Dee Parting departed").click()
    expect(page.get_by_text("Dee Parting departs now; their records are being reassigned.")).to_be_visible()
    expect(page.get_by_text("Dee Parting has departed; their roster entry no longer changes.")).to_be_visible()
    leaving.refresh_from_db()
    assert leaving.status == "DEPARTED" and leaving.reassignment_due_at is not None

    reassign_departed_rep(rep_id=leaving.pk, now=timezone.now())  # what the task sent on commit does
    for account in accounts:
        owner = Ownership.objects.get(account=account, role="SALES", ended_at__isnull=True).rep
        assert owner is not None and owner.name == preview[account.pk]  # where the preview said


def test_a_rebalancing_plan_is_built_read_and_applied_after_confirming(page: Page) -> None:
    ada = RepFactory(name="Ada Lovelace", email="ada@example.com")
    bo = RepFactory(name="Bo Diddley", email="bo@example.com")
    v1 = RuleSetFactory(version=1, status="PUBLISHED")
    TerritoryMemberFactory(
        territory=TerritoryFactory(rule_set=v1, name="EMEA", criteria={"countries": ["GB"]}), rep=ada
    )
    TerritoryMemberFactory(
        territory=TerritoryFactory(rule_set=v1, name="Americas", criteria={"countries": ["US"]}), rep=bo
    )
    misplaced = AccountFactory(name="Globex Corporation", country="US")
    for account in (misplaced, AccountFactory(country="GB"), AccountFactory(country="GB")):
        # Ada holds 3 (2 of them in her EMEA), Bo none: moving Globex to Bo lowers the load variance.
        OwnershipFactory(account=account, role="SALES", rep=ada, since=timezone.now() - timedelta(days=400))

    page.goto("/rebalancing/")
    page.get_by_role("button", name="Build a plan").click()
    expect(page.get_by_role("heading", name=re.compile(r"Rebalancing plan #\d+"))).to_be_visible()
    move = page.get_by_role("row").filter(has_text="Globex Corporation")
    expect(move).to_contain_text("Bo Diddley")
    assert Ownership.objects.get(account=misplaced, ended_at__isnull=True).rep == ada  # nothing moved yet

    page.get_by_role("link", name="Apply…").click()
    page.get_by_role("button", name="Yes, apply the 1 move").click()
    expect(page.get_by_text("is being applied")).to_be_visible()
    plan = RebalancePlan.objects.get()
    assert plan.status == "APPLYING"
    apply_rebalance_moves(plan_id=plan.pk, now=timezone.now())  # what the rebalancing sweep does
    assert Ownership.objects.get(account=misplaced, ended_at__isnull=True).rep == bo
    page.reload()
    expect(page.get_by_text("1 moved, 0 skipped")).to_be_visible()


def test_a_metric_chart_has_an_accessible_name_and_its_csv_downloads_the_numbers(page: Page) -> None:
    ada = RepFactory(name="Ada Lovelace", email="ada@example.com")
    bo = RepFactory(name="Bo Diddley", email="bo@example.com")
    created = timezone.now() - timedelta(days=3)
    for owner, amount in ((ada, "1000.00"), (ada, "2500.00"), (bo, "700.00")):
        OpportunityFactory(owner=owner, amount=Decimal(amount), created_at=created)

    page.goto("/metrics/")
    chart = page.get_by_role("img", name=re.compile(r"^Open pipeline per owner"))
    expect(chart).to_be_visible()
    expect(chart).to_contain_text("Ada Lovelace")  # values and labels are text, not only shapes
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV of Pipeline").click()
    download = download_info.value
    assert re.fullmatch(r"pipeline-\d{8}-\d{8}\.csv", download.suggested_filename)
    rows = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8"))))
    assert [(r["owner"], r["opportunities"], r["amount"]) for r in rows] == [
        ("Ada Lovelace", "2", "3500.00"),
        ("Bo Diddley", "1", "700.00"),
    ]
    assert {r["owner_id"] for r in rows} == {str(ada.pk), str(bo.pk)}


def test_a_manager_opens_their_notifications_from_the_nav_and_marks_them_read(page: Page, revops: Rep) -> None:
    from leadowner.models import Notification
    from leadowner.notifications import notify

    now = timezone.now()
    account = AccountFactory(name="Escalated Co")
    notify(
        recipients=[revops],
        kind="ESCALATION",
        subject="A dispute escalated to you",
        body="",
        now=now,
        account_id=account.pk,
    )
    notify(recipients=[revops], kind="FORFEIT", subject="A lead was forfeited", body="", now=now - timedelta(hours=1))

    page.goto("/")
    nav = page.get_by_role("navigation", name="Console")
    link = nav.get_by_role("link", name=re.compile(r"^Notifications \(2 unread\)$"))
    link.click()
    expect(page.get_by_role("heading", name="Notifications", exact=True)).to_be_visible()
    mine = page.locator("#own-notifications")
    expect(mine.get_by_role("status")).to_contain_text("2 unread of 2.")

    page.get_by_role("button", name="Mark read: A dispute escalated to you").click()
    expect(mine.get_by_role("status")).to_contain_text("1 unread of 2. Marked 1 read.")
    expect(nav.get_by_role("link", name=re.compile(r"^Notifications \(1 unread\)$"))).to_be_visible()
    assert Notification.objects.get(subject="A dispute escalated to you").read_at is not None
    assert Notification.objects.get(subject="A lead was forfeited").read_at is None

    mine.get_by_role("button", name="Mark all read").click()
    expect(mine.get_by_role("status")).to_contain_text("0 unread of 2. Marked 1 read.")
    expect(page.locator("#nav-unread")).to_be_hidden()
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    page.get_by_role("link", name="Escalated Co").first.click()
    expect(page).to_have_url(re.compile(rf"/accounts/{account.pk}/$"))

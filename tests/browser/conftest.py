"""Browser tests: Debian's Chromium (headless, through Playwright) against pytest-django's live server.

Each test module gets one browser; each test a fresh browser context (cookies, storage)
signed in as a RevOps user, a laptop-sized window and the live server's URL as base, so
`page.goto("/roster/")` works. The database is the test database (`transactional_db`:
what a test creates is committed, so the server thread sees it, and is flushed after).

Playwright's sync API keeps an asyncio loop running in this thread while it is started,
and Django refuses ORM calls from a thread with a running loop. The tests' own ORM calls
are plain synchronous ones, so DJANGO_ALLOW_ASYNC_UNSAFE is set while a module's browser
runs, and the loop and the variable are gone before any other test module runs.

Chromium comes from Debian (scripts/ensure_chromium.sh, which `make test` runs first);
Playwright's own browser downloads do not run here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from leadowner.actors import Actor
from leadowner.management.commands.screenshots import CHROMIUM, LAPTOP, launch_chromium
from territories.models import Rep
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

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Response

TIMEOUT_MS = 10_000  # one step (a click, an expectation); generous for `make test` sharing two cores


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh (as root) first", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: .venv/bin/pip install '.[dev]'", pytrace=False)
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = launch_chromium(playwright)
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def revops(transactional_db: None) -> Rep:
    # No password: the tests sign in with a session cookie, and hashing one costs half a second.
    user = User.objects.create_user(username="rita@example.com", password=None, first_name="Rita", last_name="Ortiz")
    return RepFactory(user=user, name="Rita Ortiz", email="rita@example.com", role="REVOPS", capacity=None)


@dataclass
class Console:
    """A signed-in browser tab, and what went wrong in it that a user would not see."""

    page: Page
    errors: list[str]


def _signed_in_cookie(user: Any, url: str) -> dict[str, Any]:
    client = Client()
    client.force_login(user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": url,
    }


def open_console(browser: Browser, base_url: str, *, user: Any | None, viewport: dict[str, int]) -> Console:
    context = browser.new_context(base_url=base_url, viewport=viewport, accept_downloads=True)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    if user is not None:
        context.add_cookies([_signed_in_cookie(user, base_url)])  # type: ignore[list-item]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"{page.url}: script error: {error}"))
    page.on("console", lambda message: _console_error(message, errors, page.url))
    page.on("response", lambda response: _response_error(response, errors))
    return Console(page, errors)


def _console_error(message: ConsoleMessage, errors: list[str], url: str) -> None:
    # A failed request is reported by _response_error, with its URL.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(f"{url}: {message.text}")


def _response_error(response: Response, errors: list[str]) -> None:
    # Chromium asks every site for /favicon.ico; the console has none, which is harmless.
    if response.status >= 400 and not response.url.endswith("/favicon.ico"):
        errors.append(f"{response.status} {response.request.method} {response.url}")


@pytest.fixture
def console(browser: Browser, live_server: Any, revops: Rep) -> Iterator[Console]:
    """A laptop-sized tab signed in as RevOps; fails the test if a page logged an error (CSP, script, 500)."""
    opened = open_console(browser, live_server.url, user=revops.user, viewport=LAPTOP)
    yield opened
    opened.page.context.close()
    assert opened.errors == [], f"the browser logged errors: {opened.errors}"


@pytest.fixture
def page(console: Console) -> Page:
    return console.page


@pytest.fixture
def book(revops: Rep) -> dict[str, int]:
    """A small book with something on every console screen: the ids the screenshot command's paths take."""
    from disputes.services import open_dispute
    from routing.enrich import LeadData
    from routing.services.leads import submit_lead
    from routing.services.registrations import DealRegistrationData, register_deal
    from territories.services import create_draft_from

    now = timezone.now()
    manager = ManagerFactory(name="Mia Manager", email="mia@example.com")
    ada = RepFactory(name="Ada Lovelace", email="ada@example.com", manager=manager, capacity=5)
    bo = RepFactory(name="Bo Diddley", email="bo@example.com", manager=manager, capacity=8)
    published = RuleSetFactory(version=1, status="PUBLISHED")
    emea = TerritoryFactory(rule_set=published, name="EMEA", criteria={"countries": ["GB", "DE"]}, position=0)
    americas = TerritoryFactory(rule_set=published, name="Americas", criteria={"countries": ["US", "CA"]}, position=1)
    TerritoryMemberFactory(territory=emea, rep=ada)
    TerritoryMemberFactory(territory=americas, rep=bo)
    draft = create_draft_from(version=1, actor=Actor(rep=revops), now=now)

    barclays = AccountFactory(name="Barclays PLC", domains=["barclays.co.uk"], country="GB")
    OwnershipFactory(account=barclays, role="SALES", rep=ada)
    OpportunityFactory(account=barclays, owner=ada, amount=Decimal("3500.00"))
    lead, _decision = submit_lead(
        data=LeadData(email="jane@initech.example", company="Initech", country="US"),
        actor=Actor.system_actor("browser tests"),
        now=now - timedelta(hours=2),
    )
    dispute = open_dispute(account=barclays, reason="I met them first", actor=Actor(rep=bo), now=now)
    partner_user = PartnerUserFactory(partner=PartnerFactory(name="Northwind Partners"))
    register_deal(
        data=DealRegistrationData(company="Globex Corporation", domain="globex.com", country="US"),
        actor=Actor(partner_user=partner_user),
        now=now,
    )
    from routing.services.rebalancing import build_rebalance_plan

    plan = build_rebalance_plan(actor=Actor(rep=revops), now=now)
    return {
        "plan": plan.pk,
        "account": barclays.pk,
        "lead": lead.pk,
        "dispute": dispute.pk,
        "published": published.version,
        "draft": draft.version,
        "territory": draft.territories.get(name="EMEA").pk,
        "rep": ada.pk,
    }

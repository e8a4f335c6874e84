"""Usable by keyboard and on a tablet: what a real browser lays out and announces, screen by screen."""

from __future__ import annotations

import re
from pprint import pformat
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from leadowner.console import NAV
from leadowner.management.commands.screenshots import SCREENS, TABLET
from territories.models import Rep
from tests.browser.conftest import open_console
from tests.factories import ManagerFactory, RepFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
MAX_TABS = 60

# Form controls a screen reader would announce without a name: no <label>, aria-label,
# aria-labelledby or title (a button's own text names it); and images (the charts) without a name.
UNNAMED = """() => {
  const named = (el) => {
    if ((el.getAttribute('aria-label') || '').trim()) return true;
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
    if (ids.some((id) => (document.getElementById(id)?.textContent || '').trim())) return true;
    if (el.labels && Array.from(el.labels).some((l) => l.textContent.trim())) return true;
    if (el.tagName === 'BUTTON' && el.textContent.trim()) return true;
    if (['submit', 'button', 'reset'].includes(el.type) && (el.value || '').trim()) return true;
    return Boolean((el.getAttribute('title') || '').trim());
  };
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const controls = document.querySelectorAll('input:not([type=hidden]), select, textarea, button, [role=img]');
  return Array.from(controls).filter((el) => shown(el) && !named(el)).map((el) => el.outerHTML.slice(0, 160));
}"""

# What sticks out past the right edge of the window, when the page scrolls sideways.
TOO_WIDE = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width) return [];
  return Array.from(document.querySelectorAll('body *'))
    .filter((el) => el.getBoundingClientRect().right > width + 1)
    .slice(0, 5)
    .map((el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className}`);
}"""


def _focused_name(page: Page) -> str:
    """The focused element as a screen reader announces it, e.g. `textbox "Username"`."""
    return page.locator("*:focus").aria_snapshot().strip().removeprefix("- ").split(":")[0]


def test_a_manager_signs_in_and_changes_a_capacity_with_the_keyboard_alone(browser: Browser, live_server: Any) -> None:
    user = User.objects.create_user(username="mia@example.com", password=PASSWORD)
    manager = ManagerFactory(user=user, name="Mia Manager", email="mia@example.com")
    rep = RepFactory(name="Ada Lovelace", email="ada@example.com", manager=manager, capacity=40)
    opened = open_console(browser, live_server.url, user=None, viewport=TABLET)
    page = opened.page

    page.goto(reverse("console:roster_rep", args=[rep.pk]))
    expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    assert _focused_name(page) == 'textbox "Username"'  # the form has the focus: no hunting for it
    page.keyboard.type("mia@example.com")
    page.keyboard.press("Tab")
    assert _focused_name(page) == 'textbox "Password"'
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()  # back where they were going

    announced = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        announced.append(_focused_name(page))
        if announced[-1] == 'textbox "Most open leads"':
            break
    else:
        pytest.fail(f"the capacity field is not reachable with Tab; focus went through {announced}")
    unnamed = [name for name in announced if not re.search(r'"[^"]+"', name)]
    assert unnamed == [], f"these stops are announced without a name: {unnamed}"
    page.keyboard.press("Control+A")
    page.keyboard.type("35")
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text("Capacity saved.")
    assert Rep.objects.get(pk=rep.pk).capacity == 35
    page.context.close()
    assert opened.errors == [], f"the browser logged errors: {opened.errors}"


def test_every_nav_screen_is_among_the_screens_checked_and_photographed() -> None:
    paths = {screen.path.split("?")[0] for screen in SCREENS}
    assert {reverse(url_name) for _key, _label, url_name in NAV} <= paths


def _layout_problems(page: Page) -> dict[str, list[str]]:
    found = {"sticks out on the right": page.evaluate(TOO_WIDE), "no accessible name": page.evaluate(UNNAMED)}
    return {what: items for what, items in found.items() if items}


def test_no_screen_scrolls_sideways_on_a_tablet_and_every_control_and_chart_has_a_name(
    browser: Browser, live_server: Any, revops: Rep, book: dict[str, int]
) -> None:
    problems = {}
    anonymous = open_console(browser, live_server.url, user=None, viewport=TABLET)
    anonymous.page.goto(reverse("console:login"))
    problems["login"] = _layout_problems(anonymous.page)
    anonymous.page.context.close()

    opened = open_console(browser, live_server.url, user=revops.user, viewport=TABLET)
    page = opened.page
    for screen in SCREENS:
        if screen.slug == "login":
            continue
        response = page.goto(screen.path.format(**book))
        assert response is not None and response.status == 200, f"{screen.slug}: {response and response.status}"
        if screen.act is not None:
            screen.act(page)
        problems[screen.slug] = _layout_problems(page)
    page.context.close()
    failing = {slug: found for slug, found in problems.items() if found}
    assert failing == {}, pformat(failing)
    assert anonymous.errors + opened.errors == [], f"the browser logged errors: {anonymous.errors + opened.errors}"


def test_the_jobs_table_refreshes_itself_but_not_while_the_keyboard_is_in_it(page: Page) -> None:
    page.clock.install()  # the page's timers run on this clock: 15 s pass at once
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if request.headers.get("hx-request") else None)
    page.goto(reverse("console:jobs"))
    page.locator("#runs table").evaluate("table => { table.dataset.before = 'poll' }")
    with page.expect_request(lambda request: bool(request.headers.get("hx-request"))):
        page.clock.run_for(16_000)
    expect(page.locator("#runs table[data-before]")).to_have_count(0)  # the poll's answer is in
    assert len(polls) == 1, polls

    page.get_by_role("button", name="Run forfeits now").focus()
    page.clock.run_for(16_000)
    page.wait_for_timeout(500)  # long enough for a poll that should not happen to show up
    assert len(polls) == 1, "the table was refreshed under the keyboard"

    page.get_by_role("heading", name="Jobs").click()  # the focus leaves the table
    with page.expect_request(lambda request: bool(request.headers.get("hx-request"))):
        page.clock.run_for(16_000)
    assert len(polls) == 2, polls

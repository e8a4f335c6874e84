"""`manage.py screenshots [--out DIR]`: a PNG of every console screen at laptop and tablet width.

So anyone can see the console without running it (`make screenshots` writes them to
docs/screenshots/ with an index, README.md). The command:

1. makes a throw-away SQLite database in a temporary folder and loads the demo book into
   it, plus what the demo has none of: a draft rule set with a change, an open dispute and
   a pending deal registration (a child process, `screenshots --prepare`, so this process
   never touches your database);
2. starts the app under gunicorn on a free loopback port against that database;
3. signs in as the demo's RevOps user in Debian's Chromium (headless, through Playwright)
   and visits every screen at 1366x900 and 820x1180, failing if any screen answers with
   an error, then stops the server and removes the temporary folder.

Debian's Chromium must be installed (scripts/ensure_chromium.sh); Playwright's own browser
downloads do not run here. `launch_chromium` is also what the browser tests use.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BytesIO, StringIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach Google's services at start
# and its connections are refused on a closed network; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
LAPTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}
VIEWPORTS = (("laptop", LAPTOP), ("tablet", TABLET))
MAX_HEIGHT = 3000  # a long page is cut here: its top says what the screen is, and the PNG stays small
DEMO_PASSWORD = "demo-password-123"
DEMO_LOGIN = "rita.ortiz@example.com"
SERVER_START_SECONDS = 30.0
SAMPLE_LEADS = """email,company,country,city,industry,employees
h.weber@rheinlogistik.de,Rhein Logistik GmbH,DE,Frankfurt,Logistics,700
ana.silva@lisboa-tech.pt,Lisboa Tech,PT,Lisbon,Software,90
pat.kim@outlook.com,,US,Denver,,
li.wei@hudsonyardsanalytics.com,Hudson Yards Analytics,US,New York,Software,45
"""


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, with a fresh temporary profile and no calls home."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh (as root) first")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS))


@dataclass(frozen=True)
class Screen:
    slug: str
    title: str
    what: str
    path: str  # formatted with the ids `--prepare` reports
    act: Callable[[Page], None] | None = None  # what to do on the page before the picture


def _type_lookup(page: Page) -> None:
    box = page.get_by_label("Who owns")
    box.click()
    box.press_sequentially("barclays.co.uk", delay=20)
    page.get_by_role("heading", name="Barclays PLC").wait_for()


def _simulate(page: Page) -> None:
    page.get_by_label("Draft rule set").select_option(index=1)
    page.get_by_label("Sample leads").fill(SAMPLE_LEADS)
    page.get_by_role("button", name="Compare").click()
    page.locator("#comparison-title").wait_for()


def _validate(page: Page) -> None:
    page.get_by_role("link", name="Validate").click()
    page.locator("#problems").get_by_role("status").wait_for()


SCREENS: tuple[Screen, ...] = (
    Screen("login", "Sign in", "The console's sign-in page.", "/login/"),
    Screen("home", "Home", "What needs a manager now, each count linking to its queue.", "/"),
    Screen(
        "lookup",
        "Ownership lookup",
        "Who owns barclays.co.uk, typed into the header search (results as you type).",
        "/lookup/",
        _type_lookup,
    ),
    Screen(
        "account", "Account", "One account: family, owners per role, history, activity, deals.", "/accounts/{account}/"
    ),
    Screen("lead", "Lead", "One lead: its routing decision with the full trace, re-route, assign.", "/leads/{lead}/"),
    Screen("unassigned", "Unassigned queue", "Leads nothing matched, oldest first.", "/queues/unassigned/"),
    Screen("claim-queue", "Claim queues", "Leads waiting in claim-queue territories.", "/queues/claim/"),
    Screen("registrations", "Deal registrations", "Partner registrations with their conflicts.", "/registrations/"),
    Screen("disputes", "Disputes", "Open disputes, nearest deadline first.", "/disputes/"),
    Screen("dispute", "A dispute", "One dispute and its resolve form.", "/disputes/{dispute}/"),
    Screen(
        "territories", "Territory map", "The published map: criteria in words, members, distribution.", "/territories/"
    ),
    Screen(
        "territory-draft",
        "A draft",
        "The draft with its actions, validated (validate, simulate, publish).",
        "/territories/?version={draft}",
        _validate,
    ),
    Screen(
        "territory-edit",
        "Editing a territory",
        "A draft territory's criteria, members, weights.",
        "/territories/territory/{territory}/",
    ),
    Screen(
        "territory-diff",
        "What changed",
        "The draft against the published version, in plain words.",
        "/territories/diff/?a={published}&b={draft}",
    ),
    Screen(
        "territory-publish",
        "Publish (confirm)",
        "The confirmation step before publishing.",
        "/territories/v{draft}/publish/",
    ),
    Screen("territory-import", "Import territories.yaml", "Upload a map as a new draft.", "/territories/import/"),
    Screen(
        "simulate",
        "Test your rules",
        "Sample leads decided under the published rules and the draft, side by side.",
        "/simulate/",
        _simulate,
    ),
    Screen("roster", "Roster", "Reps: load against capacity, status, territories.", "/roster/"),
    Screen("roster-rep", "A rep", "Capacity, out of office, departure.", "/roster/{rep}/"),
    Screen(
        "depart-preview",
        "Departure preview",
        "Every record a departing rep owns and where it goes, before confirming.",
        "/roster/{rep}/depart/",
    ),
    Screen(
        "rebalancing",
        "Rebalancing",
        "Every plan: moves, load variance before and after; build one for every or chosen territories.",
        "/rebalancing/",
    ),
    Screen(
        "rebalance-plan",
        "A rebalancing plan",
        "Load per rep before and after, what stays and why, every move; apply after confirming, or discard.",
        "/rebalancing/{plan}/",
    ),
    Screen("metrics", "Metrics", "Every metric as an SVG chart with its table and CSV.", "/metrics/"),
    Screen("audit", "Audit log", "Every ownership change, filterable, as CSV.", "/audit/"),
    Screen("access", "Access log", "Managers' sign-ins and every use of a manager's API token.", "/access/"),
    Screen("jobs", "Jobs", "The lifecycle sweeps: last run, errors, run now.", "/jobs/"),
    Screen(
        "notifications",
        "Notifications",
        "Yours (unread first, mark read) and everyone's, filterable, with each email's status.",
        "/notifications/",
    ),
    Screen("settings", "Settings", "The policy of the newest draft.", "/settings/"),
)


def prepare_book() -> dict[str, int]:
    """Migrate, load the demo book, and add a draft with a change, a dispute and a registration.

    Returns the ids the screens' paths need. Runs inside the `--prepare` child, on the
    temporary database only.
    """
    from django.utils import timezone

    from disputes.services import open_dispute
    from leadowner.actors import Actor
    from routing.models import Lead, OwnerRole, Ownership
    from routing.services.registrations import DealRegistrationData, register_deal
    from territories.models import PartnerUser, Rep
    from territories.selectors import published_rule_set
    from territories.services import create_draft_from, update_territory

    now = timezone.now()
    call_command("migrate", verbosity=0, interactive=False)
    call_command("demo", stdout=StringIO())
    published = published_rule_set()
    if published is None:
        raise CommandError("the demo book published no rule set")
    revops = Actor(rep=Rep.objects.get(email=DEMO_LOGIN))

    draft = create_draft_from(version=published.version, actor=revops, now=now)
    # The demo's EMEA territory gains Portugal: the simulation and the diff then show a change.
    territory = draft.territories.filter(name="EMEA").first() or draft.territories.order_by("position", "pk").first()
    if territory is None:
        raise CommandError("the demo map has no territory")
    newcomer = Rep.objects.filter(role="AE", status="ACTIVE").exclude(memberships__territory=territory).first()
    update_territory(
        territory_id=territory.pk,
        actor=revops,
        now=now,
        add_criteria={"countries": ["PT"]},
        add_members=[(newcomer.pk, 1)] if newcomer else None,
    )

    owned = (
        Ownership.objects.filter(role=OwnerRole.SALES, ended_at__isnull=True, account__isnull=False, rep__role="AE")
        .select_related("account", "rep")
        .order_by("account__name")
        .first()
    )
    if owned is None or owned.account is None or owned.rep is None:
        raise CommandError("the demo book has no account with a sales rep")
    claimant = (
        Rep.objects.filter(role="AE", status="ACTIVE", manager=owned.rep.manager).exclude(pk=owned.rep.pk).first()
    )
    if claimant is None:
        raise CommandError("the demo book has no second rep in a team")
    dispute = open_dispute(
        account=owned.account,
        reason="I ran the discovery call in March and logged it; the territory owner never called back.",
        actor=Actor(rep=claimant),
        now=now,
    )
    partner_user = PartnerUser.objects.order_by("pk").first()
    if partner_user is None:
        raise CommandError("the demo book has no partner user")
    register_deal(
        data=DealRegistrationData(company="Deutsche Bank AG", domain="db.com", country="DE", note="Core banking"),
        actor=Actor(partner_user=partner_user),
        now=now,
    )
    register_deal(
        data=DealRegistrationData(company="Lisboa Tech", domain="lisboa-tech.pt", country="PT"),
        actor=Actor(partner_user=partner_user),
        now=now,
    )

    lead = Lead.objects.filter(ownerships__ended_at__isnull=True, ownerships__rep__isnull=False).order_by("pk").first()
    _notifications(revops=revops.rep, owner=owned.rep, partner_user=partner_user, dispute=dispute, lead=lead, now=now)
    _access(revops.rep, now=now)
    from routing.services.rebalancing import build_rebalance_plan

    plan = build_rebalance_plan(actor=revops, now=now)
    busiest = (
        Rep.objects.filter(role="AE", status="ACTIVE", ownerships__ended_at__isnull=True)
        .exclude(pk=claimant.pk)
        .order_by("pk")
        .first()
    )
    return {
        "account": owned.account.pk,
        "lead": lead.pk if lead else Lead.objects.order_by("pk").values_list("pk", flat=True)[0],
        "dispute": dispute.pk,
        "published": published.version,
        "draft": draft.version,
        "territory": territory.pk,
        "rep": busiest.pk if busiest else owned.rep.pk,
        "plan": plan.pk,
    }


def _access(revops: Any, *, now: Any) -> None:
    """A refused sign-in and a few requests with RevOps' API token, for the access log."""
    from datetime import timedelta

    from leadowner.models import SignInEvent, SignInOutcome, TokenUse
    from leadowner.tokens import issue_token

    token, _raw = issue_token(rep=revops, name="CRM sync")
    SignInEvent.objects.create(
        at=now - timedelta(hours=2),
        outcome=SignInOutcome.FAILURE,
        username=revops.email,
        rep=revops,
        address="198.51.100.23",
    )
    for minutes, path in ((90, "/graphql"), (30, "/graphql"), (5, "/graphql")):
        TokenUse.objects.create(
            token=token,
            rep=revops,
            at=now - timedelta(minutes=minutes),
            address="10.0.4.17",
            method="POST",
            path=path,
            user_agent="crm-sync/3.1",
        )


def _notifications(*, revops: Any, owner: Any, partner_user: Any, dispute: Any, lead: Any, now: Any) -> None:
    """What the demo has none of yet: people told of changes, emails sent, failed and not yet tried."""
    from datetime import timedelta

    from django.test.utils import override_settings

    from leadowner.actors import Actor
    from leadowner.notifications import mark_notifications_read, notify, send_notification_email

    account = dispute.account
    told = [
        notify(
            recipients=[revops],
            kind="ESCALATION",
            subject=f"Dispute #{dispute.pk} on {account.name} escalated to {revops.name}",
            body=f"{dispute.claimant.name} contests the owner of {account.name}: {dispute.reason}",
            now=now - timedelta(hours=1),
            account_id=account.pk,
            dispute_id=dispute.pk,
        ),
        notify(
            recipients=[owner, revops],
            kind="FORFEIT",
            subject=f"{lead.email if lead else 'A lead'} was forfeited: no activity in 14 days",
            body="No call, email or meeting was logged within the activity window; the lead was routed again.",
            now=now - timedelta(hours=3),
            lead_id=lead.pk if lead else None,
        ),
        notify(
            recipients=[partner_user, revops],
            kind="REGISTRATION_DECISION",
            subject=f"Deal registration on {account.name} approved",
            body=f"The deal registration for {account.name} was approved.",
            now=now - timedelta(days=1),
            account_id=account.pk,
        ),
    ]
    sent, refused, _pending = told
    # Emails as the after-commit task sends them: through the mail backend, or refused by the server.
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        for notification_id in sent:
            send_notification_email(notification_id=notification_id, now=now)
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=1
    ):
        for notification_id in refused:
            send_notification_email(notification_id=notification_id, now=now)
    # RevOps read the forfeit notice already; the other two stay unread.
    mark_notifications_read(actor=Actor(rep=revops), ids=[refused[-1]], now=now)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CommandError(f"the app server exited with {server.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own loopback URL)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise CommandError(f"the app server did not answer {url} within {SERVER_START_SECONDS:.0f} s")


@contextlib.contextmanager
def _app_server(env: dict[str, str], port: int) -> Iterator[str]:
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "gunicorn", "leadowner.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    argv += ["--log-level", "warning"]
    server = subprocess.Popen(argv, env=env, cwd=settings.BASE_DIR)  # noqa: S603 (fixed argv)
    try:
        _wait_until_up(f"{base}/login/", server)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _screenshot(page: Page, path: Path) -> None:
    """The page from the top, at most MAX_HEIGHT tall, in 256 colours (a third of the bytes, same to the eye)."""
    from PIL import Image

    height = int(page.evaluate("document.documentElement.scrollHeight"))
    width = int(page.evaluate("document.documentElement.clientWidth"))
    png = page.screenshot(
        full_page=True,
        clip={"x": 0, "y": 0, "width": width, "height": min(height, MAX_HEIGHT)},
        animations="disabled",
        caret="hide",
    )
    with Image.open(BytesIO(png)) as shot:
        palette = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        palette.save(path, "PNG", optimize=True)


def _sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(DEMO_LOGIN)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def _index(ids: dict[str, int]) -> str:
    lines = [
        "# The console, screen by screen",
        "",
        "Made by `make screenshots` (`manage.py screenshots`): the demo book (`manage.py demo`) plus a",
        "draft rule set with a change, an open dispute and two pending deal registrations, seen by the",
        "demo's RevOps user in headless Chromium at laptop (1366x900) and tablet (820x1180) width.",
        f"Pages longer than {MAX_HEIGHT} px are cut at {MAX_HEIGHT} px. Run it again after changing a screen.",
        "",
        "| screen | what it shows | laptop | tablet |",
        "|---|---|---|---|",
    ]
    for screen in SCREENS:
        path = screen.path.format(**ids)
        lines.append(
            f"| {screen.title} (`{path}`) | {screen.what} "
            f"| [laptop]({screen.slug}-laptop.png) | [tablet]({screen.slug}-tablet.png) |"
        )
    lines += ["", "## Laptop", ""]
    for screen in SCREENS:
        lines += [f"### {screen.title}", "", f"![{screen.title} at laptop width]({screen.slug}-laptop.png)", ""]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Screenshot every console screen (demo book, headless Chromium) at laptop and tablet width into a folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--out", default=str(Path(settings.BASE_DIR) / "docs" / "screenshots"), help="folder (%(default)s)"
        )
        parser.add_argument("--only", nargs="*", default=[], metavar="SLUG", help="only these screens")
        parser.add_argument("--prepare", action="store_true", help="(internal) load the book, print the ids")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["prepare"]:
            self.stdout.write(json.dumps(prepare_book()))
            return
        try:
            import PIL  # noqa: F401 (the PNGs are made smaller with it)
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise CommandError("Playwright or Pillow is missing: .venv/bin/pip install '.[dev]'") from None
        if not Path(CHROMIUM).exists():
            raise CommandError(f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh (as root) first")
        unknown = set(options["only"]) - {s.slug for s in SCREENS}
        if unknown:
            raise CommandError(f"no such screen: {', '.join(sorted(unknown))}")
        screens = [s for s in SCREENS if not options["only"] or s.slug in options["only"]]
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)

        work = Path(tempfile.mkdtemp(prefix="leadowner-screenshots-"))
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(LEADOWNER_VAR_DIR=str(work), DEBUG="1", ALLOWED_HOSTS="127.0.0.1,localhost")
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        try:
            self.stdout.write(f"loading the demo book into a temporary database under {work}")
            prepared = subprocess.run(  # noqa: S603 (fixed argv)
                [sys.executable, manage, "screenshots", "--prepare"], env=env, capture_output=True, text=True
            )
            if prepared.returncode != 0:
                raise CommandError(f"preparing the demo book failed:\n{prepared.stderr[-4000:]}")
            ids: dict[str, int] = json.loads(prepared.stdout.strip().splitlines()[-1])
            with _app_server(env, _free_port()) as base, sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                try:
                    for name, viewport in VIEWPORTS:
                        self._shoot(browser, base, name, viewport, screens, ids, out)
                finally:
                    browser.close()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if not options["only"]:
            (out / "README.md").write_text(_index(ids) + "\n", encoding="utf-8")
        self.stdout.write(f"{len(screens) * len(VIEWPORTS)} screenshots in {out}/")

    def _shoot(
        self,
        browser: Browser,
        base: str,
        name: str,
        viewport: dict[str, int],
        screens: list[Screen],
        ids: dict[str, int],
        out: Path,
    ) -> None:
        context = browser.new_context(viewport=viewport, device_scale_factor=1, base_url=base)  # type: ignore[arg-type]
        try:
            page = context.new_page()
            for screen in screens:
                if screen.slug == "login":
                    page.goto(f"{base}/login/")
                    _screenshot(page, out / f"{screen.slug}-{name}.png")
            _sign_in(page, base)
            for screen in screens:
                if screen.slug == "login":
                    continue
                response = page.goto(base + screen.path.format(**ids))
                if response is None or response.status >= 400:
                    status = response.status if response else "no answer"
                    raise CommandError(f"{screen.slug}: {screen.path.format(**ids)} answered {status}")
                if screen.act is not None:
                    screen.act(page)
                page.wait_for_load_state("networkidle")
                _screenshot(page, out / f"{screen.slug}-{name}.png")
                self.stdout.write(f"  {name:<6} {screen.slug}")
        finally:
            context.close()

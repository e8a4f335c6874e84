"""Load the demo book through the same import services a team uses, then publish it.

Everything goes through territories.services and routing.services.imports (no shortcut
writes), so the demo exercises the real paths: reps, partners, the territory map as a
draft that is validated and published, accounts with owners and history, opportunities.
Then a staff login for the RevOps rep and, when leadowner.tokens is there, API tokens.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction

from leadowner.csvio import ImportReport
from leadowner.demo.generate import DEFAULT_SEED, PARTNER_USERS, REVOPS_EMAIL, generate
from routing.services.imports import import_accounts, import_opportunities
from territories.models import PartnerUser, Rep, RuleSet
from territories.selectors import published_rule_set
from territories.services import import_partners, import_reps, import_rule_set, publish_rule_set

DEMO_PASSWORD = "demo-password-123"
DEMO_ACTOR = "demo"
# A rep of each kind gets a token, so the API can be tried as each of them.
TOKEN_REP = "ada.lovelace@example.com"


@dataclass
class DemoResult:
    seed: int
    reports: dict[str, ImportReport]
    rule_set: RuleSet
    login: str
    password: str
    tokens: list[tuple[str, str, str]] = field(default_factory=list)  # (holder, scope, raw token)
    tokens_note: str = ""
    leads: int = 0  # inbound leads routed by the engine


def _issue_tokens() -> tuple[list[tuple[str, str, str]], str]:
    try:
        tokens = importlib.import_module("leadowner.tokens")
    except ImportError:
        return [], "leadowner.tokens is not available: no API tokens were issued"
    issued: list[tuple[str, str, str]] = []
    holders: list[tuple[str, Rep | None, PartnerUser | None]] = [
        (REVOPS_EMAIL, Rep.objects.get(email=REVOPS_EMAIL), None),
        (TOKEN_REP, Rep.objects.get(email=TOKEN_REP), None),
        (PARTNER_USERS[0][0], None, PartnerUser.objects.get(email=PARTNER_USERS[0][0])),
    ]
    for label, rep, partner_user in holders:
        row, raw = tokens.issue_token(rep=rep, partner_user=partner_user, name="demo")
        issued.append((label, str(row.scope), raw))
    return issued, ""


def _staff_login(email: str) -> str:
    """A staff (not superuser) login for the rep: username = email, the demo password."""
    rep = Rep.objects.get(email=email)
    users = get_user_model()
    user = rep.user or users.objects.filter(username=email).first()
    if user is None:
        user = users.objects.create_user(username=email, email=email, password=DEMO_PASSWORD)
    user.is_staff = True
    user.is_superuser = False
    user.set_password(DEMO_PASSWORD)
    user.save()
    if rep.user_id != user.pk:
        Rep.objects.filter(pk=rep.pk).update(user=user)
    return email


# Inbound leads routed through the real engine: free mail, aliases, sub-domains, subsidiaries,
# every territory, a claim queue, an unassigned one and a prospect asking for a rep by name.
# (email, name, company, country, subdivision, city, industry, employees, requested rep)
DEMO_LEADS: tuple[tuple[str, str, str, str, str, str, str, int | None, str], ...] = (
    ("jane.doe@gmail.com", "Jane Doe", "IBM", "US", "US-NY", "Armonk", "Technology", None, ""),
    ("k.tanaka@mail.ibm.com", "Ken Tanaka", "", "", "", "", "", None, ""),
    ("raj.mehta@olivegarden.com", "Raj Mehta", "Olive Garden", "US", "US-FL", "Orlando", "Restaurants", None, ""),
    ("maria.lopez@popular.com", "María López", "Banco Popular", "PR", "", "San Juan", "", None, ""),
    ("julie.tremblay@gmail.com", "Julie Tremblay", "Cirque du Soleil", "CA", "CA-QC", "Montréal", "", None, ""),
    ("avi.cohen@wix.com", "Avi Cohen", "Wix", "IL", "", "Tel Aviv", "Software", 5000, ""),
    ("li.wei@hudsonyardsanalytics.com", "Li Wei", "Hudson Yards Analytics", "US", "US-NY", "New York",
     "Software", 45, ""),
    ("tom.baker@lonestarrobotics.com", "Tom Baker", "Lone Star Robotics", "US", "US-TX", "Austin",
     "Manufacturing", 120, ""),
    ("sara.j@pugetsoundbio.com", "Sara Jensen", "Puget Sound Bio", "US", "US-WA", "Seattle", "Healthcare", 300, ""),
    ("e.dubois@laurentidesenergie.ca", "Émile Dubois", "Laurentides Énergie", "CA", "CA-QC", "Québec",
     "Energy", 80, ""),
    ("h.weber@rheinlogistik.de", "Hanna Weber", "Rhein Logistik GmbH", "DE", "DE-HE", "Frankfurt",
     "Logistics", 700, ""),
    ("yuki.sato@sakura-foods.co.jp", "Yuki Sato", "Sakura Foods K.K.", "JP", "", "Osaka", "Retail", 2000, ""),
    ("pat.kim@outlook.com", "Pat Kim", "", "US", "US-CO", "Denver", "", None, ""),
    ("nina.rossi@harborcapital.com", "Nina Rossi", "Harbor Capital", "US", "US-MA", "Boston", "", None,
     "ben.carter@example.com"),
)  # fmt: skip


def _submit_leads(now: datetime) -> int:
    """Route the demo leads through routing.services.leads (when present); returns how many."""
    try:
        leads = importlib.import_module("routing.services.leads")
    except ImportError:
        return 0
    from leadowner.actors import Actor
    from routing.enrich import LeadData
    from routing.models import Lead

    if Lead.objects.exists():
        return 0  # loaded before: the same emails would only attach to the first leads
    actor = Actor.system_actor(DEMO_ACTOR)
    for minutes, (email, name, company, country, sub, city, industry, employees, asked) in enumerate(DEMO_LEADS):
        data = LeadData(
            email=email,
            name=name,
            company=company or None,
            country=country or None,
            subdivision=sub or None,
            city=city or None,
            industry=industry or None,
            employees=employees,
            requested_rep_email=asked or None,
            received_at=now - timedelta(minutes=5 * (len(DEMO_LEADS) - minutes)),
        )
        leads.submit_lead(data=data, actor=actor, now=now)
    return len(DEMO_LEADS)


def load_demo(*, seed: int = DEFAULT_SEED, now: datetime) -> DemoResult:
    """Import the demo files for `seed` and publish the map; all in one transaction."""
    files = generate(seed)
    with transaction.atomic():
        reports = {
            "reps.csv": import_reps(files["reps.csv"], actor=DEMO_ACTOR, now=now),
            "partners.csv": import_partners(files["partners.csv"], actor=DEMO_ACTOR, now=now),
        }
        current = published_rule_set()
        if current is not None and current.source == files["territories.yaml"]:
            rule_set = current  # loaded before: nothing new to publish
        else:
            draft = import_rule_set(files["territories.yaml"], actor=DEMO_ACTOR, now=now)
            rule_set = publish_rule_set(version=draft.version, actor=DEMO_ACTOR, now=now)
        reports["accounts.csv"] = import_accounts(files["accounts.csv"], now=now)
        reports["opportunities.csv"] = import_opportunities(files["opportunities.csv"], now=now)
        login = _staff_login(REVOPS_EMAIL)
        tokens, note = _issue_tokens()
        leads = _submit_leads(now)
    return DemoResult(
        seed=seed,
        reports=reports,
        rule_set=rule_set,
        login=login,
        password=DEMO_PASSWORD,
        tokens=tokens,
        tokens_note=note,
        leads=leads,
    )

"""Load the demo book through the same import services a team uses, then publish it.

Everything goes through territories.services and routing.services.imports (no shortcut
writes), so the demo exercises the real paths: reps, partners, the territory map as a
draft that is validated and published, accounts with owners and history, opportunities.
Then a staff login for the RevOps rep and, when leadowner.tokens is there, API tokens.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime

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
    return DemoResult(
        seed=seed,
        reports=reports,
        rule_set=rule_set,
        login=login,
        password=DEMO_PASSWORD,
        tokens=tokens,
        tokens_note=note,
    )

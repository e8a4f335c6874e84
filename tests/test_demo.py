"""`manage.py demo`: a deterministic, realistic book loaded through the import services."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from leadowner.demo.generate import DEFAULT_SEED, FILE_NAMES, generate
from leadowner.demo.load import DEMO_LEADS, DEMO_PASSWORD
from leadowner.models import ApiToken
from routing.models import Account, AccountAlias, AccountDomain, Opportunity, Ownership, OwnershipChange
from routing.selectors.exports import export_accounts, export_opportunities
from territories.models import Partner, Rep, RuleSet, Territory
from territories.selectors import export_partners, export_reps, export_rule_set, published_rule_set
from tests.factories import AccountFactory

FILES = Path(__file__).resolve().parent.parent / "leadowner" / "demo" / "files"


def run_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_committed_demo_files_are_what_the_default_seed_generates():
    files = generate(DEFAULT_SEED)
    assert sorted(files) == sorted(FILE_NAMES)
    for name, text in files.items():
        assert (FILES / name).read_text(encoding="utf-8") == text, (
            f"regenerate with: manage.py demo --write-files {FILES}"
        )


def test_the_demo_book_is_deterministic_per_seed():
    assert generate(3) == generate(3)
    assert generate(3)["accounts.csv"] != generate(4)["accounts.csv"]


@pytest.mark.django_db
def test_demo_loads_a_realistic_book_and_publishes_the_map():
    out = run_demo()
    assert 200 <= Account.objects.count() <= 400
    assert 18 <= Rep.objects.count() <= 25
    assert Rep.objects.filter(role="REVOPS").count() == 1
    assert Rep.objects.filter(manager__isnull=False).count() == Rep.objects.count() - 2  # VP and RevOps
    canada = AccountDomain.objects.get(domain="olivegarden.ca").account
    assert (canada.parent.name, canada.parent.parent.name) == ("Olive Garden", "Darden Restaurants, Inc.")
    ibm = AccountAlias.objects.get(normalized_alias="ibm").account
    assert ibm.name == "International Business Machines Corporation"
    assert Account.objects.filter(type="CUSTOMER", ownerships__role="ACCOUNT_MANAGER").exists()
    assert Account.objects.filter(named_account=True, ownerships__role="SALES").exists()
    assert Opportunity.objects.filter(status="OPEN").exists() and Opportunity.objects.filter(status="WON").exists()
    assert Ownership.objects.count() == OwnershipChange.objects.count()
    partner = Partner.objects.get()
    assert partner.users.count() == 2

    rule_set = published_rule_set()
    assert rule_set is not None and rule_set.version == 1
    territories = {t.name: t for t in Territory.objects.filter(rule_set=rule_set)}
    assert territories["US East - NYC"].parent == territories["US East"]
    assert territories["US East - NYC"].criteria == {"cities": ["New York"]}
    assert territories["Puerto Rico"].criteria == {"countries": ["PR"]}
    assert territories["Canada Quebec"].criteria["subdivisions"] == ["CA-QC"]
    assert territories["EMEA - Israel"].criteria == {"countries": ["IL"]}
    assert {t.distribution for t in territories.values()} == {"ROUND_ROBIN", "LOAD_BALANCED", "CLAIM_QUEUE"}

    assert "http://127.0.0.1:8000/" in out and "http://127.0.0.1:8000/graphql" in out
    assert f"rita.ortiz@example.com / {DEMO_PASSWORD}" in out


@pytest.mark.django_db
def test_demo_gives_the_revops_rep_a_staff_login_that_is_not_a_superuser():
    run_demo()
    rep = Rep.objects.get(role="REVOPS")
    user = get_user_model().objects.get(username=rep.email)
    assert rep.user == user
    assert user.is_staff and not user.is_superuser
    assert user.check_password(DEMO_PASSWORD)


@pytest.mark.django_db
def test_demo_issues_and_prints_api_tokens():
    out = run_demo()
    tokens = ApiToken.objects.all()
    assert {t.scope for t in tokens} == {"MANAGER", "REP", "PARTNER"}
    assert out.count(" lo_") == 3


@pytest.mark.django_db
def test_demo_routes_inbound_leads_through_the_published_map():
    run_demo()
    from routing.models import Lead

    decisions = {lead.email: lead.decision or {} for lead in Lead.objects.all()}
    assert len(decisions) == len(DEMO_LEADS)
    # A free-mail lead that names an alias finds the customer; a Quebec lead lands in Quebec.
    assert decisions["jane.doe@gmail.com"]["match"]["method"] == "ALIAS"
    quebec = Lead.objects.get(email="e.dubois@laurentidesenergie.ca")
    assert quebec.ownerships.get(ended_at=None).rep.email == "ines.martin@example.com"
    assert decisions["yuki.sato@sakura-foods.co.jp"]["step"] == "UNASSIGNED"


@pytest.mark.django_db
def test_demo_exports_give_back_the_demo_files():
    run_demo()
    files = generate(DEFAULT_SEED)
    assert export_reps() == files["reps.csv"]
    assert export_partners() == files["partners.csv"]
    assert export_accounts() == files["accounts.csv"]
    assert export_opportunities() == files["opportunities.csv"]
    assert export_rule_set(published_rule_set()) == files["territories.yaml"]


@pytest.mark.django_db
def test_demo_if_empty_does_nothing_when_an_account_exists():
    AccountFactory()
    out = run_demo("--if-empty")
    assert "nothing loaded" in out
    assert Account.objects.count() == 1 and Rep.objects.count() == 0


@pytest.mark.django_db
def test_running_the_demo_twice_adds_nothing_and_keeps_the_published_version():
    run_demo()
    counts = (Account.objects.count(), Opportunity.objects.count(), OwnershipChange.objects.count())
    run_demo()
    assert (Account.objects.count(), Opportunity.objects.count(), OwnershipChange.objects.count()) == counts
    assert RuleSet.objects.count() == 1


@pytest.mark.django_db
def test_another_seed_loads_another_valid_book():
    run_demo("--seed", "11")
    assert Account.objects.count() >= 200
    assert published_rule_set() is not None


def test_write_files_writes_the_five_files(tmp_path):
    out = io.StringIO()
    call_command("demo", "--write-files", str(tmp_path), stdout=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILE_NAMES)
    assert (tmp_path / "accounts.csv").read_text(encoding="utf-8") == generate(DEFAULT_SEED)["accounts.csv"]

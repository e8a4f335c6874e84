"""The ownership hierarchy: first step that applies wins, in the documented order, and says why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations

import pytest

from leadowner.actors import Actor
from routing.decision import RoutingDecision
from routing.hierarchy import STEPS
from routing.models import Account, Ownership
from routing.services.leads import LeadData, submit_lead
from territories.models import Partner, Rep, RuleSet
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    DealRegistrationFactory,
    OpportunityFactory,
    OwnershipFactory,
    PartnerFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system_actor("test")
ORDER = [
    "OPEN_OPPORTUNITY",
    "CUSTOMER_OWNER",
    "DEAL_REGISTRATION",
    "ACCOUNT_CLAIM",
    "RECENT_ENGAGEMENT",
    "NAMED_ACCOUNT",
    "INBOUND_OVERRIDE",
    "TERRITORY",
]


@dataclass
class Book:
    """An account (with a parent) and, per hierarchy step, who would win if that step applied."""

    now: datetime
    rule_set: RuleSet
    group: Account
    acme: Account
    reps: dict[str, Rep] = field(default_factory=dict)
    partner: Partner | None = None
    requested: str = ""

    def arrange(self, step: str) -> None:
        """Make `step` applicable, with its own rep (or partner) as the owner it would pick."""
        now, acme = self.now, self.acme
        rep = self.reps.setdefault(step, RepFactory(name=step.title().replace("_", " ")))
        if step == "OPEN_OPPORTUNITY":
            OpportunityFactory(account=acme, owner=rep, name="Acme renewal", created_at=now - timedelta(days=3))
        elif step == "CUSTOMER_OWNER":
            Account.objects.filter(pk=acme.pk).update(type="CUSTOMER")
            OwnershipFactory(account=acme, role="ACCOUNT_MANAGER", rep=rep, reason="CUSTOMER_OWNER")
        elif step == "DEAL_REGISTRATION":
            self.partner = PartnerFactory(name="Channel Co")
            DealRegistrationFactory(
                account=acme, partner=self.partner, status="APPROVED", expires_at=now + timedelta(days=60)
            )
        elif step == "ACCOUNT_CLAIM":
            OwnershipFactory(account=acme, rep=rep, reason="ACCOUNT_CLAIM", expires_at=now + timedelta(days=10))
        elif step == "RECENT_ENGAGEMENT":
            ActivityFactory(account=acme, rep=rep, occurred_at=now - timedelta(days=5))
        elif step == "NAMED_ACCOUNT":
            # On the parent: a claim (above) may hold the subsidiary's own SALES slot; named ownership rolls up.
            Account.objects.filter(pk=self.group.pk).update(named_account=True)
            OwnershipFactory(account=self.group, rep=rep, reason="NAMED_ACCOUNT")
        elif step == "INBOUND_OVERRIDE":
            self.requested = rep.email
        elif step == "TERRITORY":
            territory = TerritoryFactory(rule_set=self.rule_set, name="US", criteria={"countries": ["US"]})
            TerritoryMemberFactory(territory=territory, rep=rep)

    def submit(self, email: str = "pat@acme.com") -> RoutingDecision:
        data = LeadData(email=email, country="US", requested_rep_email=self.requested or None)
        return submit_lead(data=data, actor=SYSTEM, now=self.now)[1]

    def expected_owner(self, step: str) -> tuple[int | None, int | None]:
        if step == "DEAL_REGISTRATION":
            assert self.partner is not None
            return None, self.partner.pk
        return self.reps[step].pk, None


@pytest.fixture
def book(now: datetime) -> Book:
    group = AccountFactory(name="Acme Group", domains=["acmegroup.com"])
    acme = AccountFactory(name="Acme", parent=group, domains=["acme.com"])
    return Book(now=now, rule_set=RuleSetFactory(status="PUBLISHED"), group=group, acme=acme)


def _owner(decision: RoutingDecision) -> tuple[int | None, int | None]:
    assert decision.owner is not None
    return decision.owner.rep_id, decision.owner.partner_id


def test_the_engine_tries_the_steps_in_the_documented_order() -> None:
    assert [step for step, _ in STEPS] == ORDER


@pytest.mark.parametrize(("higher", "lower"), list(combinations(ORDER, 2)), ids=lambda s: s.lower())
def test_each_hierarchy_step_wins_over_every_step_below_it(book: Book, higher: str, lower: str) -> None:
    book.arrange(lower)
    book.arrange(higher)
    decision = book.submit()
    assert decision.step == higher
    assert _owner(decision) == book.expected_owner(higher)


@pytest.mark.parametrize("step", ORDER)
def test_each_step_alone_decides_and_explains_itself_last(book: Book, step: str) -> None:
    book.arrange(step)
    decision = book.submit()
    assert decision.step == step
    assert _owner(decision) == book.expected_owner(step)
    label = {"CUSTOMER_OWNER": "customer", "OPEN_OPPORTUNITY": "open opportunity"}.get(
        step, step.lower().replace("_", " ")
    )
    assert decision.trace[-1].startswith(f"{label}: ")
    history = Ownership.objects.get(lead__email="pat@acme.com", ended_at__isnull=True)
    assert history.reason == step


def test_with_every_step_applicable_removing_each_winner_reveals_the_next(book: Book) -> None:
    for step in ORDER:
        book.arrange(step)
    assert book.submit("a@acme.com").step == "OPEN_OPPORTUNITY"
    book.acme.opportunities.update(status="WON")
    assert book.submit("b@acme.com").step == "CUSTOMER_OWNER"
    Account.objects.filter(pk=book.acme.pk).update(type="PROSPECT")
    assert book.submit("c@acme.com").step == "DEAL_REGISTRATION"
    book.acme.registrations.update(status="EXPIRED")
    assert book.submit("d@acme.com").step == "ACCOUNT_CLAIM"
    Ownership.objects.filter(account=book.acme, reason="ACCOUNT_CLAIM").update(ended_at=book.now)
    assert book.submit("e@acme.com").step == "RECENT_ENGAGEMENT"
    book.acme.activities.update(occurred_at=book.now - timedelta(days=91))
    assert book.submit("f@acme.com").step == "NAMED_ACCOUNT"
    Ownership.objects.filter(account=book.group).update(ended_at=book.now)
    assert book.submit("g@acme.com").step == "INBOUND_OVERRIDE"
    book.requested = ""
    assert book.submit("h@acme.com").step == "TERRITORY"


def test_a_departed_owner_is_skipped_and_the_next_step_tried(book: Book) -> None:
    book.arrange("OPEN_OPPORTUNITY")
    book.arrange("CUSTOMER_OWNER")
    Rep.objects.filter(pk=book.reps["OPEN_OPPORTUNITY"].pk).update(status="DEPARTED")
    decision = book.submit()
    assert decision.step == "CUSTOMER_OWNER"
    assert "open opportunity: 'Acme renewal' on Acme belongs to Open Opportunity, who has departed" in decision.trace


def test_a_lapsed_claim_owns_nothing(book: Book) -> None:
    book.arrange("ACCOUNT_CLAIM")
    book.arrange("NAMED_ACCOUNT")
    Ownership.objects.filter(reason="ACCOUNT_CLAIM").update(expires_at=book.now - timedelta(minutes=1))
    decision = book.submit()
    assert decision.step == "NAMED_ACCOUNT"
    assert "account claim: no active claim on Acme or its parents (Acme Group)" in decision.trace


def test_engagement_older_than_the_lookback_does_not_count_and_departed_reps_are_passed_over(book: Book) -> None:
    book.arrange("RECENT_ENGAGEMENT")
    book.arrange("TERRITORY")
    gone = RepFactory(name="Gone", status="DEPARTED")
    ActivityFactory(account=book.acme, rep=gone, occurred_at=book.now - timedelta(days=1))
    decision = book.submit("one@acme.com")
    assert decision.step == "RECENT_ENGAGEMENT"
    assert _owner(decision) == book.expected_owner("RECENT_ENGAGEMENT")
    assert "recent engagement: passed over Gone, who has departed" in decision.trace
    book.acme.activities.exclude(rep=gone).update(occurred_at=book.now - timedelta(days=90))
    assert book.submit("two@acme.com").step == "TERRITORY"


def test_a_subsidiary_without_an_owner_rolls_up_to_its_ultimate_parents_named_owner(now: datetime) -> None:
    RuleSetFactory(status="PUBLISHED")
    darden = AccountFactory(name="Darden Restaurants", domains=["darden.com"], named_account=True)
    olive = AccountFactory(name="Olive Garden", parent=darden, domains=["olivegarden.com"])
    owner = RepFactory(name="Dana")
    OwnershipFactory(account=darden, rep=owner, reason="NAMED_ACCOUNT")
    _, decision = submit_lead(data=LeadData(email="chef@olivegarden.com"), actor=SYSTEM, now=now)
    assert decision.step == "NAMED_ACCOUNT"
    assert decision.owner is not None and decision.owner.rep_id == owner.pk
    assert decision.match.account_id == olive.pk
    assert decision.trace[-1] == (
        "named account: Darden Restaurants is a named account of Dana; Olive Garden has no owner of its own, "
        "so it rolls up to Darden Restaurants"
    )


def test_a_subsidiarys_own_owner_wins_over_its_parents(now: datetime) -> None:
    RuleSetFactory(status="PUBLISHED")
    darden = AccountFactory(name="Darden Restaurants", domains=["darden.com"])
    olive = AccountFactory(name="Olive Garden", parent=darden, domains=["olivegarden.com"])
    OwnershipFactory(account=darden, rep=RepFactory(), reason="NAMED_ACCOUNT")
    own = OwnershipFactory(account=olive, rep=RepFactory(), reason="MANUAL").rep
    _, decision = submit_lead(data=LeadData(email="chef@olivegarden.com"), actor=SYSTEM, now=now)
    assert decision.step == "NAMED_ACCOUNT"
    assert decision.owner is not None and decision.owner.rep_id == own.pk


def test_a_customers_account_manager_rolls_up_from_the_parent(now: datetime) -> None:
    RuleSetFactory(status="PUBLISHED")
    darden = AccountFactory(name="Darden Restaurants", type="CUSTOMER", domains=["darden.com"])
    AccountFactory(name="Olive Garden", parent=darden, type="CUSTOMER", domains=["olivegarden.com"])
    farmer = RepFactory(name="Farmer", role="ACCOUNT_MANAGER")
    OwnershipFactory(account=darden, role="ACCOUNT_MANAGER", rep=farmer, reason="CUSTOMER_OWNER")
    _, decision = submit_lead(data=LeadData(email="cfo@olivegarden.com"), actor=SYSTEM, now=now)
    assert decision.step == "CUSTOMER_OWNER"
    assert decision.owner is not None and decision.owner.rep_id == farmer.pk
    assert "rolls up to Darden Restaurants" in decision.trace[-1]


def test_a_prospects_lead_goes_to_hunters_not_to_an_account_manager(book: Book) -> None:
    OwnershipFactory(account=book.acme, role="ACCOUNT_MANAGER", rep=RepFactory(), reason="CUSTOMER_OWNER")
    book.arrange("TERRITORY")
    decision = book.submit()
    assert decision.step == "TERRITORY"
    assert "customer: Acme is a prospect, not a customer" in decision.trace


def test_inbound_override_policy_requested_rep_gives_the_lead_to_the_rep_asked_for(book: Book) -> None:
    RuleSet.objects.filter(pk=book.rule_set.pk).update(policy={"inbound_override": "requested_rep"})
    book.arrange("INBOUND_OVERRIDE")
    book.arrange("TERRITORY")
    decision = book.submit()
    assert decision.step == "INBOUND_OVERRIDE"
    assert decision.trace[-1].endswith("and policy lets the requested rep have it")


def test_a_requested_rep_who_departed_or_is_unknown_is_ignored(book: Book) -> None:
    book.arrange("INBOUND_OVERRIDE")
    book.arrange("TERRITORY")
    Rep.objects.filter(pk=book.reps["INBOUND_OVERRIDE"].pk).update(status="DEPARTED")
    assert book.submit("one@acme.com").step == "TERRITORY"
    book.requested = "stranger@example.com"
    decision = book.submit("two@acme.com")
    assert decision.step == "TERRITORY"
    assert "inbound override: the prospect asked for stranger@example.com, who is not one of our reps" in (
        decision.trace
    )

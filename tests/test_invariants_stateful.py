"""Ownership invariants under random operation: a hypothesis state machine drives the services.

Random sequences of submit, claim, register, approve, reject, dispute, resolve, transfer,
activity, time passing, the lifecycle sweeps, out-of-office and departure, each through
the service a request or a job would call, with injected time. A refusal (ServiceError)
is an answer; any other exception fails. After every step:

- at most one current owner per record and role;
- no departed rep owns anything once their deadline has passed and the sweeps ran;
- every lead is owned or in the unassigned queue;
- replaying the ownership history gives exactly the current owners;
- no partner owns what another partner registered first (while that registration lives).

`make test` runs a few short programs; `make fuzz` many long ones (the slow test).
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from disputes.models import Dispute, DisputeStatus
from disputes.services import open_dispute, resolve_dispute, sweep_dispute_escalations
from leadowner.actors import Actor
from leadowner.errors import ServiceError, ServiceErrors
from routing.enrich import LeadData
from routing.models import (
    Account,
    DealRegistration,
    DealRegistrationStatus,
    Lead,
    Opportunity,
    OpportunityStatus,
    Ownership,
    OwnershipChange,
)
from routing.selectors.console import unassigned_leads
from routing.services.activity import log_activity
from routing.services.claims import claim_account
from routing.services.departures import mark_rep_departed, sweep_departures
from routing.services.expiry import sweep_claim_expiry, sweep_registration_expiry
from routing.services.forfeits import sweep_forfeits
from routing.services.leads import submit_lead
from routing.services.registrations import DealRegistrationData, register_deal, review_deal_registration
from routing.services.sla import sweep_first_touch_sla
from routing.services.transfers import transfer_ownership
from territories.models import PartnerUser, Rep, RepStatus
from territories.roster import set_out_of_office
from tests.factories import AccountFactory, ManagerFactory, PartnerUserFactory, RepFactory
from tests.jobs_support import us_map

REFUSED = (ServiceError, ServiceErrors)
DOMAINS = ("alpha.com", "beta.com", "gamma.com", "delta.com")
SWEEPS = (
    sweep_forfeits,
    sweep_first_touch_sla,
    sweep_claim_expiry,
    sweep_registration_expiry,
    sweep_departures,
    sweep_dispute_escalations,
)

reps = st.integers(0, 2)  # ada, bo, cy (index into the machine's reps)
accounts = st.integers(0, len(DOMAINS) - 1)
partners = st.integers(0, 1)

# The long runs are for `make fuzz` (which sets LEADOWNER_FUZZ_LONG=1); `make test` runs the bounded ones.
LONG_RUN = pytest.mark.skipif(not os.environ.get("LEADOWNER_FUZZ_LONG"), reason="the long run: make fuzz")


class OwnershipMachine(RuleBasedStateMachine):
    """One small book, rolled back after each program."""

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.now = timezone.now().replace(microsecond=0)
        self.swept_at: datetime | None = None
        self.steps: list[str] = []

    @initialize()
    def book(self) -> None:
        self.revops = RepFactory(name="Rex", role="REVOPS")
        self.manager = ManagerFactory(name="Mona")
        self.reps = [RepFactory(name=n, manager=self.manager, role="AE") for n in ("Ada", "Bo", "Cy")]
        us_map(*self.reps, calendar="US")
        self.accounts = [
            AccountFactory(name=f"{d.split('.')[0].title()} Corp", domains=[d], country="US") for d in DOMAINS
        ]
        self.partner_users: list[PartnerUser] = [PartnerUserFactory(), PartnerUserFactory()]
        self.lead_count = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _try(self, label: str, action: Any) -> Any:
        self.steps.append(label)
        try:
            return action()
        except REFUSED:
            return None

    @property
    def rex(self) -> Actor:
        return Actor(rep=self.revops)

    def _rep(self, i: int) -> Rep:
        rep = self.reps[i]
        rep.refresh_from_db()
        return rep

    # Rules ------------------------------------------------------------------------------

    @rule(domain=st.sampled_from([*DOMAINS, "gmail.com", "unknown-co.com"]), by=reps)
    def submit(self, domain: str, by: int) -> None:
        self.lead_count += 1
        data = LeadData(email=f"person{self.lead_count}@{domain}", country="US")
        self._try("submit", lambda: submit_lead(data=data, actor=Actor(rep=self._rep(by)), now=self.now))

    @rule(rep=reps, account=accounts)
    def claim(self, rep: int, account: int) -> None:
        target = Account.objects.get(pk=self.accounts[account].pk)
        self._try("claim", lambda: claim_account(account=target, actor=Actor(rep=self._rep(rep)), now=self.now))

    @rule(partner=partners, account=accounts)
    def register(self, partner: int, account: int) -> None:
        data = DealRegistrationData(company=self.accounts[account].name, domain=DOMAINS[account])
        user = self.partner_users[partner]
        self._try("register", lambda: register_deal(data=data, actor=Actor(partner_user=user), now=self.now))

    @precondition(lambda self: DealRegistration.objects.filter(status=DealRegistrationStatus.PENDING).exists())
    @rule(pick=st.integers(0, 10), approve=st.booleans())
    def review(self, pick: int, approve: bool) -> None:
        pending = list(DealRegistration.objects.filter(status=DealRegistrationStatus.PENDING).order_by("pk"))
        registration = pending[pick % len(pending)]
        self._try(
            "approve" if approve else "reject",
            lambda: review_deal_registration(
                registration_id=registration.pk, approve=approve, reason="fuzz", actor=self.rex, now=self.now
            ),
        )

    @rule(by=reps, pick=st.integers(0, 20), on_lead=st.booleans())
    def dispute(self, by: int, pick: int, on_lead: bool) -> None:
        actor = Actor(rep=self._rep(by))
        if on_lead:
            leads = list(Lead.objects.order_by("pk"))
            if leads:
                lead = leads[pick % len(leads)]
                self._try("dispute", lambda: open_dispute(lead=lead, reason="mine", actor=actor, now=self.now))
        else:
            account = Account.objects.get(pk=self.accounts[pick % len(self.accounts)].pk)
            self._try("dispute", lambda: open_dispute(account=account, reason="mine", actor=actor, now=self.now))

    @precondition(lambda self: Dispute.objects.exclude(status=DisputeStatus.RESOLVED).exists())
    @rule(pick=st.integers(0, 10), claimant_wins=st.booleans())
    def resolve(self, pick: int, claimant_wins: bool) -> None:
        open_ = list(Dispute.objects.exclude(status=DisputeStatus.RESOLVED).order_by("pk"))
        dispute = open_[pick % len(open_)]
        winner = dispute.claimant_id if claimant_wins or dispute.current_owner_id is None else dispute.current_owner_id
        self._try(
            "resolve",
            lambda: resolve_dispute(
                dispute_id=dispute.pk, winner_rep_id=winner, resolution="decided", actor=self.rex, now=self.now
            ),
        )

    @rule(to=reps, pick=st.integers(0, 20), on_lead=st.booleans())
    def transfer(self, to: int, pick: int, on_lead: bool) -> None:
        target = self._rep(to)
        if on_lead:
            leads = list(Lead.objects.order_by("pk"))
            if not leads:
                return
            record: dict[str, Any] = {"lead": leads[pick % len(leads)]}
        else:
            record = {"account": Account.objects.get(pk=self.accounts[pick % len(self.accounts)].pk)}
        self._try(
            "transfer",
            lambda: transfer_ownership(**record, to_rep=target, reason="rebalance", actor=self.rex, now=self.now),
        )

    @rule(by=reps, pick=st.integers(0, 20), kind=st.sampled_from(["CALL", "NOTE"]), on_lead=st.booleans())
    def activity(self, by: int, pick: int, kind: str, on_lead: bool) -> None:
        actor = Actor(rep=self._rep(by))
        if on_lead:
            leads = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
            if leads:
                lead_id = leads[pick % len(leads)]
                self._try("activity", lambda: log_activity(lead_id=lead_id, kind=kind, actor=actor, now=self.now))
        else:
            account_id = self.accounts[pick % len(self.accounts)].pk
            self._try("activity", lambda: log_activity(account_id=account_id, kind=kind, actor=actor, now=self.now))

    @rule(hours=st.sampled_from([1, 6, 25, 24 * 3, 24 * 15, 24 * 31, 24 * 95]))
    def time_passes(self, hours: int) -> None:
        self.steps.append(f"+{hours}h")
        self.now += timedelta(hours=hours)

    @rule()
    def sweeps(self) -> None:
        self.steps.append("sweeps")
        for sweep in SWEEPS:
            for _ in range(20):  # each sweep re-runs while it says more is due
                if not sweep(now=self.now).more:
                    break
            else:
                raise AssertionError(f"{sweep.__name__} still had more to do after 20 runs")
        self.swept_at = self.now

    @rule(rep=reps, days=st.integers(0, 20))
    def out_of_office(self, rep: int, days: int) -> None:
        today: date = timezone.localdate(self.now)
        self._try(
            "out of office",
            lambda: set_out_of_office(
                rep_id=self.reps[rep].pk, start=today, end=today + timedelta(days=days), actor=self.rex, now=self.now
            ),
        )

    @rule(rep=reps)
    def departure(self, rep: int) -> None:
        self._try("departure", lambda: mark_rep_departed(rep_id=self.reps[rep].pk, actor=self.rex, now=self.now))

    # Invariants -------------------------------------------------------------------------

    @invariant()
    def at_most_one_current_owner_per_record_and_role(self) -> None:
        seen: dict[tuple[Any, ...], int] = defaultdict(int)
        for key in Ownership.objects.filter(ended_at__isnull=True).values_list("account_id", "lead_id", "role"):
            seen[key] += 1
        assert all(n == 1 for n in seen.values()), ({k: n for k, n in seen.items() if n > 1}, self.steps)

    @invariant()
    def no_departed_rep_owns_anything_after_their_deadline_and_a_sweep(self) -> None:
        if self.swept_at is None:
            return
        gone = Rep.objects.filter(status=RepStatus.DEPARTED, reassignment_due_at__lte=self.swept_at)
        owned = Ownership.objects.filter(ended_at__isnull=True, rep__in=gone)
        selling = Opportunity.objects.filter(status=OpportunityStatus.OPEN, owner__in=gone)
        assert not owned.exists() and not selling.exists(), (list(owned.values()), self.steps)

    @invariant()
    def every_lead_is_owned_or_in_the_unassigned_queue(self) -> None:
        owned = set(
            Ownership.objects.filter(ended_at__isnull=True, role="SALES", lead__isnull=False).values_list(
                "lead_id", flat=True
            )
        )
        waiting = set(unassigned_leads().values_list("pk", flat=True))
        assert not owned & waiting, self.steps
        assert owned | waiting == set(Lead.objects.values_list("pk", flat=True)), self.steps

    @invariant()
    def replaying_the_history_gives_exactly_the_current_owners(self) -> None:
        replayed: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        changes = OwnershipChange.objects.order_by("at", "id").values_list(
            "account_id", "lead_id", "role", "from_rep_id", "from_partner_id", "to_rep_id", "to_partner_id"
        )
        for account_id, lead_id, role, from_rep, from_partner, to_rep, to_partner in changes:
            key = (account_id, lead_id, role)
            assert replayed.get(key, (None, None)) == (from_rep, from_partner), (key, self.steps)
            if to_rep is None and to_partner is None:
                replayed.pop(key, None)
            else:
                replayed[key] = (to_rep, to_partner)
        current = {
            (a, lead, role): (rep, partner)
            for a, lead, role, rep, partner in Ownership.objects.filter(ended_at__isnull=True).values_list(
                "account_id", "lead_id", "role", "rep_id", "partner_id"
            )
        }
        assert replayed == current, self.steps

    @invariant()
    def no_partner_owns_what_another_partner_registered_first(self) -> None:
        for account_id, partner_id in Ownership.objects.filter(
            ended_at__isnull=True, partner__isnull=False, account__isnull=False
        ).values_list("account_id", "partner_id"):
            mine = (
                DealRegistration.objects.filter(
                    account_id=account_id, partner_id=partner_id, status=DealRegistrationStatus.APPROVED
                )
                .order_by("submitted_at")
                .first()
            )
            assert mine is not None, (account_id, partner_id, self.steps)
            earlier = DealRegistration.objects.filter(
                account_id=account_id,
                status__in=(DealRegistrationStatus.PENDING, DealRegistrationStatus.APPROVED),
                submitted_at__lt=mine.submitted_at,
            ).exclude(partner_id=partner_id)
            assert not earlier.exists(), (list(earlier.values("partner_id", "status", "submitted_at")), self.steps)


def _run(max_examples: int, steps: int) -> None:
    machine = OwnershipMachine.TestCase
    machine.settings = settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        derandomize=os.environ.get("STATEFUL_SEED") is None,
        suppress_health_check=list(HealthCheck),
    )
    machine("runTest").runTest()


@pytest.mark.django_db
def test_ownership_invariants_hold_under_random_operation():
    _run(int(os.environ.get("STATEFUL_EXAMPLES", "12")), int(os.environ.get("STATEFUL_STEPS", "25")))


@pytest.mark.slow
@LONG_RUN
@pytest.mark.django_db
def test_ownership_invariants_hold_under_long_random_operation():
    _run(int(os.environ.get("STATEFUL_LONG_EXAMPLES", "150")), int(os.environ.get("STATEFUL_LONG_STEPS", "60")))

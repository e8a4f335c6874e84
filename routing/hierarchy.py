"""Step 3 of the routing decision: the ownership hierarchy, first step that applies wins.

Each step is a small function of the routing context. It writes one plain-words trace
line (or more when it skips someone) and returns the owner it chose, or None to let
the next step try. A rep who departed or is excluded from this routing (a forfeit
never goes back to the forfeiting rep) is never chosen: the step says so and the
hierarchy moves on.

Steps only read, except that the territory step's round robin advances its counter
(through the Counters it is given; a simulation's counters write nothing).

"Family" means the matched account and its parents, nearest first: ownership rolls up
from a subsidiary to its parents when it has none of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from routing.distribution import Counters, distribute, unavailable_reason
from routing.enrich import CleanLead
from routing.models import (
    Account,
    AccountType,
    DecisionStep,
    OwnerRole,
    Ownership,
)
from routing.reads import Reads
from routing.territory_map import SharedTerritories
from territories.matching import Facts, describe
from territories.models import Partner, Rep, RepStatus, Territory
from territories.policy import Policy


@dataclass(frozen=True)
class Choice:
    """The owner a step chose: a rep or a partner (or nobody, for a claim queue and UNASSIGNED)."""

    step: str
    rep: Rep | None = None
    partner: Partner | None = None
    territory: Territory | None = None


@dataclass
class Context:
    lead: CleanLead
    facts: Facts
    account: Account | None
    ancestors: list[Account]
    policy: Policy
    now: datetime
    territories: list[Territory]
    counters: Counters
    exclude_rep_ids: frozenset[int] = frozenset()
    lead_id: int | None = None  # set when re-routing a stored lead
    has_rule_set: bool = True
    matched_territory: Territory | None = None  # kept when its members cannot take the lead
    trace: list[str] = field(default_factory=list)
    reads: Reads = field(default_factory=Reads)  # BatchReads when a batch of leads is routed
    _owners: list[Ownership] | None = None
    _sales: list[tuple[Account, Ownership]] | None = None

    def note(self, line: str) -> None:
        self.trace.append(line)

    @property
    def family(self) -> list[Account]:
        return [self.account, *self.ancestors] if self.account is not None else []

    @property
    def family_ids(self) -> list[int]:
        return [a.pk for a in self.family]

    def family_words(self) -> str:
        assert self.account is not None
        if not self.ancestors:
            return self.account.name
        return f"{self.account.name} or its parents ({', '.join(a.name for a in self.ancestors)})"

    def rank(self, account_id: int | None) -> int:
        ids = self.family_ids
        return ids.index(account_id) if account_id in ids else len(ids)

    def blocked(self, rep: Rep) -> str | None:
        """Why `rep` may not receive this lead whatever the step: departed or excluded."""
        if rep.status == RepStatus.DEPARTED:
            return "has departed"
        if rep.pk in self.exclude_rep_ids:
            return "is excluded from this routing (it was taken from them)"
        return None

    def family_owners(self) -> list[Ownership]:
        """Current owners of every role in the family (one read, shared by the steps)."""
        if self._owners is None:
            self._owners = self.reads.family_owners(self.family_ids) if self.account is not None else []
        return self._owners

    def effective_owner(self, role: str) -> tuple[Ownership | None, Account | None]:
        """The family's owner in `role`, rolled up: the account's own, else the nearest parent's."""
        held = [o for o in self.family_owners() if o.role == role]
        if not held:
            return None, None
        nearest = min(held, key=lambda o: self.rank(o.account_id))
        by_id = {a.pk: a for a in self.family}
        return nearest, by_id.get(nearest.account_id)  # type: ignore[arg-type]

    def sales_owners(self) -> list[tuple[Account, Ownership]]:
        """Current SALES ownership in the family, nearest first, lapsed claims left out."""
        if self._sales is None:
            rows = [o for o in self.family_owners() if o.role == OwnerRole.SALES]
            by_id = {a.pk: a for a in self.family}
            live = [
                o
                for o in rows
                if not (
                    o.reason == DecisionStep.ACCOUNT_CLAIM and o.expires_at is not None and o.expires_at <= self.now
                )
            ]
            live.sort(key=lambda o: self.rank(o.account_id))
            self._sales = [(by_id[o.account_id], o) for o in live if o.account_id in by_id]
        return self._sales


def _lapsed_claim(ownership: Ownership, now: datetime) -> bool:
    """A claim past its lapse time that the expiry sweep has not ended yet: it owns nothing."""
    expires = ownership.expires_at
    return ownership.reason == DecisionStep.ACCOUNT_CLAIM and expires is not None and expires <= now


def _owner_name(ownership: Ownership) -> str:
    if ownership.rep is not None:
        return ownership.rep.name
    return ownership.partner.name if ownership.partner is not None else "nobody"


def _choice_of(step: str, ownership: Ownership) -> Choice:
    return Choice(step=step, rep=ownership.rep, partner=ownership.partner)


def _rolled_up(ctx: Context, holder: Account) -> str:
    assert ctx.account is not None
    if holder.pk == ctx.account.pk:
        return ""
    return f"; {ctx.account.name} has no owner of its own, so it rolls up to {holder.name}"


def open_opportunity(ctx: Context) -> Choice | None:
    if ctx.account is None:
        ctx.note("open opportunity: no account matched")
        return None
    opportunities = sorted(
        ctx.reads.open_opportunities(ctx.family_ids),
        key=lambda o: (ctx.rank(o.account_id), -o.created_at.timestamp(), -o.pk),
    )
    if not opportunities:
        ctx.note(f"open opportunity: none on {ctx.family_words()}")
        return None
    for opp in opportunities:
        assert opp.owner is not None
        why_not = ctx.blocked(opp.owner)
        if why_not:
            ctx.note(f"open opportunity: '{opp.name}' on {opp.account.name} belongs to {opp.owner.name}, who {why_not}")
            continue
        ctx.note(
            f"open opportunity: '{opp.name}' on {opp.account.name} is open; its owner {opp.owner.name} gets the lead"
        )
        return Choice(step=DecisionStep.OPEN_OPPORTUNITY, rep=opp.owner)
    return None


def customer_owner(ctx: Context) -> Choice | None:
    if ctx.account is None:
        ctx.note("customer: no account matched")
        return None
    customer = next((a for a in ctx.family if a.type == AccountType.CUSTOMER), None)
    if customer is None:
        ctx.note(f"customer: {ctx.account.name} is a prospect, not a customer")
        return None
    what = (
        f"{ctx.account.name} is a customer"
        if customer.pk == ctx.account.pk
        else (f"{ctx.account.name} belongs to the customer {customer.name}")
    )
    ownership, holder = ctx.effective_owner(OwnerRole.ACCOUNT_MANAGER)
    if ownership is None or holder is None:
        ctx.note(f"customer: {what} but has no account manager")
        return None
    if ownership.rep is not None and (why_not := ctx.blocked(ownership.rep)):
        ctx.note(f"customer: {what}; its account manager {ownership.rep.name} {why_not}")
        return None
    ctx.note(f"customer: {what}; its account manager {_owner_name(ownership)} gets the lead{_rolled_up(ctx, holder)}")
    return _choice_of(DecisionStep.CUSTOMER_OWNER, ownership)


def deal_registration(ctx: Context) -> Choice | None:
    if ctx.account is None:
        ctx.note("deal registration: no account matched")
        return None
    registrations = sorted(
        ctx.reads.approved_registrations(ctx.family_ids, ctx.now), key=lambda r: ctx.rank(r.account_id)
    )
    if not registrations:
        ctx.note(f"deal registration: no approved registration on {ctx.family_words()}")
        return None
    reg = registrations[0]
    ctx.note(
        f"deal registration: {reg.partner.name} holds an approved registration on {reg.account.name}; "
        "the partner gets the lead"
    )
    return Choice(step=DecisionStep.DEAL_REGISTRATION, partner=reg.partner)


def account_claim(ctx: Context) -> Choice | None:
    if ctx.account is None:
        ctx.note("account claim: no account matched")
        return None
    owners = ctx.sales_owners()
    if not owners or owners[0][1].reason != DecisionStep.ACCOUNT_CLAIM:
        ctx.note(f"account claim: no active claim on {ctx.family_words()}")
        return None
    holder, claim = owners[0]
    until = f" until {claim.expires_at:%Y-%m-%d}" if claim.expires_at else ""
    if claim.rep is not None and (why_not := ctx.blocked(claim.rep)):
        ctx.note(f"account claim: {holder.name} is claimed by {claim.rep.name}, who {why_not}")
        return None
    ctx.note(
        f"account claim: {_owner_name(claim)} claimed {holder.name}{until} and gets the lead{_rolled_up(ctx, holder)}"
    )
    return _choice_of(DecisionStep.ACCOUNT_CLAIM, claim)


def recent_engagement(ctx: Context) -> Choice | None:
    days = ctx.policy.engagement_lookback_days
    if ctx.account is None and ctx.lead_id is None:
        ctx.note("recent engagement: no account matched")
        return None
    activities = ctx.reads.recent_activity(
        account_id=ctx.account.pk if ctx.account is not None else None,
        lead_id=ctx.lead_id,
        since=ctx.now - timedelta(days=days),
        until=ctx.now,
    )
    subject = ctx.account.name if ctx.account is not None else "this lead"
    skipped: dict[int, str] = {}
    for activity in activities:
        why_not = ctx.blocked(activity.rep)
        if why_not:
            skipped.setdefault(activity.rep_id, f"{activity.rep.name}, who {why_not}")
            continue
        if skipped:
            ctx.note(f"recent engagement: passed over {'; '.join(skipped.values())}")
        ctx.note(
            f"recent engagement: {activity.rep.name} logged a {activity.get_kind_display().lower()} on {subject} "
            f"on {activity.occurred_at:%Y-%m-%d} (within {days} days) and gets the lead"
        )
        return Choice(step=DecisionStep.RECENT_ENGAGEMENT, rep=activity.rep)
    if skipped:
        ctx.note(
            f"recent engagement: passed over {'; '.join(skipped.values())}; "
            f"nobody else engaged {subject} within {days} days"
        )
    else:
        ctx.note(f"recent engagement: no activity on {subject} within {days} days")
    return None


def named_account(ctx: Context) -> Choice | None:
    if ctx.account is None:
        ctx.note("named account: no account matched")
        return None
    owners = [(a, o) for a, o in ctx.sales_owners() if o.reason != DecisionStep.ACCOUNT_CLAIM]
    if not owners:
        named = " is a named account but" if ctx.account.named_account else ""
        ctx.note(f"named account: {ctx.account.name}{named} has no SALES owner, nor do its parents")
        return None
    holder, ownership = owners[0]
    if ownership.rep is not None and (why_not := ctx.blocked(ownership.rep)):
        ctx.note(f"named account: {holder.name} is owned by {ownership.rep.name}, who {why_not}")
        return None
    kind = "a named account of" if holder.named_account else "owned by"
    ctx.note(f"named account: {holder.name} is {kind} {_owner_name(ownership)}{_rolled_up(ctx, holder)}")
    return _choice_of(DecisionStep.NAMED_ACCOUNT, ownership)


def inbound_override(ctx: Context) -> Choice | None:
    email = ctx.lead.requested_rep_email
    if not email:
        ctx.note("inbound override: the prospect asked for no rep")
        return None
    rep = ctx.reads.rep_by_email(email)
    if rep is None:
        ctx.note(f"inbound override: the prospect asked for {email}, who is not one of our reps")
        return None
    why_not = ctx.blocked(rep) or (
        "is out of office" if unavailable_reason(rep, today=timezone.localdate(ctx.now), excluded=()) else None
    )
    if why_not:
        ctx.note(f"inbound override: the prospect asked for {rep.name}, who {why_not}")
        return None
    if ctx.policy.inbound_override == "existing_owner" and ctx.account is not None:
        for holder, ownership in ctx.sales_owners():
            if ownership.rep is not None and ctx.blocked(ownership.rep):
                continue
            ctx.note(
                f"inbound override: the prospect asked for {rep.name}; policy gives inbound leads to the existing "
                f"owner, {_owner_name(ownership)} ({holder.name})"
            )
            return _choice_of(DecisionStep.INBOUND_OVERRIDE, ownership)
        ctx.note(
            f"inbound override: the prospect asked for {rep.name}; there is no existing owner, so {rep.name} gets it"
        )
        return Choice(step=DecisionStep.INBOUND_OVERRIDE, rep=rep)
    ctx.note(f"inbound override: the prospect asked for {rep.name}, and policy lets the requested rep have it")
    return Choice(step=DecisionStep.INBOUND_OVERRIDE, rep=rep)


def _facts_words(facts: Facts) -> str:
    parts = [
        f"{label} {value}"
        for label, value in (
            ("country", facts.country),
            ("subdivision", facts.subdivision),
            ("city", facts.city),
            ("postal code", facts.postal_code),
            ("industry", facts.industry),
        )
        if value
    ]
    if facts.employees is not None:
        parts.append(f"{facts.employees:,} employees")
    if facts.annual_revenue is not None:
        parts.append(f"annual revenue {facts.annual_revenue:,}")
    return ", ".join(parts) if parts else "no location or firmographics"


def territory(ctx: Context) -> Choice | None:
    if not ctx.has_rule_set:
        ctx.note("territory: no published rule set, so there is no territory map")
        return None
    if not ctx.territories:
        ctx.note("territory: the rule set has no territories")
        return None
    found = ctx.reads.territory_for(ctx.territories, ctx.facts)
    if isinstance(ctx.territories, SharedTerritories):
        # Distribution keeps the members on the territory it distributes in: on a copy,
        # never on the process's shared map (whatever Reads answered with).
        found = ctx.territories.fresh_choice(found)
        by_id = ctx.territories.territory_index.by_id  # built once per map, not per lead
    else:
        by_id = {t.pk: t for t in ctx.territories}
    if found.territory is None:
        ctx.note(f"territory: none of the {len(ctx.territories)} territories matches ({_facts_words(ctx.facts)})")
        return None
    chosen: Territory = found.territory
    ctx.matched_territory = chosen
    for line in found.considered:
        if "also matches" in line:
            ctx.note(f"territory: {line}")
    if found.tied:
        names = ", ".join(f"'{t.name}'" for t in found.tied)
        verb = "matches" if len(found.tied) == 1 else "match"
        ctx.note(
            f"territory: AMBIGUOUS: {names} {verb} as specifically and with the same priority as '{chosen.name}'; "
            f"took '{chosen.name}' (first in the file); fix the territory map"
        )
    pick = distribute(chosen, today=timezone.localdate(ctx.now), excluded=ctx.exclude_rep_ids, counters=ctx.counters)
    line = f"territory: {describe(chosen, by_id)} matched on {found.matched_on}; {pick.line}"
    ctx.note(line)
    if pick.rep is not None:
        return Choice(step=DecisionStep.TERRITORY, rep=pick.rep, territory=chosen)
    if pick.queued:
        return Choice(step=DecisionStep.TERRITORY, territory=chosen)
    return None


def unassigned(ctx: Context) -> Choice:
    ctx.note("unassigned: no step found an owner; the lead waits in the unassigned queue for a manager")
    return Choice(step=DecisionStep.UNASSIGNED)


STEPS: tuple[tuple[str, Callable[[Context], Choice | None]], ...] = (
    (DecisionStep.OPEN_OPPORTUNITY, open_opportunity),
    (DecisionStep.CUSTOMER_OWNER, customer_owner),
    (DecisionStep.DEAL_REGISTRATION, deal_registration),
    (DecisionStep.ACCOUNT_CLAIM, account_claim),
    (DecisionStep.RECENT_ENGAGEMENT, recent_engagement),
    (DecisionStep.NAMED_ACCOUNT, named_account),
    (DecisionStep.INBOUND_OVERRIDE, inbound_override),
    (DecisionStep.TERRITORY, territory),
)


def run_hierarchy(ctx: Context) -> Choice:
    """Try each step in order; the first that chooses wins, else UNASSIGNED."""
    for _step, check in STEPS:
        choice = check(ctx)
        if choice is not None:
            return choice
    return unassigned(ctx)

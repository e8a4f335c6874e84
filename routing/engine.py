"""The routing decision, start to end: normalise, match, enrich, hierarchy, territory.

`decide` reads and decides; it writes nothing but the round-robin counter of the
territory it distributes in (and with SimulatedCounters not even that). Writing the
owner is the caller's business (routing.services.leads), so the same code serves
submitting, re-routing and dry runs.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from routing.decision import MatchResult, OwnerChoice, RoutingDecision
from routing.distribution import Counters, DurableCounters
from routing.enrich import CleanLead, enrich
from routing.hierarchy import Choice, Context, run_hierarchy
from routing.matching import MatchReads, match_account
from routing.models import Account, OwnerRole
from routing.reads import Reads
from routing.territory_map import one_lead_territories
from territories.models import RuleSet, Territory
from territories.policy import Policy
from territories.selectors import policy_of


@dataclass(frozen=True)
class Outcome:
    """A decision and the objects it names, so callers need not load them again."""

    decision: RoutingDecision
    choice: Choice
    account: Account | None


def match(lead: CleanLead, policy: Policy, reads: MatchReads | None = None) -> MatchResult:
    """The lead's account match (`reads`: BatchMatchReads when a batch of leads is matched)."""
    if not lead.company_domain and not lead.company:
        why = "free-mail address and no company" if lead.email_domain else "no email domain and no company"
        return MatchResult.none(f"{why}: nothing to match an account on")
    return match_account(domain=lead.email, company=lead.company, threshold=policy.fuzzy_threshold, reads=reads)


def decide(
    *,
    lead: CleanLead,
    rule_set: RuleSet | None,
    now: datetime,
    exclude_rep_ids: Collection[int] = (),
    counters: Counters | None = None,
    territories: list[Territory] | None = None,
    lead_id: int | None = None,
    known_match: MatchResult | None = None,
) -> RoutingDecision:
    """Route one lead and return the decision (see `run` for the arguments)."""
    return run(
        lead=lead,
        rule_set=rule_set,
        now=now,
        exclude_rep_ids=exclude_rep_ids,
        counters=counters,
        territories=territories,
        lead_id=lead_id,
        known_match=known_match,
    ).decision


def run(
    *,
    lead: CleanLead,
    rule_set: RuleSet | None,
    now: datetime,
    exclude_rep_ids: Collection[int] = (),
    counters: Counters | None = None,
    territories: list[Territory] | None = None,
    lead_id: int | None = None,
    known_match: MatchResult | None = None,
    reads: Reads | None = None,
) -> Outcome:
    """Route one lead: who should own it, by which step, and why (the trace).

    `counters`: DurableCounters (default) for real routing, inside the caller's
    transaction; SimulatedCounters for a dry run. `territories`: the rule set's
    territories when the caller already loaded them (a batch). `lead_id`: the stored
    lead being re-routed, whose own activity counts as engagement. `known_match`: the
    account match to keep instead of matching again (a re-routed lead keeps its account).
    `reads`: BatchReads when the caller routes a batch (routing.services.batch_routing);
    one-lead reads otherwise.
    """
    reads = reads if reads is not None else Reads()
    counters = counters if counters is not None else DurableCounters()
    policy = policy_of(rule_set)
    trace = list(lead.notes)
    if rule_set is None:
        trace.append("rule set: no published rule set; routing with no territory map and the default policy")
    else:
        trace.append(f"rule set: version {rule_set.version} ({rule_set.get_status_display().lower()})")
    if territories is None:
        territories = one_lead_territories(rule_set)

    found = known_match if known_match is not None else match(lead, policy)
    account = reads.account(found.account_id, found.account) if found.account_id is not None else None
    trace.append(f"account: {found.explanation}" if account is not None else f"account: none; {found.explanation}")
    family = reads.ancestors(account) if account is not None else []
    facts, lines = enrich(lead, account)
    trace.extend(lines)

    ctx = Context(
        lead=lead,
        facts=facts,
        account=account,
        ancestors=family,
        policy=policy,
        now=now,
        territories=territories,
        counters=counters,
        exclude_rep_ids=frozenset(exclude_rep_ids),
        lead_id=lead_id,
        has_rule_set=rule_set is not None,
        trace=trace,
        reads=reads,
    )
    choice = run_hierarchy(ctx)
    owner = None
    if choice.rep is not None or choice.partner is not None:
        owner = OwnerChoice(
            role=str(OwnerRole.SALES),
            rep_id=choice.rep.pk if choice.rep is not None else None,
            partner_id=choice.partner.pk if choice.partner is not None else None,
        )
    territory = choice.territory or ctx.matched_territory
    decision = RoutingDecision(
        step=str(choice.step),
        match=found,
        rule_set_version=rule_set.version if rule_set is not None else 0,
        owner=owner,
        territory_id=territory.pk if territory is not None else None,
        trace=tuple(ctx.trace),
    )
    return Outcome(decision=decision, choice=choice, account=account)

"""Who may read and write what: the one module the services, the API resolvers and the console ask.

The whole matrix (RevOps and the system can do everything; "team" is a manager and every
rep below them in the org chart, routing.selectors.team):

| caller       | reads                                                | writes                                         |
|--------------|------------------------------------------------------|------------------------------------------------|
| anonymous    | nothing                                              | nothing                                        |
| rep          | every account, rep, territory and owner (ownerOf is  | submit leads; claim accounts and queue leads;  |
|              | transparent); leads they own, unassigned leads and   | work (stage, activity) the leads and accounts  |
|              | leads on their accounts; disputes they are party to; | they own, or accounts no rep owns; open        |
|              | registrations on accounts they own; the published    | disputes                                       |
|              | rule set                                             |                                                |
| manager      | as a rep, except leads: their team's, unassigned     | as a rep, plus: work their team's leads and    |
|              | ones and those on their team's accounts; disputes:   | accounts (and unowned leads); transfer within  |
|              | whose claimant or contested owner is in their team   | their team; resolve their team's disputes (or  |
|              | (or escalated to them); every registration; every    | escalated to them); review deal registrations; |
|              | rule set version                                     | mark their reps departed, set their out of     |
|              |                                                      | office and capacity                            |
| RevOps       | everything                                           | everything                                     |
| partner user | accounts their partner registered, its               | register deals; nothing else                   |
|              | registrations, and on those accounts its own         |                                                |
|              | ownership and history; nothing of the direct         |                                                |
|              | pipeline (reps, leads, territories, disputes)        |                                                |

Details of the reads:
- Managers read leads owned by their team (themselves included), the leads no one owns
  for sales (the queue they must clear) and leads on accounts their team owns; disputes
  whose claimant or contested owner is in their team, or that escalated to them.
- Reps (any role) read every account, every rep, the territory map and every owner
  (transparency: anyone signed in can ask who owns an account). Leads: those they own
  now in any role, those waiting with no sales owner (the queue they may claim from),
  and those on accounts they own. Disputes: those they are party to (claimant or the
  owner contested). Deal registrations: those on accounts they own.
- Partner users read only their partner's world: accounts their partner has a deal
  registration on (any status), their partner's registrations, and on those accounts
  their partner's own ownership and the history rows naming their partner. An account
  they may not read looks exactly like a missing one.
- Notifications: everyone reads and marks read only their own (a rep's, of any role, or a
  partner user's); the system and anonymous callers have none. The console's log of every
  notification is for managers and RevOps (the console's own rule).
- Rule sets (simulateRouting): managers and RevOps any version (drafts before they are
  published); reps the published one only (a draft looks like a missing version).

`visible_*` narrow a queryset; `can_*` answer a read of one record; `may_*` answer a
write: True/False where a refusal has one reason (the service words it), or a Refusal
(None = allowed) where it has several. The services raise FORBIDDEN on a refusal; the
API first narrows ids by the read rules, so an id the actor may not read answers
NOT_FOUND exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from disputes.models import Dispute
from leadowner.actors import Actor
from leadowner.models import Notification
from routing.models import Account, DealRegistration, Lead, OwnerRole, Ownership, OwnershipChange
from routing.selectors.team import actor_manages, manages, team_rep_ids
from territories.models import Rep, RepStatus, RuleSet, RuleSetStatus, Territory

M = TypeVar("M", bound=Model)


def is_manager(actor: Actor) -> bool:
    return actor.is_manager


def _none(qs: QuerySet[M]) -> QuerySet[M]:
    return qs.none()


def _team_and_self(actor: Actor) -> set[int]:
    """A manager's team with the manager in it (empty for callers who are not reps)."""
    if actor.rep is None:
        return set()
    return team_rep_ids(actor.rep) | {actor.rep.pk}


# Accounts -------------------------------------------------------------------------------


def partner_account_ids(actor: Actor) -> frozenset[int]:
    """Ids of the accounts a partner user's partner has registrations on (empty for others)."""
    if actor.partner_id is None:
        return frozenset()
    return frozenset(
        DealRegistration.objects.filter(partner_id=actor.partner_id).values_list("account_id", flat=True).distinct()
    )


def visible_accounts(actor: Actor, qs: QuerySet[Account]) -> QuerySet[Account]:
    if not actor.is_authenticated:
        return _none(qs)
    if actor.partner_user is not None:
        partner_id = actor.partner_user.partner_id
        return qs.filter(Exists(DealRegistration.objects.filter(account_id=OuterRef("pk"), partner_id=partner_id)))
    return qs


def can_view_account(actor: Actor, account_id: int | None, *, partner_accounts: Collection[int] | None = None) -> bool:
    """May the actor read this account? `partner_accounts`: a precomputed partner_account_ids(actor)."""
    if account_id is None or not actor.is_authenticated:
        return False
    if actor.is_partner:
        if partner_accounts is None:
            partner_accounts = partner_account_ids(actor)
        return account_id in partner_accounts
    return True


def can_see_partner(actor: Actor, partner_id: int | None) -> bool:
    """A partner user never learns of another partner; staff see every partner."""
    if partner_id is None or not actor.is_authenticated:
        return False
    return not actor.is_partner or actor.partner_id == partner_id


def visible_owners(actor: Actor, ownerships: Iterable[Ownership]) -> list[Ownership]:
    """Owners an actor may see: a partner user only their own partner's ownership (no reps, no other partner)."""
    if not actor.is_authenticated:
        return []
    if actor.is_partner:
        return [o for o in ownerships if o.partner_id is not None and o.partner_id == actor.partner_id]
    return list(ownerships)


def visible_history(actor: Actor, qs: QuerySet[OwnershipChange]) -> QuerySet[OwnershipChange]:
    """History rows an actor may read: a partner user only account rows naming their partner (and no other)."""
    if not actor.is_authenticated:
        return _none(qs)
    if actor.is_partner:
        own = actor.partner_id
        return qs.filter(
            Q(account_id__isnull=False),
            Q(from_partner_id=own) | Q(to_partner_id=own),
            Q(from_partner__isnull=True) | Q(from_partner_id=own),
            Q(to_partner__isnull=True) | Q(to_partner_id=own),
        )
    return qs


# Leads ----------------------------------------------------------------------------------


def _current(qs: QuerySet[Ownership]) -> QuerySet[Ownership]:
    return qs.filter(ended_at__isnull=True)


def visible_leads(actor: Actor, qs: QuerySet[Lead]) -> QuerySet[Lead]:
    """RevOps every lead; a manager their team's, a rep their own; both the unassigned queue and their accounts'."""
    if not actor.is_authenticated or actor.is_partner:
        return _none(qs)
    if actor.is_revops:
        return qs
    assert actor.rep is not None
    rep_ids = _team_and_self(actor) if actor.is_manager else {actor.rep.pk}
    owns_lead = Exists(_current(Ownership.objects.filter(lead_id=OuterRef("pk"), rep_id__in=rep_ids)))
    has_sales_owner = Exists(_current(Ownership.objects.filter(lead_id=OuterRef("pk"), role=OwnerRole.SALES)))
    owns_account = Exists(_current(Ownership.objects.filter(account_id=OuterRef("account_id"), rep_id__in=rep_ids)))
    return qs.filter(owns_lead | ~has_sales_owner | owns_account)


def can_view_lead(actor: Actor, lead_id: int | None) -> bool:
    if lead_id is None or not actor.is_authenticated or actor.is_partner:
        return False
    if actor.is_revops:
        return True
    return visible_leads(actor, Lead.objects.filter(pk=lead_id)).exists()


# Roster and territory map ---------------------------------------------------------------


def visible_reps(actor: Actor, qs: QuerySet[Rep]) -> QuerySet[Rep]:
    if not actor.is_authenticated or actor.is_partner:
        return _none(qs)
    return qs


def visible_territories(actor: Actor, qs: QuerySet[Territory]) -> QuerySet[Territory]:
    if not actor.is_authenticated or actor.is_partner:
        return _none(qs)
    return qs


def can_view_territories(actor: Actor) -> bool:
    return actor.is_authenticated and not actor.is_partner


def can_simulate(actor: Actor) -> bool:
    """Simulations show reps and territories: the direct pipeline, not for partner users."""
    return actor.is_authenticated and not actor.is_partner


def visible_rule_sets(actor: Actor, qs: QuerySet[RuleSet]) -> QuerySet[RuleSet]:
    """Managers and RevOps read every version (drafts to simulate); reps the published one."""
    if not can_simulate(actor):
        return _none(qs)
    if actor.is_manager:
        return qs
    return qs.filter(status=RuleSetStatus.PUBLISHED)


# Deal registrations and disputes --------------------------------------------------------


def visible_deal_registrations(actor: Actor, qs: QuerySet[DealRegistration]) -> QuerySet[DealRegistration]:
    if not actor.is_authenticated:
        return _none(qs)
    if actor.partner_user is not None:
        return qs.filter(partner_id=actor.partner_user.partner_id)
    if actor.is_manager:
        return qs
    assert actor.rep is not None
    return qs.filter(Exists(_current(Ownership.objects.filter(account_id=OuterRef("account_id"), rep_id=actor.rep.pk))))


def visible_disputes(actor: Actor, qs: QuerySet[Dispute]) -> QuerySet[Dispute]:
    """RevOps every dispute; a manager those of their team (claimant or contested owner) or escalated to
    them; a rep those they are party to."""
    if not actor.is_authenticated or actor.is_partner:
        return _none(qs)
    if actor.is_revops:
        return qs
    assert actor.rep is not None
    if actor.is_manager:
        team = _team_and_self(actor)
        return qs.filter(Q(claimant_id__in=team) | Q(current_owner_id__in=team) | Q(escalated_to_id=actor.rep.pk))
    return qs.filter(Q(claimant_id=actor.rep.pk) | Q(current_owner_id=actor.rep.pk))


# Notifications --------------------------------------------------------------------------


def visible_notifications(actor: Actor, qs: QuerySet[Notification]) -> QuerySet[Notification]:
    """One's own notifications only: a partner never reads another partner's or a rep's, nor a rep another's."""
    if actor.rep is not None:
        return qs.filter(recipient_rep_id=actor.rep.pk)
    if actor.partner_user is not None:
        return qs.filter(recipient_partner_user_id=actor.partner_user.pk)
    return _none(qs)


def may_read_notification_log(actor: Actor) -> bool:
    """Everyone's notifications, with their email status: managers and RevOps (the console)."""
    return actor.is_manager


# Writes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """Why a write is refused: the message (and the input field) of the service's FORBIDDEN."""

    message: str
    field: str | None = None


def may_submit_lead(actor: Actor) -> Refusal | None:
    if not actor.is_authenticated:
        return Refusal("sign in to submit leads")
    if actor.is_partner:
        return Refusal("partners register deals (registerDeal); they do not submit leads")
    return None


def may_register_deal(actor: Actor) -> Refusal | None:
    if actor.partner_user is None:
        return Refusal("only a partner's users register deals")
    return None


def may_claim(actor: Actor) -> Refusal | None:
    """An active rep (any role) claims an unowned account; partners register deals instead."""
    if actor.is_partner:
        return Refusal("partners register deals; only reps claim accounts")
    if actor.rep is None:
        return Refusal("only a rep can claim an account")
    if actor.rep.status == RepStatus.DEPARTED:
        return Refusal(f"{actor.rep.name} has departed and cannot claim accounts")
    return None


def may_open_dispute(actor: Actor) -> Refusal | None:
    if actor.rep is None:
        return Refusal("only reps open disputes")
    if actor.rep.status == RepStatus.DEPARTED:
        return Refusal(f"{actor.rep.name} has departed")
    return None


def may_work_lead(actor: Actor, lead: Lead, owner: Rep | None) -> bool:
    """Change a lead's stage or log on it: its sales owner `owner`, or a manager of the owner (RevOps
    always); an unowned lead, any manager. `lead` is the record asked about (the rule reads only its owner)."""
    if owner is None:
        return actor.is_manager
    if actor.rep is not None and actor.rep.pk == owner.pk:
        return True
    return actor_manages(actor, owner)


def may_log_account_activity(actor: Actor, account: Account, *, lead: Lead | None, lead_owner: Rep | None) -> bool:
    """A rep owner of the account (any role) or their manager (RevOps always); the worker of a lead of
    that account (owned by `lead_owner`) logging on both; any rep on an account no rep owns.

    Account activity is engagement, and engagement routes the account's next leads (the
    hierarchy's RECENT_ENGAGEMENT step): a note on someone else's account must not take them.
    """
    owners = [
        o.rep
        for o in Ownership.objects.select_related("rep").filter(account=account, ended_at__isnull=True)
        if o.rep is not None
    ]
    if not owners or actor.is_revops:
        return True
    if actor.rep is not None and actor.rep.pk in {rep.pk for rep in owners}:
        return True
    if lead is not None and lead.account_id == account.pk and lead_owner is not None:
        return may_work_lead(actor, lead, lead_owner)
    return actor_manages(actor, *owners)


def _in_team(actor: Actor, rep: Rep) -> bool:
    return (actor.rep is not None and actor.rep.pk == rep.pk) or actor_manages(actor, rep)


def may_transfer(actor: Actor) -> bool:
    """Only managers and RevOps transfer ownership (which records: `may_transfer_record`)."""
    return actor.is_manager


def may_transfer_record(actor: Actor, *, label: str, before: Ownership | None, to_rep: Rep) -> Refusal | None:
    """A manager moves records within their team: from a rep of it (or from nobody) to a rep of it
    or themselves. Taking another team's record, handing one to another team, or moving a partner's
    is RevOps' call."""
    if actor.is_revops:
        return None
    if before is not None and (before.rep is None or not _in_team(actor, before.rep)):
        holder = before.rep.name if before.rep else before.partner.name if before.partner else "its owner"
        return Refusal(f"{label} is owned by {holder}, not by your team")
    if not _in_team(actor, to_rep):
        return Refusal(f"{to_rep.name} is not in your team", "toRepId")
    return None


def may_resolve(actor: Actor, dispute: Dispute) -> bool:
    """RevOps; a manager up the chain of the claimant or of the contested owner; whoever it escalated to."""
    if actor.is_revops:
        return True
    if not actor.is_manager or actor.rep is None:
        return False
    me = actor.rep
    if dispute.escalated_to_id is not None and dispute.escalated_to_id == me.pk:
        return True
    parties = [dispute.claimant, dispute.current_owner]
    return any(rep is not None and manages(me, rep) for rep in parties)


def may_rebalance(actor: Actor) -> bool:
    """Rebalancing plans (read, build, apply, discard): managers and RevOps."""
    return actor.is_manager


def may_review_registrations(actor: Actor) -> bool:
    """Managers and RevOps approve or reject deal registrations."""
    return actor.is_manager


def may_manage_rep(actor: Actor, rep: Rep) -> bool:
    """A manager of `rep` (not the rep themselves) or RevOps: out of office, capacity."""
    if actor.is_revops:
        return True
    return actor.rep is not None and actor.rep.pk != rep.pk and actor_manages(actor, rep)


def may_mark_departed(actor: Actor, rep: Rep) -> bool:
    """A manager of `rep` (not the rep themselves) or RevOps confirms a departure."""
    return may_manage_rep(actor, rep)

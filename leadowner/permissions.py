"""Who may read what: the one module the API resolvers (and the console) ask.

The rules:
- Managers and RevOps (and the system) read everything.
- Reps (any role) read every account, every rep, the territory map and every owner
  (transparency: anyone signed in can ask who owns an account). Leads: those they own
  now in any role, those waiting with no sales owner (the queue they may claim from),
  and those on accounts they own. Disputes: those they are party to (claimant or the
  owner contested). Deal registrations: those on accounts they own.
- Partner users read only their partner's world: accounts their partner has a deal
  registration on (any status), their partner's registrations, and on those accounts
  their partner's own ownership and the history rows naming their partner. Nothing of
  the direct pipeline: no rep owners or rep history, no leads, reps roster, territories,
  rule sets, disputes or simulations. An account they may not read looks exactly like a
  missing one.
- Rule sets (simulateRouting): managers and RevOps any version (drafts before they are
  published); reps the published one only (a draft looks like a missing version).
- Anonymous callers read nothing.

The write rules (who may claim, transfer, resolve ...) live in the services, which
raise FORBIDDEN; the API first narrows ids by these read rules, so an id the actor may
not read answers NOT_FOUND exactly like a missing one.

`visible_*` narrow a queryset; `can_*` answer for one record. Both take the actor, so
every rule lives here once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TypeVar

from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from disputes.models import Dispute
from leadowner.actors import Actor
from routing.models import Account, DealRegistration, Lead, OwnerRole, Ownership, OwnershipChange
from territories.models import Rep, RuleSet, RuleSetStatus, Territory

M = TypeVar("M", bound=Model)


def is_manager(actor: Actor) -> bool:
    return actor.is_manager


def _none(qs: QuerySet[M]) -> QuerySet[M]:
    return qs.none()


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
    if not actor.is_authenticated or actor.is_partner:
        return _none(qs)
    if actor.is_manager:
        return qs
    assert actor.rep is not None
    rep_id = actor.rep.pk
    owns_lead = Exists(_current(Ownership.objects.filter(lead_id=OuterRef("pk"), rep_id=rep_id)))
    has_sales_owner = Exists(_current(Ownership.objects.filter(lead_id=OuterRef("pk"), role=OwnerRole.SALES)))
    owns_account = Exists(_current(Ownership.objects.filter(account_id=OuterRef("account_id"), rep_id=rep_id)))
    return qs.filter(owns_lead | ~has_sales_owner | owns_account)


def can_view_lead(actor: Actor, lead_id: int) -> bool:
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
    if not actor.is_authenticated or actor.is_partner:
        return _none(qs)
    if actor.is_manager:
        return qs
    assert actor.rep is not None
    return qs.filter(Q(claimant_id=actor.rep.pk) | Q(current_owner_id=actor.rep.pk))

"""GraphQL types of the routing app: accounts, owners, leads, decisions, history, deal registrations.

Each relation a list can select carries an optimizer hint (select_related, or a
Prefetch built with the field's own selection), so a page of accounts or leads is
read in a fixed number of queries whatever its size. Visibility is asked of
leadowner.permissions through the context, never decided here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import strawberry
import strawberry_django
from django.db.models import Count, IntegerField, Model, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from strawberry import auto

from leadowner import permissions
from leadowner.graphql.context import Info
from leadowner.graphql.enums import (
    AccountType,
    ActivityKind,
    DealRegistrationStatus,
    DecisionStep,
    LeadSource,
    LeadStage,
    OwnerRole,
)
from leadowner.graphql.errors import UserError
from leadowner.graphql.pagination import Connection, NestedPage, optimized
from routing import decision as routing_decision
from routing.hierarchy import Choice
from routing.models import (
    Account,
    AccountDomain,
    DealRegistration,
    Lead,
    Ownership,
    OwnershipChange,
)
from routing.models import OwnerRole as OwnerRoleChoices
from routing.services.leads import LeadData
from routing.services.registrations import DealRegistrationData
from territories.schema import PartnerNode, RepNode, TerritoryNode

M = TypeVar("M", bound=Model)

DOMAINS_ATTR = "domain_list"
CURRENT_OWNERS_ATTR = "current_owner_list"
SALES_OWNER_ATTR = "sales_owner_list"
HISTORY_COUNT_ATTR = "history_count"
_ROLE_ORDER = {role: i for i, role in enumerate(OwnerRoleChoices.values)}


def owner_sort_key(ownership: Ownership) -> int:
    """Owners are listed in the order of the OwnerRole enum: SALES first."""
    return _ROLE_ORDER.get(ownership.role, len(_ROLE_ORDER))


def _blank_to_none(value: str) -> str | None:
    return value or None


def related(lookup: str, model: type[M]) -> Callable[[Info], Prefetch]:
    """An optimizer hint for a relation behind a custom resolver (one that checks visibility).

    A Prefetch built from the field's own selection, so the related rows get their own
    hints (annotations such as a rep's open load, nested prefetches) in one query per
    list. select_related would not: the join would skip the related type's annotations.
    """

    def hint(info: Info) -> Prefetch:
        return Prefetch(lookup, queryset=optimized(model._default_manager.all(), info))

    return hint


def _current_ownerships() -> QuerySet[Ownership]:
    return Ownership.objects.filter(ended_at__isnull=True)


def _history_for(info: Info, qs: QuerySet[OwnershipChange]) -> QuerySet[OwnershipChange]:
    return permissions.visible_history(info.context.actor, qs)


ACCOUNT_HISTORY = NestedPage[OwnershipChange](
    relation="ownership_changes", parent_field="account_id", ordering=("-at", "-id")
)


def _history_prefetch(info: Info) -> Prefetch:
    return ACCOUNT_HISTORY.prefetch(info, _history_for(info, OwnershipChange.objects.all()))


def _history_count(info: Info) -> Coalesce:
    counted = (
        _history_for(info, OwnershipChange.objects.filter(account_id=OuterRef("pk")))
        .order_by()
        .values("account_id")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _owners_prefetch(info: Info) -> Prefetch:
    return Prefetch("ownerships", queryset=optimized(_current_ownerships(), info), to_attr=CURRENT_OWNERS_ATTR)


def _sales_owner_prefetch(info: Info) -> Prefetch:
    qs = _current_ownerships().filter(role=OwnerRoleChoices.SALES)
    return Prefetch("ownerships", queryset=optimized(qs, info), to_attr=SALES_OWNER_ATTR)


@strawberry_django.type(Ownership, name="Owner", description="A rep or a partner, owning a record in one role.")
class OwnerNode:
    role: OwnerRole
    since: datetime
    reason: DecisionStep

    # Plain relations: the optimizer joins or prefetches them (with the Rep's own hints).
    # Lists of owners are narrowed by permissions.visible_owners before they get here.
    rep: RepNode | None
    partner: PartnerNode | None


@strawberry_django.type(Account, name="Account", description="A company.")
class AccountNode:
    id: auto
    name: auto
    type: AccountType
    employees: int | None

    @strawberry_django.field(
        prefetch_related=[
            Prefetch("domain_rows", queryset=AccountDomain.objects.order_by("position"), to_attr=DOMAINS_ATTR)
        ]
    )
    def domains(self, root: Account) -> list[str]:
        rows: list[AccountDomain] | None = getattr(root, DOMAINS_ATTR, None)
        if rows is None:
            rows = list(root.domain_rows.order_by("position"))
        return [row.domain for row in rows]

    @strawberry_django.field(prefetch_related=[related("parent", Account)])
    def parent(self, root: Account, info: Info) -> AccountNode | None:
        if root.parent_id is None or not info.context.can_view_account(root.parent_id):
            return None
        return root.parent  # type: ignore[return-value]

    @strawberry_django.field(description="The top of the parent chain; null when the account has no parent.")
    def ultimate_parent(self, root: Account, info: Info) -> AccountNode | None:
        loader = info.context.loaders.accounts
        current, seen = root, {root.pk}
        while current.parent_id is not None and current.parent_id not in seen:
            above = current.parent if Account.parent.is_cached(current) else loader.load(current.parent_id)
            if above is None:
                break
            seen.add(above.pk)
            current = above
        if current.pk == root.pk or not info.context.can_view_account(current.pk):
            return None
        return current  # type: ignore[return-value]

    @strawberry_django.field
    def country(self, root: Account) -> str | None:
        return _blank_to_none(root.country)

    @strawberry_django.field
    def subdivision(self, root: Account) -> str | None:
        return _blank_to_none(root.subdivision)

    @strawberry_django.field
    def industry(self, root: Account) -> str | None:
        return _blank_to_none(root.industry)

    @strawberry_django.field(prefetch_related=[_owners_prefetch], description="The current owner in each role.")
    def owners(self, root: Account, info: Info) -> list[OwnerNode]:
        rows: list[Ownership] | None = getattr(root, CURRENT_OWNERS_ATTR, None)
        if rows is None:
            rows = list(_current_ownerships().filter(account=root).select_related("rep", "partner"))
        visible = sorted(
            permissions.visible_owners(info.context.actor, rows), key=lambda o: _ROLE_ORDER.get(o.role, 99)
        )
        return visible  # type: ignore[return-value]

    @strawberry_django.field(
        prefetch_related=[_history_prefetch],
        annotate={HISTORY_COUNT_ATTR: _history_count},
        description="Every ownership change of the account, newest first.",
    )
    def history(
        self, root: Account, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[OwnershipChangeNode]:
        qs = _history_for(info, OwnershipChange.objects.filter(account=root))
        count: int | None = getattr(root, HISTORY_COUNT_ATTR, None)
        return ACCOUNT_HISTORY.resolve(
            root, info, qs, first=first, after=after, count=(lambda: count) if count is not None else None
        )


@strawberry.type(name="MatchResult", description="How a lead (or a lookup) was matched to an account.")
class MatchResultNode:
    method: str = strawberry.field(description="DOMAIN, ALIAS, NAME, FUZZY, PARENT, NONE")
    score: float | None = strawberry.field(description="0..1, 1 for exact")
    explanation: str
    account_id: strawberry.Private[int | None]
    preloaded: strawberry.Private[Account | None] = None

    @classmethod
    def from_match(cls, match: routing_decision.MatchResult, account: Account | None = None) -> MatchResultNode:
        return cls(
            method=match.method,
            score=match.score,
            explanation=match.explanation,
            account_id=match.account_id,
            preloaded=account,
        )

    @strawberry.field
    def account(self, info: Info) -> AccountNode | None:
        if self.account_id is None or not info.context.can_view_account(self.account_id):
            return None
        if self.preloaded is not None and self.preloaded.pk == self.account_id:
            return self.preloaded  # type: ignore[return-value]
        return info.context.loaders.accounts.load(self.account_id)  # type: ignore[return-value]


@strawberry.type(name="RoutingDecision", description="Why a lead went where it went.")
class RoutingDecisionNode:
    step: DecisionStep
    match: MatchResultNode
    rule_set_version: int
    trace: list[str] = strawberry.field(description="Each check tried, in order, and its outcome, in plain words")
    decision: strawberry.Private[routing_decision.RoutingDecision]
    since: strawberry.Private[datetime]

    @classmethod
    def from_decision(cls, decision: routing_decision.RoutingDecision, *, since: datetime) -> RoutingDecisionNode:
        return cls(
            step=DecisionStep(decision.step),
            match=MatchResultNode.from_match(decision.match),
            rule_set_version=decision.rule_set_version,
            trace=list(decision.trace),
            decision=decision,
            since=since,
        )

    @strawberry.field
    def owner(self, info: Info) -> OwnerNode | None:
        choice = self.decision.owner
        if choice is None:
            return None
        # The owner the decision picked, as it was then: an unsaved Ownership row whose
        # rep and partner come from the request's loaders (batched across a page of leads).
        owner = Ownership(role=choice.role, since=self.since, reason=self.decision.step)
        loaders = info.context.loaders
        owner.rep = loaders.reps.load(choice.rep_id) if choice.rep_id is not None else None
        visible_partner = choice.partner_id is not None and permissions.can_see_partner(
            info.context.actor, choice.partner_id
        )
        owner.partner = loaders.partners.load(choice.partner_id) if visible_partner else None  # type: ignore[arg-type]
        return owner  # type: ignore[return-value]

    @strawberry.field
    def territory(self, info: Info) -> TerritoryNode | None:
        if self.decision.territory_id is None or not permissions.can_view_territories(info.context.actor):
            return None
        return info.context.loaders.territories.load(self.decision.territory_id)  # type: ignore[return-value]


def decision_of(lead: Lead) -> routing_decision.RoutingDecision | None:
    return routing_decision.RoutingDecision.from_json(lead.decision) if lead.decision else None


def prime_choice(choice: Choice, info: Info) -> None:
    """Give the request's loaders the rep, partner and territory routing just chose and loaded
    (a submitted lead's answer names them): two reads fewer per submitLead."""
    loaders = info.context.loaders
    if choice.rep is not None:
        loaders.reps.prime(choice.rep.pk, choice.rep)
    if choice.partner is not None:
        loaders.partners.prime(choice.partner.pk, choice.partner)
    if choice.territory is not None:
        loaders.territories.prime(choice.territory.pk, choice.territory)


def announce_decisions(decisions: list[routing_decision.RoutingDecision | None], info: Info) -> None:
    """Tell the loaders which reps, partners, territories and accounts these decisions name."""
    loaders = info.context.loaders
    for decision in decisions:
        if decision is None:
            continue
        loaders.accounts.want([decision.match.account_id])
        loaders.territories.want([decision.territory_id])
        if decision.owner is not None:
            loaders.reps.want([decision.owner.rep_id])
            loaders.partners.want([decision.owner.partner_id])


def announce_lead_references(leads: list[Lead], info: Info) -> None:
    """Tell the loaders which reps, partners, territories and accounts a page of leads' decisions names."""
    announce_decisions([decision_of(lead) for lead in leads], info)


@strawberry_django.type(Lead, name="Lead", description="A person or inquiry.")
class LeadNode:
    id: auto
    email: auto
    stage: LeadStage
    source: LeadSource
    received_at: datetime
    assigned_at: datetime | None
    first_touch_at: datetime | None

    @strawberry_django.field
    def name(self, root: Lead) -> str | None:
        return _blank_to_none(root.name)

    @strawberry_django.field
    def company(self, root: Lead) -> str | None:
        return _blank_to_none(root.company)

    @strawberry_django.field(prefetch_related=[related("account", Account)])
    def account(self, root: Lead, info: Info) -> AccountNode | None:
        if root.account_id is None or not info.context.can_view_account(root.account_id):
            return None
        return root.account  # type: ignore[return-value]

    @strawberry_django.field(prefetch_related=[_sales_owner_prefetch], description="The current sales owner.")
    def owner(self, root: Lead) -> OwnerNode | None:
        rows: list[Ownership] | None = getattr(root, SALES_OWNER_ATTR, None)
        if rows is None:
            rows = list(_current_ownerships().filter(lead=root, role=OwnerRoleChoices.SALES).select_related("rep"))
        return rows[0] if rows else None  # type: ignore[return-value]

    @strawberry_django.field(description="The routing decision that placed the lead, as it was made.")
    def decision(self, root: Lead) -> RoutingDecisionNode | None:
        decision = decision_of(root)
        if decision is None:
            return None
        return RoutingDecisionNode.from_decision(decision, since=root.assigned_at or root.received_at)


@strawberry_django.type(OwnershipChange, name="OwnershipChange", description="One change of an owner, kept forever.")
class OwnershipChangeNode:
    at: datetime
    role: OwnerRole
    from_rep: RepNode | None
    to_rep: RepNode | None
    from_partner: PartnerNode | None
    to_partner: PartnerNode | None
    reason: str = strawberry_django.field(description="Why, in plain words")
    actor: str = strawberry_django.field(description='Who or what made the change: a user, "routing", "forfeit job"')

    @strawberry_django.field(prefetch_related=[related("account", Account)])
    def account(self, root: OwnershipChange, info: Info) -> AccountNode | None:
        if root.account_id is None or not info.context.can_view_account(root.account_id):
            return None
        return root.account  # type: ignore[return-value]

    @strawberry_django.field(prefetch_related=[related("lead", Lead)])
    def lead(self, root: OwnershipChange, info: Info) -> LeadNode | None:
        if not permissions.can_view_lead(info.context.actor, root.lead_id):
            return None
        return root.lead  # type: ignore[return-value]


@strawberry.type(name="OwnershipLookup", description="Who owns an account: anyone signed in may ask.")
class OwnershipLookupNode:
    account: AccountNode | None
    match: MatchResultNode
    owners: list[OwnerNode]


@strawberry_django.type(DealRegistration, name="DealRegistration", description="A partner's registration of a deal.")
class DealRegistrationNode:
    id: auto
    partner: PartnerNode
    account: AccountNode
    status: DealRegistrationStatus
    submitted_at: datetime
    decided_at: datetime | None
    expires_at: datetime | None

    @strawberry_django.field
    def reason(self, root: DealRegistration) -> str | None:
        return _blank_to_none(root.reason)


# Inputs and payloads of the routing mutations ---------------------------------------------


@strawberry.input
class LeadInput:
    email: str
    name: str | None = None
    title: str | None = None
    company: str | None = None
    country: str | None = None
    subdivision: str | None = None
    city: str | None = None
    postal_code: str | None = None
    industry: str | None = None
    employees: int | None = None
    source: LeadSource | None = LeadSource.INBOUND
    product_interest: str | None = None
    requested_rep_email: str | None = strawberry.field(
        default=None, description="The prospect reached out to this rep directly"
    )
    received_at: datetime | None = strawberry.field(
        default=None, description="Defaults to now; set when importing past leads"
    )

    def to_data(self) -> LeadData:
        return LeadData(
            email=self.email,
            name=self.name,
            title=self.title,
            company=self.company,
            country=self.country,
            subdivision=self.subdivision,
            city=self.city,
            postal_code=self.postal_code,
            industry=self.industry,
            employees=self.employees,
            source=self.source.value if self.source is not None else LeadSource.INBOUND.value,
            product_interest=self.product_interest,
            requested_rep_email=self.requested_rep_email,
            received_at=self.received_at,
        )


@strawberry.input
class ActivityInput:
    kind: ActivityKind
    lead_id: strawberry.ID | None = None
    account_id: strawberry.ID | None = None
    occurred_at: datetime | None = strawberry.field(default=None, description="Defaults to now")
    note: str | None = None


@strawberry.input
class DealRegistrationInput:
    company: str
    domain: str | None = None
    country: str | None = None
    estimated_value: float | None = None
    note: str | None = None

    def to_data(self) -> DealRegistrationData:
        return DealRegistrationData(
            company=self.company,
            domain=self.domain or "",
            country=self.country or "",
            # Through str: the float a client sent, not its binary expansion (0.1, not 0.1000000000000000055...).
            estimated_value=Decimal(str(self.estimated_value)) if self.estimated_value is not None else None,
            note=self.note or "",
        )


@strawberry.type
class SubmitLeadPayload:
    lead: LeadNode | None = None
    decision: RoutingDecisionNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SubmittedLead:
    """One lead of submitLeads, in the order given."""

    lead: LeadNode | None = strawberry.field(
        default=None, description="null when it went to someone whose leads you may not read"
    )
    decision: RoutingDecisionNode
    attached: bool = strawberry.field(
        description="true: a repeat of an email within the duplicate window, attached to the earlier lead"
    )


@strawberry.type
class SubmitLeadsPayload:
    results: list[SubmittedLead] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ClaimAccountPayload:
    account: AccountNode | None = None
    owner: OwnerNode | None = None
    expires_at: datetime | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DealRegistrationPayload:
    registration: DealRegistrationNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LogActivityPayload:
    ok: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TransferPayload:
    account: AccountNode | None = None
    lead: LeadNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LeadStagePayload:
    lead: LeadNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


__all__ = [
    "AccountNode",
    "DealRegistrationNode",
    "LeadNode",
    "MatchResultNode",
    "OwnerNode",
    "OwnershipChangeNode",
    "OwnershipLookupNode",
    "RoutingDecisionNode",
    "announce_decisions",
    "announce_lead_references",
    "decision_of",
    "owner_sort_key",
]

"""GraphQL queries of the routing app: owner lookup, accounts, leads, deal registrations.

Resolvers parse arguments, narrow by leadowner.permissions, and shape the output;
the rules live in selectors and permissions.
"""

from __future__ import annotations

import strawberry
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When

from leadowner import permissions
from leadowner.errors import ServiceError
from leadowner.graphql.context import Info
from leadowner.graphql.enums import DealRegistrationStatus, LeadStage
from leadowner.graphql.errors import graphql_error
from leadowner.graphql.pagination import Connection, optimized, paginate
from routing import decision as routing_decision
from routing.graphql_types import (
    AccountNode,
    DealRegistrationNode,
    LeadNode,
    MatchResultNode,
    OwnershipLookupNode,
    announce_lead_references,
    owner_sort_key,
)
from routing.models import Account, AccountAlias, AccountDomain, DealRegistration, Lead, OwnerRole, Ownership
from routing.normalize import normalize_company, registered_domain


def parse_id(value: strawberry.ID | str | None) -> int | None:
    """A database id from an ID argument; None when it cannot be one.

    Filters use `parse_id(x) or 0`: no row has id 0, so a malformed id matches nothing.
    """
    if value is None:
        return None
    try:
        pk = int(str(value))
    except ValueError:
        return None
    return pk if pk > 0 else None


def _current() -> QuerySet[Ownership]:
    return Ownership.objects.filter(ended_at__isnull=True)


def search_accounts(qs: QuerySet[Account], search: str) -> QuerySet[Account]:
    """Accounts whose normalised name or alias contains the words, or whose domain matches.

    Name prefix matches rank first; ties keep the account order (name, id).
    """
    text = search.strip()
    if not text:
        return qs
    words = normalize_company(text)
    host = text.lower()
    condition = Q(Exists(AccountDomain.objects.filter(account_id=OuterRef("pk"), domain__startswith=host)))
    registered = registered_domain(host) if "." in host and " " not in host else ""
    if registered:
        condition |= Q(Exists(AccountDomain.objects.filter(account_id=OuterRef("pk"), domain=registered)))
    if words:
        condition |= Q(normalized_name__contains=words)
        condition |= Q(Exists(AccountAlias.objects.filter(account_id=OuterRef("pk"), normalized_alias__contains=words)))
        rank: Case | Value = Case(
            When(normalized_name__startswith=words, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    else:
        rank = Value(1, output_field=IntegerField())
    return qs.filter(condition).annotate(search_rank=rank).order_by("search_rank", "name", "id")


def _announce_parents(accounts: list[Account], info: Info) -> None:
    info.context.loaders.accounts.want(a.parent_id for a in accounts)


def _account_or_none(info: Info, account_id: int | None) -> Account | None:
    if account_id is None:
        return None
    qs = permissions.visible_accounts(info.context.actor, Account.objects.filter(pk=account_id))
    return optimized(qs, info).first()


@strawberry.type
class Query:
    @strawberry.field(description="Who owns an account, by domain, company name or id: anyone signed in may ask.")
    def owner_of(
        self,
        info: Info,
        domain: str | None = None,
        company: str | None = None,
        account_id: strawberry.ID | None = None,
    ) -> OwnershipLookupNode:
        from routing.selectors.lookup import lookup_owner  # written alongside; imported when first asked

        actor = info.context.actor
        pk = parse_id(account_id)
        if account_id is not None and pk is None:
            missing = routing_decision.MatchResult.none(f"no account has the id {account_id}")
            return OwnershipLookupNode(account=None, match=MatchResultNode.from_match(missing), owners=[])
        try:
            found = lookup_owner(domain=domain, company=company, account_id=pk)
        except ServiceError as error:
            raise graphql_error(error.code.value, error.message, field=error.field) from None
        account = found.account
        if account is not None and not info.context.can_view_account(account.pk):
            # A partner user learns nothing about accounts outside their partner's registrations.
            hidden = routing_decision.MatchResult.none("no account of your partner matches")
            return OwnershipLookupNode(account=None, match=MatchResultNode.from_match(hidden), owners=[])
        owners = sorted(permissions.visible_owners(actor, found.owners), key=owner_sort_key)
        return OwnershipLookupNode(
            account=account,  # type: ignore[arg-type]
            match=MatchResultNode.from_match(found.match, account),
            owners=owners,  # type: ignore[arg-type]
        )

    @strawberry.field
    def account(self, info: Info, id: strawberry.ID) -> AccountNode | None:
        return _account_or_none(info, parse_id(id))  # type: ignore[return-value]

    @strawberry.field(
        description=(
            "Accounts, by name. search: the normalised name or an alias contains it, or a domain matches."
            " territoryId: accounts currently owned (any role) by members of that territory."
            " ownerRepId: accounts with a current owner (any role) that is this rep."
        )
    )
    def accounts(
        self,
        info: Info,
        search: str | None = None,
        territory_id: strawberry.ID | None = None,
        owner_rep_id: strawberry.ID | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[AccountNode]:
        qs = permissions.visible_accounts(info.context.actor, Account.objects.all())
        if territory_id is not None:
            territory_pk = parse_id(territory_id)
            members = _current().filter(account_id=OuterRef("pk"), rep__memberships__territory_id=territory_pk or 0)
            qs = qs.filter(Exists(members))
        if owner_rep_id is not None:
            rep_pk = parse_id(owner_rep_id) or 0
            qs = qs.filter(Exists(_current().filter(account_id=OuterRef("pk"), rep_id=rep_pk)))
        if search:
            qs = search_accounts(qs, search)
        return paginate(qs, info, first=first, after=after, prepare=lambda rows: _announce_parents(rows, info))

    @strawberry.field
    def lead(self, info: Info, id: strawberry.ID) -> LeadNode | None:
        pk = parse_id(id)
        if pk is None:
            return None
        qs = permissions.visible_leads(info.context.actor, Lead.objects.filter(pk=pk))
        return optimized(qs, info).first()  # type: ignore[return-value]

    @strawberry.field(
        description=(
            "Leads, newest first. ownerRepId: the current sales owner is this rep."
            " unassigned: true for leads with no current sales owner, false for leads with one."
        )
    )
    def leads(
        self,
        info: Info,
        stage: LeadStage | None = None,
        owner_rep_id: strawberry.ID | None = None,
        unassigned: bool | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[LeadNode]:
        qs = permissions.visible_leads(info.context.actor, Lead.objects.all())
        if stage is not None:
            qs = qs.filter(stage=stage)
        sales = _current().filter(lead_id=OuterRef("pk"), role=OwnerRole.SALES)
        if owner_rep_id is not None:
            qs = qs.filter(Exists(sales.filter(rep_id=parse_id(owner_rep_id) or 0)))
        if unassigned is not None:
            qs = qs.filter(~Exists(sales)) if unassigned else qs.filter(Exists(sales))
        return paginate(qs, info, first=first, after=after, prepare=lambda rows: announce_lead_references(rows, info))

    @strawberry.field(
        description=(
            "Deal registrations, newest first: managers and RevOps see all, partner users their partner's,"
            " reps those on accounts they own."
        )
    )
    def deal_registrations(
        self,
        info: Info,
        status: DealRegistrationStatus | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[DealRegistrationNode]:
        qs = permissions.visible_deal_registrations(info.context.actor, DealRegistration.objects.all())
        if status is not None:
            qs = qs.filter(status=status)
        return paginate(qs, info, first=first, after=after)

"""GraphQL queries and mutations of the routing app: owner lookup, accounts, leads, deal
registrations, simulation; submitting, claiming, registering, activity, stages, transfers,
departures.

Resolvers parse arguments, narrow by leadowner.permissions, call one service and shape
the output; the rules live in services, selectors and permissions.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from django.db.models import QuerySet

from leadowner import permissions
from leadowner.errors import ErrorCode, ServiceError, ServiceErrors
from leadowner.graphql.context import Info
from leadowner.graphql.enums import DealRegistrationStatus, LeadStage, OwnerRole
from leadowner.graphql.errors import BAD_USER_INPUT, bad_input, forbidden, graphql_error, payload_or_errors, user_errors
from leadowner.graphql.ids import optional_visible, parse_id, visible_or_not_found
from leadowner.graphql.pagination import Connection, optimized, paginate
from routing import decision as routing_decision
from routing.graphql_types import (
    AccountNode,
    ActivityInput,
    ClaimAccountPayload,
    DealRegistrationInput,
    DealRegistrationNode,
    DealRegistrationPayload,
    LeadInput,
    LeadNode,
    LeadStagePayload,
    LogActivityPayload,
    MatchResultNode,
    OwnershipLookupNode,
    RoutingDecisionNode,
    SubmitLeadPayload,
    SubmitLeadsPayload,
    SubmittedLead,
    TransferPayload,
    announce_decisions,
    announce_lead_references,
    owner_sort_key,
    prime_choice,
)
from routing.models import Account, DealRegistration, Lead
from routing.selectors.accounts import accounts_filtered
from routing.selectors.leads import leads_filtered
from routing.selectors.lookup import lookup_arguments
from routing.services import activity, claims, departures, registrations, transfers
from routing.services import leads as leads_service
from routing.services.batch_routing import submit_leads
from routing.services.lead_imports import LEAD_CHUNK
from routing.services.leads import simulate_routing
from territories.models import Rep, RuleSet
from territories.schema import DeparturePayload

SIMULATION_MAX_LEADS = 500
SUBMIT_MAX_LEADS = LEAD_CHUNK  # one batch: its territories stay locked until it commits


def _announce_parents(accounts: list[Account], info: Info) -> None:
    info.context.loaders.accounts.want(a.parent_id for a in accounts)


def _account_or_none(info: Info, account_id: int | None) -> Account | None:
    if account_id is None:
        return None
    qs = permissions.visible_accounts(info.context.actor, Account.objects.filter(pk=account_id))
    return optimized(qs, info).first()


# Every miss of a partner user reads the same: a hidden account and a missing one are alike.
PARTNER_MISS = "no account of your partner matches"


def _no_match(info: Info, match: routing_decision.MatchResult) -> OwnershipLookupNode:
    if info.context.actor.is_partner:
        match = routing_decision.MatchResult.none(PARTNER_MISS)
    return OwnershipLookupNode(account=None, match=MatchResultNode.from_match(match), owners=[])


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
        actor = info.context.actor
        pk = parse_id(account_id)
        if account_id is not None and pk is None:
            return _no_match(info, routing_decision.MatchResult.none(f"no account has the id {account_id}"))
        try:
            found = lookup_arguments(domain=domain, company=company, account_id=pk)
        except ServiceError as error:
            raise graphql_error(error.code.value, error.message, field=error.field) from None
        account = found.account
        if account is None or not info.context.can_view_account(account.pk):
            return _no_match(info, found.match)
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
        qs = accounts_filtered(
            search=search,
            territory_id=None if territory_id is None else parse_id(territory_id) or 0,
            owner_rep_id=None if owner_rep_id is None else parse_id(owner_rep_id) or 0,
            qs=permissions.visible_accounts(info.context.actor, Account.objects.all()),
        )
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
        qs = leads_filtered(
            stage=stage,
            owner_rep_id=None if owner_rep_id is None else parse_id(owner_rep_id) or 0,
            unassigned=unassigned,
            qs=permissions.visible_leads(info.context.actor, Lead.objects.all()),
        )
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

    @strawberry.field(
        description=(
            "Dry run: what routing would decide for these leads, in order, under the published rule set or the"
            " version given (drafts: managers and RevOps only; to a rep a draft is a missing version), with no"
            " write of any kind. Round robin and capacity advance in memory across the batch, as submitting the"
            " leads in this order would. Not for partner users (FORBIDDEN). Invalid leads: nothing is simulated"
            " and the answer is one GraphQL error, extensions.code BAD_USER_INPUT, extensions.field the first bad"
            " input (leads.2.email) and extensions.problems every one of them ({field, code, message})."
            f" At most {SIMULATION_MAX_LEADS} leads per request."
        )
    )
    def simulate_routing(
        self, info: Info, leads: list[LeadInput], rule_set_version: int | None = None
    ) -> list[RoutingDecisionNode]:
        ctx = info.context
        if not permissions.can_simulate(ctx.actor):
            raise forbidden("Simulations show the direct pipeline: not for partner users.")
        if len(leads) > SIMULATION_MAX_LEADS:
            raise bad_input(f"simulate at most {SIMULATION_MAX_LEADS} leads at once, got {len(leads)}", "leads")
        rule_set: RuleSet | None = None
        if rule_set_version is not None:
            versions = permissions.visible_rule_sets(ctx.actor, RuleSet.objects.filter(version=rule_set_version))
            rule_set = versions.first()
            if rule_set is None:
                raise graphql_error(
                    ErrorCode.NOT_FOUND.value, f"no rule set version {rule_set_version}", field="ruleSetVersion"
                )
        try:
            decisions = simulate_routing(leads=[lead.to_data() for lead in leads], rule_set=rule_set, now=ctx.now)
        except (ServiceError, ServiceErrors) as error:
            problems = user_errors(error)
            raise graphql_error(
                BAD_USER_INPUT,
                "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems),
                field=problems[0].field,
                problems=[{"field": p.field, "code": p.code, "message": p.message} for p in problems],
            ) from None
        announce_decisions(list(decisions), info)
        return [RoutingDecisionNode.from_decision(decision, since=ctx.now) for decision in decisions]


# Mutations: parse the input, narrow every id by the read rules (an id the actor may not
# read is NOT_FOUND, like a missing one), call one service, shape the payload. The
# services decide who may do what (FORBIDDEN); leadowner.graphql.extensions refuses
# anonymous callers and READ_ONLY tokens before any of this runs.


def _accounts(info: Info) -> QuerySet[Account]:
    return permissions.visible_accounts(info.context.actor, Account.objects.all())


def _leads(info: Info) -> QuerySet[Lead]:
    return permissions.visible_leads(info.context.actor, Lead.objects.all())


def _reps(info: Info) -> QuerySet[Rep]:
    return permissions.visible_reps(info.context.actor, Rep.objects.all())


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Route a new lead and give it its owner. A repeat of an email within the duplicate window attaches"
            " to the first lead (the decision's trace says so). lead: null when it went to someone whose leads"
            " you may not read; the decision still says where it went. Not for partner users (registerDeal)."
        )
    )
    def submit_lead(self, info: Info, input: LeadInput) -> SubmitLeadPayload:
        ctx = info.context

        def run() -> SubmitLeadPayload:
            submitted = leads_service.submit_lead_naming(data=input.to_data(), actor=ctx.actor, now=ctx.now)
            lead, decision = submitted.lead, submitted.decision
            if submitted.choice is not None:
                prime_choice(submitted.choice, info)
            announce_decisions([decision], info)
            return SubmitLeadPayload(
                lead=lead if permissions.can_view_lead(ctx.actor, lead.pk) else None,  # type: ignore[arg-type]
                decision=RoutingDecisionNode.from_decision(decision, since=lead.assigned_at or lead.received_at),
            )

        return payload_or_errors(SubmitLeadPayload, run)

    @strawberry.mutation(
        description=(
            "Route a batch of new leads, in order, each exactly as submitLead would (the same decision, owner,"
            " history and round-robin turn), in one transaction: a web form's or a partner portal's backlog at"
            f" once. At most {SUBMIT_MAX_LEADS} leads. Any invalid lead: nothing is written, and errors lists"
            " every problem (field leads.2.email). Repeats of an email (in the batch or already stored) within"
            " the duplicate window attach to the earlier lead (attached: true)."
        )
    )
    def submit_leads(self, info: Info, leads: list[LeadInput]) -> SubmitLeadsPayload:
        ctx = info.context

        def run() -> SubmitLeadsPayload:
            if len(leads) > SUBMIT_MAX_LEADS:
                raise ServiceError(
                    ErrorCode.INVALID, f"submit at most {SUBMIT_MAX_LEADS} leads at once, got {len(leads)}", "leads"
                )
            submitted = submit_leads(leads=[lead.to_data() for lead in leads], actor=ctx.actor, now=ctx.now)
            announce_decisions([s.decision for s in submitted], info)
            ids = {s.lead.pk for s in submitted}
            readable = set(
                permissions.visible_leads(ctx.actor, Lead.objects.filter(pk__in=ids)).values_list("pk", flat=True)
            )
            return SubmitLeadsPayload(
                results=[
                    SubmittedLead(
                        lead=s.lead if s.lead.pk in readable else None,  # type: ignore[arg-type]
                        decision=RoutingDecisionNode.from_decision(
                            s.decision, since=s.lead.assigned_at or s.lead.received_at
                        ),
                        attached=s.attached,
                    )
                    for s in submitted
                ]
            )

        return payload_or_errors(SubmitLeadsPayload, run)

    @strawberry.mutation(
        description="First to claim: the acting rep becomes the sales owner of an unowned account until expiresAt."
    )
    def claim_account(self, info: Info, account_id: strawberry.ID) -> ClaimAccountPayload:
        ctx = info.context

        def run() -> ClaimAccountPayload:
            account = visible_or_not_found(_accounts(info), account_id, noun="account", field="accountId")
            ownership = claims.claim_account(account=account, actor=ctx.actor, now=ctx.now)
            return ClaimAccountPayload(
                account=account,  # type: ignore[arg-type]
                owner=ownership,  # type: ignore[arg-type]
                expires_at=ownership.expires_at,
            )

        return payload_or_errors(ClaimAccountPayload, run)

    @strawberry.mutation(description="A partner user registers a deal (PENDING until a manager reviews it).")
    def register_deal(self, info: Info, input: DealRegistrationInput) -> DealRegistrationPayload:
        ctx = info.context

        def run() -> DealRegistrationPayload:
            registration = registrations.register_deal(data=input.to_data(), actor=ctx.actor, now=ctx.now)
            return DealRegistrationPayload(registration=registration)  # type: ignore[arg-type]

        return payload_or_errors(DealRegistrationPayload, run)

    @strawberry.mutation(
        description="Managers and RevOps approve (the partner becomes PARTNER owner) or reject (reason required)."
    )
    def review_deal_registration(
        self, info: Info, id: strawberry.ID, approve: bool, reason: str | None = None
    ) -> DealRegistrationPayload:
        ctx = info.context

        def run() -> DealRegistrationPayload:
            visible = permissions.visible_deal_registrations(ctx.actor, DealRegistration.objects.all())
            found = visible_or_not_found(visible, id, noun="deal registration", field="id")
            registration = registrations.review_deal_registration(
                registration_id=found.pk, approve=approve, reason=reason, actor=ctx.actor, now=ctx.now
            )
            return DealRegistrationPayload(registration=registration)  # type: ignore[arg-type]

        return payload_or_errors(DealRegistrationPayload, run)

    @strawberry.mutation(
        description=(
            "The acting rep logs a call, email, meeting or note on a lead and/or an account: on a lead its owner"
            " (or their manager), on an account one of its rep owners (or their manager); unowned ones any rep."
        )
    )
    def log_activity(self, info: Info, input: ActivityInput) -> LogActivityPayload:
        ctx = info.context

        def run() -> LogActivityPayload:
            lead = optional_visible(_leads(info), input.lead_id, noun="lead", field="leadId")
            account = optional_visible(_accounts(info), input.account_id, noun="account", field="accountId")
            activity.log_activity(
                lead_id=lead.pk if lead is not None else None,
                account_id=account.pk if account is not None else None,
                kind=input.kind.value,
                occurred_at=input.occurred_at,
                note=input.note or "",
                actor=ctx.actor,
                now=ctx.now,
            )
            return LogActivityPayload(ok=True)

        return payload_or_errors(LogActivityPayload, run)

    @strawberry.mutation(description="Move a lead forward (or pause, reactivate, lose it): its owner or their manager.")
    def update_lead_stage(self, info: Info, lead_id: strawberry.ID, stage: LeadStage) -> LeadStagePayload:
        ctx = info.context

        def run() -> LeadStagePayload:
            lead = visible_or_not_found(_leads(info), lead_id, noun="lead", field="leadId")
            updated = activity.update_lead_stage(lead_id=lead.pk, stage=stage.value, actor=ctx.actor, now=ctx.now)
            return LeadStagePayload(lead=updated)  # type: ignore[arg-type]

        return payload_or_errors(LeadStagePayload, run)

    @strawberry.mutation(
        description=(
            "Move an account or a lead (exactly one) to another active rep in a role, with a reason: managers"
            " within their team, RevOps anything. The PARTNER role comes from deal registrations only."
        )
    )
    def transfer_ownership(
        self,
        info: Info,
        to_rep_id: strawberry.ID,
        reason: str,
        account_id: strawberry.ID | None = None,
        lead_id: strawberry.ID | None = None,
        role: OwnerRole | None = OwnerRole.SALES,
    ) -> TransferPayload:
        ctx = info.context

        def run() -> TransferPayload:
            account = optional_visible(_accounts(info), account_id, noun="account", field="accountId")
            lead = optional_visible(_leads(info), lead_id, noun="lead", field="leadId")
            to_rep = visible_or_not_found(_reps(info), to_rep_id, noun="rep", field="toRepId")
            ownership = transfers.transfer_ownership(
                account=account,
                lead=lead,
                to_rep=to_rep,
                role=(role or OwnerRole.SALES).value,
                reason=reason,
                actor=ctx.actor,
                now=ctx.now,
            )
            return TransferPayload(account=ownership.account, lead=ownership.lead)  # type: ignore[arg-type]

        return payload_or_errors(TransferPayload, run)

    @strawberry.mutation(
        description=(
            "A manager of the rep (or RevOps) marks them departed, now or at effectiveAt: their tokens stop at"
            " once it takes effect and everything they own is reassigned by reassignmentDueAt."
        )
    )
    def mark_rep_departed(
        self, info: Info, rep_id: strawberry.ID, effective_at: datetime | None = None
    ) -> DeparturePayload:
        ctx = info.context

        def run() -> DeparturePayload:
            rep = visible_or_not_found(_reps(info), rep_id, noun="rep", field="repId")
            departed = departures.mark_rep_departed(
                rep_id=rep.pk, effective_at=effective_at, actor=ctx.actor, now=ctx.now
            )
            return DeparturePayload(
                rep=departed,  # type: ignore[arg-type]
                reassignment_due_at=departed.reassignment_due_at,
            )

        return payload_or_errors(DeparturePayload, run)

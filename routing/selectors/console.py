"""Reads behind the console's record pages, queues, rule simulation and audit log.

Every function here reads a constant number of queries whatever the size of the book
(lists are paged or bounded, related rows come in with joins or one batched query), so
the screens stay fast on a large book. Nothing here writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from disputes.models import Dispute
from leadowner.errors import ServiceError, ServiceErrors
from routing.decision import RoutingDecision
from routing.models import (
    Account,
    AccountAlias,
    AccountDomain,
    Activity,
    DealRegistration,
    DealRegistrationStatus,
    DecisionStep,
    Lead,
    Opportunity,
    OwnerRole,
    Ownership,
    OwnershipChange,
)
from routing.selectors.accounts import owners_up_the_chain
from routing.services.leads import LeadData, simulate_routing
from territories.models import Partner, Rep, RepStatus, RuleSet, RuleSetStatus, Territory

HISTORY_PAGE_SIZE = 25
QUEUE_PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 50
RECENT_ACTIVITY = 25
SUBSIDIARIES_SHOWN = 50


def role_label(role: str) -> str:
    """SALES -> "Sales", ACCOUNT_MANAGER -> "Account manager"."""
    return role.replace("_", " ").capitalize()


def step_label(step: str) -> str:
    """OPEN_OPPORTUNITY -> "Open Opportunity" (the step's label); "" stays ""."""
    return str(DecisionStep(step).label) if step in DecisionStep.values else step


def active_reps() -> list[Rep]:
    """Reps who may receive records (ACTIVE), by name: the destinations of transfers and hand assignments."""
    return list(Rep.objects.filter(status=RepStatus.ACTIVE).order_by("name", "pk"))


def _history_page(changes: QuerySet[OwnershipChange], page: str | int | None) -> Page[OwnershipChange]:
    rows = changes.select_related("from_rep", "to_rep", "from_partner", "to_partner").order_by("-at", "-id")
    return Paginator(rows, HISTORY_PAGE_SIZE).get_page(page)


def _recent_activity(activities: QuerySet[Activity]) -> tuple[list[Activity], bool]:
    rows = list(activities.select_related("rep").order_by("-occurred_at", "-id")[: RECENT_ACTIVITY + 1])
    return rows[:RECENT_ACTIVITY], len(rows) > RECENT_ACTIVITY


# --- The account page ----------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerRow:
    role: str
    label: str
    ownership: Ownership | None
    inherited_from: Account | None  # the ancestor the owner rolls up from, when not the account's own


@dataclass(frozen=True)
class AccountPage:
    account: Account
    chain: list[Account]  # parents, top first
    subsidiaries: list[Account]  # the first SUBSIDIARIES_SHOWN direct subsidiaries, by name
    more_subsidiaries: bool
    domains: list[str]
    aliases: list[str]
    owners: list[OwnerRow]
    history: Page[OwnershipChange]
    activities: list[Activity]
    more_activities: bool
    opportunities: list[Opportunity]
    disputes: list[Dispute]
    registrations: list[DealRegistration]


def account_owner_rows(account: Account) -> tuple[list[OwnerRow], list[int]]:
    """One row per role: the account's own owner, else the nearest ancestor's (marked), else none.

    Also returns the chain of account ids the owners were read from (the account first).
    """
    by_role, chain = owners_up_the_chain(account)
    rows = []
    for role, _ in OwnerRole.choices:
        ownership = by_role.get(role)
        inherited = ownership.account if ownership is not None and ownership.account_id != account.pk else None
        rows.append(OwnerRow(role, role_label(role), ownership, inherited))
    return rows, chain


def account_page(account_id: int, *, history_page: str | int | None = None) -> AccountPage | None:
    """Everything the account page shows, or None when there is no such account."""
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        return None
    owners, chain_ids = account_owner_rows(account)
    parents = Account.objects.in_bulk(chain_ids[1:]) if len(chain_ids) > 1 else {}
    chain = [parents[pk] for pk in reversed(chain_ids[1:]) if pk in parents]
    subsidiaries = list(Account.objects.filter(parent=account).order_by("name", "pk")[: SUBSIDIARIES_SHOWN + 1])
    activities, more_activities = _recent_activity(Activity.objects.filter(account=account))
    return AccountPage(
        account=account,
        chain=chain,
        subsidiaries=subsidiaries[:SUBSIDIARIES_SHOWN],
        more_subsidiaries=len(subsidiaries) > SUBSIDIARIES_SHOWN,
        domains=list(AccountDomain.objects.filter(account=account).values_list("domain", flat=True)),
        aliases=list(AccountAlias.objects.filter(account=account).values_list("alias", flat=True)),
        owners=owners,
        history=_history_page(OwnershipChange.objects.filter(account=account), history_page),
        activities=activities,
        more_activities=more_activities,
        opportunities=list(
            Opportunity.objects.filter(account=account).select_related("owner").order_by("-created_at", "-id")
        ),
        disputes=list(
            Dispute.objects.filter(account=account)
            .select_related("claimant", "current_owner", "winner", "escalated_to")
            .order_by("-opened_at", "-id")
        ),
        registrations=list(
            DealRegistration.objects.filter(account=account)
            .select_related("partner", "decided_by")
            .order_by("-submitted_at", "-id")
        ),
    )


# --- The lead page -------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionView:
    """A lead's stored routing decision with the names it refers to."""

    decision: RoutingDecision
    owner_name: str  # "" when the decision picked nobody
    territory: Territory | None
    matched_account: Account | None

    @property
    def step_label(self) -> str:
        return step_label(self.decision.step)


@dataclass(frozen=True)
class LeadPage:
    lead: Lead
    owners: list[Ownership]  # current, one per role
    sales_owner: Ownership | None
    decision: DecisionView | None
    history: Page[OwnershipChange]
    activities: list[Activity]
    more_activities: bool
    disputes: list[Dispute]


def _decision_view(decision: RoutingDecision, lead: Lead) -> DecisionView:
    owner_name = ""
    if decision.owner is not None:
        if decision.owner.rep_id is not None:
            rep = Rep.objects.filter(pk=decision.owner.rep_id).only("name", "email").first()
            owner_name = f"{rep.name} <{rep.email}>" if rep else f"rep #{decision.owner.rep_id} (deleted)"
        elif decision.owner.partner_id is not None:
            partner = Partner.objects.filter(pk=decision.owner.partner_id).only("name").first()
            owner_name = f"{partner.name} (partner)" if partner else f"partner #{decision.owner.partner_id} (deleted)"
    territory = None
    if decision.territory_id is not None:
        territory = Territory.objects.select_related("rule_set").filter(pk=decision.territory_id).first()
    matched = None
    if decision.match.account_id is not None:
        if decision.match.account_id == lead.account_id:
            matched = lead.account
        else:
            matched = Account.objects.filter(pk=decision.match.account_id).first()
    return DecisionView(decision, owner_name, territory, matched)


def lead_page(lead_id: int, *, history_page: str | int | None = None) -> LeadPage | None:
    """Everything the lead page shows, or None when there is no such lead."""
    lead = Lead.objects.select_related("account").filter(pk=lead_id).first()
    if lead is None:
        return None
    owners = list(
        Ownership.objects.filter(lead=lead, ended_at__isnull=True).select_related("rep", "partner").order_by("role")
    )
    decision = _decision_view(RoutingDecision.from_json(lead.decision), lead) if lead.decision else None
    activities, more_activities = _recent_activity(Activity.objects.filter(lead=lead))
    return LeadPage(
        lead=lead,
        owners=owners,
        sales_owner=next((o for o in owners if o.role == OwnerRole.SALES), None),
        decision=decision,
        history=_history_page(OwnershipChange.objects.filter(lead=lead), history_page),
        activities=activities,
        more_activities=more_activities,
        disputes=list(
            Dispute.objects.filter(lead=lead)
            .select_related("claimant", "current_owner", "winner", "escalated_to")
            .order_by("-opened_at", "-id")
        ),
    )


# --- Queues --------------------------------------------------------------------------------


def _without_sales_owner(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    owned = Ownership.objects.filter(lead=OuterRef("pk"), role=OwnerRole.SALES, ended_at__isnull=True)
    return leads.filter(~Exists(owned))


def unassigned_leads() -> QuerySet[Lead]:
    """Leads with no current SALES owner, oldest first (the same leads the home page counts)."""
    return _without_sales_owner(Lead.objects.select_related("account")).order_by("received_at", "id")


def claim_queue_leads() -> QuerySet[Lead]:
    """Unowned leads whose decision put them in a territory's claim queue, oldest first."""
    return unassigned_leads().filter(decision__step=DecisionStep.TERRITORY)


@dataclass(frozen=True)
class QueuedLead:
    lead: Lead
    step: str  # the step of its last decision ("" when never routed)
    territory_name: str  # the territory it waits in, for a claim queue

    @property
    def step_label(self) -> str:
        return step_label(self.step)


def queued_leads(page: Page[Lead]) -> list[QueuedLead]:
    """The page's leads with their last decision step and territory name (one query for the names)."""
    leads = list(page.object_list)
    decisions = {lead.pk: lead.decision or {} for lead in leads}
    territory_ids = {int(d["territory_id"]) for d in decisions.values() if d.get("territory_id") is not None}
    names = dict(Territory.objects.filter(pk__in=territory_ids).values_list("pk", "name")) if territory_ids else {}
    return [
        QueuedLead(
            lead,
            str(decisions[lead.pk].get("step", "")),
            names.get(decisions[lead.pk].get("territory_id") or 0, ""),
        )
        for lead in leads
    ]


def queue_page(leads: QuerySet[Lead], page: str | int | None) -> Page[Lead]:
    return Paginator(leads, QUEUE_PAGE_SIZE).get_page(page)


def leads_by_ids(ids: Iterable[int]) -> list[Lead]:
    """Leads to name in a confirmation step, in the order given (missing ones left out)."""
    wanted = list(dict.fromkeys(ids))
    found = Lead.objects.select_related("account").in_bulk(wanted)
    return [found[pk] for pk in wanted if pk in found]


REGISTRATION_STATUSES = tuple(DealRegistrationStatus.values)


def registrations(status: str | None) -> QuerySet[DealRegistration]:
    """Deal registrations of a status (all when None): pending ones oldest first, the others newest first."""
    rows = DealRegistration.objects.select_related("partner", "account", "submitted_by", "decided_by")
    if status is not None:
        rows = rows.filter(status=status)
    if status == DealRegistrationStatus.PENDING:
        return rows.order_by("submitted_at", "id")
    return rows.order_by("-submitted_at", "-id")


def registrations_by_ids(ids: Iterable[int]) -> list[DealRegistration]:
    wanted = list(dict.fromkeys(ids))
    found = DealRegistration.objects.select_related("partner", "account").in_bulk(wanted)
    return [found[pk] for pk in wanted if pk in found]


# --- Test your rules: simulation side by side ----------------------------------------------


def draft_rule_sets() -> list[RuleSet]:
    """Every DRAFT rule set, newest version first."""
    return list(RuleSet.objects.filter(status=RuleSetStatus.DRAFT).order_by("-version"))


@dataclass(frozen=True)
class SampleRow:
    line: int  # the line of the CSV file the row starts on
    data: LeadData


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str
    message: str


@dataclass(frozen=True)
class Side:
    """One decision as the simulation screen shows it."""

    decision: RoutingDecision
    owner: str
    territory: str
    match: str

    @property
    def step_label(self) -> str:
        return step_label(self.decision.step)


@dataclass(frozen=True)
class Comparison:
    line: int
    email: str
    published: Side
    draft: Side
    changed: frozenset[str]  # of "step", "owner", "territory", "match"

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.published, self.draft


@dataclass
class SimulationReport:
    comparisons: list[Comparison] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    published: RuleSet | None = None

    @property
    def changed_count(self) -> int:
        return sum(1 for c in self.comparisons if c.changed)


_LEAD_FIELD = re.compile(r"^leads\.(\d+)\.(\w+)$")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _bad_lines(errors: Sequence[ServiceError], rows: Sequence[SampleRow]) -> list[RowProblem]:
    problems = []
    for error in errors:
        found = _LEAD_FIELD.match(error.field or "")
        if found is None or int(found.group(1)) >= len(rows):
            problems.append(RowProblem(0, error.field or "row", error.message))
            continue
        problems.append(RowProblem(rows[int(found.group(1))].line, _snake(found.group(2)), error.message))
    return problems


def _simulate(rows: list[SampleRow], rule_set: RuleSet | None, now: datetime) -> list[RoutingDecision]:
    return simulate_routing(leads=[row.data for row in rows], rule_set=rule_set, now=now)


def _names(
    decisions: Iterable[RoutingDecision],
) -> tuple[dict[int, str], dict[int, str], dict[int, str], dict[int, str]]:
    decisions = list(decisions)
    rep_ids = {d.owner.rep_id for d in decisions if d.owner and d.owner.rep_id}
    partner_ids = {d.owner.partner_id for d in decisions if d.owner and d.owner.partner_id}
    territory_ids = {d.territory_id for d in decisions if d.territory_id is not None}
    account_ids = {d.match.account_id for d in decisions if d.match.account_id is not None}
    reps = (
        {
            pk: f"{name} <{email}>"
            for pk, name, email in Rep.objects.filter(pk__in=rep_ids).values_list("pk", "name", "email")
        }
        if rep_ids
        else {}
    )
    partners = dict(Partner.objects.filter(pk__in=partner_ids).values_list("pk", "name")) if partner_ids else {}
    territories = (
        dict(Territory.objects.filter(pk__in=territory_ids).values_list("pk", "name")) if territory_ids else {}
    )
    accounts = dict(Account.objects.filter(pk__in=account_ids).values_list("pk", "name")) if account_ids else {}
    return reps, partners, territories, accounts


def _side(decision: RoutingDecision, names: tuple[dict[int, str], ...]) -> Side:
    reps, partners, territories, accounts = names
    owner = ""
    if decision.owner is not None and decision.owner.rep_id:
        owner = reps.get(decision.owner.rep_id, f"rep #{decision.owner.rep_id}")
    elif decision.owner is not None and decision.owner.partner_id:
        owner = f"{partners.get(decision.owner.partner_id, f'partner #{decision.owner.partner_id}')} (partner)"
    territory = territories.get(decision.territory_id, f"#{decision.territory_id}") if decision.territory_id else ""
    match = decision.match.method.lower()
    if decision.match.account_id:
        match = f"{accounts.get(decision.match.account_id, f'account #{decision.match.account_id}')} ({match})"
    return Side(decision, owner, territory, match)


def _changed(published: RoutingDecision, draft: RoutingDecision, p: Side, d: Side) -> frozenset[str]:
    changed = set()
    if published.step != draft.step:
        changed.add("step")
    if published.owner != draft.owner:
        changed.add("owner")
    if p.territory != d.territory:  # by name: each rule set has its own territory rows
        changed.add("territory")
    if (published.match.account_id, published.match.method) != (draft.match.account_id, draft.match.method):
        changed.add("match")
    return frozenset(changed)


def simulate_side_by_side(*, rows: list[SampleRow], draft: RuleSet, now: datetime) -> SimulationReport:
    """Each sample lead's decision under the published rules and under `draft`, and what differs. Writes nothing.

    A row the routing refuses (a bad email, an unknown country) is reported with its
    line and left out; the other rows are simulated.
    """
    published = RuleSet.objects.filter(status=RuleSetStatus.PUBLISHED).first()
    report = SimulationReport(published=published)
    good = list(rows)
    try:
        before = _simulate(good, published, now)
    except ServiceErrors as exc:
        report.problems = _bad_lines(exc.errors, good)
        bad = {p.line for p in report.problems}
        good = [row for row in good if row.line not in bad]
        before = _simulate(good, published, now) if good else []
    after = _simulate(good, draft, now) if good else []
    names = _names([*before, *after])
    for row, p, d in zip(good, before, after, strict=True):
        left, right = _side(p, names), _side(d, names)
        report.comparisons.append(Comparison(row.line, row.data.email, left, right, _changed(p, d, left, right)))
    return report


# --- Audit log -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    rep_id: int | None = None  # from or to
    account_id: int | None = None
    account_text: str = ""  # account name contains
    step: str = ""
    reason_text: str = ""  # reason contains
    actor: str = ""  # actor contains
    date_from: date | None = None  # inclusive
    date_to: date | None = None  # inclusive

    def params(self) -> dict[str, str]:
        """The filter as query parameters (for page links and the CSV download)."""
        values: dict[str, Any] = {
            "rep": self.rep_id,
            "account": self.account_id if self.account_id is not None else self.account_text,
            "step": self.step,
            "reason": self.reason_text,
            "actor": self.actor,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
        }
        return {key: str(value) for key, value in values.items() if value not in (None, "")}


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def ownership_changes(audit: AuditFilter) -> QuerySet[OwnershipChange]:
    """Every ownership change matching the filter, newest first, with the names each row shows."""
    rows = OwnershipChange.objects.select_related(
        "account", "lead", "from_rep", "to_rep", "from_partner", "to_partner"
    ).order_by("-at", "-id")
    if audit.rep_id is not None:
        rows = rows.filter(Q(from_rep_id=audit.rep_id) | Q(to_rep_id=audit.rep_id))
    if audit.account_id is not None:
        rows = rows.filter(account_id=audit.account_id)
    elif audit.account_text:
        rows = rows.filter(account__name__icontains=audit.account_text)
    if audit.step:
        rows = rows.filter(step=audit.step)
    if audit.reason_text:
        rows = rows.filter(reason__icontains=audit.reason_text)
    if audit.actor:
        rows = rows.filter(actor__icontains=audit.actor)
    if audit.date_from is not None:
        rows = rows.filter(at__gte=_start_of(audit.date_from))
    if audit.date_to is not None:
        rows = rows.filter(at__lt=_start_of(audit.date_to + timedelta(days=1)))
    return rows


def audit_page(audit: AuditFilter, page: str | int | None) -> Page[OwnershipChange]:
    return Paginator(ownership_changes(audit), AUDIT_PAGE_SIZE).get_page(page)


def all_reps() -> list[Rep]:
    """Every rep, departed ones too (history names them), by name."""
    return list(Rep.objects.order_by("name", "pk"))


AUDIT_COLUMNS = (
    "at",
    "account_id",
    "account",
    "lead_id",
    "lead",
    "role",
    "from",
    "to",
    "step",
    "reason",
    "actor",
    "rule_set_version",
)
AUDIT_NUMERIC = ("account_id", "lead_id", "rule_set_version")


def _party(rep_email: str | None, partner_name: str | None) -> str:
    if rep_email:
        return rep_email
    if partner_name:
        return f"{partner_name} (partner)"
    return ""


def audit_rows(audit: AuditFilter, *, chunk_size: int = 2000) -> Iterator[list[str]]:
    """The filtered changes as CSV cells (AUDIT_COLUMNS), streamed from the database in chunks.

    Plain values, not model instances: a hundred thousand rows stream in seconds.
    """
    rows = ownership_changes(audit).values_list(
        "at",
        "account_id",
        "account__name",
        "lead_id",
        "lead__email",
        "role",
        "from_rep__email",
        "from_partner__name",
        "to_rep__email",
        "to_partner__name",
        "step",
        "reason",
        "actor",
        "rule_set_version",
    )
    for row in rows.iterator(chunk_size=chunk_size):
        at, account_id, account, lead_id, lead, role, from_rep, from_partner, to_rep, to_partner = row[:10]
        step, reason, actor, version = row[10:]
        yield [
            at.isoformat(),
            "" if account_id is None else str(account_id),
            account or "",
            "" if lead_id is None else str(lead_id),
            lead or "",
            str(role),
            _party(from_rep, from_partner),
            _party(to_rep, to_partner),
            str(step),
            str(reason),
            str(actor),
            "" if version is None else str(version),
        ]

"""What the routing decision reads from the database: one lead at a time, or a batch at once.

The hierarchy's steps (routing.hierarchy) ask a `Reads` for the facts they need instead of
querying themselves, so each rule is written once and serves both ways of routing:

- `Reads` (the default) asks the database for one lead's facts as the step needs them:
  submitting a lead, re-routing one lead, simulating.
- `BatchReads` reads the same facts for a whole batch of stored leads up front, one query
  per kind of fact (accounts, their parents, owners, open opportunities, registrations,
  recent activity, requested reps), and answers each lead's steps from memory. The
  forfeit and first-touch sweeps and departures re-route leads through it
  (routing.services.batch_routing), a few statements per batch instead of a few dozen
  per lead.

Both return the same rows in the same order for the same lead; the equivalence test
(tests/test_batch_routing.py) routes the demo book both ways and compares every decision.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import BooleanField, F, Func, Q, QuerySet, Subquery
from django.db.models.functions import Lower

from leadowner.prepared import Prepared, PreparedIn
from routing.models import (
    Account,
    Activity,
    DealRegistration,
    DealRegistrationStatus,
    Lead,
    Opportunity,
    OpportunityStatus,
    Ownership,
)
from routing.selectors.accounts import account_by_id, ancestor_ids, ancestors
from routing.territory_map import SharedTerritories
from territories.matching import Facts, TerritoryChoice, TerritoryIndex, find_territory
from territories.models import Rep, Territory

# How many recent activities the engagement step looks through for an available rep.
ENGAGEMENT_SCAN = 50


def _newest_first(activity: Activity) -> tuple[float, int]:
    return (-activity.occurred_at.timestamp(), -activity.pk)


def _opportunity_order(opp: Opportunity) -> tuple[float, int]:
    return (-opp.created_at.timestamp(), -opp.pk)


# A lead's family is one to a few accounts: these are compiled once per family size
# (leadowner.prepared), as every routed lead asks them.
_FAMILY_OWNERS = PreparedIn(
    lambda ids: (
        Ownership.objects.select_related("rep", "partner", "account")
        .filter(account_id__in=ids, ended_at__isnull=True)
        .order_by("pk")
    )
)
_APPROVED_REGISTRATIONS = PreparedIn(
    lambda ids, now: (
        DealRegistration.objects.select_related("partner", "account")
        .filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
            account_id__in=ids,
            status=DealRegistrationStatus.APPROVED,
        )
        .order_by("pk")
    ),
    (datetime,),
)
_OPEN_OPPORTUNITIES = PreparedIn(
    lambda ids: Opportunity.objects.select_related("owner", "account").filter(
        account_id__in=ids, status=OpportunityStatus.OPEN, owner__isnull=False
    )
)


class _AmongIds(Func):
    """`column` is one of the ids the `ids` subquery gives (a boolean for `filter`).

    PostgreSQL: `column = ANY(ARRAY(subquery))`. The subquery runs once, before the scan (an
    InitPlan), and its array is an index condition, so an OR of this with other indexed
    terms is a BitmapOr of index scans; a plain `IN (subquery)` in an OR is a filter, which
    kept PostgreSQL from the activity indexes (a scan of every activity, ~400 ms at 1M
    accounts). Elsewhere `column IN (subquery)`, which SQLite's planner indexes as it is.
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, column: str, ids: QuerySet[Any, Any]) -> None:
        super().__init__(F(column), Subquery(ids))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        column, column_params = compiler.compile(self.source_expressions[0])
        query, query_params = compiler.compile(self.source_expressions[1])  # "(SELECT ...)"
        among = f"= ANY(ARRAY{query})" if connection.vendor == "postgresql" else f"IN {query}"
        return f"{column} {among}", [*column_params, *query_params]


def _recent_activity(
    account_id: int | None, lead_id: int | None, since: datetime, until: datetime
) -> QuerySet[Activity]:
    """Activity on the account, on any lead of the account, or on the lead, in (since, until], newest first."""
    where = Q()
    if account_id is not None:
        leads = Lead.objects.filter(account_id=account_id).order_by().values("pk")
        where |= Q(account_id=account_id) | Q(_AmongIds("lead_id", leads))
    if lead_id is not None:
        where |= Q(lead_id=lead_id)
    return (
        Activity.objects.select_related("rep")
        .filter(where, occurred_at__gt=since, occurred_at__lte=until)
        .order_by("-occurred_at", "-id")[:ENGAGEMENT_SCAN]
    )


def _prepare_recent_activity(by_account: bool, by_lead: bool) -> Prepared[Activity]:
    """`_recent_activity` for one shape; its arguments: the account id (if `by_account`), the
    lead id (if `by_lead`), since, until."""

    def build(*args: Any) -> QuerySet[Activity]:
        values = list(args)
        account_id = values.pop(0) if by_account else None
        lead_id = values.pop(0) if by_lead else None
        since, until = values
        return _recent_activity(account_id, lead_id, since, until)

    kinds = (int,) * (int(by_account) + int(by_lead)) + (datetime, datetime)
    return Prepared(build, kinds)


_RECENT_ACTIVITY: dict[tuple[bool, bool], Prepared[Activity]] = {}


class Reads:
    """One lead's facts, read when a step asks for them."""

    def account(self, account_id: int, read: Account | None = None) -> Account | None:
        """The account; `read`: the same account as the match already read it, so no statement."""
        if read is not None and read.pk == account_id:
            return read
        return account_by_id(account_id)

    def ancestors(self, account: Account) -> list[Account]:
        """The account's parent, grandparent, ... nearest first."""
        return ancestors(account)

    def family_owners(self, family_ids: list[int]) -> list[Ownership]:
        """Current owners of every role on these accounts, with rep, partner and account loaded."""
        return _FAMILY_OWNERS(family_ids)

    def open_opportunities(self, family_ids: list[int]) -> list[Opportunity]:
        """Open opportunities with an owner on these accounts, newest first (owner and account loaded)."""
        return sorted(_OPEN_OPPORTUNITIES(family_ids), key=_opportunity_order)

    def approved_registrations(self, family_ids: list[int], now: datetime) -> list[DealRegistration]:
        """Approved registrations on these accounts not expired at `now` (partner and account loaded)."""
        return _APPROVED_REGISTRATIONS(family_ids, now)

    def recent_activity(
        self, *, account_id: int | None, lead_id: int | None, since: datetime, until: datetime
    ) -> list[Activity]:
        """Activity on the account (or any of its leads) or on the lead in (since, until], newest first.

        One statement compiled once per shape (leadowner.prepared): building and compiling
        it through the ORM took a fifth of a submitLead's Python; the account's leads are its
        subquery (_AmongIds)."""
        if account_id is None and lead_id is None:
            return []
        shape = (account_id is not None, lead_id is not None)
        prepared = _RECENT_ACTIVITY.get(shape)
        if prepared is None:
            prepared = _RECENT_ACTIVITY[shape] = _prepare_recent_activity(*shape)
        args = [*([account_id] if account_id is not None else []), *([lead_id] if lead_id is not None else [])]
        return prepared(*args, since, until)

    def rep_by_email(self, email: str) -> Rep | None:
        return Rep.objects.filter(email__iexact=email).first()

    def territory_for(self, territories: list[Territory], facts: Facts) -> TerritoryChoice:
        """The territory step's choice (territories.matching.find_territory), with the words the
        trace uses: the territories that also match, not the ones that do not."""
        if isinstance(territories, SharedTerritories):
            return find_territory(territories, facts, misses=False, index=territories.territory_index)
        return find_territory(territories, facts, misses=False)


@dataclass(frozen=True)
class BatchLead:
    """What BatchReads needs to know of one lead of the batch."""

    lead_id: int | None  # None: a new lead, not stored yet (it has no activity of its own)
    account_id: int | None
    requested_rep_email: str = ""


class BatchReads(Reads):
    """The facts of a batch of stored leads, read up front with one query per kind.

    `leads`: the batch (their account is the one the decision will use: the kept match).
    `since`/`until`: the engagement window every lead of the batch is routed with (one
    policy, one `now`). A lead outside the batch, or an account no lead of the batch
    named, falls back to the one-lead reads, so an answer is never wrong, only slower.
    """

    def __init__(self, leads: Iterable[BatchLead], *, since: datetime, until: datetime) -> None:
        batch = list(leads)
        self._lead_ids = {b.lead_id for b in batch if b.lead_id is not None}
        account_ids = {b.account_id for b in batch if b.account_id is not None}
        chains = ancestor_ids(account_ids)
        every = set(account_ids).union(*chains.values()) if chains else set(account_ids)
        # `__any_of`: these lists run to thousands of ids, sent as one array (leadowner.lookups).
        self._accounts: dict[int, Account] = (
            {a.pk: a for a in Account.objects.filter(pk__any_of=sorted(every)).order_by()} if every else {}
        )
        self._chains = chains
        self._window = (since, until)

        self._owners: dict[int, list[Ownership]] = defaultdict(list)
        self._opportunities: dict[int, list[Opportunity]] = defaultdict(list)
        self._registrations: list[DealRegistration] = []
        if every:
            for ownership in (
                Ownership.objects.select_related("rep", "partner", "account")
                .filter(account_id__any_of=every, ended_at__isnull=True)
                .order_by("pk")
            ):
                assert ownership.account_id is not None
                self._owners[ownership.account_id].append(ownership)
            for opp in Opportunity.objects.select_related("owner", "account").filter(
                account_id__any_of=every, status=OpportunityStatus.OPEN, owner__isnull=False
            ):
                self._opportunities[opp.account_id].append(opp)
            self._registrations = list(
                DealRegistration.objects.select_related("partner", "account")
                .filter(account_id__any_of=every, status=DealRegistrationStatus.APPROVED)
                .order_by("pk")
            )

        # Engagement: activity in the window on the batch's accounts, on their leads, or on the batch's leads.
        self._activity_accounts = account_ids
        self._leads_of: dict[int, set[int]] = defaultdict(set)
        if account_ids:
            of_accounts = Lead.objects.filter(account_id__any_of=account_ids).values_list("account_id", "pk")
            for account_id, lead_id in of_accounts:
                self._leads_of[account_id].add(lead_id)
        watched_leads = self._lead_ids.union(*self._leads_of.values()) if self._leads_of else set(self._lead_ids)
        # Newest first, filed by account and by lead: each lead's answer merges a few short lists.
        self._activity_by_account: dict[int, list[Activity]] = defaultdict(list)
        self._activity_by_lead: dict[int, list[Activity]] = defaultdict(list)
        if account_ids or watched_leads:
            where = Q(lead_id__any_of=watched_leads)
            if account_ids:
                where |= Q(account_id__any_of=account_ids)
            for activity in sorted(
                Activity.objects.select_related("rep").filter(where, occurred_at__gt=since, occurred_at__lte=until),
                key=_newest_first,
            ):
                if activity.account_id is not None:
                    self._activity_by_account[activity.account_id].append(activity)
                if activity.lead_id is not None:
                    self._activity_by_lead[activity.lead_id].append(activity)

        self._territory_choices: dict[tuple[int, Facts], TerritoryChoice] = {}
        self._territory_indexes: dict[int, TerritoryIndex] = {}
        emails = {b.requested_rep_email.lower() for b in batch if b.requested_rep_email}
        self._asked_emails = emails
        self._reps_by_email: dict[str, Rep] = {}
        if emails:
            for rep in Rep.objects.annotate(lower_email=Lower("email")).filter(lower_email__in=emails).order_by("pk"):
                self._reps_by_email.setdefault(rep.email.lower(), rep)

    def _known(self, ids: Iterable[int]) -> bool:
        return all(pk in self._accounts for pk in ids)

    def account(self, account_id: int, read: Account | None = None) -> Account | None:
        if account_id in self._accounts:
            return self._accounts[account_id]
        return super().account(account_id, read)

    def ancestors(self, account: Account) -> list[Account]:
        chain = self._chains.get(account.pk)
        if chain is None:
            return super().ancestors(account)
        return [self._accounts[pk] for pk in chain if pk in self._accounts]

    def family_owners(self, family_ids: list[int]) -> list[Ownership]:
        if not self._known(family_ids):
            return super().family_owners(family_ids)
        return sorted((o for pk in set(family_ids) for o in self._owners.get(pk, ())), key=lambda o: o.pk)

    def open_opportunities(self, family_ids: list[int]) -> list[Opportunity]:
        if not self._known(family_ids):
            return super().open_opportunities(family_ids)
        return sorted((o for pk in set(family_ids) for o in self._opportunities.get(pk, ())), key=_opportunity_order)

    def approved_registrations(self, family_ids: list[int], now: datetime) -> list[DealRegistration]:
        if not self._known(family_ids):
            return super().approved_registrations(family_ids, now)
        wanted = set(family_ids)
        return [
            r for r in self._registrations if r.account_id in wanted and (r.expires_at is None or r.expires_at > now)
        ]

    def recent_activity(
        self, *, account_id: int | None, lead_id: int | None, since: datetime, until: datetime
    ) -> list[Activity]:
        covered = (
            (since, until) == self._window
            and (account_id is None or account_id in self._activity_accounts)
            and (lead_id is None or lead_id in self._lead_ids)
        )
        if not covered:
            return super().recent_activity(account_id=account_id, lead_id=lead_id, since=since, until=until)
        leads = set(self._leads_of.get(account_id, ())) if account_id is not None else set()
        if lead_id is not None:
            leads.add(lead_id)
        lists = [self._activity_by_lead[pk] for pk in leads if pk in self._activity_by_lead]
        if account_id is not None and account_id in self._activity_by_account:
            lists.append(self._activity_by_account[account_id])
        # An activity on one of the account's leads and on the account itself is filed twice: once here.
        merged = heapq.merge(*lists, key=_newest_first)
        unique = (next(same) for _pk, same in itertools.groupby(merged, key=lambda a: a.pk))
        return list(itertools.islice(unique, ENGAGEMENT_SCAN))

    def territory_for(self, territories: list[Territory], facts: Facts) -> TerritoryChoice:
        # Leads with the same facts get the same choice: worked out once per batch (the batch
        # router asks before routing, to lock the territories, and the territory step again).
        key = (id(territories), facts)
        choice = self._territory_choices.get(key)
        if choice is None:
            index = self._territory_indexes.get(id(territories))
            if index is None:  # the map's chains, criteria and countries, once per batch
                index = self._territory_indexes[id(territories)] = TerritoryIndex(territories)
            choice = find_territory(territories, facts, misses=False, index=index)
            self._territory_choices[key] = choice
        return choice

    def rep_by_email(self, email: str) -> Rep | None:
        key = email.lower()
        if key in self._asked_emails:
            return self._reps_by_email.get(key)
        return super().rep_by_email(email)

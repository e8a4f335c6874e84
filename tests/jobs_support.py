"""Shared set-ups for the lifecycle-job tests: a published US map, owned leads and accounts, history reads."""

from __future__ import annotations

from datetime import datetime

from routing.models import Lead, Ownership, OwnershipChange
from territories.models import Rep, RuleSet, Territory
from tests.factories import (
    AccountFactory,
    LeadFactory,
    ManagerFactory,
    OwnershipFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)


def us_map(
    *reps: Rep, policy: dict | None = None, calendar: str = "US", **territory: object
) -> tuple[RuleSet, Territory]:
    """A published rule set with one US territory whose members are `reps` (round robin)."""
    rule_set = RuleSetFactory(status="PUBLISHED", calendar=calendar, policy=policy or {})
    fields = {"name": "United States", "criteria": {"countries": ["US"]}, **territory}
    t = TerritoryFactory(rule_set=rule_set, **fields)
    for position, rep in enumerate(reps):
        TerritoryMemberFactory(territory=t, rep=rep, position=position)
    return rule_set, t


def team(*names: str, role: str = "AE") -> tuple[Rep, list[Rep]]:
    """A manager and reps reporting to them."""
    manager = ManagerFactory(name=f"Manager of {names[0] if names else 'nobody'}")
    return manager, [RepFactory(name=name, role=role, manager=manager) for name in names]


def owned_lead(rep: Rep, since: datetime, **fields: object) -> tuple[Lead, Ownership]:
    lead = LeadFactory(country="US", received_at=since, assigned_at=since, **fields)
    ownership = OwnershipFactory(account=None, lead=lead, rep=rep, role="SALES", reason="TERRITORY", since=since)
    return lead, ownership


def owned_account(rep: Rep, since: datetime, *, role: str = "SALES", reason: str = "TERRITORY", **fields: object):
    account = AccountFactory(**{"country": "US", **fields})
    ownership = OwnershipFactory(account=account, rep=rep, role=role, reason=reason, since=since)
    return account, ownership


def current_owner_of(*, lead: Lead | None = None, account=None, role: str = "SALES") -> Rep | None:
    row = Ownership.objects.filter(lead=lead, account=account, role=role, ended_at__isnull=True).first()
    return row.rep if row else None


def history(*, lead: Lead | None = None, account=None) -> list[OwnershipChange]:
    rows = (
        OwnershipChange.objects.filter(lead=lead)
        if lead is not None
        else OwnershipChange.objects.filter(account=account)
    )
    return list(rows.select_related("from_rep", "to_rep").order_by("id"))

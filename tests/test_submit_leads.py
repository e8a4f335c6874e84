"""submit_leads: a batch of new leads created and routed in one transaction, exactly as submit_lead would.

The demo book, then the same inputs submitted twice from the same state: one by one
through `submit_lead`, then as one batch through `submit_leads`. The inputs cover every
kind of lead the hierarchy sees (account domains and sub-domains, free mail naming a
company, unknown companies, requested reps, repeats of an email within and outside the
duplicate window, a repeat of a lead already stored). Every answer, every lead row, every
owner, every history row and the round-robin counters must come out the same.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError, ServiceErrors
from routing.models import AccountDomain, Lead, OwnerRole, Ownership, OwnershipChange
from routing.services.batch_routing import submit_leads
from routing.services.leads import LeadData, submit_lead
from territories.models import DistributionCounter, Rep
from tests.factories import PartnerUserFactory, RepFactory, RuleSetFactory, TerritoryFactory, TerritoryMemberFactory

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=3)
ACTOR = Actor.system_actor("web form")
pytestmark = pytest.mark.django_db


class Rollback(Exception):
    pass


@pytest.fixture
def book() -> None:
    from leadowner.demo.load import load_demo

    with mock.patch("leadowner.tasks.send_now"):
        load_demo(now=NOW)


def _inputs() -> list[LeadData]:
    domains = list(AccountDomain.objects.select_related("account").order_by("pk"))
    reps = list(Rep.objects.filter(role="AE").order_by("pk").values_list("email", flat=True))
    stored = Lead.objects.order_by("pk").first()
    assert stored is not None
    out: list[LeadData] = []
    for i, row in enumerate(domains):
        account = row.account
        email = f"buyer{i}@{'eu.' if i % 5 == 0 else ''}{row.domain}"
        out.append(
            LeadData(
                email=email,
                name=f"Buyer {i}",
                company=account.name if i % 3 else "",
                country=account.country if i % 4 else "",
                subdivision=account.subdivision if i % 4 else "",
                industry=account.industry,
                requested_rep_email=reps[i % len(reps)] if i % 7 == 0 and reps else "",
                received_at=LATER - timedelta(minutes=i),
            )
        )
        if i % 6 == 0:  # free mail naming the company, an unknown company
            out.append(LeadData(email=f"p{i}@gmail.com", company=account.name, country=account.country))
            out.append(LeadData(email=f"x{i}@nowhere{i}.example", company=f"Nowhere Widgets {i}", country="US"))
        if i % 9 == 0:  # the same person again: within the window, then well outside it
            out.append(
                LeadData(email=email.upper(), company="Someone Else Inc", received_at=LATER - timedelta(minutes=i - 5))
            )
            out.append(LeadData(email=email, received_at=LATER - timedelta(hours=5)))
    # A repeat of a lead the book already holds, within its window.
    out.append(LeadData(email=stored.email, received_at=stored.received_at + timedelta(minutes=3)))
    return out


def _positions(results: list[tuple[int, bool, dict[str, Any]]]) -> dict[int, int]:
    """Lead id -> the position of the input that made it (ids differ between the two runs)."""
    return {lead_id: i for i, (lead_id, attached, _d) in enumerate(results) if not attached}


def _state(results: list[tuple[int, bool, dict[str, Any]]], last_change: int) -> dict[str, object]:
    where = _positions(results)

    def at(lead_id: int | None) -> object:
        return ("input", where[lead_id]) if lead_id in where else lead_id

    def decision(d: dict[str, Any]) -> str:
        text = repr(d)
        for lead_id, i in where.items():
            text = text.replace(f"(lead {lead_id})", f"(input {i})")
        return text

    fields = [f.attname for f in Lead._meta.concrete_fields if f.attname not in ("id", "created_at", "decision")]
    return {
        "answers": [(at(lead_id), attached, decision(d)) for lead_id, attached, d in results],
        "leads": sorted(
            (at(row["id"]), decision(row["decision"]), *(row[f] for f in fields))
            for row in Lead.objects.filter(pk__in=where).values("id", "decision", *fields)
        ),
        "owners": sorted(
            (at(o.lead_id), o.rep_id, o.partner_id, o.reason, o.since, o.rule_set_version)
            for o in Ownership.objects.filter(lead_id__in=where, role=OwnerRole.SALES, ended_at__isnull=True)
        ),
        "history": sorted(
            (at(lead_id), *rest)
            for lead_id, *rest in OwnershipChange.objects.filter(pk__gt=last_change).values_list(
                "lead_id", "from_rep_id", "to_rep_id", "to_partner_id", "step", "reason", "actor", "at"
            )
        ),
        "counters": sorted(DistributionCounter.objects.values_list("territory_name", "rep_id", "assigned")),
        "all leads": Lead.objects.count(),
    }


def _run(submit: Any, inputs: list[LeadData]) -> dict[str, object]:
    captured: dict[str, object] = {}
    last = OwnershipChange.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with pytest.raises(Rollback), transaction.atomic():
        results = submit(inputs)
        captured.update(_state(results, last))
        raise Rollback
    return captured


def _one_by_one(inputs: list[LeadData]) -> list[tuple[int, bool, dict[str, Any]]]:
    out = []
    made: set[int] = set()
    stored = set(Lead.objects.values_list("pk", flat=True))
    for data in inputs:
        lead, decision = submit_lead(data=data, actor=ACTOR, now=LATER)
        out.append((lead.pk, lead.pk in made or lead.pk in stored, decision.to_json()))
        made.add(lead.pk)
    return out


def _batch(inputs: list[LeadData]) -> list[tuple[int, bool, dict[str, Any]]]:
    return [(s.lead.pk, s.attached, s.decision.to_json()) for s in submit_leads(leads=inputs, actor=ACTOR, now=LATER)]


def test_a_batch_creates_and_routes_every_lead_as_submitting_them_one_by_one(book):
    inputs = _inputs()
    assert len(inputs) > 40
    single = _run(_one_by_one, inputs)
    batch = _run(_batch, inputs)
    steps = Counter(eval(answer)["step"] for _at, attached, answer in single["answers"] if not attached)
    assert len(steps) >= 4, steps  # the inputs exercise several steps of the hierarchy
    attached = sum(1 for _at, was, _d in single["answers"] if was)
    assert attached >= 5  # repeats within the batch and of a stored lead
    for key in ("answers", "leads", "owners", "history", "counters", "all leads"):
        assert batch[key] == single[key], key


def test_the_batch_takes_a_bounded_number_of_statements_whatever_its_size(book):
    inputs = [d for d in _inputs() if "nowhere" not in d.email]  # unknown companies read their fuzzy neighbours

    def count(batch: list[LeadData]) -> int:
        with CaptureQueriesContext(connection) as queries:
            _run(_batch, batch)
        return len(queries)

    small, large = count(inputs[:10]), count(inputs)
    assert len(inputs) >= 40
    # Free mail naming a company with no exact name reads its fuzzy neighbours too; the rest is per batch.
    assert large < small + len(inputs) - 10, (small, large)


def test_every_invalid_lead_is_reported_and_nothing_is_written(book):
    before = Lead.objects.count()
    inputs = [
        LeadData(email="fine@acme.example"),
        LeadData(email="not-an-email"),
        LeadData(email="late@acme.example", received_at=LATER + timedelta(days=1)),
        LeadData(email="neg@acme.example", employees=-3, source="CARRIER_PIGEON"),
    ]
    with pytest.raises(ServiceErrors) as caught:
        submit_leads(leads=inputs, actor=ACTOR, now=LATER)
    fields = sorted(e.field for e in caught.value.errors)
    assert fields == ["leads.1.email", "leads.2.receivedAt", "leads.3.employees", "leads.3.source"]
    assert Lead.objects.count() == before


def test_a_partner_cannot_submit_leads_and_an_empty_batch_writes_nothing(book):
    user = PartnerUserFactory()
    with pytest.raises(ServiceError) as caught:
        submit_leads(leads=[LeadData(email="a@b.example")], actor=Actor(partner_user=user), now=LATER)
    assert caught.value.code == ErrorCode.FORBIDDEN
    before = Lead.objects.count()
    assert submit_leads(leads=[], actor=ACTOR, now=LATER) == []
    assert Lead.objects.count() == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batches_and_single_submissions_of_the_same_emails_at_once_make_one_lead_each():
    rs = RuleSetFactory(status="PUBLISHED")
    territory = TerritoryFactory(rule_set=rs, name="US", criteria={"countries": ["US"]})
    reps = [RepFactory(name=f"Rep {i}") for i in range(3)]
    for position, rep in enumerate(reps):
        TerritoryMemberFactory(territory=territory, rep=rep, position=position)
    emails = [f"p{i}@prospect{i}.example" for i in range(40)]
    barrier = threading.Barrier(6)

    def submit(k: int) -> None:
        try:
            barrier.wait()
            if k % 2:
                for email in reversed(emails):
                    submit_lead(data=LeadData(email=email, country="US"), actor=ACTOR, now=NOW)
            else:
                order = emails[k:] + emails[:k]  # every batch in another order: the locks must not deadlock
                submit_leads(leads=[LeadData(email=e, country="US") for e in order], actor=ACTOR, now=NOW)
        finally:
            connection.close()

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(submit, range(6)))
    assert sorted(Lead.objects.values_list("email", flat=True)) == sorted(emails)
    owners = Counter(
        Ownership.objects.filter(lead__isnull=False, ended_at__isnull=True).values_list("rep_id", flat=True)
    )
    assert sum(owners.values()) == 40
    assert max(owners.values()) - min(owners.values()) <= 1  # round robin stayed fair across batches and singles
    assert dict(DistributionCounter.objects.values_list("rep_id", "assigned")) == dict(owners)


def test_a_repeat_attaches_to_the_earliest_lead_within_the_window_stored_or_of_the_batch():
    stored, _ = submit_lead(data=LeadData(email="kim@acme.example"), actor=ACTOR, now=NOW)
    inputs = [
        LeadData(email="kim@acme.example", received_at=NOW - timedelta(minutes=70)),  # outside the window: new
        LeadData(email="kim@acme.example", received_at=NOW - timedelta(minutes=10)),  # near both: the earlier wins
        LeadData(email="kim@acme.example", received_at=NOW + timedelta(minutes=2)),
    ]
    first, second, third = submit_leads(leads=inputs, actor=ACTOR, now=NOW + timedelta(minutes=3))
    assert not first.attached and first.lead.pk != stored.pk
    assert second.attached and second.lead.pk == first.lead.pk
    assert second.decision.trace[-1].startswith("duplicate: kim@acme.example was already submitted 60 minutes apart")
    assert third.attached and third.lead.pk == stored.pk
    assert Lead.objects.count() == 2
